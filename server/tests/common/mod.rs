//! Test harness: a real server on port 0 over a fresh database, on either backend.
//!
//! SQLite tests use a new file in a temporary folder. PostgreSQL tests create a new database
//! on the server named by `FLOORWALKER_TEST_POSTGRES` (e.g. `postgres://postgres@127.0.0.1/postgres`);
//! when that variable is missing they fail, they never skip: CI must run both.
#![allow(dead_code)]

pub mod node;
pub mod sinks;

use std::sync::atomic::{AtomicUsize, Ordering};

use floorwalker::app::Application;
use floorwalker::config::{ServeArgs, ServiceUrl};
use floorwalker::storage::Db;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use sqlx::Connection;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Generate one `#[tokio::test]` per backend for an `async fn(Backend)`.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() { super::$name($crate::common::Backend::Sqlite).await }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() { super::$name($crate::common::Backend::Postgres).await }
        }
    )*};
}

/// A fresh, empty database of the given backend. Dropped PostgreSQL databases are cleaned by
/// [`TestDb::drop_db`]; a panicking test leaves one behind (named `fw_test_*`).
pub struct TestDb {
    pub url: String,
    pg_admin: Option<(String, String)>,
    _dir: Option<tempfile::TempDir>,
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

impl TestDb {
    pub async fn new(backend: Backend) -> TestDb {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("tempdir");
                let url = format!("sqlite://{}", dir.path().join("fw.db").display());
                TestDb {
                    url,
                    pg_admin: None,
                    _dir: Some(dir),
                }
            }
            Backend::Postgres => {
                let admin = std::env::var("FLOORWALKER_TEST_POSTGRES").expect(
                    "FLOORWALKER_TEST_POSTGRES is not set: PostgreSQL tests need a server, e.g. \
                     FLOORWALKER_TEST_POSTGRES=postgres://postgres@127.0.0.1:5432/postgres",
                );
                let name = format!(
                    "fw_test_{}_{}_{}",
                    std::process::id(),
                    COUNTER.fetch_add(1, Ordering::Relaxed),
                    uuid::Uuid::new_v4().simple().to_string().get(..8).unwrap()
                );
                let mut conn = sqlx::PgConnection::connect(&admin)
                    .await
                    .expect("connect to FLOORWALKER_TEST_POSTGRES");
                sqlx::query(&format!("CREATE DATABASE \"{name}\""))
                    .execute(&mut conn)
                    .await
                    .expect("create database");
                conn.close().await.ok();
                let mut url = url::Url::parse(&admin).expect("postgres url");
                url.set_path(&name);
                TestDb {
                    url: url.to_string(),
                    pg_admin: Some((admin, name)),
                    _dir: None,
                }
            }
        }
    }

    /// Close `db`'s connections, then drop the database (PostgreSQL; the SQLite file goes with
    /// the temporary folder).
    pub async fn close(&self, db: Db) {
        db.pool.close().await;
        db.writer.close().await;
        self.drop_db().await;
    }

    pub async fn drop_db(&self) {
        if let Some((admin, name)) = &self.pg_admin {
            if let Ok(mut conn) = sqlx::PgConnection::connect(admin).await {
                let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                    .execute(&mut conn)
                    .await;
            }
        }
    }

    /// PostgreSQL only: end every session on this database and refuse new ones (as if the
    /// server were down), or let them in again (as if it came back).
    pub async fn set_reachable(&self, reachable: bool) {
        let (admin, name) = self.pg_admin.as_ref().expect("a PostgreSQL test database");
        let mut conn = sqlx::PgConnection::connect(admin).await.expect("admin connection");
        sqlx::query(&format!("ALTER DATABASE \"{name}\" WITH ALLOW_CONNECTIONS {reachable}"))
            .execute(&mut conn)
            .await
            .expect("alter database");
        if !reachable {
            sqlx::query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()")
                .bind(name)
                .execute(&mut conn)
                .await
                .expect("terminate sessions");
        }
        conn.close().await.ok();
    }

    pub async fn connect(&self) -> Db {
        let db = Db::connect(&ServiceUrl::new(self.url.clone())).await.expect("connect");
        db.migrate().await.expect("migrate");
        db
    }
}

pub struct TestApp {
    pub url: String,
    pub db: Db,
    /// The running hub, for tests that drive a race by hand.
    pub hub: floorwalker::hub::Hub,
    /// The commerce clock (pay links, quotes): tests move it forward to see lapses.
    pub commerce_clock: floorwalker::commerce::Clock,
    pub test_db: TestDb,
    /// Photo files, when the test did not choose where they go.
    _media: Option<tempfile::TempDir>,
    stop: CancellationToken,
    handle: Option<tokio::task::JoinHandle<()>>,
}

