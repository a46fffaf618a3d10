//! The `locked` scenario (issue 23): experts whose phones are locked — no socket, only a Web
//! Push subscription — while shoppers ask for chats. This process is the push service: it
//! listens on loopback, decrypts every alert with the device's own keys (RFC 8291, one
//! `aes128gcm` record) and answers 201. The figure is the time from a shopper's chat request
//! to its alert arriving here (the server's hand-off), for the first alert of each chat and
//! for every alert.
//!
//! The server must allow private push endpoints (`--allow-private-webhooks`). Each expert works
//! one department of the store (round robin), so a chat alerts `experts / departments` phones.
//! At the end the devices are removed and the chats ended, so a later run starts clean.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use clap::Args;
use hdrhistogram::Histogram;
use serde_json::{json, Value};

use floorwalker::protocol::{Out, ShopperIn};

use crate::client::{self, ws_url};
use crate::stats::Stats;
use crate::{parse_duration, setup};

#[derive(Args, Debug, Clone)]
pub struct LockedArgs {
    /// Server base URL.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// Experts with a locked phone (a push subscription, no socket).
    #[arg(long, default_value_t = 20)]
    pub experts: usize,
    /// Chat requests, one shopper each.
    #[arg(long, default_value_t = 100)]
    pub chats: usize,
    /// Chat requests per second.
    #[arg(long, default_value_t = 50.0)]
    pub rate: f64,
    /// Where the push receiver listens (the server must reach it).
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: String,
    /// How long to wait after the last request for alerts still on their way.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub wait: Duration,
    /// How long the push receiver takes to answer each push (it records the arrival first): a
    /// real push service answers in tens to hundreds of milliseconds, loopback in about one.
    #[arg(long, default_value = "0s", value_parser = parse_duration)]
    pub answer_after: Duration,
    /// The demo password (admin@demo.example).
    #[arg(long, env = "FLOORWALKER_DEMO_PASSWORD", hide_env_values = true)]
    pub password: String,
    /// Print one JSON object as the last line.
    #[arg(long)]
    pub json: bool,
}

fn now_us() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_micros() as u64
}

/// A locked phone: the keys a browser makes for `pushManager.subscribe`.
struct Device {
    secret: p256::SecretKey,
    public: Vec<u8>,
    auth: [u8; 16],
}

impl Device {
    fn new() -> Device {
        use p256::elliptic_curve::sec1::ToEncodedPoint as _;
        use rand::RngCore as _;
        let secret = p256::SecretKey::random(&mut rand::rngs::OsRng);
        let public = secret.public_key().to_encoded_point(false).as_bytes().to_vec();
        let mut auth = [0u8; 16];
        rand::rngs::OsRng.fill_bytes(&mut auth);
        Device { secret, public, auth }
    }

    /// RFC 8291 §3.4 with RFC 8188 §2: one record, content then the delimiter 2 and padding.
    fn decrypt(&self, body: &[u8]) -> Result<Vec<u8>, String> {
        use aes_gcm::aead::{Aead, KeyInit};
        use hkdf::Hkdf;
        use sha2::Sha256;
        if body.len() < 21 {
            return Err("too short".into());
        }
        let salt = &body[..16];
        let idlen = body[20] as usize;
        if body.len() < 21 + idlen {
            return Err("too short for its key id".into());
        }
        let server_public = &body[21..21 + idlen];
        let ciphertext = &body[21 + idlen..];
        let key = p256::PublicKey::from_sec1_bytes(server_public).map_err(|e| format!("key id: {e}"))?;
        let shared = p256::ecdh::diffie_hellman(self.secret.to_nonzero_scalar(), key.as_affine());
        let mut info = b"WebPush: info\0".to_vec();
        info.extend_from_slice(&self.public);
        info.extend_from_slice(server_public);
        let mut ikm = [0u8; 32];
        Hkdf::<Sha256>::new(Some(&self.auth), shared.raw_secret_bytes().as_slice())
            .expand(&info, &mut ikm)
            .map_err(|e| e.to_string())?;
        let prk = Hkdf::<Sha256>::new(Some(salt), &ikm);
        let mut cek = [0u8; 16];
        prk.expand(b"Content-Encoding: aes128gcm\0", &mut cek).map_err(|e| e.to_string())?;
        let mut nonce = [0u8; 12];
        prk.expand(b"Content-Encoding: nonce\0", &mut nonce).map_err(|e| e.to_string())?;
        let plain = aes_gcm::Aes128Gcm::new_from_slice(&cek)
            .map_err(|e| e.to_string())?
            .decrypt(aes_gcm::Nonce::from_slice(&nonce), ciphertext)
            .map_err(|_| "the tag does not verify".to_owned())?;
        let end = plain.iter().rposition(|b| *b != 0).ok_or("no delimiter")?;
        if plain[end] != 2 {
            return Err(format!("delimiter {}", plain[end]));
        }
        Ok(plain[..end].to_vec())
    }
}

