//! The experts connected to this node: each one's sockets, settings, assignments and chats in
//! hand ([`Presence`]), by expert and by merchant.

use std::collections::{HashMap, HashSet};

use dashmap::mapref::multiple::RefMulti;
use dashmap::mapref::one::{Ref, RefMut};
use dashmap::DashMap;

use super::{frame, Hub};
use crate::protocol::{self, Out};
use crate::storage::Store;

/// An expert connected to this node (with one or more sockets).
#[derive(Debug, Clone)]
pub struct Presence {
    pub merchant_id: String,
    pub name: String,
    pub conns: Vec<u64>,
    pub available: bool,
    /// The expert's own cap and the merchant's; the lower one applies.
    pub own_cap: i64,
    pub merchant_cap: i64,
    pub assigned_stores: Vec<String>,
    pub assigned_departments: Vec<String>,
    /// Subsets of the assignments the expert works now; empty means all assigned.
    pub working_stores: Vec<String>,
    pub working_departments: Vec<String>,
    pub active: i64,
    pub contacts_on: bool,
}

impl Presence {
    pub fn cap(&self) -> i64 {
        self.own_cap.min(self.merchant_cap).max(1)
    }
    /// Switched to available and below their cap: could take another chat.
    pub fn free(&self) -> bool {
        self.available && self.active < self.cap()
    }
    /// The stores the expert works now (their choice, else every assigned one).
    pub fn stores(&self) -> &[String] {
        if self.working_stores.is_empty() {
            &self.assigned_stores
        } else {
            &self.working_stores
        }
    }
    /// The departments the expert works now (their choice, else every assigned one).
    pub fn departments(&self) -> &[String] {
        if self.working_departments.is_empty() {
            &self.assigned_departments
        } else {
            &self.working_departments
        }
    }
    pub fn works(&self, store: &str, department: &str) -> bool {
        self.stores().iter().any(|s| s == store) && self.departments().iter().any(|d| d == department)
    }
    pub fn eligible(&self, store: &str, department: &str) -> bool {
        self.free() && self.works(store, department)
    }
    pub fn status(&self) -> protocol::ExpertStatusView {
        protocol::ExpertStatusView {
            available: self.available,
            max_chats: self.cap(),
            store_ids: self.working_stores.clone(),
            department_ids: self.working_departments.clone(),
            active_chats: self.active,
            max_chats_limit: self.merchant_cap.max(1),
        }
    }
}

/// Experts able to take a chat (`available`) and switched on at all (`online`), in total and
/// per store id (available, online). See [`Hub::staffing`].
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Staffing {
    pub available: i64,
    pub online: i64,
    pub stores: HashMap<String, (i64, i64)>,
}

impl Staffing {
    /// The stores and their departments, as [`Hub::staffing`] takes them.
    pub fn catalogue(stores: &[Store]) -> Vec<(String, Vec<String>)> {
        stores
            .iter()
            .map(|s| (s.id.to_string(), s.departments.iter().map(|d| d.id.to_string()).collect()))
            .collect()
    }
}

#[derive(Default)]
pub struct Roster {
    experts: DashMap<String, Presence>,
    by_merchant: DashMap<String, HashSet<String>>,
}

impl Roster {
    pub fn get(&self, expert: &str) -> Option<Ref<'_, String, Presence>> {
        self.experts.get(expert)
    }

    pub fn get_mut(&self, expert: &str) -> Option<RefMut<'_, String, Presence>> {
        self.experts.get_mut(expert)
    }

    pub fn contains(&self, expert: &str) -> bool {
        self.experts.contains_key(expert)
    }

    pub fn iter(&self) -> impl Iterator<Item = RefMulti<'_, String, Presence>> {
        self.experts.iter()
    }

    /// The expert's sockets here.
    pub fn conns(&self, expert: &str) -> Vec<u64> {
        self.experts.get(expert).map(|p| p.conns.clone()).unwrap_or_default()
    }

    /// Add an expert (or refresh a present one's settings: a later socket brings fresh
    /// assignments and caps; availability and sockets stay).
    pub fn add(&self, expert: &str, p: Presence) {
        let merchant = p.merchant_id.clone();
        self.experts
            .entry(expert.to_owned())
            .and_modify(|cur| {
                cur.assigned_stores = p.assigned_stores.clone();
                cur.assigned_departments = p.assigned_departments.clone();
                cur.merchant_cap = p.merchant_cap;
                cur.contacts_on = p.contacts_on;
                cur.active = p.active;
            })
            .or_insert_with(|| Presence { conns: vec![], ..p });
        self.by_merchant.entry(merchant).or_default().insert(expert.to_owned());
    }

    /// Take a socket away; true when it was the expert's last here (they are gone).
    pub fn remove_conn(&self, expert: &str, conn: u64) -> bool {
        let gone = match self.experts.get_mut(expert) {
            Some(mut p) => {
                p.conns.retain(|c| *c != conn);
                p.conns.is_empty().then(|| p.merchant_id.clone())
            }
            None => None,
        };
        let Some(m) = gone else { return false };
        self.experts.remove_if(expert, |_, p| p.conns.is_empty());
        if let Some(mut set) = self.by_merchant.get_mut(&m) {
            set.remove(expert);
        }
        true
    }

    /// The merchant's experts here.
    pub fn of_merchant(&self, merchant: &str) -> Vec<String> {
        self.by_merchant
            .get(merchant)
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Visit the merchant's experts with a socket here.
    pub fn visit(&self, merchant: &str, mut f: impl FnMut(&str, &Presence)) {
        if let Some(ids) = self.by_merchant.get(merchant) {
            for e in ids.iter() {
                if let Some(p) = self.experts.get(e) {
                    if !p.conns.is_empty() {
                        f(e, &p);
                    }
                }
            }
        }
    }

    /// How many of the merchant's experts here could take another chat.
    pub fn free_count(&self, merchant: &str) -> usize {
        self.by_merchant.get(merchant).map_or(0, |ids| {
            ids.iter().filter(|e| self.experts.get(*e).is_some_and(|p| p.free())).count()
        })
    }

    /// How many experts here are switched to available (with room or not).
    pub fn switched_on(&self) -> usize {
        self.experts.iter().filter(|p| p.available).count()
    }
}

