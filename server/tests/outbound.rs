//! E-mail, SMS and webhooks through the outbox, against real servers on loopback: an SMTP
//! server that records messages (and refuses, stalls or is down), an HTTP receiver that checks
//! Standard Webhooks signatures, and real `floorwalker` processes killed with SIGKILL.

mod common;

use std::time::Duration;

use common::node::{demo_admin_at, until, Node};
use common::sinks::{free_port, HookReceiver, SmtpMode, SmtpSink};
use common::{Backend, Client, TestApp, DEMO_PASSWORD};
use reqwest::StatusCode;
use serde_json::{json, Value};

/// Nodes started as processes run the outbound worker's clock fast (as `fast` does in-process).
const SPEEDUP: (&str, &str) = ("FLOORWALKER_OUTBOUND_SPEEDUP", "1000");

on_both_backends!(
    mail_goes_out_once_and_reads_the_same_in_the_outbox,
    mail_waits_out_an_smtp_outage_then_arrives_once,
    a_refused_address_is_marked_and_not_written_to_again,
    without_smtp_mail_waits_in_the_outbox,
    webhooks_are_signed_retried_and_redelivered_with_the_same_id,
    a_gone_endpoint_is_disabled_and_private_targets_are_refused,
    events_of_one_conversation_arrive_in_order,
    unsubscribe_and_the_hourly_limit_stop_mail,
    a_lease_is_a_fencing_token,
    the_claim_takes_the_earliest_due_rows_first,
    push_rows_are_delivered_while_slow_webhooks_hold_their_slots,
);

fn fast(smtp: Option<String>) -> impl FnOnce(&mut floorwalker::config::ServeArgs) {
    move |a| {
        a.outbound.smtp_url = smtp.map(|s| s.parse().unwrap());
        a.outbound.allow_private_webhooks = true;
        a.outbound.outbound_speedup = 1000;
    }
}

async fn outbox(c: &Client, query: &str) -> Vec<Value> {
    let (s, v) = c.get(&format!("/api/v1/outbox{query}")).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v["items"].as_array().unwrap().clone()
}

async fn invite(c: &Client, emails: &[&str], lang: &str) -> Vec<Value> {
    let (s, v) = c
        .post("/api/v1/team/invitations", json!({"emails": emails, "language": lang}))
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    v.as_array().unwrap().clone()
}

