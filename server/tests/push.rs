//! Web Push alerts (issue 23) against a push service on loopback started by the test: it
//! decrypts every message with the device's own keys (RFC 8291, written here independently of
//! the server's library) and checks the VAPID JWT's ES256 signature with the key the server
//! publishes (RFC 8292); it can answer 404/410 or be down. Real `floorwalker` processes are
//! killed with SIGKILL for the crash test.

mod common;

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use common::node::{until, Node};
use common::sinks::free_port;
use common::{claim, demo_target, expert_ws, shopper_ws, start_chat, Backend, Client, TestApp, DEMO_PASSWORD};
use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio::net::TcpListener;

on_both_backends!(
    a_locked_expert_is_alerted_and_the_alert_closes_when_a_colleague_claims,
    a_gone_device_is_removed_and_the_alert_fails_with_the_reason,
    sign_out_and_deactivation_remove_devices_and_bad_subscriptions_are_refused,
    analytics_count_alerts_and_chats_missed_while_every_alert_failed,
    at_cap_is_judged_by_the_caps_of_the_time,
    a_success_clears_a_device_failure_and_is_recorded_once_a_minute,
    a_node_killed_before_the_hand_off_delivers_once_after_restart,
);

// ---------- the push service ----------

/// A device: the keys a browser would make for `pushManager.subscribe`.
#[derive(Clone)]
struct Device {
    name: String,
    secret: p256::SecretKey,
    auth: [u8; 16],
}

impl Device {
    fn new(name: &str) -> Device {
        use rand::RngCore as _;
        let secret = loop {
            let mut b = [0u8; 32];
            rand::rngs::OsRng.fill_bytes(&mut b);
            if let Ok(s) = p256::SecretKey::from_slice(&b) {
                break s;
            }
        };
        let mut auth = [0u8; 16];
        rand::rngs::OsRng.fill_bytes(&mut auth);
        Device {
            name: name.to_owned(),
            secret,
            auth,
        }
    }
    fn public(&self) -> Vec<u8> {
        use p256::elliptic_curve::sec1::ToEncodedPoint as _;
        self.secret.public_key().to_encoded_point(false).as_bytes().to_vec()
    }
    fn subscription(&self, base: &str, lang: &str) -> Value {
        json!({
            "endpoint": format!("{base}/push/{}", self.name),
            "keys": {"p256dh": URL_SAFE_NO_PAD.encode(self.public()), "auth": URL_SAFE_NO_PAD.encode(self.auth)},
            "lang": lang,
        })
    }

    /// RFC 8291 §3.4 and RFC 8188 §2, one record.
    fn decrypt(&self, body: &[u8]) -> Result<Vec<u8>, String> {
        use aes_gcm::aead::{Aead, KeyInit};
        use hkdf::Hkdf;
        use sha2::Sha256;
        if body.len() < 21 {
            return Err("too short".into());
        }
        let salt = &body[..16];
        let rs = u32::from_be_bytes(body[16..20].try_into().unwrap());
        let idlen = body[20] as usize;
        let as_public = &body[21..21 + idlen];
        let ciphertext = &body[21 + idlen..];
        if ciphertext.len() > rs as usize {
            return Err(format!("one record expected, rs {rs}, {} bytes", ciphertext.len()));
        }
        let as_key = p256::PublicKey::from_sec1_bytes(as_public).map_err(|e| format!("keyid: {e}"))?;
        let shared = p256::ecdh::diffie_hellman(self.secret.to_nonzero_scalar(), as_key.as_affine());
        let mut info = b"WebPush: info\0".to_vec();
        info.extend_from_slice(&self.public());
        info.extend_from_slice(as_public);
        let mut ikm = [0u8; 32];
        Hkdf::<Sha256>::new(Some(&self.auth), shared.raw_secret_bytes().as_slice())
            .expand(&info, &mut ikm)
            .unwrap();
        let prk = Hkdf::<Sha256>::new(Some(salt), &ikm);
        let mut cek = [0u8; 16];
        prk.expand(b"Content-Encoding: aes128gcm\0", &mut cek).unwrap();
        let mut nonce = [0u8; 12];
        prk.expand(b"Content-Encoding: nonce\0", &mut nonce).unwrap();
        let plain = aes_gcm::Aes128Gcm::new_from_slice(&cek)
            .unwrap()
            .decrypt(aes_gcm::Nonce::from_slice(&nonce), ciphertext)
            .map_err(|_| "the tag does not verify".to_owned())?;
        // The last record: content, then the delimiter 2, then zero padding.
        let end = plain.iter().rposition(|b| *b != 0).ok_or("no delimiter")?;
        if plain[end] != 2 {
            return Err(format!("delimiter {}", plain[end]));
        }
        Ok(plain[..end].to_vec())
    }
}

/// One request the push service got.
#[derive(Debug, Clone)]
struct Push {
    device: String,
    answered: u16,
    ttl: Option<u64>,
    urgency: String,
    topic: String,
    encoding: String,
    /// The VAPID JWT's signature verified with `k`, its audience is this service's origin, it
    /// expires within a day, and its subject is a mailto: contact.
    vapid_ok: bool,
    vapid_key: String,
    payload: Option<Value>,
    error: Option<String>,
}

