//! Days and hours in a time zone, and how each of them is put together from the UTC rollups.
//!
//! The rollups are kept per UTC minute, quarter-hour, hour and day (rows add up). A local day
//! or hour is an interval of UTC time: Stockholm's 29 March 2026 is 23 hours long, Tehran's
//! days start at 20:30 UTC. Every such interval is a sum of rollup rows with signs, chosen so
//! that few rows are read: a UTC day that the interval mostly covers is taken whole, and what
//! it adds or misses at the edges is taken out or added from hours, then quarter-hours, then
//! minutes (Stockholm's day is one UTC day, plus one hour, minus one hour). Every figure in a
//! rollup is an integer sum, so the result is exact.
//!
//! This module only does the time arithmetic; it knows nothing of storage or figures.

use std::collections::{BTreeMap, HashMap};

use chrono::{Duration, LocalResult, NaiveDate, NaiveTime, Offset, TimeZone, Utc};
use chrono_tz::Tz;

use super::report::Grain;

pub const MINUTE_MS: i64 = 60_000;
pub const QUARTER_MS: i64 = 15 * MINUTE_MS;
pub const HOUR_MS: i64 = 60 * MINUTE_MS;
pub const DAY_MS: i64 = 24 * HOUR_MS;

/// A grain the rollups are kept in (UTC buckets), coarsest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RollGrain {
    Day,
    Hour,
    Quarter,
    Minute,
}

impl RollGrain {
    pub const ALL: [RollGrain; 4] = [RollGrain::Day, RollGrain::Hour, RollGrain::Quarter, RollGrain::Minute];

    pub fn as_str(self) -> &'static str {
        match self {
            RollGrain::Day => "day",
            RollGrain::Hour => "hour",
            RollGrain::Quarter => "quarter",
            RollGrain::Minute => "minute",
        }
    }

    pub fn width_ms(self) -> i64 {
        match self {
            RollGrain::Day => DAY_MS,
            RollGrain::Hour => HOUR_MS,
            RollGrain::Quarter => QUARTER_MS,
            RollGrain::Minute => MINUTE_MS,
        }
    }

    fn finer(self) -> RollGrain {
        match self {
            RollGrain::Day => RollGrain::Hour,
            RollGrain::Hour => RollGrain::Quarter,
            RollGrain::Quarter | RollGrain::Minute => RollGrain::Minute,
        }
    }
}

fn floor(t: i64, w: i64) -> i64 {
    t - t.rem_euclid(w)
}

fn ceil(t: i64, w: i64) -> i64 {
    let f = floor(t, w);
    if f == t {
        t
    } else {
        f + w
    }
}

/// The zone's offset from UTC at `t`, in ms.
pub fn offset_ms(tz: Tz, t: i64) -> i64 {
    match Utc.timestamp_millis_opt(t) {
        LocalResult::Single(u) => i64::from(tz.offset_from_utc_datetime(&u.naive_utc()).fix().local_minus_utc()) * 1000,
        _ => 0,
    }
}

/// The local calendar date at `t`.
pub fn local_date(tz: Tz, t: i64) -> NaiveDate {
    Utc.timestamp_millis_opt(t)
        .single()
        .map(|u| u.with_timezone(&tz).date_naive())
        .unwrap_or_default()
}

/// The first instant of a local date: its midnight, or — where a clock change skips midnight —
/// the end of that gap; where midnight happens twice, the first.
pub fn day_start(tz: Tz, date: NaiveDate) -> i64 {
    let midnight = date.and_time(NaiveTime::MIN);
    // Gaps end on a quarter-hour; none is longer than a few hours.
    for k in 0..=24 {
        match tz.from_local_datetime(&(midnight + Duration::minutes(15 * k))) {
            LocalResult::Single(x) => return x.timestamp_millis(),
            LocalResult::Ambiguous(a, _) => return a.timestamp_millis(),
            LocalResult::None => continue,
        }
    }
    midnight.and_utc().timestamp_millis()
}

