//! The `chat` scenario.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use clap::Args;
use futures::stream::FuturesUnordered;
use futures::StreamExt;
use rand::Rng;
use serde_json::json;

use floorwalker::ids::ConversationId;
use floorwalker::protocol::{ExpertIn, Out, ShopperIn};

use crate::client::{self, ws_url};
use crate::stats::{Side, Stats};
use crate::{parse_duration, setup, urls};

mod expert;
mod shopper;
use expert::expert;
use shopper::shopper;

#[derive(Args, Debug, Clone)]
pub struct ChatArgs {
    /// Server base URL(s), comma-separated to spread clients over several nodes.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub url: String,
    #[arg(long, default_value_t = 100)]
    pub shoppers: usize,
    #[arg(long, default_value_t = 10)]
    pub experts: usize,
    /// Chats each expert may hold at once. `--experts` equal to `--shoppers` with
    /// `--max-chats 1` gives the pairs of the side-by-side benchmark (one shopper, one expert
    /// per chat; see docs/benchmarks.md).
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=20))]
    pub max_chats: u32,
    /// How experts pick offers: `reach` — each reaches for about 5 of every `--experts` offers
    /// it sees, room or not, so a few race for each chat; `free` — an expert claims the
    /// oldest offer it holds whenever it has a free slot (one claim per free slot), as someone
    /// with room on a busy floor does. Both after a 20–300 ms human pause.
    #[arg(long, value_enum, default_value_t = ClaimMode::Reach)]
    pub claim: ClaimMode,
    /// End each chat this long after its shopper sees it claimed (±25 %), freeing the expert's
    /// slot for the next waiting chat; the shopper then stays idle. Default: chats last the run.
    #[arg(long, value_parser = parse_duration)]
    pub chat_length: Option<Duration>,
    /// How long clients send messages.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub duration: Duration,
    /// Target messages per second, both directions together.
    #[arg(long, default_value_t = 200.0)]
    pub rate: f64,
    /// Share of clients that drop their connection once mid-run and resume.
    #[arg(long, default_value_t = 0.05)]
    pub drop: f64,
    /// The demo password (admin@demo.example).
    #[arg(long, env = "FLOORWALKER_DEMO_PASSWORD", hide_env_values = true)]
    pub password: String,
    /// Print one JSON object as the last line.
    /// Time after the last send before every client syncs its chats from the start, and again
    /// from that sync to the closing of the books (longer under overload, when deliveries lag).
    #[arg(long, default_value = "4s", value_parser = parse_duration)]
    pub settle: Duration,
    /// The server's database (optional): every message counted lost is then looked up, to tell
    /// "stored but never delivered" from "acknowledged but not stored" (which must never happen).
    #[arg(long)]
    pub database_url: Option<String>,
    /// Clients send a `read` receipt for every live message they get, as the widget and the
    /// store app do while the chat is on screen.
    #[arg(long)]
    pub read_receipts: bool,
    #[arg(long)]
    pub json: bool,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClaimMode {
    Reach,
    Free,
}

fn now_us() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_micros() as u64
}

fn body(cid: &str) -> String {
    format!("lt|{cid}|{}", now_us())
}

/// Client id and send time of a load-test message body.
fn parse_body(b: &str) -> Option<(&str, u64)> {
    let mut parts = b.split('|');
    (parts.next()? == "lt").then_some(())?;
    let cid = parts.next()?;
    Some((cid, parts.next()?.parse().ok()?))
}

struct Phase {
    start: Instant,
    stop_sending: Instant,
    final_sync: Instant,
    finish: Instant,
    /// Whether clients acknowledge what they read (`--read-receipts`).
    read_receipts: bool,
    /// Each expert's chat cap (`--max-chats`), `--claim` and `--chat-length`.
    max_chats: usize,
    claim: ClaimMode,
    chat_length: Option<Duration>,
}

impl Phase {
    /// For a `share` of clients, one moment in the middle of the run to drop the socket.
    fn drop_time(&self, rng: &mut rand::rngs::StdRng, share: f64) -> Option<Instant> {
        rng.gen_bool(share.clamp(0.0, 1.0))
            .then(|| self.start + (self.stop_sending - self.start).mul_f64(rng.gen_range(0.2..0.8)))
    }
}

