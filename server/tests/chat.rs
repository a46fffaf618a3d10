//! The chat hub over real WebSocket clients, on SQLite and PostgreSQL.

mod common;

use common::{claim, demo_target, expert_ws, request_answer, shopper_ws, start_chat, Backend, TestApp, Ws, DEMO_PASSWORD};
use floorwalker::protocol::Out;
use serde_json::json;
use tokio_tungstenite::tungstenite::Message as WsMessage;

on_both_backends!(
    a_full_chat_from_request_to_rating,
    exactly_one_of_a_hundred_experts_wins_a_claim,
    a_dropped_shopper_resumes_with_nothing_lost_or_doubled,
    resent_messages_are_idempotent_and_conflicts_rejected,
    merchants_never_see_each_others_chats,
    bad_frames_get_clean_errors_and_the_server_stays_healthy,
    foreign_origins_are_refused,
    identify_needs_the_merchants_signature,
    offline_messages_become_queued_conversations,
    transfer_contacts_history_and_saved_replies,
    unclaimed_chats_become_missed,
    deactivation_closes_the_experts_socket,
    the_welcome_comes_first_while_chats_keep_arriving,
    a_routing_pass_that_read_a_chat_before_it_ended_does_not_offer_it,
    an_experts_rapid_answers_in_several_chats_keep_their_order,
    store_edits_reach_the_next_chat_request_at_once,
    a_client_that_stops_reading_is_closed_and_resumes_with_everything,
    under_a_surge_each_expert_is_offered_chats_nobody_else_holds,
    one_waiting_chat_is_still_offered_to_every_eligible_expert,
    an_experts_other_device_sees_their_client_id_and_the_shopper_does_not,
);