impl Hub {
    /// Make an expert present on this node (or refresh a present one's settings). The new socket
    /// is attached with [`Hub::attach_conn`] once its welcome is queued, so the welcome is the
    /// first frame it gets.
    pub fn add_presence(&self, expert: &str, p: Presence) {
        self.roster.add(expert, p);
        self.publish_availability();
    }

    /// Queue `first` on the socket, then let every later frame for this expert reach it too.
    /// Both happen under the presence entry's lock, which senders to the expert also take, so
    /// no frame from another thread can overtake `first`.
    pub fn attach_conn(&self, expert: &str, conn: u64, first: &Out) {
        let f = frame(first);
        match self.roster.get_mut(expert) {
            Some(mut p) => {
                self.send_conn(conn, &f);
                p.conns.push(conn);
            }
            None => self.send_conn(conn, &f),
        }
    }

    pub fn remove_presence_conn(&self, expert: &str, conn: u64) {
        if self.roster.remove_conn(expert, conn) {
            self.offers.forget_expert(expert);
            self.publish_availability();
        }
    }

    fn publish_availability(&self) {
        let n = self.roster.switched_on();
        metrics::gauge!("floorwalker_experts_available").set(n as f64);
    }

    /// Who of a merchant's experts can take a chat now, cluster-wide, over `catalogue` (each
    /// store with its department ids). An expert counts as **online** when switched to
    /// available and working at least one of these stores with one of its departments, and as
    /// **available** when they also have room under their cap: able to take a chat. An
    /// approved expert with no stores (or none of these) is neither.
    pub fn staffing(&self, merchant: &str, catalogue: &[(String, Vec<String>)]) -> Staffing {
        let mut out = Staffing::default();
        self.for_each_cluster_expert(merchant, |available, free, stores, deps| {
            if !available {
                return;
            }
            let (mut online, mut able) = (false, false);
            for (store, store_deps) in catalogue {
                if stores.iter().any(|s| s == store) && store_deps.iter().any(|d| deps.contains(d)) {
                    let e = out.stores.entry(store.clone()).or_default();
                    e.1 += 1;
                    online = true;
                    if free {
                        e.0 += 1;
                        able = true;
                    }
                }
            }
            out.online += i64::from(online);
            out.available += i64::from(able);
        });
        out
    }

    /// Visit the merchant's connected experts on every node (this node's live, the others' as
    /// of their last presence write, at most a second or two old) without copying them:
    /// `f(available, below_cap, stores, departments)`. An expert with sockets on this node and
    /// another counts once.
    fn for_each_cluster_expert(&self, merchant: &str, mut f: impl FnMut(bool, bool, &[String], &[String])) {
        self.roster
            .visit(merchant, |_, p| f(p.available, p.active < p.cap(), p.stores(), p.departments()));
        self.nodes.remote_experts(merchant, &mut |r| {
            if !self.roster.contains(&r.id) {
                f(r.available, r.free, &r.stores, &r.departments);
            }
        });
    }

    /// How many experts can take a chat in this store and department now, cluster-wide.
    pub fn available_count(&self, merchant: &str, store: Option<&str>, department: Option<&str>) -> u32 {
        self.count_experts(merchant, store, department, true)
    }

    /// How many experts are switched to available for this store and department, whether or
    /// not they have room for another chat.
    pub fn online_count(&self, merchant: &str, store: Option<&str>, department: Option<&str>) -> u32 {
        self.count_experts(merchant, store, department, false)
    }

    fn count_experts(&self, merchant: &str, store: Option<&str>, department: Option<&str>, need_room: bool) -> u32 {
        let mut n = 0;
        self.for_each_cluster_expert(merchant, |available, free, stores, deps| {
            if available
                && (free || !need_room)
                && store.is_none_or(|s| stores.iter().any(|x| x == s))
                && department.is_none_or(|d| deps.iter().any(|x| x == d))
            {
                n += 1;
            }
        });
        n
    }

    /// Count a chat more (claimed) or less (ended, transferred, back in the queue) for an
    /// expert on this node, and send them their `status` so the app shows the server's
    /// `active_chats` (and cap) at once.
    pub fn change_active(&self, expert: &str, delta: i64) {
        let status = self.roster.get_mut(expert).map(|mut p| {
            p.active = (p.active + delta).max(0);
            p.status()
        });
        // Sent after the entry is unlocked: send_expert takes it again.
        if let Some(s) = status {
            self.send_expert(expert, &Out::Status(s));
        }
    }
}
