//! Real servers the outbound tests talk to on loopback: a small SMTP server that records what
//! it accepts (and can refuse, stall or be down), and an HTTP receiver that checks Standard
//! Webhooks signatures (and can answer errors or hold a request).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// A port nobody listens on now (bound and released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// One message the SMTP server accepted.
#[derive(Debug, Clone)]
pub struct Mail {
    pub from: String,
    pub to: Vec<String>,
    /// The message as sent (headers and body, dot-unstuffed).
    pub data: String,
}

impl Mail {
    pub fn header(&self, name: &str) -> Option<String> {
        let head = self.data.split("\r\n\r\n").next().unwrap_or("");
        let mut out: Option<String> = None;
        for line in head.split("\r\n") {
            if line.starts_with([' ', '\t']) {
                if let Some(o) = out.as_mut() {
                    o.push_str(line.trim_start());
                }
                continue;
            }
            if out.is_some() {
                break;
            }
            if let Some((k, v)) = line.split_once(':') {
                if k.eq_ignore_ascii_case(name) {
                    out = Some(v.trim().to_owned());
                }
            }
        }
        out
    }
}

/// How the SMTP server behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpMode {
    Accept,
    /// Hold every session after RCPT (never answer DATA) until the mode changes.
    StallBeforeData,
    /// Keep the message when its final dot arrives, then never answer (the client cannot
    /// know it was kept) until the mode changes.
    StallAfterDot,
}

#[derive(Default)]
struct SmtpState {
    mails: Vec<Mail>,
    /// Recipients refused with 550.
    refuse: Vec<String>,
    stalled: usize,
    sessions: usize,
}

pub struct SmtpSink {
    pub port: u16,
    state: Arc<Mutex<SmtpState>>,
    mode: Arc<Mutex<SmtpMode>>,
    task: tokio::task::JoinHandle<()>,
}

impl SmtpSink {
    pub async fn start() -> SmtpSink {
        Self::start_on(0).await
    }

