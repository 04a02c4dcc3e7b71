#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Token quotas: an LLM call reserves the prompt as sent + the completion limit, settles with the
//! real usage, and a request that cannot fit is refused (429 naming the quota) before any LLM
//! call — on the native API, streaming or not, and on the OpenAI-compatible API. Cache hits and
//! extractive answers cost nothing. Usage lands in the catalog and on `/metrics`.

mod common;

use ragway_gateway::config::LimitsConfig;
use ragway_gateway::identity::Principal;
use ragway_tests::fake_openai::{FakeOpenAi, FakeOptions};
use ragway_tests::harness::{Gateway, fake_llm_config, test_config};
use serde_json::{Value, json};

const QUESTION: &str = "Which server address does the NorthGate client connect to?";

async fn generative(limits: LimitsConfig) -> (Gateway, String, FakeOpenAi, tempfile::TempDir) {
    let fake = FakeOpenAi::start(FakeOptions::default()).await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let mut config = test_config(&tmp.path().join("data"));
    config.llm = Some(fake_llm_config(&fake.base_url, 0));
    config.limits = limits;
    let (gateway, key) = Gateway::with_handbook(config).await.unwrap();
    (gateway, key, fake, tmp)
}

async fn post(gateway: &Gateway, key: &str, body: Value, no_cache: bool) -> reqwest::Response {
    let mut request = reqwest::Client::new()
        .post(format!("{}/api/v1/ask", gateway.base_url))
        .bearer_auth(key)
        .json(&body);
    if no_cache {
        request = request.header("cache-control", "no-cache");
    }
    request.send().await.unwrap()
}

async fn metrics(gateway: &Gateway) -> String {
    gateway.metrics().await.unwrap()
}

/// The value of one sample line of the exposition (`name{labels}`), 0 when absent.
fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or(0.0)
}

#[tokio::test]
async fn reserved_settled_and_refused_before_the_llm() {
    let limits = LimitsConfig {
        tokens_per_day: 1_000_000,
        ..LimitsConfig::unlimited()
    };
    let (gateway, key, fake, _tmp) = generative(limits).await;
    let first = post(&gateway, &key, json!({"question": QUESTION}), false).await;
    assert_eq!(first.status(), 200);
    let first: Value = first.json().await.unwrap();
    let used = first["usage"]["total_tokens"].as_u64().unwrap();
    assert!(used > 0);

    let text = metrics(&gateway).await;
    let reserved = sample(&text, "ragway_llm_tokens_reserved_total{tenant=\"acme\"}") as u64;
    let settled = sample(&text, "ragway_llm_tokens_settled_total{tenant=\"acme\"}") as u64;
    assert_eq!(settled, used, "settled with the usage the LLM reported");
    assert!(
        reserved > used,
        "the reservation ({reserved}) covers the prompt and the whole completion limit"
    );

    // Spend the day down to one token less than that reservation.
    let principal = Principal {
        tenant_id: "acme".into(),
        user_id: "someone-else".into(),
        groups: vec![],
    };
    let rest = 1_000_000 - used - reserved + 1;
    let quotas = gateway.state.core.quotas("acme").await;
    gateway
        .state
        .core
        .limiter
        .reserve_tokens(&principal, &quotas, rest)
        .await
        .unwrap()
        .unwrap();

    let calls = fake.chat_requests().len();
    let refused = post(&gateway, &key, json!({"question": QUESTION}), true).await;
    assert_eq!(refused.status(), 429);
    let retry_after: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=86_400).contains(&retry_after));
    assert_eq!(refused.headers()["ratelimit-limit"], "1000000");
    assert_eq!(
        refused.headers()["ratelimit-remaining"],
        (reserved - 1).to_string().as_str()
    );
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["code"], "rate_limited");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("tokens_per_day"), "{message}");

    // Streaming asks get the same 429 before any event, not a stream that fails.
    let streamed = post(
        &gateway,
        &key,
        json!({"question": QUESTION, "stream": true}),
        true,
    )
    .await;
    assert_eq!(streamed.status(), 429);
    assert!(
        streamed.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );

    // The OpenAI-compatible API answers in OpenAI's shape.
    let openai = reqwest::Client::new()
        .post(format!("{}/v1/chat/completions", gateway.base_url))
        .bearer_auth(&key)
        .header("cache-control", "no-cache")
        .json(&json!({"model": "ragway", "messages": [{"role": "user", "content": QUESTION}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(openai.status(), 429);
    assert!(openai.headers().contains_key("retry-after"));
    let body: Value = openai.json().await.unwrap();
    assert_eq!(body["error"]["code"], "rate_limit_exceeded");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("tokens_per_day")
    );
    assert_eq!(
        fake.chat_requests().len(),
        calls,
        "refused before any LLM call"
    );

    // A cache hit costs no tokens, so it is served even now.
    let hit = post(&gateway, &key, json!({"question": QUESTION}), false).await;
    assert_eq!(hit.status(), 200);
    let hit: Value = hit.json().await.unwrap();
    assert_eq!(hit["cached"], true);

    let text = metrics(&gateway).await;
    assert_eq!(
        sample(
            &text,
            "ragway_requests_refused_total{tenant=\"acme\",limit=\"tokens_per_day\"}"
        ),
        3.0
    );
    assert_eq!(
        sample(&text, "ragway_cache_hits_total{cache=\"answer\"}"),
        1.0
    );
    assert!(text.contains("ragway_http_request_duration_seconds_bucket"));
}

#[tokio::test]
async fn a_request_larger_than_the_minute_quota_says_so() {
    let limits = LimitsConfig {
        tokens_per_minute: 100,
        ..LimitsConfig::unlimited()
    };
    let (gateway, key, fake, _tmp) = generative(limits).await;
    let response = post(&gateway, &key, json!({"question": QUESTION}), false).await;
    assert_eq!(response.status(), 429);
    let body: Value = response.json().await.unwrap();
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("more than your organisation's whole quota of 100 tokens per minute"),
        "{message}"
    );
    assert!(fake.chat_requests().is_empty());
}

#[tokio::test]
async fn extractive_answers_use_no_tokens() {
    let tmp = tempfile::tempdir().unwrap();
    let mut config = test_config(tmp.path());
    config.limits = LimitsConfig {
        tokens_per_minute: 1,
        tokens_per_day: 1,
        ..LimitsConfig::unlimited()
    };
    let (gateway, key) = Gateway::with_handbook(config).await.unwrap();
    for _ in 0..3 {
        let response = post(&gateway, &key, json!({"question": QUESTION}), true).await;
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["mode"], "extractive");
    }
}