/// The next local full hour after `t` (which is one): usually `t` + 1 h; around a clock change
/// the first instant after it whose local time is on the hour.
fn next_hour(tz: Tz, t: i64) -> i64 {
    let o1 = offset_ms(tz, t);
    let c = t + HOUR_MS - (t + o1).rem_euclid(HOUR_MS);
    if offset_ms(tz, c) == o1 {
        return c;
    }
    // The offset changed in (t, c]: find the change to the minute, then the first full local
    // hour from it on under the new offset.
    let (mut lo, mut hi) = (floor(t, MINUTE_MS), ceil(c, MINUTE_MS));
    while hi - lo > MINUTE_MS {
        let mid = lo + (hi - lo) / MINUTE_MS / 2 * MINUTE_MS;
        if offset_ms(tz, mid) == o1 {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    let o2 = offset_ms(tz, hi);
    hi + (HOUR_MS - (hi + o2).rem_euclid(HOUR_MS)) % HOUR_MS
}

/// Boundaries of the grain's local periods covering [from, to): the first is at or before
/// `from`, the last at or after `to`; period `i` is `[b[i], b[i+1])`. Minutes are UTC minutes
/// (every zone's offset is whole minutes).
pub fn periods(grain: Grain, tz: Tz, from: i64, to: i64) -> Vec<i64> {
    let to = to.max(from + 1);
    match grain {
        Grain::Minute => (floor(from, MINUTE_MS)..=ceil(to, MINUTE_MS)).step_by(MINUTE_MS as usize).collect(),
        Grain::Hour => {
            let mut b = day_start(tz, local_date(tz, from));
            loop {
                let n = next_hour(tz, b);
                if n > from {
                    break;
                }
                b = n;
            }
            let mut out = vec![b];
            while b < to {
                b = next_hour(tz, b);
                out.push(b);
            }
            out
        }
        Grain::Day => {
            let mut d = local_date(tz, from);
            let mut b = day_start(tz, d);
            let mut out = vec![b];
            while b < to {
                d = d.succ_opt().unwrap_or(d);
                let n = day_start(tz, d);
                if n <= b {
                    break;
                }
                b = n;
                out.push(b);
            }
            out
        }
    }
}

/// One rollup row to read for a period: `sign` +1 adds it, -1 takes it out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Piece {
    pub grain: RollGrain,
    pub bucket: i64,
    pub sign: i64,
}

/// The signed rollup buckets that sum to exactly [a, b). Quarter-hour rows exist from
/// `quarter_since` on; an older quarter-hour is read as its minutes.
pub fn cover(a: i64, b: i64, quarter_since: i64) -> Vec<Piece> {
    let mut out = Vec::new();
    cover_into(&mut out, 1, a, b, RollGrain::Day, quarter_since);
    out
}

fn cover_into(out: &mut Vec<Piece>, sign: i64, x: i64, y: i64, g: RollGrain, since: i64) {
    if x >= y {
        return;
    }
    if g == RollGrain::Minute {
        for bucket in (floor(x, MINUTE_MS)..ceil(y, MINUTE_MS)).step_by(MINUTE_MS as usize) {
            out.push(Piece { grain: g, bucket, sign });
        }
        return;
    }
    let w = g.width_ms();
    // Take whole every bucket the interval covers more than half of: all inside it, and an
    // edge bucket that is mostly in it (these are contiguous).
    let (first, last) = (floor(x, w), floor(y - 1, w));
    let mostly = |c: i64| (y.min(c + w) - x.max(c)) * 2 > w;
    let start = if mostly(first) { first } else { first + w };
    let end = if mostly(last) { last + w } else { last };
    if start >= end {
        cover_into(out, sign, x, y, g.finer(), since);
        return;
    }
    for bucket in (start..end).step_by(w as usize) {
        if g == RollGrain::Quarter && bucket < since {
            for m in 0..15 {
                out.push(Piece {
                    grain: RollGrain::Minute,
                    bucket: bucket + m * MINUTE_MS,
                    sign,
                });
            }
        } else {
            out.push(Piece { grain: g, bucket, sign });
        }
    }
    // What the whole buckets miss at the edges is added, what they take too much is taken out.
    if x < start {
        cover_into(out, sign, x, start, g.finer(), since);
    } else if x > start {
        cover_into(out, -sign, start, x, g.finer(), since);
    }
    if y > end {
        cover_into(out, sign, end, y, g.finer(), since);
    } else if y < end {
        cover_into(out, -sign, y, end, g.finer(), since);
    }
}

/// Which rollup rows a report reads, and which periods each adds to or is taken from.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Period `i` is `[bounds[i], bounds[i+1])`.
    pub bounds: Vec<i64>,
    /// (grain, bucket) → (period, sign) for every use of that row.
    pub uses: HashMap<(RollGrain, i64), Vec<(usize, i64)>>,
}