async fn a_full_chat_from_request_to_rating(b: Backend) {
    let app = TestApp::spawn_demo(b).await;
    let (m, store, dep) = demo_target(&app).await;
    let (mut expert, _) = expert_ws(&app, "expert1@demo.example").await;
    let (mut shopper, shopper_id, _) = shopper_ws(&app, &m, None).await;
    assert!(shopper_id.starts_with("shp_"));
    let id = start_chat(&mut shopper, &store, &dep, "Is the 55\" in stock?").await;
    let offer = expert.until("offer", |o| matches!(o, Out::Offer { .. })).await;
    let Out::Offer { offer } = offer else { unreachable!() };
    assert_eq!(offer.first_message.as_deref(), Some("Is the 55\" in stock?"));
    assert_eq!(offer.page_url.as_deref(), Some("https://shop.example/tv"));
    expert.send(json!({"type": "claim", "conversation_id": id})).await;
    expert
        .until(
            "claimed",
            |o| matches!(o, Out::Conversation { conversation } if conversation.status == "claimed"),
        )
        .await;
    let c = shopper
        .until(
            "claimed",
            |o| matches!(o, Out::Conversation { conversation } if conversation.status == "claimed"),
        )
        .await;
    let Out::Conversation { conversation } = c else { unreachable!() };
    assert_eq!(conversation.expert.unwrap().name, "Sara Lind");
    // The expert catches up on the transcript, then answers.
    expert.send(json!({"type": "sync", "conversation_id": id, "after_seq": 0})).await;
    let Out::Messages { messages, .. } = expert.until("messages", |o| matches!(o, Out::Messages { .. })).await else {
        unreachable!()
    };
    assert_eq!(messages[0].body, "Is the 55\" in stock?");
    assert_eq!(messages[0].author.role, "shopper");
    expert.send(json!({"type": "send", "conversation_id": id, "client_msg_id": "e1", "body": "<b>Yes</b>, two left!", "author": {"role": "shopper"}})).await;
    let Out::Ack { seq, .. } = expert.until("ack", |o| matches!(o, Out::Ack { .. })).await else {
        unreachable!()
    };
    let Out::Message { message } = shopper
        .until(
            "message",
            |o| matches!(o, Out::Message { message } if message.author.role == "expert"),
        )
        .await
    else {
        unreachable!()
    };
    assert_eq!(message.seq, seq);
    assert_eq!(
        message.body, "<b>Yes</b>, two left!",
        "text is passed through as text; the client renders it as text"
    );
    assert_eq!(message.author.name.as_deref(), Some("Sara Lind"), "the server sets the author");
    assert!(message.client_msg_id.is_none(), "the other side does not see client ids");
    // Typing and read state are relayed.
    shopper.send(json!({"type": "typing", "conversation_id": id, "typing": true})).await;
    expert
        .until(
            "typing",
            |o| matches!(o, Out::Typing { role, typing: true, .. } if role == "shopper"),
        )
        .await;
    shopper.send(json!({"type": "read", "conversation_id": id, "seq": seq})).await;
    expert
        .until(
            "read",
            |o| matches!(o, Out::Read { role, seq: s, .. } if role == "shopper" && *s == seq),
        )
        .await;
    // Read marks are stored a moment later (several receipts in one write); a receipt past the
    // last message or behind the stored mark changes nothing.
    shopper.send(json!({"type": "read", "conversation_id": id, "seq": 0})).await;
    let merchant_id = floorwalker::ids::MerchantId::parse(&m).unwrap();
    let stored = async {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let row = app
                .db
                .conversation(&merchant_id, &floorwalker::ids::ConversationId::parse(&id).unwrap())
                .await
                .unwrap();
            if row.shopper_read_seq == seq || std::time::Instant::now() > deadline {
                return row.shopper_read_seq;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    };
    assert_eq!(stored.await, seq, "the read mark is stored");
    shopper
        .send(json!({"type": "send", "conversation_id": id, "client_msg_id": "s2", "body": "Great, I'll come by"}))
        .await;
    shopper
        .until("ack", |o| matches!(o, Out::Ack { client_msg_id, .. } if client_msg_id == "s2"))
        .await;
    expert
        .until(
            "message",
            |o| matches!(o, Out::Message { message } if message.body == "Great, I'll come by"),
        )
        .await;
    // Rating needs an ended chat.
    shopper.send(json!({"type": "rate", "conversation_id": id, "score": 5})).await;
    shopper
        .until("error", |o| matches!(o, Out::Error { code, .. } if code == "invalid_state"))
        .await;
    shopper.send(json!({"type": "end", "conversation_id": id})).await;
    shopper
        .until(
            "ended",
            |o| matches!(o, Out::Conversation { conversation } if conversation.status == "ended"),
        )
        .await;
    expert
        .until(
            "ended",
            |o| matches!(o, Out::Conversation { conversation } if conversation.status == "ended"),
        )
        .await;
    shopper
        .send(json!({"type": "rate", "conversation_id": id, "score": 5, "comment": "Quick and kind"}))
        .await;
    let Out::Conversation { conversation } = shopper
        .until(
            "rated",
            |o| matches!(o, Out::Conversation { conversation } if conversation.rating.is_some()),
        )
        .await
    else {
        unreachable!()
    };
    assert_eq!(conversation.rating.unwrap().score, 5);
    // Sending into an ended chat is refused.
    shopper
        .send(json!({"type": "send", "conversation_id": id, "client_msg_id": "late", "body": "one more"}))
        .await;
    shopper
        .until("invalid_state", |o| matches!(o, Out::Error { code, .. } if code == "invalid_state"))
        .await;
    // The transcript in the database is exactly what was said, numbered 1..n.
    let merchant = floorwalker::ids::MerchantId::parse(&m).unwrap();
    let all = app
        .db
        .messages_after(&merchant, &floorwalker::ids::ConversationId::parse(&id).unwrap(), 0, 100)
        .await
        .unwrap();
    let seqs: Vec<i64> = all.iter().map(|m| m.seq).collect();
    assert_eq!(seqs, (1..=all.len() as i64).collect::<Vec<_>>());
    assert!(all.iter().any(|m| m.kind == "system" && m.body == "expert_joined"));
    // Contacts: the claim made the shopper the expert's contact.
    let sid = floorwalker::ids::ExpertId::parse(offer_expert(&app, "expert1@demo.example").await.as_str()).unwrap();
    assert_eq!(app.db.count_contacts(&merchant, &sid).await.unwrap(), 1);
    // Every transition was recorded as an event (written off the message path, a moment later).
    for kind in ["requested", "offered", "claimed", "ended", "rated"] {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while app.db.count_events(&merchant, kind).await.unwrap() == 0 {
            assert!(std::time::Instant::now() < deadline, "no {kind} event");
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
    app.stop().await;
}

async fn offer_expert(app: &TestApp, email: &str) -> String {
    let c = app.client();
    let (_, b) = c
        .post("/api/v1/app/login", json!({"email": email, "password": DEMO_PASSWORD}))
        .await;
    b["expert"]["id"].as_str().unwrap().to_owned()
}

async fn exactly_one_of_a_hundred_experts_wins_a_claim(b: Backend) {
    let app = TestApp::spawn_demo(b).await;
    let (m, store, dep) = demo_target(&app).await;
    let merchant = floorwalker::ids::MerchantId::parse(&m).unwrap();
    let hash = floorwalker::auth::hash_password(DEMO_PASSWORD.into()).await.unwrap();
    let sid = floorwalker::ids::StoreId::parse(&store).unwrap();
    let did = floorwalker::ids::DepartmentId::parse(&dep).unwrap();
    let mut experts = Vec::new();
    for i in 0..100 {
        let e = app
            .db
            .create_expert(
                &merchant,
                &floorwalker::storage::NewExpert {
                    email: &format!("racer{i}@demo.example"),
                    name: &format!("Racer {i}"),
                    password_hash: &hash,
                    status: floorwalker::domain::team::ExpertStatus::Pending,
                },
            )
            .await
            .unwrap();
        app.db
            .expert_action(&merchant, &e.id, floorwalker::domain::team::ExpertAction::Approve)
            .await
            .unwrap();
        let e = app
            .db
            .set_assignments(&merchant, &e.id, std::slice::from_ref(&sid), std::slice::from_ref(&did))
            .await
            .unwrap();
        let token = floorwalker::auth::new_token(floorwalker::auth::EXPERT_TOKEN_PREFIX);
        app.db
            .create_expert_token(&e, &floorwalker::auth::token_hash(&token), 60_000)
            .await
            .unwrap();
        let mut ws = Ws::expert(&app).await;
        ws.send(json!({"type": "hello", "token": token})).await;
        ws.until("welcome", |o| matches!(o, Out::ExpertWelcome { .. })).await;
        experts.push((e.id.to_string(), ws));
    }
    let (mut shopper, _, _) = shopper_ws(&app, &m, None).await;
    let id = start_chat(&mut shopper, &store, &dep, "Who's first?").await;
    for (_, ws) in experts.iter_mut() {
        ws.until("offer", |o| matches!(o, Out::Offer { offer } if offer.conversation_id == id))
            .await;
    }
    // Everyone claims at once.
    let claim = json!({"type": "claim", "conversation_id": id}).to_string();
    futures::future::join_all(experts.iter_mut().map(|(_, ws)| ws.send_raw(WsMessage::Text(claim.clone().into())))).await;
    let mut winners = Vec::new();
    for (eid, ws) in experts.iter_mut() {
        let r = ws
            .until("claim result", |o| {
                matches!(o, Out::ClaimFailed { .. })
                    || matches!(o, Out::Conversation { conversation } if conversation.status == "claimed")
                    || matches!(o, Out::OfferWithdrawn { reason, .. } if reason == "claimed")
            })
            .await;
        if let Out::Conversation { conversation } = r {
            if conversation.expert.as_ref().map(|e| e.id.as_str()) == Some(eid.as_str()) {
                winners.push(eid.clone());
            }
        }
    }
    assert_eq!(winners.len(), 1, "exactly one winner: {winners:?}");
    let row = app
        .db
        .conversation(&merchant, &floorwalker::ids::ConversationId::parse(&id).unwrap())
        .await
        .unwrap();
    assert_eq!(row.expert_id.as_deref(), Some(winners[0].as_str()));
    app.stop().await;
}

async fn a_dropped_shopper_resumes_with_nothing_lost_or_doubled(b: Backend) {
    let app = TestApp::spawn_demo(b).await;
    let (m, store, dep) = demo_target(&app).await;
    let (mut expert, _) = expert_ws(&app, "expert2@demo.example").await;
    let (mut shopper, shopper_id, token) = shopper_ws(&app, &m, None).await;
    let id = start_chat(&mut shopper, &store, &dep, "hello").await;
    claim(&mut expert, &id).await;
    let mut last_seen = 1;
    for i in 0..5 {
        shopper
            .send(json!({"type": "send", "conversation_id": id, "client_msg_id": format!("s{i}"), "body": format!("msg {i}")}))
            .await;
        if let Out::Ack { seq, .. } = shopper.until("ack", |o| matches!(o, Out::Ack { .. })).await {
            last_seen = last_seen.max(seq);
        }
    }
    // The shopper sends one more and drops before reading its ack; the expert keeps writing.
    shopper
        .send(json!({"type": "send", "conversation_id": id, "client_msg_id": "lost-ack", "body": "did you get this?"}))
        .await;
    drop(shopper);
    for i in 0..3 {
        expert
            .send(json!({"type": "send", "conversation_id": id, "client_msg_id": format!("e{i}"), "body": format!("reply {i}")}))
            .await;
        expert
            .until(
                "ack",
                |o| matches!(o, Out::Ack { client_msg_id, .. } if *client_msg_id == format!("e{i}")),
            )
            .await;
    }
    // Back with the same token: same shopper, the conversation is listed, sync fills the gap.
    let (mut again, same_id, _) = shopper_ws(&app, &m, Some(&token)).await;
    assert_eq!(same_id, shopper_id);
    again
        .send(json!({"type": "sync", "conversation_id": id, "after_seq": last_seen}))
        .await;
    let Out::Messages { messages, last_seq, .. } = again.until("messages", |o| matches!(o, Out::Messages { .. })).await else {
        unreachable!()
    };
    let seqs: Vec<i64> = messages.iter().map(|m| m.seq).collect();
    assert_eq!(
        seqs,
        ((last_seen + 1)..=last_seq).collect::<Vec<_>>(),
        "exactly what was missed, in order"
    );
    let bodies: Vec<&str> = messages.iter().map(|m| m.body.as_str()).collect();
    for want in ["reply 0", "reply 1", "reply 2"] {
        assert!(bodies.contains(&want), "{want} missing from {bodies:?}");
    }
    // Resending the message whose ack was lost gives the original seq; nothing is doubled.
    let stored = messages.iter().find(|m| m.client_msg_id.as_deref() == Some("lost-ack"));
    again
        .send(json!({"type": "send", "conversation_id": id, "client_msg_id": "lost-ack", "body": "did you get this?"}))
        .await;
    let Out::Ack { seq, .. } = again.until("ack", |o| matches!(o, Out::Ack { .. })).await else {
        unreachable!()
    };
    if let Some(s) = stored {
        assert_eq!(s.seq, seq);
    }
    let merchant = floorwalker::ids::MerchantId::parse(&m).unwrap();
    let all = app
        .db
        .messages_after(&merchant, &floorwalker::ids::ConversationId::parse(&id).unwrap(), 0, 1000)
        .await
        .unwrap();
    assert_eq!(all.iter().filter(|m| m.body == "did you get this?").count(), 1);
    // The expert saw every shopper message exactly once, in order.
    let got = expert.drain(300).await;
    let _ = got;
    app.stop().await;
}

async fn resent_messages_are_idempotent_and_conflicts_rejected(b: Backend) {
    let app = TestApp::spawn_demo(b).await;
    let (m, store, dep) = demo_target(&app).await;
    let (_expert, _) = expert_ws(&app, "expert1@demo.example").await;
    let (mut shopper, _, _) = shopper_ws(&app, &m, None).await;
    let id = start_chat(&mut shopper, &store, &dep, "hi").await;
    let mut seqs = Vec::new();
    for _ in 0..3 {
        shopper
            .send(json!({"type": "send", "conversation_id": id, "client_msg_id": "same", "body": "once"}))
            .await;
        if let Out::Ack { seq, .. } = shopper.until("ack", |o| matches!(o, Out::Ack { .. })).await {
            seqs.push(seq);
        }
    }
    assert_eq!(seqs, vec![seqs[0]; 3]);
    shopper
        .send(json!({"type": "send", "conversation_id": id, "client_msg_id": "same", "body": "different"}))
        .await;
    shopper
        .until("conflict", |o| matches!(o, Out::Error { code, .. } if code == "conflict"))
        .await;
    let merchant = floorwalker::ids::MerchantId::parse(&m).unwrap();
    assert_eq!(
        app.db
            .conversation(&merchant, &floorwalker::ids::ConversationId::parse(&id).unwrap())
            .await
            .unwrap()
            .last_seq,
        2
    );
    app.stop().await;
}

async fn merchants_never_see_each_others_chats(b: Backend) {
    let app = TestApp::spawn_demo(b).await;
    let (m, store, dep) = demo_target(&app).await;
    let op = app.login("operator@demo.example", DEMO_PASSWORD).await;
    let (other_m, other_admin) = app.merchant(&op, "Other Shop").await;
    let (_, other_store) = other_admin.post("/api/v1/stores", json!({"name": "O", "timezone": "UTC", "hours": {"monday": [{"open":"00:00","close":"24:00"}], "tuesday": [{"open":"00:00","close":"24:00"}], "wednesday": [{"open":"00:00","close":"24:00"}], "thursday": [{"open":"00:00","close":"24:00"}], "friday": [{"open":"00:00","close":"24:00"}], "saturday": [{"open":"00:00","close":"24:00"}], "sunday": [{"open":"00:00","close":"24:00"}]}, "departments": ["D"]})).await;
    let (_, code) = other_admin.get("/api/v1/team/invite-code").await;
    let (_, signed) = app
        .client()
        .post(
            "/api/v1/app/signup",
            json!({"invite_code": code["invite_code"], "email": "b-expert@other.example", "name": "B", "password": DEMO_PASSWORD}),
        )
        .await;
    let bid = signed["expert"]["id"].as_str().unwrap();
    other_admin.post(&format!("/api/v1/team/experts/{bid}/approve"), json!({})).await;
    other_admin
        .call(
            reqwest::Method::PUT,
            &format!("/api/v1/team/experts/{bid}/assignments"),
            Some(json!({"store_ids": [other_store["id"]], "department_ids": [other_store["departments"][0]["id"]]})),
        )
        .await;
    let mut b_expert = Ws::expert(&app).await;
    b_expert.send(json!({"type": "hello", "token": signed["token"]})).await;
    let Out::ExpertWelcome { offers, .. } = b_expert.recv().await else {
        panic!("welcome")
    };
    assert!(offers.is_empty());
    let (_a_expert, _) = expert_ws(&app, "expert1@demo.example").await;
    // A chat at merchant A is never offered to B's expert.
    let (mut a_shopper, _, a_token) = shopper_ws(&app, &m, None).await;
    let id = start_chat(&mut a_shopper, &store, &dep, "private").await;
    let seen = b_expert.drain(1500).await;
    assert!(seen.iter().all(|o| !matches!(o, Out::Offer { .. })), "B's expert got: {seen:?}");
    b_expert.send(json!({"type": "claim", "conversation_id": id})).await;
    b_expert
        .until("claim failed", |o| matches!(o, Out::ClaimFailed { reason, .. } if reason == "gone"))
        .await;
    b_expert.send(json!({"type": "sync", "conversation_id": id, "after_seq": 0})).await;
    b_expert
        .until("not_found", |o| matches!(o, Out::Error { code, .. } if code == "not_found"))
        .await;
    // A's shopper token means nothing at B: B issues a different shopper.
    let (mut b_shopper, b_shopper_id, _) = shopper_ws(&app, &other_m, Some(&a_token)).await;
    assert!(!a_token.starts_with(&b_shopper_id));
    b_shopper.send(json!({"type": "sync", "conversation_id": id, "after_seq": 0})).await;
    b_shopper
        .until("not_found", |o| matches!(o, Out::Error { code, .. } if code == "not_found"))
        .await;
    b_shopper
        .send(json!({"type": "send", "conversation_id": id, "client_msg_id": "x", "body": "intrude"}))
        .await;
    b_shopper
        .until("not_found", |o| matches!(o, Out::Error { code, .. } if code == "not_found"))
        .await;
    // A's department cannot be requested at B.
    b_shopper
        .send(json!({"type": "request_chat", "store_id": store, "department_id": dep, "text": "x"}))
        .await;
    b_shopper
        .until("bad_request", |o| matches!(o, Out::Error { code, .. } if code == "bad_request"))
        .await;
    let merchant = floorwalker::ids::MerchantId::parse(&m).unwrap();
    assert_eq!(
        app.db
            .conversation(&merchant, &floorwalker::ids::ConversationId::parse(&id).unwrap())
            .await
            .unwrap()
            .last_seq,
        1,
        "nothing was written into A's chat"
    );
    app.stop().await;
}

async fn bad_frames_get_clean_errors_and_the_server_stays_healthy(b: Backend) {
    let app = TestApp::spawn_demo(b).await;
    let (m, _, _) = demo_target(&app).await;
    // A frame before hello closes with a protocol error.
    let mut ws = Ws::shopper(&app, &m).await;
    ws.send(json!({"type": "send", "conversation_id": "x", "client_msg_id": "y", "body": "z"}))
        .await;
    ws.until("error", |o| matches!(o, Out::Error { .. })).await;
    assert_eq!(ws.close_code().await, Some(4400));
    // Garbage after hello: an error per frame, and after ten in a row, a close.
    let (mut ws, _, _) = shopper_ws(&app, &m, None).await;
    ws.send_raw(WsMessage::Text("{not json".into())).await;
    ws.until("error", |o| matches!(o, Out::Error { code, .. } if code == "bad_request"))
        .await;
    ws.send(json!({"type": "fly_to_the_moon"})).await;
    ws.until("error", |o| matches!(o, Out::Error { code, .. } if code == "bad_request"))
        .await;
    ws.send(json!({"type": "send", "conversation_id": "x", "client_msg_id": "", "body": "z"}))
        .await;
    ws.until("error", |o| matches!(o, Out::Error { code, .. } if code == "bad_request"))
        .await;
    ws.send(json!({"type": "send", "conversation_id": "x", "client_msg_id": "big", "body": "x".repeat(4001)}))
        .await;
    ws.until("too_large", |o| matches!(o, Out::Error { code, .. } if code == "too_large"))
        .await;
    for _ in 0..10 {
        ws.send_raw(WsMessage::Text("[]".into())).await;
    }
    assert_eq!(ws.close_code().await, Some(4400));
    // An oversized frame closes the socket (1009, or the connection is dropped).
    let (mut ws, _, _) = shopper_ws(&app, &m, None).await;
    ws.send_raw(WsMessage::Text("x".repeat(64 * 1024).into())).await;
    let code = ws.close_code().await;
    assert!(code.is_none() || code == Some(1009), "{code:?}");
    // Unknown merchant and bad version close at once.
    let mut ws = Ws::shopper(&app, "mer_00000000000000000000000000000000").await;
    assert_eq!(ws.close_code().await, Some(4004));
    let mut ws = Ws::connect(&format!("{}/ws/shopper?merchant={m}&v=9", app.url.replace("http", "ws")), None).await;
    assert_eq!(ws.close_code().await, Some(4426));
    // A bad expert token is refused.
    let mut ws = Ws::expert(&app).await;
    ws.send(json!({"type": "hello", "token": "fwe_forged"})).await;
    assert_eq!(ws.close_code().await, Some(4001));
    // Flooding is answered with rate_limited.
    let (mut ws, _, _) = shopper_ws(&app, &m, None).await;
    for _ in 0..60 {
        ws.send(json!({"type": "ping"})).await;
    }
    ws.until("rate_limited", |o| matches!(o, Out::Error { code, .. } if code == "rate_limited"))
        .await;
    // And the server is fine.
    assert_eq!(app.client().get("/healthz").await.0, reqwest::StatusCode::OK);
    let (mut ok, _, _) = shopper_ws(&app, &m, None).await;
    ok.send(json!({"type": "ping"})).await;
    assert!(matches!(ok.recv().await, Out::Pong));
    app.stop().await;
}

async fn foreign_origins_are_refused(b: Backend) {
    let app = TestApp::spawn_demo(b).await;
    let (m, _, _) = demo_target(&app).await;
    let url = format!("{}/ws/shopper?merchant={m}&v=1", app.url.replace("http", "ws"));
    let mut evil = Ws::connect(&url, Some("https://evil.example")).await;
    assert_eq!(evil.close_code().await, Some(4003));
    // The demo allows its own origin.
    let mut ok = Ws::connect(&url, Some("http://127.0.0.1:8080")).await;
    ok.send(json!({"type": "hello"})).await;
    assert!(matches!(ok.recv().await, Out::ShopperWelcome { .. }));
    app.stop().await;
}

async fn offline_messages_become_queued_conversations(b: Backend) {
    let app = TestApp::spawn_demo(b).await;
    let (m, store, dep) = demo_target(&app).await;
    let (mut shopper, _, _) = shopper_ws(&app, &m, None).await;
    // Nobody is online: asking for a chat says so and points to the offline form.
    shopper
        .send(json!({"type": "request_chat", "store_id": store, "department_id": dep}))
        .await;
    shopper
        .until(
            "unavailable",
            |o| matches!(o, Out::Unavailable { reason, offline_form: true } if reason == "no_experts"),
        )
        .await;
    shopper
        .send(json!({"type": "offline_message", "email": "not-an-email", "body": "x"}))
        .await;
    shopper
        .until("bad_request", |o| matches!(o, Out::Error { code, .. } if code == "bad_request"))
        .await;
    shopper.send(json!({"type": "offline_message", "email": "ada@example.com", "name": "Ada", "body": "Call me about the sofa", "store_id": store, "department_id": dep})).await;
    let Out::OfflineAck { conversation_id } = shopper.until("offline_ack", |o| matches!(o, Out::OfflineAck { .. })).await else {
        unreachable!()
    };
    // An expert who comes online later gets it in their backlog.
    let (_, welcome) = expert_ws(&app, "expert1@demo.example").await;
    let Out::ExpertWelcome { offers, .. } = welcome else {
        unreachable!()
    };
    let offer = offers
        .iter()
        .find(|o| o.conversation_id == conversation_id)
        .expect("offline chat offered");
    assert!(offer.offline);
    assert_eq!(offer.first_message.as_deref(), Some("Call me about the sofa"));
    assert_eq!(offer.shopper.name.as_deref(), Some("Ada"));
    app.stop().await;
}

async fn transfer_contacts_history_and_saved_replies(b: Backend) {
    let app = TestApp::spawn_demo(b).await;
    let (m, store, dep) = demo_target(&app).await;
    let (mut e1, _) = expert_ws(&app, "expert1@demo.example").await;
    let (mut shopper, shopper_id, _) = shopper_ws(&app, &m, None).await;
    let id = start_chat(&mut shopper, &store, &dep, "I need a sofa").await;
    claim(&mut e1, &id).await;
    e1.send(json!({"type": "saved_replies", "q": "/hour"})).await;
    let Out::SavedReplies { items } = e1.until("saved replies", |o| matches!(o, Out::SavedReplies { .. })).await else {
        unreachable!()
    };
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].shortcut, "hours");
    e1.send(json!({"type": "send", "conversation_id": id, "client_msg_id": "p1", "body": "", "product": {"name": "Sofa Lund", "price": 7990, "currency": "SEK", "url": "https://shop.example/sofa"}})).await;
    e1.until("ack", |o| matches!(o, Out::Ack { .. })).await;
    let Out::Message { message } = shopper
        .until(
            "product card",
            |o| matches!(o, Out::Message { message } if message.kind == "product"),
        )
        .await
    else {
        unreachable!()
    };
    assert_eq!(message.product.unwrap().name, "Sofa Lund");
    e1.send(json!({"type": "send", "conversation_id": id, "client_msg_id": "p2", "body": "x", "product": {"name": "Bad", "url": "javascript:alert(1)"}})).await;
    e1.until("bad product", |o| matches!(o, Out::Error { code, .. } if code == "bad_request"))
        .await;
    // Contacts and history.
    e1.send(json!({"type": "contacts"})).await;
    let Out::Contacts { contacts } = e1.until("contacts", |o| matches!(o, Out::Contacts { .. })).await else {
        unreachable!()
    };
    assert!(contacts.iter().any(|c| c.shopper_id == shopper_id));
    e1.send(json!({"type": "history", "shopper_id": shopper_id})).await;
    let Out::History { conversations, .. } = e1.until("history", |o| matches!(o, Out::History { .. })).await else {
        unreachable!()
    };
    assert_eq!(conversations[0].conversation.id, id);
    assert!(conversations[0].messages.iter().any(|m| m.body == "I need a sofa"));
    // Transfer to a named colleague with a note: only they get the offer.
    let (mut e2, _) = expert_ws(&app, "expert2@demo.example").await;
    let (mut e3, _) = expert_ws(&app, "expert3@demo.example").await;
    let e2_id = offer_expert(&app, "expert2@demo.example").await;
    let (_, w) = expert_ws(&app, "expert1@demo.example").await;
    let Out::ExpertWelcome { colleagues, .. } = w else { unreachable!() };
    assert!(
        colleagues.iter().any(|c| c.id == e2_id),
        "colleagues are listed for named transfers"
    );
    e1.send(json!({"type": "transfer", "conversation_id": id, "expert_id": e2_id, "note": "Wants the grey one"}))
        .await;
    e1.until(
        "no longer mine",
        |o| matches!(o, Out::Conversation { conversation } if conversation.id == id && conversation.status == "queued"),
    )
    .await;
    let Out::Offer { offer } = e2
        .until(
            "transfer offer",
            |o| matches!(o, Out::Offer { offer } if offer.conversation_id == id),
        )
        .await
    else {
        unreachable!()
    };
    assert_eq!(offer.reason, "transfer");
    assert_eq!(offer.note.as_deref(), Some("Wants the grey one"));
    let e3_frames = e3.drain(500).await;
    assert!(
        !e3_frames
            .iter()
            .any(|o| matches!(o, Out::Offer { offer } if offer.conversation_id == id)),
        "only the named expert"
    );
    e3.send(json!({"type": "claim", "conversation_id": id})).await;
    e3.until(
        "not eligible",
        |o| matches!(o, Out::ClaimFailed { reason, .. } if reason == "not_eligible"),
    )
    .await;
    e2.send(json!({"type": "claim", "conversation_id": id})).await;
    e2.until(
        "claimed",
        |o| matches!(o, Out::Conversation { conversation } if conversation.status == "claimed"),
    )
    .await;
    shopper
        .until(
            "new expert",
            |o| matches!(o, Out::Conversation { conversation } if conversation.expert.as_ref().is_some_and(|e| e.id == e2_id)),
        )
        .await;
    // History is refused when Contacts is off.
    let admin = app.login("admin@demo.example", DEMO_PASSWORD).await;
    let e3_id = offer_expert(&app, "expert3@demo.example").await;
    admin
        .call(
            reqwest::Method::PATCH,
            &format!("/api/v1/team/experts/{e3_id}"),
            Some(json!({"features": {"contacts": false, "product_sharing": true, "transfers": true}})),
        )
        .await;
    let (mut e3b, _) = expert_ws(&app, "expert3@demo.example").await;
    e3b.send(json!({"type": "contacts"})).await;
    e3b.until("forbidden", |o| matches!(o, Out::Error { code, .. } if code == "forbidden"))
        .await;
    app.stop().await;
}

async fn unclaimed_chats_become_missed(b: Backend) {
    let app = TestApp::spawn_demo(b).await;
    let (m, store, dep) = demo_target(&app).await;
    let admin = app.login("admin@demo.example", DEMO_PASSWORD).await;
    let (_, mut routing) = admin.get("/api/v1/settings/routing").await;
    routing["missed_after_s"] = json!(10);
    routing["reoffer_every_s"] = json!(5);
    assert_eq!(
        admin.call(reqwest::Method::PUT, "/api/v1/settings/routing", Some(routing)).await.0,
        reqwest::StatusCode::OK
    );
    tokio::time::sleep(std::time::Duration::from_millis(5200)).await; // the hub caches settings for 5 s
    let (mut expert, _) = expert_ws(&app, "expert1@demo.example").await;
    let (mut shopper, _, _) = shopper_ws(&app, &m, None).await;
    let id = start_chat(&mut shopper, &store, &dep, "anyone?").await;
    shopper
        .until("queue position", |o| matches!(o, Out::Queue { position: 1, .. }))
        .await;
    expert
        .until("offer", |o| matches!(o, Out::Offer { offer } if offer.reason == "new"))
        .await;
    expert
        .until("re-offer", |o| matches!(o, Out::Offer { offer } if offer.reason == "reoffer"))
        .await;
    shopper
        .until_within(
            "missed",
            std::time::Duration::from_secs(14),
            |o| matches!(o, Out::Conversation { conversation } if conversation.status == "missed"),
        )
        .await;
    expert
        .until(
            "withdrawn",
            |o| matches!(o, Out::OfferWithdrawn { reason, conversation_id } if reason == "missed" && *conversation_id == id),
        )
        .await;
    app.stop().await;
}

async fn deactivation_closes_the_experts_socket(b: Backend) {
    let app = TestApp::spawn_demo(b).await;
    let (mut ws, _) = expert_ws(&app, "expert4@demo.example").await;
    let admin = app.login("admin@demo.example", DEMO_PASSWORD).await;
    let id = offer_expert(&app, "expert4@demo.example").await;
    let (s, _) = admin.post(&format!("/api/v1/team/experts/{id}/deactivate"), json!({})).await;
    assert_eq!(s, reqwest::StatusCode::OK);
    assert_eq!(ws.close_code().await, Some(4001));
    app.stop().await;
}

async fn identify_needs_the_merchants_signature(b: Backend) {
    use hmac::{Hmac, Mac};
    let app = TestApp::spawn_demo(b).await;
    let (m, _, _) = demo_target(&app).await;
    let admin = app.login("admin@demo.example", DEMO_PASSWORD).await;
    let (_, secret) = admin.get("/api/v1/identity-secret").await;
    let secret = secret["identity_secret"].as_str().unwrap().to_owned();
    let (mut shopper, shopper_id, _) = shopper_ws(&app, &m, None).await;
    shopper
        .send(json!({"type": "identify", "email": "ada@example.com", "name": "Ada", "signature": "00ff"}))
        .await;
    shopper
        .until("forbidden", |o| matches!(o, Out::Error { code, .. } if code == "forbidden"))
        .await;
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(b"ada@example.com");
    let sig: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
    shopper
        .send(json!({"type": "identify", "email": "ada@example.com", "name": "Ada", "signature": sig}))
        .await;
    shopper
        .until(
            "identified",
            |o| matches!(o, Out::Identified { email, .. } if email == "ada@example.com"),
        )
        .await;
    let (_, who) = admin.get(&format!("/api/v1/shoppers/{shopper_id}")).await;
    assert_eq!(who["name"], "Ada");
    // A rotated secret invalidates old signatures.
    admin.post("/api/v1/identity-secret", json!({})).await;
    shopper
        .send(json!({"type": "identify", "email": "ada@example.com", "name": "Ada", "signature": sig}))
        .await;
    shopper
        .until("forbidden", |o| matches!(o, Out::Error { code, .. } if code == "forbidden"))
        .await;
    app.stop().await;
}

/// The welcome is an expert socket's first frame even when offers are being made at that very
/// moment (before, an offer could overtake it and a client would take the hello for failed).
async fn the_welcome_comes_first_while_chats_keep_arriving(b: Backend) {
    let app = TestApp::spawn_demo(b).await;
    let (m, store, dep) = demo_target(&app).await;
    let mut tokens = Vec::new();
    for email in ["expert1@demo.example", "expert2@demo.example"] {
        let (_, body) = app
            .client()
            .post("/api/v1/app/login", json!({"email": email, "password": DEMO_PASSWORD}))
            .await;
        tokens.push(body["token"].as_str().unwrap().to_owned());
    }
    // Four shoppers keep requesting chats and leaving them, so offers are made all the time
    // (and the queue stays short enough for the experts to have room for them). A third expert
    // stays online throughout, so the store counts as staffed.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (mut staff, _) = expert_ws(&app, "expert3@demo.example").await;
    let staffed = {
        let stop = stop.clone();
        tokio::spawn(async move {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                staff.drain(50).await;
            }
        })
    };
    let mut churn = Vec::new();
    for i in 0..4u64 {
        let (stop, store, dep) = (stop.clone(), store.clone(), dep.clone());
        let url = format!("{}/ws/shopper?merchant={m}&v=1", app.url.replace("http", "ws"));
        churn.push(tokio::spawn(async move {
            let mut n = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let mut shopper = Ws::connect(&url, None).await;
                shopper.send(json!({"type": "hello"})).await;
                shopper.until("welcome", |o| matches!(o, Out::ShopperWelcome { .. })).await;
                shopper
                    .send(json!({"type": "request_chat", "store_id": store, "department_id": dep, "text": format!("churn {i}"), "client_msg_id": "first"}))
                    .await;
                // Only the churn matters here, not each chat's fate.
                let answer = shopper
                    .until_within("an answer", std::time::Duration::from_secs(5), |o| {
                        matches!(o, Out::Conversation { .. } | Out::Unavailable { .. } | Out::Error { .. })
                    })
                    .await;
                let Out::Conversation { conversation } = answer else { continue };
                shopper.send(json!({"type": "end", "conversation_id": conversation.id})).await;
                shopper.drain(20).await;
                n += 1;
                tokio::time::sleep(std::time::Duration::from_millis(20 + 10 * i)).await;
            }
            n
        }));
    }
    let mut offers_seen = 0;
    for round in 0..40 {
        let mut ws = Ws::expert(&app).await;
        ws.send(json!({"type": "hello", "token": tokens[round % tokens.len()]})).await;
        let first = ws.recv().await;
        assert!(matches!(first, Out::ExpertWelcome { .. }), "round {round}: first frame {first:?}");
        if let Out::ExpertWelcome { offers, .. } = &first {
            offers_seen += offers.len();
        }
        offers_seen += ws.drain(30).await.iter().filter(|o| matches!(o, Out::Offer { .. })).count();
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut chats = 0;
    for c in churn {
        chats += c.await.unwrap();
    }
    staffed.await.unwrap();
    assert!(chats >= 8, "the shoppers kept chats coming ({chats})");
    assert!(offers_seen > 0, "the experts were offered those chats");
    app.stop().await;
}

