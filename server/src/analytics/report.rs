//! From rollup rows to what the dashboard and `metrics.csv` show. Both call [`Selection`], so
//! for the same filters they cannot disagree.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use utoipa::ToSchema;

use chrono_tz::Tz;

use super::stats::{Metrics, Stats};
use super::zone::{self, Plan, RollGrain};
use crate::csv_table::{Cell, CellFn, Table};
use crate::storage::{RollupFilter, RollupRow};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grain {
    Minute,
    Hour,
    Day,
}

impl Grain {
    pub fn parse(s: &str) -> Option<Grain> {
        match s {
            "minute" => Some(Grain::Minute),
            "hour" => Some(Grain::Hour),
            "day" => Some(Grain::Day),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Grain::Minute => "minute",
            Grain::Hour => "hour",
            Grain::Day => "day",
        }
    }
    pub fn width_ms(self) -> i64 {
        match self {
            Grain::Minute => 60_000,
            Grain::Hour => 3_600_000,
            Grain::Day => 86_400_000,
        }
    }
    /// A sensible grain for a range: ≤ 6 h by minute, ≤ 14 days by hour, else by day.
    pub fn auto(from: i64, to: i64) -> Grain {
        let span = to - from;
        if span <= 6 * 3_600_000 {
            Grain::Minute
        } else if span <= 14 * 86_400_000 {
            Grain::Hour
        } else {
            Grain::Day
        }
    }
    /// The most buckets one query may produce for this grain (keeps responses bounded).
    pub fn max_buckets(self) -> i64 {
        match self {
            Grain::Minute => 24 * 60,
            Grain::Hour => 31 * 24,
            Grain::Day => 400,
        }
    }
    pub fn floor(self, t: i64) -> i64 {
        t - t.rem_euclid(self.width_ms())
    }
    pub fn ceil(self, t: i64) -> i64 {
        let f = self.floor(t);
        if f == t {
            t
        } else {
            f + self.width_ms()
        }
    }
}

/// A range cut into the grain's periods in a time zone, with the dimension filters.
#[derive(Debug, Clone)]
pub struct Selection {
    pub grain: Grain,
    /// `from` and `to` are the first period's start and the last one's end.
    pub filter: RollupFilter,
    /// When the figures are computed: a bucket still running counts its elapsed minutes only.
    pub now: i64,
    /// The zone whose days and hours the periods are.
    pub tz: Tz,
    /// Period `i` is `[bounds[i], bounds[i+1])` (UTC ms): local days are 23 to 25 hours long.
    pub bounds: Vec<i64>,
}

impl Selection {
    pub fn new(grain: Grain, from: i64, to: i64, filter: RollupFilter, now: i64, tz: Tz) -> Selection {
        let bounds = zone::periods(grain, tz, from, to);
        Selection {
            grain,
            filter: RollupFilter {
                from: bounds[0],
                to: *bounds.last().expect("at least one period"),
                ..filter
            },
            now,
            tz,
            bounds,
        }
    }

    /// How many periods the range has.
    pub fn len(&self) -> usize {
        self.bounds.len() - 1
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn by_store(&self) -> bool {
        self.filter.store_id.is_some()
    }

    /// Minutes of [from, to) that have happened, for the availability average.
    fn minutes(&self, from: i64, to: i64) -> f64 {
        let end = to.min(self.now.max(from));
        (end - from) as f64 / 60_000.0
    }

    /// Figures for the sum of `stats` over [from, to).
    pub fn metrics(&self, stats: &Stats, from: i64, to: i64, by_store: bool) -> Metrics {
        let mut m = stats.metrics(self.minutes(from, to), by_store);
        if self.filter.department_id.is_some() {
            // Availability is sampled per store and expert, not per department.
            m.experts_available_avg = None;
        }
        if self.filter.expert_id.is_some() {
            m.claim_rate = None;
        }
        m
    }

    /// Period starts, oldest first.
    pub fn buckets(&self) -> impl Iterator<Item = i64> + '_ {
        self.bounds[..self.len()].iter().copied()
    }

    /// Which rollup rows make up each period (see [`zone::Plan`]).
    pub fn plan(&self, quarter_since: i64) -> Plan {
        Plan::new(self.bounds.clone(), quarter_since)
    }

