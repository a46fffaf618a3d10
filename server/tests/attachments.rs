//! Photos in the chat, from outside: real uploads over HTTP into real chats (WebSocket
//! clients), files on a real disk folder (SQLite runs) or in a real S3-compatible server
//! (PostgreSQL runs: `python3 -m moto.server`, started here), read back through the signed URLs
//! a stranger's browser would use.

mod common;

use std::io::Cursor;
use std::sync::OnceLock;

use common::{claim, demo_target, shopper_ws, start_chat, Backend, Client, TestApp, Ws, DEMO_PASSWORD};
use floorwalker::config::{MediaArgs, Secret, ServeArgs};
use floorwalker::media::signing::{Audience, UrlSigner, Variant};
use floorwalker::media::store::{FileStore, ObjectStoreConfig};
use floorwalker::media::Media;
use reqwest::header::HeaderMap;
use reqwest::StatusCode;
use serde_json::{json, Value};

on_both_backends!(
    an_expert_photo_is_cleaned_stored_and_served,
    wrong_files_are_refused_and_nothing_is_stored,
    photos_are_only_for_the_chat_and_the_merchant,
    retention_deletes_the_files_for_real,
);

// ---------- an S3-compatible server for the tests ----------

/// One `moto` server for this test binary, killed with it (PR_SET_PDEATHSIG on a thread that
/// lives as long as the process). Each test uses a bucket of its own.
fn moto_port() -> u16 {
    static PORT: OnceLock<u16> = OnceLock::new();
    *PORT.get_or_init(|| {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            use std::os::unix::process::CommandExt;
            let mut cmd = std::process::Command::new("python3");
            cmd.args(["-m", "moto.server", "-H", "127.0.0.1", "-p", &port.to_string()])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null());
            // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec.
            unsafe {
                cmd.pre_exec(|| {
                    libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                    Ok(())
                });
            }
            let mut child = cmd.spawn().expect("python3 -m moto.server (pip install 'moto[server]')");
            tx.send(child.id()).unwrap();
            // Waits for as long as the process lives (and reaps moto if it ever stops).
            let _ = child.wait();
        });
        rx.recv().unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(std::time::Instant::now() < deadline, "moto did not start within 60 s");
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        port
    })
}

/// The photo settings of a run: a folder for SQLite runs, a fresh bucket for PostgreSQL runs.
async fn media_args(b: Backend) -> (MediaArgs, Option<tempfile::TempDir>) {
    match b {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().unwrap();
            let args = MediaArgs {
                media_dir: Some(dir.path().to_owned()),
                ..MediaArgs::default()
            };
            (args, Some(dir))
        }
        Backend::Postgres => {
            let port = tokio::task::spawn_blocking(moto_port).await.unwrap();
            let bucket = format!("fw-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
            let r = reqwest::Client::new()
                .put(format!("http://127.0.0.1:{port}/{bucket}"))
                .send()
                .await
                .unwrap();
            assert!(r.status().is_success(), "create bucket: {}", r.status());
            let args = MediaArgs {
                object_store_url: Some(format!("s3://{bucket}/photos")),
                s3_endpoint: Some(format!("http://127.0.0.1:{port}")),
                s3_region: Some("us-east-1".into()),
                s3_access_key_id: Some("test".into()),
                s3_secret_access_key: Some(Secret::new("test")),
                ..MediaArgs::default()
            };
            (args, None)
        }
    }
}

struct Setup {
    app: TestApp,
    files: FileStore,
    args: MediaArgs,
    _dir: Option<tempfile::TempDir>,
}

async fn setup(b: Backend) -> Setup {
    let (args, dir) = media_args(b).await;
    let a = args.clone();
    let app = TestApp::spawn_with(b, move |s: &mut ServeArgs| {
        s.demo = true;
        s.demo_password = Some(Secret::new(DEMO_PASSWORD));
        s.media = a;
    })
    .await;
    let files = match &args.object_store_url {
        Some(url) => FileStore::object(&ObjectStoreConfig {
            url: url.clone(),
            endpoint: args.s3_endpoint.clone(),
            region: args.s3_region.clone(),
            access_key_id: args.s3_access_key_id.clone(),
            secret_access_key: args.s3_secret_access_key.clone(),
        })
        .unwrap(),
        None => FileStore::disk(args.media_dir.clone().unwrap()),
    };
    Setup {
        app,
        files,
        args,
        _dir: dir,
    }
}