/// A routing pass reads the waiting chats, then offers them; a chat that is ended (or claimed)
/// in between must not be offered afterwards: the expert would hold an offer for a chat that is
/// gone, with no withdrawal to follow. The pass is driven by hand with the row read before the
/// end, so the race is not left to timing.
async fn a_routing_pass_that_read_a_chat_before_it_ended_does_not_offer_it(b: Backend) {
    let app = TestApp::spawn_demo(b).await;
    let (m, store, dep) = demo_target(&app).await;
    let (mut expert, _) = expert_ws(&app, "expert1@demo.example").await;
    let (mut shopper, _, _) = shopper_ws(&app, &m, None).await;
    let id = start_chat(&mut shopper, &store, &dep, "still there?").await;
    expert
        .until("offer", |o| matches!(o, Out::Offer { offer } if offer.conversation_id == id))
        .await;
    let merchant = floorwalker::ids::MerchantId::from_db(m.clone());
    let read_before = app
        .db
        .conversation(&merchant, &floorwalker::ids::ConversationId::parse(&id).unwrap())
        .await
        .unwrap();
    assert!(read_before.is_waiting());
    shopper.send(json!({"type": "end", "conversation_id": id})).await;
    expert
        .until(
            "withdrawn",
            |o| matches!(o, Out::OfferWithdrawn { conversation_id, .. } if *conversation_id == id),
        )
        .await;
    // The late half of a pass that read the chat before it ended.
    app.hub.offer_round(&read_before, "reoffer", true).await;
    let after = expert.drain(700).await;
    assert!(
        !after
            .iter()
            .any(|o| matches!(o, Out::Offer { offer } if offer.conversation_id == id)),
        "an ended chat was offered again: {after:?}"
    );
    // A chat that really waits is still offered.
    let (mut other, _, _) = shopper_ws(&app, &m, None).await;
    let next = start_chat(&mut other, &store, &dep, "and me?").await;
    expert
        .until("offer", |o| matches!(o, Out::Offer { offer } if offer.conversation_id == next))
        .await;
    app.stop().await;
}