pub const DEMO_PASSWORD: &str = "demo-password-for-tests";

/// The test Redis: `FLOORWALKER_TEST_REDIS`, else the one on loopback.
pub fn redis_url() -> String {
    std::env::var("FLOORWALKER_TEST_REDIS").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> TestApp {
        Self::spawn_with(backend, |_| {}).await
    }

    pub async fn spawn_demo(backend: Backend) -> TestApp {
        Self::spawn_with(backend, |a| {
            a.demo = true;
            a.demo_password = Some(floorwalker::config::Secret::new(DEMO_PASSWORD));
        })
        .await
    }

    pub async fn spawn_with(backend: Backend, tweak: impl FnOnce(&mut ServeArgs)) -> TestApp {
        Self::spawn_on(TestDb::new(backend).await, tweak).await
    }

    /// Two nodes of one cluster on a new PostgreSQL database with the demo merchant, both on the
    /// Redis at `redis` (A seeded the demo; B runs on A's database); `tweak` applies to both.
    pub async fn demo_cluster(redis: &str, tweak: impl Fn(&mut ServeArgs)) -> (TestApp, TestApp) {
        let a = Self::spawn_with(Backend::Postgres, |s| {
            s.demo = true;
            s.demo_password = Some(floorwalker::config::Secret::new(DEMO_PASSWORD));
            s.redis_url = Some(ServiceUrl::new(redis.to_owned()));
            tweak(s);
        })
        .await;
        let b = Self::spawn_node(&a.test_db.url, |s| {
            s.redis_url = Some(ServiceUrl::new(redis.to_owned()));
            tweak(s);
        })
        .await;
        (a, b)
    }

    /// Another node on the same database (the database belongs to whoever created it).
    pub async fn spawn_node(database_url: &str, tweak: impl FnOnce(&mut ServeArgs)) -> TestApp {
        let db = TestDb {
            url: database_url.to_owned(),
            pg_admin: None,
            _dir: None,
        };
        Self::spawn_on(db, tweak).await
    }

    async fn spawn_on(test_db: TestDb, tweak: impl FnOnce(&mut ServeArgs)) -> TestApp {
        if std::env::var_os("FW_TRACE_WS").is_some() {
            floorwalker::telemetry::init_logging(false);
        }
        let mut args = ServeArgs::for_tests(&test_db.url);
        args.login_per_minute = 1000;
        tweak(&mut args);
        let media = (args.media.media_dir.is_none() && args.media.object_store_url.is_none()).then(|| {
            let dir = tempfile::tempdir().expect("tempdir");
            args.media.media_dir = Some(dir.path().to_owned());
            dir
        });
        let app = Application::build(args).await.expect("build app");
        let url = format!("http://{}", app.addr());
        let db = app.state.db.clone();
        let hub = app.state.hub.clone();
        let commerce_clock = app.state.commerce_clock.clone();
        let stop = CancellationToken::new();
        let s = stop.clone();
        let handle = tokio::spawn(async move {
            app.run_until(async move { s.cancelled().await }).await.expect("server ran");
        });
        TestApp {
            url,
            db,
            hub,
            commerce_clock,
            test_db,
            _media: media,
            stop,
            handle: Some(handle),
        }
    }

    /// A client with its own cookie jar (a browser).
    pub fn client(&self) -> Client {
        let jar = std::sync::Arc::new(reqwest::cookie::Jar::default());
        Client {
            base: self.url.clone(),
            http: reqwest::Client::builder().cookie_provider(jar.clone()).build().unwrap(),
            jar,
            csrf: None,
            bearer: None,
        }
    }

    /// Create an operator directly in the database and return a signed-in client.
    pub async fn operator(&self) -> Client {
        let email = format!("op{}@test.example", COUNTER.fetch_add(1, Ordering::Relaxed));
        let hash = floorwalker::auth::hash_password(DEMO_PASSWORD.into()).await.unwrap();
        self.db
            .create_account(&floorwalker::storage::NewAccount {
                merchant_id: None,
                email: &email,
                name: "Test Operator",
                password_hash: &hash,
                role: floorwalker::domain::team::Role::Operator,
                modules: &[],
            })
            .await
            .unwrap();
        self.login(&email, DEMO_PASSWORD).await
    }

    pub async fn login(&self, email: &str, password: &str) -> Client {
        let mut c = self.client();
        let (status, body) = c
            .call(
                Method::POST,
                "/api/v1/auth/login",
                Some(json!({"email": email, "password": password})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "login {email}: {body}");
        c.csrf = Some(body["csrf_token"].as_str().unwrap().to_owned());
        c
    }

    /// A merchant with an admin holding every module; returns (merchant id, admin client).
    pub async fn merchant(&self, op: &Client, name: &str) -> (String, Client) {
        let email = format!(
            "admin{}@{}.example",
            COUNTER.fetch_add(1, Ordering::Relaxed),
            name.to_lowercase().replace(' ', "-")
        );
        let (s, b) = op
            .call(
                Method::POST,
                "/api/v1/access/merchants",
                Some(json!({"name": name, "account": {"email": email, "name": "Admin", "password": DEMO_PASSWORD}})),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
        let id = b["merchant"]["id"].as_str().unwrap().to_owned();
        (id, self.login(&email, DEMO_PASSWORD).await)
    }

    pub async fn stop(mut self) {
        self.stop.cancel();
        if let Some(h) = self.handle.take() {
            let _ = h.await;
        }
        self.db.pool.close().await;
        self.db.writer.close().await;
        self.test_db.drop_db().await;
    }
}

#[derive(Clone)]
pub struct Client {
    pub base: String,
    pub jar: std::sync::Arc<reqwest::cookie::Jar>,
    pub http: reqwest::Client,
    pub csrf: Option<String>,
    pub bearer: Option<String>,
}

impl Client {
    pub fn with_bearer(&self, token: &str) -> Client {
        Client {
            base: self.base.clone(),
            jar: Default::default(),
            http: reqwest::Client::new(),
            csrf: None,
            bearer: Some(token.to_owned()),
        }
    }

    pub fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        let mut rb = self.http.request(method, format!("{}{}", self.base, path));
        if let Some(c) = &self.csrf {
            rb = rb.header("x-csrf-token", c);
        }
        if let Some(b) = &self.bearer {
            rb = rb.bearer_auth(b);
        }
        rb
    }

    /// Send JSON (when given) and return the status and the JSON body (Null when empty).
    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let mut rb = self.request(method, path);
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let res = rb.send().await.expect("request");
        let status = res.status();
        let text = res.text().await.unwrap_or_default();
        let v = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (status, v)
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, None).await
    }
    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, Some(body)).await
    }
}

