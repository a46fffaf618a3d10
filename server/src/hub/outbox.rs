//! A socket's outgoing frames and its close request, in one small shared object.
//!
//! Idle sockets are many (a shop's every open page), so what each one holds matters. A tokio
//! `mpsc` channel of [`SEND_QUEUE`](super::SEND_QUEUE) allocates its first block of slots (and a
//! cache-padded channel) up front, ~1.6 KiB per socket before a frame is sent, and a
//! cancellation token another allocation for the close. Here the queue is a `VecDeque` that
//! grows only while frames wait, the close is a code, and one `Notify` wakes the socket's task
//! for either.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicI64, AtomicU16, Ordering};
use std::sync::Mutex;

use axum::extract::ws::Utf8Bytes;
use tokio::sync::Notify;

use crate::protocol::CloseCode;

/// Why a frame was not queued.
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    /// `limit` frames already wait: the client does not keep up.
    Full,
    /// The socket is closing; frames queued now would not be sent.
    Closing,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Next {
    Frame(Utf8Bytes),
    Close(CloseCode),
    Empty,
}

pub struct Outbox {
    frames: Mutex<VecDeque<Utf8Bytes>>,
    limit: usize,
    /// 0 while open, else the close code asked for (the first one asked wins).
    close: AtomicU16,
    wake: Notify,
    /// When the client was last heard from (ms since the epoch): a frame or a pong.
    heard: AtomicI64,
}

/// After a burst, a drained queue gives back what it grew beyond this many slots.
const KEEP_SLOTS: usize = 8;

impl Outbox {
    pub fn new(limit: usize) -> Self {
        Outbox {
            frames: Mutex::new(VecDeque::new()),
            limit,
            close: AtomicU16::new(0),
            wake: Notify::new(),
            heard: AtomicI64::new(crate::now_ms()),
        }
    }

    /// The client was heard from just now.
    pub fn touch(&self) {
        self.heard.store(crate::now_ms(), Ordering::Relaxed);
    }

    /// When the client was last heard from (ms since the epoch).
    pub fn heard_at(&self) -> i64 {
        self.heard.load(Ordering::Relaxed)
    }

    /// Queue a frame after those already queued.
    pub fn push(&self, frame: Utf8Bytes) -> Result<(), Refused> {
        if self.close.load(Ordering::Acquire) != 0 {
            return Err(Refused::Closing);
        }
        {
            let mut q = self.frames.lock().expect("outbox");
            if q.len() >= self.limit {
                return Err(Refused::Full);
            }
            q.push_back(frame);
        }
        self.wake.notify_one();
        Ok(())
    }

    /// Ask the socket's task to close with `code` (a later request does not replace it).
    pub fn close(&self, code: CloseCode) {
        let _ = self.close.compare_exchange(0, code.code(), Ordering::AcqRel, Ordering::Acquire);
        self.wake.notify_one();
    }

    /// The close code asked for, if any.
    pub fn closing(&self) -> Option<CloseCode> {
        CloseCode::from_code(self.close.load(Ordering::Acquire))
    }

    /// What the socket's task should do next: close (asked for), send the oldest frame, or
    /// wait for [`Outbox::ready`].
    pub fn next(&self) -> Next {
        if let Some(code) = self.closing() {
            return Next::Close(code);
        }
        self.pop().map_or(Next::Empty, Next::Frame)
    }

    /// The oldest queued frame (also while closing: what was queued before a close goes first).
    pub fn pop(&self) -> Option<Utf8Bytes> {
        let mut q = self.frames.lock().expect("outbox");
        let f = q.pop_front();
        if q.is_empty() && q.capacity() > KEEP_SLOTS {
            q.shrink_to(KEEP_SLOTS);
        }
        f
    }

    /// Resolves once a frame or a close was queued since the last time it resolved (a push
    /// made while nobody waits is remembered, so none is missed between `next` and this).
    pub async fn ready(&self) {
        self.wake.notified().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Duration;

    fn f(s: &str) -> Utf8Bytes {
        Utf8Bytes::from(s.to_owned())
    }

    #[test]
    fn frames_come_out_in_order_and_a_full_queue_refuses() {
        let o = Outbox::new(3);
        for s in ["a", "b", "c"] {
            o.push(f(s)).unwrap();
        }
        assert_eq!(o.push(f("d")), Err(Refused::Full));
        assert_eq!(o.next(), Next::Frame(f("a")));
        o.push(f("d")).unwrap();
        let rest: Vec<_> = std::iter::from_fn(|| match o.next() {
            Next::Frame(x) => Some(x),
            _ => None,
        })
        .collect();
        assert_eq!(rest, vec![f("b"), f("c"), f("d")]);
        assert_eq!(o.next(), Next::Empty);
    }

    #[test]
    fn a_close_comes_first_keeps_its_code_and_leaves_queued_frames_poppable() {
        let o = Outbox::new(8);
        o.push(f("explains the close")).unwrap();
        o.close(CloseCode::SlowConsumer);
        o.close(CloseCode::GoingAway);
        assert_eq!(o.next(), Next::Close(CloseCode::SlowConsumer));
        assert_eq!(o.push(f("late")), Err(Refused::Closing));
        assert_eq!(o.pop(), Some(f("explains the close")));
        assert_eq!(o.pop(), None);
    }

    #[test]
    fn a_drained_queue_gives_back_what_a_burst_grew() {
        let o = Outbox::new(256);
        for i in 0..200 {
            o.push(f(&i.to_string())).unwrap();
        }
        while o.pop().is_some() {}
        assert!(o.frames.lock().unwrap().capacity() <= KEEP_SLOTS);
    }

    #[tokio::test]
    async fn a_push_made_before_anyone_waits_still_wakes_the_reader() {
        let o = Arc::new(Outbox::new(8));
        assert_eq!(o.next(), Next::Empty);
        o.push(f("x")).unwrap(); // between `next` and `ready`
        tokio::time::timeout(Duration::from_secs(1), o.ready()).await.expect("woken");
        assert_eq!(o.next(), Next::Frame(f("x")));

        let waiter = {
            let o = o.clone();
            tokio::spawn(async move {
                o.ready().await;
                o.next()
            })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        o.close(CloseCode::Unauthorized);
        assert_eq!(
            tokio::time::timeout(Duration::from_secs(1), waiter).await.unwrap().unwrap(),
            Next::Close(CloseCode::Unauthorized)
        );
    }
}