/// An expert's socket reads its next frame while an earlier answer is still being stored, so
/// answers in several chats do not queue behind each other's commits: every one is still
/// acknowledged after it is stored, numbered in the order sent, and shown in that order. Read
/// receipts for the expert's own chats are relayed; one for a chat that is not theirs is refused.
async fn an_experts_rapid_answers_in_several_chats_keep_their_order(b: Backend) {
    let app = TestApp::spawn_demo(b).await;
    let (m, store, dep) = demo_target(&app).await;
    let (mut expert, _) = expert_ws(&app, "expert1@demo.example").await;
    let (mut one, _, _) = shopper_ws(&app, &m, None).await;
    let (mut two, _, _) = shopper_ws(&app, &m, None).await;
    let (mut stranger, _, _) = shopper_ws(&app, &m, None).await;
    let c1 = start_chat(&mut one, &store, &dep, "first chat").await;
    claim(&mut expert, &c1).await;
    let c2 = start_chat(&mut two, &store, &dep, "second chat").await;
    claim(&mut expert, &c2).await;
    let other = start_chat(&mut stranger, &store, &dep, "not claimed").await;
    // The "expert joined" lines are stored first, so the answers below are numbered back to back.
    for shopper in [&mut one, &mut two] {
        shopper
            .until(
                "joined",
                |o| matches!(o, Out::Message { message } if message.author.role == "system"),
            )
            .await;
    }

    // Twenty answers sent back to back, alternating between the two chats, without waiting.
    for i in 0..20 {
        let c = if i % 2 == 0 { &c1 } else { &c2 };
        expert
            .send(json!({"type": "send", "conversation_id": c, "client_msg_id": format!("a{i}"), "body": format!("answer {i}")}))
            .await;
    }
    let mut acked: Vec<(String, String, i64)> = Vec::new();
    while acked.len() < 20 {
        if let Out::Ack {
            conversation_id,
            client_msg_id,
            seq,
            ..
        } = expert.recv().await
        {
            acked.push((conversation_id.into(), client_msg_id, seq));
        }
    }
    for c in [&c1, &c2] {
        let mine: Vec<(&str, i64)> = acked.iter().filter(|a| &a.0 == c).map(|a| (a.1.as_str(), a.2)).collect();
        assert_eq!(mine.len(), 10, "{acked:?}");
        let sent: Vec<String> = (0..20).filter(|i| (i % 2 == 0) == (c == &c1)).map(|i| format!("a{i}")).collect();
        assert_eq!(mine.iter().map(|x| x.0).collect::<Vec<_>>(), sent, "acks in the order sent");
        assert!(
            mine.windows(2).all(|w| w[1].1 == w[0].1 + 1),
            "numbered in the order sent: {mine:?}"
        );
    }
    for (shopper, c, first) in [(&mut one, &c1, 0), (&mut two, &c2, 1)] {
        let mut bodies = Vec::new();
        while bodies.len() < 10 {
            if let Out::Message { message } = shopper.recv().await {
                if message.author.role == "expert" && message.conversation_id == *c {
                    bodies.push(message.body);
                }
            }
        }
        let expected: Vec<String> = (0..10).map(|k| format!("answer {}", first + 2 * k)).collect();
        assert_eq!(bodies, expected);
    }

    // A receipt for the expert's own chat reaches its shopper; one for a chat that is not theirs
    // is refused and relayed to nobody.
    let last = acked.iter().filter(|a| a.0 == c1).map(|a| a.2).max().unwrap();
    expert.send(json!({"type": "read", "conversation_id": c1, "seq": 1})).await;
    one.until("read", |o| matches!(o, Out::Read { role, seq: 1, .. } if role == "expert"))
        .await;
    expert.send(json!({"type": "read", "conversation_id": other, "seq": 1})).await;
    expert
        .until(
            "refused",
            |o| matches!(o, Out::Error { code, .. } if code == "invalid_state" || code == "not_found"),
        )
        .await;
    let seen = stranger.drain(500).await;
    assert!(seen.iter().all(|o| !matches!(o, Out::Read { .. })), "{seen:?}");
    // A receipt past the last message is held to it.
    expert.send(json!({"type": "read", "conversation_id": c1, "seq": last + 50})).await;
    one.until(
        "read",
        |o| matches!(o, Out::Read { role, seq, .. } if role == "expert" && *seq == last),
    )
    .await;
}