pub fn problem_type(v: &Value) -> &str {
    v["type"].as_str().unwrap_or("")
}

// ---------- WebSocket clients ----------

use floorwalker::protocol::{decode, Out};
use futures::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message as WsMessage;

pub type WsStream = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A real WebSocket client speaking the protocol.
pub struct Ws {
    pub stream: WsStream,
}

impl Ws {
    pub async fn connect(url: &str, origin: Option<&str>) -> Ws {
        let mut req = url.into_client_request().unwrap();
        if let Some(o) = origin {
            req.headers_mut().insert("origin", o.parse().unwrap());
        }
        let (stream, _) = tokio_tungstenite::connect_async(req).await.expect("websocket connect");
        Ws { stream }
    }

    pub async fn shopper(app: &TestApp, merchant: &str) -> Ws {
        Ws::connect(
            &format!("{}/ws/shopper?merchant={merchant}&v=1", app.url.replace("http", "ws")),
            None,
        )
        .await
    }

    pub async fn expert(app: &TestApp) -> Ws {
        Ws::connect(&format!("{}/ws/expert?v=1", app.url.replace("http", "ws")), None).await
    }

    pub async fn send(&mut self, v: Value) {
        self.stream.send(WsMessage::Text(v.to_string().into())).await.expect("send");
    }

    pub async fn send_raw(&mut self, m: WsMessage) {
        let _ = self.stream.send(m).await;
    }

    /// The next protocol frame (pings skipped); panics after 5 s or on close.
    pub async fn recv(&mut self) -> Out {
        self.recv_within(std::time::Duration::from_secs(5)).await
    }

    pub async fn recv_within(&mut self, wait: std::time::Duration) -> Out {
        loop {
            let m = tokio::time::timeout(wait, self.stream.next())
                .await
                .unwrap_or_else(|_| panic!("a frame within {wait:?}"));
            match m {
                Some(Ok(WsMessage::Text(t))) => {
                    if std::env::var_os("FW_TRACE_WS").is_some() {
                        eprintln!("<- {t}");
                    }
                    return decode(t.as_str()).unwrap_or_else(|e| panic!("undecodable {t}: {e}"));
                }
                Some(Ok(WsMessage::Close(c))) => panic!("closed: {c:?}"),
                Some(Ok(_)) => continue,
                other => panic!("socket ended: {other:?}"),
            }
        }
    }

