//! Ingest throughput: syncs a folder into a fresh embedded index (BM25 only, no dense) and prints
//! MB/s and chunks/s, then re-syncs the unchanged folder (the incremental no-op path).
//!
//! cargo run -p ragway-tests --example ingest_throughput -- <dir>
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::path::PathBuf;
use std::time::Instant;

use ragway_ingest::source::FolderSourceConfig;
use ragway_tests::harness::{Gateway, test_config};

#[tokio::main]
async fn main() {
    let dir: PathBuf = std::env::args()
        .nth(1)
        .expect("usage: ingest_throughput <dir>")
        .into();
    let tmp = tempfile::tempdir().unwrap();
    let gateway = Gateway::start(test_config(tmp.path())).await.unwrap();
    gateway
        .state
        .core
        .catalog
        .ensure_tenant("bench")
        .await
        .unwrap();
    let globs = FolderSourceConfig::default();

    let started = Instant::now();
    let report = gateway
        .state
        .indexer
        .sync_folder("bench", "bench", &dir, &globs, &|_| {})
        .await
        .unwrap();
    let secs = started.elapsed().as_secs_f64();
    let mb = report.bytes as f64 / 1_000_000.0;
    println!("corpus: {}", dir.display());
    println!(
        "full sync: {} documents ({} failed), {:.2} MB, {} chunks in {:.2} s → {:.2} MB/s, {:.0} chunks/s, {:.1} docs/s",
        report.seen,
        report.failures.len(),
        mb,
        report.chunks_written,
        secs,
        mb / secs,
        report.chunks_written as f64 / secs,
        report.seen as f64 / secs
    );

    let started = Instant::now();
    let again = gateway
        .state
        .indexer
        .sync_folder("bench", "bench", &dir, &globs, &|_| {})
        .await
        .unwrap();
    let secs = started.elapsed().as_secs_f64();
    println!(
        "unchanged re-sync: {} documents checked, {} chunks written in {:.2} s → {:.1} MB/s",
        again.seen,
        again.chunks_written,
        secs,
        again.bytes as f64 / 1_000_000.0 / secs
    );
    gateway.shutdown().await;
}
