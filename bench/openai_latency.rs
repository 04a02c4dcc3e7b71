//! Added latency on the OpenAI-compatible API: `POST /v1/chat/completions` (streamed) through
//! ragway versus the same prompt sent straight to the LLM, in one run. Reports time to first
//! token (first non-empty content delta) and total time, p50/p99. The LLM is the fake server with a
//! fixed latency before its first byte and a fixed delay between chunks.
//!
//! cargo run -p ragway-tests --example openai_latency -- [requests] [llm latency ms] [chunk delay ms]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::time::{Duration, Instant};

use futures::StreamExt;
use ragway_tests::fake_openai::{FakeOpenAi, FakeOptions};
use ragway_tests::harness::{Gateway, fake_llm_config, test_config};
use serde_json::{Value, json};

const QUESTIONS: &[&str] = &[
    "How do I connect to the VPN from home?",
    "How often is the hydraulic oil filter of the HP-400 press changed?",
    "Where do I report a phishing email?",
    "What is the per diem for travel in the United States?",
];

/// (time to first content token, total) of one streamed request.
async fn timed(request: reqwest::RequestBuilder) -> (Duration, Duration) {
    let started = Instant::now();
    let response = request.send().await.unwrap();
    assert!(response.status().is_success());
    let mut stream = response.bytes_stream();
    let mut seen = String::new();
    let mut first = None;
    while let Some(chunk) = stream.next().await {
        seen.push_str(&String::from_utf8_lossy(&chunk.unwrap()));
        if first.is_none()
            && seen
                .split("\"content\":\"")
                .skip(1)
                .any(|rest| !rest.starts_with('"'))
        {
            first = Some(started.elapsed());
        }
    }
    assert!(seen.contains("[DONE]"));
    (
        first.unwrap_or_else(|| started.elapsed()),
        started.elapsed(),
    )
}

fn pct(samples: &mut [Duration], p: f64) -> f64 {
    samples.sort();
    samples[((samples.len() as f64 - 1.0) * p).round() as usize].as_secs_f64() * 1000.0
}

#[tokio::main]
async fn main() {
    let arg = |i: usize, default: u64| {
        std::env::args()
            .nth(i)
            .map_or(default, |v| v.parse().unwrap())
    };
    let (requests, latency_ms, chunk_ms) = (arg(1, 200) as usize, arg(2, 50), arg(3, 2));
    let fake = FakeOpenAi::start(FakeOptions {
        latency: Duration::from_millis(latency_ms),
        chunk_delay: Duration::from_millis(chunk_ms),
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
    let body = |q: &str| json!({"model": "ragway", "stream": true, "messages": [{"role": "user", "content": q}]});

    for q in QUESTIONS {
        timed(
            client
                .post(format!("{}/v1/chat/completions", gateway.base_url))
                .bearer_auth(&key)
                .json(&body(q)),
        )
        .await;
    }
    let prompts: Vec<Value> = fake.chat_requests();

    let (mut g_first, mut g_total, mut d_first, mut d_total) = (vec![], vec![], vec![], vec![]);
    for i in 0..requests {
        let q = QUESTIONS[i % QUESTIONS.len()];
        let (first, total) = timed(
            client
                .post(format!("{}/v1/chat/completions", gateway.base_url))
                .bearer_auth(&key)
                .json(&body(q)),
        )
        .await;
        g_first.push(first);
        g_total.push(total);
        let (first, total) = timed(
            client
                .post(format!("{}/chat/completions", fake.base_url))
                .bearer_auth("sk-bench")
                .json(&prompts[i % prompts.len()]),
        )
        .await;
        d_first.push(first);
        d_total.push(total);
    }
    println!(
        "OpenAI-compatible streaming, {requests} sequential requests, fake LLM: {latency_ms} ms to first byte, {chunk_ms} ms between chunks"
    );
    println!(
        "{:<30} {:>14} {:>14} {:>14} {:>14}",
        "", "TTFT p50", "TTFT p99", "total p50", "total p99"
    );
    let row = |name: &str, first: &mut Vec<Duration>, total: &mut Vec<Duration>| {
        let v = (
            pct(first, 0.5),
            pct(first, 0.99),
            pct(total, 0.5),
            pct(total, 0.99),
        );
        println!(
            "{name:<30} {:>11.2} ms {:>11.2} ms {:>11.2} ms {:>11.2} ms",
            v.0, v.1, v.2, v.3
        );
        v
    };
    let g = row(
        "through ragway /v1/chat/completions",
        &mut g_first,
        &mut g_total,
    );
    let d = row("LLM directly", &mut d_first, &mut d_total);
    println!(
        "{:<30} {:>11.2} ms {:>11.2} ms {:>11.2} ms {:>11.2} ms",
        "added by ragway",
        g.0 - d.0,
        g.1 - d.1,
        g.2 - d.2,
        g.3 - d.3
    );
    // Close our keep-alive connections first: they hold the gateway (and its index) open.
    drop(client);
    gateway.shutdown().await;
}
