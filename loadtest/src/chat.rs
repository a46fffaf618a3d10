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

async fn shopper(
    i: usize,
    url: String,
    target: Arc<setup::Target>,
    stats: Arc<Stats>,
    phase: Arc<Phase>,
    every: Duration,
    drop_share: f64,
) {
    let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::from_entropy();
    // Arrivals spread over the first two seconds.
    tokio::time::sleep_until((phase.start + Duration::from_millis(rng.gen_range(0..2000))).into()).await;
    let dep = target.department_ids[i % target.department_ids.len()].clone();
    let mut token: Option<String> = None;
    let mut conv: Option<ConversationId> = None;
    let mut seen_seq = 0i64;
    let mut unacked: HashMap<String, String> = HashMap::new();
    let mut max_live = HashMap::new();
    let mut claimed = false;
    // This shopper's place in request order and when it first asked (kept over retries).
    let mut request: Option<(u64, Instant)> = None;
    let mut in_queue = false;
    // With --chat-length: when to end the chat, and whether it was.
    let mut end_at: Option<Instant> = None;
    let mut ended = false;
    let mut drop_at = phase.drop_time(&mut rng, drop_share);
    let mut n = 0u64;
    let ws = ws_url(&url, &format!("/ws/shopper?merchant={}&v=1", target.merchant_id));
    'connection: loop {
        if Instant::now() > phase.finish {
            return;
        }
        let Ok((mut sink, mut stream)) = client::connect(&ws).await else {
            tokio::time::sleep(Duration::from_millis(500)).await;
            continue;
        };
        if client::send(
            &mut sink,
            &ShopperIn::Hello {
                token: token.clone(),
                locale: None,
            },
        )
        .await
        .is_err()
        {
            continue;
        }
        match client::recv(&mut stream).await {
            Ok(Out::ShopperWelcome { token: t, .. }) => token = Some(t),
            _ => continue,
        }
        match &conv {
            None => {
                let cid = format!("s{i}-{n}");
                n += 1;
                let _ = client::send(
                    &mut sink,
                    &ShopperIn::RequestChat {
                        store_id: Some(target.store_id.clone()),
                        department_id: Some(dep.clone()),
                        page_url: Some("https://shop.example/load".into()),
                        page_title: None,
                        product: None,
                        text: Some(body(&cid)),
                        client_msg_id: Some(cid.clone()),
                    },
                )
                .await;
                unacked.insert(cid, String::new());
                if request.is_none() {
                    let no = stats.c.next_request.fetch_add(1, Ordering::Relaxed);
                    request = Some((no, Instant::now()));
                    stats.time_to_claim.lock().unwrap().insert(no, None);
                }
                Stats::inc(&stats.c.chats_requested);
                Stats::inc(&stats.c.messages_sent);
            }
            Some(c) => {
                let _ = client::send(
                    &mut sink,
                    &ShopperIn::Sync {
                        conversation_id: c.clone(),
                        after_seq: seen_seq,
                    },
                )
                .await;
                for (cid, b) in unacked.clone() {
                    if !b.is_empty() {
                        let _ = client::send(
                            &mut sink,
                            &ShopperIn::Send {
                                conversation_id: c.clone(),
                                client_msg_id: cid,
                                body: b,
                            },
                        )
                        .await;
                    }
                }
            }
        }
        let mut tick = tokio::time::interval_at((Instant::now() + every.mul_f64(rng.gen_range(0.0..1.0))).into(), every);
        let mut synced_final = false;
        loop {
            let now = Instant::now();
            if now > phase.finish {
                if let Some(c) = conv.as_ref().filter(|_| !ended) {
                    let _ = client::send(
                        &mut sink,
                        &ShopperIn::End {
                            conversation_id: c.clone(),
                        },
                    )
                    .await;
                }
                return;
            }
            if let (Some(c), Some(at)) = (&conv, end_at) {
                if !ended && now > at {
                    ended = true;
                    let _ = client::send(
                        &mut sink,
                        &ShopperIn::End {
                            conversation_id: c.clone(),
                        },
                    )
                    .await;
                }
            }
            if !synced_final && now > phase.final_sync {
                synced_final = true;
                if let Some(c) = &conv {
                    let _ = client::send(
                        &mut sink,
                        &ShopperIn::Sync {
                            conversation_id: c.clone(),
                            after_seq: 0,
                        },
                    )
                    .await;
                }
            }
            if drop_at.is_some_and(|at| now > at) {
                // This client's one mid-run drop: close the socket and resume on a new one.
                drop_at = None;
                Stats::inc(&stats.c.reconnects);
                drop(sink);
                drop(stream);
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue 'connection;
            }
            tokio::select! {
                f = client::recv(&mut stream) => match f {
                    Ok(Out::Conversation { conversation }) => {
                        if conv.is_none() { conv = Some(conversation.id.clone()); }
                        if Some(&conversation.id) == conv.as_ref() {
                            let waits = conversation.status == "queued" || conversation.status == "offered";
                            if waits && !in_queue && !claimed {
                                in_queue = true;
                                stats.c.waiting_now.fetch_add(1, Ordering::Relaxed);
                            }
                            if conversation.status == "claimed" && !claimed {
                                claimed = true;
                                if std::mem::take(&mut in_queue) {
                                    stats.c.waiting_now.fetch_sub(1, Ordering::Relaxed);
                                }
                                if let Some((no, at)) = request {
                                    stats.time_to_claim.lock().unwrap().insert(no, Some(at.elapsed().as_millis() as u64));
                                }
                                end_at = phase.chat_length.map(|l| Instant::now() + l.mul_f64(rng.gen_range(0.75..1.25)));
                            }
                        }
                    }
                    Ok(Out::Ack { client_msg_id, seq, conversation_id, .. }) => {
                        if unacked.remove(&client_msg_id).is_some() {
                            Stats::inc(&stats.c.messages_acked);
                            stats.acked(&conversation_id, Side::Shopper, &client_msg_id);
                        }
                        seen_seq = seen_seq.max(seq);
                    }
                    Ok(Out::Message { message }) => {
                        seen_seq = seen_seq.max(message.seq);
                        on_message(&stats, Side::Shopper, &message, true, &mut max_live);
                        if phase.read_receipts {
                            let _ = client::send(&mut sink, &ShopperIn::Read { conversation_id: message.conversation_id.clone(), seq: message.seq }).await;
                        }
                    }
                    Ok(Out::Messages { messages, .. }) => {
                        for m in &messages {
                            seen_seq = seen_seq.max(m.seq);
                            on_message(&stats, Side::Shopper, m, false, &mut max_live);
                        }
                    }
                    Ok(Out::Error { code, .. }) => {
                        if code == "unavailable" { Stats::inc(&stats.c.unavailable) } else { Stats::inc(&stats.c.errors) }
                    }
                    Ok(Out::Unavailable { .. }) => {
                        // Nobody free yet: ask again shortly.
                        Stats::inc(&stats.c.errors);
                        tokio::time::sleep(Duration::from_millis(500)).await;
                        unacked.clear();
                        continue 'connection;
                    }
                    Ok(_) => {}
                    Err(_) => {
                        Stats::inc(&stats.c.reconnects);
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        continue 'connection;
                    }
                },
                _ = tick.tick() => {
                    if claimed && !ended && Instant::now() < phase.stop_sending {
                        if let Some(c) = &conv {
                            let cid = format!("s{i}-{n}");
                            n += 1;
                            let b = body(&cid);
                            unacked.insert(cid.clone(), b.clone());
                            Stats::inc(&stats.c.messages_sent);
                            if client::send(&mut sink, &ShopperIn::Send { conversation_id: c.clone(), client_msg_id: cid, body: b }).await.is_err() {
                                continue 'connection;
                            }
                        }
                    }
                }
                _ = tokio::time::sleep(Duration::from_millis(250)) => {}
            }
        }
    }
}