/// Routing reads stores and departments from a per-node cache; an edit through the API must
/// still decide the very next chat request (a stale copy would say "unknown department", or
/// route into a store that has just closed).
async fn store_edits_reach_the_next_chat_request_at_once(b: Backend) {
    let app = TestApp::spawn_demo(b).await;
    let (m, store, dep) = demo_target(&app).await;
    let admin = app.login("admin@demo.example", DEMO_PASSWORD).await;
    let (mut expert, _) = expert_ws(&app, "expert1@demo.example").await;
    // A first chat warms the cache with the store as it was.
    let (mut first, _, _) = shopper_ws(&app, &m, None).await;
    let id = start_chat(&mut first, &store, &dep, "hello").await;
    claim(&mut expert, &id).await;

    let (mut shopper, _, _) = shopper_ws(&app, &m, None).await;
    let (s, garden) = admin
        .post(&format!("/api/v1/stores/{store}/departments"), json!({"name": "Garden"}))
        .await;
    assert_eq!(s, reqwest::StatusCode::CREATED, "{garden}");
    let garden = garden["id"].as_str().unwrap().to_owned();
    // Known at once; nobody works there yet.
    let got = request_answer(&mut shopper, &store, &garden).await;
    assert!(matches!(&got, Out::Unavailable { reason, .. } if reason == "no_experts"), "{got:?}");

    let closed =
        json!({"hours": {"monday": [], "tuesday": [], "wednesday": [], "thursday": [], "friday": [], "saturday": [], "sunday": []}});
    let (s, body) = admin
        .call(reqwest::Method::PATCH, &format!("/api/v1/stores/{store}"), Some(closed))
        .await;
    assert_eq!(s, reqwest::StatusCode::OK, "{body}");
    let got = request_answer(&mut shopper, &store, &dep).await;
    assert!(
        matches!(&got, Out::Unavailable { reason, offline_form: true } if reason == "closed"),
        "{got:?}"
    );

    let (s, _) = admin
        .call(reqwest::Method::DELETE, &format!("/api/v1/departments/{garden}"), None)
        .await;
    assert_eq!(s, reqwest::StatusCode::NO_CONTENT);
    let got = request_answer(&mut shopper, &store, &garden).await;
    assert!(
        matches!(&got, Out::Error { code, message, .. } if code == "bad_request" && message == "unknown department"),
        "{got:?}"
    );
    app.stop().await;
}

