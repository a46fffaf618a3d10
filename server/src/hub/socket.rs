//! Transport: one task per WebSocket that reads frames, writes the socket's queued frames,
//! pings, enforces limits and closes with a code the client can act on. It knows frames and
//! nothing of chat: parsed text goes to the audience's session ([`Session`]).

use crate::ids::ConversationId;
use std::num::NonZeroU32;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use futures::SinkExt;
use governor::clock::DefaultClock;
use governor::{Quota, RateLimiter};
use tokio::time::{sleep_until, Instant};

use super::expert::ExpertSession;
use super::outbox::{Next, Outbox};
use super::shopper::ShopperSession;
use super::Step;
use super::{Hub, SEND_QUEUE};
use crate::protocol::{CloseCode, ErrorCode, Out, MAX_FRAME_BYTES};

pub const HELLO_TIMEOUT: Duration = Duration::from_secs(10);
pub const PING_EVERY: Duration = Duration::from_secs(25);
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// Apply our limits to an upgrade: small frames, small buffers (idle sockets are many). A
/// hello or a chat message fits the 256-byte read buffer; a longer frame grows it to fit
/// (tungstenite reserves a frame's length once its header is read).
pub fn configure(ws: WebSocketUpgrade) -> WebSocketUpgrade {
    ws.max_message_size(MAX_FRAME_BYTES)
        .max_frame_size(MAX_FRAME_BYTES)
        .read_buffer_size(256)
        // Frames are buffered (up to this much) and written by one flush per batch: a socket
        // with several frames queued gets one write, not one per frame.
        .write_buffer_size(WRITE_BATCH_BYTES)
        .max_write_buffer_size(256 * 1024)
}

/// How many bytes of queued frames are buffered before they are written without a flush.
const WRITE_BATCH_BYTES: usize = 8 * 1024;

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
    fn conversations(&self) -> Vec<ConversationId> {
        match self {
            Session::Shopper(s) => s.convs.iter().cloned().collect(),
            Session::Expert(s) => s.convs.iter().cloned().collect(),
        }
    }
}

/// Close with a code and a reason the client can show or act on, then linger briefly: what the
/// client still sends is read and dropped until it answers the close (or 2 s pass), so the close
/// frame is not lost to a TCP reset (closing a socket with unread data resets it).
pub async fn close_now(socket: &mut WebSocket, code: CloseCode, reason: &'static str) {
    let sent = tokio::time::timeout(
        Duration::from_secs(5),
        socket.send(Message::Close(Some(CloseFrame {
            code: code.code(),
            reason: reason.into(),
        }))),
    )
    .await;
    if matches!(sent, Ok(Ok(()))) {
        linger(socket).await;
    }
}

/// After our close frame: read (and drop) until the client's close, the end, or 2 s.
async fn linger(socket: &mut WebSocket) {
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        loop {
            match socket.recv().await {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                Some(Ok(_)) => {}
            }
        }
    })
    .await;
}

/// The close code for a frame the WebSocket layer refused (RFC 6455 §7.4.1), or `None` when the
/// connection itself failed (no close frame can be sent).
pub fn code_for_error(e: axum::Error) -> Option<CloseCode> {
    use tokio_tungstenite::tungstenite::Error as E;
    let inner = e.into_inner();
    match inner.downcast_ref::<E>()? {
        E::Capacity(_) => Some(CloseCode::TooBig),
        E::Utf8(_) => Some(CloseCode::InvalidData),
        E::Protocol(p) => {
            use tokio_tungstenite::tungstenite::error::ProtocolError as P;
            match p {
                P::ResetWithoutClosingHandshake | P::SendAfterClosing | P::ReceivedAfterClosing => None,
                _ => Some(CloseCode::Protocol),
            }
        }
        _ => None,
    }
}

/// Send one frame (written at once), unless a close is asked for first.
async fn send_or_close(socket: &mut WebSocket, outbox: &Outbox, m: Message) -> Result<(), Option<CloseCode>> {
    io_or_close(socket.send(m), outbox).await
}

/// Run a socket write (a send, a feed into the write buffer, a flush), unless a close is asked
/// for first: a client that stopped reading blocks the write once the kernel's buffers are full,
/// and its close (4009 when its queue fills meanwhile) must not wait for that. `Err(Some(code))`:
/// close with the code; `Err(None)`: the socket failed.
async fn io_or_close(write: impl std::future::Future<Output = Result<(), axum::Error>>, outbox: &Outbox) -> Result<(), Option<CloseCode>> {
    tokio::pin!(write);
    loop {
        tokio::select! {
            biased;
            r = &mut write => return r.map_err(|_| None),
            _ = outbox.ready() => {
                if let Some(code) = outbox.closing() {
                    return Err(Some(code));
                }
            }
        }
    }
}

/// One clock for every socket's rate limiter: making one reads the CPU's features (`cpuid`,
/// which traps to the hypervisor in a VM), and sockets come and go with every page view.
static CLOCK: LazyLock<DefaultClock> = LazyLock::new(DefaultClock::default);

/// Frames sent from the queue before the socket's reads get a look in again.
const SEND_BATCH: usize = 64;