type Pending = FuturesUnordered<std::pin::Pin<Box<dyn std::future::Future<Output = ConversationId> + Send>>>;

/// Claim `id` after a human-like pause (unless the offer is withdrawn first).
fn schedule(id: ConversationId, rng: &mut rand::rngs::StdRng, pending: &mut Pending) {
    let delay = Duration::from_millis(rng.gen_range(20..300));
    pending.push(Box::pin(async move {
        tokio::time::sleep(delay).await;
        id
    }));
}

/// `--claim free`: one claim per free slot (open chats, claims in flight and claims about to be
/// made all take one), for the oldest offers held.
fn refill(
    held: &HashMap<ConversationId, i64>,
    scheduled: &mut HashSet<ConversationId>,
    in_flight: usize,
    open: usize,
    max: usize,
    rng: &mut rand::rngs::StdRng,
    pending: &mut Pending,
) {
    let room = max.saturating_sub(open + in_flight + scheduled.len());
    if room == 0 {
        return;
    }
    let mut oldest: Vec<(&i64, &ConversationId)> = held
        .iter()
        .filter(|(id, _)| !scheduled.contains(*id))
        .map(|(id, at)| (at, id))
        .collect();
    oldest.sort();
    for (_, id) in oldest.into_iter().take(room) {
        scheduled.insert(id.clone());
        schedule(id.clone(), rng, pending);
    }
}

