//! Hardening (issue 18), tried from outside as an attacker would: revoked credentials close
//! their sockets on every node; cross-site writes are refused; pages carry a strict CSP.
//! Both backends; the cluster test runs two nodes on PostgreSQL and Redis.

mod common;

use std::time::{Duration, Instant};

use common::{demo_target, redis_url, Backend, Client, TestApp, Ws, DEMO_PASSWORD};
use futures::StreamExt;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message as WsMessage;

/// The close code a revocation must bring within 5 s (`None`: closed without a code).
async fn closed_within_5s(ws: &mut Ws, what: &str) -> Option<u16> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        match tokio::time::timeout_at(deadline, ws.stream.next()).await {
            Ok(Some(Ok(WsMessage::Close(c)))) => return c.map(|c| u16::from(c.code)),
            Ok(Some(Ok(_))) => continue,
            Ok(Some(Err(e))) => panic!("{what}: socket failed without a close frame: {e}"),
            Ok(None) => panic!("{what}: socket ended without a close frame"),
            Err(_) => panic!("{what}: still open 5 s after the credential was revoked"),
        }
    }
}

/// A store-app token for an expert, through the node at `base`.
async fn expert_token(base: &str, email: &str) -> String {
    let res = reqwest::Client::new()
        .post(format!("{base}/api/v1/app/login"))
        .json(&json!({"email": email, "password": DEMO_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let b: Value = res.json().await.unwrap();
    b["token"].as_str().unwrap().to_owned()
}

/// An expert socket that said hello with `token` on the node at `base`.
async fn expert_socket(base: &str, token: &str) -> Ws {
    let mut ws = Ws::connect(&format!("{}/ws/expert?v=1", base.replacen("http", "ws", 1)), None).await;
    ws.send(json!({"type": "hello", "token": token})).await;
    let welcome = ws.recv().await;
    assert!(matches!(welcome, floorwalker::protocol::Out::ExpertWelcome { .. }), "{welcome:?}");
    ws
}

/// Whether an expert socket still answers (saved replies, read from the database).
async fn expert_answers(ws: &mut Ws) {
    ws.send(json!({"type": "saved_replies"})).await;
    ws.until("saved_replies", |o| matches!(o, floorwalker::protocol::Out::SavedReplies { .. }))
        .await;
}

/// `/ws/dashboard` on the node at `base` with the browser `c`'s cookies (or its bearer key).
async fn dashboard_socket(base: &str, c: &Client) -> Ws {
    let url = format!("{}/ws/dashboard", base.replacen("http", "ws", 1));
    let mut req = url.into_client_request().unwrap();
    if let Some(cookie) = reqwest::cookie::CookieStore::cookies(&*c.jar, &base.parse().unwrap()) {
        req.headers_mut().insert("cookie", cookie);
    }
    if let Some(b) = &c.bearer {
        req.headers_mut().insert("authorization", format!("Bearer {b}").parse().unwrap());
    }
    let (stream, _) = tokio_tungstenite::connect_async(req).await.expect("dashboard socket");
    let mut ws = Ws { stream };
    dashboard_json(&mut ws, "welcome", |v| v["type"] == "welcome").await;
    ws
}

async fn dashboard_json(ws: &mut Ws, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(8);
    loop {
        let msg = tokio::time::timeout_at(deadline, ws.stream.next())
            .await
            .unwrap_or_else(|_| panic!("no {what} within 8 s"))
            .expect("socket open")
            .expect("frame");
        if let WsMessage::Text(t) = msg {
            let v: Value = serde_json::from_str(&t).unwrap();
            if pred(&v) {
                return v;
            }
        }
    }
}

/// Whether a dashboard socket still answers.
async fn dashboard_answers(ws: &mut Ws) {
    ws.send(json!({"type": "ping"})).await;
    dashboard_json(ws, "pong", |v| v["type"] == "pong").await;
}

async fn store_app_logout(base: &str, token: &str) {
    let res = reqwest::Client::new()
        .post(format!("{base}/api/v1/app/logout"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
}

async fn revoking_a_credential_closes_its_expert_sockets(b: Backend) {
    let app = TestApp::spawn_demo(b).await;
    let (m, _, _) = demo_target(&app).await;
    // Two devices of one expert: signing one out closes only its socket.
    let (t1, t2) = (
        expert_token(&app.url, "expert1@demo.example").await,
        expert_token(&app.url, "expert1@demo.example").await,
    );
    let (mut phone, mut tablet) = (expert_socket(&app.url, &t1).await, expert_socket(&app.url, &t2).await);
    store_app_logout(&app.url, &t1).await;
    assert_eq!(closed_within_5s(&mut phone, "the signed-out device").await, Some(4001));
    expert_answers(&mut tablet).await;

    // A password change closes every device's socket.
    let started = Instant::now();
    let (s, body) = app
        .client()
        .with_bearer(&t2)
        .post(
            "/api/v1/app/password",
            json!({"current_password": DEMO_PASSWORD, "new_password": "another-password-42"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(closed_within_5s(&mut tablet, "after a password change").await, Some(4001));
    assert!(started.elapsed() < Duration::from_secs(5));

    // The merchant deactivated by the operator: its experts', dashboards' and shoppers' sockets
    // close, and no new shop socket opens.
    let t3 = expert_token(&app.url, "expert3@demo.example").await;
    let mut expert3 = expert_socket(&app.url, &t3).await;
    let admin = app.login("admin@demo.example", DEMO_PASSWORD).await;
    let mut dash = dashboard_socket(&app.url, &admin).await;
    let (mut shop, _, _) = common::shopper_ws(&app, &m, None).await;
    let op = app.login("operator@demo.example", DEMO_PASSWORD).await;
    let (s, body) = op
        .call(
            Method::PATCH,
            &format!("/api/v1/access/merchants/{m}"),
            Some(json!({"active": false})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(closed_within_5s(&mut expert3, "a deactivated merchant's expert").await, Some(4001));
    assert_eq!(closed_within_5s(&mut dash, "a deactivated merchant's dashboard").await, Some(4001));
    assert_eq!(
        closed_within_5s(&mut shop, "a deactivated merchant's shop socket").await,
        Some(4004)
    );
    let mut again = Ws::shopper(&app, &m).await;
    assert_eq!(again.close_code().await, Some(4004));
    app.stop().await;
}

async fn revoking_a_credential_closes_its_dashboard_sockets(b: Backend) {
    let app = TestApp::spawn_demo(b).await;
    let (m, _, _) = demo_target(&app).await;
    // Two browsers of one account: signing one out closes only its socket.
    let (first, second) = (
        app.login("admin@demo.example", DEMO_PASSWORD).await,
        app.login("admin@demo.example", DEMO_PASSWORD).await,
    );
    let (mut d1, mut d2) = (dashboard_socket(&app.url, &first).await, dashboard_socket(&app.url, &second).await);
    let (s, _) = first.call(Method::POST, "/api/v1/auth/logout", None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_eq!(closed_within_5s(&mut d1, "the signed-out browser").await, Some(4001));
    dashboard_answers(&mut d2).await;

    // A password change in another browser closes this one's socket.
    let third = app.login("admin@demo.example", DEMO_PASSWORD).await;
    let (s, body) = third
        .post(
            "/api/v1/auth/password",
            json!({"current_password": DEMO_PASSWORD, "new_password": "another-password-42"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(closed_within_5s(&mut d2, "after a password change elsewhere").await, Some(4001));

    // The operator takes Analytics away from an account: its live dashboard closes.
    let op = app.login("operator@demo.example", DEMO_PASSWORD).await;
    let (s, body) = op
        .post(
            "/api/v1/access/accounts",
            json!({"merchant_id": m, "role": "merchant", "email": "viewer@demo.example", "name": "V", "password": DEMO_PASSWORD, "modules": ["analytics", "team"]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{body}");
    let viewer_id = body["id"].as_str().unwrap().to_owned();
    let viewer = app.login("viewer@demo.example", DEMO_PASSWORD).await;
    let mut dv = dashboard_socket(&app.url, &viewer).await;
    let (s, body) = op
        .call(
            Method::PATCH,
            &format!("/api/v1/access/accounts/{viewer_id}"),
            Some(json!({"modules": ["team"]})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(closed_within_5s(&mut dv, "a dashboard that lost Analytics").await, Some(4001));

    // The operator deactivates the account.
    let fresh = app.login("admin@demo.example", "another-password-42").await;
    let mut d3 = dashboard_socket(&app.url, &fresh).await;
    let (_, session) = fresh.get("/api/v1/auth/session").await;
    let account = session["account"]["id"].as_str().unwrap().to_owned();
    let (s, body) = op
        .call(
            Method::PATCH,
            &format!("/api/v1/access/accounts/{account}"),
            Some(json!({"active": false})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(closed_within_5s(&mut d3, "a deactivated account's dashboard").await, Some(4001));

    // A socket opened with an API key closes when the key is revoked.
    let (s, body) = op
        .post(
            "/api/v1/access/accounts",
            json!({"merchant_id": m, "role": "merchant", "email": "keys@demo.example", "name": "K", "password": DEMO_PASSWORD, "modules": ["integrations", "analytics"]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{body}");
    let keys = app.login("keys@demo.example", DEMO_PASSWORD).await;
    let (s, k) = keys.post("/api/v1/api-keys", json!({"name": "live"})).await;
    assert_eq!(s, StatusCode::CREATED, "{k}");
    let mut by_key = dashboard_socket(&app.url, &keys.with_bearer(k["secret"].as_str().unwrap())).await;
    let (s, body) = keys
        .call(
            Method::DELETE,
            &format!("/api/v1/api-keys/{}", k["key"]["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(closed_within_5s(&mut by_key, "a revoked key's socket").await, Some(4001));
    app.stop().await;
}

/// A write with the right CSRF token, sent by the browser from `origin` (and `site` as its
/// `Sec-Fetch-Site`).
async fn write_from(c: &Client, body: Value, origin: Option<&str>, site: Option<&str>) -> (StatusCode, Value) {
    let mut rb = c.request(Method::POST, "/api/v1/saved-replies").json(&body);
    if let Some(o) = origin {
        rb = rb.header("origin", o);
    }
    if let Some(s) = site {
        rb = rb.header("sec-fetch-site", s);
    }
    let res = rb.send().await.unwrap();
    let status = res.status();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn cross_site_cookie_writes_are_refused(b: Backend) {
    let app = TestApp::spawn_demo(b).await;
    let admin = app.login("admin@demo.example", DEMO_PASSWORD).await;
    let reply = |n: &str| json!({"shortcut": n, "title": "T", "body": "B"});
    for (i, (origin, site)) in [
        (Some("https://evil.example"), None),
        (Some("null"), None),
        (None, Some("cross-site")),
        (None, Some("same-site")),
        (Some(app.url.as_str()), Some("cross-site")),
        (Some("https://evil.example"), Some("same-origin")),
    ]
    .into_iter()
    .enumerate()
    {
        let (s, body) = write_from(&admin, reply(&format!("evil{i}")), origin, site).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{origin:?} {site:?}: {body}");
        assert_eq!(body["status"], 403, "problem+json: {body}");
    }
    let (_, list) = admin.get("/api/v1/saved-replies?q=evil").await;
    assert_eq!(list["items"].as_array().unwrap().len(), 0, "nothing written: {list}");
    // Our own pages, and clients that are not browsers (no Origin, no Sec-Fetch-Site).
    assert_eq!(
        write_from(&admin, reply("own"), Some(&app.url), Some("same-origin")).await.0,
        StatusCode::CREATED
    );
    assert_eq!(write_from(&admin, reply("cli"), None, None).await.0, StatusCode::CREATED);
    // Signing in from another site's page is refused too (login CSRF).
    let res = app
        .client()
        .http
        .post(format!("{}/api/v1/auth/login", app.url))
        .header("origin", "https://evil.example")
        .json(&json!({"email": "admin@demo.example", "password": DEMO_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(res.headers().get("set-cookie").is_none());
    app.stop().await;
}

on_both_backends!(
    revoking_a_credential_closes_its_expert_sockets,
    revoking_a_credential_closes_its_dashboard_sockets,
    cross_site_cookie_writes_are_refused
);

/// Every page we serve carries a strict CSP and framing protection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_carry_a_strict_content_security_policy() {
    let app = TestApp::spawn_demo(Backend::Sqlite).await;
    let http = reqwest::Client::new();
    for path in ["/", "/dashboard/", "/app/", "/shop/", "/api/docs/", "/no-such-page"] {
        let res = http.get(format!("{}{path}", app.url)).send().await.unwrap();
        let h = res.headers();
        let csp = h
            .get("content-security-policy")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let directive = |name: &str| {
            csp.split(';')
                .map(str::trim)
                .find(|d| d.starts_with(&format!("{name} ")))
                .unwrap_or_else(|| panic!("{path}: no {name} in {csp:?}"))
                .to_owned()
        };
        assert_eq!(directive("script-src"), "script-src 'self'", "{path}");
        assert_eq!(directive("default-src"), "default-src 'self'", "{path}");
        assert_eq!(directive("frame-ancestors"), "frame-ancestors 'none'", "{path}");
        assert_eq!(directive("object-src"), "object-src 'none'", "{path}");
        assert!(!csp.contains("unsafe-eval"), "{path}: {csp}");
        assert_eq!(h.get("x-frame-options").unwrap(), "DENY", "{path}");
        assert_eq!(h.get("x-content-type-options").unwrap(), "nosniff", "{path}");
        assert_eq!(h.get("referrer-policy").unwrap(), "strict-origin-when-cross-origin", "{path}");
    }
    app.stop().await;
}

/// `page_url` must be an http(s) address; `javascript:` and friends are refused and stored nowhere.
async fn page_urls_must_be_web_addresses(b: Backend) {
    let app = TestApp::spawn_demo(b).await;
    let (m, store, dep) = demo_target(&app).await;
    let (_expert, _) = common::expert_ws(&app, "expert1@demo.example").await;
    let (mut shop, _, _) = common::shopper_ws(&app, &m, None).await;
    for bad in [
        "javascript:alert(1)",
        "JAVASCRIPT:alert(1)",
        "data:text/html,x",
        "/relative",
        "https://",
        "http://a b",
    ] {
        shop.send(
            json!({"type": "request_chat", "store_id": store, "department_id": dep, "page_url": bad, "text": "hi", "client_msg_id": "x"}),
        )
        .await;
        let answer = shop
            .until("an answer", |o| {
                matches!(
                    o,
                    floorwalker::protocol::Out::Error { .. } | floorwalker::protocol::Out::Conversation { .. }
                )
            })
            .await;
        assert!(
            matches!(&answer, floorwalker::protocol::Out::Error { code, .. } if code == "bad_request"),
            "{bad}: {answer:?}"
        );
        shop.send(json!({"type": "context", "page_url": bad})).await;
        let answer = shop
            .until("an answer", |o| matches!(o, floorwalker::protocol::Out::Error { .. }))
            .await;
        assert!(
            matches!(&answer, floorwalker::protocol::Out::Error { code, .. } if code == "bad_request"),
            "{bad}: {answer:?}"
        );
    }
    // A web address is fine.
    let id = common::start_chat(&mut shop, &store, &dep, "hello").await;
    assert!(!id.is_empty());
    app.stop().await;
}

on_both_backends!(page_urls_must_be_web_addresses);

/// Revoked on one node, closed on the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn revocation_closes_sockets_on_every_node() {
    let (a, b) = TestApp::demo_cluster(&redis_url(), |_| {}).await;
    let (m, _, _) = demo_target(&a).await;
    // An expert on B signs out through A.
    let t = expert_token(&a.url, "expert1@demo.example").await;
    let mut on_b = expert_socket(&b.url, &t).await;
    store_app_logout(&a.url, &t).await;
    assert_eq!(closed_within_5s(&mut on_b, "an expert socket on the other node").await, Some(4001));

    // A dashboard on B; the browser signs out through A.
    let browser = a.login("admin@demo.example", DEMO_PASSWORD).await;
    let mut dash_b = dashboard_socket(&b.url, &browser).await;
    let (s, _) = browser.call(Method::POST, "/api/v1/auth/logout", None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_eq!(
        closed_within_5s(&mut dash_b, "a dashboard socket on the other node").await,
        Some(4001)
    );

    // The merchant deactivated through A: the expert and shop sockets on B close.
    let t2 = expert_token(&b.url, "expert2@demo.example").await;
    let mut expert_b = expert_socket(&b.url, &t2).await;
    let (mut shop_b, _, _) = common::shopper_at(&b.url, &m, None).await;
    let op = a.login("operator@demo.example", DEMO_PASSWORD).await;
    let (s, body) = op
        .call(
            Method::PATCH,
            &format!("/api/v1/access/merchants/{m}"),
            Some(json!({"active": false})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(
        closed_within_5s(&mut expert_b, "an expert of a deactivated merchant on B").await,
        Some(4001)
    );
    assert_eq!(
        closed_within_5s(&mut shop_b, "a shop socket of a deactivated merchant on B").await,
        Some(4004)
    );
    b.stop().await;
    a.stop().await;
}

/// A retried order report without `placed_at` changes nothing; currencies must be real ISO 4217
/// codes (not XXX, XTS or ZZZ).
async fn orders_retry_changes_nothing_and_currencies_are_real(b: Backend) {
    let app = TestApp::spawn_demo(b).await;
    let (m, _, _) = demo_target(&app).await;
    let admin = app.login("admin@demo.example", DEMO_PASSWORD).await;
    let (_, shopper, _) = common::shopper_ws(&app, &m, None).await;
    let order = json!({"order_id": "R-1", "shopper_id": shopper, "amount": "10.00", "currency": "EUR"});
    let (s, first) = admin.post("/api/v1/orders", order.clone()).await;
    assert_eq!(s, StatusCode::CREATED, "{first}");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (s, again) = admin.post("/api/v1/orders", order.clone()).await;
    assert_eq!(s, StatusCode::OK, "{again}");
    assert_eq!(again["placed_at"], first["placed_at"], "a retry keeps the order's time");
    assert_eq!(again["updated_at"], first["updated_at"], "a retry changes nothing");
    let (_, stored) = admin.get("/api/v1/orders/R-1").await;
    assert_eq!(stored["placed_at"], first["placed_at"]);
    for bad in ["XXX", "XTS", "ZZZ", "XAU", "EU", "EURO", "US$"] {
        let (s, body) = admin
            .post(
                "/api/v1/orders",
                json!({"order_id": format!("C-{bad}"), "shopper_id": shopper, "amount": "1", "currency": bad}),
            )
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {body}");
        assert_eq!(body["errors"][0]["field"], "currency", "{bad}: {body}");
        let (s, _) = admin.get(&format!("/api/v1/orders/C-{bad}")).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{bad} stored nothing");
    }
    for good in ["usd", "JPY", "KWD", "SEK"] {
        let (s, body) = admin
            .post(
                "/api/v1/orders",
                json!({"order_id": format!("G-{good}"), "shopper_id": shopper, "amount": "1", "currency": good}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{good}: {body}");
    }
    app.stop().await;
}

/// Every API error is problem+json, including the ones the framework answers itself, and
/// messages name no server types.
async fn every_api_error_is_problem_json(b: Backend) {
    let app = TestApp::spawn_demo(b).await;
    let admin = app.login("admin@demo.example", DEMO_PASSWORD).await;
    let is_problem = |res: &reqwest::Response| {
        res.headers()
            .get("content-type")
            .is_some_and(|v| v.to_str().unwrap().starts_with("application/problem+json"))
    };
    // A saved-replies import over the body limit.
    let big = format!("shortcut,title,body\n{}", "a,b,c\n".repeat(400_000));
    let res = admin
        .request(Method::POST, "/api/v1/saved-replies/import")
        .header("content-type", "text/csv")
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert!(is_problem(&res), "{:?}", res.headers());
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["status"], 413);
    assert_eq!(v["type"], "urn:floorwalker:problem:payload-too-large");
    // A method the route does not have. (On a new connection: the server may close the one it
    // refused the oversized upload on, and a request reusing it then fails in transport.)
    let res = app.client().request(Method::PUT, "/api/v1/auth/session").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert!(is_problem(&res));
    // A body of the wrong shape: the message names no Rust type.
    let res = app
        .client()
        .request(Method::POST, "/api/v1/auth/login")
        .header("content-type", "application/json")
        .body("[1, 2]")
        .send()
        .await
        .unwrap();
    assert!(res.status().is_client_error());
    assert!(is_problem(&res));
    let text = res.text().await.unwrap();
    assert!(!text.contains("LoginRequest") && !text.contains("struct"), "{text}");
    app.stop().await;
}

on_both_backends!(
    orders_retry_changes_nothing_and_currencies_are_real,
    every_api_error_is_problem_json
);

/// With `RUST_LOG=trace`, no token, session, CSRF token, API key or password reaches the log
/// (the WebSocket layer logs frames verbatim at trace level; it is held to `info`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_reaches_the_log_even_at_trace_level() {
    let dir = tempfile::tempdir().unwrap();
    let log_path = dir.path().join("server.log");
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let log = std::fs::File::create(&log_path).unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_floorwalker"))
        .args(["serve", "--demo", "--addr", &format!("127.0.0.1:{port}")])
        .env("DATABASE_URL", format!("sqlite://{}", dir.path().join("fw.db").display()))
        .env("FLOORWALKER_DEMO_PASSWORD", DEMO_PASSWORD)
        .env("FLOORWALKER_LOGIN_PER_MINUTE", "1000")
        .env("RUST_LOG", "trace")
        .env_remove("REDIS_URL")
        .env_remove("FLOORWALKER_LOG_JSON")
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("start floorwalker");
    let base = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(60);
    while !matches!(reqwest::get(format!("{base}/readyz")).await, Ok(r) if r.status() == StatusCode::OK) {
        assert!(Instant::now() < deadline, "the server did not start");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let mut secrets: Vec<String> = vec![DEMO_PASSWORD.to_owned()];
    // An expert's token, sent in a hello frame and as a bearer token.
    let token = expert_token(&base, "expert1@demo.example").await;
    let mut expert = expert_socket(&base, &token).await;
    expert_answers(&mut expert).await;
    secrets.push(token);
    // A shopper's token, issued in a welcome frame and sent back in the next hello.
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
    let m = s["account"]["merchant_id"].as_str().unwrap().to_owned();
    let csrf = s["csrf_token"].as_str().unwrap().to_owned();
    let (_, _, shopper_token) = common::shopper_at(&base, &m, None).await;
    let (_, _, again) = common::shopper_at(&base, &m, Some(&shopper_token)).await;
    assert_eq!(again, shopper_token);
    secrets.push(shopper_token);
    // A dashboard session and its CSRF token; an API key's secret, used once.
    let key: Value = http
        .post(format!("{base}/api/v1/api-keys"))
        .header("x-csrf-token", &csrf)
        .json(&json!({"name": "log test"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let secret = key["secret"].as_str().expect("an API key").to_owned();
    let res = reqwest::Client::new()
        .get(format!("{base}/api/v1/stores"))
        .bearer_auth(&secret)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    secrets.push(secret);
    secrets.push(csrf);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let _ = child.kill();
    let _ = child.wait();
    let text = std::fs::read_to_string(&log_path).unwrap();
    assert!(text.lines().any(|l| l.contains("TRACE")), "the log is at trace level");
    for s in &secrets {
        assert!(!text.contains(s.as_str()), "a secret reached the log: {}…", &s[..8.min(s.len())]);
    }
    // The session cookie's value too (read from the client's cookie store is not possible with
    // reqwest's built-in store, so look for any session token at all).
    assert!(!text.contains("fws_"), "a session token reached the log");
    assert!(!text.contains("fwe_"), "a store-app token reached the log");
    assert!(!text.contains("fwk_"), "an API key reached the log");
}

/// A handler that panics answers a 500 problem like any internal error (no detail leaks), and
/// the same server goes on answering: `--test-panic-route` serves a route that panics.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_handler_answers_a_500_problem_and_the_server_keeps_serving() {
    let app = TestApp::spawn_with(Backend::Sqlite, |a| a.test_panic_route = true).await;
    let http = reqwest::Client::new();
    for round in 0..2 {
        let res = http.get(format!("{}/api/v1/test/panic", app.url)).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR, "round {round}");
        assert_eq!(res.headers()["content-type"], "application/problem+json", "round {round}");
        assert!(res.headers().contains_key("x-request-id"), "the usual layers still apply");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["type"], "urn:floorwalker:problem:internal", "{body}");
        assert_eq!(body["status"], 500, "{body}");
        assert!(!body.to_string().contains("panic"), "the panic's message stays in the log: {body}");
        let (status, health) = app.client().get("/api/v1/auth/session").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "still serving after a panic: {health}");
        let res = http.get(format!("{}/healthz", app.url)).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK, "round {round}");
    }

    let plain = TestApp::spawn(Backend::Sqlite).await;
    let (status, _) = plain.client().get("/api/v1/test/panic").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "without the test knob there is no such route");
}
