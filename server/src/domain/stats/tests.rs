//! Unit tests of [`Stats`]: histogram quantiles, adding and taking back rows, money per currency.

use super::*;

#[test]
fn quantiles_interpolate_inside_buckets() {
    let mut h = Hist::default();
    assert_eq!(h.quantile(0.5), None);
    for ms in [500, 1500, 4000, 12_000] {
        h.record(ms);
    }
    // Ranks: 0.5 s (0–1), 1.5 s (1–2), 4 s (3–5), 12 s (10–15).
    assert_eq!(h.quantile(0.5), Some(2.0));
    assert_eq!(h.quantile(0.9), Some(13.0));
    let mut big = Hist::default();
    big.record(10_000_000);
    assert_eq!(big.quantile(0.5), Some(7200.0));
}

#[test]
fn taking_a_sum_back_out_leaves_nothing() {
    // Every kind the rollups count, so a field added later and left out of add_scaled
    // shows up here (it would still serialise).
    let mut s = Stats::default();
    for (kind, v, d) in [
        ("requested", None, None),
        ("offline_message", None, None),
        ("claimed", Some(4_000), None),
        ("first_response", Some(9_000), None),
        ("missed", None, None),
        ("abandoned", None, None),
        ("transferred", None, None),
        ("unanswered", None, None),
        ("ended", Some(60_000), None),
        ("rated", Some(4), None),
        ("message.shopper", Some(3), None),
        ("message.expert", Some(2), None),
        ("available", None, None),
        ("available_store", None, None),
        ("photo_shared", None, None),
        ("photo_removed", None, None),
        ("call_started", None, None),
        ("call_ended", Some(252_000), None),
        ("alert_sent", None, None),
        ("alert_shown", None, None),
        ("alert_failed", None, None),
        ("missed_alert_failed", None, None),
        ("order", Some(12_990), Some(r#"{"currency":"EUR","orders":1}"#)),
    ] {
        assert!(s.apply(kind, v, d), "{kind}");
    }
    let all = s.clone();
    assert!(!s.is_empty());
    s.add_scaled(&all, -1);
    assert!(s.is_empty(), "{s:?}");
    assert_eq!(
        serde_json::to_value(&s).unwrap(),
        serde_json::json!({"ttc": {"b": vec![0; BOUNDS_S.len() + 1]}, "frt": {"b": vec![0; BOUNDS_S.len() + 1]}, "dur": {"b": vec![0; BOUNDS_S.len() + 1]}, "csat": [0, 0, 0, 0, 0]})
    );
}

#[test]
fn merging_adds_everything() {
    let mut a = Stats::default();
    a.apply("requested", None, None);
    a.apply("claimed", Some(3000), None);
    a.apply("rated", Some(5), None);
    a.apply("order", Some(12990), Some(r#"{"currency":"EUR","orders":1}"#));
    let mut b = Stats::default();
    b.apply("requested", None, None);
    b.apply("rated", Some(3), None);
    b.apply("order", Some(-12990), Some(r#"{"currency":"EUR","orders":-1}"#));
    b.apply("order", Some(500), Some(r#"{"currency":"SEK","orders":1}"#));
    assert!(!b.apply("page_view", None, None));
    a.merge(&b);
    let m = a.metrics(60.0, false);
    assert_eq!((m.requested, m.claimed, m.claim_rate), (2, 1, Some(0.5)));
    assert_eq!(m.csat_distribution, [0, 0, 1, 0, 1]);
    assert_eq!(m.csat_avg, Some(4.0));
    assert_eq!(m.orders, 1);
    assert_eq!(
        m.revenue.into_iter().collect::<Vec<_>>(),
        vec![("SEK".to_owned(), "5.00".to_owned())]
    );
    // Round-trips through the stored JSON.
    let json = serde_json::to_string(&a).unwrap();
    assert_eq!(serde_json::from_str::<Stats>(&json).unwrap(), a);
}

#[test]
fn amounts_follow_the_currency() {
    assert_eq!(parse_amount("129.9", "EUR"), Some(12990));
    assert_eq!(parse_amount("129.90", "EUR"), Some(12990));
    assert_eq!(parse_amount("130", "EUR"), Some(13000));
    assert_eq!(parse_amount("1.234", "EUR"), None);
    assert_eq!(parse_amount("1.234", "KWD"), Some(1234));
    assert_eq!(parse_amount("1500", "JPY"), Some(1500));
    assert_eq!(parse_amount("1500.5", "JPY"), None);
    for bad in ["", "-1", "1e3", "1.", ".5", "12,50", "9999999999999"] {
        assert_eq!(parse_amount(bad, "EUR"), None, "{bad}");
    }
    assert_eq!(format_minor(12990, "EUR"), "129.90");
    assert_eq!(format_minor(-5, "EUR"), "-0.05");
    assert_eq!(format_minor(1500, "JPY"), "1500");
    assert_eq!(format_minor(1234, "KWD"), "1.234");
}
