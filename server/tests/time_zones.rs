//! Analytics and `metrics.csv` cut days and hours in the merchant's time zone (issue 19), on
//! SQLite and PostgreSQL: daylight-saving changes (Stockholm's 23- and 25-hour days), a
//! half-hour offset (Tehran, UTC+3:30) read from quarter-hour rows and, before those were kept,
//! from minutes; the same totals as UTC days; the merchant's setting and the `tz` parameter.

mod common;

use std::time::{Duration, Instant};

use common::{demo_target, Backend, Client, TestApp, DEMO_PASSWORD};
use floorwalker::storage::Event;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

on_both_backends!(
    days_and_hours_follow_the_merchants_time_zone,
    the_time_zone_is_a_setting_and_a_parameter
);

fn ms(s: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(s).unwrap().timestamp_millis()
}

fn requested(series: &Value) -> Vec<i64> {
    series["series"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["metrics"]["requested"].as_i64().unwrap())
        .collect()
}

fn buckets(series: &Value) -> Vec<i64> {
    series["series"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["bucket"].as_i64().unwrap())
        .collect()
}

async fn get(c: &Client, path: &str) -> Value {
    let (s, v) = c.get(path).await;
    assert_eq!(s, StatusCode::OK, "{path}: {v}");
    v
}

/// Store events as the hub would, at chosen instants, and wait until the roller counted them.
async fn seed(app: &TestApp, admin: &Client, m: &str, store: &str, dep: &str, at: &[(&'static str, &str, Option<i64>)]) {
    let events: Vec<Event> = at
        .iter()
        .map(|(kind, t, value)| Event {
            merchant_id: m.to_owned(),
            kind,
            at: ms(t),
            store_id: Some(store.to_owned()),
            department_id: Some(dep.to_owned()),
            expert_id: Some(String::new()),
            value: *value,
            ..Default::default()
        })
        .collect();
    app.db.insert_events(&events).await.unwrap();
    let want = at.iter().filter(|e| e.0 == "requested").count() as i64;
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let v = get(
            admin,
            "/api/v1/analytics?from=2026-01-01T00:00:00Z&to=2027-01-01T00:00:00Z&grain=day&tz=UTC",
        )
        .await;
        if v["totals"]["requested"].as_i64() == Some(want) {
            break;
        }
        assert!(Instant::now() < deadline, "events never rolled: {}", v["totals"]);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn set_quarter_since(app: &TestApp, since: i64) {
    sqlx::query("UPDATE rollup_grains SET since = $1 WHERE grain = 'quarter'")
        .bind(since)
        .execute(&app.db.pool)
        .await
        .unwrap();
}

async fn days_and_hours_follow_the_merchants_time_zone(b: Backend) {
    let app = TestApp::spawn_demo(b).await;
    let (m, store, dep) = demo_target(&app).await;
    let admin = app.login("admin@demo.example", DEMO_PASSWORD).await;
    seed(
        &app,
        &admin,
        &m,
        &store,
        &dep,
        &[
            // Stockholm, around the spring change (29 March: 02:00 CET → 03:00 CEST).
            ("requested", "2026-03-28T22:30:00Z", None), // Sat 23:30 local
            ("requested", "2026-03-28T23:30:00Z", None), // Sun 00:30 local
            ("requested", "2026-03-29T21:30:00Z", None), // Sun 23:30 local (CEST)
            ("requested", "2026-03-29T22:30:00Z", None), // Mon 00:30 local
            ("claimed", "2026-03-29T22:30:00Z", Some(30_000)),
            // Stockholm, the autumn change (25 October: 03:00 CEST → 02:00 CET): 02:30 twice.
            ("requested", "2026-10-25T00:30:00Z", None),
            ("requested", "2026-10-25T01:30:00Z", None),
            // Tehran (UTC+3:30) in June, before quarter-hour rows were kept, and in December.
            ("requested", "2026-06-15T20:00:00Z", None), // 15 June 23:30
            ("requested", "2026-06-15T20:45:00Z", None), // 16 June 00:15
            ("requested", "2026-06-16T20:29:00Z", None), // 16 June 23:59
            ("requested", "2026-06-16T20:30:00Z", None), // 17 June 00:00
            ("requested", "2026-12-15T20:00:00Z", None), // 15 December 23:30
            ("requested", "2026-12-15T20:45:00Z", None), // 16 December 00:15
            ("requested", "2026-12-16T20:29:00Z", None), // 16 December 23:59
            ("requested", "2026-12-16T20:30:00Z", None), // 17 December 00:00
        ],
    )
    .await;
    let (quarters,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM rollups WHERE grain = 'quarter'")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert!(quarters > 0, "the roller keeps quarter-hour rows");

    // Stockholm days: the 23-hour Sunday holds its two chats; UTC days cut them elsewhere.
    let sthlm = get(
        &admin,
        "/api/v1/analytics?from=2026-03-28&to=2026-03-31&grain=day&tz=Europe/Stockholm",
    )
    .await;
    assert_eq!(sthlm["time_zone"], "Europe/Stockholm");
    assert_eq!(
        buckets(&sthlm),
        vec![ms("2026-03-27T23:00:00Z"), ms("2026-03-28T23:00:00Z"), ms("2026-03-29T22:00:00Z")]
    );
    assert_eq!(sthlm["to"], ms("2026-03-30T22:00:00Z"));
    assert_eq!(requested(&sthlm), vec![1, 2, 1]);
    assert_eq!(sthlm["totals"]["requested"], 4);
    // The claim at 00:30 on Monday belongs to Monday: taken out of Sunday's UTC day whole,
    // histogram included.
    let days = sthlm["series"].as_array().unwrap();
    assert_eq!(days[1]["metrics"]["claimed"], 0);
    assert!(days[1]["metrics"]["time_to_claim_p50_s"].is_null(), "{}", days[1]);
    assert_eq!(days[2]["metrics"]["claimed"], 1);
    assert!(days[2]["metrics"]["time_to_claim_p50_s"].as_f64().unwrap() > 20.0);
    let utc = get(&admin, "/api/v1/analytics?from=2026-03-28&to=2026-03-31&grain=day&tz=UTC").await;
    assert_eq!(requested(&utc), vec![2, 2, 0]);
    assert_eq!(utc["totals"]["requested"], sthlm["totals"]["requested"], "the same totals");

    // Stockholm hours on the 25-hour day: local 02:00 twice, one chat in each.
    let autumn = get(
        &admin,
        "/api/v1/analytics?from=2026-10-25&to=2026-10-26&grain=hour&tz=Europe/Stockholm",
    )
    .await;
    let r = requested(&autumn);
    assert_eq!(r.len(), 25);
    assert_eq!((r[2], r[3], r.iter().sum::<i64>()), (1, 1, 2));
    assert_eq!(buckets(&autumn)[3] - buckets(&autumn)[2], 3_600_000);

    // Tehran: days start at 20:30 UTC; hours at half past.
    let since = app.db.grain_since("quarter").await.unwrap();
    assert!(since > ms("2026-06-17T00:00:00Z") && since < i64::MAX, "{since}");
    for (month, from, to) in [("June", "2026-06-15", "2026-06-18"), ("December", "2026-12-15", "2026-12-18")] {
        // As migrated, and the same answer from quarter-hour rows only and from minutes only.
        for since in [since, 0, i64::MAX] {
            set_quarter_since(&app, since).await;
            let d = get(&admin, &format!("/api/v1/analytics?from={from}&to={to}&grain=day&tz=Asia/Tehran")).await;
            assert_eq!(requested(&d), vec![1, 2, 1], "{month}, quarter rows from {since:?}");
            assert_eq!(buckets(&d)[0], ms(&format!("{}T20:30:00Z", d_before(from))));
            let next = d_after(from);
            let h = get(
                &admin,
                &format!("/api/v1/analytics?from={next}&to={}&grain=hour&tz=Asia/Tehran", d_after(&next)),
            )
            .await;
            let r = requested(&h);
            assert_eq!(r.len(), 24);
            assert_eq!((r[0], r[23], r.iter().sum::<i64>()), (1, 1, 2), "{month}: {r:?}");
            assert_eq!(buckets(&h)[0], ms(&format!("{from}T20:30:00Z")));
        }
    }

    // metrics.csv: the same days, each labelled with its local start and offset.
    let res = admin
        .request(
            Method::GET,
            "/api/v1/exports/metrics.csv?from=2026-03-28&to=2026-03-31&tz=Europe/Stockholm",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let disposition = res.headers()["content-disposition"].to_str().unwrap().to_owned();
    assert!(disposition.contains("20260328-20260330"), "{disposition}");
    let body = res.text().await.unwrap();
    let mut csv = csv::Reader::from_reader(body.as_bytes());
    let header = csv.headers().unwrap().clone();
    let col = |n: &str| header.iter().position(|h| h == n).unwrap();
    let rows: Vec<(String, String)> = csv
        .records()
        .map(|r| {
            let r = r.unwrap();
            (r[col("period_start")].to_owned(), r[col("requested")].to_owned())
        })
        .collect();
    assert_eq!(
        rows,
        vec![
            ("2026-03-28T00:00:00+01:00".to_owned(), "1".to_owned()),
            ("2026-03-29T00:00:00+01:00".to_owned(), "2".to_owned()),
            ("2026-03-30T00:00:00+02:00".to_owned(), "1".to_owned()),
        ]
    );
    app.stop().await;
}

/// The date before / after `YYYY-MM-DD`.
fn d_before(d: &str) -> String {
    (chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").unwrap() - chrono::Days::new(1)).to_string()
}
fn d_after(d: &str) -> String {
    (chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").unwrap() + chrono::Days::new(1)).to_string()
}

async fn the_time_zone_is_a_setting_and_a_parameter(b: Backend) {
    let app = TestApp::spawn_demo(b).await;
    let admin = app.login("admin@demo.example", DEMO_PASSWORD).await;
    // Without a setting: the first store's zone (the demo's Stockholm flagship).
    let (_, session) = admin.get("/api/v1/auth/session").await;
    assert_eq!(session["time_zone"], "Europe/Stockholm");
    let v = get(&admin, "/api/v1/analytics?from=2026-12-01&to=2026-12-02").await;
    assert_eq!(v["time_zone"], "Europe/Stockholm");
    assert_eq!(v["from"], ms("2026-11-30T23:00:00Z"));
    assert_eq!(v["grain"], "hour");

    // The merchant chooses Tehran.
    let (_, mut routing) = admin.get("/api/v1/settings/routing").await;
    assert!(routing["report_timezone"].is_null());
    routing["report_timezone"] = json!("Mars/Olympus");
    let (s, p) = admin.call(Method::PUT, "/api/v1/settings/routing", Some(routing.clone())).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(p["errors"][0]["field"], "report_timezone", "{p}");
    routing["report_timezone"] = json!("Asia/Tehran");
    let (s, _) = admin.call(Method::PUT, "/api/v1/settings/routing", Some(routing)).await;
    assert_eq!(s, StatusCode::OK);
    let (_, session) = admin.get("/api/v1/auth/session").await;
    assert_eq!(session["time_zone"], "Asia/Tehran");
    let v = get(&admin, "/api/v1/analytics?from=2026-12-01&to=2026-12-02").await;
    assert_eq!(
        (v["time_zone"].as_str(), v["from"].as_i64()),
        (Some("Asia/Tehran"), Some(ms("2026-11-30T20:30:00Z")))
    );
    // A routing PUT from a client that does not know the field keeps working (and clears it).
    let (_, mut old) = admin.get("/api/v1/settings/routing").await;
    old.as_object_mut().unwrap().remove("report_timezone");
    assert_eq!(
        admin.call(Method::PUT, "/api/v1/settings/routing", Some(old)).await.0,
        StatusCode::OK
    );

    // Bad parameters are answered field by field.
    for (q, field) in [
        ("tz=Mars/Olympus", "tz"),
        ("from=2026-13-01&to=2026-12-02", "from"),
        ("from=2026-12-01&to=yesterday", "to"),
    ] {
        let (s, p) = admin.get(&format!("/api/v1/analytics?{q}")).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{q}: {p}");
        assert_eq!(p["errors"][0]["field"], field, "{q}: {p}");
    }
    let (s, _) = admin.get("/api/v1/exports/metrics.csv?tz=Nowhere/City").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    app.stop().await;
}
