#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! LLM resilience against the fake: time-to-first-token timeouts, fallback chains, Retry-After,
//! streams that die half-way, circuit breakers, and Azure OpenAI deployments.

mod common;

use std::time::Duration;

use common::{ask_stream, post_ask};
use ragway_gateway::config::{BreakerConfig, LlmConfig};
use ragway_tests::fake_openai::{Failure, FakeOpenAi, FakeOptions};
use ragway_tests::harness::{Gateway, fake_llm_config, test_config};
use serde_json::json;

const QUESTION: &str = "Which server address does the NorthGate client connect to?";

async fn gateway_with(llm: LlmConfig) -> (Gateway, String, tempfile::TempDir) {
    let tmp = tempfile::tempdir().unwrap();
    let mut config = test_config(tmp.path());
    config.llm = Some(llm);
    config.cache.enabled = false; // every request must reach the endpoints
    let (gateway, key) = Gateway::with_handbook(config).await.unwrap();
    (gateway, key, tmp)
}

async fn ask(gateway: &Gateway, key: &str) -> (u16, serde_json::Value) {
    post_ask(&gateway.base_url, Some(key), &json!({"question": QUESTION})).await
}

#[tokio::test]
async fn a_slow_first_token_times_out_and_falls_back() {
    let slow = FakeOpenAi::start(FakeOptions {
        latency: Duration::from_secs(5),
        ..FakeOptions::default()
    })
    .await
    .unwrap();
    let healthy = FakeOpenAi::start(FakeOptions::default()).await.unwrap();
    let mut llm = fake_llm_config(&slow.base_url, 0);
    llm.first_token_timeout_secs = 1;
    llm.fallbacks = vec![fake_llm_config(&healthy.base_url, 0)];
    let (gateway, key, _tmp) = gateway_with(llm).await;

    let (status, answer) = ask(&gateway, &key).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(slow.chat_requests().len(), 1, "the primary was tried");
    assert_eq!(healthy.chat_requests().len(), 1, "the fallback answered");
    assert!(answer["answer"].as_str().unwrap().contains("[1]"));
}

#[tokio::test]
async fn retry_after_is_honoured() {
    let fake = FakeOpenAi::start(FakeOptions::default()).await.unwrap();
    let (gateway, key, _tmp) = gateway_with(fake_llm_config(&fake.base_url, 2)).await;
    fake.fail_chat(
        Failure {
            status: 429,
            retry_after_secs: Some(1),
        },
        1,
    );
    let (status, _) = ask(&gateway, &key).await;
    assert_eq!(status, 200);
    let arrivals = fake.chat_arrivals();
    assert_eq!(arrivals.len(), 2, "one 429, then the retry");
    assert!(
        arrivals[1] - arrivals[0] >= Duration::from_millis(950),
        "the retry waited for Retry-After"
    );
}

#[tokio::test]
async fn a_stream_that_dies_half_way_is_an_error_not_a_hang() {
    let fake = FakeOpenAi::start(FakeOptions {
        cut_stream_after: Some(3),
        ..FakeOptions::default()
    })
    .await
    .unwrap();
    let (gateway, key, _tmp) = gateway_with(fake_llm_config(&fake.base_url, 2)).await;

    let events = ask_stream(&gateway.base_url, &key, QUESTION).await;
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    assert!(
        names.contains(&"delta"),
        "the first tokens reached the caller: {names:?}"
    );
    assert_eq!(names.last(), Some(&"error"), "{names:?}");
    let error = &events.last().unwrap().1;
    assert_eq!(error["code"], "llm_unavailable", "{error}");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("the language model failed to answer"),
        "{error}"
    );
    assert_eq!(
        fake.chat_requests().len(),
        1,
        "never retried after the first token"
    );

    let (status, body) = ask(&gateway, &key).await;
    assert_eq!(status, 502, "{body}");
}