async fn expert(url: String, token: String, stats: Arc<Stats>, phase: Arc<Phase>, drop_share: f64, reach: f64) {
    let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::from_entropy();
    let me = token.clone();
    let mut my_id;
    let max = phase.max_chats;
    let free_mode = phase.claim == ClaimMode::Free;
    // Open chats (→ last seq seen), and chats that ended (kept for the final sync).
    let mut chats: HashMap<ConversationId, i64> = HashMap::new();
    let mut done: HashMap<ConversationId, i64> = HashMap::new();
    // When each slot freed by an ended chat (while chats waited) did, until a claim fills it.
    let mut freed: std::collections::VecDeque<Instant> = Default::default();
    let mut max_live = HashMap::new();
    let mut n = 0u64;
    let mut drop_at = phase.drop_time(&mut rng, drop_share);
    let ws = ws_url(&url, "/ws/expert?v=1");
    'connection: loop {
        if Instant::now() > phase.finish {
            return;
        }
        let Ok((mut sink, mut stream)) = client::connect(&ws).await else {
            tokio::time::sleep(Duration::from_millis(500)).await;
            continue;
        };
        let _ = client::send(&mut sink, &ExpertIn::Hello { token: me.clone() }).await;
        let offers = match client::recv(&mut stream).await {
            Ok(Out::ExpertWelcome {
                expert,
                conversations,
                offers,
                ..
            }) => {
                my_id = expert.id;
                for c in conversations {
                    chats.entry(c.id.clone()).or_insert(0);
                    let after = chats[&c.id];
                    let _ = client::send(
                        &mut sink,
                        &ExpertIn::Sync {
                            conversation_id: c.id,
                            after_seq: after,
                        },
                    )
                    .await;
                }
                offers
            }
            _ => {
                // The welcome must be the first frame after hello; anything else is an error.
                Stats::inc(&stats.c.errors);
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue;
            }
        };
        let _ = client::send(
            &mut sink,
            &ExpertIn::SetStatus {
                available: Some(true),
                max_chats: Some(max as i64),
                store_ids: None,
                department_ids: None,
            },
        )
        .await;
        // Claims fire after a human-like pause unless the offer is withdrawn first.
        let mut pending: Pending = FuturesUnordered::new();
        let mut waiting: HashSet<ConversationId> = HashSet::new();
        let mut claim_sent: HashMap<ConversationId, Instant> = HashMap::new();
        // `--claim free`: the offers this socket holds (→ waiting since).
        let mut held: HashMap<ConversationId, i64> = HashMap::new();
        for o in offers {
            if free_mode {
                held.insert(o.conversation_id, o.waiting_since);
            } else if waiting.insert(o.conversation_id.clone()) {
                schedule(o.conversation_id, &mut rng, &mut pending);
            }
        }
        if free_mode {
            refill(&held, &mut waiting, claim_sent.len(), chats.len(), max, &mut rng, &mut pending);
        }
        let mut synced_final = false;
        loop {
            let now = Instant::now();
            if now > phase.finish {
                return;
            }
            if !synced_final && now > phase.final_sync {
                synced_final = true;
                for c in chats.keys().chain(done.keys()) {
                    let _ = client::send(
                        &mut sink,
                        &ExpertIn::Sync {
                            conversation_id: c.clone(),
                            after_seq: 0,
                        },
                    )
                    .await;
                }
            }
            if drop_at.is_some_and(|at| now > at) {
                // This client's one mid-run drop: close the socket and resume on a new one.
                drop_at = None;
                Stats::inc(&stats.c.reconnects);
                drop(sink);
                drop(stream);
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue 'connection;
            }
            tokio::select! {
                Some(id) = pending.next(), if !pending.is_empty() => {
                    let room = chats.len() + if free_mode { claim_sent.len() } else { 0 } < max;
                    let offered = !free_mode || held.contains_key(&id);
                    if waiting.remove(&id) && offered && room && Instant::now() < phase.stop_sending {
                        Stats::inc(&stats.c.claim_attempts);
                        claim_sent.insert(id.clone(), Instant::now());
                        let _ = client::send(&mut sink, &ExpertIn::Claim { conversation_id: id }).await;
                    }
                    if free_mode {
                        refill(&held, &mut waiting, claim_sent.len(), chats.len(), max, &mut rng, &mut pending);
                    }
                }
                f = client::recv(&mut stream) => match f {
                    Ok(Out::Offer { offer }) => {
                        if free_mode {
                            if !chats.contains_key(&offer.conversation_id) {
                                held.insert(offer.conversation_id, offer.waiting_since);
                                refill(&held, &mut waiting, claim_sent.len(), chats.len(), max, &mut rng, &mut pending);
                            }
                        } else if !chats.contains_key(&offer.conversation_id) && rng.gen_bool(reach) && waiting.insert(offer.conversation_id.clone()) {
                            schedule(offer.conversation_id, &mut rng, &mut pending);
                        }
                    }
                    Ok(Out::OfferWithdrawn { conversation_id, .. }) => {
                        waiting.remove(&conversation_id);
                        if held.remove(&conversation_id).is_some() {
                            refill(&held, &mut waiting, claim_sent.len(), chats.len(), max, &mut rng, &mut pending);
                        }
                    }
                    Ok(Out::ClaimFailed { conversation_id, .. }) => {
                        if let Some(t) = claim_sent.remove(&conversation_id) {
                            let _ = stats.claim_ms.lock().unwrap().record(t.elapsed().as_micros().max(1) as u64);
                        }
                        held.remove(&conversation_id);
                        if free_mode {
                            refill(&held, &mut waiting, claim_sent.len(), chats.len(), max, &mut rng, &mut pending);
                        }
                    }
                    Ok(Out::Conversation { conversation }) => {
                        let mine = conversation.expert.as_ref().is_some_and(|e| e.id == my_id);
                        if conversation.status == "claimed" && mine && !chats.contains_key(&conversation.id) {
                            if let Some(t) = claim_sent.remove(&conversation.id) {
                                let _ = stats.claim_ms.lock().unwrap().record(t.elapsed().as_micros().max(1) as u64);
                            }
                            held.remove(&conversation.id);
                            if let Some(t) = freed.pop_front() {
                                let _ = stats.refill_us.lock().unwrap().record(t.elapsed().as_micros().max(1) as u64);
                                Stats::inc(&stats.c.slots_refilled);
                            }
                            stats.winners.lock().unwrap().entry(conversation.id.clone()).or_default().insert(my_id.clone());
                            Stats::inc(&stats.c.chats_claimed);
                            chats.insert(conversation.id.clone(), 0);
                            let _ = client::send(&mut sink, &ExpertIn::Sync { conversation_id: conversation.id, after_seq: 0 }).await;
                        } else if conversation.status != "claimed" && !mine {
                            chats.remove(&conversation.id);
                        } else if conversation.status == "ended" && mine {
                            // The shopper ended it (--chat-length): a slot is free again.
                            if let Some(seq) = chats.remove(&conversation.id) {
                                done.insert(conversation.id, seq);
                                if stats.c.waiting_now.load(Ordering::Relaxed) > 0 && Instant::now() < phase.stop_sending {
                                    freed.push_back(Instant::now());
                                    Stats::inc(&stats.c.slots_freed);
                                }
                                if free_mode {
                                    refill(&held, &mut waiting, claim_sent.len(), chats.len(), max, &mut rng, &mut pending);
                                }
                            }
                        }
                    }
                    Ok(Out::Ack { client_msg_id, conversation_id, .. }) => {
                        Stats::inc(&stats.c.messages_acked);
                        stats.acked(&conversation_id, Side::Expert, &client_msg_id);
                    }
                    Ok(Out::Message { message }) => {
                        if let Some(s) = chats.get_mut(&message.conversation_id).or(done.get_mut(&message.conversation_id)) { *s = (*s).max(message.seq); }
                        if phase.read_receipts {
                            let _ = client::send(&mut sink, &ExpertIn::Read { conversation_id: message.conversation_id.clone(), seq: message.seq }).await;
                        }
                        if on_message(&stats, Side::Expert, &message, true, &mut max_live).is_some() && chats.contains_key(&message.conversation_id) && Instant::now() < phase.stop_sending {
                            let cid = format!("e{}-{n}", &me[4..12]);
                            n += 1;
                            Stats::inc(&stats.c.messages_sent);
                            let _ = client::send(&mut sink, &ExpertIn::Send { conversation_id: message.conversation_id.clone(), client_msg_id: cid.clone(), body: body(&cid), product: None }).await;
                        }
                    }
                    Ok(Out::Messages { messages, .. }) => {
                        for m in &messages {
                            if let Some(s) = chats.get_mut(&m.conversation_id).or(done.get_mut(&m.conversation_id)) { *s = (*s).max(m.seq); }
                            on_message(&stats, Side::Expert, m, false, &mut max_live);
                        }
                    }
                    Ok(Out::Error { code, .. }) => {
                        if code == "unavailable" { Stats::inc(&stats.c.unavailable) } else { Stats::inc(&stats.c.errors) }
                    }
                    Ok(_) => {}
                    Err(_) => {
                        Stats::inc(&stats.c.reconnects);
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        continue 'connection;
                    }
                },
                _ = tokio::time::sleep(Duration::from_millis(250)) => {}
            }
        }
    }
}
