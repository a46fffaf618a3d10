//! The numbers behind the dashboard and the metrics export.
//!
//! A rollup row holds a [`Stats`]: counters, two latency histograms, the rating distribution,
//! expert-availability minutes and attributed revenue per currency. Rows merge by addition, so
//! any range, store, department or expert selection is the sum of its rows, and the dashboard and
//! `metrics.csv` compute their figures from the same merged [`Stats`] with [`Stats::metrics`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Histogram upper bounds, seconds. The last bucket is open-ended.
pub const BOUNDS_S: [f64; 23] = [
    1.0, 2.0, 3.0, 5.0, 7.0, 10.0, 15.0, 20.0, 30.0, 45.0, 60.0, 90.0, 120.0, 180.0, 240.0, 300.0, 450.0, 600.0, 900.0, 1200.0, 1800.0,
    3600.0, 7200.0,
];

/// Counts per bucket (`BOUNDS_S.len() + 1` of them once anything is recorded) and the sum.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Hist {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub b: Vec<i64>,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub sum_ms: i64,
}

fn is_zero(v: &i64) -> bool {
    *v == 0
}

impl Hist {
    pub fn record(&mut self, ms: i64) {
        let ms = ms.max(0);
        if self.b.is_empty() {
            self.b = vec![0; BOUNDS_S.len() + 1];
        }
        let s = ms as f64 / 1000.0;
        let i = BOUNDS_S.iter().position(|&ub| s <= ub).unwrap_or(BOUNDS_S.len());
        self.b[i] += 1;
        self.sum_ms += ms;
    }

    pub fn count(&self) -> i64 {
        self.b.iter().sum()
    }

    pub fn merge(&mut self, o: &Hist) {
        self.add_scaled(o, 1);
    }

    /// Add `k` times `o` (`k` = -1 takes a part back out of a sum that holds it).
    pub fn add_scaled(&mut self, o: &Hist, k: i64) {
        if o.b.is_empty() {
            return;
        }
        if self.b.is_empty() {
            self.b = vec![0; BOUNDS_S.len() + 1];
        }
        for (a, b) in self.b.iter_mut().zip(&o.b) {
            *a += k * b;
        }
        self.sum_ms += k * o.sum_ms;
    }

    /// The q-quantile, interpolated linearly inside its bucket; `None` without data.
    /// Exact to within the bucket's width (e.g. between 10 and 15 s).
    pub fn quantile(&self, q: f64) -> Option<f64> {
        let n = self.count();
        if n == 0 {
            return None;
        }
        let rank = (q * n as f64).max(1.0);
        let mut seen = 0.0;
        for (i, &c) in self.b.iter().enumerate() {
            if c == 0 {
                continue;
            }
            let c = c as f64;
            if seen + c >= rank {
                let lo = if i == 0 { 0.0 } else { BOUNDS_S[i - 1] };
                let Some(&hi) = BOUNDS_S.get(i) else {
                    return Some(round1(lo));
                };
                return Some(round1(lo + (hi - lo) * ((rank - seen) / c)));
            }
            seen += c;
        }
        None
    }
}

fn round1(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

/// What one rollup row (or a sum of them) holds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Stats {
    #[serde(skip_serializing_if = "is_zero")]
    pub requested: i64,
    #[serde(skip_serializing_if = "is_zero")]
    pub claimed: i64,
    #[serde(skip_serializing_if = "is_zero")]
    pub missed: i64,
    #[serde(skip_serializing_if = "is_zero")]
    pub abandoned: i64,
    #[serde(skip_serializing_if = "is_zero")]
    pub transferred: i64,
    #[serde(skip_serializing_if = "is_zero")]
    pub offline: i64,
    #[serde(skip_serializing_if = "is_zero")]
    pub ended: i64,
    #[serde(skip_serializing_if = "is_zero")]
    pub unanswered: i64,
    /// Time from entering the queue to the claim.
    pub ttc: Hist,
    /// Time from the claim to the expert's first message.
    pub frt: Hist,
    /// Duration of ended chats, from the claim (or the request if never claimed).
    pub dur: Hist,
    #[serde(skip_serializing_if = "is_zero")]
    pub msg_shopper: i64,
    #[serde(skip_serializing_if = "is_zero")]
    pub msg_expert: i64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub csat: Vec<i64>,
    /// Expert-minutes available (merchant-wide samples, one per expert per minute).
    #[serde(skip_serializing_if = "is_zero")]
    pub avail_min: i64,
    /// Expert-minutes available in a store (one sample per expert per working store).
    #[serde(skip_serializing_if = "is_zero")]
    pub store_avail_min: i64,
    #[serde(skip_serializing_if = "is_zero")]
    pub orders: i64,
    /// Attributed revenue in minor units, per ISO 4217 currency.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub revenue: BTreeMap<String, i64>,
    /// Photos sent in chats (stored).
    #[serde(skip_serializing_if = "is_zero")]
    pub photos: i64,
    /// Photos whose files retention deleted.
    #[serde(skip_serializing_if = "is_zero")]
    pub photos_removed: i64,
    /// Video calls that started (the shopper answered).
    #[serde(skip_serializing_if = "is_zero")]
    pub calls: i64,
    /// Milliseconds on video, counted when each call ends.
    #[serde(skip_serializing_if = "is_zero")]
    pub call_ms: i64,
    /// Web Push alerts handed to the push service (issue 23).
    #[serde(skip_serializing_if = "is_zero")]
    pub alerts_sent: i64,
    /// … that the device reported shown.
    #[serde(skip_serializing_if = "is_zero")]
    pub alerts_shown: i64,
    /// … that failed (expired subscription, push service error, blocked on the device).
    #[serde(skip_serializing_if = "is_zero")]
    pub alerts_failed: i64,
    /// Chats missed while every alert sent for them had failed.
    #[serde(skip_serializing_if = "is_zero")]
    pub missed_alerts_failed: i64,
    /// Carts sent in chats (issue 22; a revision is not sent again), counted when sent.
    #[serde(skip_serializing_if = "is_zero")]
    pub carts_sent: i64,
    /// Carts paid, counted when the merchant reported the payment.
    #[serde(skip_serializing_if = "is_zero")]
    pub carts_paid: i64,
    /// The paid carts' totals in minor units, per ISO 4217 currency.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub cart_revenue: BTreeMap<String, i64>,
}