    /// On a given port (to come up where a server was configured while it was down).
    pub async fn start_on(port: u16) -> SmtpSink {
        let listener = TcpListener::bind(("127.0.0.1", port)).await.expect("bind the SMTP sink");
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(Mutex::new(SmtpState::default()));
        let mode = Arc::new(Mutex::new(SmtpMode::Accept));
        let (s, md) = (state.clone(), mode.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((sock, _)) = listener.accept().await else { return };
                let (s, md) = (s.clone(), md.clone());
                tokio::spawn(async move {
                    let _ = session(sock, s, md).await;
                });
            }
        });
        SmtpSink { port, state, mode, task }
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }
    pub fn mails(&self) -> Vec<Mail> {
        self.state.lock().unwrap().mails.clone()
    }
    pub fn refuse(&self, address: &str) {
        self.state.lock().unwrap().refuse.push(address.to_owned());
    }
    pub fn set_mode(&self, m: SmtpMode) {
        *self.mode.lock().unwrap() = m;
    }
    pub fn stalled(&self) -> usize {
        self.state.lock().unwrap().stalled
    }
    pub fn sessions(&self) -> usize {
        self.state.lock().unwrap().sessions
    }
    /// Wait until `n` messages arrived (panics after `secs`).
    pub async fn wait_for(&self, n: usize, secs: u64) -> Vec<Mail> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
        loop {
            let m = self.mails();
            if m.len() >= n {
                return m;
            }
            assert!(tokio::time::Instant::now() < deadline, "{} of {n} mails within {secs} s", m.len());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn session(sock: tokio::net::TcpStream, state: Arc<Mutex<SmtpState>>, mode: Arc<Mutex<SmtpMode>>) -> std::io::Result<()> {
    state.lock().unwrap().sessions += 1;
    let (r, mut w) = sock.into_split();
    let mut r = BufReader::new(r);
    w.write_all(b"220 sink.test ESMTP ready\r\n").await?;
    let (mut from, mut to) = (String::new(), Vec::new());
    let mut line = String::new();
    loop {
        line.clear();
        if r.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let cmd = line.trim_end().to_owned();
        let upper = cmd.to_ascii_uppercase();
        if upper.starts_with("EHLO") {
            w.write_all(b"250-sink.test\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n").await?;
        } else if upper.starts_with("HELO") || upper.starts_with("NOOP") {
            w.write_all(b"250 ok\r\n").await?;
        } else if upper.starts_with("RSET") {
            from.clear();
            to.clear();
            w.write_all(b"250 ok\r\n").await?;
        } else if upper.starts_with("MAIL FROM:") {
            from = addr(&cmd[10..]);
            w.write_all(b"250 ok\r\n").await?;
        } else if upper.starts_with("RCPT TO:") {
            let a = addr(&cmd[8..]);
            if state.lock().unwrap().refuse.contains(&a) {
                w.write_all(b"550 5.1.1 no such mailbox\r\n").await?;
            } else {
                to.push(a);
                w.write_all(b"250 ok\r\n").await?;
            }
        } else if upper == "DATA" {
            if *mode.lock().unwrap() == SmtpMode::StallBeforeData {
                state.lock().unwrap().stalled += 1;
                // Hold the session without an answer; the client gives up or dies.
                loop {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    if *mode.lock().unwrap() != SmtpMode::StallBeforeData {
                        // Whoever held this session is gone; its transaction never completed.
                        return Ok(());
                    }
                }
            }
            w.write_all(b"354 end with <CRLF>.<CRLF>\r\n").await?;
            let mut data = String::new();
            loop {
                line.clear();
                if r.read_line(&mut line).await? == 0 {
                    // The connection closed before the final dot: nothing is kept.
                    return Ok(());
                }
                if line == ".\r\n" {
                    break;
                }
                data.push_str(line.strip_prefix('.').unwrap_or(&line));
            }
            let n = {
                let mut s = state.lock().unwrap();
                s.mails.push(Mail {
                    from: from.clone(),
                    to: std::mem::take(&mut to),
                    data,
                });
                s.mails.len()
            };
            if *mode.lock().unwrap() == SmtpMode::StallAfterDot {
                state.lock().unwrap().stalled += 1;
                while *mode.lock().unwrap() == SmtpMode::StallAfterDot {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                return Ok(());
            }
            w.write_all(format!("250 2.0.0 ok queued as {n}\r\n").as_bytes()).await?;
        } else if upper.starts_with("QUIT") {
            w.write_all(b"221 bye\r\n").await?;
            return Ok(());
        } else {
            w.write_all(b"502 command not implemented\r\n").await?;
        }
    }
}

fn addr(s: &str) -> String {
    s.trim().trim_start_matches('<').split('>').next().unwrap_or("").to_lowercase()
}

/// One request the webhook receiver got.
#[derive(Debug, Clone)]
pub struct Hook {
    pub id: String,
    pub timestamp: i64,
    pub signature: String,
    pub body: String,
    /// Whether a signature matched one of the receiver's secrets.
    pub verified: bool,
    pub answered: u16,
}

#[derive(Default)]
struct HookState {
    secrets: Vec<String>,
    got: Vec<Hook>,
    /// Status codes to answer, in order; then 200.
    script: VecDeque<u16>,
    /// Hold requests without an answer while set.
    hold: bool,
    held: usize,
}

/// An HTTP receiver on loopback that verifies Standard Webhooks signatures.
pub struct HookReceiver {
    pub url: String,
    state: Arc<Mutex<HookState>>,
    task: tokio::task::JoinHandle<()>,
}

impl HookReceiver {
    pub async fn start() -> HookReceiver {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hooks", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(HookState::default()));
        let s = state.clone();
        let app = axum::Router::new().route(
            "/hooks",
            axum::routing::post(move |headers: axum::http::HeaderMap, body: String| {
                let s = s.clone();
                async move { receive(s, headers, body).await }
            }),
        );
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        HookReceiver { url, state, task }
    }

    /// Secrets (`whsec_…`) a signature may match.
    pub fn trust(&self, secret: &str) {
        self.state.lock().unwrap().secrets.push(secret.to_owned());
    }
    pub fn answer(&self, statuses: &[u16]) {
        self.state.lock().unwrap().script.extend(statuses);
    }
    pub fn hold(&self, on: bool) {
        self.state.lock().unwrap().hold = on;
    }
    pub fn held(&self) -> usize {
        self.state.lock().unwrap().held
    }
    pub fn got(&self) -> Vec<Hook> {
        self.state.lock().unwrap().got.clone()
    }
    /// Wait until `n` requests were answered 2xx (panics after `secs`).
    pub async fn wait_ok(&self, n: usize, secs: u64) -> Vec<Hook> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
        loop {
            let g = self.got();
            if g.iter().filter(|h| h.answered < 300).count() >= n {
                return g;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{} of {n} deliveries within {secs} s: {g:?}",
                g.len()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for HookReceiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn receive(state: Arc<Mutex<HookState>>, headers: axum::http::HeaderMap, body: String) -> axum::http::StatusCode {
    let h = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    let (id, ts, sig) = (h("webhook-id"), h("webhook-timestamp"), h("webhook-signature"));
    let timestamp: i64 = ts.parse().unwrap_or(0);
    let secrets = state.lock().unwrap().secrets.clone();
    let verified = secrets.iter().any(|s| verify(s, &id, &ts, &body, &sig));
    let fresh = (chrono::Utc::now().timestamp() - timestamp).abs() <= 300;
    if state.lock().unwrap().hold {
        state.lock().unwrap().held += 1;
        while state.lock().unwrap().hold {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    let status = state.lock().unwrap().script.pop_front().unwrap_or(200);
    let status = if verified && fresh { status } else { 401 };
    state.lock().unwrap().got.push(Hook {
        id,
        timestamp,
        signature: sig,
        body,
        verified: verified && fresh,
        answered: status,
    });
    axum::http::StatusCode::from_u16(status).unwrap()
}

/// The receiver's side of Standard Webhooks, written from the specification (not with the
/// server's code): HMAC-SHA256 over `id.timestamp.body` with the base64 key after `whsec_`.
pub fn verify(secret: &str, id: &str, ts: &str, body: &str, header: &str) -> bool {
    let key = base64::engine::general_purpose::STANDARD
        .decode(secret.trim_start_matches("whsec_"))
        .unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{id}.{ts}.{body}").as_bytes());
    let expected = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    header
        .split(' ')
        .filter_map(|s| s.strip_prefix("v1,"))
        .any(|s| subtle::ConstantTimeEq::ct_eq(s.as_bytes(), expected.as_bytes()).into())
}
