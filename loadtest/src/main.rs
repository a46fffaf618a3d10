//! Floorwalker load test: real shopper and expert sockets over the chat protocol.
//!
//! `chat` plays the demo merchant's shoppers and experts: shoppers request chats, experts
//! claim them (after a human-like pause, so claims race but do not stampede), both sides
//! exchange messages, and a share of clients drop and reconnect mid-chat, resuming by
//! sequence number and resending what was not acknowledged. The bookkeeping is exact:
//! every acknowledged message must reach the other side (`lost`), no message may arrive
//! under two sequence numbers (`duplicates`), live messages must arrive in order
//! (`out_of_order`), and no conversation may be claimed twice (`double_claims`).
//!
//! `connections` holds N idle shopper sockets and reports the server's RSS per connection.
//!
//! `locked` plays experts whose phones are locked (Web Push only) and measures the time from a
//! chat request to its push alert arriving at a push service this process runs on loopback.

mod chat;
mod client;
mod connections;
mod export;
mod locked;
mod setup;
mod stats;

use std::time::Duration;

use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(name = "loadtest", about = "Drive real shoppers and experts against a running Floorwalker")]
struct Cli {
    #[command(subcommand)]
    scenario: Scenario,
}

#[derive(Subcommand, Debug)]
enum Scenario {
    /// Shoppers request chats, experts claim them, both sides talk; some drop and resume.
    Chat(chat::ChatArgs),
    /// Hold idle shopper sockets and measure the server's memory per connection.
    Connections(connections::ConnArgs),
    /// Experts with locked phones (push only): time from chat request to push alert.
    Locked(locked::LockedArgs),
    /// Seed a large transcript, download transcripts.csv and watch the server's memory.
    Export(export::ExportArgs),
}

/// Parse `30s`, `2m`, `500ms` or a plain number of seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = s
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .map(|i| s.split_at(i))
        .unwrap_or((s, "s"));
    let n: f64 = num.parse().map_err(|_| format!("bad duration {s}"))?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" | "" => n,
        "m" => n * 60.0,
        _ => return Err(format!("bad duration unit in {s}")),
    };
    Ok(Duration::from_secs_f64(secs))
}

/// `--url` may list several nodes, comma-separated; clients are spread over them.
pub fn urls(list: &str) -> Vec<String> {
    list.split(',')
        .map(|u| u.trim().trim_end_matches('/').to_owned())
        .filter(|u| !u.is_empty())
        .collect()
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(async move {
        match cli.scenario {
            Scenario::Chat(a) => chat::run(a).await,
            Scenario::Connections(a) => connections::run(a).await,
            Scenario::Export(a) => export::run(a).await,
            Scenario::Locked(a) => locked::run(a).await,
        }
    })
}

pub fn now_ms() -> i64 {
    floorwalker::now_ms()
}