    /// Skip frames until one matches.
    pub async fn until(&mut self, what: &str, pred: impl Fn(&Out) -> bool) -> Out {
        self.until_within(what, std::time::Duration::from_secs(8), pred).await
    }

    pub async fn until_within(&mut self, what: &str, wait: std::time::Duration, pred: impl Fn(&Out) -> bool) -> Out {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let f = tokio::time::timeout(left, self.recv_within(left))
                .await
                .unwrap_or_else(|_| panic!("no {what} within {wait:?}"));
            if pred(&f) {
                return f;
            }
        }
    }

    /// Frames arriving within `ms` (for asserting that something does NOT arrive).
    pub async fn drain(&mut self, ms: u64) -> Vec<Out> {
        let mut out = Vec::new();
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_millis(ms);
        while let Ok(Some(Ok(m))) = tokio::time::timeout_at(deadline, self.stream.next()).await {
            if let WsMessage::Text(t) = m {
                out.push(decode(t.as_str()).unwrap());
            }
        }
        out
    }

    /// Wait for the server to close; returns the close code.
    pub async fn close_code(&mut self) -> Option<u16> {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(15);
        loop {
            match tokio::time::timeout_at(deadline, self.stream.next()).await {
                Ok(Some(Ok(WsMessage::Close(c)))) => return c.map(|c| u16::from(c.code)),
                Ok(Some(Ok(_))) => continue,
                Ok(Some(Err(_))) | Ok(None) => return None,
                Err(_) => panic!("the server did not close within 15 s"),
            }
        }
    }
}

