//! The chat's own events reaching people outside the chat (issue 21 part 2), against real
//! servers on loopback: a webhook receiver that verifies Standard Webhooks signatures, an SMTP
//! server, a Twilio-style SMS gateway, real WebSocket clients and real `floorwalker` processes
//! killed with SIGKILL.

mod common;

use std::time::Duration;

use common::node::{demo_admin_at, until, Node};
use common::sinks::{HookReceiver, SmtpSink};
use common::{Backend, Client, TestApp, Ws, DEMO_PASSWORD};
use floorwalker::protocol::Out;
use reqwest::StatusCode;
use serde_json::{json, Value};

/// Nodes started as processes run the outbound worker's clock fast (as `fast` does in-process).
const SPEEDUP: (&str, &str) = ("FLOORWALKER_OUTBOUND_SPEEDUP", "1000");

on_both_backends!(
    chat_events_reach_the_endpoints_subscribed_to_them_in_order,
    offline_answers_are_mailed_once_and_the_link_reopens_the_same_chat,
    a_shopper_who_left_gets_the_unread_answers_by_email_if_they_asked,
    a_node_killed_between_commit_and_delivery_delivers_after_restart,
    the_demo_outbox_shows_what_its_chats_send,
    cart_and_order_events_reach_the_merchants_endpoints_signed,
);

