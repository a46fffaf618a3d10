//! Several nodes on one PostgreSQL and one Redis acting as one platform: cross-node chat, a
//! cross-node claim race, a Redis outage and a node killed with `kill -9`. PostgreSQL only
//! (the scale-out configuration).

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::node::Node;
use common::sinks::free_port;
use common::{claim, expert_at as expert, redis_url, request_answer, shopper_at as shopper, Backend, TestApp, Ws, DEMO_PASSWORD};
use floorwalker::protocol::Out;
use reqwest::StatusCode;
use serde_json::{json, Value};

/// The test Redis with a logical database of its own (`/db`). A cluster is one database and one
/// Redis: the node list every node sweeps (`fw:nodes`) is Redis-wide, so the nodes of tests
/// running beside this one, each on its own database, would otherwise sweep this test's killed
/// node first (against their own database) and hold the sweep for a minute.
fn redis_url_alone(db: u8) -> String {
    let base = redis_url();
    let trimmed = match base.rsplit_once('/') {
        Some((head, tail))
            if !tail.is_empty() && tail.bytes().all(|b| b.is_ascii_digit()) && head.contains("//") && !head.ends_with('/') =>
        {
            head.to_owned()
        }
        _ => base.trim_end_matches('/').to_owned(),
    };
    format!("{trimmed}/{db}")
}

