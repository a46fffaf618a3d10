//! From rollup rows to what the dashboard and `metrics.csv` show. Both call [`Selection`], so
//! for the same filters they cannot disagree.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use utoipa::ToSchema;

use super::stats::{Metrics, Stats};
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

/// A range aligned to a grain, with the dimension filters.
#[derive(Debug, Clone)]
pub struct Selection {
    pub grain: Grain,
    pub filter: RollupFilter,
    /// When the figures are computed: a bucket still running counts its elapsed minutes only.
    pub now: i64,
}

impl Selection {
    pub fn new(grain: Grain, from: i64, to: i64, filter: RollupFilter, now: i64) -> Selection {
        Selection {
            grain,
            filter: RollupFilter {
                from: grain.floor(from),
                to: grain.ceil(to),
                ..filter
            },
            now,
        }
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

    /// Buckets in the range, oldest first.
    pub fn buckets(&self) -> impl Iterator<Item = i64> + '_ {
        (self.filter.from..self.filter.to).step_by(self.grain.width_ms() as usize)
    }

    pub fn report(&self, rows: &[RollupRow], names: &BTreeMap<String, String>, currencies: Vec<String>) -> Report {
        let mut total = Stats::default();
        let mut per_bucket: BTreeMap<i64, Stats> = BTreeMap::new();
        let mut per_expert: BTreeMap<&str, Stats> = BTreeMap::new();
        let mut per_store: BTreeMap<&str, Stats> = BTreeMap::new();
        for r in rows {
            let s = parse(r);
            total.merge(&s);
            per_bucket.entry(r.bucket).or_default().merge(&s);
            if !r.expert_id.is_empty() {
                per_expert.entry(&r.expert_id).or_default().merge(&s);
            }
            if !r.store_id.is_empty() {
                per_store.entry(&r.store_id).or_default().merge(&s);
            }
        }
        let (from, to) = (self.filter.from, self.filter.to);
        let w = self.grain.width_ms();
        let empty = Stats::default();
        let name = |id: &str| names.get(id).cloned().unwrap_or_else(|| id.to_owned());
        let mut revenue_currencies: BTreeSet<String> = currencies.into_iter().collect();
        revenue_currencies.extend(total.revenue.keys().cloned());
        Report {
            from,
            to,
            grain: self.grain.as_str(),
            currencies: revenue_currencies.into_iter().collect(),
            totals: self.metrics(&total, from, to, self.by_store()),
            series: self
                .buckets()
                .map(|b| SeriesPoint {
                    bucket: b,
                    metrics: self.metrics(per_bucket.get(&b).unwrap_or(&empty), b, b + w, self.by_store()),
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

/// The columns of `metrics.csv` after the period and the dimension columns.
pub const METRIC_COLUMNS: [&str; 25] = [
    "requested",
    "claimed",
    "missed",
    "abandoned",
    "transferred",
    "offline",
    "ended",
    "claim_rate",
    "time_to_claim_p50_s",
    "time_to_claim_p90_s",
    "first_response_p50_s",
    "first_response_p90_s",
    "avg_duration_s",
    "messages",
    "csat_avg",
    "csat_count",
    "csat_1",
    "csat_2",
    "csat_3",
    "csat_4",
    "csat_5",
    "experts_available_avg",
    "orders",
    "unanswered",
    "messages_expert",
];

fn opt(v: Option<f64>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

/// The metric cells of one CSV row, in [`METRIC_COLUMNS`] order, then revenue per currency.
pub fn metric_cells(m: &Metrics, currencies: &[String]) -> Vec<String> {
    let mut v = vec![
        m.requested.to_string(),
        m.claimed.to_string(),
        m.missed.to_string(),
        m.abandoned.to_string(),
        m.transferred.to_string(),
        m.offline.to_string(),
        m.ended.to_string(),
        opt(m.claim_rate),
        opt(m.time_to_claim_p50_s),
        opt(m.time_to_claim_p90_s),
        opt(m.first_response_p50_s),
        opt(m.first_response_p90_s),
        opt(m.avg_duration_s),
        m.messages.to_string(),
        opt(m.csat_avg),
        m.csat_count.to_string(),
    ];
    v.extend(m.csat_distribution.iter().map(|c| c.to_string()));
    v.push(opt(m.experts_available_avg));
    v.push(m.orders.to_string());
    v.push(m.unanswered.to_string());
    v.push(m.messages_expert.to_string());
    for c in currencies {
        v.push(m.revenue.get(c).cloned().unwrap_or_else(|| super::stats::format_minor(0, c)));
    }
    v
}
