//! Transport: one task per WebSocket that reads frames, writes the socket's queued frames,
//! pings, enforces limits and closes with a code the client can act on. It knows frames and
//! nothing of chat: parsed text goes to the audience's session ([`Session`]).

use std::num::NonZeroU32;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use governor::{Quota, RateLimiter};
use tokio::sync::mpsc;
use tokio::time::{sleep_until, Instant};

use super::expert::ExpertSession;
use super::shopper::ShopperSession;
use super::{CloseSignal, Hub, SEND_QUEUE};
use crate::protocol::{close, Out, MAX_FRAME_BYTES};

pub const HELLO_TIMEOUT: Duration = Duration::from_secs(10);
pub const PING_EVERY: Duration = Duration::from_secs(25);
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// Apply our limits to an upgrade: small frames, small buffers (idle sockets are many).
pub fn configure(ws: WebSocketUpgrade) -> WebSocketUpgrade {
    ws.max_message_size(MAX_FRAME_BYTES)
        .max_frame_size(MAX_FRAME_BYTES)
        .read_buffer_size(1024)
        .write_buffer_size(0)
        .max_write_buffer_size(256 * 1024)
}

/// What a session wants after handling a frame.
pub enum Step {
    Continue,
    /// The frame was not understood (counted; many in a row close the socket).
    Malformed,
    Close(u16),
}

/// Parse a client frame, or answer `bad_request` (echoing its client id when readable).
pub fn parse_frame<T: serde::de::DeserializeOwned>(hub: &Hub, conn: u64, text: &str) -> Option<T> {
    match serde_json::from_str(text) {
        Ok(f) => Some(f),
        Err(e) => {
            hub.send_out(
                conn,
                &Out::error("bad_request", format!("unreadable frame: {e}"), super::readable_ref(text)),
            );
            None
        }
    }
}

/// Answer a conversation lookup that did not yield one of the caller's conversations.
pub fn conversation_missing(hub: &Hub, conn: u64, id: &str, storage_failed: bool, not_found: &str) {
    let out = if storage_failed {
        Out::error("unavailable", "try again", Some(id.to_owned()))
    } else {
        Out::error("not_found", not_found, Some(id.to_owned()))
    };
    hub.send_out(conn, &out);
}

pub enum Session {
    Shopper(ShopperSession),
    Expert(ExpertSession),
}

impl Session {
    async fn handle(&mut self, hub: &Hub, conn: u64, text: &str) -> Step {
        match self {
            Session::Shopper(s) => s.handle(hub, conn, text).await,
            Session::Expert(s) => s.handle(hub, conn, text).await,
        }
    }
    fn greeted(&self) -> bool {
        match self {
            Session::Shopper(s) => s.shopper.is_some(),
            Session::Expert(s) => s.expert.is_some(),
        }
    }
    async fn finish(&mut self, hub: &Hub, conn: u64) {
        match self {
            Session::Shopper(s) => s.finish(hub, conn),
            Session::Expert(s) => s.finish(hub, conn),
        }
    }
    fn conversations(&self) -> Vec<String> {
        match self {
            Session::Shopper(s) => s.convs.iter().cloned().collect(),
            Session::Expert(s) => s.convs.iter().cloned().collect(),
        }
    }
}

pub async fn close_now(mut socket: WebSocket, code: u16, reason: &'static str) {
    let _ = socket
        .send(Message::Close(Some(CloseFrame {
            code,
            reason: reason.into(),
        })))
        .await;
}

fn reason(code: u16) -> &'static str {
    match code {
        close::GOING_AWAY => "server restarting; reconnect",
        close::UNAUTHORIZED => "unauthorized",
        close::HELLO_TIMEOUT => "no hello",
        close::RATE_LIMITED => "rate limit exceeded",
        close::SLOW_CONSUMER => "too slow; reconnect and resume",
        close::PROTOCOL_ERROR => "protocol error",
        close::TOO_BIG => "frame too large",
        _ => "",
    }
}