impl Stats {
    pub fn merge(&mut self, o: &Stats) {
        self.add_scaled(o, 1);
    }

    /// Add `k` times `o`. Every field is an integer sum, so `k` = -1 takes a part back out of a
    /// sum that holds it exactly (a local day is a UTC day plus and minus a few hours).
    pub fn add_scaled(&mut self, o: &Stats, k: i64) {
        self.requested += k * o.requested;
        self.claimed += k * o.claimed;
        self.missed += k * o.missed;
        self.abandoned += k * o.abandoned;
        self.transferred += k * o.transferred;
        self.offline += k * o.offline;
        self.ended += k * o.ended;
        self.unanswered += k * o.unanswered;
        self.ttc.add_scaled(&o.ttc, k);
        self.frt.add_scaled(&o.frt, k);
        self.dur.add_scaled(&o.dur, k);
        self.msg_shopper += k * o.msg_shopper;
        self.msg_expert += k * o.msg_expert;
        if !o.csat.is_empty() {
            self.csat.resize(5, 0);
            for (a, b) in self.csat.iter_mut().zip(&o.csat) {
                *a += k * b;
            }
        }
        self.avail_min += k * o.avail_min;
        self.store_avail_min += k * o.store_avail_min;
        self.orders += k * o.orders;
        for (c, v) in &o.revenue {
            *self.revenue.entry(c.clone()).or_default() += k * v;
        }
        self.revenue.retain(|_, v| *v != 0);
        self.photos += k * o.photos;
        self.photos_removed += k * o.photos_removed;
        self.calls += k * o.calls;
        self.call_ms += k * o.call_ms;
        self.alerts_sent += k * o.alerts_sent;
        self.alerts_shown += k * o.alerts_shown;
        self.alerts_failed += k * o.alerts_failed;
        self.missed_alerts_failed += k * o.missed_alerts_failed;
        self.carts_sent += k * o.carts_sent;
        self.carts_paid += k * o.carts_paid;
        for (c, v) in &o.cart_revenue {
            *self.cart_revenue.entry(c.clone()).or_default() += k * v;
        }
        self.cart_revenue.retain(|_, v| *v != 0);
    }

    /// Nothing counted (also after parts were added and taken back out).
    pub fn is_empty(&self) -> bool {
        let counters = [
            self.requested,
            self.claimed,
            self.missed,
            self.abandoned,
            self.transferred,
            self.offline,
            self.ended,
            self.unanswered,
            self.msg_shopper,
            self.msg_expert,
            self.avail_min,
            self.store_avail_min,
            self.orders,
            self.photos,
            self.photos_removed,
            self.calls,
            self.call_ms,
            self.alerts_sent,
            self.alerts_shown,
            self.alerts_failed,
            self.missed_alerts_failed,
            self.carts_sent,
            self.carts_paid,
        ];
        counters.iter().all(|v| *v == 0)
            && [&self.ttc, &self.frt, &self.dur].iter().all(|h| h.b.iter().all(|c| *c == 0))
            && self.csat.iter().all(|c| *c == 0)
            && self.revenue.is_empty()
            && self.cart_revenue.is_empty()
    }

