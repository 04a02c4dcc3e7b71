//! The fake OpenAI-compatible server of `tests/` as a standalone process, for benchmarks and
//! evals that need an embeddings (or chat) endpoint without a model: deterministic vectors of the
//! requested dimension, computed from the text (bag of words), so dense retrieval does real work.
//!
//! cargo run -p ragway-tests --example fake_openai -- [dimensions]    (prints its base URL)
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use ragway_tests::fake_openai::{FakeOpenAi, FakeOptions};

#[tokio::main]
async fn main() {
    let dimensions = std::env::args()
        .nth(1)
        .map_or(384, |d| d.parse().expect("dimensions: a number"));
    let fake = FakeOpenAi::start(FakeOptions {
        embedding_dimensions: dimensions,
        ..FakeOptions::default()
    })
    .await
    .unwrap();
    println!("{}", fake.base_url);
    tokio::signal::ctrl_c().await.unwrap();
}