/// A shopper socket whose TCP receive window is tiny, so the server's writes to it block as soon
/// as the client stops reading (on loopback they would otherwise buffer megabytes).
async fn small_window_shopper(app: &TestApp, merchant: &str) -> (Ws, String) {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let addr: std::net::SocketAddr = app.url.trim_start_matches("http://").parse().unwrap();
    let sock = tokio::net::TcpSocket::new_v4().unwrap();
    sock.set_recv_buffer_size(4096).unwrap();
    let tcp = sock.connect(addr).await.unwrap();
    let req = format!("{}/ws/shopper?merchant={merchant}&v=1", app.url.replace("http", "ws"))
        .into_client_request()
        .unwrap();
    let (stream, _) = tokio_tungstenite::client_async(req, tokio_tungstenite::MaybeTlsStream::Plain(tcp))
        .await
        .unwrap();
    let (ws, _, token) = common::shopper_hello(Ws { stream }, None).await;
    (ws, token)
}

/// A client that stops reading is closed with 4009 once its queue is full; the experts writing
/// to it are not held up (every message of theirs is acked), and back on a new socket the
/// shopper syncs every message, once, in order.
async fn a_client_that_stops_reading_is_closed_and_resumes_with_everything(b: Backend) {
    use futures::{SinkExt, StreamExt};
    let app = TestApp::spawn_demo(b).await;
    let (m, store, dep) = demo_target(&app).await;
    let (mut expert, _) = expert_ws(&app, "expert2@demo.example").await;
    let (mut shopper, token) = small_window_shopper(&app, &m).await;
    let id = start_chat(&mut shopper, &store, &dep, "hello").await;
    claim(&mut expert, &id).await;
    // From here the shopper reads nothing. The expert writes from several sockets at once, each
    // within its frame rate limit and reading its own frames as they come, until the server
    // has dropped the shopper's socket (however much the kernel buffered before that).
    const SOCKETS: usize = 8;
    const AT_MOST: usize = 400;
    let mut sockets = vec![expert];
    for _ in 1..SOCKETS {
        sockets.push(expert_ws(&app, "expert2@demo.example").await.0);
    }
    let before = app.hub.connections();
    let dropped = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watcher = {
        let (hub, dropped) = (app.hub.clone(), dropped.clone());
        tokio::spawn(async move {
            while hub.connections() >= before {
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
            dropped.store(true, std::sync::atomic::Ordering::SeqCst);
        })
    };
    // Once dropped, the shopper reads again: what the pipe held, then the close that says why
    // (the server gives a blocked close two seconds to get through).
    let closed = {
        let dropped = dropped.clone();
        tokio::spawn(async move {
            while !dropped.load(std::sync::atomic::Ordering::SeqCst) {
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
            shopper.close_code().await
        })
    };
    let body = "x".repeat(3900);
    let mut writers = Vec::new();
    for (w, ws) in sockets.into_iter().enumerate() {
        let (id, body, dropped) = (id.clone(), body.clone(), dropped.clone());
        writers.push(tokio::spawn(async move {
            let (mut sink, mut stream) = ws.stream.split();
            let (total_tx, mut total_rx) = tokio::sync::oneshot::channel::<usize>();
            let reader = tokio::spawn(async move {
                let (mut acked, mut total) = (0, None);
                while total.is_none_or(|t| acked < t) {
                    if total.is_none() {
                        total = total_rx.try_recv().ok();
                    }
                    match tokio::time::timeout(std::time::Duration::from_millis(500), stream.next()).await {
                        Ok(Some(Ok(WsMessage::Text(t)))) => match floorwalker::protocol::decode(t.as_str()) {
                            Ok(Out::Ack { .. }) => acked += 1,
                            Ok(Out::Error { .. }) => panic!("a writer got an error: {t}"),
                            _ => {}
                        },
                        Ok(Some(Ok(_))) | Err(_) => {}
                        Ok(other) => panic!("a writer's socket ended: {other:?}"),
                    }
                }
                acked
            });
            let mut sent = 0;
            while sent < AT_MOST && !dropped.load(std::sync::atomic::Ordering::SeqCst) {
                let f = json!({"type": "send", "conversation_id": id, "client_msg_id": format!("w{w}-{sent}"), "body": format!("{w}-{sent} {body}")});
                sink.send(WsMessage::Text(f.to_string().into())).await.unwrap();
                sent += 1;
                if sent > 30 {
                    // 20 frames a second is what a socket may send for long.
                    tokio::time::sleep(std::time::Duration::from_millis(55)).await;
                }
            }
            total_tx.send(sent).unwrap();
            let acked = tokio::time::timeout(std::time::Duration::from_secs(20), reader).await.expect("acks").unwrap();
            (sent, acked)
        }));
    }
    let mut sent = 0;
    for w in writers {
        let (s, acked) = w.await.unwrap();
        assert_eq!(acked, s, "every message of every writer acked");
        sent += s;
    }
    assert!(
        dropped.load(std::sync::atomic::Ordering::SeqCst),
        "the shopper's socket was dropped after {sent} messages"
    );
    watcher.await.unwrap();
    assert_eq!(
        closed.await.unwrap(),
        Some(4009),
        "a client that stops reading is closed as too slow"
    );
    // Back with the same token: sync hands over every message, once each, in order.
    let (mut again, _, _) = shopper_ws(&app, &m, Some(&token)).await;
    let mut messages = Vec::new();
    loop {
        let after = messages.last().map_or(0, |m: &floorwalker::protocol::MessageView| m.seq);
        again.send(json!({"type": "sync", "conversation_id": id, "after_seq": after})).await;
        let Out::Messages { messages: page, .. } = again.until("messages", |o| matches!(o, Out::Messages { .. })).await else {
            unreachable!()
        };
        if page.is_empty() {
            break;
        }
        messages.extend(page);
    }
    let seqs: Vec<i64> = messages.iter().map(|m| m.seq).collect();
    assert!(seqs.windows(2).all(|p| p[1] == p[0] + 1), "in order, no gaps: {seqs:?}");
    let mut ids: Vec<&str> = messages
        .iter()
        .filter_map(|m| m.client_msg_id.as_deref())
        .filter(|c| c.starts_with('w'))
        .collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), sent, "every acked message, once");
    eprintln!("the shopper was dropped after {sent} messages of ~4 KB");
    // The server is healthy and the writers' socket still works.
    let (status, _) = app.client().get("/readyz").await;
    assert!(status.is_success());
    app.stop().await;
}