    /// Fold one event in. Returns false for kinds the rollups do not count.
    pub fn apply(&mut self, kind: &str, value: Option<i64>, data: Option<&str>) -> bool {
        let v = value.unwrap_or(0);
        match kind {
            "requested" => self.requested += 1,
            "offline_message" => self.offline += 1,
            "claimed" => {
                self.claimed += 1;
                self.ttc.record(v);
            }
            "first_response" => self.frt.record(v),
            "missed" => self.missed += 1,
            "abandoned" => self.abandoned += 1,
            "transferred" => self.transferred += 1,
            "unanswered" => self.unanswered += 1,
            "ended" => {
                self.ended += 1;
                self.dur.record(v);
            }
            "rated" if (1..=5).contains(&v) => {
                self.csat.resize(5, 0);
                self.csat[(v - 1) as usize] += 1;
            }
            // One event may count several messages (the emitter folds them).
            "message.shopper" => self.msg_shopper += value.unwrap_or(1),
            "message.expert" => self.msg_expert += value.unwrap_or(1),
            "available" => self.avail_min += 1,
            "photo_shared" => self.photos += 1,
            "photo_removed" => self.photos_removed += 1,
            "call_started" => self.calls += 1,
            "call_ended" => self.call_ms += v.max(0),
            "alert_sent" => self.alerts_sent += 1,
            "alert_shown" => self.alerts_shown += 1,
            "alert_failed" => self.alerts_failed += 1,
            "missed_alert_failed" => self.missed_alerts_failed += 1,
            "available_store" => self.store_avail_min += 1,
            "cart_sent" => self.carts_sent += 1,
            // value: the cart's total in minor units; data: {"currency"}.
            "cart_paid" => {
                #[derive(Deserialize)]
                struct Paid {
                    currency: String,
                }
                let Some(d) = data.and_then(|d| serde_json::from_str::<Paid>(d).ok()) else {
                    return false;
                };
                self.carts_paid += 1;
                *self.cart_revenue.entry(d.currency).or_default() += v;
                self.cart_revenue.retain(|_, v| *v != 0);
            }
            "order" => {
                #[derive(Deserialize)]
                struct OrderDelta {
                    currency: String,
                    orders: i64,
                }
                let Some(d) = data.and_then(|d| serde_json::from_str::<OrderDelta>(d).ok()) else {
                    return false;
                };
                self.orders += d.orders;
                *self.revenue.entry(d.currency).or_default() += v;
                self.revenue.retain(|_, v| *v != 0);
            }
            _ => return false,
        }
        true
    }

    /// The figures shown for this selection. `minutes` is the length of the period (for the
    /// availability average); `by_store` picks the per-store availability samples.
    pub fn metrics(&self, minutes: f64, by_store: bool) -> Metrics {
        let rated: i64 = self.csat.iter().sum();
        let mut dist = [0i64; 5];
        for (d, c) in dist.iter_mut().zip(&self.csat) {
            *d = *c;
        }
        let avail = if by_store { self.store_avail_min } else { self.avail_min };
        Metrics {
            requested: self.requested,
            claimed: self.claimed,
            missed: self.missed,
            abandoned: self.abandoned,
            transferred: self.transferred,
            offline: self.offline,
            ended: self.ended,
            unanswered: self.unanswered,
            claim_rate: (self.requested > 0).then(|| round3(self.claimed as f64 / self.requested as f64)),
            time_to_claim_p50_s: self.ttc.quantile(0.5),
            time_to_claim_p90_s: self.ttc.quantile(0.9),
            first_response_p50_s: self.frt.quantile(0.5),
            first_response_p90_s: self.frt.quantile(0.9),
            avg_duration_s: (self.dur.count() > 0).then(|| round1(self.dur.sum_ms as f64 / 1000.0 / self.dur.count() as f64)),
            messages: self.msg_shopper + self.msg_expert,
            messages_shopper: self.msg_shopper,
            messages_expert: self.msg_expert,
            csat_avg: (rated > 0).then(|| {
                let total: i64 = dist.iter().enumerate().map(|(i, c)| (i as i64 + 1) * c).sum();
                (total as f64 / rated as f64 * 100.0).round() / 100.0
            }),
            csat_count: rated,
            csat_distribution: dist,
            experts_available_avg: (minutes > 0.0).then(|| (avail as f64 / minutes * 100.0).round() / 100.0),
            orders: self.orders,
            revenue: self.revenue.iter().map(|(c, v)| (c.clone(), format_minor(*v, c))).collect(),
            photos: self.photos,
            photos_removed: self.photos_removed,
            video_calls: self.calls,
            minutes_on_video: (self.call_ms as f64 / 60_000.0 * 10.0).round() / 10.0,
            alerts_sent: self.alerts_sent,
            alerts_shown: self.alerts_shown,
            alerts_failed: self.alerts_failed,
            missed_alerts_failed: self.missed_alerts_failed,
            carts_sent: self.carts_sent,
            carts_paid: self.carts_paid,
            cart_conversion: (self.carts_sent > 0).then(|| round3(self.carts_paid as f64 / self.carts_sent as f64)),
            cart_revenue: self.cart_revenue.iter().map(|(c, v)| (c.clone(), format_minor(*v, c))).collect(),
        }
    }
}