pub async fn run(a: ChatArgs) -> anyhow::Result<()> {
    let nodes = urls(&a.url);
    anyhow::ensure!(!nodes.is_empty(), "give at least one --url");
    eprintln!("preparing the demo merchant: {} experts …", a.experts);
    let target = Arc::new(setup::prepare(&nodes[0], &a.password, a.experts, a.max_chats).await?);
    let stats = Arc::new(Stats::new());
    let start = Instant::now() + Duration::from_secs(2);
    let phase = Arc::new(Phase {
        start,
        stop_sending: start + a.duration,
        final_sync: start + a.duration + a.settle + Duration::from_secs(1),
        finish: start + a.duration + a.settle * 2 + Duration::from_secs(1),
        read_receipts: a.read_receipts,
        max_chats: a.max_chats as usize,
        claim: a.claim,
        chat_length: a.chat_length,
    });
    let mut tasks = Vec::new();
    // A few experts reach for each offer, as on a real shop floor (not all of them at once).
    let reach = (5.0 / a.experts.max(1) as f64).min(1.0);
    for (i, token) in target.expert_tokens.iter().enumerate() {
        let (url, token, stats, phase, drop) = (nodes[i % nodes.len()].clone(), token.clone(), stats.clone(), phase.clone(), a.drop);
        tasks.push(tokio::spawn(async move { expert(url, token, stats, phase, drop, reach).await }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    // Each shopper message gets one expert reply, so shoppers send at half the target rate.
    let per_shopper = Duration::from_secs_f64((a.shoppers as f64 * 2.0 / a.rate.max(0.001)).max(0.01));
    for i in 0..a.shoppers {
        let (url, target, stats, phase, drop) = (nodes[i % nodes.len()].clone(), target.clone(), stats.clone(), phase.clone(), a.drop);
        tasks.push(tokio::spawn(async move {
            shopper(i, url, target, stats, phase, per_shopper, drop).await
        }));
    }
    let progress = {
        let stats = stats.clone();
        let phase = phase.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(5)).await;
                let c = &stats.c;
                let window = {
                    let mut w = stats.window_delivery_us.lock().unwrap();
                    let p = (w.value_at_quantile(0.5) as f64 / 1000.0, w.value_at_quantile(0.99) as f64 / 1000.0);
                    w.reset();
                    p
                };
                eprintln!(
                    "[{:>4.0}s] chats {}/{} claimed, sent {}, acked {}, delivered {}, reconnects {}, delivery ms p50 {:.1} p99 {:.1}",
                    phase.start.elapsed().as_secs_f64(),
                    c.chats_claimed.load(Ordering::Relaxed),
                    c.chats_requested.load(Ordering::Relaxed),
                    c.messages_sent.load(Ordering::Relaxed),
                    c.messages_acked.load(Ordering::Relaxed),
                    c.messages_delivered.load(Ordering::Relaxed),
                    c.reconnects.load(Ordering::Relaxed),
                    window.0,
                    window.1,
                );
            }
        })
    };
    for t in tasks {
        if let Err(e) = t.await {
            eprintln!("a client task failed: {e}");
        }
    }
    progress.abort();
    let (lost, duplicates, double_claims) = stats.reconcile();
    let lost_stored = match &a.database_url {
        Some(url) if lost > 0 => {
            let db = floorwalker::storage::Db::connect(&floorwalker::config::ServiceUrl::new(url.clone())).await?;
            let mut stored = 0u64;
            for (conv, id) in stats.lost_ids() {
                let row: Option<(i64,)> = sqlx::query_as("SELECT seq FROM messages WHERE conversation_id = $1 AND client_msg_id = $2")
                    .bind(&conv)
                    .bind(&id)
                    .fetch_optional(&db.pool)
                    .await?;
                if row.is_some() {
                    stored += 1;
                } else {
                    eprintln!("acknowledged but not in the database: conversation {conv}, client id {id}");
                }
            }
            Some(stored)
        }
        Some(_) => Some(0),
        None => None,
    };
    let c = &stats.c;
    let secs = a.duration.as_secs_f64();
    let delivered = c.messages_delivered.load(Ordering::Relaxed);
    let claim = Stats::summary(&stats.claim_ms.lock().unwrap(), 1000.0);
    let delivery = Stats::summary(&stats.delivery_us.lock().unwrap(), 1000.0);
    // The chats the experts can hold at once: with chats that never end, only these can be
    // claimed, so their time-to-claim is the figure that means something.
    let first_n = a.experts * a.max_chats as usize;
    let to_claim = stats.time_to_claim_summary(first_n);
    let refill = Stats::summary(&stats.refill_us.lock().unwrap(), 1000.0);
    let freed = c.slots_freed.load(Ordering::Relaxed);
    let refilled = c.slots_refilled.load(Ordering::Relaxed);
    let out = json!({
        "scenario": "chat",
        "nodes": nodes.len(),
        "shoppers": a.shoppers,
        "experts": a.experts,
        "duration_s": secs,
        "chats_requested": c.chats_requested.load(Ordering::Relaxed),
        "chats_claimed": c.chats_claimed.load(Ordering::Relaxed),
        "claim_attempts": c.claim_attempts.load(Ordering::Relaxed),
        "double_claims": double_claims,
        "messages_sent": c.messages_sent.load(Ordering::Relaxed),
        "messages_acked": c.messages_acked.load(Ordering::Relaxed),
        "messages_delivered": delivered,
        "messages_per_s": (c.messages_acked.load(Ordering::Relaxed) as f64 / secs),
        "lost": lost,
        // Of those, how many the database holds (with --database-url).
        "lost_but_stored": lost_stored,
        "duplicates": duplicates,
        "out_of_order": c.out_of_order.load(Ordering::Relaxed),
        "reconnects": c.reconnects.load(Ordering::Relaxed),
        "errors": c.errors.load(Ordering::Relaxed),
        "unavailable": c.unavailable.load(Ordering::Relaxed),
        "claim_ms": claim,
        "delivery_ms": delivery,
        "time_to_claim_ms": to_claim,
        // Experts' slots freed by an ended chat while chats waited, refilled by a claim, and
        // how long each stayed empty (only with --chat-length).
        "freed_slots": {"freed": freed, "refilled": refilled, "empty_at_end": freed - refilled.min(freed), "refill_ms": refill},
    });
    eprintln!();
    eprintln!(
        "chat: {} shoppers, {} experts, {:.0} s on {} node(s)",
        a.shoppers,
        a.experts,
        secs,
        nodes.len()
    );
    eprintln!(
        "  chats      {} requested, {} claimed, {} double claims",
        out["chats_requested"], out["chats_claimed"], double_claims
    );
    eprintln!(
        "  messages   {} sent, {} acked ({:.0}/s), {} delivered live",
        out["messages_sent"],
        out["messages_acked"],
        out["messages_per_s"].as_f64().unwrap_or(0.0),
        delivered
    );
    eprintln!(
        "  integrity  {lost} lost, {duplicates} duplicates, {} out of order, {} reconnects",
        out["out_of_order"], out["reconnects"]
    );
    eprintln!(
        "  claim ms   p50 {} p99 {} p999 {} max {}",
        claim["p50"], claim["p99"], claim["p999"], claim["max"]
    );
    eprintln!(
        "  deliver ms p50 {} p99 {} p999 {} max {}",
        delivery["p50"], delivery["p99"], delivery["p999"], delivery["max"]
    );
    for (name, part) in [
        (format!("first {first_n}"), &to_claim["first"]),
        ("all".to_owned(), &to_claim["all"]),
    ] {
        eprintln!(
            "  time to claim, {name}: p50 {} p99 {} max {} ms ({} of {} claimed)",
            part["p50"], part["p99"], part["max"], part["claimed"], part["chats"]
        );
    }
    if a.chat_length.is_some() {
        eprintln!(
            "  freed slots {freed} while chats waited, {refilled} refilled: empty ms p50 {} p99 {} max {}",
            refill["p50"], refill["p99"], refill["max"]
        );
    }
    if a.json {
        println!("{out}");
    }
    Ok(())
}

/// Handle a message frame on either side; returns the client id if it is the other side's
/// load-test message seen live for the first time (so the expert can answer it).
fn on_message(
    stats: &Stats,
    me: Side,
    m: &floorwalker::protocol::MessageView,
    live: bool,
    max_live: &mut HashMap<ConversationId, i64>,
) -> Option<String> {
    let other = if me == Side::Shopper { "expert" } else { "shopper" };
    if m.author.role != other {
        return None;
    }
    let (cid, sent) = parse_body(&m.body)?;
    if live {
        let top = max_live.entry(m.conversation_id.clone()).or_insert(0);
        if m.seq < *top {
            Stats::inc(&stats.c.out_of_order);
        }
        *top = (*top).max(m.seq);
    }
    let first = stats.received(&m.conversation_id, me, cid, m.seq);
    if first {
        Stats::inc(&stats.c.messages_delivered);
        if live {
            let took = now_us().saturating_sub(sent).max(1);
            let _ = stats.delivery_us.lock().unwrap().record(took);
            let _ = stats.window_delivery_us.lock().unwrap().record(took);
        }
    }
    (first && live).then(|| cid.to_owned())
}