fn fast(smtp: Option<String>) -> impl FnOnce(&mut floorwalker::config::ServeArgs) {
    move |a| {
        a.demo = true;
        a.demo_password = Some(floorwalker::config::Secret::new(DEMO_PASSWORD));
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

/// (type, body) of each delivery a receiver answered 2xx, in arrival order.
fn events(rx: &HookReceiver) -> Vec<(String, Value)> {
    rx.got()
        .into_iter()
        .filter(|h| h.answered < 300)
        .map(|h| {
            assert!(h.verified, "every delivery is signed with the endpoint's secret");
            let v: Value = serde_json::from_str(&h.body).unwrap();
            (v["type"].as_str().unwrap().to_owned(), v)
        })
        .collect()
}

fn types_of(evs: &[(String, Value)], conversation: &str) -> Vec<String> {
    evs.iter()
        .filter(|(_, v)| v["data"]["conversation"]["id"] == conversation || v["data"]["conversation_id"] == conversation)
        .map(|(t, _)| t.clone())
        .collect()
}

async fn send(ws: &mut Ws, id: &str, cid: &str, body: &str) {
    ws.send(json!({"type": "send", "conversation_id": id, "client_msg_id": cid, "body": body}))
        .await;
}

async fn acked(ws: &mut Ws, cid: &str) -> i64 {
    match ws
        .until("ack", |o| matches!(o, Out::Ack { client_msg_id, .. } if client_msg_id == cid))
        .await
    {
        Out::Ack { seq, .. } => seq,
        _ => unreachable!(),
    }
}

async fn chat_events_reach_the_endpoints_subscribed_to_them_in_order(b: Backend) {
    let rx = HookReceiver::start().await;
    let messages_rx = HookReceiver::start().await;
    let other_rx = HookReceiver::start().await;
    let app = TestApp::spawn_with(b, fast(None)).await;
    let (m, store, dep) = common::demo_target(&app).await;
    let admin = app.login("admin@demo.example", DEMO_PASSWORD).await;
    // Everything but message.created (the default), and an endpoint that asked for messages only.
    let (_, secret) = new_endpoint(&admin, &rx.url, None).await;
    rx.trust(&secret);
    let (_, secret) = new_endpoint(&admin, &messages_rx.url, Some(vec!["message.created"])).await;
    messages_rx.trust(&secret);
    // Another merchant's endpoint hears nothing of this merchant's chats.
    let op = app.operator().await;
    let (_, other) = app.merchant(&op, "Other Shop").await;
    let (_, secret) = new_endpoint(&other, &other_rx.url, None).await;
    other_rx.trust(&secret);
    let (_, stores) = admin.get("/api/v1/stores").await;
    let kitchen = stores["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == store.as_str())
        .unwrap()["departments"][1]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let (mut sara, _) = common::expert_ws(&app, "expert1@demo.example").await;
    let (mut johan, _) = common::expert_ws(&app, "expert2@demo.example").await;
    let (mut shop, shopper_id, _) = common::shopper_ws(&app, &m, None).await;
    let id = common::start_chat(&mut shop, &store, &dep, "Is the X90 in stock?").await;
    common::claim(&mut sara, &id).await;
    send(&mut sara, &id, "s1", "Yes, two left.").await;
    acked(&mut sara, "s1").await;
    sara.send(json!({"type": "transfer", "conversation_id": id, "department_id": kitchen, "note": "wants a fridge too"}))
        .await;
    // (Johan still holds the first offer of this chat: wait for the transfer's.)
    johan
        .until(
            "the transfer's offer",
            |o| matches!(o, Out::Offer { offer } if offer.conversation_id == id && offer.reason == "transfer"),
        )
        .await;
    johan.send(json!({"type": "claim", "conversation_id": id})).await;
    johan
        .until(
            "claimed",
            |o| matches!(o, Out::Conversation { conversation } if conversation.id == id && conversation.status == "claimed"),
        )
        .await;
    send(&mut johan, &id, "j1", "Hello from Kitchen.").await;
    acked(&mut johan, "j1").await;
    johan.send(json!({"type": "end", "conversation_id": id})).await;
    shop.until(
        "ended",
        |o| matches!(o, Out::Conversation { conversation } if conversation.status == "ended"),
    )
    .await;
    shop.send(json!({"type": "rate", "conversation_id": id, "score": 5, "comment": "Great"}))
        .await;
    // A chat nobody claims in time, and an offline message.
    let (mut shop2, _, _) = common::shopper_ws(&app, &m, None).await;
    let missed = common::start_chat(&mut shop2, &store, &dep, "Anyone?").await;
    assert!(app
        .db
        .mark_missed(
            &floorwalker::ids::ConversationId::parse(&missed).unwrap(),
            floorwalker::now_ms() + 1
        )
        .await
        .unwrap());
    let (mut shop3, _, _) = common::shopper_ws(&app, &m, None).await;
    shop3
        .send(
            json!({"type": "offline_message", "email": "kim@example.com", "name": "Kim", "body": "Call me about the sofa",
            "store_id": store, "department_id": dep}),
        )
        .await;
    let offline = match shop3.until("offline ack", |o| matches!(o, Out::OfflineAck { .. })).await {
        Out::OfflineAck { conversation_id } => conversation_id,
        _ => unreachable!(),
    };
    // The merchant identifies the first shopper.
    let (s, v) = admin
        .call(
            reqwest::Method::PATCH,
            &format!("/api/v1/shoppers/{shopper_id}"),
            Some(json!({"name": "Robin", "email": "robin@example.com"})),
        )
        .await;
    assert!(s.is_success(), "{s} {v}");

    let evs = until("every event", 30, async || {
        let evs = events(&rx);
        let done = types_of(&evs, &id).len() >= 6
            && types_of(&evs, &missed).len() >= 2
            && !types_of(&evs, &offline).is_empty()
            && evs.iter().filter(|(t, _)| t == "shopper.identified").count() >= 2;
        done.then_some(evs)
    })
    .await;
    assert_eq!(
        types_of(&evs, &id),
        [
            "conversation.requested",
            "conversation.claimed",
            "conversation.transferred",
            "conversation.claimed",
            "conversation.ended",
            "conversation.rated"
        ],
        "in order, each once"
    );
    assert_eq!(types_of(&evs, &missed), ["conversation.requested", "conversation.missed"]);
    assert_eq!(types_of(&evs, &offline), ["offline_message.created"]);
    assert!(evs.iter().all(|(t, _)| t != "message.created"), "message.created is opt-in");
    let get = |t: &str, n: usize| -> Value {
        evs.iter()
            .filter(|(x, v)| x == t && v["data"]["conversation"]["id"] == id.as_str())
            .nth(n)
            .unwrap()
            .1
            .clone()
    };
    // The documented payloads.
    let requested = get("conversation.requested", 0);
    assert_eq!(requested["merchant_id"], m.as_str());
    let c = &requested["data"]["conversation"];
    assert_eq!(c["status"], "queued");
    assert_eq!(c["shopper_id"], shopper_id.as_str());
    assert_eq!(c["store"]["name"], "Stockholm Flagship");
    assert_eq!(c["page_url"], "https://shop.example/tv");
    assert_eq!(c["offline"], false);
    assert!(c["expert"].is_null() && c["created_at"].as_i64().unwrap() > 0);
    let claimed = get("conversation.claimed", 0);
    assert_eq!(claimed["data"]["conversation"]["expert"]["name"], "Sara Lind");
    assert_eq!(claimed["data"]["conversation"]["status"], "claimed");
    let transferred = get("conversation.transferred", 0);
    assert_eq!(transferred["data"]["from_expert"]["name"], "Sara Lind");
    assert_eq!(transferred["data"]["note"], "wants a fridge too");
    assert_eq!(transferred["data"]["conversation"]["department"]["id"], kitchen.as_str());
    assert!(transferred["data"]["to_expert_id"].is_null());
    assert_eq!(get("conversation.claimed", 1)["data"]["conversation"]["expert"]["name"], "Johan Ek");
    let ended = get("conversation.ended", 0);
    assert_eq!(ended["data"]["conversation"]["status"], "ended");
    assert!(ended["data"]["conversation"]["ended_at"].as_i64().is_some());
    let rated = get("conversation.rated", 0);
    assert_eq!(
        (rated["data"]["score"].as_i64(), rated["data"]["comment"].as_str()),
        (Some(5), Some("Great"))
    );
    let off = &evs.iter().find(|(t, _)| t == "offline_message.created").unwrap().1["data"];
    assert_eq!(
        (off["email"].as_str(), off["name"].as_str(), off["message"].as_str()),
        (Some("kim@example.com"), Some("Kim"), Some("Call me about the sofa"))
    );
    assert_eq!(off["conversation"]["offline"], true);
    // The merchant identified Robin; Kim left her name and address with the offline message.
    let who: Vec<&Value> = evs
        .iter()
        .filter(|(t, _)| t == "shopper.identified")
        .map(|(_, v)| &v["data"])
        .collect();
    assert_eq!(who.len(), 2, "{who:?}");
    let robin = who.iter().find(|d| d["shopper_id"] == shopper_id.as_str()).expect("Robin");
    assert_eq!(
        (robin["name"].as_str(), robin["email"].as_str()),
        (Some("Robin"), Some("robin@example.com"))
    );
    assert!(who.iter().any(|d| d["email"] == "kim@example.com" && d["name"] == "Kim"));
    // The message endpoint: every stored message of the chat, in order, and nothing else.
    let msgs = until("the messages", 20, async || {
        let e = events(&messages_rx);
        (types_of(&e, &id).len() >= 5).then_some(e)
    })
    .await;
    assert!(msgs.iter().all(|(t, _)| t == "message.created"), "{msgs:?}");
    let chat: Vec<&Value> = msgs
        .iter()
        .map(|(_, v)| &v["data"])
        .filter(|d| d["conversation_id"] == id.as_str())
        .collect();
    let seqs: Vec<i64> = chat.iter().map(|d| d["seq"].as_i64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "in order: {seqs:?}");
    let first = chat[0];
    assert_eq!((first["seq"].as_i64(), first["author_role"].as_str()), (Some(1), Some("shopper")));
    assert_eq!(first["body"], "Is the X90 in stock?");
    let sara_said = chat.iter().find(|d| d["body"] == "Yes, two left.").expect("the expert's message");
    assert_eq!(sara_said["author_role"], "expert");
    assert_eq!(
        sara_said["expert_id"], claimed["data"]["conversation"]["expert"]["id"],
        "{sara_said}"
    );
    // Every event once (at least once, and here exactly: no retries were needed).
    let mut ids: Vec<String> = rx.got().iter().map(|h| h.id.clone()).collect();
    let n = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), n);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(other_rx.got().is_empty(), "another merchant's endpoint heard: {:?}", other_rx.got());
    // The Outbox lists the deliveries by conversation: six events to one endpoint, the
    // messages to the other.
    let rows = outbox(&admin, &format!("?kind=webhook&conversation_id={id}")).await;
    assert_eq!(rows.iter().filter(|r| r["template"] != "message.created").count(), 6);
    assert!(rows.iter().filter(|r| r["template"] == "message.created").count() >= chat.len());
    app.stop().await;
}

/// A Twilio-style gateway on loopback: records (To, From, Body).
async fn sms_gateway() -> (String, std::sync::Arc<std::sync::Mutex<Vec<(String, String, String)>>>) {
    use std::sync::{Arc, Mutex};
    let got: Arc<Mutex<Vec<(String, String, String)>>> = Arc::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let g = got.clone();
    let app = axum::Router::new().route(
        "/2010-04-01/Accounts/{sid}/Messages.json",
        axum::routing::post(move |body: String| {
            let g = g.clone();
            async move {
                let form: std::collections::HashMap<String, String> = url::form_urlencoded::parse(body.as_bytes()).into_owned().collect();
                g.lock()
                    .unwrap()
                    .push((form["To"].clone(), form["From"].clone(), form["Body"].clone()));
                (axum::http::StatusCode::CREATED, r#"{"sid":"SM1"}"#)
            }
        }),
    );
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (base, got)
}

async fn set_messaging(admin: &Client, away_min: i64, sms_base: Option<&str>) {
    let mut s = admin.get("/api/v1/settings/messaging").await.1;
    s["away_email_after_min"] = json!(away_min);
    if let Some(base) = sms_base {
        s["sms"] = json!({"enabled": true, "base_url": base, "account_sid": "AC42", "auth_token": "tok-123", "from": "+46700000000"});
    }
    let (st, v) = admin.call(reqwest::Method::PUT, "/api/v1/settings/messaging", Some(s)).await;
    assert_eq!(st, StatusCode::OK, "{v}");
}

fn link_in(text: &str) -> String {
    let start = text.find("/r/").expect("a reopen link");
    text[start + 3..].split(|c: char| c.is_whitespace()).next().unwrap().to_owned()
}

async fn offline_answers_are_mailed_once_and_the_link_reopens_the_same_chat(b: Backend) {
    let sink = SmtpSink::start().await;
    let (sms_base, texts) = sms_gateway().await;
    let app = TestApp::spawn_with(b, fast(Some(sink.url()))).await;
    let (m, store, dep) = common::demo_target(&app).await;
    let admin = app.login("admin@demo.example", DEMO_PASSWORD).await;
    set_messaging(&admin, 0, Some(&sms_base)).await;
    let (mut sara, _) = common::expert_ws(&app, "expert1@demo.example").await;
    // The shopper leaves a message in Swedish, with a phone number, and goes away.
    let mut ws = Ws::connect(&format!("{}/ws/shopper?merchant={m}&v=1", app.url.replacen("http", "ws", 1)), None).await;
    ws.send(json!({"type": "hello", "locale": "sv-SE"})).await;
    let token = match ws.recv().await {
        Out::ShopperWelcome { token, .. } => token,
        o => panic!("{o:?}"),
    };
    // A bad phone number is refused and stores nothing.
    ws.send(
        json!({"type": "offline_message", "email": "kim@example.com", "body": "x", "phone": "0701234567",
        "store_id": store, "department_id": dep}),
    )
    .await;
    ws.until("refused", |o| matches!(o, Out::Error { code, .. } if code == "bad_request"))
        .await;
    ws.send(
        json!({"type": "offline_message", "email": "Kim@Example.com", "name": "Kim", "phone": "+46701234567",
        "body": "Does the sofa come in green?", "store_id": store, "department_id": dep}),
    )
    .await;
    let id = match ws.until("offline ack", |o| matches!(o, Out::OfflineAck { .. })).await {
        Out::OfflineAck { conversation_id } => conversation_id,
        _ => unreachable!(),
    };
    drop(ws);

    common::claim(&mut sara, &id).await;
    // The store app is told the shopper is away and how answers reach them.
    match sara.until("shopper away", |o| matches!(o, Out::ShopperAway { .. })).await {
        Out::ShopperAway {
            conversation_id,
            away,
            reach,
        } => {
            assert_eq!((conversation_id.as_str(), away), (id.as_str(), true));
            assert_eq!(reach, ["email", "sms"]);
        }
        _ => unreachable!(),
    }
    // Three answers in a row make one e-mail.
    for (cid, body) in [
        ("a1", "Hi Kim!"),
        ("a2", "Yes, it comes in green."),
        ("a3", "Delivery takes a week."),
    ] {
        send(&mut sara, &id, cid, body).await;
    }
    acked(&mut sara, "a3").await;
    let kims = || sink.mails().into_iter().filter(|x| x.to == ["kim@example.com"]).collect::<Vec<_>>();
    until("the answer by e-mail", 30, async || (!kims().is_empty()).then_some(())).await;
    let row = until("the e-mail recorded as sent", 10, async || {
        let rows = outbox(&admin, &format!("?kind=email&conversation_id={id}")).await;
        (rows.len() == 1 && rows[0]["status"] == "sent").then(|| rows[0].clone())
    })
    .await;
    assert_eq!(row["template"], "offline_reply");
    let (_, detail) = admin.get(&format!("/api/v1/outbox/{}", row["id"].as_str().unwrap())).await;
    let text = detail["body_text"].as_str().unwrap();
    for said in ["Hi Kim!", "Yes, it comes in green.", "Delivery takes a week."] {
        assert!(text.contains(said), "{said} in {text}");
    }
    assert!(text.contains("Sara Lind"), "{text}");
    assert!(!text.contains("Does the sofa"), "only the answers the shopper has not read: {text}");
    assert!(
        detail["subject"].as_str().unwrap().contains("har svarat"),
        "in the shopper's language: {}",
        detail["subject"]
    );
    // A fourth answer before the shopper read anything is not another e-mail.
    send(&mut sara, &id, "a4", "Any questions?").await;
    let last = acked(&mut sara, "a4").await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(kims().len(), 1, "one e-mail for answers in a row");
    // "Your expert answered" by SMS, once.
    let sent = until("the SMS", 20, async || {
        let t = texts.lock().unwrap().clone();
        (!t.is_empty()).then_some(t)
    })
    .await;
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!((sent[0].0.as_str(), sent[0].1.as_str()), ("+46701234567", "+46700000000"));
    assert!(sent[0].2.contains("/r/"), "{:?}", sent[0]);

    // The link reopens the same chat as the same shopper; their answer reaches the expert.
    let link = link_in(text);
    let no_redirect = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = no_redirect.get(format!("{}/r/{link}", app.url)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (s, v) = app.client().post("/api/v1/widget/reopen", json!({"token": link})).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["conversation_id"], id.as_str());
    assert_eq!(v["token"], token.as_str(), "the shopper's token, re-issued");
    let (mut back, _, _) = common::shopper_ws(&app, &m, Some(v["token"].as_str().unwrap())).await;
    sara.until("the shopper is back", |o| matches!(o, Out::ShopperAway { away: false, .. }))
        .await;
    back.send(json!({"type": "read", "conversation_id": id, "seq": last})).await;
    send(&mut back, &id, "k1", "Great, I'll take it!").await;
    acked(&mut back, "k1").await;
    sara.until(
        "the shopper's answer",
        |o| matches!(o, Out::Message { message } if message.body == "Great, I'll take it!" && message.conversation_id == id),
    )
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(kims().len(), 1, "nothing unread, nothing mailed");
    app.stop().await;
}

async fn a_shopper_who_left_gets_the_unread_answers_by_email_if_they_asked(b: Backend) {
    let sink = SmtpSink::start().await;
    let app = TestApp::spawn_with(b, fast(Some(sink.url()))).await;
    let (m, store, dep) = common::demo_target(&app).await;
    let admin = app.login("admin@demo.example", DEMO_PASSWORD).await;
    // The setting is validated.
    let mut s = admin.get("/api/v1/settings/messaging").await.1;
    s["away_email_after_min"] = json!(-1);
    assert_eq!(
        admin.call(reqwest::Method::PUT, "/api/v1/settings/messaging", Some(s)).await.0,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    set_messaging(&admin, 1, None).await;
    let (mut sara, _) = common::expert_ws(&app, "expert1@demo.example").await;

    // Robin asks to hear of answers by e-mail; Alex does not. Both leave mid-chat.
    let (mut robin, _, _) = common::shopper_ws(&app, &m, None).await;
    let with_consent = common::start_chat(&mut robin, &store, &dep, "Which TV for a bright room?").await;
    robin
        .send(json!({"type": "notify_me", "conversation_id": with_consent, "email": "not an address"}))
        .await;
    robin
        .until("refused", |o| matches!(o, Out::Error { code, .. } if code == "bad_request"))
        .await;
    // No SMS here: a phone number alone is refused, and with an address it is not kept.
    robin
        .send(json!({"type": "notify_me", "conversation_id": with_consent, "phone": "+46701234567"}))
        .await;
    match robin.until("no SMS", |o| matches!(o, Out::Error { .. })).await {
        Out::Error { code, message, .. } => assert!(code == "bad_request" && message.contains("text messages"), "{message}"),
        _ => unreachable!(),
    }
    robin
        .send(json!({"type": "notify_me", "conversation_id": with_consent, "email": "Robin@Example.com", "phone": "+46701234567"}))
        .await;
    match robin.until("noted", |o| matches!(o, Out::NotifyMe { .. })).await {
        Out::NotifyMe { email, phone, .. } => assert_eq!((email.as_deref(), phone), (Some("robin@example.com"), None)),
        _ => unreachable!(),
    }
    common::claim(&mut sara, &with_consent).await;
    let (mut alex, _, _) = common::shopper_ws(&app, &m, None).await;
    let without = common::start_chat(&mut alex, &store, &dep, "Do you ship to Norway?").await;
    common::claim(&mut sara, &without).await;
    // Another shopper cannot give an address for Robin's chat.
    alex.send(json!({"type": "notify_me", "conversation_id": with_consent, "email": "alex@example.com"}))
        .await;
    alex.until("not theirs", |o| matches!(o, Out::Error { code, .. } if code == "not_found"))
        .await;
    drop(robin);
    drop(alex);
    match sara
        .until(
            "Robin away",
            |o| matches!(o, Out::ShopperAway { conversation_id, .. } if *conversation_id == with_consent),
        )
        .await
    {
        Out::ShopperAway { away, reach, .. } => assert!(away && reach == ["email"], "{reach:?}"),
        _ => unreachable!(),
    }
    for (conv, cid, body) in [
        (&with_consent, "r1", "The X90 has an anti-glare screen."),
        (&with_consent, "r2", "It is 20% off this week."),
        (&without, "n1", "Yes, we ship to Norway."),
    ] {
        send(&mut sara, conv, cid, body).await;
        acked(&mut sara, cid).await;
    }
    let mail = until("the unread answers by e-mail", 30, async || {
        sink.mails().into_iter().find(|x| x.to == ["robin@example.com"])
    })
    .await;
    assert!(mail.header("List-Unsubscribe").is_some(), "a reminder carries an unsubscribe link");
    let rows = until("recorded", 10, async || {
        let rows = outbox(&admin, &format!("?kind=email&conversation_id={with_consent}")).await;
        (rows.len() == 1 && rows[0]["status"] == "sent").then_some(rows)
    })
    .await;
    assert_eq!(rows[0]["template"], "unread_messages");
    let (_, detail) = admin.get(&format!("/api/v1/outbox/{}", rows[0]["id"].as_str().unwrap())).await;
    let text = detail["body_text"].as_str().unwrap();
    assert!(text.contains("anti-glare") && text.contains("20% off"), "{text}");
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        sink.mails().iter().filter(|x| x.to == ["robin@example.com"]).count(),
        1,
        "one e-mail"
    );
    assert!(
        outbox(&admin, &format!("?kind=email&conversation_id={without}")).await.is_empty(),
        "no consent, no e-mail"
    );
    assert!(
        sink.mails().iter().all(|x| x.to != ["alex@example.com"]),
        "an address given for someone else's chat is not used"
    );
    app.stop().await;
}

// ---------- a node killed between the commit and the delivery ----------

async fn a_node_killed_between_commit_and_delivery_delivers_after_restart(b: Backend) {
    let db = common::TestDb::new(b).await;
    let rx = HookReceiver::start().await;
    let mut a = Node::start(&db.url, true, &[SPEEDUP]).await;
    let admin = demo_admin_at(&a.url).await;
    let (_, secret) = new_endpoint(&admin, &rx.url, Some(vec!["conversation.requested", "conversation.claimed"])).await;
    rx.trust(&secret);
    let (_, stores) = admin.get("/api/v1/stores").await;
    let s = stores["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "Stockholm Flagship")
        .unwrap()
        .clone();
    let (store, dep) = (s["id"].as_str().unwrap(), s["departments"][0]["id"].as_str().unwrap());
    let (_, session) = admin.get("/api/v1/auth/session").await;
    let m = session["account"]["merchant_id"].as_str().unwrap();
    // The receiver takes the request and does not answer; meanwhile the node dies.
    rx.hold(true);
    let mut expert = common::expert_at(&a.url, "expert1@demo.example").await;
    let (mut shop, _, _) = common::shopper_at(&a.url, m, None).await;
    let id = common::start_chat(&mut shop, store, dep, "Hello?").await;
    common::claim(&mut expert, &id).await;
    until("the first delivery held", 20, async || (rx.held() >= 1).then_some(())).await;
    a.kill();
    rx.hold(false);
    // A new node on the same database delivers both events after the dead node's lease.
    let b_node = Node::start(&db.url, false, &[SPEEDUP]).await;
    let got = until("both events after the restart", 30, async || {
        let e = events(&rx);
        (types_of(&e, &id).len() >= 2).then_some(e)
    })
    .await;
    let chat = types_of(&got, &id);
    assert_eq!(chat[0], "conversation.requested");
    assert_eq!(chat.last().unwrap(), "conversation.claimed", "in order: {chat:?}");
    // Every delivery of one event carries its webhook-id.
    let all = rx.got();
    let requested_ids: Vec<&str> = all
        .iter()
        .filter(|h| h.body.contains("\"conversation.requested\""))
        .map(|h| h.id.as_str())
        .collect();
    assert!(requested_ids.iter().all(|i| *i == requested_ids[0]), "{requested_ids:?}");
    // The dead node's attempt and the new node's, on one row.
    let admin = demo_admin_at(&b_node.url).await;
    let rows = outbox(&admin, &format!("?kind=webhook&conversation_id={id}")).await;
    let requested = rows.iter().find(|r| r["template"] == "conversation.requested").unwrap();
    assert_eq!(requested["status"], "sent");
    assert!(requested["attempts"].as_i64().unwrap() >= 2, "{requested}");
    assert_eq!(requested["message_id"], requested_ids[0]);
    drop(b_node);
    db.drop_db().await;
}

async fn the_demo_outbox_shows_what_its_chats_send(b: Backend) {
    let db = common::TestDb::new(b).await;
    let node = Node::start(&db.url, true, &[SPEEDUP, ("FLOORWALKER_DEMO_TRAFFIC", "1")]).await;
    let admin = demo_admin_at(&node.url).await;
    let rows = outbox(&admin, "?kind=email&recipient=mia.schulz@demo.example").await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["template"], "offline_reply");
    let (_, detail) = admin.get(&format!("/api/v1/outbox/{}", rows[0]["id"].as_str().unwrap())).await;
    let text = detail["body_text"].as_str().unwrap();
    assert!(text.contains("Größe 44 haben wir") && text.contains("bis Samstag"), "{text}");
    assert!(text.contains("/r/"), "with the link that reopens the chat: {text}");
    assert!(detail["subject"].as_str().unwrap().contains("Tomáš Novák"), "{}", detail["subject"]);
    assert!(rows[0]["conversation_id"].as_str().is_some_and(|c| !c.is_empty()));
    // A restart adds nothing (the Outbox is not empty any more).
    drop(node);
    let node = Node::start(&db.url, true, &[SPEEDUP, ("FLOORWALKER_DEMO_TRAFFIC", "1")]).await;
    let admin = demo_admin_at(&node.url).await;
    assert_eq!(outbox(&admin, "?kind=email&recipient=mia.schulz@demo.example").await.len(), 1);
    drop(node);
    db.drop_db().await;
}

/// `cart.sent` and `order.updated` (docs/webhooks.md, docs/commerce.md) reach the merchant's
/// endpoints signed, with the documented payloads; another merchant's endpoint hears nothing.
async fn cart_and_order_events_reach_the_merchants_endpoints_signed(b: Backend) {
    let rx = HookReceiver::start().await;
    let commerce_rx = HookReceiver::start().await;
    let other_rx = HookReceiver::start().await;
    let app = TestApp::spawn_with(b, fast(None)).await;
    let (m, store, dep) = common::demo_target(&app).await;
    let admin = app.login("admin@demo.example", DEMO_PASSWORD).await;
    let (_, secret) = new_endpoint(&admin, &rx.url, None).await;
    rx.trust(&secret);
    let (_, secret) = new_endpoint(&admin, &commerce_rx.url, Some(vec!["cart.sent", "order.updated"])).await;
    commerce_rx.trust(&secret);
    let op = app.operator().await;
    let (_, other) = app.merchant(&op, "Other Shop").await;
    let (_, secret) = new_endpoint(&other, &other_rx.url, None).await;
    other_rx.trust(&secret);
    let (s, k) = admin.post("/api/v1/api-keys", json!({"name": "shop"})).await;
    assert_eq!(s, StatusCode::CREATED, "{k}");
    let key = admin.with_bearer(k["secret"].as_str().unwrap());
    let (s, v) = key
        .post(
            "/api/v1/catalogue/products/batch",
            json!({"products": [{"sku": "TV-55", "name": "OLED TV 55\"", "price": "12990.00", "currency": "SEK", "vat_rate": "25"}]}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, v) = admin
        .call(
            reqwest::Method::PUT,
            "/api/v1/settings/checkout",
            Some(json!({"mode": "hosted", "checkout_url": "https://shop.example/checkout"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");

    let (mut sara, _) = common::expert_ws(&app, "expert1@demo.example").await;
    let (mut shop, shopper_id, _) = common::shopper_ws(&app, &m, None).await;
    let id = common::start_chat(&mut shop, &store, &dep, "The TV, installed?").await;
    common::claim(&mut sara, &id).await;
    let (s, t) = app
        .client()
        .post(
            "/api/v1/app/login",
            json!({"email": "expert1@demo.example", "password": DEMO_PASSWORD}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{t}");
    let expert = app.client().with_bearer(t["token"].as_str().unwrap());
    let (s, cart) = expert
        .post(
            &format!("/api/v1/app/conversations/{id}/carts"),
            json!({"lines": [{"sku": "TV-55", "quantity": 1, "unit_price": "11990.00"}, {"text": "Installation", "quantity": 2, "unit_price": "499"}]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{cart}");
    let cart_id = cart["id"].as_str().unwrap();

    // Paid through the hosted link's reference, then handled: in progress, shipped.
    let plain = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let go = plain.post(cart["pay_url"].as_str().unwrap()).send().await.unwrap();
    assert_eq!(go.status(), StatusCode::SEE_OTHER);
    let cref = go.headers()["location"]
        .to_str()
        .unwrap()
        .split("floorwalker_cart=")
        .nth(1)
        .unwrap()
        .to_owned();
    let (s, o) = key
        .post(
            "/api/v1/orders",
            json!({"order_id": "A-77", "cart_ref": cref, "amount": "12988.00", "currency": "SEK", "status": "paid"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{o}");
    let (s, d) = key.post("/api/v1/orders/A-77/stage", json!({"stage": "in_progress"})).await;
    assert_eq!(s, StatusCode::OK, "{d}");
    let (s, d) = admin
        .post(
            "/api/v1/orders/A-77/stage",
            json!({"stage": "shipped", "carrier": "PostNord", "tracking_number": "PN1SE", "tracking_url": "https://track.example/PN1SE"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{d}");

    // The endpoint that asked for commerce events gets exactly those, signed, in order.
    let evs = until("the commerce events", 30, async || {
        let e = events(&commerce_rx);
        (e.len() >= 3).then_some(e)
    })
    .await;
    let types: Vec<&str> = evs.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(
        types,
        ["cart.sent", "order.updated", "order.updated"],
        "only what it asked for, in order"
    );
    let sent = &evs[0].1;
    assert_eq!(sent["merchant_id"], m.as_str());
    assert!(sent["timestamp"].as_str().unwrap().ends_with('Z'));
    let d = &sent["data"];
    assert_eq!(
        (d["conversation_id"].as_str(), d["cart_id"].as_str()),
        (Some(id.as_str()), Some(cart_id))
    );
    assert_eq!((d["currency"].as_str(), d["total"].as_str()), (Some("SEK"), Some("12988.00")));
    assert_eq!(d["payment_url"], cart["pay_url"]);
    assert_eq!(
        d["lines"],
        json!([
            {"name": "OLED TV 55\"", "sku": "TV-55", "quantity": 1, "unit_price": "11990.00"},
            {"name": "Installation", "sku": null, "quantity": 2, "unit_price": "499.00"}
        ])
    );
    let (first, second) = (&evs[1].1["data"], &evs[2].1["data"]);
    assert_eq!(first["order_id"], "A-77");
    assert_eq!(first["shopper_id"], shopper_id.as_str());
    assert_eq!(
        (first["status"].as_str(), first["stage"].as_str()),
        (Some("paid"), Some("in_progress"))
    );
    assert_eq!(
        (first["amount"].as_str(), first["currency"].as_str()),
        (Some("12988.00"), Some("SEK"))
    );
    assert_eq!(first["conversation_id"], id.as_str());
    assert!(first["expert_id"].is_string(), "attributed to the chat's expert: {first}");
    assert!(first["tracking_number"].is_null());
    assert_eq!(second["stage"], "shipped");
    assert_eq!(
        (
            second["carrier"].as_str(),
            second["tracking_number"].as_str(),
            second["tracking_url"].as_str()
        ),
        (Some("PostNord"), Some("PN1SE"), Some("https://track.example/PN1SE"))
    );
    // The default subscription hears them too, among the chat's own events.
    let all = until("the default endpoint", 30, async || {
        let e = events(&rx);
        (e.iter().filter(|(t, _)| t == "order.updated").count() >= 2).then_some(e)
    })
    .await;
    assert_eq!(all.iter().filter(|(t, _)| t == "cart.sent").count(), 1);
    assert!(all.iter().any(|(t, _)| t == "conversation.claimed"));
    // Another merchant's endpoint hears nothing of it.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(other_rx.got().is_empty(), "another merchant's endpoint heard: {:?}", other_rx.got());
    app.stop().await;
}