    /// Sum the rows a plan read into one [`Stats`] per period and `key` (rows whose key is
    /// `None` are left out). Keys whose sum is empty are dropped.
    pub fn fold<K: Ord + Clone>(
        &self,
        plan: &Plan,
        rows: &[(RollGrain, RollupRow)],
        key: impl Fn(&RollupRow) -> Option<K>,
    ) -> BTreeMap<(usize, K), Stats> {
        let mut out: BTreeMap<(usize, K), Stats> = BTreeMap::new();
        for (g, r) in rows {
            let Some(uses) = plan.uses.get(&(*g, r.bucket)) else { continue };
            let Some(k) = key(r) else { continue };
            let s = parse(r);
            for &(period, sign) in uses {
                out.entry((period, k.clone())).or_default().add_scaled(&s, sign);
            }
        }
        out.retain(|_, s| !s.is_empty());
        out
    }

    pub fn report(
        &self,
        plan: &Plan,
        rows: &[(RollGrain, RollupRow)],
        names: &BTreeMap<String, String>,
        currencies: Vec<String>,
    ) -> Report {
        let mut total = Stats::default();
        let mut per_bucket: Vec<Stats> = vec![Stats::default(); self.len()];
        let mut per_expert: BTreeMap<&str, Stats> = BTreeMap::new();
        let mut per_store: BTreeMap<&str, Stats> = BTreeMap::new();
        for (g, r) in rows {
            let Some(uses) = plan.uses.get(&(*g, r.bucket)) else { continue };
            let s = parse(r);
            for &(period, sign) in uses {
                total.add_scaled(&s, sign);
                per_bucket[period].add_scaled(&s, sign);
                if !r.expert_id.is_empty() {
                    per_expert.entry(&r.expert_id).or_default().add_scaled(&s, sign);
                }
                if !r.store_id.is_empty() {
                    per_store.entry(&r.store_id).or_default().add_scaled(&s, sign);
                }
            }
        }
        // A row taken back out at an edge can leave a dimension with nothing in the range.
        per_expert.retain(|_, s| !s.is_empty());
        per_store.retain(|_, s| !s.is_empty());
        let (from, to) = (self.filter.from, self.filter.to);
        let name = |id: &str| names.get(id).cloned().unwrap_or_else(|| id.to_owned());
        let mut revenue_currencies: BTreeSet<String> = currencies.into_iter().collect();
        revenue_currencies.extend(total.revenue.keys().cloned());
        Report {
            from,
            to,
            grain: self.grain.as_str(),
            time_zone: self.tz.name().to_owned(),
            currencies: revenue_currencies.into_iter().collect(),
            totals: self.metrics(&total, from, to, self.by_store()),
            series: per_bucket
                .iter()
                .enumerate()
                .map(|(i, s)| SeriesPoint {
                    bucket: self.bounds[i],
                    metrics: self.metrics(s, self.bounds[i], self.bounds[i + 1], self.by_store()),
                })
                .collect(),
            experts: per_expert
                .into_iter()
                .map(|(id, s)| ExpertFigures {
                    expert_id: id.to_owned(),
                    name: name(id),
                    metrics: self.metrics(&s, from, to, self.by_store()),
                })
                .collect(),
            stores: per_store
                .into_iter()
                .map(|(id, s)| StoreFigures {
                    store_id: id.to_owned(),
                    name: name(id),
                    metrics: self.metrics(&s, from, to, true),
                })
                .collect(),
        }
    }
}