#[derive(Default)]
struct ServiceState {
    devices: HashMap<String, Device>,
    got: Vec<Push>,
    script: HashMap<String, VecDeque<u16>>,
}

struct PushService {
    base: String,
    state: Arc<Mutex<ServiceState>>,
    task: tokio::task::JoinHandle<()>,
}

impl PushService {
    async fn start() -> PushService {
        Self::start_on(0).await
    }

    async fn start_on(port: u16) -> PushService {
        let listener = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(ServiceState::default()));
        let (s, origin) = (state.clone(), base.clone());
        let app = axum::Router::new().route(
            "/push/{device}",
            axum::routing::post(
                move |axum::extract::Path(device): axum::extract::Path<String>, headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                    let (s, origin) = (s.clone(), origin.clone());
                    async move { receive(s, &origin, device, headers, body) }
                },
            ),
        );
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        PushService { base, state, task }
    }

    fn add(&self, d: &Device) {
        self.state.lock().unwrap().devices.insert(d.name.clone(), d.clone());
    }
    fn answer(&self, device: &str, statuses: &[u16]) {
        self.state
            .lock()
            .unwrap()
            .script
            .entry(device.to_owned())
            .or_default()
            .extend(statuses);
    }
    fn got(&self) -> Vec<Push> {
        self.state.lock().unwrap().got.clone()
    }
    /// What `device` got about `conversation`, in order.
    fn about(&self, device: &str, conversation: &str) -> Vec<Push> {
        self.got()
            .into_iter()
            .filter(|p| p.device == device && p.payload.as_ref().is_some_and(|v| v["conversation_id"] == conversation))
            .collect()
    }
}

impl Drop for PushService {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn receive(
    state: Arc<Mutex<ServiceState>>,
    origin: &str,
    device: String,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> axum::http::StatusCode {
    let h = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    let (vapid_ok, vapid_key) = check_vapid(&h("authorization"), origin);
    let mut st = state.lock().unwrap();
    let answered = st.script.get_mut(&device).and_then(|q| q.pop_front()).unwrap_or(201);
    let (payload, error) = match st.devices.get(&device) {
        Some(d) => match d.decrypt(&body) {
            Ok(p) => match serde_json::from_slice::<Value>(&p) {
                Ok(v) => (Some(v), None),
                Err(e) => (None, Some(format!("not JSON: {e}"))),
            },
            Err(e) => (None, Some(e)),
        },
        None => (None, Some("unknown device".into())),
    };
    st.got.push(Push {
        device,
        answered,
        ttl: h("ttl").parse().ok(),
        urgency: h("urgency"),
        topic: h("topic"),
        encoding: h("content-encoding"),
        vapid_ok,
        vapid_key,
        payload,
        error,
    });
    axum::http::StatusCode::from_u16(answered).unwrap()
}

/// RFC 8292: `vapid t=<JWT>, k=<public key>`; ES256 over `header.claims`.
fn check_vapid(header: &str, origin: &str) -> (bool, String) {
    use p256::ecdsa::signature::Verifier as _;
    let Some(rest) = header.strip_prefix("vapid t=") else {
        return (false, String::new());
    };
    let Some((token, k)) = rest.split_once(", k=") else {
        return (false, String::new());
    };
    let parts: Vec<&str> = token.split('.').collect();
    if parts.len() != 3 {
        return (false, k.to_owned());
    }
    let ok = (|| {
        let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).ok()?).ok()?;
        let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).ok()?).ok()?;
        let key = p256::ecdsa::VerifyingKey::from_sec1_bytes(&URL_SAFE_NO_PAD.decode(k).ok()?).ok()?;
        let sig = p256::ecdsa::Signature::from_slice(&URL_SAFE_NO_PAD.decode(parts[2]).ok()?).ok()?;
        key.verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &sig).ok()?;
        let exp = claims["exp"].as_i64()?;
        let now = chrono::Utc::now().timestamp();
        Some(
            header["alg"] == "ES256"
                && claims["aud"] == origin
                && exp > now
                && exp <= now + 24 * 3600
                && claims["sub"].as_str()?.starts_with("mailto:"),
        )
    })()
    .unwrap_or(false);
    (ok, k.to_owned())
}

// ---------- helpers ----------

fn private(a: &mut floorwalker::config::ServeArgs) {
    a.demo = true;
    a.demo_password = Some(floorwalker::config::Secret::new(DEMO_PASSWORD));
    a.outbound.allow_private_webhooks = true;
}

/// A store-app client for an expert (bearer token).
async fn expert_app(base: &str, email: &str) -> Client {
    let c = Client {
        base: base.to_owned(),
        jar: Default::default(),
        http: reqwest::Client::new(),
        csrf: None,
        bearer: None,
    };
    let (s, v) = c
        .post("/api/v1/app/login", json!({"email": email, "password": DEMO_PASSWORD}))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    c.with_bearer(v["token"].as_str().unwrap())
}

