#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! LLM resilience against the fake: time-to-first-token timeouts, fallback chains, Retry-After,
//! streams that die half-way, circuit breakers, and Azure OpenAI deployments.

mod common;

use std::time::Duration;

use common::{ask_stream, post_ask};
use ragway_gateway::config::{BreakerConfig, LlmConfig};
use ragway_tests::fake_openai::{Failure, FakeOpenAi, FakeOptions, StreamFault};
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

/// The total deadline holds once tokens flow: an answer still streaming when `timeout_secs` is
/// up ends with an error after the tokens it sent, and is not asked again.
#[tokio::test]
async fn an_answer_still_streaming_at_its_total_deadline_ends_with_an_error() {
    // ~30 words, one every 300 ms: the answer would take ~9 s.
    let fake = FakeOpenAi::start(FakeOptions {
        chunk_delay: Duration::from_millis(300),
        ..FakeOptions::default()
    })
    .await
    .unwrap();
    let mut llm = fake_llm_config(&fake.base_url, 2);
    llm.first_token_timeout_secs = 30;
    llm.timeout_secs = 2;
    let (gateway, key, _tmp) = gateway_with(llm).await;

    let events = ask_stream(&gateway.base_url, &key, QUESTION).await;
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    let deltas = names.iter().filter(|n| **n == "delta").count();
    // Tokens 300 ms apart each leave the 20 ms flush window on their own.
    assert!(deltas >= 2, "the first token and the held ones: {names:?}");
    assert!(!names.contains(&"done"), "{names:?}");
    assert_eq!(names.last(), Some(&"error"), "{names:?}");
    assert_eq!(events.last().unwrap().1["code"], "llm_unavailable");
    assert_eq!(fake.chat_requests().len(), 1, "never retried mid-answer");
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

// --- Malformed SSE from the LLM (issue 18) ---

/// A gateway whose answers are cached (a half-answer must never be), with `llm`.
async fn cached_gateway_with(llm: LlmConfig) -> (Gateway, String, tempfile::TempDir) {
    let tmp = tempfile::tempdir().unwrap();
    let mut config = test_config(tmp.path());
    config.llm = Some(llm);
    config.cache.enabled = true;
    let (gateway, key) = Gateway::with_handbook(config).await.unwrap();
    (gateway, key, tmp)
}

/// Fails the test instead of hanging it when a request never ends.
async fn bounded<T>(what: &str, future: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(60), future)
        .await
        .unwrap_or_else(|_| panic!("{what}: no answer within 60 s (hung)"))
}

/// `(status, data frames)` of a streamed `/v1/chat/completions` answer.
async fn completion_stream(gateway: &Gateway, key: &str, question: &str) -> (u16, Vec<String>) {
    let response = reqwest::Client::new()
        .post(format!("{}/v1/chat/completions", gateway.base_url))
        .bearer_auth(key)
        .json(&json!({"model": "ragway", "stream": true,
                      "messages": [{"role": "user", "content": question}]}))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let body = response.text().await.unwrap();
    let frames = body
        .lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .map(|d| d.trim_start().to_owned())
        .collect();
    (status, frames)
}

fn malformed_faults(after: usize) -> Vec<(&'static str, StreamFault)> {
    vec![
        ("not JSON", StreamFault::NotJson { after }),
        ("wrong shape", StreamFault::WrongShape { after }),
        (
            "huge line",
            StreamFault::HugeLine {
                after,
                bytes: 2 << 20,
            },
        ),
        ("invalid UTF-8", StreamFault::InvalidUtf8 { after }),
    ]
}