// ---------- images ----------

fn jpeg(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| image::Rgb([(x * 7 % 256) as u8, (y * 5 % 256) as u8, 120]));
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90)
        .encode_image(&img)
        .unwrap();
    out
}

/// A JPEG carrying EXIF with a GPS position, a camera make and orientation 6 (turn 90° right).
fn jpeg_with_gps(w: u32, h: u32) -> Vec<u8> {
    use exif::{Field, In, Rational, Tag, Value};
    let r = |n: u32| Rational { num: n, denom: 1 };
    let fields = [
        Field {
            tag: Tag::Make,
            ifd_num: In::PRIMARY,
            value: Value::Ascii(vec![b"SpyCam-4000".to_vec()]),
        },
        Field {
            tag: Tag::Orientation,
            ifd_num: In::PRIMARY,
            value: Value::Short(vec![6]),
        },
        Field {
            tag: Tag::GPSLatitudeRef,
            ifd_num: In::PRIMARY,
            value: Value::Ascii(vec![b"N".to_vec()]),
        },
        Field {
            tag: Tag::GPSLatitude,
            ifd_num: In::PRIMARY,
            value: Value::Rational(vec![r(59), r(19), r(46)]),
        },
        Field {
            tag: Tag::GPSLongitudeRef,
            ifd_num: In::PRIMARY,
            value: Value::Ascii(vec![b"E".to_vec()]),
        },
        Field {
            tag: Tag::GPSLongitude,
            ifd_num: In::PRIMARY,
            value: Value::Rational(vec![r(18), r(4), r(7)]),
        },
    ];
    let mut w_ = exif::experimental::Writer::new();
    for f in &fields {
        w_.push_field(f);
    }
    let mut tiff = Cursor::new(Vec::new());
    w_.write(&mut tiff, false).unwrap();
    let tiff = tiff.into_inner();
    let plain = jpeg(w, h);
    let mut out = plain[..2].to_vec();
    out.extend([0xFF, 0xE1]);
    out.extend(((2 + 6 + tiff.len()) as u16).to_be_bytes());
    out.extend(b"Exif\0\0");
    out.extend(&tiff);
    out.extend(&plain[2..]);
    out
}

fn png_gray(w: u32, h: u32) -> Vec<u8> {
    let img = image::GrayImage::new(w, h);
    let mut out = Vec::new();
    image::codecs::png::PngEncoder::new(&mut out)
        .write_image(img.as_raw(), w, h, image::ExtendedColorType::L8)
        .unwrap();
    out
}

use image::ImageEncoder as _;

// ---------- HTTP helpers ----------

async fn upload(base: &str, path: &str, bearer: &str, key: Option<&str>, body: Vec<u8>) -> (StatusCode, Value, HeaderMap) {
    let mut rb = reqwest::Client::new()
        .post(format!("{base}{path}"))
        .bearer_auth(bearer)
        .header("content-type", "image/jpeg")
        .body(body);
    if let Some(k) = key {
        rb = rb.header("idempotency-key", k);
    }
    let res = rb.send().await.unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let text = res.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)), headers)
}

async fn fetch(base: &str, path: &str) -> (StatusCode, HeaderMap, Vec<u8>) {
    let res = reqwest::get(format!("{base}{path}")).await.unwrap();
    (res.status(), res.headers().clone(), res.bytes().await.unwrap().to_vec())
}

async fn expert_token(app: &TestApp, email: &str) -> String {
    let (s, b) = app
        .client()
        .post("/api/v1/app/login", json!({"email": email, "password": DEMO_PASSWORD}))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    b["token"].as_str().unwrap().to_owned()
}

async fn expert_socket(app: &TestApp, token: &str) -> Ws {
    let mut ws = Ws::expert(app).await;
    ws.send(json!({"type": "hello", "token": token})).await;
    ws.recv().await;
    ws
}

