//! The fake OpenAI-compatible server of `tests/` as a standalone process, for benchmarks and
//! evals that need an embeddings (or chat) endpoint without a model: deterministic vectors of the
//! requested dimension, computed from the text (bag of words), so dense retrieval does real work;
//! chat answers after a fixed latency, streamed word by word.
//!
//! cargo run -p ragway-tests --example fake_openai -- [dimensions] [latency ms] [chunk delay ms]
//! (prints its base URL; runs until SIGINT/SIGTERM; keeps no copy of the requests it serves)
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::time::Duration;

use ragway_tests::fake_openai::{FakeOpenAi, FakeOptions};

fn arg(n: usize, default: u64) -> u64 {
    std::env::args()
        .nth(n)
        .map_or(default, |d| d.parse().expect("a number"))
}

#[tokio::main]
async fn main() {
    let fake = FakeOpenAi::start(FakeOptions {
        embedding_dimensions: arg(1, 384) as usize,
        latency: Duration::from_millis(arg(2, 0)),
        chunk_delay: Duration::from_millis(arg(3, 0)),
        forget_requests: true,
        ..FakeOptions::default()
    })
    .await
    .unwrap();
    println!("{}", fake.base_url);
    let mut term =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).unwrap();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