#[derive(Default)]
struct Receiver {
    devices: HashMap<usize, Device>,
    /// (conversation, arrival µs) of every offer alert.
    offers: Mutex<Vec<(String, u64)>>,
    requests: AtomicU64,
    closes: AtomicU64,
    failed: AtomicU64,
}

impl Receiver {
    fn receive(&self, device: usize, body: &[u8]) -> u16 {
        let at = now_us();
        self.requests.fetch_add(1, Ordering::Relaxed);
        let Some(d) = self.devices.get(&device) else {
            self.failed.fetch_add(1, Ordering::Relaxed);
            return 404;
        };
        match d.decrypt(body).map(|p| serde_json::from_slice::<Value>(&p)) {
            Ok(Ok(v)) if v["type"] == "offer" => {
                let conv = v["conversation_id"].as_str().unwrap_or_default().to_owned();
                self.offers.lock().unwrap().push((conv, at));
            }
            Ok(Ok(_)) => {
                self.closes.fetch_add(1, Ordering::Relaxed);
            }
            _ => {
                self.failed.fetch_add(1, Ordering::Relaxed);
            }
        }
        201
    }
}

async fn serve(listen: &str, receiver: Arc<Receiver>, answer_after: Duration) -> anyhow::Result<String> {
    let listener = tokio::net::TcpListener::bind(listen).await?;
    let base = format!("http://{}", listener.local_addr()?);
    let app = axum::Router::new().route(
        "/push/{device}",
        axum::routing::post(
            move |axum::extract::Path(device): axum::extract::Path<usize>, body: axum::body::Bytes| {
                let r = receiver.clone();
                async move {
                    let status = r.receive(device, &body);
                    if !answer_after.is_zero() {
                        tokio::time::sleep(answer_after).await;
                    }
                    axum::http::StatusCode::from_u16(status).unwrap()
                }
            },
        ),
    );
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(base)
}