pub async fn run(hub: Hub, mut socket: WebSocket, mut session: Session) {
    let (tx, mut rx) = mpsc::channel(SEND_QUEUE);
    let signal = CloseSignal::new();
    let conn = hub.register(tx, signal.clone());
    let limiter = RateLimiter::direct(Quota::per_second(NonZeroU32::new(20).unwrap()).allow_burst(NonZeroU32::new(40).unwrap()));
    let hello_deadline = Instant::now() + HELLO_TIMEOUT;
    let mut last_seen = Instant::now();
    let mut next_ping = Instant::now() + PING_EVERY;
    let mut strikes = 0u32;
    let mut malformed = 0u32;
    let code: Option<u16> = loop {
        tokio::select! {
            biased;
            _ = signal.token.cancelled() => break Some(signal.code.load(std::sync::atomic::Ordering::Relaxed)),
            _ = hub.shutdown.cancelled() => break Some(close::GOING_AWAY),
            f = rx.recv() => match f {
                Some(f) => if socket.send(Message::Text(f)).await.is_err() { break None },
                None => break None,
            },
            m = socket.recv() => match m {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => break None,
                Some(Ok(Message::Text(t))) => {
                    last_seen = Instant::now();
                    if limiter.check().is_err() {
                        strikes += 1;
                        if strikes > 40 { break Some(close::RATE_LIMITED) }
                        hub.send_out(conn, &Out::error("rate_limited", "too many frames; slow down", None));
                        continue;
                    }
                    // Boxed: an idle socket's task then does not reserve room for the (large)
                    // state of frame handling; it is allocated only while a frame is handled.
                    // While it runs (a send waits for its commit), frames for this socket keep
                    // going out: an expert storing an answer still receives the next question.
                    let mut send_failed = false;
                    let step = {
                        let mut handling = Box::pin(session.handle(&hub, conn, t.as_str()));
                        loop {
                            tokio::select! {
                                biased;
                                s = &mut handling => break s,
                                Some(f) = rx.recv(), if !send_failed => {
                                    send_failed = socket.send(Message::Text(f)).await.is_err();
                                }
                            }
                        }
                    };
                    if send_failed { break None }
                    match step {
                        Step::Continue => malformed = 0,
                        Step::Malformed => {
                            malformed += 1;
                            if malformed >= 10 { break Some(close::PROTOCOL_ERROR) }
                        }
                        Step::Close(code) => break Some(code),
                    }
                }
                Some(Ok(Message::Binary(_))) => {
                    last_seen = Instant::now();
                    hub.send_out(conn, &Out::error("bad_request", "send JSON text frames", None));
                    malformed += 1;
                    if malformed >= 10 { break Some(close::PROTOCOL_ERROR) }
                }
                Some(Ok(_)) => last_seen = Instant::now(),
            },
            _ = sleep_until(hello_deadline), if !session.greeted() => break Some(close::HELLO_TIMEOUT),
            _ = sleep_until(next_ping) => {
                if last_seen.elapsed() > IDLE_TIMEOUT { break Some(close::GOING_AWAY) }
                next_ping = Instant::now() + PING_EVERY;
                if socket.send(Message::Ping(Default::default())).await.is_err() { break None }
            }
        }
    };
    hub.unregister(conn, &session.conversations());
    session.finish(&hub, conn).await;
    let why = code.map_or_else(|| "client".to_owned(), |c| c.to_string());
    metrics::counter!("floorwalker_socket_closes_total", "code" => why).increment(1);
    if let Some(code) = code {
        // Whatever was queued before the close (e.g. the error that explains it) goes first.
        if code != close::SLOW_CONSUMER {
            while let Ok(f) = rx.try_recv() {
                if tokio::time::timeout(Duration::from_secs(1), socket.send(Message::Text(f)))
                    .await
                    .is_err()
                {
                    break;
                }
            }
        }
        let _ = tokio::time::timeout(Duration::from_secs(2), close_now(socket, code, reason(code))).await;
    }
}
