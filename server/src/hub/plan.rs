//! The routing planner: who should hold a waiting chat's offer, decided from a read-only view
//! of this node's state ([`State`]) — no I/O, no clock, no mutation, so every rule is a unit
//! test. The driver ([`super::offers`], run by [`super::router`]) reads the live state through
//! the hub's implementation of [`State`], applies the plan and sends the frames.
//!
//! The rules, in order: a chat targeted at one expert goes to that expert only; else, for
//! `contact_first_ms` after it started waiting, to the shopper's contact alone if they could
//! take it; else to every eligible expert with room for another offer — cut under a surge to
//! [`holder_cap`] holders per chat, preferring those holding the fewest offers.

use std::collections::HashSet;

use super::MAX_OFFERS_PER_EXPERT;
use crate::ids::ConversationId;
use crate::storage::ConversationRow;

/// What the planner needs to know about a waiting chat.
#[derive(Debug, Clone, Copy)]
pub struct Chat<'a> {
    pub id: &'a ConversationId,
    pub merchant: &'a str,
    pub store: &'a str,
    pub department: &'a str,
    /// Transferred to this expert only.
    pub target: Option<&'a str>,
    /// The shopper's contact, offered the chat first.
    pub contact: Option<&'a str>,
    /// When it started waiting (ms).
    pub queued_at: i64,
}

impl<'a> From<&'a ConversationRow> for Chat<'a> {
    fn from(row: &'a ConversationRow) -> Self {
        Chat {
            id: &row.id,
            merchant: &row.merchant_id,
            store: &row.store_id,
            department: &row.department_id,
            target: row.target_expert_id.as_deref(),
            contact: row.contact_expert_id.as_deref(),
            queued_at: row.queued_at,
        }
    }
}

/// The merchant's routing rule that depends on time, and the time it is.
#[derive(Debug, Clone, Copy)]
pub struct Rules {
    pub contact_first_ms: i64,
    pub now: i64,
}

/// A read-only view of the node's experts and offers.
pub trait State {
    /// Available, below their chat cap and working this store and department.
    fn eligible(&self, expert: &str, store: &str, department: &str) -> bool;
    /// How many offers the expert holds.
    fn offers_held(&self, expert: &str) -> usize;
    /// Whether the expert holds this chat's offer.
    fn holds(&self, expert: &str, chat: &ConversationId) -> bool;
    /// Who holds this chat's offer, and its re-offer waves so far.
    fn holders(&self, chat: &ConversationId) -> (Vec<String>, usize);
    /// The chats the expert is in now.
    fn active_chats(&self, expert: &str) -> i64;
    /// Whether another node's experts are to be offered this chat first (see
    /// [`home_elsewhere`]).
    fn home_elsewhere(&self, chat: &Chat<'_>) -> bool;
}

/// Whether `expert` should hold this chat's offer now (room counted: an expert already holding
/// it keeps it, one holding [`MAX_OFFERS_PER_EXPERT`] others does not get it).
pub fn is_target(s: &impl State, chat: &Chat<'_>, expert: &str, rules: Rules) -> bool {
    let eligible = |e: &str| s.eligible(e, chat.store, chat.department);
    if let Some(t) = chat.target {
        return t == expert && eligible(expert);
    }
    if let Some(c) = chat.contact {
        if rules.now - chat.queued_at < rules.contact_first_ms && eligible(c) {
            return c == expert;
        }
    }
    let room = s.offers_held(expert) < MAX_OFFERS_PER_EXPERT || s.holds(expert, chat.id);
    room && eligible(expert)
}

/// How many of a merchant's experts on this node may hold one waiting chat's offer at once:
/// the offer slots of the `able` experts (available, below their cap) shared over the
/// `waiting` chats, rounded up, at least one. Few waiting chats: more than there are experts,
/// so everyone eligible sees each chat and the quickest claims it. A surge (more waiting chats
/// than slots): one, so each expert with room is offered chats nobody else here holds.
pub fn holder_cap(able: usize, waiting: i64) -> usize {
    (able * MAX_OFFERS_PER_EXPERT).div_ceil(waiting.max(1) as usize).max(1)
}

/// With several nodes, whether a chat is left to another node first: only under a surge so
/// deep that this node's offer slots cannot cover its share (slots × nodes ≤ waiting); then
/// each chat has a home node, a hash of its id over the merchant's live nodes (sorted, the
/// same list on every node). `None`: this node is its home, or the surge is shallow.
pub fn home_elsewhere<'n>(chat_id: &str, nodes: &'n [String], me: &str, able: usize, waiting: i64) -> Option<&'n str> {
    if nodes.is_empty() || (able * MAX_OFFERS_PER_EXPERT * nodes.len()) as i64 > waiting {
        return None;
    }
    // FNV-1a: the same on every node and every build (std's hasher promises neither).
    let h = chat_id
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
    let home = nodes[(h % nodes.len() as u64) as usize].as_str();
    (home != me).then_some(home)
}