impl Plan {
    pub fn new(bounds: Vec<i64>, quarter_since: i64) -> Plan {
        let mut uses: HashMap<(RollGrain, i64), Vec<(usize, i64)>> = HashMap::new();
        for (i, w) in bounds.windows(2).enumerate() {
            for p in cover(w[0], w[1], quarter_since) {
                let u = uses.entry((p.grain, p.bucket)).or_default();
                // A bucket used twice by one period (never, but cheap to keep exact) nets out.
                match u.iter_mut().find(|(q, _)| *q == i) {
                    Some((_, s)) => *s += p.sign,
                    None => u.push((i, p.sign)),
                }
            }
        }
        for u in uses.values_mut() {
            u.retain(|(_, s)| *s != 0);
        }
        uses.retain(|_, u| !u.is_empty());
        Plan { bounds, uses }
    }

    /// The buckets to read per rollup grain, sorted.
    pub fn wanted(&self) -> BTreeMap<RollGrain, Vec<i64>> {
        let mut out: BTreeMap<RollGrain, Vec<i64>> = BTreeMap::new();
        for (g, b) in self.uses.keys() {
            out.entry(*g).or_default().push(*b);
        }
        for v in out.values_mut() {
            v.sort_unstable();
        }
        out
    }

    /// Rows read in all (a measure of the report's cost).
    pub fn rows(&self) -> usize {
        self.uses.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(s: &str) -> i64 {
        chrono::DateTime::parse_from_rfc3339(s).unwrap().timestamp_millis()
    }

    fn tz(name: &str) -> Tz {
        name.parse().unwrap()
    }

    /// The pieces' signed coverage of every minute in [lo, hi): 1 inside [a, b), 0 outside.
    fn check_exact(a: i64, b: i64, since: i64) -> Vec<Piece> {
        let pieces = cover(a, b, since);
        let (lo, hi) = (floor(a, DAY_MS) - DAY_MS, ceil(b, DAY_MS) + DAY_MS);
        let mut count: HashMap<i64, i64> = HashMap::new();
        for p in &pieces {
            if p.grain == RollGrain::Quarter {
                assert!(p.bucket >= since, "a quarter row before quarters were kept");
            }
            for m in (p.bucket..p.bucket + p.grain.width_ms()).step_by(MINUTE_MS as usize) {
                *count.entry(m).or_default() += p.sign;
            }
        }
        for m in (lo..hi).step_by(MINUTE_MS as usize) {
            let want = i64::from(m >= a && m < b);
            assert_eq!(count.get(&m).copied().unwrap_or(0), want, "minute {m} of [{a}, {b})");
        }
        pieces
    }

    #[test]
    fn stockholm_days_follow_daylight_saving() {
        let z = tz("Europe/Stockholm");
        // 2026-03-29: clocks go 02:00 → 03:00, a 23-hour day; 2026-10-25: 03:00 → 02:00, 25 hours.
        let b = periods(Grain::Day, z, ms("2026-03-28T12:00:00Z"), ms("2026-03-30T12:00:00Z"));
        assert_eq!(
            b,
            vec![
                ms("2026-03-27T23:00:00Z"),
                ms("2026-03-28T23:00:00Z"),
                ms("2026-03-29T22:00:00Z"),
                ms("2026-03-30T22:00:00Z")
            ]
        );
        assert_eq!((b[2] - b[1]) / HOUR_MS, 23);
        let b = periods(Grain::Day, z, ms("2026-10-25T00:00:00Z"), ms("2026-10-25T12:00:00Z"));
        assert_eq!(b, vec![ms("2026-10-24T22:00:00Z"), ms("2026-10-25T23:00:00Z")]);
        // A winter day: one UTC day, one hour before it added, its last hour taken out.
        let p = check_exact(ms("2026-01-14T23:00:00Z"), ms("2026-01-15T23:00:00Z"), 0);
        assert_eq!(p.len(), 3, "{p:?}");
        // The short and the long day are exact too.
        check_exact(ms("2026-03-28T23:00:00Z"), ms("2026-03-29T22:00:00Z"), 0);
        check_exact(ms("2026-10-24T22:00:00Z"), ms("2026-10-25T23:00:00Z"), 0);
    }

    #[test]
    fn stockholm_hours_around_the_clock_changes() {
        let z = tz("Europe/Stockholm");
        // Spring: local 01:00, then 03:00 (02:00 does not exist).
        let b = periods(Grain::Hour, z, ms("2026-03-29T00:10:00Z"), ms("2026-03-29T02:00:00Z"));
        assert_eq!(
            b,
            vec![ms("2026-03-29T00:00:00Z"), ms("2026-03-29T01:00:00Z"), ms("2026-03-29T02:00:00Z")]
        );
        // Autumn: local 02:00 twice, as two hours.
        let b = periods(Grain::Hour, z, ms("2026-10-25T00:00:00Z"), ms("2026-10-25T02:00:00Z"));
        assert_eq!(
            b,
            vec![ms("2026-10-25T00:00:00Z"), ms("2026-10-25T01:00:00Z"), ms("2026-10-25T02:00:00Z")]
        );
        // A whole local day in hours: 23 and 25 of them.
        let day = periods(Grain::Day, z, ms("2026-03-29T12:00:00Z"), ms("2026-03-29T13:00:00Z"));
        assert_eq!(periods(Grain::Hour, z, day[0], day[1]).len() - 1, 23);
        let day = periods(Grain::Day, z, ms("2026-10-25T12:00:00Z"), ms("2026-10-25T13:00:00Z"));
        assert_eq!(periods(Grain::Hour, z, day[0], day[1]).len() - 1, 25);
    }

    #[test]
    fn tehran_is_three_and_a_half_hours_ahead() {
        let z = tz("Asia/Tehran");
        let b = periods(Grain::Day, z, ms("2026-12-06T10:00:00Z"), ms("2026-12-07T10:00:00Z"));
        assert_eq!(
            b,
            vec![ms("2026-12-05T20:30:00Z"), ms("2026-12-06T20:30:00Z"), ms("2026-12-07T20:30:00Z")]
        );
        let h = periods(Grain::Hour, z, ms("2026-12-06T10:00:00Z"), ms("2026-12-06T11:00:00Z"));
        assert_eq!(
            h,
            vec![ms("2026-12-06T09:30:00Z"), ms("2026-12-06T10:30:00Z"), ms("2026-12-06T11:30:00Z")]
        );
        // With quarter-hour rows: a day is one UTC day ± three hours and two quarter-hours.
        let p = check_exact(b[0], b[1], 0);
        assert_eq!(p.len(), 11, "{p:?}");
        assert_eq!(check_exact(h[0], h[1], 0).len(), 4);
        // Before quarter-hour rows were kept, minutes stand in.
        let p = check_exact(b[0], b[1], i64::MAX);
        assert_eq!(p.iter().filter(|p| p.grain == RollGrain::Minute).count(), 60);
        assert!(!p.iter().any(|p| p.grain == RollGrain::Quarter));
    }

    #[test]
    fn other_offsets_are_exact() {
        for (name, from) in [
            ("UTC", "2026-06-01T00:00:00Z"),
            ("Asia/Kolkata", "2026-06-01T00:00:00Z"),
            ("Asia/Kathmandu", "2026-06-01T00:00:00Z"),
            ("Pacific/Auckland", "2026-04-04T00:00:00Z"),
            ("America/Santiago", "2026-09-05T00:00:00Z"),
            ("Australia/Lord_Howe", "2026-04-04T00:00:00Z"),
            ("America/St_Johns", "2026-11-01T00:00:00Z"),
        ] {
            let z = tz(name);
            let from = ms(from);
            for grain in [Grain::Day, Grain::Hour] {
                let b = periods(grain, z, from, from + 3 * DAY_MS);
                assert!(b[0] <= from && *b.last().unwrap() >= from + 3 * DAY_MS, "{name}");
                for w in b.windows(2) {
                    assert!(w[1] > w[0], "{name}: periods move forward");
                    check_exact(w[0], w[1], from + DAY_MS);
                }
            }
        }
        // UTC days and hours are single rows.
        let p = cover(ms("2026-06-01T00:00:00Z"), ms("2026-06-02T00:00:00Z"), 0);
        assert_eq!(
            p,
            vec![Piece {
                grain: RollGrain::Day,
                bucket: ms("2026-06-01T00:00:00Z"),
                sign: 1
            }]
        );
    }

    /// Adding up aligned buckets only (no take-backs), coarsest that fits first.
    fn positive_only(mut x: i64, y: i64) -> usize {
        let mut n = 0;
        while x < y {
            let w = RollGrain::ALL
                .iter()
                .map(|g| g.width_ms())
                .find(|w| x % w == 0 && x + w <= y)
                .unwrap_or(MINUTE_MS);
            x += w;
            n += 1;
        }
        n
    }

    #[test]
    fn covers_read_no_more_rows_than_adding_up_would() {
        let from = ms("2026-03-01T00:00:00Z");
        for name in [
            "UTC",
            "Europe/Stockholm",
            "Asia/Tehran",
            "Asia/Kolkata",
            "Asia/Kathmandu",
            "America/St_Johns",
            "Pacific/Chatham",
        ] {
            let z = tz(name);
            for grain in [Grain::Day, Grain::Hour] {
                for w in periods(grain, z, from, from + 40 * DAY_MS).windows(2) {
                    let pieces = cover(w[0], w[1], 0).len();
                    assert!(
                        pieces <= positive_only(w[0], w[1]),
                        "{name} {grain:?} [{}, {}): {pieces}",
                        w[0],
                        w[1]
                    );
                    if grain == Grain::Hour {
                        assert!(pieces <= 4, "{name}: an hour is at most four quarter-hours");
                    }
                }
            }
        }
    }

    #[test]
    fn a_plan_reads_each_row_once_for_all_its_uses() {
        let z = tz("Europe/Stockholm");
        let b = periods(Grain::Day, z, ms("2026-01-10T00:00:00Z"), ms("2026-01-20T00:00:00Z"));
        let plan = Plan::new(b.clone(), 0);
        // Ten local days: ten UTC days and eleven hours (each 23:00 hour is taken out of one
        // day and added to the next).
        let w = plan.wanted();
        assert_eq!(w[&RollGrain::Day].len(), b.len() - 1);
        assert_eq!(w[&RollGrain::Hour].len(), b.len());
        let shared = plan.uses.values().filter(|u| u.len() == 2).count();
        assert_eq!(shared, b.len() - 2);
    }
}