/// A claimed chat: (merchant, conversation, shopper token, expert token, shopper socket, expert socket).
async fn claimed_chat(app: &TestApp) -> (String, String, String, String, Ws, Ws) {
    let (merchant, store, dep) = demo_target(app).await;
    let token = expert_token(app, "expert1@demo.example").await;
    let mut expert = expert_socket(app, &token).await;
    let (mut shopper, _, shopper_token) = shopper_ws(app, &merchant, None).await;
    let conv = start_chat(&mut shopper, &store, &dep, "Does this fit?").await;
    claim(&mut expert, &conv).await;
    (merchant, conv, shopper_token, token, shopper, expert)
}

async fn count_rows(app: &TestApp, sql: &str) -> i64 {
    let (n,): (i64,) = sqlx::query_as(sql).fetch_one(&app.db.pool).await.unwrap();
    n
}

// ---------- the tests ----------

async fn an_expert_photo_is_cleaned_stored_and_served(b: Backend) {
    let s = setup(b).await;
    let app = &s.app;
    let (_merchant, conv, _st, token, _shopper, _expert) = claimed_chat(app).await;
    let original = jpeg_with_gps(64, 32);
    let before = exif::Reader::new().read_from_container(&mut Cursor::new(&original)).unwrap();
    assert!(
        before.get_field(exif::Tag::GPSLatitude, exif::In::PRIMARY).is_some(),
        "the test photo has a GPS position"
    );

    let path = format!("/api/v1/app/conversations/{conv}/attachments");
    let (status, a, _) = upload(&app.url, &path, &token, Some("photo-1"), original.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{a}");
    assert_eq!(a["status"], "stored");
    assert_eq!(a["uploaded_by"], "expert");
    assert_eq!(a["mime"], "image/jpeg");
    assert_eq!(
        (a["width"].as_i64(), a["height"].as_i64()),
        (Some(32), Some(64)),
        "turned upright by its EXIF orientation"
    );
    let id = a["id"].as_str().unwrap().to_owned();

    for variant in ["full", "thumb"] {
        let url = a["urls"][variant].as_str().unwrap();
        let (st, h, bytes) = fetch(&app.url, url).await;
        assert_eq!(st, StatusCode::OK, "{variant}");
        assert_eq!(h["content-type"], "image/jpeg");
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert!(
            h["cache-control"].to_str().unwrap().starts_with("private"),
            "{:?}",
            h["cache-control"]
        );
        assert!(h["content-disposition"].to_str().unwrap().starts_with("inline"));
        assert!(
            exif::Reader::new().read_from_container(&mut Cursor::new(&bytes)).is_err(),
            "no EXIF survives in the {variant} copy"
        );
        assert!(
            !bytes.windows(11).any(|w| w == b"SpyCam-4000"),
            "no camera name in the {variant} copy"
        );
        let img = image::load_from_memory(&bytes).unwrap();
        assert_eq!((img.width(), img.height()), (32, 64));
    }
    // The files are where the configuration says: the folder, or the bucket.
    let merchant = a["id"].as_str().map(|_| ()).and(Some(())).map(|_| ());
    let _ = merchant;
    let row: (String,) = sqlx::query_as("SELECT merchant_id FROM attachments WHERE id = $1")
        .bind(&id)
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    for v in ["full", "thumb"] {
        let key = format!("{}/{id}.{v}.jpg", row.0);
        assert!(s.files.exists(&key).await.unwrap(), "{key} is stored in {:?}", s.files);
        if let Some(dir) = &s.args.media_dir {
            assert!(dir.join(&key).is_file(), "on disk at {key}");
        }
    }

    // A retry with the same upload id and bytes answers the same attachment and stores nothing new.
    let (status, again, _) = upload(&app.url, &path, &token, Some("photo-1"), original.clone()).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again["id"], a["id"]);
    assert_eq!(count_rows(app, "SELECT COUNT(*) FROM attachments").await, 1);
    // The same id with other bytes is a conflict, and changes nothing.
    let (status, p, h) = upload(&app.url, &path, &token, Some("photo-1"), jpeg(10, 10)).await;
    assert_eq!(status, StatusCode::CONFLICT, "{p}");
    assert_eq!(h["content-type"], "application/problem+json");
    assert_eq!(count_rows(app, "SELECT COUNT(*) FROM attachments").await, 1);
    // Concurrent retries of one new upload store it once.
    let big = jpeg(900, 700);
    let tries = (0..4).map(|_| upload(&app.url, &path, &token, Some("photo-2"), big.clone()));
    let answers = futures::future::join_all(tries).await;
    let ids: std::collections::BTreeSet<_> = answers
        .iter()
        .filter(|(s, _, _)| s.is_success())
        .map(|(_, v, _)| v["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 1, "{answers:?}");
    for (s, v, _) in &answers {
        assert!(s.is_success() || *s == StatusCode::CONFLICT, "{s} {v}");
    }
    assert_eq!(
        count_rows(app, "SELECT COUNT(*) FROM attachments WHERE client_upload_id = 'photo-2'").await,
        1
    );
    // The expert's fresh URLs.
    let (st, view) = app.client().with_bearer(&token).get(&format!("/api/v1/app/attachments/{id}")).await;
    assert_eq!(st, StatusCode::OK, "{view}");
    assert!(view["urls"]["thumb"].as_str().unwrap().contains("aud=e."));
    app_stop(s).await;
}

async fn app_stop(s: Setup) {
    s.app.stop().await;
}

async fn wrong_files_are_refused_and_nothing_is_stored(b: Backend) {
    let s = setup(b).await;
    let app = &s.app;
    let (_m, conv, _st, token, _sh, _ex) = claimed_chat(app).await;
    let path = format!("/api/v1/app/conversations/{conv}/attachments");
    let mut polyglot = jpeg(40, 40);
    polyglot.extend(b"<html><script>alert(document.cookie)</script></html>");
    let mut cut = jpeg(200, 200);
    cut.truncate(300);
    let cases: Vec<(&str, Vec<u8>, StatusCode, &str)> = vec![
        (
            "pdf",
            b"%PDF-1.7\n1 0 obj <<>> endobj\n".to_vec(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "PDF",
        ),
        (
            "html",
            b"<!doctype html><script>alert(1)</script>".to_vec(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "HTML",
        ),
        (
            "gif",
            b"GIF89a\x01\0\x01\0\0\0\0;".to_vec(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "GIF",
        ),
        (
            "heic",
            b"\0\0\0\x18ftypheic\0\0\0\0mif1heic".to_vec(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "HEIC",
        ),
        (
            "text",
            b"just some words".to_vec(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "not an image",
        ),
        ("cut", cut, StatusCode::UNPROCESSABLE_ENTITY, "cannot be read"),
        // 8000 × 7000 black pixels: 56 megapixels in a few kilobytes of PNG (a decompression bomb).
        ("bomb", png_gray(8000, 7000), StatusCode::UNPROCESSABLE_ENTITY, "8000×7000"),
        ("huge", vec![0xFF; 10 * 1024 * 1024 + 1], StatusCode::PAYLOAD_TOO_LARGE, ""),
        ("empty", Vec::new(), StatusCode::UNPROCESSABLE_ENTITY, ""),
    ];
    for (key, body, want, says) in cases {
        let (status, p, h) = upload(&app.url, &path, &token, Some(key), body).await;
        assert_eq!(status, want, "{key}: {p}");
        assert_eq!(h["content-type"], "application/problem+json", "{key}");
        let detail = p["detail"].as_str().unwrap_or("");
        assert!(detail.contains(says), "{key}: {detail:?} should mention {says:?}");
    }
    let (status, p, _) = upload(&app.url, &path, &token, None, jpeg(8, 8)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "no Idempotency-Key: {p}");
    assert_eq!(p["errors"][0]["field"], "Idempotency-Key");
    assert_eq!(
        count_rows(app, "SELECT COUNT(*) FROM attachments").await,
        0,
        "nothing refused is stored"
    );

    // A polyglot (a real JPEG with HTML after its end) is a photo: only its pixels are kept.
    let (status, a, _) = upload(&app.url, &path, &token, Some("poly"), polyglot).await;
    assert_eq!(status, StatusCode::CREATED, "{a}");
    let (_, h, bytes) = fetch(&app.url, a["urls"]["full"].as_str().unwrap()).await;
    assert_eq!(h["content-type"], "image/jpeg");
    assert!(!bytes.windows(7).any(|w| w == b"<script"), "the HTML tail is gone");
    // A PNG with transparency stays a PNG; an opaque WebP becomes a JPEG.
    let rgba = image::RgbaImage::from_fn(30, 20, |x, _| image::Rgba([200, 10, 10, if x < 15 { 0 } else { 255 }]));
    let mut png = Vec::new();
    image::codecs::png::PngEncoder::new(&mut png)
        .write_image(rgba.as_raw(), 30, 20, image::ExtendedColorType::Rgba8)
        .unwrap();
    let (status, a, _) = upload(&app.url, &path, &token, Some("png"), png).await;
    assert_eq!((status, a["mime"].as_str()), (StatusCode::CREATED, Some("image/png")), "{a}");
    let (_, h, _) = fetch(&app.url, a["urls"]["thumb"].as_str().unwrap()).await;
    assert_eq!(h["content-type"], "image/png");
    let mut webp = Vec::new();
    image::codecs::webp::WebPEncoder::new_lossless(&mut webp)
        .write_image(image::RgbImage::new(16, 16).as_raw(), 16, 16, image::ExtendedColorType::Rgb8)
        .unwrap();
    let (status, a, _) = upload(&app.url, &path, &token, Some("webp"), webp).await;
    assert_eq!((status, a["mime"].as_str()), (StatusCode::CREATED, Some("image/jpeg")), "{a}");
    app_stop(s).await;
}

async fn photos_are_only_for_the_chat_and_the_merchant(b: Backend) {
    let s = setup(b).await;
    let app = &s.app;
    let (merchant, conv, shopper_token, token, _sh, _ex) = claimed_chat(app).await;
    let admin = app.login("admin@demo.example", DEMO_PASSWORD).await;
    let exp_path = format!("/api/v1/app/conversations/{conv}/attachments");
    let shop_path = format!("/api/v1/widget/conversations/{conv}/attachments?merchant={merchant}");

    // Shoppers may send photos only once the merchant allows it.
    let (st, p, _) = upload(&app.url, &shop_path, &shopper_token, Some("s1"), jpeg(20, 20)).await;
    assert_eq!(st, StatusCode::FORBIDDEN, "{p}");
    let (st, set) = admin
        .call(
            reqwest::Method::PUT,
            "/api/v1/settings/attachments",
            Some(json!({"shopper_uploads": true, "retention_days": 30})),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{set}");
    let (st, p) = admin
        .call(
            reqwest::Method::PUT,
            "/api/v1/settings/attachments",
            Some(json!({"shopper_uploads": true, "retention_days": 0})),
        )
        .await;
    assert_eq!(
        (st, p["errors"][0]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("retention_days"))
    );
    let (st, shopper_photo, _) = upload(&app.url, &shop_path, &shopper_token, Some("s1"), jpeg(20, 20)).await;
    assert_eq!(st, StatusCode::CREATED, "{shopper_photo}");
    let (_, expert_photo, _) = upload(&app.url, &exp_path, &token, Some("e1"), jpeg(20, 20)).await;
    let id = expert_photo["id"].as_str().unwrap().to_owned();
    let (st, cfg) = reqwest::Client::new()
        .get(format!("{}/api/v1/widget/media-config?merchant={merchant}", app.url))
        .bearer_auth(&shopper_token)
        .send()
        .await
        .map(|r| (r.status(), r))
        .unwrap();
    assert_eq!(st, StatusCode::OK);
    let cfg: Value = cfg.json().await.unwrap();
    assert_eq!((cfg["photos"].as_bool(), cfg["retention_days"].as_i64()), (Some(true), Some(30)));

    // The chat's shopper sees the expert's photo.
    let shopper_get = |tok: &str, id: &str, m: &str| {
        let url = format!("{}/api/v1/widget/attachments/{id}?merchant={m}", app.url);
        let tok = tok.to_owned();
        async move {
            let r = reqwest::Client::new().get(url).bearer_auth(tok).send().await.unwrap();
            let st = r.status();
            (st, r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let (st, seen) = shopper_get(&shopper_token, &id, &merchant).await;
    assert_eq!(st, StatusCode::OK, "{seen}");
    let shopper_url = seen["urls"]["full"].as_str().unwrap().to_owned();
    assert_eq!(fetch(&app.url, &shopper_url).await.0, StatusCode::OK);

    // Another shopper of the same shop: 404 for the photo, 404 for uploading into the chat.
    let (_other_ws, _, other_token) = shopper_ws(app, &merchant, None).await;
    assert_eq!(shopper_get(&other_token, &id, &merchant).await.0, StatusCode::NOT_FOUND);
    let (st, _, _) = upload(&app.url, &shop_path, &other_token, Some("x"), jpeg(8, 8)).await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    // No token, a forged one, or a real token presented for another merchant: 401.
    assert_eq!(shopper_get("", &id, &merchant).await.0, StatusCode::UNAUTHORIZED);
    let forged = format!("{}.AAAA", shopper_token.split('.').next().unwrap());
    assert_eq!(shopper_get(&forged, &id, &merchant).await.0, StatusCode::UNAUTHORIZED);
    let op = app.operator().await;
    let (beta, beta_admin) = app.merchant(&op, "Beta").await;
    assert_eq!(shopper_get(&shopper_token, &id, &beta).await.0, StatusCode::UNAUTHORIZED);
    // A shopper of another merchant, with their own valid token: 404.
    let (_bws, _, beta_token) = shopper_ws(app, &beta, None).await;
    assert_eq!(shopper_get(&beta_token, &id, &beta).await.0, StatusCode::NOT_FOUND);

    // Another expert of the same shop who does not hold the chat: 404 both ways.
    let other_expert = expert_token(app, "expert2@demo.example").await;
    let c = app.client().with_bearer(&other_expert);
    assert_eq!(c.get(&format!("/api/v1/app/attachments/{id}")).await.0, StatusCode::NOT_FOUND);
    let (st, _, _) = upload(&app.url, &exp_path, &other_expert, Some("x"), jpeg(8, 8)).await;
    assert_eq!(st, StatusCode::NOT_FOUND);

    // Dashboard: the merchant's account with Exports sees it; another merchant's admin gets 404.
    let (st, v) = admin.get(&format!("/api/v1/attachments/{id}")).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert!(v["urls"]["full"].as_str().unwrap().contains("aud=a."));
    let open = admin
        .request(reqwest::Method::GET, &format!("/api/v1/attachments/{id}/open?variant=thumb"))
        .send()
        .await
        .unwrap();
    assert_eq!(open.status(), StatusCode::OK, "the redirect leads to the thumbnail");
    assert_eq!(open.headers()["content-type"], "image/jpeg");
    assert_eq!(beta_admin.get(&format!("/api/v1/attachments/{id}")).await.0, StatusCode::NOT_FOUND);

    // Signed URLs: any change to them, or an expired one, is 404.
    let tamper = |from: &str, to: &str| shopper_url.replace(from, to);
    let sig_at = shopper_url.find("sig=").unwrap() + 4;
    let mut forged_sig = shopper_url.clone();
    forged_sig.replace_range(sig_at..sig_at + 4, "AAAA");
    let other_aud = shopper_url.replace(
        &format!("aud=s.{}", shopper_token.split('.').next().unwrap()),
        &format!("aud=s.{}", other_token.split('.').next().unwrap()),
    );
    assert_ne!(other_aud, shopper_url);
    for bad in [tamper("/full?", "/thumb?"), forged_sig, other_aud, tamper("exp=", "exp=9")] {
        assert_eq!(fetch(&app.url, &bad).await.0, StatusCode::NOT_FOUND, "{bad}");
    }
    let key = app.db.server_key("attachment_url_hmac").await.unwrap();
    let signer = UrlSigner::new(key.into_bytes());
    let shopper_id = shopper_token.split('.').next().unwrap().to_owned();
    let expired = signer.url(
        &id,
        Variant::Full,
        floorwalker::now_ms() / 1000 - 1,
        &Audience::Shopper(shopper_id.clone()),
    );
    assert_eq!(fetch(&app.url, &expired).await.0, StatusCode::NOT_FOUND, "expired");
    let fresh = signer.url(
        &id,
        Variant::Full,
        floorwalker::now_ms() / 1000 + 60,
        &Audience::Shopper(shopper_id),
    );
    assert_eq!(
        fetch(&app.url, &fresh).await.0,
        StatusCode::OK,
        "the same construction, unexpired, works"
    );
    // A URL made for another merchant's shopper does not open this merchant's photo.
    let beta_shopper = beta_token.split('.').next().unwrap().to_owned();
    let cross = signer.url(
        &id,
        Variant::Full,
        floorwalker::now_ms() / 1000 + 60,
        &Audience::Shopper(beta_shopper),
    );
    assert_eq!(fetch(&app.url, &cross).await.0, StatusCode::NOT_FOUND);

    // Deactivating the expert ends their URLs at once.
    let (_, ev) = app.client().with_bearer(&token).get(&format!("/api/v1/app/attachments/{id}")).await;
    let expert_url = ev["urls"]["full"].as_str().unwrap().to_owned();
    assert_eq!(fetch(&app.url, &expert_url).await.0, StatusCode::OK);
    let expert_id = sqlx::query_as::<_, (String,)>("SELECT id FROM experts WHERE email = 'expert1@demo.example'")
        .fetch_one(&app.db.pool)
        .await
        .unwrap()
        .0;
    let (st, _) = admin.post(&format!("/api/v1/team/experts/{expert_id}/deactivate"), json!({})).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(fetch(&app.url, &expert_url).await.0, StatusCode::NOT_FOUND);

    // CORS: the shop's own origin may call the widget API; a stranger's may not.
    let preflight = |origin: &str| {
        let url = format!("{}{}", app.url, shop_path);
        let origin = origin.to_owned();
        async move {
            reqwest::Client::new()
                .request(reqwest::Method::OPTIONS, url)
                .header("origin", origin)
                .header("access-control-request-method", "POST")
                .header("access-control-request-headers", "authorization, idempotency-key")
                .send()
                .await
                .unwrap()
        }
    };
    let ok = preflight(&app.url).await;
    assert_eq!(ok.status(), StatusCode::NO_CONTENT);
    assert_eq!(ok.headers()["access-control-allow-origin"], app.url.as_str());
    let bad = preflight("https://evil.example").await;
    assert_eq!(bad.status(), StatusCode::FORBIDDEN);
    assert!(bad.headers().get("access-control-allow-origin").is_none());
    let (st, _) = {
        let r = reqwest::Client::new()
            .get(format!("{}/api/v1/widget/attachments/{id}?merchant={merchant}", app.url))
            .bearer_auth(&shopper_token)
            .header("origin", "https://evil.example")
            .send()
            .await
            .unwrap();
        (r.status(), ())
    };
    assert_eq!(st, StatusCode::FORBIDDEN, "a page on another site cannot use the shopper's token");
    let _ = shopper_photo;
    app_stop(s).await;
}

async fn retention_deletes_the_files_for_real(b: Backend) {
    let s = setup(b).await;
    let app = &s.app;
    let (_m, conv, _st, token, _sh, mut ex) = claimed_chat(app).await;
    let admin = app.login("admin@demo.example", DEMO_PASSWORD).await;
    let (st, _) = admin
        .call(
            reqwest::Method::PUT,
            "/api/v1/settings/attachments",
            Some(json!({"shopper_uploads": false, "retention_days": 7})),
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    let path = format!("/api/v1/app/conversations/{conv}/attachments");
    let (_, a, _) = upload(&app.url, &path, &token, Some("keep-7"), jpeg(50, 40)).await;
    let id = a["id"].as_str().unwrap().to_owned();
    // Sent in the chat (a photo never sent is deleted after a day: tests/media_chat.rs).
    ex.send(json!({"type": "send", "conversation_id": conv, "client_msg_id": "keep-7", "kind": "attachment", "attachment_id": id}))
        .await;
    ex.until("ack", |o| matches!(o, floorwalker::protocol::Out::Ack { .. })).await;
    let url = a["urls"]["full"].as_str().unwrap().to_owned();
    let merchant: String = sqlx::query_as::<_, (String,)>("SELECT merchant_id FROM attachments WHERE id = $1")
        .bind(&id)
        .fetch_one(&app.db.pool)
        .await
        .unwrap()
        .0;
    let keys = [format!("{merchant}/{id}.full.jpg"), format!("{merchant}/{id}.thumb.jpg")];
    // An upload abandoned half-way (a pending row and one file) from an hour ago.
    let stale_id = uuid::Uuid::now_v7().to_string();
    sqlx::query(
        "INSERT INTO attachments (id, merchant_id, conversation_id, uploader_role, uploader_id, client_upload_id, content_sha256, \
         status, mime, width, height, bytes, thumb_width, thumb_height, thumb_bytes, original_mime, original_bytes, created_at) \
         SELECT $1, merchant_id, conversation_id, 'expert', uploader_id, 'stale', 'x', 'pending', 'image/jpeg', 1, 1, 1, 1, 1, 1, \
         'image/jpeg', 1, $2 FROM attachments WHERE id = $3",
    )
    .bind(&stale_id)
    .bind(floorwalker::now_ms() - 3_600_000)
    .bind(&id)
    .execute(&app.db.pool)
    .await
    .unwrap();
    let stale_key = format!("{merchant}/{stale_id}.full.jpg");
    s.files.put(&stale_key, bytes::Bytes::from_static(b"half")).await.unwrap();

    let media = Media::start(
        &app.db,
        &ServeArgs {
            media: s.args.clone(),
            ..ServeArgs::for_tests(&app.test_db.url)
        },
    )
    .await
    .unwrap();
    let now = floorwalker::now_ms();
    // Six days on, the photo stays.
    let swept = floorwalker::media::retention::sweep(&app.db, &media, now + 6 * 86_400_000)
        .await
        .unwrap();
    assert_eq!((swept.expired, swept.abandoned), (0, 1));
    assert!(!s.files.exists(&stale_key).await.unwrap(), "the abandoned upload's file is gone");
    for k in &keys {
        assert!(s.files.exists(k).await.unwrap());
    }
    // Seven days on, the files go, on disk or in the bucket, and the chat can say so.
    let swept = floorwalker::media::retention::sweep(&app.db, &media, now + 7 * 86_400_000 + 1000)
        .await
        .unwrap();
    assert_eq!(swept.expired, 1, "{swept:?}");
    for k in &keys {
        assert!(!s.files.exists(k).await.unwrap(), "{k} deleted");
        if let Some(dir) = &s.args.media_dir {
            assert!(!dir.join(k).exists());
        }
    }
    let (st, v) = app.client().with_bearer(&token).get(&format!("/api/v1/app/attachments/{id}")).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(v["status"], "removed");
    assert_eq!(v["removed_after_days"], 7);
    assert!(v["urls"].is_null());
    assert_eq!(fetch(&app.url, &url).await.0, StatusCode::NOT_FOUND, "old URLs stop working");
    // Running again finds nothing more; the retry of the upload id answers the removed photo.
    let swept = floorwalker::media::retention::sweep(&app.db, &media, now + 8 * 86_400_000)
        .await
        .unwrap();
    assert_eq!(swept, Default::default());
    let (st, again, _) = upload(&app.url, &path, &token, Some("keep-7"), jpeg(50, 40)).await;
    assert_eq!((st, again["status"].as_str()), (StatusCode::OK, Some("removed")));
    // Counted: the analytics figures (rolled by the hub within a few seconds) and the metric.
    let (from, to) = (now - 86_400_000, now + 9 * 86_400_000);
    let mut figures = Value::Null;
    for _ in 0..100 {
        let (_, v) = admin.get(&format!("/api/v1/analytics?from={from}&to={to}")).await;
        figures = v;
        if figures.to_string().contains("\"photos_removed\":1") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(figures.to_string().contains("\"photos_removed\":1"), "{figures}");
    assert!(figures.to_string().contains("\"photos\":1"), "{figures}");
    let metrics = reqwest::get(format!("{}/metrics", app.url)).await.unwrap().text().await.unwrap();
    assert!(metrics.contains("floorwalker_attachments_deleted_total"), "the metric is exported");
    let _: Option<Client> = None;
    app_stop(s).await;
}