/// The holders of a chat's offer who could still claim it (eligible now), plus one when its
/// home is another node: an expert who filled up or went away no longer keeps a colleague
/// from being offered it.
pub fn live_holders(s: &impl State, chat: &Chat<'_>) -> usize {
    let (holders, _) = s.holders(chat.id);
    usize::from(s.home_elsewhere(chat)) + holders.iter().filter(|e| s.eligible(e, chat.store, chat.department)).count()
}

/// Which of `room` (experts with room for another offer) and the chat's own candidates (its
/// holders when `wave`, its target, its contact) should hold its offer now, with `cap` the
/// merchant's [`holder_cap`] for this pass (each re-offer wave lets one more expert in).
pub fn targets(s: &impl State, chat: &Chat<'_>, rules: Rules, wave: bool, room: &[String], cap: usize) -> Vec<String> {
    let (holders, waves) = s.holders(chat.id);
    let mut candidates: Vec<String> = room.to_vec();
    if wave {
        candidates.extend(holders.iter().cloned());
    }
    candidates.extend(chat.target.map(str::to_owned));
    candidates.extend(chat.contact.map(str::to_owned));
    candidates.sort_unstable();
    candidates.dedup();
    candidates.retain(|e| is_target(s, chat, e, rules));
    let cap = cap + waves + usize::from(wave);
    if candidates.len() + holders.len() + 1 > cap {
        spread(s, chat, &mut candidates, cap);
    }
    candidates
}

/// Whether an expert who just freed up should be offered this chat from the backlog: they hold
/// it already, or it has fewer live holders than the cap (plus its waves) allows.
pub fn backlog_takes(s: &impl State, chat: &Chat<'_>, expert: &str, rules: Rules, cap: usize) -> bool {
    if !is_target(s, chat, expert, rules) {
        return false;
    }
    let (_, waves) = s.holders(chat.id);
    s.holds(expert, chat.id) || live_holders(s, chat) < cap + waves
}

/// Cut `candidates` to those holding the offer already plus new ones up to `cap` live
/// holders, preferring the experts holding the fewest offers (then the fewest chats; ties
/// broken by a hash of expert and chat, so no expert always comes first).
fn spread(s: &impl State, chat: &Chat<'_>, candidates: &mut Vec<String>, cap: usize) {
    use std::hash::{Hash, Hasher};
    let holders: HashSet<String> = s.holders(chat.id).0.into_iter().collect();
    let live = live_holders(s, chat);
    let (mut keep, mut new): (Vec<String>, Vec<String>) = candidates.drain(..).partition(|e| holders.contains(e));
    new.sort_by_cached_key(|e| {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (e, chat.id).hash(&mut h);
        (s.offers_held(e), s.active_chats(e), h.finish())
    });
    new.truncate(cap.saturating_sub(live));
    keep.extend(new);
    *candidates = keep;
}

#[cfg(test)]
mod tests {
    use std::collections::{HashMap, HashSet};

    use super::*;

    /// A node's state written down: experts (store, department, free, active chats) and who
    /// holds which chat.
    #[derive(Default)]
    struct Snap {
        experts: HashMap<String, (String, String, bool, i64)>,
        held: HashMap<String, HashSet<String>>,
        waves: HashMap<String, usize>,
        elsewhere: HashSet<String>,
    }

