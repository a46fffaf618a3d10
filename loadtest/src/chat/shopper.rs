//! One simulated shopper of the `chat` scenario: asks for a chat, sends at the phase's rate,
//! checks every answer arrives once and in order, and resumes after a dropped socket.

use super::*;

pub(super) async fn shopper(
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