/// The demo merchant's id and its Stockholm store (open around the clock) with one department.
pub async fn demo_target(app: &TestApp) -> (String, String, String) {
    let admin = app.login("admin@demo.example", DEMO_PASSWORD).await;
    let (_, stores) = admin.get("/api/v1/stores").await;
    let s = stores["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "Stockholm Flagship")
        .unwrap()
        .clone();
    let m = s["departments"][0]["id"].as_str().unwrap().to_owned();
    let (_, session) = admin.get("/api/v1/auth/session").await;
    (
        session["account"]["merchant_id"].as_str().unwrap().to_owned(),
        s["id"].as_str().unwrap().to_owned(),
        m,
    )
}

/// A demo expert's id (by signing them in to the store app).
pub async fn demo_expert_id(app: &TestApp, email: &str) -> String {
    let (s, b) = app
        .client()
        .post("/api/v1/app/login", json!({"email": email, "password": DEMO_PASSWORD}))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    b["expert"]["id"].as_str().unwrap().to_owned()
}

/// A signed-in expert socket (said hello, got welcome).
pub async fn expert_ws(app: &TestApp, email: &str) -> (Ws, Out) {
    expert_at_with_welcome(&app.url, email).await
}

/// A signed-in expert socket on the server at `base` (any node of a cluster).
pub async fn expert_at(base: &str, email: &str) -> Ws {
    expert_at_with_welcome(base, email).await.0
}

async fn expert_at_with_welcome(base: &str, email: &str) -> (Ws, Out) {
    let res = reqwest::Client::new()
        .post(format!("{base}/api/v1/app/login"))
        .json(&json!({"email": email, "password": DEMO_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let b: Value = res.json().await.unwrap();
    let mut ws = Ws::connect(&format!("{}/ws/expert?v=1", base.replacen("http", "ws", 1)), None).await;
    ws.send(json!({"type": "hello", "token": b["token"]})).await;
    let welcome = ws.recv().await;
    assert!(matches!(welcome, Out::ExpertWelcome { .. }), "{welcome:?}");
    (ws, welcome)
}

/// A shopper socket that said hello; returns (socket, shopper id, token).
pub async fn shopper_ws(app: &TestApp, merchant: &str, token: Option<&str>) -> (Ws, String, String) {
    shopper_at(&app.url, merchant, token).await
}

/// The same, on the server at `base` (any node of a cluster).
pub async fn shopper_at(base: &str, merchant: &str, token: Option<&str>) -> (Ws, String, String) {
    let ws = Ws::connect(
        &format!("{}/ws/shopper?merchant={merchant}&v=1", base.replacen("http", "ws", 1)),
        None,
    )
    .await;
    shopper_hello(ws, token).await
}

/// Say hello on a fresh shopper socket; returns (socket, shopper id, token).
pub async fn shopper_hello(mut ws: Ws, token: Option<&str>) -> (Ws, String, String) {
    ws.send(match token {
        Some(t) => json!({"type": "hello", "token": t}),
        None => json!({"type": "hello"}),
    })
    .await;
    match ws.recv().await {
        Out::ShopperWelcome { shopper_id, token, .. } => (ws, shopper_id, token),
        other => panic!("expected welcome, got {other:?}"),
    }
}

pub fn conv_id(o: &Out) -> String {
    match o {
        Out::Conversation { conversation } => conversation.id.to_string(),
        other => panic!("expected conversation, got {other:?}"),
    }
}

/// Ask for a chat and return what the server answers: the conversation, `unavailable` or an error.
pub async fn request_answer(shopper: &mut Ws, store: &str, dep: &str) -> Out {
    shopper
        .send(json!({"type": "request_chat", "store_id": store, "department_id": dep}))
        .await;
    shopper
        .until("an answer to request_chat", |o| {
            matches!(o, Out::Unavailable { .. } | Out::Error { .. } | Out::Conversation { .. })
        })
        .await
}

pub async fn start_chat(shopper: &mut Ws, store: &str, dep: &str, text: &str) -> String {
    shopper
        .send(json!({"type": "request_chat", "store_id": store, "department_id": dep, "text": text, "client_msg_id": "first", "page_url": "https://shop.example/tv"}))
        .await;
    let c = shopper.until("conversation", |o| matches!(o, Out::Conversation { .. })).await;
    let id = conv_id(&c);
    let ack = shopper.until("ack", |o| matches!(o, Out::Ack { .. })).await;
    assert!(matches!(ack, Out::Ack { seq: 1, .. }), "{ack:?}");
    id
}

pub async fn claim(expert: &mut Ws, id: &str) {
    expert
        .until("offer", |o| matches!(o, Out::Offer { offer } if offer.conversation_id == id))
        .await;
    expert.send(json!({"type": "claim", "conversation_id": id})).await;
    let c = expert
        .until(
            "claimed conversation",
            |o| matches!(o, Out::Conversation { conversation } if conversation.id == id && conversation.status == "claimed"),
        )
        .await;
    assert!(matches!(c, Out::Conversation { .. }));
}

/// The columns a document lists for a CSV: the first backticked span after `marker` in
/// `doc` (a path from the repository root), split at commas; line breaks inside are ignored.
pub fn documented_columns(doc: &str, marker: &str) -> Vec<String> {
    let path = format!("{}/../{doc}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let at = text.find(marker).unwrap_or_else(|| panic!("{doc} has no `{marker}`"));
    let rest = &text[at + marker.len()..];
    let start = rest.find('`').unwrap_or_else(|| panic!("{doc}: no list after `{marker}`")) + 1;
    let end = start + rest[start..].find('`').unwrap();
    rest[start..end].split(',').map(|c| c.trim().to_owned()).collect()
}

/// A CSV export read back: its header must be the documented columns, then only columns named
/// with one of `then` (per-currency columns, e.g. `revenue_`), and every row exactly as long as
/// the header. Returns the header and the rows.
pub fn csv_as_documented(text: &str, documented: &[String], then: &[&str]) -> (csv::StringRecord, Vec<csv::StringRecord>) {
    assert!(!documented.is_empty());
    // Flexible: a row of the wrong length is reported below, with the row.
    let mut r = csv::ReaderBuilder::new().flexible(true).from_reader(text.as_bytes());
    let header = r.headers().unwrap().clone();
    let names: Vec<&str> = header.iter().collect();
    assert!(
        names.len() >= documented.len() && names[..documented.len()] == documented.iter().map(String::as_str).collect::<Vec<_>>()[..],
        "header {names:?}\nbut the documentation lists {documented:?}"
    );
    for extra in &names[documented.len()..] {
        assert!(
            then.iter().any(|p| extra.starts_with(p)),
            "undocumented column {extra} in {names:?}"
        );
    }
    let rows: Vec<csv::StringRecord> = r.records().map(|r| r.unwrap()).collect();
    for row in &rows {
        assert_eq!(
            row.len(),
            header.len(),
            "a row of {} cells under a header of {}: {row:?}",
            row.len(),
            header.len()
        );
    }
    (header, rows)
}