    impl Snap {
        fn expert(mut self, id: &str, dept: &str, free: bool, active: i64) -> Self {
            self.experts.insert(id.into(), ("s1".into(), dept.into(), free, active));
            self
        }
        fn holding(mut self, expert: &str, chats: &[&str]) -> Self {
            self.held
                .entry(expert.into())
                .or_default()
                .extend(chats.iter().map(|c| c.to_string()));
            self
        }
    }

    impl State for Snap {
        fn eligible(&self, e: &str, store: &str, dept: &str) -> bool {
            self.experts.get(e).is_some_and(|(s, d, free, _)| *free && s == store && d == dept)
        }
        fn offers_held(&self, e: &str) -> usize {
            self.held.get(e).map_or(0, HashSet::len)
        }
        fn holds(&self, e: &str, chat: &ConversationId) -> bool {
            self.held.get(e).is_some_and(|h| h.contains(chat.as_str()))
        }
        fn holders(&self, chat: &ConversationId) -> (Vec<String>, usize) {
            let mut h: Vec<String> = self
                .held
                .iter()
                .filter(|(_, c)| c.contains(chat.as_str()))
                .map(|(e, _)| e.clone())
                .collect();
            h.sort();
            (h, self.waves.get(chat.as_str()).copied().unwrap_or(0))
        }
        fn active_chats(&self, e: &str) -> i64 {
            self.experts.get(e).map_or(0, |x| x.3)
        }
        fn home_elsewhere(&self, chat: &Chat<'_>) -> bool {
            self.elsewhere.contains(chat.id.as_str())
        }
    }