/// The conversation ids of the offers among `frames`, in the order they came.
fn offer_ids(frames: &[Out]) -> Vec<String> {
    frames
        .iter()
        .filter_map(|o| match o {
            Out::Offer { offer } => Some(offer.conversation_id.to_string()),
            _ => None,
        })
        .collect()
}

/// The offers an expert was welcomed with, then those that followed within `ms`.
async fn welcome_offers(welcome: &Out, ws: &mut Ws, ms: u64) -> Vec<String> {
    let Out::ExpertWelcome { offers, .. } = welcome else {
        panic!("expected a welcome, got {welcome:?}")
    };
    let mut ids: Vec<String> = offers.iter().map(|o| o.conversation_id.to_string()).collect();
    ids.extend(offer_ids(&ws.drain(ms).await));
    ids
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

/// More chats wait than the experts have offer slots (three experts, ten slots each, 35
/// chats): each expert is offered the oldest chats no colleague holds, so all thirty slots
/// carry different chats instead of three experts racing for the same ten; a claim frees a
/// slot, and it is refilled with the oldest chat nobody holds.
async fn under_a_surge_each_expert_is_offered_chats_nobody_else_holds(b: Backend) {
    let app = TestApp::spawn_demo(b).await;
    let (m, store, dep) = demo_target(&app).await;
    // One expert online (so the store takes chats) while 35 shoppers ask, one after another.
    let (mut first, _) = expert_ws(&app, "expert1@demo.example").await;
    let mut shoppers = Vec::new();
    for i in 0..35 {
        let (mut s, _, _) = shopper_ws(&app, &m, None).await;
        start_chat(&mut s, &store, &dep, &format!("question {i}")).await;
        shoppers.push(s);
    }
    let queue: Vec<String> = app
        .db
        .waiting_page(None, 100)
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.merchant_id == m)
        .map(|r| r.id.into())
        .collect();
    assert_eq!(queue.len(), 35, "every chat waits");
    // While the queue was short, the only expert was offered each chat: the ten oldest fill
    // their slots.
    let held_1 = offer_ids(&first.drain(700).await);
    assert_eq!(
        sorted(held_1.clone()),
        sorted(queue[..10].to_vec()),
        "expert 1 holds the ten oldest"
    );

    // Two colleagues come online: each is offered the next ten, which nobody else holds.
    let (mut second, welcome) = expert_ws(&app, "expert2@demo.example").await;
    let held_2 = welcome_offers(&welcome, &mut second, 700).await;
    let (mut third, welcome) = expert_ws(&app, "expert3@demo.example").await;
    let held_3 = welcome_offers(&welcome, &mut third, 700).await;
    assert_eq!(
        sorted(held_2.clone()),
        sorted(queue[10..20].to_vec()),
        "expert 2: the next ten oldest"
    );
    assert_eq!(sorted(held_3.clone()), sorted(queue[20..30].to_vec()), "expert 3: the ten after");
    // Every expert's free capacity carries offers (a full ten each), all of them different.
    let all: std::collections::HashSet<&String> = held_1.iter().chain(&held_2).chain(&held_3).collect();
    assert_eq!(all.len(), 30, "thirty slots, thirty different chats");
    assert!(
        offer_ids(&first.drain(300).await).is_empty(),
        "expert 1 is not offered anything more while full"
    );

    // Expert 2 claims their oldest: the slot it frees is refilled with the oldest chat nobody
    // holds (the 31st), and the colleagues, who never held the claimed chat, hear nothing of it.
    second.send(json!({"type": "claim", "conversation_id": queue[10]})).await;
    let (mut won, mut refilled) = (false, false);
    while !(won && refilled) {
        match second.recv().await {
            Out::Conversation { conversation } if conversation.id == queue[10] && conversation.status == "claimed" => won = true,
            Out::Offer { offer } => {
                assert_eq!(offer.conversation_id, queue[30], "the freed slot gets the oldest chat nobody holds");
                refilled = true;
            }
            _ => {}
        }
    }
    for (name, ws) in [("expert 1", &mut first), ("expert 3", &mut third)] {
        let seen = ws.drain(1500).await;
        assert!(
            !seen
                .iter()
                .any(|o| matches!(o, Out::Offer { offer } if offer.conversation_id == queue[30])
                    || matches!(o, Out::OfferWithdrawn { conversation_id, .. } if *conversation_id == queue[10])),
            "{name} is not racing for the refill, nor told about a chat it never held: {seen:?}"
        );
    }
    drop(shoppers);
    app.stop().await;
}

