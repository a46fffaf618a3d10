//! Analytics, orders and sales attribution, the live dashboard socket and the exports, over
//! a real server on SQLite and PostgreSQL.

mod common;

use std::time::{Duration, Instant};

use common::{
    claim, csv_as_documented, demo_target, documented_columns, expert_ws, shopper_ws, start_chat, Backend, Client, TestApp, Ws,
    DEMO_PASSWORD,
};
use floorwalker::protocol::Out;
use reqwest::StatusCode;
use serde_json::{json, Value};

on_both_backends!(
    a_served_chat_and_its_order_show_up_in_the_figures,
    orders_are_validated_idempotent_and_private,
    the_dashboard_socket_pushes_updates,
    exports_read_back_equal_the_database_and_the_dashboard,
    the_journey_reaches_the_dashboard_and_the_expert,
    calls_made_with_api_keys_are_logged_for_their_merchant,
);

/// Poll `path` until `ok` holds (the roller folds events in about once a second).
async fn eventually(c: &Client, path: &str, what: &str, ok: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (s, v) = c.get(path).await;
        assert_eq!(s, StatusCode::OK, "{path}: {v}");
        if ok(&v) {
            return v;
        }
        assert!(Instant::now() < deadline, "{what} never happened; last answer: {v}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn api_key(admin: &Client) -> Client {
    let (s, k) = admin.post("/api/v1/api-keys", json!({"name": "orders"})).await;
    assert_eq!(s, StatusCode::CREATED, "{k}");
    admin.with_bearer(k["secret"].as_str().unwrap())
}

/// A shopper asks, expert1 claims and answers, the shopper replies, ends and rates 4.
async fn served_chat(app: &TestApp, m: &str, store: &str, dep: &str) -> (String, String) {
    let (mut expert, _) = expert_ws(app, "expert1@demo.example").await;
    let (mut shopper, shopper_id, _) = shopper_ws(app, m, None).await;
    let id = start_chat(&mut shopper, store, dep, "Hello?").await;
    claim(&mut expert, &id).await;
    expert
        .send(json!({"type": "send", "conversation_id": id, "client_msg_id": "e1", "body": "Hi! How can I help?"}))
        .await;
    expert.until("ack", |o| matches!(o, Out::Ack { .. })).await;
    shopper
        .send(json!({"type": "send", "conversation_id": id, "client_msg_id": "s2", "body": "Thanks, bye"}))
        .await;
    shopper
        .until("ack", |o| matches!(o, Out::Ack { client_msg_id, .. } if client_msg_id == "s2"))
        .await;
    shopper.send(json!({"type": "end", "conversation_id": id})).await;
    shopper
        .until(
            "ended",
            |o| matches!(o, Out::Conversation { conversation } if conversation.status == "ended"),
        )
        .await;
    shopper.send(json!({"type": "rate", "conversation_id": id, "score": 4})).await;
    shopper
        .until(
            "rated",
            |o| matches!(o, Out::Conversation { conversation } if conversation.rating.is_some()),
        )
        .await;
    (id, shopper_id)
}

async fn a_served_chat_and_its_order_show_up_in_the_figures(b: Backend) {
    let app = TestApp::spawn_demo(b).await;
    let (m, store, dep) = demo_target(&app).await;
    let admin = app.login("admin@demo.example", DEMO_PASSWORD).await;
    let (conv, shopper_id) = served_chat(&app, &m, &store, &dep).await;

    let key = api_key(&admin).await;
    let (s, order) = key
        .post(
            "/api/v1/orders",
            json!({"order_id": "A-1001", "shopper_id": shopper_id, "amount": "129.9", "currency": "eur"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{order}");
    assert_eq!(order["amount"], "129.90");
    assert_eq!(order["currency"], "EUR");
    assert_eq!(order["attributed"], true);
    assert_eq!(order["conversation_id"], conv.as_str());
    assert_eq!(order["store_id"], store.as_str());

    let path = "/api/v1/analytics?grain=hour";
    let v = eventually(&admin, path, "the chat and order in the figures", |v| {
        v["totals"]["csat_count"] == 1 && v["totals"]["orders"] == 1 && v["totals"]["messages_expert"] == 1
    })
    .await;
    let t = &v["totals"];
    assert_eq!(t["requested"], 1, "{t}");
    assert_eq!(t["claimed"], 1);
    assert_eq!(t["claim_rate"], 1.0);
    assert_eq!(t["ended"], 1);
    assert_eq!(t["missed"], 0);
    assert_eq!(t["messages_shopper"], 2, "the first message and the reply");
    assert_eq!(t["csat_distribution"], json!([0, 0, 0, 1, 0]));
    assert_eq!(t["csat_avg"], 4.0);
    assert!(t["time_to_claim_p50_s"].as_f64().unwrap() <= 5.0, "{t}");
    assert!(t["first_response_p50_s"].is_number(), "{t}");
    assert!(t["avg_duration_s"].is_number(), "{t}");
    assert_eq!(t["revenue"], json!({"EUR": "129.90"}));
    assert_eq!(v["currencies"], json!(["EUR"]));
    // Per expert and per store, with names.
    let experts = v["experts"].as_array().unwrap();
    assert_eq!(experts.len(), 1, "{experts:?}");
    assert_eq!(experts[0]["metrics"]["claimed"], 1);
    assert_eq!(experts[0]["metrics"]["revenue"]["EUR"], "129.90");
    assert_ne!(experts[0]["name"], experts[0]["expert_id"]);
    let stores = v["stores"].as_array().unwrap();
    assert_eq!(stores[0]["name"], "Stockholm Flagship");
    // The series covers the range, and its buckets add up to the totals.
    let series = v["series"].as_array().unwrap();
    assert!(series.len() >= 24, "{}", series.len());
    let sum: i64 = series.iter().map(|p| p["metrics"]["requested"].as_i64().unwrap()).sum();
    assert_eq!(sum, 1);
    // Filters: another store has nothing; the expert filter keeps the expert's part.
    let other = eventually(&admin, &format!("{path}&store_id={}", uuid::Uuid::now_v7()), "empty store", |_| {
        true
    })
    .await;
    assert_eq!(other["totals"]["requested"], 0);
    let expert_id = experts[0]["expert_id"].as_str().unwrap();
    let mine = eventually(&admin, &format!("{path}&expert_id={expert_id}"), "expert filter", |_| true).await;
    assert_eq!(mine["totals"]["claimed"], 1);
    assert_eq!(mine["totals"]["requested"], 0, "a request belongs to no expert");
    assert!(mine["totals"]["claim_rate"].is_null());

    // A status change takes the sale back; reporting the same again changes nothing.
    let cancel = json!({"order_id": "A-1001", "shopper_id": shopper_id, "amount": "129.90", "currency": "EUR", "status": "cancelled", "placed_at": order["placed_at"]});
    let (s, o) = key.post("/api/v1/orders", cancel.clone()).await;
    assert_eq!(s, StatusCode::OK, "{o}");
    assert_eq!(o["status"], "cancelled");
    assert_eq!(o["conversation_id"], conv.as_str(), "the attribution is kept");
    let (s, _) = key.post("/api/v1/orders", cancel).await;
    assert_eq!(s, StatusCode::OK);
    let v = eventually(&admin, path, "the cancellation in the figures", |v| v["totals"]["orders"] == 0).await;
    assert_eq!(v["totals"]["revenue"], json!({}));
    // The dashboard and the API key read the same figures.
    let (s, by_key) = key.get(path).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(by_key["totals"], v["totals"]);
    app.stop().await;
}

async fn orders_are_validated_idempotent_and_private(b: Backend) {
    let app = TestApp::spawn_demo(b).await;
    let (m, _, _) = demo_target(&app).await;
    let admin = app.login("admin@demo.example", DEMO_PASSWORD).await;
    let key = api_key(&admin).await;
    let (_, shopper_id, _) = shopper_ws(&app, &m, None).await;
    // A shopper nobody chatted with: stored, not attributed.
    let good = json!({"order_id": "B-1", "shopper_id": shopper_id, "amount": 15, "currency": "SEK", "placed_at": "2026-11-20T10:00:00Z"});
    let (s, o) = key.post("/api/v1/orders", good.clone()).await;
    assert_eq!(s, StatusCode::CREATED, "{o}");
    assert_eq!(o["attributed"], false);
    assert_eq!(o["amount"], "15.00");
    assert_eq!(o["placed_at"], 1_795_168_800_000i64);
    // Bad input: a clear error per field, nothing stored.
    for (field, bad) in [
        (
            "amount",
            json!({"order_id": "B-2", "shopper_id": shopper_id, "amount": "1.234", "currency": "EUR"}),
        ),
        (
            "amount",
            json!({"order_id": "B-2", "shopper_id": shopper_id, "amount": "-5", "currency": "EUR"}),
        ),
        (
            "currency",
            json!({"order_id": "B-2", "shopper_id": shopper_id, "amount": "5", "currency": "euro"}),
        ),
        (
            "status",
            json!({"order_id": "B-2", "shopper_id": shopper_id, "amount": "5", "currency": "EUR", "status": "lost"}),
        ),
        (
            "shopper_id",
            json!({"order_id": "B-2", "shopper_id": "someone", "amount": "5", "currency": "EUR"}),
        ),
        (
            "placed_at",
            json!({"order_id": "B-2", "shopper_id": shopper_id, "amount": "5", "currency": "EUR", "placed_at": "yesterday"}),
        ),
        (
            "order_id",
            json!({"order_id": "", "shopper_id": shopper_id, "amount": "5", "currency": "EUR"}),
        ),
    ] {
        let (s, p) = key.post("/api/v1/orders", bad).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{p}");
        assert!(p["errors"].as_array().unwrap().iter().any(|e| e["field"] == field), "{field}: {p}");
    }
    let (s, _) = key.get("/api/v1/orders/B-2").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // An order id cannot move to another shopper.
    let (_, other_shopper, _) = shopper_ws(&app, &m, None).await;
    let (s, p) = key
        .post(
            "/api/v1/orders",
            json!({"order_id": "B-1", "shopper_id": other_shopper, "amount": 15, "currency": "SEK"}),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{p}");
    let (_, again) = key.get("/api/v1/orders/B-1").await;
    assert_eq!(again["shopper_id"], shopper_id.as_str());
    // Another merchant neither sees nor overwrites it.
    let op = app.operator().await;
    let (_, other_admin) = app.merchant(&op, "Other Shop").await;
    let other_key = api_key(&other_admin).await;
    let (s, _) = other_key.get("/api/v1/orders/B-1").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, o) = other_key.post("/api/v1/orders", good).await;
    assert_eq!(s, StatusCode::CREATED, "{o}");
    let (_, mine) = key.get("/api/v1/orders/B-1").await;
    assert_eq!(mine["amount"], "15.00");
    // Analytics of the other merchant stay empty of this merchant's activity.
    let (_, theirs) = other_admin.get("/api/v1/analytics").await;
    assert_eq!(theirs["totals"]["orders"], 0);
    app.stop().await;
}

async fn dashboard_socket(app: &TestApp, c: &Client, origin: Option<&str>) -> Result<Ws, u16> {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let url = format!("{}/ws/dashboard", app.url.replace("http", "ws"));
    let mut req = url.into_client_request().unwrap();
    let cookies = reqwest::cookie::CookieStore::cookies(&*c.jar, &app.url.parse().unwrap());
    if let Some(cookie) = cookies {
        req.headers_mut().insert("cookie", cookie);
    }
    if let Some(o) = origin {
        req.headers_mut().insert("origin", o.parse().unwrap());
    }
    match tokio_tungstenite::connect_async(req).await {
        Ok((stream, _)) => Ok(Ws { stream }),
        Err(tokio_tungstenite::tungstenite::Error::Http(res)) => Err(res.status().as_u16()),
        Err(e) => panic!("{e}"),
    }
}

async fn next_json(ws: &mut Ws, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
    use futures::StreamExt;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(8);
    loop {
        let msg = tokio::time::timeout_at(deadline, ws.stream.next())
            .await
            .unwrap_or_else(|_| panic!("no {what} within 8 s"))
            .expect("socket open")
            .expect("frame");
        if let tokio_tungstenite::tungstenite::Message::Text(t) = msg {
            let v: Value = serde_json::from_str(&t).unwrap();
            if pred(&v) {
                return v;
            }
        }
    }
}

async fn the_dashboard_socket_pushes_updates(b: Backend) {
    let app = TestApp::spawn_demo(b).await;
    let (m, store, dep) = demo_target(&app).await;
    let admin = app.login("admin@demo.example", DEMO_PASSWORD).await;
    // Refused: no session, another site's page, an account without Analytics.
    assert_eq!(dashboard_socket(&app, &app.client(), None).await.err(), Some(401));
    assert_eq!(dashboard_socket(&app, &admin, Some("https://evil.example")).await.err(), Some(403));
    let op = app.operator().await;
    let (s, b) = op
        .post(
            "/api/v1/access/accounts",
            json!({"merchant_id": m, "role": "merchant", "email": "no-analytics@demo.example", "name": "N", "password": DEMO_PASSWORD, "modules": ["team"]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let no_analytics = app.login("no-analytics@demo.example", DEMO_PASSWORD).await;
    assert_eq!(dashboard_socket(&app, &no_analytics, None).await.err(), Some(403));

    let mut dash = dashboard_socket(&app, &admin, Some(&app.url)).await.expect("dashboard socket");
    let welcome = next_json(&mut dash, "welcome", |v| v["type"] == "welcome").await;
    assert_eq!(welcome["live"]["waiting"], 0, "{welcome}");
    // An expert comes online: available experts go up, without polling.
    let (_expert, _) = expert_ws(&app, "expert1@demo.example").await;
    next_json(&mut dash, "an available expert", |v| {
        v["type"] == "live" && v["experts_available"] == 1
    })
    .await;
    // A shopper asks: the live counts and an `updated` arrive.
    let (mut shopper, _, _) = shopper_ws(&app, &m, None).await;
    start_chat(&mut shopper, &store, &dep, "Anyone there?").await;
    let (mut live, mut updated) = (None, false);
    while live.is_none() || !updated {
        let v = next_json(&mut dash, "live waiting 1 and updated", |v| {
            (v["type"] == "live" && v["waiting"] == 1) || v["type"] == "updated"
        })
        .await;
        if v["type"] == "updated" {
            updated = true;
        } else {
            live = Some(v);
        }
    }
    let live = live.unwrap();
    let s = live["stores"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["store_id"] == store.as_str())
        .unwrap()
        .clone();
    assert_eq!(s["waiting"], 1);
    assert_eq!(s["experts_available"], 1);
    // An `updated` means the figures show what was folded in by then. The first one seen may
    // be the roll-up of the expert's arrival (a second before the chat); the one after the
    // chat's roll-up shows it — within a few roll-ups, without polling in between.
    let mut shown = false;
    for _ in 0..5 {
        let (_, figures) = admin.get("/api/v1/analytics").await;
        if figures["totals"]["requested"] == 1 {
            shown = true;
            break;
        }
        next_json(&mut dash, "the next updated", |v| v["type"] == "updated").await;
    }
    assert!(shown, "an `updated` after the chat's roll-up: the figures show the request");
    app.stop().await;
}

async fn csv_get(c: &Client, path: &str) -> (StatusCode, Option<i64>, Vec<csv::StringRecord>, csv::StringRecord) {
    let res = c.request(reqwest::Method::GET, path).send().await.unwrap();
    let status = res.status();
    let count = res.headers().get("x-row-count").map(|v| v.to_str().unwrap().parse().unwrap());
    let text = res.text().await.unwrap();
    if status != StatusCode::OK {
        return (status, count, vec![], csv::StringRecord::new());
    }
    let mut r = csv::Reader::from_reader(text.as_bytes());
    let header = r.headers().unwrap().clone();
    let rows = r.records().map(|r| r.unwrap()).collect();
    (status, count, rows, header)
}

async fn csv_text(c: &Client, path: &str) -> String {
    let res = c.request(reqwest::Method::GET, path).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK, "{path}");
    res.text().await.unwrap()
}

fn col<'a>(h: &csv::StringRecord, row: &'a csv::StringRecord, name: &str) -> &'a str {
    let i = h
        .iter()
        .position(|c| c == name)
        .unwrap_or_else(|| panic!("no column {name} in {h:?}"));
    &row[i]
}

async fn exports_read_back_equal_the_database_and_the_dashboard(b: Backend) {
    let app = TestApp::spawn_demo(b).await;
    let (m, store, dep) = demo_target(&app).await;
    let admin = app.login("admin@demo.example", DEMO_PASSWORD).await;
    let key = api_key(&admin).await;
    let (conv, shopper_id) = served_chat(&app, &m, &store, &dep).await;
    // A second chat with text a spreadsheet would run, and quotes, commas and a line break.
    let (mut expert, _) = expert_ws(&app, "expert1@demo.example").await;
    let (mut shopper, _, _) = shopper_ws(&app, &m, None).await;
    let evil = "=HYPERLINK(\"http://evil.example\",\"click\")";
    let id2 = start_chat(&mut shopper, &store, &dep, evil).await;
    claim(&mut expert, &id2).await;
    expert
        .send(json!({"type": "send", "conversation_id": id2, "client_msg_id": "x", "body": "-5% today, \"really\",\nsee you"}))
        .await;
    expert.until("ack", |o| matches!(o, Out::Ack { .. })).await;
    let (s, _) = key
        .post(
            "/api/v1/orders",
            json!({"order_id": "C-1", "shopper_id": shopper_id, "amount": "20", "currency": "EUR"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    eventually(&admin, "/api/v1/analytics?grain=hour", "all in the rollups", |v| {
        v["totals"]["orders"] == 1 && v["totals"]["messages_expert"] == 2 && v["totals"]["requested"] == 2
    })
    .await;

    // Transcripts: exactly the stored messages, neutralised where needed, by API key.
    let (s, count, rows, h) = csv_get(&key, "/api/v1/exports/transcripts.csv").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(count, Some(rows.len() as i64));
    use floorwalker::ids::ConversationId;
    let merchant = floorwalker::ids::MerchantId::parse(&m).unwrap();
    let (c1, c2) = (ConversationId::parse(&conv).unwrap(), ConversationId::parse(&id2).unwrap());
    let mut stored = app.db.messages_after(&merchant, &c1, 0, 100).await.unwrap();
    stored.extend(app.db.messages_after(&merchant, &c2, 0, 100).await.unwrap());
    assert_eq!(rows.len(), stored.len());
    for msg in &stored {
        let row = rows
            .iter()
            .find(|r| msg.conversation_id == col(&h, r, "conversation_id") && col(&h, r, "seq") == msg.seq.to_string())
            .unwrap_or_else(|| panic!("message {} #{} missing", msg.conversation_id, msg.seq));
        assert_eq!(col(&h, row, "author_role"), msg.author_role);
        let want = if msg.body.starts_with(['=', '+', '-', '@']) {
            format!("'{}", msg.body)
        } else {
            msg.body.clone()
        };
        assert_eq!(col(&h, row, "text"), want);
    }
    assert!(rows.iter().any(|r| col(&h, r, "text") == format!("'{evil}")));
    assert!(rows.iter().any(|r| col(&h, r, "text") == "'-5% today, \"really\",\nsee you"));

    // Conversations: one row per chat with outcome, rating and attributed revenue.
    let (s, count, rows, h) = csv_get(&admin, "/api/v1/exports/conversations.csv").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!((count, rows.len()), (Some(2), 2));
    let first = rows.iter().find(|r| col(&h, r, "conversation_id") == conv).unwrap();
    assert_eq!(col(&h, first, "status"), "ended");
    assert_eq!(col(&h, first, "rating"), "4");
    assert_eq!(col(&h, first, "store"), "Stockholm Flagship");
    assert!(!col(&h, first, "duration_s").is_empty());
    let second = rows.iter().find(|r| col(&h, r, "conversation_id") == id2).unwrap();
    assert_eq!(col(&h, second, "status"), "claimed");
    // The order came after the second chat was claimed: it belongs to the latest served chat of
    // its shopper, which is the first one (the second shopper is someone else).
    assert_eq!(col(&h, first, "revenue_EUR"), "20.00");
    assert_eq!(col(&h, second, "revenue_EUR"), "0.00");
    // A store filter that matches nothing gives a header and no rows.
    let (_, count, rows, _) = csv_get(
        &admin,
        &format!("/api/v1/exports/conversations.csv?store_id={}", uuid::Uuid::now_v7()),
    )
    .await;
    assert_eq!((count, rows.len()), (Some(0), 0));

    // Metrics: the same numbers as the dashboard for the same filters.
    let (_, dash) = admin.get("/api/v1/analytics?grain=hour").await;
    let (s, count, rows, h) = csv_get(&admin, "/api/v1/exports/metrics.csv?grain=hour").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(count, Some(rows.len() as i64));
    let series = dash["series"].as_array().unwrap();
    assert_eq!(rows.len(), series.len(), "one row per hour, zero-filled");
    for (row, point) in rows.iter().zip(series) {
        let mm = &point["metrics"];
        for name in ["requested", "claimed", "messages", "csat_count", "orders", "ended"] {
            assert_eq!(col(&h, row, name), mm[name].to_string(), "{name}");
        }
        for name in ["claim_rate", "time_to_claim_p50_s", "first_response_p90_s", "csat_avg"] {
            let csv_v: Option<f64> = col(&h, row, name).parse().ok();
            assert_eq!(csv_v, mm[name].as_f64(), "{name}");
        }
        assert_eq!(col(&h, row, "revenue_EUR"), mm["revenue"]["EUR"].as_str().unwrap_or("0.00"));
    }
    let (_, _, rows, h) = csv_get(&admin, "/api/v1/exports/metrics.csv?grain=hour&by=expert").await;
    assert!(!rows.is_empty());
    assert!(rows
        .iter()
        .all(|r| !col(&h, r, "expert_id").is_empty() && !col(&h, r, "expert").is_empty()));
    let claimed: i64 = rows.iter().map(|r| col(&h, r, "claimed").parse::<i64>().unwrap()).sum();
    assert_eq!(claimed, 2);
    // Each file's header is the list docs/analytics.md gives (then the per-currency columns),
    // and every row has exactly one cell per column.
    let doc = |file: &str| documented_columns("docs/analytics.md", &format!("`{file}` columns:"));
    let text = csv_text(&key, "/api/v1/exports/transcripts.csv").await;
    let (_, rows) = csv_as_documented(&text, &doc("transcripts.csv"), &[]);
    assert_eq!(rows.len(), stored.len());
    let text = csv_text(&key, "/api/v1/exports/conversations.csv").await;
    let (h, rows) = csv_as_documented(&text, &doc("conversations.csv"), &["revenue_"]);
    assert_eq!(
        (rows.len(), h.iter().filter(|c| c.starts_with("revenue_")).collect::<Vec<_>>()),
        (2, vec!["revenue_EUR"])
    );
    for by in ["merchant", "store", "department", "expert"] {
        let text = csv_text(&key, &format!("/api/v1/exports/metrics.csv?grain=hour&by={by}")).await;
        let (h, rows) = csv_as_documented(&text, &doc("metrics.csv"), &["revenue_", "cart_revenue_"]);
        assert!(!rows.is_empty(), "{by}");
        let money: Vec<&str> = h.iter().skip(doc("metrics.csv").len()).collect();
        assert_eq!(money, ["revenue_EUR", "cart_revenue_EUR"], "{by}");
    }

    // Bad parameters: a clear error, not a file.
    for bad in [
        "by=planet",
        "grain=minute",
        "from=yesterday",
        "from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z",
    ] {
        let (s, _, _, _) = csv_get(&admin, &format!("/api/v1/exports/metrics.csv?{bad}")).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
    }
    app.stop().await;
}

async fn the_journey_reaches_the_dashboard_and_the_expert(b: Backend) {
    let app = TestApp::spawn_demo(b).await;
    let (m, store, dep) = demo_target(&app).await;
    let admin = app.login("admin@demo.example", DEMO_PASSWORD).await;
    let (mut shopper, shopper_id, _) = shopper_ws(&app, &m, None).await;
    // Only web pages belong in a journey.
    shopper.send(json!({"type": "context", "page_url": "javascript:alert(1)"})).await;
    shopper.until("error", |o| matches!(o, Out::Error { .. })).await;
    shopper
        .send(json!({"type": "context", "page_url": "https://shop.example/", "page_title": "Home"}))
        .await;
    shopper
        .send(
            json!({"type": "context", "page_url": "https://shop.example/tv/55", "page_title": "55\" TV",
                     "product": {"id": "tv-55", "name": "55\" TV", "price": 799.0, "currency": "EUR"}}),
        )
        .await;
    let path = format!("/api/v1/shoppers/{shopper_id}/journey");
    let j = eventually(&admin, &path, "two page views", |v| {
        v["page_views"].as_array().is_some_and(|a| a.len() == 2)
    })
    .await;
    assert_eq!(j["page_views"][0]["url"], "https://shop.example/tv/55", "newest first: {j}");
    assert_eq!(j["page_views"][0]["product"]["id"], "tv-55");
    assert!(!j.to_string().contains("javascript:"));
    assert_eq!(j["shopper"]["id"], shopper_id.as_str());
    // The expert sees where the shopper has been in the offer.
    let (mut expert, _) = expert_ws(&app, "expert1@demo.example").await;
    let id = start_chat(&mut shopper, &store, &dep, "Does it come with a wall mount?").await;
    let Out::Offer { offer } = expert
        .until("offer", |o| matches!(o, Out::Offer { offer } if offer.conversation_id == id))
        .await
    else {
        unreachable!()
    };
    let urls: Vec<&str> = offer.journey.iter().map(|p| p.url.as_str()).collect();
    assert_eq!(urls, ["https://shop.example/tv/55", "https://shop.example/"]);
    expert.send(json!({"type": "claim", "conversation_id": id})).await;
    expert
        .until(
            "claimed",
            |o| matches!(o, Out::Conversation { conversation } if conversation.status == "claimed"),
        )
        .await;
    let key = api_key(&admin).await;
    key.post(
        "/api/v1/orders",
        json!({"order_id": "J-1", "shopper_id": shopper_id, "amount": "799", "currency": "EUR"}),
    )
    .await;
    let j = eventually(&admin, &path, "the chat and the order", |v| {
        v["orders"].as_array().is_some_and(|a| a.len() == 1)
            && v["events"].as_array().is_some_and(|e| e.iter().any(|e| e["kind"] == "claimed"))
    })
    .await;
    assert_eq!(j["conversations"][0]["id"], id.as_str());
    assert_eq!(j["conversations"][0]["status"], "claimed");
    assert_eq!(j["conversations"][0]["store_name"], "Stockholm Flagship");
    assert_eq!(j["orders"][0]["attributed"], true);
    assert_eq!(j["orders"][0]["conversation_id"], id.as_str());
    let kinds: Vec<&str> = j["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert!(kinds.contains(&"requested") && kinds.contains(&"order"), "{kinds:?}");
    // Another merchant cannot read it.
    let op = app.operator().await;
    let (_, other) = app.merchant(&op, "Elsewhere").await;
    let (s, _) = other.get(&path).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    app.stop().await;
}

async fn calls_made_with_api_keys_are_logged_for_their_merchant(b: Backend) {
    let app = TestApp::spawn_demo(b).await;
    let admin = app.login("admin@demo.example", DEMO_PASSWORD).await;
    let key = api_key(&admin).await;
    assert_eq!(key.get("/api/v1/analytics/live").await.0, StatusCode::OK);
    assert_eq!(key.get("/api/v1/orders/NOPE-1?x=1").await.0, StatusCode::NOT_FOUND);
    assert_eq!(key.get("/api/v1/api-keys").await.0, StatusCode::FORBIDDEN);
    // Calls made in a dashboard session are not API calls.
    assert_eq!(admin.get("/api/v1/analytics/live").await.0, StatusCode::OK);
    let all = eventually(&admin, "/api/v1/api-keys/calls", "three logged calls", |v| {
        v["items"].as_array().unwrap().len() == 3
    })
    .await;
    let items = all["items"].as_array().unwrap();
    assert_eq!(items[0]["path"], "/api/v1/api-keys", "newest first: {all}");
    assert_eq!(items[0]["status"], 403);
    assert_eq!(items[1]["path"], "/api/v1/orders/NOPE-1?x=1");
    assert_eq!(items[2]["method"], "GET");
    assert_eq!(items[2]["api_key_name"], "orders");
    let (_, v) = admin.get("/api/v1/api-keys/calls?status=4xx").await;
    assert_eq!(v["items"].as_array().unwrap().len(), 2);
    let (_, v) = admin.get("/api/v1/api-keys/calls?status=404&path=ORDERS").await;
    assert_eq!(v["items"].as_array().unwrap().len(), 1);
    let (_, v) = admin.get("/api/v1/api-keys/calls?path=%25").await;
    assert_eq!(v["items"].as_array().unwrap().len(), 0, "LIKE wildcards are matched literally");
    // Paging is stable and complete.
    let (_, p1) = admin.get("/api/v1/api-keys/calls?limit=2").await;
    assert_eq!(p1["items"].as_array().unwrap().len(), 2);
    let (_, p2) = admin
        .get(&format!(
            "/api/v1/api-keys/calls?limit=2&cursor={}",
            p1["next_cursor"].as_str().unwrap()
        ))
        .await;
    assert_eq!(p2["items"].as_array().unwrap().len(), 1);
    assert!(p2["next_cursor"].is_null());
    assert_eq!(p2["items"][0]["id"], items[2]["id"]);
    for bad in ["status=9xx", "status=abc", "from=yesterday", "cursor=nonsense"] {
        let (s, _) = admin.get(&format!("/api/v1/api-keys/calls?{bad}")).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
    }
    // Another merchant's log is its own.
    let op = app.operator().await;
    let (_, other) = app.merchant(&op, "Quiet Shop").await;
    let (_, v) = other.get("/api/v1/api-keys/calls").await;
    assert_eq!(v["items"].as_array().unwrap().len(), 0);
    app.stop().await;
}