pub fn parse(r: &RollupRow) -> Stats {
    serde_json::from_str(&r.stats).unwrap_or_else(|e| {
        tracing::error!(error = %e, "unreadable rollup row skipped");
        Stats::default()
    })
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Report {
    /// Start of the first bucket (ms).
    pub from: i64,
    /// End of the last bucket (ms, exclusive).
    pub to: i64,
    pub grain: &'static str,
    /// The IANA time zone whose days and hours the buckets are (e.g. `Europe/Stockholm`).
    pub time_zone: String,
    /// Currencies of attributed revenue in the range.
    pub currencies: Vec<String>,
    pub totals: Metrics,
    /// Every bucket of the range, zero-filled.
    pub series: Vec<SeriesPoint>,
    /// Experts with any activity in the selection.
    pub experts: Vec<ExpertFigures>,
    pub stores: Vec<StoreFigures>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SeriesPoint {
    /// The period's start (ms); it ends where the next one starts (local days may be 23 or 25
    /// hours long), the last at the report's `to`.
    pub bucket: i64,
    pub metrics: Metrics,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ExpertFigures {
    pub expert_id: String,
    pub name: String,
    pub metrics: Metrics,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StoreFigures {
    pub store_id: String,
    pub name: String,
    pub metrics: Metrics,
}

/// The figures' columns of `metrics.csv`, after the period and the dimension columns and
/// before the revenue per currency: counts as integers, rates and averages as decimals, empty
/// when there is nothing to divide.
pub const METRIC_COLUMNS: &[(&str, CellFn<Metrics>)] = &[
    ("requested", |m, c| c.int(m.requested)),
    ("claimed", |m, c| c.int(m.claimed)),
    ("missed", |m, c| c.int(m.missed)),
    ("abandoned", |m, c| c.int(m.abandoned)),
    ("transferred", |m, c| c.int(m.transferred)),
    ("offline", |m, c| c.int(m.offline)),
    ("ended", |m, c| c.int(m.ended)),
    ("claim_rate", |m, c| c.opt(m.claim_rate)),
    ("time_to_claim_p50_s", |m, c| c.opt(m.time_to_claim_p50_s)),
    ("time_to_claim_p90_s", |m, c| c.opt(m.time_to_claim_p90_s)),
    ("first_response_p50_s", |m, c| c.opt(m.first_response_p50_s)),
    ("first_response_p90_s", |m, c| c.opt(m.first_response_p90_s)),
    ("avg_duration_s", |m, c| c.opt(m.avg_duration_s)),
    ("messages", |m, c| c.int(m.messages)),
    ("csat_avg", |m, c| c.opt(m.csat_avg)),
    ("csat_count", |m, c| c.int(m.csat_count)),
    ("csat_1", |m, c| c.int(m.csat_distribution[0])),
    ("csat_2", |m, c| c.int(m.csat_distribution[1])),
    ("csat_3", |m, c| c.int(m.csat_distribution[2])),
    ("csat_4", |m, c| c.int(m.csat_distribution[3])),
    ("csat_5", |m, c| c.int(m.csat_distribution[4])),
    ("experts_available_avg", |m, c| c.opt(m.experts_available_avg)),
    ("orders", |m, c| c.int(m.orders)),
    ("unanswered", |m, c| c.int(m.unanswered)),
    ("messages_expert", |m, c| c.int(m.messages_expert)),
    ("video_calls", |m, c| c.int(m.video_calls)),
    ("minutes_on_video", |m, c| c.display(m.minutes_on_video)),
    ("alerts_sent", |m, c| c.int(m.alerts_sent)),
    ("alerts_shown", |m, c| c.int(m.alerts_shown)),
    ("alerts_failed", |m, c| c.int(m.alerts_failed)),
    ("missed_alerts_failed", |m, c| c.int(m.missed_alerts_failed)),
    ("carts_sent", |m, c| c.int(m.carts_sent)),
    ("carts_paid", |m, c| c.int(m.carts_paid)),
    ("cart_conversion", |m, c| c.opt(m.cart_conversion)),
];

/// The money columns of `metrics.csv` after the figures: revenue per currency, then cart
/// revenue per currency (the same currencies: `revenue_X…`, `cart_revenue_X…`), zero when a
/// period has none.
pub fn revenue_columns<R: 'static>(mut table: Table<R>, metrics: fn(&R) -> &Metrics, currencies: &[String]) -> Table<R> {
    for (prefix, amounts) in [
        ("revenue_", (|m: &Metrics| &m.revenue) as fn(&Metrics) -> &BTreeMap<String, String>),
        ("cart_revenue_", |m: &Metrics| &m.cart_revenue),
    ] {
        for cur in currencies {
            let cur = cur.clone();
            table = table.column(format!("{prefix}{cur}"), move |r: &R, c: &mut Cell| {
                match amounts(metrics(r)).get(&cur) {
                    Some(v) => c.text(v),
                    None => c.text(&super::stats::format_minor(0, &cur)),
                }
            });
        }
    }
    table
}
