//! Photos and video calls in the chat (issue 24 part 2), from outside: real uploads over HTTP,
//! real WebSocket clients for both sides, on both backends, and two nodes over a real Redis.

mod common;

use std::time::Duration;

use common::{claim, demo_target, redis_url, shopper_at, shopper_ws, start_chat, Backend, TestApp, Ws, DEMO_PASSWORD};
use futures::StreamExt;
use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message as WsMessage;

on_both_backends!(
    photo_messages_are_checked_acked_once_and_synced,
    call_frames_reach_only_the_two_participants,
);

// ---------- helpers ----------

fn jpeg(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| image::Rgb([(x * 9 % 256) as u8, (y * 3 % 256) as u8, 60]));
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90)
        .encode_image(&img)
        .unwrap();
    out
}

async fn upload(base: &str, path: &str, bearer: &str, key: &str, body: Vec<u8>) -> (StatusCode, Value) {
    let res = reqwest::Client::new()
        .post(format!("{base}{path}"))
        .bearer_auth(bearer)
        .header("idempotency-key", key)
        .body(body)
        .send()
        .await
        .unwrap();
    let st = res.status();
    (st, res.json().await.unwrap_or(Value::Null))
}

async fn expert_token(base: &str, email: &str) -> String {
    let res = reqwest::Client::new()
        .post(format!("{base}/api/v1/app/login"))
        .json(&json!({"email": email, "password": DEMO_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let b: Value = res.json().await.unwrap();
    b["token"].as_str().unwrap().to_owned()
}

async fn expert_socket(base: &str, token: &str) -> Ws {
    let mut ws = Ws::connect(&format!("{}/ws/expert?v=1", base.replacen("http", "ws", 1)), None).await;
    ws.send(json!({"type": "hello", "token": token})).await;
    next(&mut ws, "welcome", |v| v["type"] == "welcome").await;
    ws
}

/// The next frame (as JSON) that matches, within 8 s.
async fn next(ws: &mut Ws, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(8);
    loop {
        match tokio::time::timeout_at(deadline, ws.stream.next()).await {
            Ok(Some(Ok(WsMessage::Text(t)))) => {
                let v: Value = serde_json::from_str(t.as_str()).unwrap();
                if pred(&v) {
                    return v;
                }
            }
            Ok(Some(Ok(WsMessage::Close(c)))) => panic!("closed while waiting for {what}: {c:?}"),
            Ok(Some(Ok(_))) => continue,
            Ok(other) => panic!("socket ended while waiting for {what}: {other:?}"),
            Err(_) => panic!("no {what} within 8 s"),
        }
    }
}

/// Every frame within `ms`.
async fn quiet(ws: &mut Ws, ms: u64) -> Vec<Value> {
    let mut out = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_millis(ms);
    while let Ok(Some(Ok(m))) = tokio::time::timeout_at(deadline, ws.stream.next()).await {
        if let WsMessage::Text(t) = m {
            out.push(serde_json::from_str(t.as_str()).unwrap());
        }
    }
    out
}

fn is_ack(v: &Value, cid: &str) -> bool {
    v["type"] == "ack" && v["client_msg_id"] == cid
}

fn is_error(v: &Value, code: &str) -> bool {
    v["type"] == "error" && v["code"] == code
}

async fn send_photo(ws: &mut Ws, conv: &str, cid: &str, photo: &str, caption: Option<&str>) -> Value {
    let mut f = json!({"type": "send", "conversation_id": conv, "client_msg_id": cid, "kind": "attachment", "attachment_id": photo});
    if let Some(c) = caption {
        f["body"] = json!(c);
    }
    ws.send(f).await;
    next(ws, "ack or error", |v| is_ack(v, cid) || (v["type"] == "error" && v["ref"] == cid)).await
}

// ---------- photos ----------

async fn photo_messages_are_checked_acked_once_and_synced(b: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let media_dir = dir.path().to_owned();
    let app = TestApp::spawn_with(b, |s| {
        s.demo = true;
        s.demo_password = Some(floorwalker::config::Secret::new(DEMO_PASSWORD));
        s.media.media_dir = Some(media_dir.clone());
    })
    .await;
    let (merchant, store, dep) = demo_target(&app).await;
    let admin = app.login("admin@demo.example", DEMO_PASSWORD).await;
    let (st, _) = admin
        .call(
            reqwest::Method::PUT,
            "/api/v1/settings/attachments",
            Some(json!({"shopper_uploads": true, "retention_days": 30})),
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    let token = expert_token(&app.url, "expert1@demo.example").await;
    let mut expert = expert_socket(&app.url, &token).await;
    let (mut shopper, _, shopper_token) = shopper_ws(&app, &merchant, None).await;
    let conv = start_chat(&mut shopper, &store, &dep, "Does it come in oak?").await;
    claim(&mut expert, &conv).await;
    // A second chat of the same expert, with another shopper.
    let (mut other, _, other_token) = shopper_ws(&app, &merchant, None).await;
    let conv2 = start_chat(&mut other, &store, &dep, "Hello?").await;
    claim(&mut expert, &conv2).await;

    let exp_path = format!("/api/v1/app/conversations/{conv}/attachments");
    let (st, a) = upload(&app.url, &exp_path, &token, "e-1", jpeg(64, 32)).await;
    assert_eq!(st, StatusCode::CREATED, "{a}");
    let photo = a["id"].as_str().unwrap().to_owned();
    let (_, b2) = upload(&app.url, &exp_path, &token, "e-2", jpeg(40, 40)).await;
    let photo2 = b2["id"].as_str().unwrap().to_owned();
    let shop_path = format!("/api/v1/widget/conversations/{conv}/attachments?merchant={merchant}");
    let (st, s) = upload(&app.url, &shop_path, &shopper_token, "s-1", jpeg(30, 50)).await;
    assert_eq!(st, StatusCode::CREATED, "{s}");
    let shopper_photo = s["id"].as_str().unwrap().to_owned();

    // The expert sends the photo with a caption: acked once stored, the shopper sees it with
    // the photo's data (the client fetches signed URLs for it).
    let ack = send_photo(&mut expert, &conv, "p-1", &photo, Some("The oak one, from the back")).await;
    assert!(is_ack(&ack, "p-1"), "{ack}");
    let seq = ack["seq"].as_i64().unwrap();
    let m = next(&mut shopper, "the photo message", |v| {
        v["type"] == "message" && v["message"]["kind"] == "attachment"
    })
    .await;
    let msg = &m["message"];
    assert_eq!(msg["seq"].as_i64(), Some(seq));
    assert_eq!(msg["body"], "The oak one, from the back");
    assert_eq!(msg["author"]["role"], "expert");
    assert_eq!(msg["data"]["attachment_id"], photo.as_str());
    assert_eq!(msg["data"]["mime"], "image/jpeg");
    assert_eq!(
        (msg["data"]["width"].as_i64(), msg["data"]["height"].as_i64()),
        (Some(64), Some(32))
    );
    assert!(msg["data"]["thumb_width"].as_i64().unwrap() > 0);
    assert!(
        msg.get("client_msg_id").is_none(),
        "the shopper does not see the expert's client id"
    );

    // A retry after a lost ack: the same seq, no second message.
    let again = send_photo(&mut expert, &conv, "p-1", &photo, Some("The oak one, from the back")).await;
    assert_eq!((again["type"].as_str(), again["seq"].as_i64()), (Some("ack"), Some(seq)), "{again}");
    // The same client id for another photo is a conflict.
    let clash = send_photo(&mut expert, &conv, "p-1", &photo2, Some("The oak one, from the back")).await;
    assert!(is_error(&clash, "conflict"), "{clash}");
    assert!(
        quiet(&mut shopper, 300).await.iter().all(|v| v["type"] != "message"),
        "nothing new reached the shopper"
    );

    // Someone else's photo, a photo of another chat, a made-up id: not found, nothing stored.
    let r = send_photo(&mut expert, &conv, "p-2", &shopper_photo, None).await;
    assert!(is_error(&r, "not_found"), "the shopper's photo is not the expert's to send: {r}");
    let r = send_photo(&mut expert, &conv2, "p-3", &photo2, None).await;
    assert!(is_error(&r, "not_found"), "a photo of another chat: {r}");
    let r = send_photo(&mut expert, &conv, "p-4", "0193aaaa-0000-7000-8000-000000000000", None).await;
    assert!(is_error(&r, "not_found"), "{r}");
    let r = send_photo(&mut shopper, &conv, "s-2", &photo2, None).await;
    assert!(is_error(&r, "not_found"), "the expert's photo is not the shopper's to send: {r}");
    let r = send_photo(&mut other, &conv, "o-1", &shopper_photo, None).await;
    assert!(is_error(&r, "not_found"), "another shopper: {r}");
    let r = send_photo(&mut expert, &conv, "p-5", &photo2, Some(&"x".repeat(4001))).await;
    assert!(is_error(&r, "too_large"), "{r}");
    let _ = other_token;

    // The shopper sends theirs without a caption; the expert sees it.
    let ack = send_photo(&mut shopper, &conv, "s-3", &shopper_photo, None).await;
    assert!(is_ack(&ack, "s-3"), "{ack}");
    let m = next(&mut expert, "the shopper's photo", |v| {
        v["type"] == "message" && v["message"]["data"]["attachment_id"] == shopper_photo.as_str()
    })
    .await;
    assert_eq!(
        (m["message"]["body"].as_str(), m["message"]["author"]["role"].as_str()),
        (Some(""), Some("shopper"))
    );

    // Sync (as after a reconnect) carries both photos, in order, with their data.
    shopper.send(json!({"type": "sync", "conversation_id": conv, "after_seq": 0})).await;
    let page = next(&mut shopper, "messages", |v| v["type"] == "messages").await;
    let photos: Vec<&Value> = page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["kind"] == "attachment")
        .collect();
    assert_eq!(photos.len(), 2, "{page}");
    assert_eq!(photos[0]["data"]["attachment_id"], photo.as_str());
    assert_eq!(photos[1]["data"]["attachment_id"], shopper_photo.as_str());
    let stored: Vec<(String, String)> =
        sqlx::query_as("SELECT kind, body FROM messages WHERE conversation_id = $1 AND kind = 'attachment' ORDER BY seq")
            .bind(&conv)
            .fetch_all(&app.db.pool)
            .await
            .unwrap();
    assert_eq!(stored.len(), 2, "two photo messages stored, not three");

    // transcripts.csv: the stable authenticated link plus the caption.
    let res = admin
        .request(reqwest::Method::GET, "/api/v1/exports/transcripts.csv")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let csv = res.text().await.unwrap();
    let line = csv.lines().find(|l| l.contains(&photo)).unwrap_or_else(|| panic!("{csv}"));
    assert!(
        line.contains(&format!("/api/v1/attachments/{photo}/open The oak one, from the back")),
        "{line}"
    );
    assert!(line.contains(",attachment,"), "{line}");
    let link = format!("/api/v1/attachments/{photo}/open");
    let res = admin.request(reqwest::Method::GET, &link).send().await.unwrap();
    assert!(
        res.status().is_success(),
        "the link opens the photo for the merchant: {}",
        res.status()
    );

    // The shopper's transcript download carries the same link and caption.
    let res = reqwest::Client::new()
        .get(format!(
            "{}/api/v1/widget/conversations/{conv}/transcript?merchant={merchant}",
            app.url
        ))
        .bearer_auth(&shopper_token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let text = res.text().await.unwrap();
    assert!(
        text.contains(&format!("/api/v1/attachments/{photo}/open The oak one, from the back")),
        "{text}"
    );
    assert!(text.contains(&format!("/api/v1/attachments/{shopper_photo}/open")), "{text}");

    // Orphans: an upload never sent is deleted after a day ('unsent'); sent ones stay.
    let media = floorwalker::media::Media::start(
        &app.db,
        &floorwalker::config::ServeArgs {
            media: floorwalker::config::MediaArgs {
                media_dir: Some(media_dir),
                ..Default::default()
            },
            ..floorwalker::config::ServeArgs::for_tests(&app.test_db.url)
        },
    )
    .await
    .unwrap();
    let now = floorwalker::now_ms();
    let swept = floorwalker::media::retention::sweep(&app.db, &media, now + 3_600_000)
        .await
        .unwrap();
    assert_eq!(swept.unsent, 0, "within a day nothing goes");
    let swept = floorwalker::media::retention::sweep(&app.db, &media, now + 25 * 3_600_000)
        .await
        .unwrap();
    assert_eq!((swept.unsent, swept.expired), (1, 0), "{swept:?}");
    let rows: Vec<(String, String, Option<String>)> =
        sqlx::query_as("SELECT id, status, removed_reason FROM attachments WHERE conversation_id = $1 ORDER BY id")
            .bind(&conv)
            .fetch_all(&app.db.pool)
            .await
            .unwrap();
    for (id, status, reason) in rows {
        if id == photo2 {
            assert_eq!((status.as_str(), reason.as_deref()), ("removed", Some("unsent")));
        } else {
            assert_eq!(status, "stored", "{id} was sent");
        }
    }
    // A removed photo cannot be sent any more.
    let r = send_photo(&mut expert, &conv, "p-6", &photo2, None).await;
    assert!(is_error(&r, "not_found"), "{r}");
    app.stop().await;
}

// ---------- calls ----------

fn offer(conv: &str, call: &str) -> Value {
    json!({"type": "call_offer", "conversation_id": conv, "call_id": call, "sdp": "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n"})
}

async fn call_frames_reach_only_the_two_participants(b: Backend) {
    // A dropped call ends after this long without a resume (30 s in production).
    std::env::set_var("FLOORWALKER_CALL_DROP_GRACE_MS", "1500");
    let app = TestApp::spawn_demo(b).await;
    let (merchant, store, dep) = demo_target(&app).await;
    let token = expert_token(&app.url, "expert1@demo.example").await;
    let mut expert = expert_socket(&app.url, &token).await;
    let (mut shopper, _, shopper_token) = shopper_ws(&app, &merchant, None).await;
    let conv = start_chat(&mut shopper, &store, &dep, "Can you show me?").await;
    claim(&mut expert, &conv).await;
    // A second shopper (with their own chat) and a colleague must hear nothing.
    let (mut stranger, _, _) = shopper_ws(&app, &merchant, None).await;
    let mut colleague = expert_socket(&app.url, &expert_token(&app.url, "expert2@demo.example").await).await;

    // The shopper cannot start a call; the expert can.
    shopper.send(offer(&conv, "c-1")).await;
    let r = next(&mut shopper, "error", |v| v["type"] == "error").await;
    assert!(is_error(&r, "forbidden"), "{r}");
    expert.send(offer(&conv, "c-1")).await;
    let o = next(&mut shopper, "the offer", |v| v["type"] == "call_offer").await;
    assert_eq!((o["call_id"].as_str(), o["from"].as_str()), (Some("c-1"), Some("expert")));
    assert!(o["sdp"].as_str().unwrap().starts_with("v=0"));

    // Another shopper, and the same shopper on a chat not theirs: not found.
    stranger
        .send(json!({"type": "call_answer", "conversation_id": conv, "call_id": "c-1", "sdp": "v=0"}))
        .await;
    let r = next(&mut stranger, "error", |v| v["type"] == "error").await;
    assert!(is_error(&r, "not_found"), "{r}");
    stranger
        .send(json!({"type": "call_ice", "conversation_id": conv, "call_id": "c-1", "candidate": {"candidate": "x"}}))
        .await;
    let r = next(&mut stranger, "error", |v| v["type"] == "error").await;
    assert!(is_error(&r, "not_found"), "{r}");
    colleague.send(offer(&conv, "c-9")).await;
    let r = next(&mut colleague, "error", |v| v["type"] == "error").await;
    assert!(is_error(&r, "not_found"), "a colleague is not in the call: {r}");
    // Bad frames.
    expert
        .send(json!({"type": "call_offer", "conversation_id": conv, "call_id": "", "sdp": "v=0"}))
        .await;
    assert!(is_error(&next(&mut expert, "error", |v| v["type"] == "error").await, "bad_request"));
    expert
        .send(json!({"type": "call_ice", "conversation_id": conv, "call_id": "c-1", "candidate": "nope"}))
        .await;
    assert!(is_error(&next(&mut expert, "error", |v| v["type"] == "error").await, "bad_request"));
    // One new call per 10 s.
    expert.send(offer(&conv, "c-2")).await;
    assert!(is_error(
        &next(&mut expert, "error", |v| v["type"] == "error").await,
        "rate_limited"
    ));

    // Answer and ICE both ways; the call starts (a system line in the transcript).
    shopper
        .send(json!({"type": "call_answer", "conversation_id": conv, "call_id": "c-1", "sdp": "v=0\r\nanswer"}))
        .await;
    let a = next(&mut expert, "the answer", |v| v["type"] == "call_answer").await;
    assert_eq!((a["sdp"].as_str(), a["from"].as_str()), (Some("v=0\r\nanswer"), Some("shopper")));
    // Relayed first, then recorded: the transcript line follows the answer.
    for ws in [&mut expert, &mut shopper] {
        next(ws, "call_started", |v| {
            v["type"] == "message" && v["message"]["body"] == "call_started"
        })
        .await;
    }
    let cand = json!({"candidate": "candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host", "sdpMid": "0", "sdpMLineIndex": 0});
    shopper
        .send(json!({"type": "call_ice", "conversation_id": conv, "call_id": "c-1", "candidate": cand}))
        .await;
    let i = next(&mut expert, "ice", |v| v["type"] == "call_ice").await;
    assert_eq!(i["candidate"], cand);
    expert
        .send(json!({"type": "call_ice", "conversation_id": conv, "call_id": "c-1", "candidate": cand}))
        .await;
    next(&mut shopper, "ice", |v| v["type"] == "call_ice").await;
    // The chat keeps working during the call.
    shopper
        .send(json!({"type": "send", "conversation_id": conv, "client_msg_id": "mid-call", "body": "I can see it"}))
        .await;
    next(&mut expert, "a message mid-call", |v| {
        v["type"] == "message" && v["message"]["body"] == "I can see it"
    })
    .await;
    let heard: Vec<Value> = [quiet(&mut stranger, 300).await, quiet(&mut colleague, 100).await].concat();
    assert!(
        heard.iter().all(|v| !v["type"].as_str().unwrap_or("").starts_with("call_")),
        "nobody else hears the call: {heard:?}"
    );

    // The shopper hangs up: the expert hears it; the transcript says how long it was.
    tokio::time::sleep(Duration::from_millis(300)).await;
    shopper
        .send(json!({"type": "call_hangup", "conversation_id": conv, "call_id": "c-1", "reason": "ended"}))
        .await;
    let h = next(&mut expert, "hangup", |v| v["type"] == "call_hangup").await;
    assert_eq!((h["from"].as_str(), h["reason"].as_str()), (Some("shopper"), Some("ended")));
    let end = next(&mut expert, "call_ended", |v| {
        v["type"] == "message" && v["message"]["body"] == "call_ended"
    })
    .await;
    let ms = end["message"]["data"]["duration_ms"].as_i64().unwrap();
    assert!(ms >= 300, "{ms}");
    // Hanging up again records nothing more.
    expert
        .send(json!({"type": "call_hangup", "conversation_id": conv, "call_id": "c-1"}))
        .await;
    next(&mut shopper, "hangup", |v| v["type"] == "call_hangup").await;
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM messages WHERE conversation_id = $1 AND body = 'call_ended'")
        .bind(&conv)
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(n, 1);

    // A second call whose shopper drops and never resumes: ended by the hub after the grace.
    tokio::time::sleep(Duration::from_millis(10_100)).await;
    expert.send(offer(&conv, "c-3")).await;
    next(&mut shopper, "the offer", |v| v["type"] == "call_offer" && v["call_id"] == "c-3").await;
    shopper
        .send(json!({"type": "call_answer", "conversation_id": conv, "call_id": "c-3", "sdp": "v=0"}))
        .await;
    next(&mut expert, "the answer", |v| v["type"] == "call_answer").await;
    drop(shopper);
    let h = next(&mut expert, "the hub's hangup", |v| {
        v["type"] == "call_hangup" && v["call_id"] == "c-3"
    })
    .await;
    assert_eq!((h["from"].as_str(), h["reason"].as_str()), (Some("hub"), Some("dropped")));

    // A third call that drops and is resumed in time lives on; ending the chat ends it.
    tokio::time::sleep(Duration::from_millis(10_100)).await;
    let (mut shopper, _, _) = shopper_ws(&app, &merchant, Some(&shopper_token)).await;
    expert.send(offer(&conv, "c-4")).await;
    next(&mut shopper, "the offer", |v| v["type"] == "call_offer" && v["call_id"] == "c-4").await;
    shopper
        .send(json!({"type": "call_answer", "conversation_id": conv, "call_id": "c-4", "sdp": "v=0"}))
        .await;
    next(&mut expert, "the answer", |v| v["type"] == "call_answer" && v["call_id"] == "c-4").await;
    drop(shopper);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (mut shopper, _, _) = shopper_ws(&app, &merchant, Some(&shopper_token)).await;
    shopper
        .send(json!({"type": "call_resume", "conversation_id": conv, "call_id": "c-4"}))
        .await;
    let r = next(&mut expert, "resume", |v| v["type"] == "call_resume").await;
    assert_eq!(r["call_id"], "c-4");
    assert!(
        quiet(&mut expert, 2500).await.iter().all(|v| v["type"] != "call_hangup"),
        "a resumed call is not ended"
    );
    expert.send(json!({"type": "end", "conversation_id": conv})).await;
    let h = next(&mut shopper, "hangup at the chat's end", |v| {
        v["type"] == "call_hangup" && v["call_id"] == "c-4"
    })
    .await;
    assert_eq!(h["reason"], "chat_ended");

    // Recorded: three calls started and ended, with durations, as events for analytics.
    let calls: Vec<(String, Option<i64>, Option<String>)> =
        sqlx::query_as("SELECT call_id, duration_ms, end_reason FROM calls WHERE conversation_id = $1 ORDER BY call_id")
            .bind(&conv)
            .fetch_all(&app.db.pool)
            .await
            .unwrap();
    let reasons: Vec<(&str, &str)> = calls.iter().map(|(c, _, r)| (c.as_str(), r.as_deref().unwrap_or(""))).collect();
    assert_eq!(reasons, vec![("c-1", "ended"), ("c-3", "dropped"), ("c-4", "chat_ended")]);
    assert!(calls.iter().all(|c| c.1.is_some()), "{calls:?}");
    let admin = app.login("admin@demo.example", DEMO_PASSWORD).await;
    let now = floorwalker::now_ms();
    let mut figures = Value::Null;
    for _ in 0..100 {
        let (_, v) = admin
            .get(&format!("/api/v1/analytics?from={}&to={}", now - 3_600_000, now + 3_600_000))
            .await;
        figures = v;
        if figures["totals"]["video_calls"] == 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(figures["totals"]["video_calls"], 3, "{figures}");
    assert!(figures["totals"]["minutes_on_video"].as_f64().is_some(), "{figures}");
    let res = admin
        .request(
            reqwest::Method::GET,
            &format!(
                "/api/v1/exports/metrics.csv?from={}&to={}&by=expert",
                now - 3_600_000,
                now + 3_600_000
            ),
        )
        .send()
        .await
        .unwrap();
    let csv = res.text().await.unwrap();
    let mut r = csv::Reader::from_reader(csv.as_bytes());
    let header = r.headers().unwrap().clone();
    let i = header.iter().position(|h| h == "video_calls").expect("a video_calls column");
    assert!(header.iter().any(|h| h == "minutes_on_video"));
    let total: i64 = r.records().map(|row| row.unwrap()[i].parse::<i64>().unwrap_or(0)).sum();
    assert_eq!(total, 3, "{csv}");
    app.stop().await;
}

// ---------- two nodes ----------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn call_frames_cross_nodes_over_redis() {
    let (a, b) = TestApp::demo_cluster(&redis_url(), |_| {}).await;
    let (merchant, store, dep) = demo_target(&a).await;
    let token = expert_token(&a.url, "expert1@demo.example").await;
    let mut expert = expert_socket(&a.url, &token).await;
    // The shopper is on node B; wait until B sees the expert.
    let mut shopper = None;
    for _ in 0..50 {
        let (mut s, _, _) = shopper_at(&b.url, &merchant, None).await;
        s.send(json!({"type": "request_chat", "store_id": store, "department_id": dep, "text": "Hi", "client_msg_id": "first"}))
            .await;
        let v = next(&mut s, "an answer", |v| {
            matches!(v["type"].as_str(), Some("conversation" | "unavailable"))
        })
        .await;
        if v["type"] == "conversation" {
            shopper = Some((s, v["conversation"]["id"].as_str().unwrap().to_owned()));
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (mut shopper, conv) = shopper.expect("a chat on node B");
    claim(&mut expert, &conv).await;
    expert.send(offer(&conv, "x-1")).await;
    let o = next(&mut shopper, "the offer across nodes", |v| v["type"] == "call_offer").await;
    assert_eq!(o["call_id"], "x-1");
    shopper
        .send(json!({"type": "call_answer", "conversation_id": conv, "call_id": "x-1", "sdp": "v=0"}))
        .await;
    next(&mut expert, "the answer across nodes", |v| v["type"] == "call_answer").await;
    shopper
        .send(json!({"type": "call_hangup", "conversation_id": conv, "call_id": "x-1", "reason": "ended"}))
        .await;
    next(&mut expert, "the hangup across nodes", |v| v["type"] == "call_hangup").await;
    next(&mut expert, "call_ended", |v| {
        v["type"] == "message" && v["message"]["body"] == "call_ended"
    })
    .await;
    b.stop().await;
    a.stop().await;
}
