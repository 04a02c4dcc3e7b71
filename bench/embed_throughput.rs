//! Embedding throughput of the in-process all-MiniLM-L6-v2: SciFact abstracts (title + text, as
//! they are indexed) embedded in batches, chunks/s. Run it pinned to two cores to measure the
//! figure for a 2-core machine:
//!
//! taskset -c 0,1 cargo run -p ragway-tests --example embed_throughput -- [N] [BATCH]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout
)]

use std::path::Path;
use std::time::Instant;

use ragway_ingest::embed::{Embedder, LocalEmbedder, LocalEmbedderConfig};

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args
        .next()
        .map_or(1000, |a| a.parse().expect("N: a number"));
    let batch: usize = args
        .next()
        .map_or(32, |a| a.parse().expect("BATCH: a number"));
    let corpus =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/scifact/corpus.jsonl");
    let text = std::fs::read_to_string(&corpus)
        .unwrap_or_else(|e| panic!("{}: {e} (needs ../shared/data/scifact)", corpus.display()));
    let texts: Vec<String> = text
        .lines()
        .take(n)
        .map(|line| {
            let doc: serde_json::Value = serde_json::from_str(line).unwrap();
            format!(
                "{}\n\n{}",
                doc["title"].as_str().unwrap_or(""),
                doc["text"].as_str().unwrap_or("")
            )
        })
        .collect();
    let config = LocalEmbedderConfig {
        batch_size: batch,
        ..LocalEmbedderConfig::default()
    };
    let started = Instant::now();
    let embedder = LocalEmbedder::open(config).await.unwrap();
    println!("model load: {:.2} s", started.elapsed().as_secs_f64());

    // Warm-up (first-call allocations), not counted.
    embedder
        .embed(texts[..batch.min(texts.len())].to_vec())
        .await
        .unwrap();
    let started = Instant::now();
    let vectors = embedder.embed(texts.clone()).await.unwrap();
    let secs = started.elapsed().as_secs_f64();
    assert_eq!(vectors.len(), texts.len());
    let threads = std::thread::available_parallelism().map_or(0, usize::from);
    println!(
        "{} SciFact abstracts (≤256 word pieces each), batch {batch}, {threads} threads: {:.1} s → {:.1} chunks/s",
        texts.len(),
        secs,
        texts.len() as f64 / secs
    );

    let query = vec!["Vitamin D deficiency is associated with fractures.".to_owned()];
    let mut latencies = Vec::new();
    for _ in 0..50 {
        let t = Instant::now();
        embedder.embed(query.clone()).await.unwrap();
        latencies.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    latencies.sort_by(f64::total_cmp);
    println!(
        "one query: p50 {:.2} ms, p99 {:.2} ms",
        latencies[latencies.len() / 2],
        latencies[latencies.len() * 99 / 100]
    );
}
