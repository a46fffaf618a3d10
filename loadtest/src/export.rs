//! Export at scale: seed a large transcript straight into the database (through the server's
//! own storage layer and schema), then download `transcripts.csv` with a merchant API key while
//! sampling the server's resident memory. Memory must stay flat however many rows stream.

use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use futures::StreamExt;
use serde_json::{json, Value};

#[derive(clap::Args, Debug)]
pub struct ExportArgs {
    /// The server (started with --demo).
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// The server's database, to seed (e.g. sqlite://./data/floorwalker.db or postgres://…).
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: String,
    /// Messages the transcript should hold (seeded once; later runs reuse them).
    #[arg(long, default_value_t = 1_000_000)]
    pub messages: i64,
    /// Messages per seeded conversation.
    #[arg(long, default_value_t = 100)]
    pub per_conversation: i64,
    /// The server's process id, to sample its memory (VmRSS).
    #[arg(long)]
    pub server_pid: Option<String>,
    #[arg(long, env = "FLOORWALKER_DEMO_PASSWORD")]
    pub password: String,
    #[arg(long)]
    pub json: bool,
}

async fn admin_session(http: &reqwest::Client, base: &str, password: &str) -> anyhow::Result<(String, String)> {
    let res = http
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"email": "admin@demo.example", "password": password}))
        .send()
        .await?;
    if !res.status().is_success() {
        bail!("admin@demo.example could not sign in ({})", res.status());
    }
    let s: Value = res.json().await?;
    Ok((
        s["account"]["merchant_id"].as_str().context("merchant")?.to_owned(),
        s["csrf_token"].as_str().context("csrf")?.to_owned(),
    ))
}

pub async fn run(a: ExportArgs) -> anyhow::Result<()> {
    let base = a.url.trim_end_matches('/').to_owned();
    let http = reqwest::Client::builder().cookie_store(true).build()?;
    let (merchant, csrf) = admin_session(&http, &base, &a.password).await?;
    let stores: Value = http.get(format!("{base}/api/v1/stores")).send().await?.json().await?;
    let store = &stores["items"][0];
    let store_id = store["id"].as_str().context("store")?.to_owned();
    let dep_id = store["departments"][0]["id"].as_str().context("department")?.to_owned();
    let experts: Value = http.get(format!("{base}/api/v1/team/experts")).send().await?.json().await?;
    let expert_id = experts["items"][0]["id"].as_str().context("expert")?.to_owned();
    let key: Value = http
        .post(format!("{base}/api/v1/api-keys"))
        .header("x-csrf-token", &csrf)
        .json(&json!({"name": "export benchmark"}))
        .send()
        .await?
        .json()
        .await?;
    let secret = key["secret"].as_str().context("api key")?.to_owned();

    // Seed (idempotent: conversations are named bench-<n>).
    let db = floorwalker::storage::Db::connect(&floorwalker::config::ServiceUrl::new(a.database_url.clone())).await?;
    let (have,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM messages WHERE conversation_id LIKE 'bench-%'")
        .fetch_one(&db.pool)
        .await?;
    let t0 = crate::now_ms() - 3_600_000;
    if have < a.messages {
        let started = Instant::now();
        let shopper = db
            .create_shopper(&floorwalker::ids::MerchantId::parse(&merchant).context("merchant id")?)
            .await?;
        let conversations = (a.messages + a.per_conversation - 1) / a.per_conversation;
        sqlx::query("DELETE FROM messages WHERE conversation_id LIKE 'bench-%'")
            .execute(&db.writer)
            .await?;
        sqlx::query("DELETE FROM conversations WHERE id LIKE 'bench-%'")
            .execute(&db.writer)
            .await?;
        sqlx::query(
            "INSERT INTO conversations (id, merchant_id, shopper_id, store_id, department_id, status, expert_id, last_seq, \
                                        created_at, queued_at, claimed_at, ended_at, ended_by) \
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $1) \
             SELECT 'bench-' || i, $2, $3, $4, $5, 'ended', $6, $7, $8 + i, $8 + i, $8 + i + 1000, $8 + i + 60000, 'expert' FROM n",
        )
        .bind(conversations)
        .bind(&merchant)
        .bind(shopper.id.to_string())
        .bind(&store_id)
        .bind(&dep_id)
        .bind(&expert_id)
        .bind(a.per_conversation)
        .bind(t0)
        .execute(&db.writer)
        .await?;
        sqlx::query(
            "INSERT INTO messages (conversation_id, seq, id, merchant_id, author_role, expert_id, kind, body, created_at) \
             WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < $1) \
             SELECT c.id, s.i, c.id || '-' || s.i, c.merchant_id, CASE WHEN s.i % 2 = 0 THEN 'expert' ELSE 'shopper' END, \
                    CASE WHEN s.i % 2 = 0 THEN c.expert_id END, 'text', \
                    'Message ' || s.i || ': do you have the 55\" model in stock, and could I pick it up today, \"please\"?', \
                    c.created_at + s.i * 10 \
             FROM conversations c CROSS JOIN s WHERE c.id LIKE 'bench-%'",
        )
        .bind(a.per_conversation)
        .execute(&db.writer)
        .await?;
        eprintln!(
            "seeded {} messages in {:.1} s",
            conversations * a.per_conversation,
            started.elapsed().as_secs_f64()
        );
    }

    let rss = |pid: &Option<String>| pid.as_deref().and_then(crate::connections::rss_kib);
    let before = rss(&a.server_pid);
    // Wide enough for a transcript seeded by an earlier run.
    let from = crate::now_ms() - 30 * 86_400_000;
    let to = crate::now_ms() + 3_600_000;
    let started = Instant::now();
    let res = reqwest::Client::new()
        .get(format!("{base}/api/v1/exports/transcripts.csv?from={from}&to={to}"))
        .bearer_auth(&secret)
        .send()
        .await?;
    if !res.status().is_success() {
        bail!("export failed: {}", res.status());
    }
    let announced: i64 = res
        .headers()
        .get("x-row-count")
        .and_then(|v| v.to_str().ok()?.parse().ok())
        .unwrap_or(-1);
    let mut stream = res.bytes_stream();
    let (mut bytes, mut lines) = (0u64, 0i64);
    let mut peak = before.unwrap_or(0);
    let mut last_sample = Instant::now();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk?;
        bytes += chunk.len() as u64;
        // Rows have no line breaks inside quotes here, so lines = rows + the header.
        lines += chunk.iter().filter(|&&b| b == b'\n').count() as i64;
        if last_sample.elapsed() > Duration::from_millis(100) {
            last_sample = Instant::now();
            peak = peak.max(rss(&a.server_pid).unwrap_or(0));
        }
    }
    let secs = started.elapsed().as_secs_f64();
    let after = rss(&a.server_pid);
    let rows = lines - 1;
    let report = json!({
        "rows": rows,
        "announced_rows": announced,
        "bytes": bytes,
        "seconds": (secs * 10.0).round() / 10.0,
        "rows_per_second": (rows as f64 / secs).round(),
        "mib_per_second": ((bytes as f64 / 1048576.0 / secs) * 10.0).round() / 10.0,
        "server_rss_kib_before": before,
        "server_rss_kib_peak": peak,
        "server_rss_kib_after": after,
    });
    if a.json {
        println!("{report}");
    } else {
        println!("{}", serde_json::to_string_pretty(&report)?);
    }
    if rows != announced {
        bail!("the export has {rows} rows but X-Row-Count said {announced}");
    }
    Ok(())
}
