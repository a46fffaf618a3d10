//! The `connections` scenario: hold N idle shopper sockets and report the server's RSS per
//! connection (read from /proc/PID/status of the server, which must run on this machine).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;
use serde_json::json;
use tokio::sync::Semaphore;

use floorwalker::protocol::{Out, ShopperIn};

use crate::client::{self, ws_url};
use crate::{parse_duration, urls};

#[derive(Args, Debug)]
pub struct ConnArgs {
    /// Server base URL(s), comma-separated.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub url: String,
    #[arg(long, default_value_t = 1000)]
    pub shoppers: usize,
    /// The server's process id(s), comma-separated, to read RSS from.
    #[arg(long)]
    pub server_pid: Option<String>,
    /// Merchant ID (default: the demo merchant, found with --password).
    #[arg(long)]
    pub merchant: Option<String>,
    #[arg(long, env = "FLOORWALKER_DEMO_PASSWORD", hide_env_values = true)]
    pub password: Option<String>,
    /// How long to hold the sockets once all are open.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub hold: Duration,
    /// Connections opened at once.
    #[arg(long, default_value_t = 200)]
    pub concurrency: usize,
    #[arg(long)]
    pub json: bool,
}

pub fn rss_kib(pid: &str) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines().find(|l| l.starts_with("VmRSS:"))?.split_whitespace().nth(1)?.parse().ok()
}

fn total_rss(pids: &[String]) -> Option<u64> {
    pids.iter().map(|p| rss_kib(p)).sum()
}

pub async fn run(a: ConnArgs) -> anyhow::Result<()> {
    let nodes = urls(&a.url);
    let merchant = match &a.merchant {
        Some(m) => m.clone(),
        None => {
            let http = reqwest::Client::builder().cookie_store(true).build()?;
            let pw = a.password.clone().ok_or_else(|| anyhow::anyhow!("give --merchant or --password"))?;
            let res = http
                .post(format!("{}/api/v1/auth/login", nodes[0]))
                .json(&json!({"email": "admin@demo.example", "password": pw}))
                .send()
                .await?;
            let v: serde_json::Value = res.json().await?;
            v["account"]["merchant_id"]
                .as_str()
                .ok_or_else(|| anyhow::anyhow!("could not sign in: {v}"))?
                .to_owned()
        }
    };
    let pids: Vec<String> = a
        .server_pid
        .as_deref()
        .map(|p| p.split(',').map(str::to_owned).collect())
        .unwrap_or_default();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = total_rss(&pids);
    let open = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let gate = Arc::new(Semaphore::new(a.concurrency));
    let started = Instant::now();
    let (hold_tx, _) = tokio::sync::broadcast::channel::<()>(1);
    let mut tasks = Vec::new();
    for i in 0..a.shoppers {
        let url = ws_url(&nodes[i % nodes.len()], &format!("/ws/shopper?merchant={merchant}&v=1"));
        let (open, failed, gate) = (open.clone(), failed.clone(), gate.clone());
        let mut release = hold_tx.subscribe();
        tasks.push(tokio::spawn(async move {
            let permit = gate.acquire_owned().await.unwrap();
            let Ok((mut sink, mut stream)) = client::connect(&url).await else {
                failed.fetch_add(1, Ordering::Relaxed);
                return;
            };
            if client::send(&mut sink, &ShopperIn::Hello { token: None, locale: None }).await.is_err() {
                failed.fetch_add(1, Ordering::Relaxed);
                return;
            }
            match client::recv(&mut stream).await {
                Ok(Out::ShopperWelcome { .. }) => open.fetch_add(1, Ordering::Relaxed),
                _ => {
                    failed.fetch_add(1, Ordering::Relaxed);
                    return;
                }
            };
            drop(permit);
            // Idle, but answering pings (tungstenite does it while we read).
            loop {
                tokio::select! {
                    _ = release.recv() => return,
                    f = client::recv(&mut stream) => if f.is_err() { failed.fetch_add(1, Ordering::Relaxed); open.fetch_sub(1, Ordering::Relaxed); return; }
                }
            }
        }));
    }
    loop {
        let (o, f) = (open.load(Ordering::Relaxed), failed.load(Ordering::Relaxed));
        if (o + f) as usize >= a.shoppers {
            break;
        }
        eprintln!("[{:>4.0}s] open {o}, failed {f}", started.elapsed().as_secs_f64());
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    let ramp_s = started.elapsed().as_secs_f64();
    tokio::time::sleep(a.hold).await;
    let held = open.load(Ordering::Relaxed);
    let after = total_rss(&pids);
    let per_conn = match (before, after) {
        (Some(b), Some(af)) if held > 0 => Some((af.saturating_sub(b)) as f64 / held as f64),
        _ => None,
    };
    let _ = hold_tx.send(());
    for t in tasks {
        let _ = t.await;
    }
    let out = json!({
        "scenario": "connections",
        "nodes": nodes.len(),
        "shoppers": a.shoppers,
        "held": held,
        "failed": failed.load(Ordering::Relaxed),
        "ramp_s": ramp_s,
        "server_rss_before_kib": before,
        "server_rss_after_kib": after,
        "rss_per_connection_kib": per_conn,
    });
    eprintln!(
        "connections: {held} of {} held ({} failed), opened in {ramp_s:.1} s",
        a.shoppers, out["failed"]
    );
    if let Some(p) = per_conn {
        eprintln!(
            "  server RSS {} KiB → {} KiB: {p:.2} KiB per connection",
            before.unwrap_or(0),
            after.unwrap_or(0)
        );
    }
    if a.json {
        println!("{out}");
    }
    Ok(())
}
