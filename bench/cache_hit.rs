//! Answer-cache hits through the gateway: latency (sequential) and throughput (concurrent
//! clients), for the native API and the OpenAI-compatible API, non-streamed. Every request is a
//! hit after one warm-up miss per question; the LLM is the fake server, which a hit never calls.
//!
//! cargo run -p ragway-tests --example cache_hit -- [requests] [concurrency]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use ragway_tests::fake_openai::{FakeOpenAi, FakeOptions};
use ragway_tests::harness::{Gateway, fake_llm_config, test_config};
use serde_json::{Value, json};

const QUESTIONS: &[&str] = &[
    "How do I connect to the VPN from home?",
    "Where do I report a phishing email?",
    "What are the lockout tagout steps?",
    "How many vacation days after three years?",
];

fn ms(sorted: &[Duration], p: f64) -> f64 {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index].as_secs_f64() * 1000.0
}

/// One request, checked to be a cache hit.
async fn hit(client: &reqwest::Client, url: &str, key: &str, body: &Value, openai: bool) {
    let response = client
        .post(url)
        .bearer_auth(key)
        .json(body)
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success());
    let answer: Value = response.json().await.unwrap();
    if openai {
        assert_eq!(answer["usage"]["total_tokens"], 0, "a hit is free");
    } else {
        assert_eq!(answer["cached"], true);
    }
}

fn request(gateway: &Gateway, i: usize, openai: bool) -> (String, Value) {
    let question = QUESTIONS[i % QUESTIONS.len()];
    if openai {
        let body = json!({"model": "ragway", "messages": [{"role": "user", "content": question}]});
        (format!("{}/v1/chat/completions", gateway.base_url), body)
    } else {
        (
            format!("{}/api/v1/ask", gateway.base_url),
            json!({"question": question}),
        )
    }
}

#[tokio::main]
async fn main() {
    let requests: usize = std::env::args().nth(1).map_or(2000, |n| n.parse().unwrap());
    let concurrency: usize = std::env::args().nth(2).map_or(16, |n| n.parse().unwrap());
    let fake = FakeOpenAi::start(FakeOptions {
        latency: Duration::from_millis(50),
        ..FakeOptions::default()
    })
    .await
    .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let mut config = test_config(tmp.path());
    config.limits = ragway_gateway::config::LimitsConfig::unlimited();
    config.llm = Some(fake_llm_config(&fake.base_url, 0));
    let (gateway, key) = Gateway::with_handbook(config).await.unwrap();
    let gateway = Arc::new(gateway);
    let client = reqwest::Client::new();
    for (i, _) in QUESTIONS.iter().enumerate() {
        let (url, body) = request(&gateway, i, false);
        client
            .post(url)
            .bearer_auth(&key)
            .json(&body)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
    }
    let llm_calls = fake.chat_requests().len();

    println!(
        "answer-cache hits, {requests} requests per row, fake LLM 50 ms (never called on a hit)"
    );
    for openai in [false, true] {
        let route = if openai {
            "/v1/chat/completions"
        } else {
            "/api/v1/ask"
        };
        let mut samples = Vec::with_capacity(requests);
        for i in 0..requests {
            let (url, body) = request(&gateway, i, openai);
            let started = Instant::now();
            hit(&client, &url, &key, &body, openai).await;
            samples.push(started.elapsed());
        }
        samples.sort();
        println!(
            "{route:<22} sequential    p50 {:>6.2} ms   p99 {:>6.2} ms",
            ms(&samples, 0.5),
            ms(&samples, 0.99)
        );

        let started = Instant::now();
        let per_client = requests / concurrency;
        let clients: Vec<_> = (0..concurrency)
            .map(|c| {
                let (gateway, client, key) = (Arc::clone(&gateway), client.clone(), key.clone());
                tokio::spawn(async move {
                    for i in 0..per_client {
                        let (url, body) = request(&gateway, c + i, openai);
                        hit(&client, &url, &key, &body, openai).await;
                    }
                })
            })
            .collect();
        for c in clients {
            c.await.unwrap();
        }
        let done = per_client * concurrency;
        println!(
            "{route:<22} {concurrency} clients    {:>7.0} requests/s",
            done as f64 / started.elapsed().as_secs_f64()
        );
    }
    assert_eq!(
        fake.chat_requests().len(),
        llm_calls,
        "no hit reached the LLM"
    );
    // Release the index before its temporary directory goes (our keep-alive connections and the
    // finished clients' clones hold the gateway until then).
    drop(client);
    if let Ok(gateway) = Arc::try_unwrap(gateway) {
        gateway.shutdown().await;
    }
    drop(tmp);
}