pub async fn run(hub: Hub, mut socket: WebSocket, mut session: Session) {
    let outbox = Arc::new(Outbox::new(SEND_QUEUE));
    let conn = hub.register(outbox.clone());
    if let Session::Shopper(s) = &session {
        // A merchant deactivated meanwhile closes its shop's sockets (see revoke.rs).
        hub.watch(
            conn,
            &outbox,
            &[super::revoke::Cred::Merchant(s.merchant.as_str())],
            CloseCode::UnknownMerchant,
        );
    }
    let limiter = RateLimiter::direct_with_clock(
        Quota::per_second(NonZeroU32::new(20).unwrap()).allow_burst(NonZeroU32::new(40).unwrap()),
        CLOCK.clone(),
    );
    let hello_deadline = Instant::now() + HELLO_TIMEOUT;
    let mut last_seen = Instant::now();
    outbox.touch();
    let mut next_ping = Instant::now() + PING_EVERY;
    // One timer, reset as it fires, for both the hello deadline and the pings: what an idle
    // socket's task holds is kept to what it needs.
    let timer = sleep_until(hello_deadline.min(next_ping));
    tokio::pin!(timer);
    let mut strikes = 0u32;
    let mut malformed = 0u32;
    let code: Option<CloseCode> = 'socket: loop {
        // What is queued goes out first (a close asked for, before anything), a batch at a time.
        let mut sent = 0;
        let more = loop {
            match outbox.next() {
                Next::Close(code) => break 'socket Some(code),
                Next::Empty => break false,
                Next::Frame(f) => {
                    if let Err(why) = io_or_close(socket.feed(Message::Text(f)), &outbox).await {
                        break 'socket why;
                    }
                    sent += 1;
                    if sent == SEND_BATCH {
                        break true;
                    }
                }
            }
        };
        // The batch goes out in one write (or a few, past WRITE_BATCH_BYTES).
        if sent > 0 {
            if let Err(why) = io_or_close(socket.flush(), &outbox).await {
                break 'socket why;
            }
        }
        tokio::select! {
            biased;
            _ = hub.shutdown.cancelled() => break Some(CloseCode::GoingAway),
            m = socket.recv() => match m {
                None => break None,
                Some(Err(e)) => {
                    // Too large (1009), not UTF-8 (1007), broken framing (1002): say so.
                    let code = code_for_error(e);
                    if let Some(c) = code {
                        metrics::counter!("floorwalker_ws_frame_errors_total", "code" => c.code().to_string()).increment(1);
                    }
                    break code;
                }
                Some(Ok(Message::Close(_))) => {
                    // The client closes: echo its close frame (RFC 6455 §5.5.1; tungstenite
                    // queued it) before the socket goes.
                    let _ = tokio::time::timeout(Duration::from_secs(2), socket.flush()).await;
                    break None;
                }
                Some(Ok(Message::Text(t))) => {
                    last_seen = Instant::now();
                    outbox.touch();
                    if limiter.check().is_err() {
                        strikes += 1;
                        if strikes > 40 { break Some(CloseCode::RateLimited) }
                        hub.send_out(conn, &Out::error(ErrorCode::RateLimited, "too many frames; slow down", None));
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
                                _ = outbox.ready(), if !send_failed => {
                                    let mut fed = false;
                                    while outbox.closing().is_none() && !send_failed {
                                        let Some(f) = outbox.pop() else { break };
                                        // A close asked for meanwhile is acted on once the
                                        // frame is handled (the loop's top sees it).
                                        send_failed = matches!(io_or_close(socket.feed(Message::Text(f)), &outbox).await, Err(None));
                                        fed = true;
                                    }
                                    if fed && !send_failed {
                                        send_failed = matches!(io_or_close(socket.flush(), &outbox).await, Err(None));
                                    }
                                }
                            }
                        }
                    };
                    if send_failed { break None }
                    match step {
                        Step::Continue => malformed = 0,
                        Step::Malformed => {
                            malformed += 1;
                            if malformed >= 10 { break Some(CloseCode::ProtocolError) }
                        }
                        Step::Close(code) => break Some(code),
                    }
                }
                Some(Ok(Message::Binary(_))) => {
                    last_seen = Instant::now();
                    outbox.touch();
                    hub.send_out(conn, &Out::error(ErrorCode::BadRequest, "send JSON text frames", None));
                    malformed += 1;
                    if malformed >= 10 { break Some(CloseCode::ProtocolError) }
                }
                Some(Ok(_)) => {
                    last_seen = Instant::now();
                    outbox.touch();
                }
            },
            _ = outbox.ready(), if !more => {}
            _ = std::future::ready(()), if more => {}
            _ = &mut timer => {
                let now = Instant::now();
                if !session.greeted() && now >= hello_deadline { break Some(CloseCode::HelloTimeout) }
                // Silent for the documented 60 s (pongs count): closed with its own code.
                if session.greeted() && now >= last_seen + IDLE_TIMEOUT { break Some(CloseCode::Idle) }
                if now >= next_ping {
                    next_ping = now + PING_EVERY;
                    if let Err(why) = send_or_close(&mut socket, &outbox, Message::Ping(Default::default())).await { break why }
                }
                let wake_at = if session.greeted() {
                    next_ping.min(last_seen + IDLE_TIMEOUT)
                } else {
                    hello_deadline.min(next_ping)
                };
                timer.as_mut().reset(wake_at);
            }
        }
    };
    hub.unregister(conn, &session.conversations());
    session.finish(&hub, conn).await;
    super::calls::socket_closed(&hub, conn);
    let why = code.map_or_else(|| "client".to_owned(), |c| c.code().to_string());
    metrics::counter!("floorwalker_socket_closes_total", "code" => why).increment(1);
    if let Some(code) = code {
        // Whatever was queued before the close (e.g. the error that explains it) goes first.
        if code != CloseCode::SlowConsumer {
            while let Some(f) = outbox.pop() {
                if tokio::time::timeout(Duration::from_secs(1), socket.send(Message::Text(f)))
                    .await
                    .is_err()
                {
                    break;
                }
            }
        }
        // The close goes out with its own time limit, then lingers (see `close_now`).
        close_now(&mut socket, code, code.reason()).await;
    }
}