/// Garbage after the first tokens: the caller has those tokens, then a clear `error` event
/// (`llm_unavailable`; OpenAI's error shape on `/v1/chat/completions`), never `done`; the
/// endpoint is asked once (never retried mid-answer) and nothing is cached, so the same question
/// asked once the endpoint is healthy again reaches the LLM and is answered in full.
#[tokio::test]
async fn malformed_sse_after_the_first_tokens_is_an_error_never_a_cached_half_answer() {
    let fake = FakeOpenAi::start(FakeOptions::default()).await.unwrap();
    let (gateway, key, _tmp) = cached_gateway_with(fake_llm_config(&fake.base_url, 2)).await;
    let mut faults = malformed_faults(3);
    faults.push((
        "closed before finish_reason, without [DONE]",
        StreamFault::ClosedWithoutDone { finished: false },
    ));
    for (case, (name, fault)) in faults.into_iter().enumerate() {
        let question = format!("{QUESTION} (case {case})");
        fake.set_stream_fault(Some(fault));
        let calls = fake.chat_requests().len();

        let events = bounded(name, ask_stream(&gateway.base_url, &key, &question)).await;
        let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
        assert!(names.contains(&"sources"), "{name}: {names:?}");
        if !matches!(fault, StreamFault::ClosedWithoutDone { .. }) {
            assert!(names.contains(&"delta"), "{name}: tokens first: {names:?}");
        }
        assert!(!names.contains(&"done"), "{name}: {names:?}");
        assert_eq!(names.last(), Some(&"error"), "{name}: {names:?}");
        let error = &events.last().unwrap().1;
        assert_eq!(error["code"], "llm_unavailable", "{name}: {error}");
        assert!(
            error["message"]
                .as_str()
                .unwrap()
                .contains("the language model failed to answer"),
            "{name}: {error}"
        );
        assert_eq!(
            fake.chat_requests().len(),
            calls + 1,
            "{name}: never retried mid-answer"
        );

        let (status, frames) = bounded(name, completion_stream(&gateway, &key, &question)).await;
        assert_eq!(status, 200, "{name}");
        assert_eq!(frames.last().map(String::as_str), Some("[DONE]"), "{name}");
        let parsed: Vec<serde_json::Value> = frames[..frames.len() - 1]
            .iter()
            .map(|f| serde_json::from_str(f).unwrap())
            .collect();
        let error = parsed.last().unwrap();
        assert_eq!(error["error"]["type"], "api_error", "{name}: {error}");
        assert!(
            error["error"]["message"]
                .as_str()
                .unwrap()
                .contains("the language model failed to answer"),
            "{name}: {error}"
        );
        assert!(
            parsed
                .iter()
                .all(|c| c["choices"][0]["finish_reason"] != "stop"),
            "{name}: a failed answer never finishes: {frames:?}"
        );

        let (status, body) = bounded(
            name,
            post_ask(
                &gateway.base_url,
                Some(&key),
                &json!({"question": question}),
            ),
        )
        .await;
        assert_eq!(status, 502, "{name}: {body}");
        assert_eq!(body["error"]["code"], "llm_unavailable", "{name}: {body}");

        fake.set_stream_fault(None);
        let calls = fake.chat_requests().len();
        let (status, body) = post_ask(
            &gateway.base_url,
            Some(&key),
            &json!({"question": question}),
        )
        .await;
        assert_eq!(status, 200, "{name}: {body}");
        assert_eq!(body["cached"], false, "{name}: no half-answer was cached");
        assert_eq!(fake.chat_requests().len(), calls + 1, "{name}");
        assert!(body["answer"].as_str().unwrap().ends_with('.'), "{body}");
        let (_, again) = post_ask(
            &gateway.base_url,
            Some(&key),
            &json!({"question": question}),
        )
        .await;
        assert_eq!(again["cached"], true, "{name}: the full answer is cached");
    }
}

/// Garbage before the first token is a failed attempt like a 5xx: the next endpoint of
/// `fallbacks` answers in full; without one the caller gets 502 `llm_unavailable`.
#[tokio::test]
async fn malformed_sse_before_the_first_token_falls_back() {
    let broken = FakeOpenAi::start(FakeOptions::default()).await.unwrap();
    let healthy = FakeOpenAi::start(FakeOptions::default()).await.unwrap();
    let mut llm = fake_llm_config(&broken.base_url, 2);
    // Every case must reach the broken endpoint: its circuit stays closed.
    llm.circuit_breaker = BreakerConfig {
        failures: 1000,
        cooldown_secs: 1,
    };
    llm.fallbacks = vec![fake_llm_config(&healthy.base_url, 0)];
    let (gateway, key, _tmp) = gateway_with(llm).await;
    for (name, fault) in malformed_faults(0) {
        broken.set_stream_fault(Some(fault));
        let (broken_calls, healthy_calls) =
            (broken.chat_requests().len(), healthy.chat_requests().len());
        let events = bounded(name, ask_stream(&gateway.base_url, &key, QUESTION)).await;
        let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names.last(), Some(&"done"), "{name}: {names:?}");
        let (status, frames) = bounded(name, completion_stream(&gateway, &key, QUESTION)).await;
        assert_eq!(status, 200, "{name}");
        assert!(
            frames
                .iter()
                .any(|f| f.contains("\"finish_reason\":\"stop\"")),
            "{name}: {frames:?}"
        );
        assert_eq!(broken.chat_requests().len(), broken_calls + 2, "{name}");
        assert_eq!(healthy.chat_requests().len(), healthy_calls + 2, "{name}");
    }

    let (gateway, key, _tmp) = gateway_with(fake_llm_config(&broken.base_url, 2)).await;
    broken.set_stream_fault(Some(StreamFault::NotJson { after: 0 }));
    let (status, body) = bounded("no fallback", ask(&gateway, &key)).await;
    assert_eq!(status, 502, "{body}");
    assert_eq!(body["error"]["code"], "llm_unavailable", "{body}");
}

/// A stream that has its `finish_reason` (and usage) but closes without `[DONE]` is a complete
/// answer (some OpenAI-compatible servers end so): answered, cited and cached.
#[tokio::test]
async fn a_finished_stream_without_done_is_a_complete_answer() {
    let fake = FakeOpenAi::start(FakeOptions::default()).await.unwrap();
    let (gateway, key, _tmp) = cached_gateway_with(fake_llm_config(&fake.base_url, 0)).await;
    fake.set_stream_fault(Some(StreamFault::ClosedWithoutDone { finished: true }));
    let events = bounded("stream", ask_stream(&gateway.base_url, &key, QUESTION)).await;
    let (name, done) = events.last().unwrap();
    assert_eq!(name, "done", "{events:?}");
    assert_eq!(done["cached"], false);
    assert!(
        done["usage"]["completion_tokens"].as_u64().unwrap() > 0,
        "{done}"
    );
    let (status, body) = bounded("again", ask(&gateway, &key)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["cached"], true, "{body}");
    assert!(body["answer"].as_str().unwrap().contains("[1]"), "{body}");
    assert_eq!(fake.chat_requests().len(), 1);
}