/// (merchant, Stockholm store, its first department) through any node.
async fn target(base: &str) -> (String, String, String) {
    let http = reqwest::Client::builder().cookie_store(true).build().unwrap();
    let s: Value = http
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"email": "admin@demo.example", "password": DEMO_PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let stores: Value = http
        .get(format!("{base}/api/v1/stores"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let st = stores["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "Stockholm Flagship")
        .unwrap()
        .clone();
    (
        s["account"]["merchant_id"].as_str().unwrap().to_owned(),
        st["id"].as_str().unwrap().to_owned(),
        st["departments"][0]["id"].as_str().unwrap().to_owned(),
    )
}

/// Wait until a node's widget config counts `n` available experts (presence is cluster-wide).
async fn wait_available(base: &str, merchant: &str, n: u64) {
    // Presence is written every second; allow for a loaded CI machine.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let v: Value = reqwest::get(format!("{base}/api/v1/public/widget-config?merchant={merchant}"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if v["availability"]["experts_available"].as_u64() == Some(n) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{base} never saw {n} available experts: {}",
            v["availability"]
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn request(ws: &mut Ws, store: &str, dep: &str) -> String {
    ws.send(json!({"type": "request_chat", "store_id": store, "department_id": dep, "text": "hello", "client_msg_id": "first"}))
        .await;
    let Out::Conversation { conversation } = ws.until("conversation", |o| matches!(o, Out::Conversation { .. })).await else {
        unreachable!()
    };
    ws.until("ack", |o| matches!(o, Out::Ack { .. })).await;
    conversation.id.into()
}

/// Messages (seq, body) arriving on `ws` for `conv` until `want` bodies from the other side.
async fn collect(ws: &mut Ws, conv: &str, want: usize) -> Vec<(i64, String)> {
    let mut got = Vec::new();
    while got.len() < want {
        let o = ws
            .until_within("message", Duration::from_secs(15), |o| matches!(o, Out::Message { .. }))
            .await;
        if let Out::Message { message } = o {
            if message.conversation_id == conv && message.kind == "text" {
                got.push((message.seq, message.body));
            }
        }
    }
    got
}

fn assert_increasing(what: &str, seqs: &[(i64, String)]) {
    for w in seqs.windows(2) {
        assert!(w[0].0 < w[1].0, "{what}: out of order or doubled: {seqs:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_nodes_chat_and_race_as_one() {
    let (a, b) = TestApp::demo_cluster(&redis_url(), |_| {}).await;
    let (m, store, dep) = target(&a.url).await;
    let mut sara = expert(&a.url, "expert1@demo.example").await;
    let mut other = expert(&b.url, "expert2@demo.example").await;
    // Each node sees both experts.
    wait_available(&a.url, &m, 2).await;
    wait_available(&b.url, &m, 2).await;

    // A shopper on A: the offer reaches the expert on B too, and exactly one claim wins.
    let (mut shop, _, _) = shopper(&a.url, &m, None).await;
    let id = request(&mut shop, &store, &dep).await;
    for e in [&mut sara, &mut other] {
        e.until("offer", |o| matches!(o, Out::Offer { offer } if offer.conversation_id == id))
            .await;
    }
    let frame = json!({"type": "claim", "conversation_id": id});
    tokio::join!(sara.send(frame.clone()), other.send(frame.clone()));
    let mut won = Vec::new();
    for e in [&mut sara, &mut other] {
        let o = e
            .until("claim outcome", |o| {
                matches!(o, Out::Conversation { conversation } if conversation.id == id && conversation.status == "claimed")
                    || matches!(o, Out::OfferWithdrawn { conversation_id, .. } if *conversation_id == id)
                    || matches!(o, Out::Error { .. })
            })
            .await;
        won.push(matches!(o, Out::Conversation { .. }));
    }
    assert_eq!(
        won.iter().filter(|w| **w).count(),
        1,
        "exactly one claim wins across nodes: {won:?}"
    );
    let (mut win, mut lose, win_name) = if won[0] { (sara, other, "A") } else { (other, sara, "B") };
    shop.until(
        "claimed",
        |o| matches!(o, Out::Conversation { conversation } if conversation.status == "claimed"),
    )
    .await;

    // Both sides write at once; each sees the other's messages once, in order.
    let n = 15;
    let send_shop = async {
        for i in 0..n {
            shop.send(json!({"type": "send", "conversation_id": id, "client_msg_id": format!("s{i}"), "body": format!("shopper {i}")}))
                .await;
        }
    };
    let send_win = async {
        for i in 0..n {
            win.send(json!({"type": "send", "conversation_id": id, "client_msg_id": format!("e{i}"), "body": format!("expert {i}")}))
                .await;
        }
    };
    tokio::join!(send_shop, send_win);
    let at_expert = collect(&mut win, &id, n).await;
    let at_shop = collect(&mut shop, &id, n).await;
    assert_increasing(&format!("expert on {win_name}"), &at_expert);
    assert_increasing("shopper on A", &at_shop);
    assert!(at_shop.iter().all(|(_, b)| b.starts_with("expert ")), "{at_shop:?}");
    assert_eq!(at_shop.len(), n);

    // The other way round: the expert who lost the race takes a new shopper's chat.
    let _ = &mut win;
    // The loser is on the other node from the winner; the new shopper joins the winner's node.
    let shop_base = if win_name == "A" { &a.url } else { &b.url };
    let (mut shop_b, _, _) = shopper(shop_base, &m, None).await;
    let id2 = request(&mut shop_b, &store, &dep).await;
    claim(&mut lose, &id2).await;
    lose.send(json!({"type": "send", "conversation_id": id2, "client_msg_id": "x", "body": "across nodes"}))
        .await;
    let got = collect(&mut shop_b, &id2, 1).await;
    assert_eq!(got[0].1, "across nodes");

    // A store edit through A reaches routing on B at once, not when B's cached copy of the
    // stores runs out (a shopper's hello on B has just read them).
    let (mut shop_c, _, _) = shopper(&b.url, &m, None).await;
    let admin = a.login("admin@demo.example", DEMO_PASSWORD).await;
    let (s, garden) = admin
        .post(&format!("/api/v1/stores/{store}/departments"), json!({"name": "Garden"}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{garden}");
    let edited = Instant::now();
    loop {
        let got = request_answer(&mut shop_c, &store, garden["id"].as_str().unwrap()).await;
        if matches!(&got, Out::Unavailable { reason, .. } if reason == "no_experts") {
            break;
        }
        assert!(
            matches!(&got, Out::Error { message, .. } if message == "unknown department"),
            "{got:?}"
        );
        // B's own copy would last floorwalker::hub::CACHED_FOR (5 s).
        assert!(
            edited.elapsed() < Duration::from_secs(2),
            "node B still routes by the stores as they were"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    b.stop().await;
    a.stop().await;
}

/// Under a surge too deep for one node's offer slots, the nodes do not all offer the same
/// oldest chats: each waiting chat has a home node, so an expert on A and an expert on B are
/// offered different chats (each a full ten), where without it both would hold the same ten.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn under_a_deep_surge_two_nodes_offer_different_chats() {
    let (a, b) = TestApp::demo_cluster(&redis_url(), |_| {}).await;
    let (m, store, dep) = target(&a.url).await;
    // Amira staffs Stockholm on A (so chats are taken); Lukas (Berlin) is online on B, so both
    // nodes serve the merchant.
    let mut staff = expert(&a.url, "expert3@demo.example").await;
    let _berlin = expert(&b.url, "expert4@demo.example").await;
    let deadline = Instant::now() + Duration::from_secs(30);
    for node in [&a, &b] {
        while node.hub.nodes.live_nodes(&m).map_or(0, |n| n.len()) < 2 {
            assert!(Instant::now() < deadline, "the nodes never saw each other");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let mut shops = Vec::new();
    for _ in 0..45 {
        let (mut s, _, _) = shopper(&a.url, &m, None).await;
        request(&mut s, &store, &dep).await;
        shops.push(s);
    }
    // Amira steps away (her offers go), and one expert comes online on each node.
    staff.send(json!({"type": "set_status", "available": false})).await;
    staff.until("status", |o| matches!(o, Out::Status(s) if !s.available)).await;
    let mut held = Vec::new();
    for (base, email) in [(&a.url, "expert1@demo.example"), (&b.url, "expert2@demo.example")] {
        let mut ws = Ws::connect(&format!("{}/ws/expert?v=1", base.replacen("http", "ws", 1)), None).await;
        let (_, body) = a
            .client()
            .post("/api/v1/app/login", json!({"email": email, "password": DEMO_PASSWORD}))
            .await;
        ws.send(json!({"type": "hello", "token": body["token"]})).await;
        let mut ids: Vec<String> = match ws.recv().await {
            Out::ExpertWelcome { offers, .. } => offers.into_iter().map(|o| o.conversation_id.into()).collect(),
            other => panic!("expected a welcome, got {other:?}"),
        };
        for f in ws.drain(700).await {
            if let Out::Offer { offer } = f {
                ids.push(offer.conversation_id.into());
            }
        }
        // A re-offer wave falling in the drain sends a held chat again (reason `reoffer`, a
        // nudge, docs/protocol.md): what counts is which chats each expert holds.
        ids.sort();
        ids.dedup();
        held.push((ws, ids));
    }
    let (on_a, on_b) = (&held[0].1, &held[1].1);
    assert_eq!(on_a.len(), 10, "the expert on A fills their slots: {on_a:?}");
    assert_eq!(on_b.len(), 10, "the expert on B fills their slots: {on_b:?}");
    assert!(
        on_a.iter().all(|c| !on_b.contains(c)),
        "the two nodes offered the same chats: {on_a:?} / {on_b:?}"
    );
    drop(shops);
    b.stop().await;
    a.stop().await;
}

/// A private Redis we may stop and start.
struct PrivateRedis {
    port: u16,
    child: Option<Child>,
}

impl PrivateRedis {
    fn start(port: u16) -> PrivateRedis {
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--save",
                "",
                "--appendonly",
                "no",
                "--bind",
                "127.0.0.1",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server on PATH (./dev test installs it)");
        let r = PrivateRedis { port, child: Some(child) };
        let deadline = Instant::now() + Duration::from_secs(5);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        r
    }
    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }
    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        self.kill();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_redis_restart_loses_nothing_and_clients_catch_up() {
    let mut redis = PrivateRedis::start(free_port());
    let url = redis.url();
    let (a, b) = TestApp::demo_cluster(&url, |_| {}).await;
    let (m, store, dep) = target(&a.url).await;
    let mut exp = expert(&b.url, "expert1@demo.example").await;
    wait_available(&a.url, &m, 1).await;
    let (mut shop, _, _) = shopper(&a.url, &m, None).await;
    let id = request(&mut shop, &store, &dep).await;
    claim(&mut exp, &id).await;
    exp.send(json!({"type": "send", "conversation_id": id, "client_msg_id": "before", "body": "before"}))
        .await;
    assert_eq!(collect(&mut shop, &id, 1).await[0].1, "before");

    // Redis goes away: sends are still stored and acknowledged (the database is the truth)…
    redis.kill();
    for i in 0..3 {
        exp.send(json!({"type": "send", "conversation_id": id, "client_msg_id": format!("d{i}"), "body": format!("during {i}")}))
            .await;
        exp.until(
            "ack",
            |o| matches!(o, Out::Ack { client_msg_id, .. } if *client_msg_id == format!("d{i}")),
        )
        .await;
    }
    // …and when it is back, the shopper on the other node catches up, in order, without asking.
    let port = redis.port;
    let _redis2 = PrivateRedis::start(port);
    let got = collect(&mut shop, &id, 3).await;
    assert_eq!(
        got.iter().map(|g| g.1.as_str()).collect::<Vec<_>>(),
        ["during 0", "during 1", "during 2"]
    );
    assert_increasing("after the outage", &got);
    // And live traffic flows again.
    exp.send(json!({"type": "send", "conversation_id": id, "client_msg_id": "after", "body": "after"}))
        .await;
    assert_eq!(collect(&mut shop, &id, 1).await[0].1, "after");
    b.stop().await;
    a.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_node_killed_mid_conversation_loses_no_acknowledged_message() {
    let db = common::TestDb::new(Backend::Postgres).await;
    let mut a = Node::start(&db.url, true, &[("REDIS_URL", redis_url().as_str())]).await;
    let b = Node::start(&db.url, false, &[("REDIS_URL", redis_url().as_str())]).await;
    let (m, store, dep) = target(&a.url).await;
    let mut exp = expert(&b.url, "expert2@demo.example").await;
    wait_available(&a.url, &m, 1).await;
    let (mut shop, _, token) = shopper(&a.url, &m, None).await;
    let id = request(&mut shop, &store, &dep).await;
    claim(&mut exp, &id).await;
    // The shopper on A sends; every ack is recorded. Then A dies without a goodbye.
    let mut acked = Vec::new();
    for i in 0..10 {
        let cid = format!("k{i}");
        shop.send(json!({"type": "send", "conversation_id": id, "client_msg_id": cid, "body": format!("kept {i}")}))
            .await;
        if let Out::Ack { client_msg_id, seq, .. } = shop.until("ack", |o| matches!(o, Out::Ack { .. })).await {
            acked.push((client_msg_id, seq));
        }
    }
    // One more goes out and A is killed before its ack can be read.
    shop.send(json!({"type": "send", "conversation_id": id, "client_msg_id": "k-last", "body": "maybe"}))
        .await;
    a.kill();
    // The expert on B keeps writing meanwhile.
    exp.send(json!({"type": "send", "conversation_id": id, "client_msg_id": "e1", "body": "still here"}))
        .await;
    exp.until("ack", |o| matches!(o, Out::Ack { .. })).await;

    // The shopper reconnects to B with its token and resumes from what it saw.
    let (mut shop2, _, _) = shopper(&b.url, &m, Some(&token)).await;
    let last_seen = acked.last().map(|a| a.1).unwrap();
    shop2
        .send(json!({"type": "sync", "conversation_id": id, "after_seq": last_seen}))
        .await;
    let Out::Messages { messages, .. } = shop2.until("messages", |o| matches!(o, Out::Messages { .. })).await else {
        unreachable!()
    };
    assert!(messages.iter().any(|m| m.body == "still here"), "{messages:?}");
    // A retry of the unacknowledged message is idempotent: at most one copy exists.
    shop2
        .send(json!({"type": "send", "conversation_id": id, "client_msg_id": "k-last", "body": "maybe"}))
        .await;
    shop2
        .until("ack", |o| matches!(o, Out::Ack { client_msg_id, .. } if client_msg_id == "k-last"))
        .await;
    // The transcript: every acknowledged message exactly once, seqs 1..n without holes.
    let store_db = db.connect().await;
    let all = store_db
        .messages_after(
            &floorwalker::ids::MerchantId::parse(&m).unwrap(),
            &floorwalker::ids::ConversationId::parse(&id).unwrap(),
            0,
            1000,
        )
        .await
        .unwrap();
    let seqs: Vec<i64> = all.iter().map(|m| m.seq).collect();
    assert_eq!(seqs, (1..=all.len() as i64).collect::<Vec<_>>());
    for (cid, seq) in &acked {
        let found: Vec<_> = all.iter().filter(|m| m.client_msg_id.as_deref() == Some(cid.as_str())).collect();
        assert_eq!(found.len(), 1, "{cid}");
        assert_eq!(found[0].seq, *seq);
    }
    assert_eq!(all.iter().filter(|m| m.client_msg_id.as_deref() == Some("k-last")).count(), 1);
    drop(b);
    store_db.pool.close().await;
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn login_limits_hold_across_nodes() {
    // A Redis of its own: every test logs in from 127.0.0.1, and the per-address count is shared.
    let redis = PrivateRedis::start(free_port());
    let url = redis.url();
    let (a, b) = TestApp::demo_cluster(&url, |s| {
        s.login_per_minute = 4;
    })
    .await;
    // Alternate nodes with wrong passwords: each node alone would allow 4; together they allow 4.
    // (The cluster counts per clock minute; a round that straddles a minute is run again.)
    for round in 0..3 {
        let minute = floorwalker::now_ms() / 60_000;
        let email = format!("nobody{round}@demo.example");
        let mut statuses = Vec::new();
        for i in 0..6 {
            let base = if i % 2 == 0 { &a.url } else { &b.url };
            let s = reqwest::Client::new()
                .post(format!("{base}/api/v1/auth/login"))
                .json(&json!({"email": email, "password": "wrong-password-123"}))
                .send()
                .await
                .unwrap()
                .status();
            statuses.push(s.as_u16());
        }
        if floorwalker::now_ms() / 60_000 != minute {
            continue;
        }
        assert_eq!(&statuses[..4], &[401, 401, 401, 401], "{statuses:?}");
        assert_eq!(
            &statuses[4..],
            &[429, 429],
            "the fifth attempt is refused on whichever node: {statuses:?}"
        );
        break;
    }
    b.stop().await;
    a.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_database_outage_gives_retryable_errors_and_never_a_false_ack() {
    let a = TestApp::spawn_with(Backend::Postgres, |s| {
        s.demo = true;
        s.demo_password = Some(floorwalker::config::Secret::new(DEMO_PASSWORD));
    })
    .await;
    let (m, store, dep) = target(&a.url).await;
    let mut exp = expert(&a.url, "expert1@demo.example").await;
    let (mut shop, _, _) = shopper(&a.url, &m, None).await;
    let id = request(&mut shop, &store, &dep).await;
    claim(&mut exp, &id).await;

    // The database goes away: the send is refused with a retryable error, not acknowledged.
    a.test_db.set_reachable(false).await;
    shop.send(json!({"type": "send", "conversation_id": id, "client_msg_id": "during", "body": "are you there?"}))
        .await;
    let o = shop
        .until_within("an answer to the send", Duration::from_secs(30), |o| {
            matches!(o, Out::Ack { .. }) || matches!(o, Out::Error { .. })
        })
        .await;
    assert!(matches!(&o, Out::Error { code, .. } if code == "unavailable"), "{o:?}");
    assert!(matches!(a.client().get("/readyz").await.0, StatusCode::SERVICE_UNAVAILABLE));

    // It comes back: the same send is retried and acknowledged, exactly once, without a restart.
    a.test_db.set_reachable(true).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    let seq = loop {
        shop.send(json!({"type": "send", "conversation_id": id, "client_msg_id": "during", "body": "are you there?"}))
            .await;
        match shop
            .until_within("ack or error", Duration::from_secs(15), |o| {
                matches!(o, Out::Ack { .. }) || matches!(o, Out::Error { .. })
            })
            .await
        {
            Out::Ack { seq, .. } => break seq,
            other => {
                assert!(Instant::now() < deadline, "never recovered: {other:?}");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    };
    let got = collect(&mut exp, &id, 1).await;
    assert_eq!(got, vec![(seq, "are you there?".to_owned())]);
    let all =
        a.db.messages_after(
            &floorwalker::ids::MerchantId::parse(&m).unwrap(),
            &floorwalker::ids::ConversationId::parse(&id).unwrap(),
            0,
            100,
        )
        .await
        .unwrap();
    assert_eq!(all.iter().filter(|m| m.client_msg_id.as_deref() == Some("during")).count(), 1);
    a.stop().await;
}

/// Issue 21: a shopper's presence is cluster-wide. With sockets on two nodes, closing the one on
/// A does not make them away (the expert is not told, the chat is not marked); closing the last
/// one, on B, does. Coming back on A clears it again.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_shopper_is_away_only_when_their_last_socket_on_every_node_closed() {
    let (a, b) = TestApp::demo_cluster(&redis_url(), |_| {}).await;
    let (m, store, dep) = target(&a.url).await;
    let mid = floorwalker::ids::MerchantId::parse(&m).unwrap();
    let mut sara = expert(&a.url, "expert1@demo.example").await;
    wait_available(&b.url, &m, 1).await;

    // One shopper, a tab on each node (the same token), in a chat Sara claimed.
    let (mut on_a, _, token) = shopper(&a.url, &m, None).await;
    let id = request(&mut on_a, &store, &dep).await;
    claim(&mut sara, &id).await;
    let (on_b, _, _) = shopper(&b.url, &m, Some(&token)).await;
    let away = |o: &Out, want: bool| matches!(o, Out::ShopperAway { conversation_id, away, .. } if *conversation_id == id && *away == want);

    // The tab on A closes: they are still here on B.
    drop(on_a);
    let seen = sara.drain(3_000).await;
    assert!(!seen.iter().any(|o| away(o, true)), "not away while a tab on B is open: {seen:?}");
    let r =
        a.db.reach(&mid, &floorwalker::ids::ConversationId::parse(&id).unwrap())
            .await
            .unwrap();
    assert_eq!(r.shopper_away_since, None, "the chat is not marked away");

    // The last tab, on B, closes: now they are away, and the expert (on A) is told.
    drop(on_b);
    sara.until_within("shopper_away", Duration::from_secs(15), |o| away(o, true)).await;
    assert!(a
        .db
        .reach(&mid, &floorwalker::ids::ConversationId::parse(&id).unwrap())
        .await
        .unwrap()
        .shopper_away_since
        .is_some());

    // Back on A: not away any more.
    let (_again, _, _) = shopper(&a.url, &m, Some(&token)).await;
    sara.until_within("shopper back", Duration::from_secs(15), |o| away(o, false)).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while a
        .db
        .reach(&mid, &floorwalker::ids::ConversationId::parse(&id).unwrap())
        .await
        .unwrap()
        .shopper_away_since
        .is_some()
    {
        assert!(Instant::now() < deadline, "the away mark was never cleared");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    b.stop().await;
    a.stop().await;
}

/// Issue 21: a node killed (SIGKILL) with a shopper's only socket. The shopper does not come
/// back; once the node's liveness key runs out, another node sweeps it, and the shopper is away
/// as if they had closed the tab (the expert is told, the chat is marked).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_shopper_on_a_killed_node_is_away_once_the_node_is_swept() {
    let db = common::TestDb::new(Backend::Postgres).await;
    let redis = redis_url_alone(7);
    let a = Node::start(&db.url, true, &[("REDIS_URL", redis.as_str())]).await;
    let mut b = Node::start(&db.url, false, &[("REDIS_URL", redis.as_str())]).await;
    let (m, store, dep) = target(&a.url).await;
    let mid = floorwalker::ids::MerchantId::parse(&m).unwrap();
    let mut sara = expert(&a.url, "expert1@demo.example").await;
    wait_available(&b.url, &m, 1).await;
    let (mut on_b, _, _) = shopper(&b.url, &m, None).await;
    let id = request(&mut on_b, &store, &dep).await;
    claim(&mut sara, &id).await;
    let away = |o: &Out| matches!(o, Out::ShopperAway { conversation_id, away: true, .. } if *conversation_id == id);
    let killed = Instant::now();
    b.kill();
    sara.until_within("shopper_away after the sweep", Duration::from_secs(45), away)
        .await;
    // Not before the node's liveness key ran out: a node that only paused is not swept.
    assert!(killed.elapsed() >= Duration::from_secs(5), "away after {:?}", killed.elapsed());
    let store_db = db.connect().await;
    assert!(
        store_db
            .reach(&mid, &floorwalker::ids::ConversationId::parse(&id).unwrap())
            .await
            .unwrap()
            .shopper_away_since
            .is_some(),
        "the chat is marked away"
    );
    drop(a);
    db.close(store_db).await;
}