pub async fn run(a: LockedArgs) -> anyhow::Result<()> {
    let base = a.url.trim_end_matches('/').to_owned();
    eprintln!("preparing the demo merchant: {} locked experts …", a.experts);
    let target = Arc::new(setup::prepare_spread(&base, &a.password, a.experts, 1, true).await?);
    let mut receiver = Receiver::default();
    for i in 0..a.experts {
        receiver.devices.insert(i, Device::new());
    }
    let receiver = Arc::new(receiver);
    let push_base = serve(&a.listen, receiver.clone(), a.answer_after).await?;
    // Each expert registers their phone, as the store app does before the phone is locked.
    let http = reqwest::Client::new();
    let mut subscriptions = Vec::new();
    for (i, token) in target.expert_tokens.iter().enumerate() {
        let d = &receiver.devices[&i];
        let res = http
            .post(format!("{base}/api/v1/app/push/subscriptions"))
            .bearer_auth(token)
            .json(&json!({
                "endpoint": format!("{push_base}/push/{i}"),
                "keys": {"p256dh": URL_SAFE_NO_PAD.encode(&d.public), "auth": URL_SAFE_NO_PAD.encode(d.auth)},
                "lang": "en",
            }))
            .send()
            .await?;
        let status = res.status();
        let v: Value = res.json().await?;
        anyhow::ensure!(
            status.is_success(),
            "subscribing failed ({status}): {v} — start the server with --allow-private-webhooks"
        );
        subscriptions.push((token.clone(), v["id"].as_str().unwrap_or_default().to_owned()));
    }
    let fan_out = a.experts.div_ceil(target.department_ids.len().max(1));
    // Phones per department (expert i works department i mod departments): a chat can be
    // alerted when its department has at least one (nobody here claims, so nobody is at a cap).
    let departments = target.department_ids.len().max(1);
    let phones: Vec<usize> = (0..departments)
        .map(|d| (0..a.experts).filter(|i| i % departments == d).count())
        .collect();
    eprintln!(
        "push receiver on {push_base}; {} chats at {}/s, each alerting about {fan_out} phones",
        a.chats, a.rate
    );

    // Shoppers: one chat request each, at the given rate; t0 is when the request is written.
    let requested: Arc<Mutex<HashMap<floorwalker::ids::ConversationId, u64>>> = Arc::new(Mutex::new(HashMap::new()));
    // conversation → how many phones its department has (what the server should alert).
    let expected: Arc<Mutex<HashMap<floorwalker::ids::ConversationId, usize>>> = Arc::new(Mutex::new(HashMap::new()));
    let errors = Arc::new(AtomicU64::new(0));
    let start = Instant::now() + Duration::from_millis(500);
    let every = Duration::from_secs_f64(1.0 / a.rate.max(0.001));
    let finish = start + every.mul_f64(a.chats as f64) + a.wait + Duration::from_secs(5);
    let mut tasks = Vec::new();
    for i in 0..a.chats {
        let (target, requested, errors) = (target.clone(), requested.clone(), errors.clone());
        let (expected, phones_here) = (expected.clone(), phones[i % departments]);
        let ws = ws_url(&base, &format!("/ws/shopper?merchant={}&v=1", target.merchant_id));
        let at = start + every.mul_f64(i as f64);
        tasks.push(tokio::spawn(async move {
            let dep = target.department_ids[i % target.department_ids.len()].clone();
            let Ok((mut sink, mut stream)) = client::connect(&ws).await else {
                errors.fetch_add(1, Ordering::Relaxed);
                return None;
            };
            let hello = ShopperIn::Hello { token: None, locale: None };
            if client::send(&mut sink, &hello).await.is_err() || !matches!(client::recv(&mut stream).await, Ok(Out::ShopperWelcome { .. }))
            {
                errors.fetch_add(1, Ordering::Relaxed);
                return None;
            }
            tokio::time::sleep_until(at.into()).await;
            let t0 = now_us();
            let req = ShopperIn::RequestChat {
                store_id: Some(target.store_id.clone()),
                department_id: Some(dep),
                page_url: Some("https://shop.example/locked".into()),
                page_title: None,
                product: None,
                text: Some(format!("Locked-phone load test, chat {i}: is the sofa in stock?")),
                client_msg_id: Some(format!("locked-{i}")),
            };
            if client::send(&mut sink, &req).await.is_err() {
                errors.fetch_add(1, Ordering::Relaxed);
                return None;
            }
            let mut conv = None;
            // Keep the socket (the chat waits for an expert) until the end, reading frames.
            loop {
                let left = finish.saturating_duration_since(Instant::now());
                match tokio::time::timeout(left, client::recv(&mut stream)).await {
                    Ok(Ok(Out::Conversation { conversation })) if conv.is_none() => {
                        requested.lock().unwrap().insert(conversation.id.clone(), t0);
                        expected.lock().unwrap().insert(conversation.id.clone(), phones_here);
                        conv = Some(conversation.id);
                    }
                    Ok(Ok(Out::Unavailable { .. } | Out::Error { .. })) if conv.is_none() => {
                        errors.fetch_add(1, Ordering::Relaxed);
                        return None;
                    }
                    Ok(Ok(_)) => {}
                    _ => break,
                }
            }
            if let Some(c) = &conv {
                let _ = client::send(
                    &mut sink,
                    &ShopperIn::End {
                        conversation_id: c.clone(),
                    },
                )
                .await;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            conv
        }));
    }
    // Wait for the requests, then for the alerts of every chat (or `--wait`).
    tokio::time::sleep_until((start + every.mul_f64(a.chats as f64)).into()).await;
    let deadline = Instant::now() + a.wait;
    loop {
        let chats = requested.lock().unwrap().len();
        let alerted = {
            let offers = receiver.offers.lock().unwrap();
            let mut seen: Vec<&str> = offers.iter().map(|(c, _)| c.as_str()).collect();
            seen.sort_unstable();
            seen.dedup();
            seen.len()
        };
        if (chats >= a.chats.saturating_sub(errors.load(Ordering::Relaxed) as usize) && alerted >= chats) || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Close the books before ending the chats (ending them sends closing pushes).
    let requested_now = requested.lock().unwrap().clone();
    let expected_now = expected.lock().unwrap().clone();
    let chats_eligible = requested_now
        .keys()
        .filter(|c| expected_now.get(*c).is_some_and(|n| *n > 0))
        .count();
    let alerts_expected: usize = requested_now.keys().filter_map(|c| expected_now.get(c)).sum();
    let offers = receiver.offers.lock().unwrap().clone();
    let mut first: Histogram<u64> = Histogram::new_with_bounds(1, 600_000_000, 3)?;
    let mut every_alert: Histogram<u64> = Histogram::new_with_bounds(1, 600_000_000, 3)?;
    let mut first_at: HashMap<&str, u64> = HashMap::new();
    let mut stray = 0u64;
    for (conv, at) in &offers {
        match requested_now.get(conv.as_str()) {
            Some(t0) => {
                every_alert.record(at.saturating_sub(*t0).max(1))?;
                let f = first_at.entry(conv.as_str()).or_insert(*at);
                *f = (*f).min(*at);
            }
            None => stray += 1,
        }
    }
    for (conv, at) in &first_at {
        first.record(at.saturating_sub(requested_now[*conv]).max(1))?;
    }
    // Finish: the shoppers end their chats, the phones are signed off.
    for t in tasks {
        let _ = t.await;
    }
    for (token, id) in &subscriptions {
        let _ = http
            .delete(format!("{base}/api/v1/app/push/subscriptions/{id}"))
            .bearer_auth(token)
            .send()
            .await;
    }
    let f = Stats::summary(&first, 1000.0);
    let e = Stats::summary(&every_alert, 1000.0);
    // Offer alerts handed over per second, first arrival to last.
    let span_us = match (offers.iter().map(|o| o.1).min(), offers.iter().map(|o| o.1).max()) {
        (Some(lo), Some(hi)) if hi > lo => hi - lo,
        _ => 0,
    };
    let alerts_per_s = if span_us > 0 {
        offers.len() as f64 * 1e6 / span_us as f64
    } else {
        0.0
    };
    let out = json!({
        "scenario": "locked",
        "experts": a.experts,
        "chats": a.chats,
        "rate": a.rate,
        "fan_out": fan_out,
        "chats_requested": requested_now.len(),
        "chats_eligible": chats_eligible,
        "chats_alerted": first_at.len(),
        "alerts_expected": alerts_expected,
        "alerts_received": offers.len(),
        "alerts_unmatched": stray,
        "push_requests": receiver.requests.load(Ordering::Relaxed),
        "undecryptable": receiver.failed.load(Ordering::Relaxed),
        "errors": errors.load(Ordering::Relaxed),
        "first_alert_ms": f,
        "every_alert_ms": e,
        "answer_after_ms": a.answer_after.as_millis() as u64,
        "alerts_per_s": (alerts_per_s * 10.0).round() / 10.0,
    });
    eprintln!();
    eprintln!(
        "locked: {} experts with a locked phone, {} chats at {}/s (about {fan_out} phones per chat)",
        a.experts, a.chats, a.rate
    );
    eprintln!(
        "  chats         {} requested, {} eligible (a phone in their department), {} alerted within the wait, {} errors",
        out["chats_requested"], out["chats_eligible"], out["chats_alerted"], out["errors"]
    );
    eprintln!(
        "  alerts        {} of {} expected offers decrypted, {} undecryptable, {} not of this run",
        out["alerts_received"], out["alerts_expected"], out["undecryptable"], stray
    );
    eprintln!(
        "  first alert   ms p50 {} p99 {} max {}   (chat request → push service)",
        f["p50"], f["p99"], f["max"]
    );
    eprintln!("  every alert   ms p50 {} p99 {} max {}", e["p50"], e["p99"], e["max"]);
    eprintln!(
        "  hand-offs     {} offer alerts/s (first to last arrival; the receiver answers after {} ms)",
        out["alerts_per_s"], out["answer_after_ms"]
    );
    if a.json {
        println!("{out}");
    }
    Ok(())
}