async fn subscribe(app: &Client, service: &PushService, d: &Device, lang: &str) -> Value {
    service.add(d);
    let (s, v) = app
        .post("/api/v1/app/push/subscriptions", d.subscription(&service.base, lang))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    v
}

async fn alerts_of(admin: &Client, conversation: &str) -> Vec<Value> {
    let (s, v) = admin.get(&format!("/api/v1/team/alerts?conversation_id={conversation}")).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v.as_array().unwrap().clone()
}

// ---------- tests ----------

async fn a_locked_expert_is_alerted_and_the_alert_closes_when_a_colleague_claims(b: Backend) {
    let app = TestApp::spawn_with(b, private).await;
    let service = PushService::start().await;
    let (merchant, store, dep) = demo_target(&app).await;
    let admin = app.login("admin@demo.example", DEMO_PASSWORD).await;

    // Sara (expert1) locked her phone: a device, no socket. Johan (expert2) has the app open
    // and a device too: he is reached over the socket, not by push.
    let sara = expert_app(&app.url, "expert1@demo.example").await;
    let (s, key) = sara.get("/api/v1/app/push/key").await;
    assert_eq!(s, StatusCode::OK);
    let phone = Device::new("sara-phone");
    let sub = subscribe(&sara, &service, &phone, "fa").await;
    assert_eq!(sub["lang"], "fa");
    assert!(
        sub.get("p256dh").is_none() && sub.get("auth").is_none(),
        "keys are not echoed: {sub}"
    );
    let johan_app = expert_app(&app.url, "expert2@demo.example").await;
    let johans = Device::new("johan-phone");
    subscribe(&johan_app, &service, &johans, "sv").await;
    let (mut johan, _) = expert_ws(&app, "expert2@demo.example").await;

    let (mut shopper, _, _) = shopper_ws(&app, &merchant, None).await;
    let text = "Hej! Do you have the Sony Bravia 55 inch in stock in the Stockholm store, and can I pick it up today?";
    let conv = start_chat(&mut shopper, &store, &dep, text).await;

    let alert = until("Sara's alert", 20, async || service.about("sara-phone", &conv).into_iter().next()).await;
    assert_eq!(alert.error, None);
    assert!(alert.vapid_ok, "the VAPID JWT verifies and names this push service");
    assert_eq!(alert.vapid_key, key["public_key"], "signed with the key the app subscribed with");
    assert_eq!(alert.encoding, "aes128gcm");
    assert_eq!(alert.urgency, "high");
    assert!(alert.ttl.is_some_and(|t| t > 0 && t <= 60), "short TTL: {:?}", alert.ttl);
    assert!(!alert.topic.is_empty() && alert.topic.len() <= 32);
    let p = alert.payload.clone().unwrap();
    assert_eq!(p["type"], "offer");
    assert_eq!(p["store"], "Stockholm Flagship");
    assert!(p["department"].as_str().is_some_and(|d| !d.is_empty()));
    let words = p["text"].as_str().unwrap();
    assert!(
        words.starts_with("Hej! Do you have the Sony") && words.ends_with('…') && words.len() < text.len(),
        "{words}"
    );
    assert_eq!(p["lang"], "fa");
    assert!(p["queued_at"].as_i64().unwrap() <= p["sent_at"].as_i64().unwrap());
    let alert_id = p["alert"].as_str().unwrap().to_owned();
    let receipt = p["receipt"].as_str().unwrap().to_owned();

    // The live expert got the offer over the socket and nothing by push.
    johan
        .until(
            "the offer",
            |o| matches!(o, floorwalker::protocol::Out::Offer { offer } if offer.conversation_id == conv),
        )
        .await;
    assert!(service.about("johan-phone", &conv).is_empty(), "a live socket is not pushed to");

    // The service worker reports it shown; a wrong receipt changes nothing.
    let anon = app.client();
    let (s, _) = anon
        .with_bearer("not-the-receipt")
        .post(&format!("/api/v1/app/push/alerts/{alert_id}/report"), json!({"event": "opened"}))
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, v) = anon
        .with_bearer(&receipt)
        .post(&format!("/api/v1/app/push/alerts/{alert_id}/report"), json!({"event": "shown"}))
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{v}");
    let rows = alerts_of(&admin, &conv).await;
    let pushed: Vec<&Value> = rows.iter().filter(|r| r["channel"] == "push").collect();
    assert_eq!(pushed.len(), 1, "one push alert: Sara's one device: {rows:?}");
    assert_eq!(pushed[0]["expert_id"], sub["expert_id"]);
    assert_eq!(pushed[0]["state"], "shown");
    assert!(pushed[0]["handed_at"].as_i64().is_some() && pushed[0]["shown_at"].as_i64().is_some());
    // Johan's offer over his socket is an alert too, delivered (handed) when it was written.
    let socket = until("Johan's socket alert", 10, async || {
        alerts_of(&admin, &conv).await.into_iter().find(|r| r["channel"] == "socket")
    })
    .await;
    assert_ne!(socket["expert_id"], sub["expert_id"]);
    assert_eq!(socket["state"], "handed");
    assert!(socket["handed_at"].as_i64().is_some());

    // Johan claims: Sara's notification is replaced by a closing push with the same topic.
    johan.send(json!({"type": "claim", "conversation_id": conv})).await;
    johan
        .until("the claimed chat", |o| {
            matches!(o, floorwalker::protocol::Out::Conversation { conversation } if conversation.id == conv && conversation.status == "claimed")
        })
        .await;
    let closing = until("the closing push", 20, async || {
        service
            .about("sara-phone", &conv)
            .into_iter()
            .find(|p| p.payload.as_ref().is_some_and(|v| v["type"] == "close"))
    })
    .await;
    assert!(closing.vapid_ok);
    assert_eq!(closing.topic, alert.topic, "the push service replaces an undelivered offer");
    assert_eq!(closing.payload.unwrap()["reason"], "claimed");
    let rows = alerts_of(&admin, &conv).await;
    let state_of = |ch: &str| {
        rows.iter()
            .filter(|r| r["channel"] == ch)
            .map(|r| r["state"].clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(state_of("push"), [json!("closed")], "{rows:?}");
    assert_eq!(state_of("socket"), [json!("claimed")], "Johan's alert led to his claim: {rows:?}");
    assert_eq!(rows.len(), 2, "the offer sent again later is the same alert: {rows:?}");
    // Nothing more arrives: one offer and one close.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(service.about("sara-phone", &conv).len(), 2);
    // The Team page: Sara and Johan can be alerted; Amira (no device) cannot.
    let (_, team) = admin.get("/api/v1/team/alerting").await;
    let team = team.as_array().unwrap();
    assert_eq!(team.iter().filter(|t| t["state"] == "ok").count(), 2, "{team:?}");
    assert_eq!(
        team.iter().filter(|t| t["state"] == "no_device").count(),
        team.len() - 2,
        "{team:?}"
    );
    drop(johan);
    app.stop().await;
}

async fn a_gone_device_is_removed_and_the_alert_fails_with_the_reason(b: Backend) {
    let app = TestApp::spawn_with(b, private).await;
    let service = PushService::start().await;
    let (merchant, store, dep) = demo_target(&app).await;
    let admin = app.login("admin@demo.example", DEMO_PASSWORD).await;
    let sara = expert_app(&app.url, "expert1@demo.example").await;
    let old = Device::new("old-phone");
    subscribe(&sara, &service, &old, "en").await;
    let new = Device::new("new-phone");
    subscribe(&sara, &service, &new, "en").await;
    // The old phone's subscription expired: the push service answers 410.
    service.answer("old-phone", &[410]);

    let (mut shopper, _, _) = shopper_ws(&app, &merchant, None).await;
    let conv = start_chat(&mut shopper, &store, &dep, "Is the green tent waterproof?").await;
    until("both devices tried", 20, async || {
        (service.about("old-phone", &conv).len() == 1 && !service.about("new-phone", &conv).is_empty()).then_some(())
    })
    .await;
    assert_eq!(service.about("old-phone", &conv)[0].answered, 410);
    let rows = until("one alert failed, the other handed over", 20, async || {
        let rows = alerts_of(&admin, &conv).await;
        // The push service records a request before it answers: wait for both outcomes.
        (rows.iter().any(|r| r["state"] == "failed") && rows.iter().any(|r| r["state"] == "handed")).then_some(rows)
    })
    .await;
    let failed: Vec<&Value> = rows.iter().filter(|r| r["state"] == "failed").collect();
    assert_eq!(failed.len(), 1, "{rows:?}");
    assert_eq!(failed[0]["reason"], "expired");
    assert!(
        rows.iter().any(|r| r["state"] == "handed"),
        "the new phone's alert went through: {rows:?}"
    );
    let (_, subs) = sara.get("/api/v1/app/push/subscriptions").await;
    let endpoints: Vec<&str> = subs.as_array().unwrap().iter().map(|s| s["endpoint"].as_str().unwrap()).collect();
    assert_eq!(
        endpoints,
        [format!("{}/push/new-phone", service.base)],
        "the gone device was removed"
    );
    // The outbox shows the push rows with what the push service answered (the row's own status
    // is written just after the alert's state: wait for it too).
    until("the outbox rows settled as failed and sent", 20, async || {
        let (_, out) = admin.get(&format!("/api/v1/outbox?kind=push&conversation_id={conv}")).await;
        let statuses: Vec<String> = out["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["status"].as_str().unwrap().to_owned())
            .collect();
        (statuses.iter().any(|s| s == "failed") && statuses.iter().any(|s| s == "sent")).then_some(())
    })
    .await;
    app.stop().await;
}

async fn sign_out_and_deactivation_remove_devices_and_bad_subscriptions_are_refused(b: Backend) {
    let app = TestApp::spawn_with(b, private).await;
    let service = PushService::start().await;
    let admin = app.login("admin@demo.example", DEMO_PASSWORD).await;
    let sara = expert_app(&app.url, "expert1@demo.example").await;
    let d = Device::new("d1");

    // Bad input: a clear problem, nothing stored.
    let mut bad = d.subscription(&service.base, "en");
    bad["keys"]["p256dh"] = json!("AAAA");
    let (s, v) = sara.post("/api/v1/app/push/subscriptions", bad).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(common::problem_type(&v), "urn:floorwalker:problem:validation");
    let (s, v) = sara
        .post("/api/v1/app/push/subscriptions", d.subscription(&service.base, "xx"))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let mut ftp = d.subscription(&service.base, "en");
    ftp["endpoint"] = json!("ftp://push.example/x");
    assert_eq!(
        sara.post("/api/v1/app/push/subscriptions", ftp).await.0,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(sara.get("/api/v1/app/push/subscriptions").await.1, json!([]));

    // Registering twice keeps one row; another expert signing in on the same browser takes it.
    subscribe(&sara, &service, &d, "en").await;
    let again = subscribe(&sara, &service, &d, "de").await;
    assert_eq!(again["lang"], "de");
    assert_eq!(sara.get("/api/v1/app/push/subscriptions").await.1.as_array().unwrap().len(), 1);
    let johan = expert_app(&app.url, "expert2@demo.example").await;
    subscribe(&johan, &service, &d, "sv").await;
    assert_eq!(sara.get("/api/v1/app/push/subscriptions").await.1, json!([]));
    // Johan cannot remove a device that is not his; he can remove his own.
    let sub = subscribe(&sara, &service, &Device::new("d2"), "en").await;
    let sid = sub["id"].as_str().unwrap();
    assert_eq!(
        johan
            .call(reqwest::Method::DELETE, &format!("/api/v1/app/push/subscriptions/{sid}"), None)
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(sara.get("/api/v1/app/push/subscriptions").await.1.as_array().unwrap().len(), 1);

    // Signing out removes the devices registered with that sign-in.
    let (s, _) = johan.post("/api/v1/app/logout", json!({})).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let subs = merchant_devices(&app).await;
    assert!(!subs.iter().any(|s| s.ends_with("/push/d1")), "{subs:?}");
    assert!(subs.iter().any(|s| s.ends_with("/push/d2")), "{subs:?}");

    // Deactivation removes every device of the expert.
    let (_, me) = sara.get("/api/v1/app/me").await;
    let (s, v) = admin
        .post(
            &format!("/api/v1/team/experts/{}/deactivate", me["id"].as_str().unwrap()),
            json!({}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert!(merchant_devices(&app).await.is_empty());
    app.stop().await;
}

async fn merchant_devices(app: &TestApp) -> Vec<String> {
    let rows: Vec<(String,)> = sqlx::query_as("SELECT endpoint FROM push_subscriptions ORDER BY endpoint")
        .fetch_all(&app.db.pool)
        .await
        .unwrap();
    rows.into_iter().map(|r| r.0).collect()
}

async fn a_node_killed_before_the_hand_off_delivers_once_after_restart(b: Backend) {
    let db = common::TestDb::new(b).await;
    // The push service is down at first: the alert is committed but cannot be handed over.
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let a = Node::start(&db.url, true, &[]).await;
    let sara = expert_app(&a.url, "expert1@demo.example").await;
    let d = Device::new("sara-phone");
    let (s, v) = sara.post("/api/v1/app/push/subscriptions", d.subscription(&base, "en")).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let admin = {
        let mut c = Client {
            base: a.url.clone(),
            jar: Default::default(),
            http: reqwest::Client::builder().cookie_store(true).build().unwrap(),
            csrf: None,
            bearer: None,
        };
        let (_, v) = c
            .post(
                "/api/v1/auth/login",
                json!({"email": "admin@demo.example", "password": DEMO_PASSWORD}),
            )
            .await;
        c.csrf = Some(v["csrf_token"].as_str().unwrap().to_owned());
        c
    };
    let (_, stores) = admin.get("/api/v1/stores").await;
    let st = stores["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "Stockholm Flagship")
        .unwrap()
        .clone();
    let (_, session) = admin.get("/api/v1/auth/session").await;
    let merchant = session["account"]["merchant_id"].as_str().unwrap().to_owned();
    let (mut shopper, _, _) = common::shopper_at(&a.url, &merchant, None).await;
    let conv = start_chat(
        &mut shopper,
        st["id"].as_str().unwrap(),
        st["departments"][0]["id"].as_str().unwrap(),
        "Can you hold a pair of size 42 for me?",
    )
    .await;
    // Committed, tried, not handed over (nobody listens), then the node dies.
    let row = until("a failed attempt on the alert", 20, async || {
        let (_, out) = admin.get(&format!("/api/v1/outbox?kind=push&conversation_id={conv}")).await;
        let r = out["items"].as_array()?.first()?.clone();
        (r["attempts"].as_i64()? >= 1 && r["status"] == "queued").then_some(r)
    })
    .await;
    drop(shopper);
    drop(a);

    // The push service comes up; a new node on the same database delivers the alert once.
    let service = PushService::start_on(port).await;
    service.add(&d);
    let b_node = Node::start(&db.url, false, &[]).await;
    let got = until("the alert after the restart", 30, async || {
        let g = service.about("sara-phone", &conv);
        (!g.is_empty()).then_some(g)
    })
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(service.about("sara-phone", &conv).len(), 1, "delivered once: {got:?}");
    assert!(got[0].vapid_ok && got[0].error.is_none(), "{got:?}");
    assert_eq!(got[0].payload.as_ref().unwrap()["type"], "offer");
    let admin_b = Client {
        base: b_node.url.clone(),
        ..admin
    };
    let (_, detail) = admin_b.get(&format!("/api/v1/outbox/{}", row["id"].as_str().unwrap())).await;
    assert_eq!(detail["status"], "sent", "{detail}");
    let rows = alerts_of(&admin_b, &conv).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["state"], "handed");
    drop(b_node);
    db.drop_db().await;
}

async fn analytics_count_alerts_and_chats_missed_while_every_alert_failed(b: Backend) {
    let app = TestApp::spawn_with(b, private).await;
    let service = PushService::start().await;
    let (merchant, store, dep) = demo_target(&app).await;
    let admin = app.login("admin@demo.example", DEMO_PASSWORD).await;
    let (_, mut routing) = admin.get("/api/v1/settings/routing").await;
    routing["missed_after_s"] = json!(10);
    let (s, v) = admin.call(reqwest::Method::PUT, "/api/v1/settings/routing", Some(routing)).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let sara = expert_app(&app.url, "expert1@demo.example").await;
    let phone = Device::new("sara-phone");
    subscribe(&sara, &service, &phone, "en").await;

    // First chat: the alert goes through and the device reports it shown.
    let (mut s1, _, _) = shopper_ws(&app, &merchant, None).await;
    let c1 = start_chat(&mut s1, &store, &dep, "First question").await;
    let p1 = until("the first alert", 20, async || service.about("sara-phone", &c1).into_iter().next()).await;
    let p1 = p1.payload.unwrap();
    let (s, _) = app
        .client()
        .with_bearer(p1["receipt"].as_str().unwrap())
        .post(
            &format!("/api/v1/app/push/alerts/{}/report", p1["alert"].as_str().unwrap()),
            json!({"event": "shown"}),
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    // Second chat, from another shopper: the push service refuses (403), so every alert for it
    // failed, and nobody claims it before it is missed.
    service.answer("sara-phone", &[403]);
    let (mut s2, _, _) = shopper_ws(&app, &merchant, None).await;
    let c2 = start_chat(&mut s2, &store, &dep, "Second question").await;
    until("the second alert tried", 20, async || {
        (!service.about("sara-phone", &c2).is_empty()).then_some(())
    })
    .await;

    let deadline = Instant::now() + Duration::from_secs(40);
    let totals = loop {
        let (s, v) = admin.get("/api/v1/analytics?grain=hour").await;
        assert_eq!(s, StatusCode::OK, "{v}");
        let t = v["totals"].clone();
        if t["missed_alerts_failed"] == 1 && t["alerts_shown"] == 1 {
            break t;
        }
        assert!(Instant::now() < deadline, "the alert figures never arrived: {t}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    assert_eq!(totals["alerts_sent"], 1, "{totals}");
    assert_eq!(totals["alerts_failed"], 1, "{totals}");
    assert!(totals["missed"].as_i64().unwrap() >= 1, "{totals}");

    // metrics.csv has the columns, per expert too.
    let res = admin
        .request(reqwest::Method::GET, "/api/v1/exports/metrics.csv?grain=hour&by=expert")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let text = res.text().await.unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |name: &str| {
        header
            .iter()
            .position(|h| *h == name)
            .unwrap_or_else(|| panic!("no {name} in {header:?}"))
    };
    let (sent, shown, failed) = (col("alerts_sent"), col("alerts_shown"), col("alerts_failed"));
    col("missed_alerts_failed");
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    let sara_row = rows
        .iter()
        .find(|r| r.contains(&"Sara Lind"))
        .unwrap_or_else(|| panic!("no row for Sara: {text}"));
    assert_eq!((sara_row[sent], sara_row[shown], sara_row[failed]), ("1", "1", "1"), "{text}");

    // "Why did I miss this chat?": for Sara, her alert failed on the second; nobody claimed the
    // first. Lukas works in Berlin: neither was his department.
    let (s, missed) = sara.get("/api/v1/app/push/missed").await;
    assert_eq!(s, StatusCode::OK, "{missed}");
    let why = |list: &Value, c: &str| {
        list.as_array()
            .unwrap()
            .iter()
            .find(|x| x["conversation_id"] == c)
            .map(|x| (x["reason"].as_str().unwrap().to_owned(), x["detail"].clone()))
    };
    assert_eq!(
        why(&missed, &c2),
        Some(("alert_failed".to_owned(), json!("push_service"))),
        "{missed}"
    );
    assert_eq!(why(&missed, &c1).map(|w| w.0).as_deref(), Some("nobody_claimed"), "{missed}");
    let lukas = expert_app(&app.url, "expert4@demo.example").await;
    let (_, theirs) = lukas.get("/api/v1/app/push/missed").await;
    assert_eq!(why(&theirs, &c2).map(|w| w.0).as_deref(), Some("not_in_department"), "{theirs}");

    // Every reason is given, not only the first: Sara's alert failed AND nobody claimed it.
    let all = |list: &Value, c: &str| -> Vec<String> {
        list.as_array().unwrap().iter().find(|x| x["conversation_id"] == c).unwrap()["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r.as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(all(&missed, &c2), ["alert_failed", "nobody_claimed"], "{missed}");
    assert_eq!(all(&missed, &c1), ["nobody_claimed"], "{missed}");
    // Lukas is moved to Stockholm now: the chats of before were still not his department then.
    let lukas_id = common::demo_expert_id(&app, "expert4@demo.example").await;
    let (s, v) = admin
        .call(
            reqwest::Method::PUT,
            &format!("/api/v1/team/experts/{lukas_id}/assignments"),
            Some(json!({"store_ids": [store], "department_ids": [dep]})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (_, theirs) = lukas.get("/api/v1/app/push/missed").await;
    assert_eq!(
        all(&theirs, &c2),
        ["not_in_department", "nobody_claimed"],
        "as assigned then: {theirs}"
    );
    assert_eq!(all(&theirs, &c1), ["not_in_department", "nobody_claimed"], "{theirs}");
    app.stop().await;
}

/// A device's row records a success when it clears a failure, else at most once a minute (an
/// update per push was a write per alert on a handful of rows).
async fn a_success_clears_a_device_failure_and_is_recorded_once_a_minute(b: Backend) {
    let app = TestApp::spawn_with(b, private).await;
    let service = PushService::start().await;
    let (merchant, store, dep) = demo_target(&app).await;
    let sara = expert_app(&app.url, "expert1@demo.example").await;
    let phone = Device::new("sara-phone");
    subscribe(&sara, &service, &phone, "en").await;
    let device = async || {
        let (s, v) = sara.get("/api/v1/app/push/subscriptions").await;
        assert_eq!(s, StatusCode::OK, "{v}");
        v[0].clone()
    };
    let mut shoppers = Vec::new();
    let mut alert = async |text: &str, device_seen: &dyn Fn(&Value) -> bool| {
        let (mut ws, _, _) = shopper_ws(&app, &merchant, None).await;
        let c = start_chat(&mut ws, &store, &dep, text).await;
        shoppers.push(ws);
        until("the alert", 20, async || service.about("sara-phone", &c).into_iter().next()).await;
        until("the device's row", 20, async || {
            let d = device().await;
            device_seen(&d).then_some(d)
        })
        .await
    };

    let first = alert("First", &|d| d["last_success_at"].is_i64()).await;
    assert_eq!(
        (first["failures"].as_i64(), &first["last_error"]),
        (Some(0), &Value::Null),
        "{first}"
    );
    let t1 = first["last_success_at"].as_i64().unwrap();
    // A second success within the minute: the row is not written again.
    let second = alert("Second", &|_| true).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let second = {
        let now = device().await;
        assert_eq!(now, second, "nothing changed meanwhile");
        now
    };
    assert_eq!(second["last_success_at"].as_i64(), Some(t1), "{second}");
    // A failure is recorded, and the next success clears it at once (and records its time).
    service.answer("sara-phone", &[403]);
    let failed = alert("Third", &|d| d["failures"].as_i64() == Some(1)).await;
    assert!(failed["last_error"].is_string(), "{failed}");
    let cleared = alert("Fourth", &|d| d["failures"].as_i64() == Some(0)).await;
    assert_eq!(cleared["last_error"], Value::Null, "{cleared}");
    assert!(cleared["last_success_at"].as_i64().unwrap() > t1, "{cleared}");
    app.stop().await;
}

/// "At cap" in "Why did I miss this chat?" is judged by the caps of the chat's time, the one the
/// expert chose in the app and the merchant's, not by today's.
async fn at_cap_is_judged_by_the_caps_of_the_time(b: Backend) {
    let app = TestApp::spawn_with(b, private).await;
    let (merchant, store, dep) = demo_target(&app).await;
    let admin = app.login("admin@demo.example", DEMO_PASSWORD).await;
    let sara_id = common::demo_expert_id(&app, "expert1@demo.example").await;
    let set_max = async |n: i64| {
        let (s, v) = admin
            .call(
                reqwest::Method::PATCH,
                &format!("/api/v1/team/experts/{sara_id}"),
                Some(json!({"max_chats": n})),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
    };
    let (mut sara, _) = expert_ws(&app, "expert1@demo.example").await;
    let (mut johan, _) = expert_ws(&app, "expert2@demo.example").await;

    // Sara takes one chat at a time (her own choice) and has one.
    sara.send(json!({"type": "set_status", "max_chats": 1})).await;
    sara.until("her status", |o| matches!(o, floorwalker::protocol::Out::Status(_)))
        .await;
    let (mut s_a, _, _) = shopper_ws(&app, &merchant, None).await;
    let a = start_chat(&mut s_a, &store, &dep, "Chat A").await;
    claim(&mut sara, &a).await;
    // Chat B waits while she is at her cap; Johan takes it. Then she takes three again.
    let (mut s_b, _, _) = shopper_ws(&app, &merchant, None).await;
    let b_chat = start_chat(&mut s_b, &store, &dep, "Chat B").await;
    claim(&mut johan, &b_chat).await;
    sara.send(json!({"type": "set_status", "max_chats": 3})).await;
    sara.until("her status", |o| matches!(o, floorwalker::protocol::Out::Status(_)))
        .await;

    // The merchant holds her to one chat; chat C waits; Johan takes it; the merchant lets her take five.
    set_max(1).await;
    let (mut s_c, _, _) = shopper_ws(&app, &merchant, None).await;
    let c_chat = start_chat(&mut s_c, &store, &dep, "Chat C").await;
    claim(&mut johan, &c_chat).await;
    set_max(5).await;

    // Chat D waits while she has one chat of three: Johan is quicker, but she was not at her cap.
    let (mut s_d, _, _) = shopper_ws(&app, &merchant, None).await;
    let d_chat = start_chat(&mut s_d, &store, &dep, "Chat D").await;
    claim(&mut johan, &d_chat).await;

    let sara_app = expert_app(&app.url, "expert1@demo.example").await;
    let (s, missed) = sara_app.get("/api/v1/app/push/missed").await;
    assert_eq!(s, StatusCode::OK, "{missed}");
    let reasons = |c: &str| -> Vec<String> {
        missed
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["conversation_id"] == c)
            .unwrap_or_else(|| panic!("{c} not in {missed}"))["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r.as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(reasons(&b_chat), ["at_cap", "taken_first"], "her own cap then: {missed}");
    assert_eq!(reasons(&c_chat), ["at_cap", "taken_first"], "the merchant's cap then: {missed}");
    assert_eq!(reasons(&d_chat), ["taken_first"], "{missed}");
    app.stop().await;
}

/// On a cluster, an expert whose app is open on another node gets the offer over that socket
/// and no push as well (the node that routes the chat knows, from the cluster's presence, that
/// the socket is live); the socket offer is recorded as the one alert.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn on_a_cluster_an_expert_connected_to_another_node_gets_one_alert_not_a_push_as_well() {
    let redis = common::redis_url();
    let a = TestApp::spawn_with(Backend::Postgres, |s| {
        private(s);
        s.redis_url = Some(floorwalker::config::ServiceUrl::new(redis.clone()));
    })
    .await;
    let b = TestApp::spawn_node(&a.test_db.url, |s| {
        s.outbound.allow_private_webhooks = true;
        s.redis_url = Some(floorwalker::config::ServiceUrl::new(redis.clone()));
    })
    .await;
    let service = PushService::start().await;
    let (merchant, store, dep) = demo_target(&a).await;
    let admin = a.login("admin@demo.example", DEMO_PASSWORD).await;

    // Johan has a phone for alerts and the app open on node B.
    let johan_app = expert_app(&b.url, "expert2@demo.example").await;
    let phone = Device::new("johan-phone");
    subscribe(&johan_app, &service, &phone, "sv").await;
    let (mut johan, _) = expert_ws(&b, "expert2@demo.example").await;
    // Node A sees him (presence is written every second).
    until("node A to see Johan", 30, async || {
        let (_, v) = a.client().get(&format!("/api/v1/public/widget-config?merchant={merchant}")).await;
        (v["availability"]["experts_available"].as_u64() >= Some(1)).then_some(())
    })
    .await;

    // A shopper on node A: both nodes route the chat; Johan gets it over his socket on B.
    let (mut shopper, _, _) = shopper_ws(&a, &merchant, None).await;
    let conv = start_chat(&mut shopper, &store, &dep, "Is the oak table in stock?").await;
    johan
        .until(
            "the offer",
            |o| matches!(o, floorwalker::protocol::Out::Offer { offer } if offer.conversation_id == conv),
        )
        .await;
    let socket = until("the socket alert", 10, async || {
        let rows = alerts_of(&admin, &conv).await;
        rows.into_iter().find(|r| r["channel"] == "socket")
    })
    .await;
    assert_eq!(socket["state"], "handed");
    // Several routing passes on both nodes later: still no push to his phone, one alert.
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert!(
        service.about("johan-phone", &conv).is_empty(),
        "a live socket on another node is not pushed to"
    );
    let rows = alerts_of(&admin, &conv).await;
    assert_eq!(rows.len(), 1, "one alert: {rows:?}");
    drop(johan);
    b.stop().await;
    a.stop().await;
}
