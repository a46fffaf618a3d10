//! One simulated expert of the `chat` scenario: claims offers (after a human-like pause, or
//! one per free slot with `--claim free`), answers every message, and drops its socket now and
//! then to resume.

use super::*;

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

pub(super) async fn expert(url: String, token: String, stats: Arc<Stats>, phase: Arc<Phase>, drop_share: f64, reach: f64) {
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
