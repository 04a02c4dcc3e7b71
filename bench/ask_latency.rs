//! Ask latency through the gateway versus calling the LLM directly, in the same run.
//! The LLM is the fake OpenAI-compatible server with a fixed latency; the difference between the
//! two distributions is what ragway adds (auth, retrieval, grounding, streaming, JSON).
//!
//! cargo run -p ragway-tests --example ask_latency -- [requests] [llm latency ms]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::time::{Duration, Instant};

use ragway_tests::fake_openai::{FakeOpenAi, FakeOptions};
use ragway_tests::harness::{Gateway, fake_llm_config, test_config};
use serde_json::json;

const QUESTIONS: &[&str] = &[
    "How do I connect to the VPN from home?",
    "How often is the hydraulic oil filter of the HP-400 press changed?",
    "Where do I report a phishing email?",
    "What is the per diem for travel in the United States?",
    "What are the lockout tagout steps?",
    "How many vacation days after three years?",
    "What oxygen level is required for confined space entry?",
    "Who approves purchases above the threshold?",
];

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index].as_secs_f64() * 1000.0
}

fn summary(name: &str, mut samples: Vec<Duration>) -> (f64, f64) {
    samples.sort();
    let (p50, p99) = (percentile(&samples, 0.50), percentile(&samples, 0.99));
    let mean =
        samples.iter().map(Duration::as_secs_f64).sum::<f64>() / samples.len() as f64 * 1000.0;
    println!(
        "{name:<28} n={:<5} p50 {p50:>8.2} ms   p99 {p99:>8.2} ms   mean {mean:>8.2} ms",
        samples.len()
    );
    (p50, p99)
}

#[tokio::main]
async fn main() {
    let requests: usize = std::env::args().nth(1).map_or(300, |n| n.parse().unwrap());
    let latency_ms: u64 = std::env::args().nth(2).map_or(50, |n| n.parse().unwrap());
    let fake = FakeOpenAi::start(FakeOptions {
        latency: Duration::from_millis(latency_ms),
        ..FakeOptions::default()
    })
    .await
    .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let mut config = test_config(tmp.path());
    config.limits = ragway_gateway::config::LimitsConfig::unlimited();
    config.cache.enabled = false; // measure the pipeline, not the answer cache
    config.llm = Some(fake_llm_config(&fake.base_url, 0));
    let (gateway, key) = Gateway::with_handbook(config).await.unwrap();
    let client = reqwest::Client::new();

    // Warm up both paths (connections, tokenizer tables).
    for q in QUESTIONS {
        client
            .post(format!("{}/api/v1/ask", gateway.base_url))
            .bearer_auth(&key)
            .json(&json!({"question": q}))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
    }
    let prompts = fake.chat_requests();

    let mut through_gateway = Vec::with_capacity(requests);
    let mut direct = Vec::with_capacity(requests);
    for i in 0..requests {
        let question = QUESTIONS[i % QUESTIONS.len()];
        let started = Instant::now();
        let response = client
            .post(format!("{}/api/v1/ask", gateway.base_url))
            .bearer_auth(&key)
            .json(&json!({"question": question}))
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success());
        response.text().await.unwrap();
        through_gateway.push(started.elapsed());

        // The same prompt the gateway sent, straight to the LLM (streamed, read to the end).
        direct.push(fake.replay_chat(&client, &prompts[i % prompts.len()]).await);
    }
    println!(
        "ask latency, {requests} sequential requests, fake LLM latency {latency_ms} ms, BM25 retrieval, no cache"
    );
    let (g50, g99) = summary("through ragway (/api/v1/ask)", through_gateway);
    let (d50, d99) = summary("LLM directly", direct);
    println!(
        "{:<28} p50 {:>8.2} ms   p99 {:>8.2} ms",
        "added by ragway",
        g50 - d50,
        g99 - d99
    );
    // Close our keep-alive connections first: they hold the gateway (and its index) open.
    drop(client);
    gateway.shutdown().await;
}
