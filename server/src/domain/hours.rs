//! Store opening hours: a weekly schedule plus dated exceptions, interpreted in the store's
//! own timezone.

use chrono::{Datelike, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use super::Problems;

/// Opening interval within one day, `"09:00"`–`"18:00"`; `close` may be `"24:00"`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Interval {
    #[schema(example = "09:00")]
    pub open: String,
    #[schema(example = "18:00")]
    pub close: String,
}

/// Opening intervals for each weekday; a missing or empty day means closed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct WeeklyHours {
    pub monday: Vec<Interval>,
    pub tuesday: Vec<Interval>,
    pub wednesday: Vec<Interval>,
    pub thursday: Vec<Interval>,
    pub friday: Vec<Interval>,
    pub saturday: Vec<Interval>,
    pub sunday: Vec<Interval>,
}

/// A date that does not follow the weekly schedule (a holiday, a late opening).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DateException {
    /// Local date in the store's timezone, `YYYY-MM-DD`.
    #[schema(example = "2026-12-24")]
    pub date: String,
    /// Intervals open that day; empty means closed all day.
    #[serde(default)]
    pub hours: Vec<Interval>,
    #[serde(default)]
    pub note: Option<String>,
}

fn minutes(s: &str) -> Option<u32> {
    if s == "24:00" {
        return Some(24 * 60);
    }
    let t = NaiveTime::parse_from_str(s, "%H:%M").ok()?;
    if s.len() != 5 {
        return None;
    }
    Some(chrono::Timelike::hour(&t) * 60 + chrono::Timelike::minute(&t))
}

fn check_day(p: &mut Problems, field: &str, day: &[Interval]) {
    let mut spans: Vec<(u32, u32)> = Vec::new();
    for (i, iv) in day.iter().enumerate() {
        match (minutes(&iv.open), minutes(&iv.close)) {
            (Some(o), Some(c)) if o < c && o < 24 * 60 => spans.push((o, c)),
            (Some(_), Some(_)) => p.add(format!("{field}[{i}]"), "open must be before close"),
            _ => p.add(format!("{field}[{i}]"), "times must be HH:MM (00:00–24:00)"),
        }
    }
    spans.sort();
    if spans.windows(2).any(|w| w[1].0 < w[0].1) {
        p.add(field, "intervals must not overlap");
    }
    if day.len() > 6 {
        p.add(field, "at most 6 intervals per day");
    }
}

impl WeeklyHours {
    pub fn days(&self) -> [(&'static str, &Vec<Interval>); 7] {
        [
            ("monday", &self.monday),
            ("tuesday", &self.tuesday),
            ("wednesday", &self.wednesday),
            ("thursday", &self.thursday),
            ("friday", &self.friday),
            ("saturday", &self.saturday),
            ("sunday", &self.sunday),
        ]
    }

    fn for_weekday(&self, d: Weekday) -> &[Interval] {
        match d {
            Weekday::Mon => &self.monday,
            Weekday::Tue => &self.tuesday,
            Weekday::Wed => &self.wednesday,
            Weekday::Thu => &self.thursday,
            Weekday::Fri => &self.friday,
            Weekday::Sat => &self.saturday,
            Weekday::Sun => &self.sunday,
        }
    }

    pub fn validate(&self, p: &mut Problems, field: &str) {
        for (name, day) in self.days() {
            check_day(p, &format!("{field}.{name}"), day);
        }
    }

    /// Every weekday 09:00–18:00 except Sunday, used when a store is created without hours.
    pub fn standard() -> Self {
        let d = || {
            vec![Interval {
                open: "09:00".into(),
                close: "18:00".into(),
            }]
        };
        WeeklyHours {
            monday: d(),
            tuesday: d(),
            wednesday: d(),
            thursday: d(),
            friday: d(),
            saturday: vec![Interval {
                open: "10:00".into(),
                close: "16:00".into(),
            }],
            sunday: vec![],
        }
    }
}

pub fn validate_exceptions(p: &mut Problems, field: &str, list: &[DateException]) {
    let mut seen = std::collections::HashSet::new();
    for (i, e) in list.iter().enumerate() {
        let f = format!("{field}[{i}]");
        if NaiveDate::parse_from_str(&e.date, "%Y-%m-%d").is_err() || e.date.len() != 10 {
            p.add(format!("{f}.date"), "must be a date YYYY-MM-DD");
        } else if !seen.insert(e.date.clone()) {
            p.add(format!("{f}.date"), "each date may appear once");
        }
        check_day(p, &format!("{f}.hours"), &e.hours);
        if e.note.as_deref().is_some_and(|n| n.chars().count() > 200) {
            p.add(format!("{f}.note"), "must be at most 200 characters");
        }
    }
    if list.len() > 366 {
        p.add(field, "at most 366 exceptions");
    }
}

pub fn parse_timezone(tz: &str) -> Option<Tz> {
    tz.parse::<Tz>().ok()
}

/// Whether a store with this schedule is open at `at_ms` (unix milliseconds).
pub fn is_open(tz: Tz, weekly: &WeeklyHours, exceptions: &[DateException], at_ms: i64) -> bool {
    let Some(utc) = Utc.timestamp_millis_opt(at_ms).single() else {
        return false;
    };
    let local = utc.with_timezone(&tz);
    let date = local.date_naive().format("%Y-%m-%d").to_string();
    let minute = chrono::Timelike::hour(&local) * 60 + chrono::Timelike::minute(&local);
    let day: &[Interval] = match exceptions.iter().find(|e| e.date == date) {
        Some(e) => &e.hours,
        None => weekly.for_weekday(local.weekday()),
    };
    day.iter().any(|iv| match (minutes(&iv.open), minutes(&iv.close)) {
        (Some(o), Some(c)) => o <= minute && minute < c,
        _ => false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iv(o: &str, c: &str) -> Interval {
        Interval {
            open: o.into(),
            close: c.into(),
        }
    }

    #[test]
    fn rejects_bad_and_overlapping_intervals() {
        let mut w = WeeklyHours::standard();
        w.monday = vec![iv("09:00", "12:00"), iv("11:00", "13:00")];
        w.tuesday = vec![iv("18:00", "09:00")];
        w.friday = vec![iv("9:00", "25:00")];
        let mut p = Problems::new();
        w.validate(&mut p, "hours");
        let fields: Vec<_> = p.0.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["hours.monday", "hours.tuesday[0]", "hours.friday[0]"]);
    }

    #[test]
    fn open_follows_local_time_and_exceptions() {
        let tz = parse_timezone("Europe/Stockholm").unwrap();
        let w = WeeklyHours::standard();
        // 2026-11-23 is a Monday. 08:30 UTC = 09:30 in Stockholm (CET, UTC+1).
        let monday_0930 = chrono::DateTime::parse_from_rfc3339("2026-11-23T08:30:00Z")
            .unwrap()
            .timestamp_millis();
        let monday_0830 = chrono::DateTime::parse_from_rfc3339("2026-11-23T07:30:00Z")
            .unwrap()
            .timestamp_millis();
        assert!(is_open(tz, &w, &[], monday_0930));
        assert!(!is_open(tz, &w, &[], monday_0830));
        let closed = DateException {
            date: "2026-11-23".into(),
            hours: vec![],
            note: None,
        };
        assert!(!is_open(tz, &w, &[closed], monday_0930));
        assert!(parse_timezone("Mars/Olympus").is_none());
    }
}