/// The normal case is unchanged: one waiting chat is offered to every eligible expert, the
/// quickest claims it and the others see it withdrawn.
async fn one_waiting_chat_is_still_offered_to_every_eligible_expert(b: Backend) {
    let app = TestApp::spawn_demo(b).await;
    let (m, store, dep) = demo_target(&app).await;
    let mut experts = Vec::new();
    for email in ["expert1@demo.example", "expert2@demo.example", "expert3@demo.example"] {
        experts.push(expert_ws(&app, email).await.0);
    }
    let (mut shopper, _, _) = shopper_ws(&app, &m, None).await;
    let id = start_chat(&mut shopper, &store, &dep, "anyone?").await;
    for ws in experts.iter_mut() {
        ws.until("the offer", |o| matches!(o, Out::Offer { offer } if offer.conversation_id == id))
            .await;
    }
    experts[1].send(json!({"type": "claim", "conversation_id": id})).await;
    experts[1]
        .until(
            "claimed",
            |o| matches!(o, Out::Conversation { conversation } if conversation.id == id && conversation.status == "claimed"),
        )
        .await;
    for i in [0, 2] {
        experts[i]
            .until(
                "withdrawn",
                |o| matches!(o, Out::OfferWithdrawn { conversation_id, reason } if *conversation_id == id && reason == "claimed"),
            )
            .await;
    }
    app.stop().await;
}

/// An expert signed in on two devices: the one that sent a message gets its ack (not the
/// message), the other gets the message with the client id (so its composer can match it), and
/// the shopper gets it without.
async fn an_experts_other_device_sees_their_client_id_and_the_shopper_does_not(b: Backend) {
    let app = TestApp::spawn_demo(b).await;
    let (m, store, dep) = demo_target(&app).await;
    let (mut phone, _) = expert_ws(&app, "expert1@demo.example").await;
    let (mut tablet, _) = expert_ws(&app, "expert1@demo.example").await;
    let (mut shopper, _, _) = shopper_ws(&app, &m, None).await;
    let id = start_chat(&mut shopper, &store, &dep, "Hello?").await;
    claim(&mut phone, &id).await;
    phone
        .send(json!({"type": "send", "conversation_id": id, "client_msg_id": "p1", "body": "Hi, Sara here"}))
        .await;
    let Out::Ack { seq, .. } = phone.until("ack", |o| matches!(o, Out::Ack { .. })).await else {
        unreachable!()
    };
    let is_p1 = |o: &Out| matches!(o, Out::Message { message } if message.seq == seq);
    let Out::Message { message } = tablet.until("p1", is_p1).await else {
        unreachable!()
    };
    assert_eq!(message.client_msg_id.as_deref(), Some("p1"), "the author's other device");
    let Out::Message { message } = shopper.until("p1", is_p1).await else {
        unreachable!()
    };
    assert_eq!(message.client_msg_id, None, "the shopper");
    // The shopper's answer reaches both devices, without the shopper's client id; the phone
    // never got its own message back.
    shopper
        .send(json!({"type": "send", "conversation_id": id, "client_msg_id": "s1", "body": "Hi!"}))
        .await;
    let answer = phone
        .until("the answer on the phone", |o| match o {
            Out::Message { message } => {
                assert_ne!(message.seq, seq, "the sending device got its own message back");
                message.body == "Hi!"
            }
            _ => false,
        })
        .await;
    let is_answer = |o: &Out| matches!(o, Out::Message { message } if message.body == "Hi!");
    for o in [answer, tablet.until("the answer on the tablet", is_answer).await] {
        let Out::Message { message } = o else { unreachable!() };
        assert!(message.seq > seq, "after the phone's message");
        assert_eq!(message.client_msg_id, None);
    }
}