    fn chat(id: &str) -> Chat<'static> {
        Chat {
            // A test's few chats live as long as the test binary.
            id: Box::leak(Box::new(ConversationId::from_db(id.to_owned()))),
            merchant: "m1",
            store: "s1",
            department: "d1",
            target: None,
            contact: None,
            queued_at: 1_000,
        }
    }
    const RULES: Rules = Rules {
        contact_first_ms: 30_000,
        now: 2_000,
    };
    fn all(s: &Snap) -> Vec<String> {
        let mut v: Vec<String> = s.experts.keys().cloned().collect();
        v.sort();
        v
    }

    #[test]
    fn few_chats_go_to_every_eligible_expert_with_room() {
        let s = Snap::default()
            .expert("a", "d1", true, 0)
            .expert("b", "d1", true, 2)
            .expert("busy", "d1", false, 3)
            .expert("shoes", "d2", true, 0);
        let t = targets(&s, &chat("c1"), RULES, false, &all(&s), holder_cap(2, 1));
        assert_eq!(t, ["a", "b"], "free and working the chat's department");
    }

    #[test]
    fn a_targeted_chat_goes_to_its_expert_only_and_only_while_they_can_take_it() {
        let s = Snap::default().expert("a", "d1", true, 0).expert("b", "d1", true, 0);
        let c = Chat {
            target: Some("b"),
            ..chat("c1")
        };
        assert_eq!(targets(&s, &c, RULES, false, &all(&s), 20), ["b"]);
        let s = s.expert("b", "d1", false, 1);
        assert!(
            targets(&s, &c, RULES, false, &all(&s), 20).is_empty(),
            "nobody else gets a transfer to b"
        );
    }

    #[test]
    fn the_contact_comes_first_for_a_while_then_everyone() {
        let s = Snap::default().expert("a", "d1", true, 0).expert("k", "d1", true, 0);
        let c = Chat {
            contact: Some("k"),
            ..chat("c1")
        };
        assert_eq!(targets(&s, &c, RULES, false, &all(&s), 20), ["k"]);
        let later = Rules {
            now: 1_000 + 30_000,
            ..RULES
        };
        assert_eq!(targets(&s, &c, later, false, &all(&s), 20), ["a", "k"], "the window has passed");
        let away = Snap::default().expert("a", "d1", true, 0).expert("k", "d1", false, 0);
        assert_eq!(
            targets(&away, &c, RULES, false, &all(&away), 20),
            ["a"],
            "a contact who cannot take it holds nobody up"
        );
    }

    #[test]
    fn an_expert_with_a_full_hand_of_offers_gets_no_new_one_but_keeps_theirs() {
        let ten: Vec<String> = (0..MAX_OFFERS_PER_EXPERT).map(|i| format!("x{i}")).collect();
        let refs: Vec<&str> = ten.iter().map(String::as_str).collect();
        let s = Snap::default().expert("a", "d1", true, 0).holding("a", &refs);
        assert!(!is_target(&s, &chat("new"), "a", RULES));
        assert!(is_target(&s, &chat("x3"), "a", RULES), "a held offer is still theirs");
    }

    #[test]
    fn under_a_surge_each_chat_goes_to_one_expert_the_least_loaded_first() {
        // 3 experts × 10 slots over 100 waiting chats: one holder per chat.
        assert_eq!(holder_cap(3, 100), 1);
        assert_eq!(holder_cap(3, 3), 10);
        assert_eq!(holder_cap(0, 0), 1);
        let s = Snap::default()
            .expert("a", "d1", true, 0)
            .expert("b", "d1", true, 0)
            .expert("c", "d1", true, 0)
            .holding("a", &["o1", "o2"])
            .holding("c", &["o3"]);
        let t = targets(&s, &chat("c1"), RULES, false, &all(&s), 1);
        assert_eq!(t, ["b"], "b holds no offer yet");
        // A chat someone holds already is not given to a second expert …
        let s = s.holding("b", &["c1"]);
        assert_eq!(targets(&s, &chat("c1"), RULES, false, &all(&s), 1), ["b"]);
        // … until a re-offer wave lets one more in.
        let mut s = s;
        s.waves.insert("c1".into(), 1);
        let t = targets(&s, &chat("c1"), RULES, false, &all(&s), 1);
        assert_eq!(t, ["b", "c"], "the holder stays, the next least loaded joins");
    }

    #[test]
    fn a_holder_who_cannot_take_the_chat_frees_its_place() {
        let s = Snap::default()
            .expert("a", "d1", false, 3)
            .expert("b", "d1", true, 0)
            .holding("a", &["c1"]);
        assert_eq!(live_holders(&s, &chat("c1")), 0);
        assert_eq!(targets(&s, &chat("c1"), RULES, false, &all(&s), 1), ["b"]);
        assert!(backlog_takes(&s, &chat("c1"), "b", RULES, 1));
    }

    #[test]
    fn a_chat_homed_on_another_node_counts_as_held_there() {
        let mut s = Snap::default().expert("a", "d1", true, 0);
        s.elsewhere.insert("c1".into());
        assert_eq!(live_holders(&s, &chat("c1")), 1);
        assert!(targets(&s, &chat("c1"), RULES, false, &all(&s), 1).is_empty());
        assert!(!backlog_takes(&s, &chat("c1"), "a", RULES, 1));
        assert!(backlog_takes(&s, &chat("c2"), "a", RULES, 1));
    }

    #[test]
    fn home_nodes_only_in_a_deep_surge_and_the_same_on_every_node() {
        let nodes = vec!["n1".to_string(), "n2".to_string(), "n3".to_string()];
        // 3 nodes × 2 experts × 10 slots = 60 ≥ 50 waiting: shallow, everyone's.
        assert_eq!(home_elsewhere("c1", &nodes, "n1", 2, 50), None);
        // Deep: each chat has exactly one home, and every node agrees which.
        let mut homes = HashMap::new();
        for i in 0..300 {
            let id = format!("chat-{i}");
            let away: Vec<bool> = nodes.iter().map(|n| home_elsewhere(&id, &nodes, n, 2, 1_000).is_some()).collect();
            assert_eq!(away.iter().filter(|a| !**a).count(), 1, "{id} has one home");
            let home = away.iter().position(|a| !a).unwrap();
            *homes.entry(home).or_insert(0) += 1;
        }
        assert!(homes.values().all(|n| *n > 60), "spread over the nodes: {homes:?}");
        assert_eq!(home_elsewhere("c1", &[], "n1", 0, 1_000), None, "one node");
    }
}
