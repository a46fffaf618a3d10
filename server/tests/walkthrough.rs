//! What a new user tripped over (issue 19), server side, on SQLite and PostgreSQL: the store
//! app hears its chat count and cap from the server, availability means able to take a chat,
//! the shopper's "last seen" moves, the contact follows the expert who served last, demo links
//! are readable ASCII.

mod common;

use std::time::{Duration, Instant};

use common::{claim, demo_target, expert_ws, request_answer, shopper_ws, start_chat, Backend, Client, TestApp, Ws, DEMO_PASSWORD};
use floorwalker::protocol::{ExpertStatusView, Out};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

on_both_backends!(
    the_app_hears_its_chat_count_and_cap_from_the_server,
    availability_means_able_to_take_a_chat,
    last_seen_moves_on_a_return_visit,
    the_expert_who_served_last_becomes_the_contact,
    demo_links_are_transliterated,
);

/// Claim the offered chat and return the status the server sends with the claim (it may come
/// before or after the conversation).
async fn claim_counted(ws: &mut Ws, id: &str) -> ExpertStatusView {
    ws.until("offer", |o| matches!(o, Out::Offer { offer } if offer.conversation_id == id))
        .await;
    ws.send(json!({"type": "claim", "conversation_id": id})).await;
    let (mut claimed, mut status) = (false, None);
    while !claimed || status.is_none() {
        match ws.recv().await {
            Out::Conversation { conversation } if conversation.id == id && conversation.status == "claimed" => claimed = true,
            Out::Status(s) => status = Some(s),
            _ => {}
        }
    }
    status.unwrap()
}

async fn next_status(ws: &mut Ws, what: &str) -> ExpertStatusView {
    match ws.until(what, |o| matches!(o, Out::Status(_))).await {
        Out::Status(s) => s,
        _ => unreachable!(),
    }
}

