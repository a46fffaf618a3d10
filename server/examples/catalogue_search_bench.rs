//! Catalogue search benchmark (issue 22): 50,000 products, then store-app searches by name,
//! fragment and article number; prints p50/p99/max. Not a test: run by hand and record the
//! result in docs/benchmarks.md.
//!
//!     cargo run -p floorwalker --example catalogue_search_bench -- sqlite:///tmp/bench.db
//!     cargo run -p floorwalker --example catalogue_search_bench -- postgres://postgres@127.0.0.1/fw_bench

use std::time::Instant;

use floorwalker::commerce::store::ProductFields;
use floorwalker::config::ServiceUrl;
use floorwalker::storage::Db;

const WORDS: [&str; 24] = [
    "oled", "kaffe", "café", "crème", "sofa", "chair", "lamp", "boot", "sneaker", "tent", "kettle", "mixer", "knife", "pan", "speaker",
    "cable", "table", "desk", "rug", "jacket", "stove", "filter", "plate", "torch",
];
const COLOURS: [&str; 8] = ["black", "white", "oak", "walnut", "red", "blue", "grey", "sand"];

fn product(i: usize) -> ProductFields {
    let a = WORDS[i % WORDS.len()];
    let b = WORDS[(i / WORDS.len()) % WORDS.len()];
    let c = COLOURS[(i / 7) % COLOURS.len()];
    ProductFields {
        sku: format!("B{:02}-{i:06}", i % 97),
        name: format!("{a} {b} {c} model {}", i % 1000),
        description: None,
        price_minor: 1000 + (i as i64 % 100_000),
        currency: "SEK".into(),
        vat_bp: 2500,
        image_url: None,
        product_url: None,
        gtin: None,
        stock: None,
        active: true,
    }
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let url: ServiceUrl = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "sqlite:///tmp/fw-bench.db".into())
        .parse()
        .map_err(|e: String| anyhow::anyhow!(e))?;
    let db = Db::connect(&url).await?;
    db.migrate().await?;
    let m = db.create_merchant(&format!("Bench {}", uuid::Uuid::new_v4().simple())).await?.id;
    let t = Instant::now();
    let all: Vec<ProductFields> = (0..50_000).map(product).collect();
    for chunk in all.chunks(1000) {
        db.upsert_products(&m, chunk).await?;
    }
    println!("loaded 50,000 products in {:.1} s", t.elapsed().as_secs_f64());
    let queries: Vec<String> = (0..1000)
        .map(|i| match i % 5 {
            0 => format!("B{:02}-{:06}", (i * 37 % 50_000) % 97, i * 37 % 50_000), // exact article number
            1 => format!("B{:02}-0", i % 97),                                      // article-number prefix
            2 => WORDS[i % WORDS.len()].chars().take(3).collect(),                 // a fragment
            3 => format!("{} {}", WORDS[i % WORDS.len()], COLOURS[i % COLOURS.len()]), // two words
            _ => "cafe creme".to_owned(),                                          // accents ignored
        })
        .collect();
    for q in queries.iter().take(100) {
        db.search_products(&m, q, 20).await?; // warm up
    }
    let mut times = Vec::with_capacity(queries.len());
    let mut hits = 0;
    for q in &queries {
        let t = Instant::now();
        hits += db.search_products(&m, q, 20).await?.len();
        times.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(|a, b| a.total_cmp(b));
    println!(
        "{} searches ({hits} hits): p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        times.len(),
        pct(&times, 0.5),
        pct(&times, 0.99),
        times.last().copied().unwrap_or_default()
    );
    Ok(())
}