async fn mail_goes_out_once_and_reads_the_same_in_the_outbox(b: Backend) {
    let sink = SmtpSink::start().await;
    let app = TestApp::spawn_with(b, fast(Some(sink.url()))).await;
    let op = app.operator().await;
    let (_, admin) = app.merchant(&op, "Nordic Home").await;
    let (_, other) = app.merchant(&op, "Other Shop").await;
    let mut display = admin.get("/api/v1/settings/display").await.1;
    display["primary_color"] = json!("#aa3300");
    assert_eq!(
        admin.call(reqwest::Method::PUT, "/api/v1/settings/display", Some(display)).await.0,
        StatusCode::OK
    );
    let mut messaging = admin.get("/api/v1/settings/messaging").await.1;
    messaging["sender_name"] = json!("Nordic Home Team");
    messaging["reply_to"] = json!("help@nordic.example");
    let (s, v) = admin
        .call(reqwest::Method::PUT, "/api/v1/settings/messaging", Some(messaging))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");

    let r = invite(&admin, &["Kim@Example.com", "sara@example.com"], "fa").await;
    assert_eq!(r[0]["email"], "kim@example.com");
    assert!(r.iter().all(|x| x["status"] == "queued"), "{r:?}");
    let mails = sink.wait_for(2, 20).await;
    let kim = mails.iter().find(|m| m.to == ["kim@example.com"]).expect("kim's mail");
    assert!(kim.header("From").unwrap().contains("Nordic Home Team"), "{:?}", kim.header("From"));
    assert!(kim.header("Reply-To").unwrap().contains("help@nordic.example"));
    assert!(
        kim.header("List-Unsubscribe").unwrap().contains("/u/"),
        "invitations are not transactional"
    );
    assert!(kim.data.contains("multipart/alternative"));
    // The server's 250 arrives before the worker records it: wait for both to be recorded.
    let rows = until("both recorded as sent", 10, async || {
        let rows = outbox(&admin, "?kind=email").await;
        rows.iter().all(|r| r["status"] == "sent").then_some(rows)
    })
    .await;
    assert_eq!(rows.len(), 2);
    let row = rows.iter().find(|r| r["recipient"] == "kim@example.com").unwrap();
    assert_eq!(row["attempts"], 1);
    assert_eq!(
        kim.header("Message-ID").unwrap(),
        format!("<{}>", row["message_id"].as_str().unwrap())
    );
    let (s, detail) = admin.get(&format!("/api/v1/outbox/{}", row["id"].as_str().unwrap())).await;
    assert_eq!(s, StatusCode::OK);
    let html = detail["body_html"].as_str().unwrap();
    assert!(
        html.contains("dir=\"rtl\"") && html.contains("#aa3300"),
        "Persian, in the merchant's colour"
    );
    assert_eq!(detail["attempt_log"].as_array().unwrap().len(), 1);
    assert_eq!(detail["attempt_log"][0]["status_code"], 250);

    // The same invitation again is the same message: nothing new goes out.
    let again = invite(&admin, &["kim@example.com"], "fa").await;
    assert_eq!(again[0]["status"], "duplicate");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(sink.mails().len(), 2);

    // The operator reads every merchant's mail; another merchant reads none of it.
    let (s, all) = op.get("/api/v1/access/outbox").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(all["items"].as_array().unwrap().len(), 2);
    assert_eq!(
        op.get(&format!("/api/v1/access/outbox/{}", row["id"].as_str().unwrap())).await.0,
        StatusCode::OK
    );
    assert!(outbox(&other, "").await.is_empty());
    assert_eq!(
        other.get(&format!("/api/v1/outbox/{}", row["id"].as_str().unwrap())).await.0,
        StatusCode::NOT_FOUND
    );
    // Bad input is refused and changes nothing.
    let (s, v) = admin.post("/api/v1/team/invitations", json!({"emails": ["not-an-address"]})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["errors"][0]["field"], "emails[0]");
    assert_eq!(admin.get("/api/v1/outbox?status=lost").await.0, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(outbox(&admin, "").await.len(), 2);
    app.stop().await;
}

async fn mail_waits_out_an_smtp_outage_then_arrives_once(b: Backend) {
    let port = free_port();
    let app = TestApp::spawn_with(b, fast(Some(format!("smtp://127.0.0.1:{port}")))).await;
    let op = app.operator().await;
    let (_, admin) = app.merchant(&op, "Outage").await;
    invite(&admin, &["kim@example.com"], "en").await;
    // The server is down: attempts fail and the message waits for the next one.
    let row = until("three failed attempts", 20, async || {
        let r = outbox(&admin, "").await.pop()?;
        (r["attempts"].as_i64()? >= 3 && r["status"] == "queued").then_some(r)
    })
    .await;
    assert_eq!(row["status"], "queued", "{row}");
    assert!(row["last_error"].as_str().unwrap().len() > 3);
    // It comes back: the message arrives, once.
    let sink = SmtpSink::start_on(port).await;
    sink.wait_for(1, 20).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(sink.mails().len(), 1);
    let id = row["id"].as_str().unwrap();
    let detail = until("sent", 10, async || {
        let d = admin.get(&format!("/api/v1/outbox/{id}")).await.1;
        (d["status"] == "sent").then_some(d)
    })
    .await;
    let attempts = detail["attempt_log"].as_array().unwrap();
    assert!(attempts.len() >= 4);
    assert!(attempts[..attempts.len() - 1].iter().all(|a| a["error"].is_string()));
    assert_eq!(attempts.last().unwrap()["status_code"], 250);
    app.stop().await;
}

async fn a_refused_address_is_marked_and_not_written_to_again(b: Backend) {
    let sink = SmtpSink::start().await;
    sink.refuse("gone@example.com");
    let app = TestApp::spawn_with(b, fast(Some(sink.url()))).await;
    let op = app.operator().await;
    let (_, admin) = app.merchant(&op, "Bounce").await;
    invite(&admin, &["gone@example.com"], "en").await;
    let row = until("a failed message", 20, async || {
        let r = outbox(&admin, "").await.pop()?;
        (r["status"] == "failed").then_some(r)
    })
    .await;
    assert!(row["last_error"].as_str().unwrap().contains("550"), "{row}");
    let (_, sup) = admin.get("/api/v1/outbox/suppressions").await;
    assert_eq!(sup["items"][0]["address"], "gone@example.com");
    assert_eq!(sup["items"][0]["reason"], "bounce");
    // Nothing more is written to it: a new message is refused at once.
    admin.post("/api/v1/team/invite-code", json!({})).await;
    let r = invite(&admin, &["gone@example.com"], "en").await;
    assert_eq!(r[0]["status"], "refused", "{r:?}");
    let id = row["id"].as_str().unwrap();
    assert_eq!(
        admin.post(&format!("/api/v1/outbox/{id}/retry"), json!({})).await.0,
        StatusCode::CONFLICT
    );
    // The merchant lifts it; a retry is allowed again.
    let del = admin
        .call(reqwest::Method::DELETE, "/api/v1/outbox/suppressions/email/gone@example.com", None)
        .await;
    assert_eq!(del.0, StatusCode::NO_CONTENT);
    let (s, d) = admin.post(&format!("/api/v1/outbox/{id}/retry"), json!({})).await;
    assert_eq!(s, StatusCode::OK, "{d}");
    assert!(sink.mails().is_empty());
    app.stop().await;
}

async fn without_smtp_mail_waits_in_the_outbox(b: Backend) {
    let app = TestApp::spawn_with(b, fast(None)).await;
    let op = app.operator().await;
    let (_, admin) = app.merchant(&op, "No Mail Server").await;
    invite(&admin, &["kim@example.com"], "sv").await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let rows = outbox(&admin, "").await;
    assert_eq!(rows[0]["status"], "queued");
    assert_eq!(rows[0]["attempts"], 0, "nobody tries without an SMTP server");
    assert!(rows[0]["subject"].as_str().unwrap().contains("bjuder in"), "{}", rows[0]["subject"]);
    assert!(rows[0]["body_text"].as_str().unwrap().contains("Inbjudningskod"));
    app.stop().await;
}

async fn new_endpoint(admin: &Client, url: &str, events: Option<Vec<&str>>) -> (String, String) {
    let mut body = json!({"url": url, "description": "test receiver"});
    if let Some(e) = events {
        body["events"] = json!(e);
    }
    let (s, v) = admin.post("/api/v1/webhooks", body).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    (
        v["endpoint"]["id"].as_str().unwrap().to_owned(),
        v["secret"].as_str().unwrap().to_owned(),
    )
}

async fn webhooks_are_signed_retried_and_redelivered_with_the_same_id(b: Backend) {
    let rx = HookReceiver::start().await;
    let app = TestApp::spawn_with(b, fast(None)).await;
    let op = app.operator().await;
    let (_, admin) = app.merchant(&op, "Hooks").await;
    let (ep, secret) = new_endpoint(&admin, &rx.url, None).await;
    assert!(secret.starts_with("whsec_"));
    let (_, shown) = admin.get(&format!("/api/v1/webhooks/{ep}")).await;
    assert!(
        shown.get("secret").is_none() && !shown.to_string().contains(&secret),
        "the secret is shown once"
    );
    rx.trust(&secret);
    rx.answer(&[500, 500]);
    let (s, d) = admin.post(&format!("/api/v1/webhooks/{ep}/test"), json!({})).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{d}");
    let got = rx.wait_ok(1, 20).await;
    assert_eq!(got.len(), 3, "two failures then success: {got:?}");
    assert!(got.iter().all(|h| h.verified && h.id == got[0].id), "{got:?}");
    assert!(got[0].id.starts_with("msg_"));
    let body: Value = serde_json::from_str(&got[2].body).unwrap();
    assert_eq!(body["type"], "webhook.test");
    let row = until("the delivery recorded as sent", 10, async || {
        let r = admin.get(&format!("/api/v1/webhooks/{ep}/deliveries")).await.1["items"][0].clone();
        (r["status"] == "sent").then_some(r)
    })
    .await;
    let (_, detail) = admin.get(&format!("/api/v1/outbox/{}", row["id"].as_str().unwrap())).await;
    let codes: Vec<i64> = detail["attempt_log"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["status_code"].as_i64().unwrap())
        .collect();
    assert_eq!(codes, [500, 500, 200]);
    assert!(detail["attempt_log"][0]["latency_ms"].is_i64());
    // Redeliver: the same webhook-id again.
    let (s, re) = admin
        .post(
            &format!("/api/v1/webhooks/{ep}/deliveries/{}/redeliver", row["id"].as_str().unwrap()),
            json!({}),
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{re}");
    let got = rx.wait_ok(2, 20).await;
    assert_eq!(got.last().unwrap().id, got[0].id);
    // Rotation: the new secret signs at once, the old one still does for a day.
    let (s, rot) = admin.post(&format!("/api/v1/webhooks/{ep}/secret"), json!({})).await;
    assert_eq!(s, StatusCode::OK);
    let new_secret = rot["secret"].as_str().unwrap();
    assert_ne!(new_secret, secret);
    admin.post(&format!("/api/v1/webhooks/{ep}/test"), json!({})).await;
    let got = rx.wait_ok(3, 20).await;
    let last = got.last().unwrap();
    assert_eq!(last.signature.split(' ').count(), 2);
    assert!(common::sinks::verify(
        new_secret,
        &last.id,
        &last.timestamp.to_string(),
        &last.body,
        &last.signature
    ));
    // Another merchant cannot see or touch the endpoint.
    let (_, other) = app.merchant(&op, "Other Hooks").await;
    assert_eq!(other.get(&format!("/api/v1/webhooks/{ep}")).await.0, StatusCode::NOT_FOUND);
    assert_eq!(
        other.post(&format!("/api/v1/webhooks/{ep}/test"), json!({})).await.0,
        StatusCode::NOT_FOUND
    );
    app.stop().await;
}

async fn a_gone_endpoint_is_disabled_and_private_targets_are_refused(b: Backend) {
    let rx = HookReceiver::start().await;
    let app = TestApp::spawn_with(b, fast(None)).await;
    let op = app.operator().await;
    let (_, admin) = app.merchant(&op, "Gone").await;
    let (ep, secret) = new_endpoint(&admin, &rx.url, None).await;
    rx.trust(&secret);
    rx.answer(&[410]);
    admin.post(&format!("/api/v1/webhooks/{ep}/test"), json!({})).await;
    let shown = until("the endpoint disabled", 20, async || {
        let e = admin.get(&format!("/api/v1/webhooks/{ep}")).await.1;
        (e["enabled"] == false).then_some(e)
    })
    .await;
    assert!(shown["disabled_reason"].as_str().unwrap().contains("410"));
    assert_eq!(
        admin.post(&format!("/api/v1/webhooks/{ep}/test"), json!({})).await.0,
        StatusCode::CONFLICT
    );
    let (s, e) = admin
        .call(
            reqwest::Method::PATCH,
            &format!("/api/v1/webhooks/{ep}"),
            Some(json!({"enabled": true})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert!(e["disabled_reason"].is_null() && e["failing_since"].is_null());
    app.stop().await;

    // Without the operator's permission, only public https:// targets.
    let app = TestApp::spawn(b).await;
    let op = app.operator().await;
    let (_, admin) = app.merchant(&op, "Strict").await;
    for url in [
        "http://hooks.invalid/x",
        "https://127.0.0.1/x",
        "https://10.0.0.5/x",
        "https://169.254.169.254/latest",
        "https://[::1]/x",
        "https://localhost/x",
    ] {
        let (s, v) = admin.post("/api/v1/webhooks", json!({"url": url})).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{url}: {v}");
        assert_eq!(v["errors"][0]["field"], "url");
    }
    let (s, v) = admin
        .post(
            "/api/v1/webhooks",
            json!({"url": "https://hooks.invalid/x", "events": ["conversation.nope"]}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let (s, v) = admin.post("/api/v1/webhooks", json!({"url": "https://hooks.invalid/x"})).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert!(
        !v["endpoint"]["events"].as_array().unwrap().contains(&json!("message.created")),
        "message.created is opt-in"
    );
    app.stop().await;
}

async fn events_of_one_conversation_arrive_in_order(b: Backend) {
    use floorwalker::outbound::events::{self, EventType, ShopperData};
    let rx = HookReceiver::start().await;
    let app = TestApp::spawn_with(b, fast(None)).await;
    let op = app.operator().await;
    let (mid, admin) = app.merchant(&op, "Ordered").await;
    let (_, secret) = new_endpoint(&admin, &rx.url, Some(vec!["shopper.identified"])).await;
    rx.trust(&secret);
    // The first event fails twice: the second waits for it, though it is due sooner.
    rx.answer(&[503, 503]);
    let m = floorwalker::ids::MerchantId::parse(&mid).unwrap();
    for n in 0..3 {
        let data = ShopperData {
            shopper_id: format!("shp_{n}"),
            name: Some(format!("event {n}")),
            email: None,
        };
        let e = events::event(
            &m,
            EventType::ShopperIdentified,
            Some(&floorwalker::ids::ConversationId::from_db("conv-1".into())),
            &data,
            1000,
        );
        let done = app.db.enqueue(&[e]).await.unwrap();
        assert_eq!(done.len(), 1);
    }
    let got = rx.wait_ok(3, 20).await;
    let names: Vec<String> = got
        .iter()
        .map(|h| {
            serde_json::from_str::<Value>(&h.body).unwrap()["data"]["name"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(names, ["event 0", "event 0", "event 0", "event 1", "event 2"]);
    app.stop().await;
}

async fn unsubscribe_and_the_hourly_limit_stop_mail(b: Backend) {
    let sink = SmtpSink::start().await;
    let app = TestApp::spawn_with(b, fast(Some(sink.url()))).await;
    let op = app.operator().await;
    let (_, admin) = app.merchant(&op, "Limits").await;
    invite(&admin, &["kim@example.com"], "en").await;
    let mail = sink.wait_for(1, 20).await.remove(0);
    let link = mail.header("List-Unsubscribe").unwrap();
    let link = link.trim_matches(['<', '>']).to_owned();
    let path = &link[link.find("/u/").unwrap()..];
    let page = reqwest::get(format!("{}{path}", app.url)).await.unwrap();
    assert_eq!(page.status(), StatusCode::OK, "a GET only shows the button");
    assert!(admin.get("/api/v1/outbox/suppressions").await.1["items"]
        .as_array()
        .unwrap()
        .is_empty());
    let done = reqwest::Client::new()
        .post(format!("{}{path}", app.url))
        .form(&[("List-Unsubscribe", "One-Click")])
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), StatusCode::OK);
    admin.post("/api/v1/team/invite-code", json!({})).await;
    let r = invite(&admin, &["kim@example.com"], "en").await;
    assert_eq!(r[0]["status"], "refused");
    assert!(r[0]["reason"].as_str().unwrap().contains("unsubscribed"));
    // At most ten messages an hour to one address: the eleventh is refused.
    for _ in 0..9 {
        admin.post("/api/v1/team/invite-code", json!({})).await;
        let r = invite(&admin, &["sara@example.com"], "en").await;
        assert_eq!(r[0]["status"], "queued", "{r:?}");
    }
    admin.post("/api/v1/team/invite-code", json!({})).await;
    invite(&admin, &["sara@example.com"], "en").await;
    admin.post("/api/v1/team/invite-code", json!({})).await;
    let r = invite(&admin, &["sara@example.com"], "en").await;
    assert_eq!(r[0]["status"], "refused", "{r:?}");
    assert!(r[0]["reason"].as_str().unwrap().contains("rate limited"));
    app.stop().await;
}

async fn a_lease_is_a_fencing_token(b: Backend) {
    use floorwalker::storage::{AttemptRow, Finish, Lease};
    // The worker is idle (no SMTP), so this test drives the claim itself.
    let app = TestApp::spawn_with(b, fast(None)).await;
    let op = app.operator().await;
    let (_, admin) = app.merchant(&op, "Lease").await;
    invite(&admin, &["kim@example.com"], "en").await;
    let db = &app.db;
    let now = floorwalker::now_ms();
    let a = db.claim_outbox("node-a", now, now + 300, 10, true).await.unwrap();
    assert_eq!(a.len(), 1);
    assert!(
        db.claim_outbox("node-b", now + 1, now + 300, 10, true).await.unwrap().is_empty(),
        "held by A"
    );
    let b_rows = db.claim_outbox("node-b", now + 400, now + 10_000, 10, true).await.unwrap();
    assert_eq!(b_rows.len(), 1, "A's lease ran out: B takes it");
    let rec = AttemptRow {
        attempt: 0,
        at: now,
        ok_flag: 1,
        status_code: Some(250),
        latency_ms: 1,
        response: None,
        error: None,
    };
    let lease_a = Lease {
        id: a[0].id.clone(),
        owner: "node-a".into(),
        attempt: a[0].attempts,
    };
    assert!(!db.mark_handoff(&lease_a).await.unwrap(), "A may not hand it over any more");
    assert!(!db
        .finish_attempt(&lease_a, &rec, &Finish::Sent { unconfirmed: false })
        .await
        .unwrap());
    let lease_b = Lease {
        id: b_rows[0].id.clone(),
        owner: "node-b".into(),
        attempt: b_rows[0].attempts,
    };
    assert!(db
        .finish_attempt(&lease_b, &rec, &Finish::Sent { unconfirmed: false })
        .await
        .unwrap());
    assert_eq!(outbox(&admin, "").await[0]["status"], "sent");
    app.stop().await;
}

/// An outbox row of the given channel, due `delay_ms` after now.
fn raw_row(
    m: &floorwalker::ids::MerchantId,
    channel: floorwalker::storage::Channel,
    key: &str,
    delay_ms: i64,
) -> floorwalker::storage::Outgoing {
    floorwalker::storage::Outgoing::Message(floorwalker::storage::NewOutbound {
        merchant_id: m.clone(),
        channel,
        template: "close".into(),
        idempotency_key: key.into(),
        recipient: format!("{key}@example.com"),
        endpoint_id: None,
        conversation_id: None,
        message_id: uuid::Uuid::now_v7().to_string(),
        subject: None,
        body_text: None,
        body_html: None,
        payload_json: "{}".into(),
        transactional: true,
        order_key: None,
        give_up_after_ms: 600_000,
        hourly_limit: 0,
        delay_ms,
    })
}

async fn the_claim_takes_the_earliest_due_rows_first(b: Backend) {
    use floorwalker::storage::Channel;
    // E-mail with no SMTP configured: the node's own worker leaves these rows alone.
    let app = TestApp::spawn_with(b, fast(None)).await;
    let op = app.operator().await;
    let (mid, _admin) = app.merchant(&op, "Claims").await;
    let m = floorwalker::ids::MerchantId::parse(&mid).unwrap();
    let db = &app.db;
    // Enqueued out of due order; the claim must go by due time, not by insertion.
    for (key, delay) in [
        ("d40", 40_000),
        ("d10", 10_000),
        ("d30", 30_000),
        ("d0", 0),
        ("d20", 20_000),
        ("late", 500_000),
    ] {
        db.enqueue(&[raw_row(&m, Channel::Email, key, delay)]).await.unwrap();
    }
    let key_of = |r: &floorwalker::storage::OutboxRow| r.idempotency_key.clone();
    let now = floorwalker::now_ms() + 45_000;
    let mut first: Vec<String> = db
        .claim_outbox("node-a", now, now + 1_000, 3, true)
        .await
        .unwrap()
        .iter()
        .map(key_of)
        .collect();
    first.sort();
    assert_eq!(
        first,
        ["d0", "d10", "d20"],
        "the three earliest due, whatever their insertion order"
    );
    let mut rest: Vec<String> = db
        .claim_outbox("node-a", now, now + 1_000, 10, true)
        .await
        .unwrap()
        .iter()
        .map(key_of)
        .collect();
    rest.sort();
    assert_eq!(rest, ["d30", "d40"], "the row not due yet stays queued");
    // Node A stopped: once its leases lapse every one of its rows is taken again (the
    // attempt count is the new fencing token), still not the row that is not due.
    let later = now + 2_000;
    let again = db.claim_outbox("node-b", later, later + 1_000, 10, true).await.unwrap();
    assert_eq!(again.len(), 5, "{:?}", again.iter().map(key_of).collect::<Vec<_>>());
    assert!(again.iter().all(|r| r.attempts == 2 && r.status == "sending"));
    app.stop().await;
}

/// A webhook receiver that holds every request until it is released; counts arrivals.
async fn stalling_receiver() -> (
    String,
    std::sync::Arc<std::sync::atomic::AtomicUsize>,
    tokio::sync::watch::Sender<bool>,
) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    let arrived = Arc::new(AtomicUsize::new(0));
    let (release, watch) = tokio::sync::watch::channel(false);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let a = arrived.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move || {
            let (a, mut watch) = (a.clone(), watch.clone());
            async move {
                a.fetch_add(1, Ordering::SeqCst);
                let _ = watch.wait_for(|go| *go).await;
                axum::http::StatusCode::OK
            }
        }),
    );
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (url, arrived, release)
}

async fn push_rows_are_delivered_while_slow_webhooks_hold_their_slots(b: Backend) {
    use floorwalker::storage::{Channel, Outgoing};
    use std::sync::atomic::Ordering;
    let (url, arrived, release) = stalling_receiver().await;
    let app = TestApp::spawn_with(b, fast(None)).await;
    let op = app.operator().await;
    let (mid, admin) = app.merchant(&op, "Slow Hooks").await;
    let m = floorwalker::ids::MerchantId::parse(&mid).unwrap();
    let (endpoint, _) = new_endpoint(&admin, &url, None).await;
    // Twelve webhooks to an endpoint that answers nothing yet: eight take their slots and hang.
    let hooks: Vec<Outgoing> = (0..12)
        .map(|i| match raw_row(&m, Channel::Webhook, &format!("hook{i}"), 0) {
            Outgoing::Message(mut w) => {
                w.recipient = url.clone();
                w.endpoint_id = Some(endpoint.clone());
                Outgoing::Message(w)
            }
            e => e,
        })
        .collect();
    app.db.enqueue(&hooks).await.unwrap();
    until("eight webhooks in flight", 20, async || {
        (arrived.load(Ordering::SeqCst) >= 8).then_some(())
    })
    .await;
    // A push row (to a device that is gone: its attempt ends at once, failed) still gets a slot.
    app.db
        .enqueue(&[match raw_row(&m, Channel::Push, "push-gone", 0) {
            Outgoing::Message(mut p) => {
                p.endpoint_id = Some("no-such-subscription".into());
                Outgoing::Message(p)
            }
            e => e,
        }])
        .await
        .unwrap();
    // Within 10 s: the hanging webhooks time out after 15 s (the HTTP client's limit), and then
    // their slots would free up anyway.
    let row = until("the push row attempted while the webhooks hang", 10, async || {
        outbox(&admin, "?kind=push").await.into_iter().find(|r| r["status"] == "failed")
    })
    .await;
    assert!(row["last_error"].as_str().unwrap().contains("subscription was removed"), "{row}");
    assert_eq!(
        arrived.load(Ordering::SeqCst),
        8,
        "e-mail, SMS and webhooks keep at most eight slots"
    );
    let _ = release.send(true);
    until("every webhook delivered", 30, async || {
        let rows = outbox(&admin, "?kind=webhook&status=sent").await;
        (rows.len() >= 12).then_some(())
    })
    .await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sqlite_writer_thread_enqueues_inside_its_own_transaction() {
    use floorwalker::outbound::events::{self, EventType, ShopperData};
    use floorwalker::storage::{enqueue_on_writer, Enqueued, StorageError};
    let rx = HookReceiver::start().await;
    let app = TestApp::spawn_with(Backend::Sqlite, fast(None)).await;
    let op = app.operator().await;
    let (mid, admin) = app.merchant(&op, "Writer").await;
    let (_, secret) = new_endpoint(&admin, &rx.url, Some(vec!["shopper.identified"])).await;
    rx.trust(&secret);
    let m = floorwalker::ids::MerchantId::parse(&mid).unwrap();
    let event = |n: u32| {
        let data = ShopperData {
            shopper_id: format!("shp_{n}"),
            name: Some(format!("writer {n}")),
            email: None,
        };
        events::event(
            &m,
            EventType::ShopperIdentified,
            Some(&floorwalker::ids::ConversationId::from_db("conv-w".into())),
            &data,
            1000,
        )
    };
    let fast_writer = app.db.fast.clone().expect("a file database has the writer thread");
    // A job that fails after enqueueing leaves nothing behind: the rows share its fate.
    let (first, second) = (event(1), event(2));
    let failed: Result<(), StorageError> = fast_writer
        .transaction(move |c| {
            enqueue_on_writer(c, &[first])?;
            Err(StorageError::Invalid("the change itself failed".into()))
        })
        .await;
    assert!(failed.is_err());
    assert!(outbox(&admin, "").await.is_empty(), "rolled back with the job");
    // A job that commits: its rows are delivered, in order, and a replay of the same item is a duplicate.
    let third = event(3);
    let replay = third.clone();
    let done = fast_writer
        .transaction(move |c| enqueue_on_writer(c, &[second, third]))
        .await
        .unwrap();
    assert!(done.iter().all(|d| matches!(d, Enqueued::Queued(_))), "{done:?}");
    let again = fast_writer.transaction(move |c| enqueue_on_writer(c, &[replay])).await.unwrap();
    assert_eq!(again, [Enqueued::Duplicate]);
    let got = rx.wait_ok(2, 20).await;
    let names: Vec<String> = got
        .iter()
        .map(|h| {
            serde_json::from_str::<Value>(&h.body).unwrap()["data"]["name"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(names, ["writer 2", "writer 3"]);
    app.stop().await;
}

// ---------- several nodes, and nodes killed mid-delivery ----------

on_both_backends!(a_node_killed_mid_delivery_sends_mail_once_and_webhooks_at_least_once);

async fn a_node_killed_mid_delivery_sends_mail_once_and_webhooks_at_least_once(b: Backend) {
    let db = common::TestDb::new(b).await;
    let sink = SmtpSink::start().await;
    let rx = HookReceiver::start().await;
    let mut a = Node::start(&db.url, true, &[("FLOORWALKER_SMTP_URL", sink.url().as_str()), SPEEDUP]).await;
    let admin = demo_admin_at(&a.url).await;
    let (ep, secret) = new_endpoint(&admin, &rx.url, None).await;
    rx.trust(&secret);
    // The mail server takes the message as far as DATA and then says nothing; the receiver
    // takes the request and does not answer. Meanwhile the node dies.
    sink.set_mode(SmtpMode::StallBeforeData);
    rx.hold(true);
    invite(&admin, &["kim@example.com"], "en").await;
    admin.post(&format!("/api/v1/webhooks/{ep}/test"), json!({})).await;
    until("the SMTP session stalled and the request held", 20, async || {
        (sink.stalled() >= 1 && rx.held() >= 1).then_some(())
    })
    .await;
    a.kill();
    sink.set_mode(SmtpMode::Accept);
    rx.hold(false);

    // A new node on the same database takes over once the dead node's leases run out.
    // (The demo's own invitations were stalled and are delivered too; they are not Kim's.)
    let b_node = Node::start(&db.url, false, &[("FLOORWALKER_SMTP_URL", sink.url().as_str()), SPEEDUP]).await;
    let kims = || sink.mails().into_iter().filter(|m| m.to == ["kim@example.com"]).count();
    until("Kim's invitation", 30, async || (kims() >= 1).then_some(())).await;
    let got = rx.wait_ok(1, 30).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(kims(), 1, "the e-mail arrived exactly once");
    let ids: Vec<&str> = got.iter().map(|h| h.id.as_str()).collect();
    assert!(
        ids.iter().all(|i| *i == ids[0]),
        "every delivery of the event carries the same webhook-id: {ids:?}"
    );
    let admin = demo_admin_at(&b_node.url).await;
    let rows = outbox(&admin, "?kind=email&recipient=kim@example.com").await;
    assert_eq!(rows[0]["status"], "sent");
    assert_eq!(rows[0]["attempts"], 2, "the dead node's attempt and the new node's");
    drop(b_node);
    db.drop_db().await;
}

on_both_backends!(a_node_killed_after_the_hand_off_does_not_send_twice);

async fn a_node_killed_after_the_hand_off_does_not_send_twice(b: Backend) {
    let db = common::TestDb::new(b).await;
    let sink = SmtpSink::start().await;
    let mut a = Node::start(&db.url, true, &[("FLOORWALKER_SMTP_URL", sink.url().as_str()), SPEEDUP]).await;
    let admin = demo_admin_at(&a.url).await;
    // Let the demo's own invitations go first.
    until("the demo's mail", 20, async || (sink.mails().len() >= 2).then_some(())).await;
    // The server keeps the message and the node dies before it hears so.
    sink.set_mode(SmtpMode::StallAfterDot);
    invite(&admin, &["kim@example.com"], "en").await;
    until("the message kept, unanswered", 20, async || (sink.stalled() >= 1).then_some(())).await;
    a.kill();
    sink.set_mode(SmtpMode::Accept);
    let b_node = Node::start(&db.url, false, &[("FLOORWALKER_SMTP_URL", sink.url().as_str()), SPEEDUP]).await;
    let admin = demo_admin_at(&b_node.url).await;
    let row = until("the new node to settle the message", 30, async || {
        let r = outbox(&admin, "?recipient=kim@example.com").await.pop()?;
        (r["status"] == "sent").then_some(r)
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        sink.mails().iter().filter(|m| m.to == ["kim@example.com"]).count(),
        1,
        "not sent twice"
    );
    let (_, d) = admin.get(&format!("/api/v1/outbox/{}", row["id"].as_str().unwrap())).await;
    assert_eq!(d["unconfirmed"], true, "{d}");
    assert_eq!(
        d["attempt_log"].as_array().unwrap().len(),
        1,
        "one recorded attempt: the new node's settlement"
    );
    drop(b_node);
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_nodes_deliver_each_message_once() {
    let sink = SmtpSink::start().await;
    let rx = HookReceiver::start().await;
    let a = TestApp::spawn_with(Backend::Postgres, fast(Some(sink.url()))).await;
    let b = TestApp::spawn_node(&a.test_db.url, fast(Some(sink.url()))).await;
    let op = a.operator().await;
    let (_, admin) = a.merchant(&op, "Two Nodes").await;
    let (ep, secret) = new_endpoint(&admin, &rx.url, None).await;
    rx.trust(&secret);
    let addresses: Vec<String> = (0..8).map(|i| format!("p{i}@example.com")).collect();
    let refs: Vec<&str> = addresses.iter().map(String::as_str).collect();
    invite(&admin, &refs, "en").await;
    for _ in 0..6 {
        admin.post(&format!("/api/v1/webhooks/{ep}/test"), json!({})).await;
    }
    sink.wait_for(8, 30).await;
    rx.wait_ok(6, 30).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut to: Vec<String> = sink.mails().iter().map(|m| m.to[0].clone()).collect();
    to.sort();
    assert_eq!(to, addresses, "each e-mail once");
    let mut ids: Vec<String> = rx.got().iter().map(|h| h.id.clone()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 6);
    assert_eq!(rx.got().len(), 6, "each event once");
    b.stop().await;
    a.stop().await;
}

on_both_backends!(shoppers_and_experts_get_transcripts_and_links_reopen_the_chat);

async fn shoppers_and_experts_get_transcripts_and_links_reopen_the_chat(b: Backend) {
    let sink = SmtpSink::start().await;
    let app = TestApp::spawn_with(b, |a| {
        a.demo = true;
        a.demo_password = Some(floorwalker::config::Secret::new(DEMO_PASSWORD));
        fast(Some(sink.url()))(a);
    })
    .await;
    let (m, store, dep) = common::demo_target(&app).await;
    let (mut expert, _) = common::expert_ws(&app, "expert1@demo.example").await;
    let (mut shop, _, token) = common::shopper_ws(&app, &m, None).await;
    let id = common::start_chat(&mut shop, &store, &dep, "Is the <b>X90</b> in stock?").await;
    common::claim(&mut expert, &id).await;
    expert
        .send(json!({"type": "send", "conversation_id": id, "client_msg_id": "e1", "body": "Yes, two left."}))
        .await;
    expert.until("ack", |o| matches!(o, floorwalker::protocol::Out::Ack { .. })).await;
    let http = reqwest::Client::new();
    let path = format!("{}/api/v1/widget/conversations/{id}/transcript?merchant={m}", app.url);
    // Download, as the shopper only.
    let r = http.get(&path).bearer_auth(&token).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers()["content-disposition"].to_str().unwrap().contains("attachment"));
    let text = r.text().await.unwrap();
    assert!(
        text.contains("Is the <b>X90</b> in stock?") && text.contains("Yes, two left."),
        "{text}"
    );
    let html = http
        .get(format!("{path}&format=html&lang=de"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("&lt;b&gt;X90") && html.contains("lang=\"de\""));
    assert_eq!(http.get(&path).send().await.unwrap().status(), StatusCode::UNAUTHORIZED);
    let (_, _, stranger) = common::shopper_ws(&app, &m, None).await;
    assert_eq!(
        http.get(&path).bearer_auth(&stranger).send().await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
    // "E-mail me this chat", and the expert sends it from the store app.
    let r = http
        .post(format!(
            "{}/api/v1/widget/conversations/{id}/transcript/email?merchant={m}",
            app.url
        ))
        .bearer_auth(&token)
        .json(&json!({"email": "kim@example.com", "language": "sv"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let mails = sink.wait_for(3, 20).await;
    let kim = mails.iter().find(|m| m.to == ["kim@example.com"]).unwrap();
    assert!(kim.header("Subject").unwrap().contains("=?utf-8?") || kim.header("Subject").unwrap().contains("Din chatt"));
    assert!(
        kim.header("List-Unsubscribe").is_none(),
        "a transcript the shopper asked for is transactional"
    );
    let login: Value = http
        .post(format!("{}/api/v1/app/login", app.url))
        .json(&json!({"email": "expert1@demo.example", "password": DEMO_PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let r = http
        .post(format!("{}/api/v1/app/conversations/{id}/transcript", app.url))
        .bearer_auth(login["token"].as_str().unwrap())
        .json(&json!({"email": "sam@example.com"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    sink.wait_for(4, 20).await;
    // A "continue the conversation" link re-issues the shopper's token for this chat.
    let key = app.db.server_key("outbound_links").await.unwrap();
    let conv = app
        .db
        .conversation(
            &floorwalker::ids::MerchantId::parse(&m).unwrap(),
            &floorwalker::ids::ConversationId::parse(&id).unwrap(),
        )
        .await
        .unwrap();
    let claims = floorwalker::outbound::links::Claims::Reopen {
        m: m.clone(),
        c: conv.id.clone(),
        s: conv.shopper_id.clone(),
        e: floorwalker::now_ms() + 60_000,
    };
    let link = floorwalker::outbound::links::sign(key.as_bytes(), &claims);
    let (s, v) = app.client().post("/api/v1/widget/reopen", json!({"token": link})).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["token"], token.as_str());
    assert_eq!(v["conversation_id"], id.as_str());
    let expired = floorwalker::outbound::links::sign(
        key.as_bytes(),
        &floorwalker::outbound::links::Claims::Reopen {
            m: m.clone(),
            c: conv.id.clone(),
            s: conv.shopper_id.clone(),
            e: floorwalker::now_ms() - 1,
        },
    );
    assert_eq!(
        app.client().post("/api/v1/widget/reopen", json!({"token": expired})).await.0,
        StatusCode::UNAUTHORIZED
    );
    let no_redirect = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = no_redirect.get(format!("{}/r/{link}", app.url)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(r.headers()["location"].to_str().unwrap().ends_with(&format!("#fw-reopen={link}")));
    app.stop().await;
}

on_both_backends!(sms_go_through_the_merchants_gateway_with_retries);

/// A Twilio-style gateway on loopback: checks Basic auth and the form, answers from a script.
async fn sms_gateway(script: Vec<u16>) -> (String, std::sync::Arc<std::sync::Mutex<Vec<(String, String, String)>>>) {
    use std::sync::{Arc, Mutex};
    let got: Arc<Mutex<Vec<(String, String, String)>>> = Arc::default();
    let script = Arc::new(Mutex::new(std::collections::VecDeque::from(script)));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let g = got.clone();
    let app = axum::Router::new().route(
        "/2010-04-01/Accounts/{sid}/Messages.json",
        axum::routing::post(
            move |axum::extract::Path(sid): axum::extract::Path<String>, headers: axum::http::HeaderMap, body: String| {
                let (g, script) = (g.clone(), script.clone());
                async move {
                    use base64::Engine as _;
                    let expected = format!(
                        "Basic {}",
                        base64::engine::general_purpose::STANDARD.encode(format!("{sid}:tok-123"))
                    );
                    if sid != "AC42" || headers.get("authorization").and_then(|v| v.to_str().ok()) != Some(expected.as_str()) {
                        return (axum::http::StatusCode::UNAUTHORIZED, "{}".to_owned());
                    }
                    let form: std::collections::HashMap<String, String> =
                        url::form_urlencoded::parse(body.as_bytes()).into_owned().collect();
                    let status = script.lock().unwrap().pop_front().unwrap_or(201);
                    g.lock()
                        .unwrap()
                        .push((form["To"].clone(), form["From"].clone(), form["Body"].clone()));
                    (
                        axum::http::StatusCode::from_u16(status).unwrap(),
                        r#"{"sid":"SM1","status":"queued"}"#.to_owned(),
                    )
                }
            },
        ),
    );
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (base, got)
}

fn sms(m: &floorwalker::ids::MerchantId, to: &str, body: &str, key: &str) -> floorwalker::storage::Outgoing {
    floorwalker::storage::Outgoing::Message(floorwalker::storage::NewOutbound {
        merchant_id: m.clone(),
        channel: floorwalker::storage::Channel::Sms,
        template: "expert_answered".into(),
        idempotency_key: key.into(),
        recipient: to.into(),
        endpoint_id: None,
        conversation_id: None,
        message_id: uuid::Uuid::now_v7().to_string(),
        subject: None,
        body_text: Some(body.into()),
        body_html: None,
        payload_json: "{}".into(),
        transactional: true,
        order_key: None,
        give_up_after_ms: 60_000,
        hourly_limit: 10,
        delay_ms: 0,
    })
}

async fn sms_go_through_the_merchants_gateway_with_retries(b: Backend) {
    // The first request fails (503), the second succeeds; a second message is refused for good (400).
    let (base, got) = sms_gateway(vec![503, 201, 400]).await;
    let app = TestApp::spawn_with(b, fast(None)).await;
    let op = app.operator().await;
    let (mid, admin) = app.merchant(&op, "Texts").await;
    let m = floorwalker::ids::MerchantId::parse(&mid).unwrap();
    // Not set up yet: the message fails with a reason the merchant can act on.
    app.db.enqueue(&[sms(&m, "+46701234567", "Too early", "sms-0")]).await.unwrap();
    let row = until("a failed SMS", 20, async || {
        let r = outbox(&admin, "?kind=sms").await.pop()?;
        (r["status"] == "failed").then_some(r)
    })
    .await;
    assert!(row["last_error"].as_str().unwrap().contains("not set up"), "{row}");
    let settings = json!({"sender_name": "Texts", "sender_address": null, "reply_to": null, "away_email_after_min": 0,
        "sms": {"enabled": true, "base_url": base, "account_sid": "AC42", "auth_token": "tok-123", "from": "+46700000000"}});
    let (s, v) = admin.call(reqwest::Method::PUT, "/api/v1/settings/messaging", Some(settings)).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert!(!v.to_string().contains("tok-123"), "the token is never read back: {v}");
    assert_eq!(v["sms"]["auth_token_set"], true);
    app.db
        .enqueue(&[sms(&m, "+46701234567", "Your expert answered", "sms-1")])
        .await
        .unwrap();
    until("the SMS sent", 20, async || {
        let rows = outbox(&admin, "?kind=sms&status=sent").await;
        (!rows.is_empty()).then_some(())
    })
    .await;
    app.db.enqueue(&[sms(&m, "+4670", "Bad number", "sms-2")]).await.unwrap();
    until("the refused SMS failed", 20, async || {
        let rows = outbox(&admin, "?kind=sms&recipient=%2B4670").await;
        (rows.first()?["status"] == "failed").then_some(())
    })
    .await;
    let got = got.lock().unwrap().clone();
    assert_eq!(got.len(), 3, "503, then 201, then 400: {got:?}");
    assert_eq!(
        got[1],
        ("+46701234567".into(), "+46700000000".into(), "Your expert answered".into())
    );
    app.stop().await;
}

on_both_backends!(an_endpoint_that_keeps_failing_is_disabled_with_a_reason);

async fn an_endpoint_that_keeps_failing_is_disabled_with_a_reason(b: Backend) {
    let rx = HookReceiver::start().await;
    // Three days of failures in about 1.3 s (and a day of retries in 0.4 s).
    let app = TestApp::spawn_with(b, |a| {
        a.outbound.allow_private_webhooks = true;
        a.outbound.outbound_speedup = 200_000;
    })
    .await;
    let op = app.operator().await;
    let (_, admin) = app.merchant(&op, "Failing").await;
    let (ep, secret) = new_endpoint(&admin, &rx.url, None).await;
    rx.trust(&secret);
    rx.answer(&[500; 1000]);
    let shown = until("the endpoint disabled", 30, async || {
        // Events keep coming; every delivery fails.
        let (s, _) = admin.post(&format!("/api/v1/webhooks/{ep}/test"), json!({})).await;
        if s == StatusCode::CONFLICT {
            return Some(admin.get(&format!("/api/v1/webhooks/{ep}")).await.1);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        None
    })
    .await;
    assert_eq!(shown["enabled"], false);
    assert!(
        shown["disabled_reason"].as_str().unwrap().contains("failed for too long"),
        "{shown}"
    );
    assert!(shown["failing_since"].is_i64());
    // The deliveries were given up, not lost silently: each is there, dead or failed.
    let (_, list) = admin.get(&format!("/api/v1/webhooks/{ep}/deliveries")).await;
    assert!(list["items"].as_array().unwrap().iter().any(|d| d["status"] == "dead"), "{list}");
    app.stop().await;
}