/// Poll `path` until `ok` holds.
async fn eventually(c: &Client, path: &str, what: &str, ok: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (s, v) = c.get(path).await;
        assert_eq!(s, StatusCode::OK, "{path}: {v}");
        if ok(&v) {
            return v;
        }
        assert!(Instant::now() < deadline, "{what} never happened; last answer: {v}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn the_app_hears_its_chat_count_and_cap_from_the_server(b: Backend) {
    let app = TestApp::spawn_demo(b).await;
    let (m, store, dep) = demo_target(&app).await;
    let admin = app.login("admin@demo.example", DEMO_PASSWORD).await;
    let (mut e1, welcome) = expert_ws(&app, "expert1@demo.example").await;
    let Out::ExpertWelcome { status, .. } = welcome else {
        unreachable!()
    };
    assert_eq!((status.active_chats, status.max_chats, status.max_chats_limit), (0, 3, 3));

    // Each claim and each end is followed by the server's count.
    let (mut s1, _, _) = shopper_ws(&app, &m, None).await;
    let c1 = start_chat(&mut s1, &store, &dep, "First").await;
    assert_eq!(claim_counted(&mut e1, &c1).await.active_chats, 1);
    let (mut s2, _, _) = shopper_ws(&app, &m, None).await;
    let c2 = start_chat(&mut s2, &store, &dep, "Second").await;
    assert_eq!(claim_counted(&mut e1, &c2).await.active_chats, 2);
    e1.send(json!({"type": "end", "conversation_id": c1})).await;
    assert_eq!(next_status(&mut e1, "status after ending").await.active_chats, 1);
    // The shopper ending counts too.
    s2.send(json!({"type": "end", "conversation_id": c2})).await;
    assert_eq!(next_status(&mut e1, "status after the shopper ended").await.active_chats, 0);

    // The merchant lowers the cap in Team: the app hears it at once.
    let e1_id = common::demo_expert_id(&app, "expert1@demo.example").await;
    let (s, _) = admin
        .call(
            Method::PATCH,
            &format!("/api/v1/team/experts/{e1_id}"),
            Some(json!({"max_chats": 2})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let st = next_status(&mut e1, "status after the Team edit").await;
    assert_eq!((st.max_chats, st.max_chats_limit), (2, 2));
    // Asking for more than the merchant allows is held to the limit, and said so.
    e1.send(json!({"type": "set_status", "max_chats": 5})).await;
    let st = next_status(&mut e1, "status after set_status").await;
    assert_eq!((st.max_chats, st.max_chats_limit), (2, 2));
    // Raised again, the expert's own wish (5) is held to the new limit (4).
    admin
        .call(
            Method::PATCH,
            &format!("/api/v1/team/experts/{e1_id}"),
            Some(json!({"max_chats": 4})),
        )
        .await;
    let st = next_status(&mut e1, "status after raising the limit").await;
    assert_eq!((st.max_chats, st.max_chats_limit, st.active_chats), (4, 4, 0));
    // A transfer away counts as one chat less.
    let (mut s3, _, _) = shopper_ws(&app, &m, None).await;
    let c3 = start_chat(&mut s3, &store, &dep, "Third").await;
    assert_eq!(claim_counted(&mut e1, &c3).await.active_chats, 1);
    let dep2 = {
        let (_, stores) = admin.get("/api/v1/stores").await;
        stores["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["id"] == store.as_str())
            .unwrap()["departments"][1]["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    e1.send(json!({"type": "transfer", "conversation_id": c3, "department_id": dep2}))
        .await;
    assert_eq!(next_status(&mut e1, "status after the transfer").await.active_chats, 0);
    app.stop().await;
}

async fn availability_means_able_to_take_a_chat(b: Backend) {
    let app = TestApp::spawn_demo(b).await;
    let (m, store, dep) = demo_target(&app).await;
    let admin = app.login("admin@demo.example", DEMO_PASSWORD).await;
    let config = format!("/api/v1/public/widget-config?merchant={m}");
    let anyone = app.client();

    // An approved expert with no stores is online in the app but cannot take a chat.
    let (_, pending) = admin.get("/api/v1/team/experts?status=pending").await;
    let pat = pending["items"][0]["id"].as_str().unwrap().to_owned();
    let (s, _) = admin.post(&format!("/api/v1/team/experts/{pat}/approve"), json!({})).await;
    assert_eq!(s, StatusCode::OK);
    let (mut unassigned, _) = expert_ws(&app, "pending@demo.example").await;
    unassigned.send(json!({"type": "set_status", "available": true})).await;
    unassigned.until("status", |o| matches!(o, Out::Status(_))).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (_, live) = admin.get("/api/v1/analytics/live").await;
    assert_eq!(
        (live["experts_available"].as_i64(), live["experts_online"].as_i64()),
        (Some(0), Some(0)),
        "{live}"
    );
    let (_, c) = anyone.get(&config).await;
    assert_eq!(
        c["availability"],
        json!({"open": true, "experts_available": 0, "experts_online": 0})
    );
    let (mut shopper, _, _) = shopper_ws(&app, &m, None).await;
    match request_answer(&mut shopper, &store, &dep).await {
        Out::Unavailable { reason, .. } => assert_eq!(reason, "no_experts", "nobody is online"),
        other => panic!("{other:?}"),
    }

    // An assigned expert counts, in the live strip (merchant and store) and the widget config.
    let e1_id = common::demo_expert_id(&app, "expert1@demo.example").await;
    admin
        .call(
            Method::PATCH,
            &format!("/api/v1/team/experts/{e1_id}"),
            Some(json!({"max_chats": 1})),
        )
        .await;
    let (mut e1, _) = expert_ws(&app, "expert1@demo.example").await;
    let live = eventually(&admin, "/api/v1/analytics/live", "expert1 available", |v| {
        v["experts_available"] == 1
    })
    .await;
    assert_eq!(live["experts_online"], 1);
    let sthlm = live["stores"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["store_id"] == store.as_str())
        .unwrap();
    assert_eq!(
        (sthlm["experts_available"].as_i64(), sthlm["experts_online"].as_i64()),
        (Some(1), Some(1))
    );
    let berlin = live["stores"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["store_id"] != store.as_str())
        .unwrap();
    assert_eq!(berlin["experts_available"], 0);

    // At their cap the expert is online but not available: the shopper hears "busy".
    let id = start_chat(&mut shopper, &store, &dep, "Hello").await;
    claim(&mut e1, &id).await;
    let live = eventually(&admin, "/api/v1/analytics/live", "expert1 busy", |v| v["experts_available"] == 0).await;
    assert_eq!(live["experts_online"], 1);
    let (_, c) = anyone.get(&config).await;
    assert_eq!(
        c["availability"],
        json!({"open": true, "experts_available": 0, "experts_online": 1})
    );
    let tv = c["stores"].as_array().unwrap().iter().find(|s| s["id"] == store.as_str()).unwrap()["departments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["id"] == dep.as_str())
        .unwrap()
        .clone();
    assert_eq!(
        (tv["experts_available"].as_i64(), tv["experts_online"].as_i64()),
        (Some(0), Some(1))
    );
    let (mut other, _, _) = shopper_ws(&app, &m, None).await;
    match request_answer(&mut other, &store, &dep).await {
        Out::Unavailable { reason, offline_form } => {
            assert_eq!(reason, "busy");
            assert!(offline_form);
        }
        o => panic!("{o:?}"),
    }
    // A new shopper's welcome says the same.
    let mut w = Ws::shopper(&app, &m).await;
    w.send(json!({"type": "hello"})).await;
    match w.recv().await {
        Out::ShopperWelcome { availability, .. } => {
            assert_eq!((availability.experts_available, availability.experts_online), (0, 1));
        }
        o => panic!("{o:?}"),
    }
    app.stop().await;
}

async fn last_seen_moves_on_a_return_visit(b: Backend) {
    let app = TestApp::spawn_demo(b).await;
    let (m, _, _) = demo_target(&app).await;
    let admin = app.login("admin@demo.example", DEMO_PASSWORD).await;
    let (ws, shopper, token) = shopper_ws(&app, &m, None).await;
    drop(ws);
    let (_, first) = admin.get(&format!("/api/v1/shoppers/{shopper}")).await;
    let seen = first["last_seen_at"].as_i64().unwrap();
    assert_eq!(seen, first["created_at"].as_i64().unwrap());
    tokio::time::sleep(Duration::from_millis(50)).await;
    // Back on the site the next day: the widget connects with its token.
    let (_ws, again, _) = shopper_ws(&app, &m, Some(&token)).await;
    assert_eq!(again, shopper);
    let later = eventually(&admin, &format!("/api/v1/shoppers/{shopper}"), "last seen to move", |v| {
        v["last_seen_at"].as_i64().unwrap() > seen
    })
    .await;
    assert_eq!(later["created_at"], first["created_at"], "first seen stays");
    app.stop().await;
}

async fn contacts_of(ws: &mut Ws) -> Vec<String> {
    ws.send(json!({"type": "contacts"})).await;
    match ws.until("contacts", |o| matches!(o, Out::Contacts { .. })).await {
        Out::Contacts { contacts } => contacts.into_iter().map(|c| c.shopper_id).collect(),
        _ => unreachable!(),
    }
}

async fn the_expert_who_served_last_becomes_the_contact(b: Backend) {
    let app = TestApp::spawn_demo(b).await;
    let (m, store, dep) = demo_target(&app).await;
    let admin = app.login("admin@demo.example", DEMO_PASSWORD).await;
    let (mut e1, _) = expert_ws(&app, "expert1@demo.example").await;
    let (mut e2, _) = expert_ws(&app, "expert2@demo.example").await;
    let (e1_id, e2_id) = (
        common::demo_expert_id(&app, "expert1@demo.example").await,
        common::demo_expert_id(&app, "expert2@demo.example").await,
    );
    let (mut shopper, shopper_id, token) = shopper_ws(&app, &m, None).await;
    let id = start_chat(&mut shopper, &store, &dep, "Which sofa?").await;
    // Both experts get the offer; expert1 claims, then hands the chat to expert2.
    claim(&mut e1, &id).await;
    assert_eq!(contacts_of(&mut e1).await, vec![shopper_id.clone()]);
    e1.send(json!({"type": "transfer", "conversation_id": id, "expert_id": e2_id}))
        .await;
    e2.until(
        "the transfer",
        |o| matches!(o, Out::Offer { offer } if offer.conversation_id == id && offer.reason == "transfer"),
    )
    .await;
    e2.send(json!({"type": "claim", "conversation_id": id})).await;
    e2.until(
        "claimed",
        |o| matches!(o, Out::Conversation { conversation } if conversation.id == id && conversation.status == "claimed"),
    )
    .await;
    // Expert2 served last: the shopper is now theirs, and no longer in expert1's Contacts.
    assert_eq!(contacts_of(&mut e2).await, vec![shopper_id.clone()]);
    assert!(contacts_of(&mut e1).await.is_empty(), "expert1's Contacts after the transfer");
    let (mid, eid) = (
        floorwalker::ids::MerchantId::parse(&m).unwrap(),
        floorwalker::ids::ExpertId::parse(&e1_id).unwrap(),
    );
    assert_eq!(app.db.count_contacts(&mid, &eid).await.unwrap(), 0);
    // Expert1 may still read the history of a shopper they served.
    e1.send(json!({"type": "history", "shopper_id": shopper_id})).await;
    e1.until("history", |o| matches!(o, Out::History { .. })).await;
    // The merchant sees who the contact is, and who was before.
    let (_, journey) = admin.get(&format!("/api/v1/shoppers/{shopper_id}/journey")).await;
    let contacts = journey["contacts"].as_array().unwrap();
    assert_eq!(contacts.len(), 2, "{journey}");
    assert_eq!(contacts[0]["expert_id"], e2_id.as_str());
    assert!(contacts[0]["until"].is_null());
    assert_eq!(contacts[1]["expert_id"], e1_id.as_str());
    assert_eq!(contacts[1]["expert_name"], "Sara Lind");
    assert!(contacts[1]["until"].as_i64().unwrap() >= contacts[1]["last_chat_at"].as_i64().unwrap());

    // The shopper comes back: expert2 is offered the chat first, as their contact.
    e2.send(json!({"type": "end", "conversation_id": id})).await;
    shopper
        .until(
            "ended",
            |o| matches!(o, Out::Conversation { conversation } if conversation.status == "ended"),
        )
        .await;
    drop(shopper);
    let (mut back, again, _) = shopper_ws(&app, &m, Some(&token)).await;
    assert_eq!(again, shopper_id);
    let id2 = start_chat(&mut back, &store, &dep, "Me again").await;
    let Out::Offer { offer } = e2
        .until(
            "the returning shopper's offer",
            |o| matches!(o, Out::Offer { offer } if offer.conversation_id == id2),
        )
        .await
    else {
        unreachable!()
    };
    assert!(offer.shopper.your_contact && offer.shopper.returning);
    let early = e1.drain(700).await;
    assert!(
        !early
            .iter()
            .any(|o| matches!(o, Out::Offer { offer } if offer.conversation_id == id2)),
        "expert1 is not offered the returning shopper first"
    );
    // Reassigning expert2's contacts (they leave) makes expert1 the contact again.
    let (s, r) = admin
        .post(
            &format!("/api/v1/team/experts/{e2_id}/reassign-contacts"),
            json!({"to_expert_id": e1_id}),
        )
        .await;
    assert_eq!((s, r["moved"].as_i64()), (StatusCode::OK, Some(1)));
    assert_eq!(contacts_of(&mut e1).await, vec![shopper_id.clone()]);
    assert!(contacts_of(&mut e2).await.is_empty());
    app.stop().await;
}

async fn demo_links_are_transliterated(b: Backend) {
    let app = TestApp::spawn_demo(b).await;
    let (m, store, _) = demo_target(&app).await;
    let op = app.login("operator@demo.example", DEMO_PASSWORD).await;
    let (s, d) = op
        .post(
            "/api/v1/demos",
            json!({"prospect_name": "Villa Röd Interiör", "merchant_id": m, "store_id": store}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{d}");
    let slug = d["slug"].as_str().unwrap();
    assert!(slug.starts_with("villa-rod-interior-"), "{slug}");
    let (s, _) = app.client().get(&format!("/demo/{slug}")).await;
    assert_eq!(s, StatusCode::OK);
    app.stop().await;
}

/// Two nodes (PostgreSQL and Redis): the expert is on B, the shopper on A ends the chat; the
/// expert's node counts it and tells them.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_chat_ended_on_another_node_counts_for_the_expert() {
    let redis = common::redis_url();
    let (a, b) = TestApp::demo_cluster(&redis, |_| {}).await;
    let (m, store, dep) = demo_target(&a).await;
    let mut sara = common::expert_at(&b.url, "expert1@demo.example").await;
    // Wait until node A sees the expert on B.
    let deadline = Instant::now() + Duration::from_secs(10);
    while a.hub.available_count(&m, Some(&store), Some(&dep)) == 0 {
        assert!(Instant::now() < deadline, "node A never saw the expert on B");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (mut shopper, _, _) = common::shopper_at(&a.url, &m, None).await;
    let id = start_chat(&mut shopper, &store, &dep, "Across nodes").await;
    assert_eq!(claim_counted(&mut sara, &id).await.active_chats, 1);
    shopper.send(json!({"type": "end", "conversation_id": id})).await;
    assert_eq!(next_status(&mut sara, "status after the end on node A").await.active_chats, 0);
    b.stop().await;
    a.stop().await;
}