#[tokio::test]
async fn the_circuit_opens_on_repeated_failures_and_recovers() {
    let primary = FakeOpenAi::start(FakeOptions::default()).await.unwrap();
    let fallback = FakeOpenAi::start(FakeOptions::default()).await.unwrap();
    let mut llm = fake_llm_config(&primary.base_url, 0);
    llm.circuit_breaker = BreakerConfig {
        failures: 2,
        cooldown_secs: 1,
    };
    llm.fallbacks = vec![fake_llm_config(&fallback.base_url, 0)];
    let (gateway, key, _tmp) = gateway_with(llm).await;
    primary.fail_chat(
        Failure {
            status: 500,
            retry_after_secs: None,
        },
        2,
    );

    for expected_primary_calls in [1, 2, 2, 2] {
        let (status, _) = ask(&gateway, &key).await;
        assert_eq!(status, 200, "the fallback answers");
        assert_eq!(
            primary.chat_requests().len(),
            expected_primary_calls,
            "an open circuit skips the primary"
        );
    }
    assert_eq!(fallback.chat_requests().len(), 4);
    let primary_circuit = format!(
        "ragway_llm_circuit_open{{profile=\"ragway\",endpoint=\"{} at {}\"}}",
        fake_llm_config(&primary.base_url, 0).model,
        primary.base_url
    );
    assert_eq!(
        circuit_state(&gateway, &primary_circuit).await,
        Some(1),
        "the open circuit shows on /metrics"
    );

    tokio::time::sleep(Duration::from_millis(1200)).await;
    let (status, _) = ask(&gateway, &key).await;
    assert_eq!(status, 200);
    assert_eq!(
        primary.chat_requests().len(),
        3,
        "half-open: the primary gets a trial and answers"
    );
    assert_eq!(fallback.chat_requests().len(), 4);
    ask(&gateway, &key).await;
    assert_eq!(primary.chat_requests().len(), 4, "closed again");
    assert_eq!(circuit_state(&gateway, &primary_circuit).await, Some(0));
}

/// The value of one `ragway_llm_circuit_open` series on `/metrics`.
async fn circuit_state(gateway: &Gateway, series: &str) -> Option<u64> {
    let text = gateway.metrics().await.unwrap();
    text.lines()
        .find_map(|line| line.strip_prefix(series))
        .map(|value| value.trim().parse().unwrap())
}

#[tokio::test]
async fn every_endpoint_down_is_a_clear_error() {
    let fake = FakeOpenAi::start(FakeOptions::default()).await.unwrap();
    let (gateway, key, _tmp) = gateway_with(fake_llm_config(&fake.base_url, 1)).await;
    fake.fail_chat(
        Failure {
            status: 503,
            retry_after_secs: Some(0),
        },
        100,
    );
    let (status, body) = ask(&gateway, &key).await;
    assert_eq!(status, 502);
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("the language model failed to answer"),
        "{body}"
    );
    // The deployment's provider stays private: no address, model or upstream error text.
    for private in [fake.base_url.as_str(), "127.0.0.1", "gpt", "503"] {
        assert!(!message.contains(private), "{private} leaked: {body}");
    }
}

#[tokio::test]
async fn azure_openai_deployments_are_supported() {
    let fake = FakeOpenAi::start(FakeOptions::default()).await.unwrap();
    let mut llm = fake_llm_config(&fake.root_url, 0);
    llm.model = "gpt4o-prod".into();
    llm.api_version = Some("2024-10-21".into());
    let (gateway, key, _tmp) = gateway_with(llm).await;
    let (status, answer) = ask(&gateway, &key).await;
    assert_eq!(status, 200, "{answer}");
    let calls = fake.azure_requests();
    assert_eq!(calls.len(), 1);
    assert_eq!(
        (calls[0].0.as_str(), calls[0].1.as_str()),
        ("gpt4o-prod", "2024-10-21")
    );
    assert!(
        !calls[0].2.is_empty(),
        "the key travels in the api-key header"
    );
}