/// Figures for one selection, as the dashboard and `metrics.csv` show them.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Metrics {
    pub requested: i64,
    pub claimed: i64,
    pub missed: i64,
    pub abandoned: i64,
    pub transferred: i64,
    /// Offline messages left when nobody was available or the store was closed.
    pub offline: i64,
    pub ended: i64,
    /// Claimed chats whose expert did not answer in time and were re-offered.
    pub unanswered: i64,
    /// claimed / requested (0–1); null without requests.
    #[schema(required = true)]
    pub claim_rate: Option<f64>,
    #[schema(required = true)]
    pub time_to_claim_p50_s: Option<f64>,
    #[schema(required = true)]
    pub time_to_claim_p90_s: Option<f64>,
    #[schema(required = true)]
    pub first_response_p50_s: Option<f64>,
    #[schema(required = true)]
    pub first_response_p90_s: Option<f64>,
    #[schema(required = true)]
    pub avg_duration_s: Option<f64>,
    pub messages: i64,
    pub messages_shopper: i64,
    pub messages_expert: i64,
    #[schema(required = true)]
    pub csat_avg: Option<f64>,
    pub csat_count: i64,
    /// Ratings 1 to 5.
    pub csat_distribution: [i64; 5],
    /// Average number of available experts over the period.
    #[schema(required = true)]
    pub experts_available_avg: Option<f64>,
    pub orders: i64,
    /// Attributed revenue per currency, as decimal strings.
    pub revenue: BTreeMap<String, String>,
    /// Photos sent in chats.
    pub photos: i64,
    /// Photos deleted by the merchant's retention.
    pub photos_removed: i64,
    /// Video calls held (the shopper accepted).
    pub video_calls: i64,
    /// Minutes on video, to one decimal (calls counted when they end).
    pub minutes_on_video: f64,
    /// Web Push alerts handed to the push service.
    pub alerts_sent: i64,
    /// Alerts the device reported shown.
    pub alerts_shown: i64,
    /// Alerts that failed (expired subscription, push service error, blocked on the device).
    pub alerts_failed: i64,
    /// Chats missed while every eligible expert's alert had failed.
    pub missed_alerts_failed: i64,
    /// Carts sent in chats (a revised cart counts once).
    pub carts_sent: i64,
    /// Carts paid (counted when the payment was reported).
    pub carts_paid: i64,
    /// carts_paid / carts_sent of the period (0–1, 3 places); null when none were sent.
    #[schema(required = true)]
    pub cart_conversion: Option<f64>,
    /// The paid carts' totals per currency, as decimal strings.
    pub cart_revenue: BTreeMap<String, String>,
}

/// Decimal places of a currency (ISO 4217); 2 unless listed.
pub fn currency_exponent(c: &str) -> u32 {
    match c {
        "BIF" | "CLP" | "DJF" | "GNF" | "ISK" | "JPY" | "KMF" | "KRW" | "PYG" | "RWF" | "UGX" | "UYI" | "VND" | "VUV" | "XAF" | "XOF"
        | "XPF" => 0,
        "BHD" | "IQD" | "JOD" | "KWD" | "LYD" | "OMR" | "TND" => 3,
        _ => 2,
    }
}

/// Minor units as a decimal string: 12990 EUR → "129.90".
pub fn format_minor(v: i64, currency: &str) -> String {
    let e = currency_exponent(currency);
    if e == 0 {
        return v.to_string();
    }
    let p = 10i64.pow(e);
    let sign = if v < 0 { "-" } else { "" };
    let a = v.unsigned_abs();
    format!("{sign}{}.{:0width$}", a / p as u64, a % p as u64, width = e as usize)
}

/// A decimal amount ("129.9", "129.90", "130") in minor units, refusing more decimals than the
/// currency has, negatives and absurd sizes.
pub fn parse_amount(s: &str, currency: &str) -> Option<i64> {
    let e = currency_exponent(currency) as usize;
    let s = s.trim();
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    if int.is_empty()
        || int.len() > 12
        || !int.bytes().all(|b| b.is_ascii_digit())
        || frac.len() > e
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    if s.contains('.') && frac.is_empty() {
        return None;
    }
    let mut v: i64 = int.parse().ok()?;
    for i in 0..e {
        v = v * 10 + frac.as_bytes().get(i).map_or(0, |b| i64::from(b - b'0'));
    }
    Some(v)
}

#[cfg(test)]
mod tests;
