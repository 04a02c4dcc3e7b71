#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Request limits on both APIs: RateLimit headers on every answer, a 429 that names the limit and
//! says when to retry, per-user limits inside a tenant, and tenants that never share a budget.

use ragway_gateway::config::LimitsConfig;
use ragway_gateway::limits::LimitBackend;
use ragway_tests::harness::{Gateway, test_config};
use serde_json::{Value, json};

async fn ask(gateway: &Gateway, key: &str) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{}/api/v1/ask", gateway.base_url))
        .bearer_auth(key)
        .json(&json!({"question": "vpn"}))
        .send()
        .await
        .unwrap()
}

fn header(response: &reqwest::Response, name: &str) -> u64 {
    response.headers()[name].to_str().unwrap().parse().unwrap()
}

#[tokio::test]
async fn in_process_limits_are_announced_enforced_and_per_tenant() {
    announced_enforced_and_per_tenant(LimitBackend::Local).await;
}

/// The same contract with the state in Redis (127.0.0.1:6379, as on the dev machines and in CI).
#[tokio::test]
async fn redis_limits_are_announced_enforced_and_per_tenant() {
    announced_enforced_and_per_tenant(LimitBackend::Redis).await;
}

async fn announced_enforced_and_per_tenant(backend: LimitBackend) {
    let tmp = tempfile::tempdir().unwrap();
    let mut config = test_config(tmp.path());
    config.limits = LimitsConfig {
        backend,
        // A fresh key space per run, so reruns never see an old bucket.
        redis_key_prefix: format!(
            "ragway-test-{}",
            tmp.path().file_name().unwrap().to_string_lossy()
        ),
        requests_per_minute: 60,
        burst: 3,
        user_requests_per_minute: 0,
        user_burst: 0,
        ..LimitsConfig::default()
    };
    let gateway = Gateway::start(config).await.unwrap();
    let key = gateway.tenant_with_key("acme").await.unwrap();
    let other = gateway.tenant_with_key("globex").await.unwrap();

    for remaining in [2, 1, 0] {
        let response = ask(&gateway, &key).await;
        assert_eq!(response.status(), 200);
        assert_eq!(header(&response, "ratelimit-limit"), 60);
        assert_eq!(header(&response, "ratelimit-remaining"), remaining);
    }
    let refused = ask(&gateway, &key).await;
    assert_eq!(refused.status(), 429);
    let retry_after = header(&refused, "retry-after");
    assert!((1..=2).contains(&retry_after), "{retry_after}");
    assert_eq!(header(&refused, "ratelimit-remaining"), 0);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["code"], "rate_limited");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("tenant_requests"),
        "{body}"
    );
    assert!(body["error"]["request_id"].is_string());

    // The OpenAI-compatible route refuses in OpenAI's shape, with Retry-After.
    let response = reqwest::Client::new()
        .post(format!("{}/v1/chat/completions", gateway.base_url))
        .bearer_auth(&key)
        .json(&json!({"model": "ragway", "messages": [{"role": "user", "content": "vpn"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 429);
    assert!(header(&response, "retry-after") >= 1);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "rate_limit_exceeded");

    // Another tenant has its own allowance.
    assert_eq!(ask(&gateway, &other).await.status(), 200);
}

#[tokio::test]
async fn one_user_cannot_spend_the_whole_tenant() {
    let tmp = tempfile::tempdir().unwrap();
    let mut config = test_config(tmp.path());
    config.limits = LimitsConfig {
        requests_per_minute: 60,
        burst: 10,
        user_requests_per_minute: 60,
        user_burst: 2,
        ..LimitsConfig::default()
    };
    let gateway = Gateway::start(config).await.unwrap();
    let noisy = gateway.tenant_with_key("acme").await.unwrap();
    let quiet = gateway
        .state
        .catalog
        .create_api_key("acme", "quiet")
        .await
        .unwrap()
        .secret;
    assert_eq!(ask(&gateway, &noisy).await.status(), 200);
    assert_eq!(ask(&gateway, &noisy).await.status(), 200);
    let refused = ask(&gateway, &noisy).await;
    assert_eq!(refused.status(), 429);
    let body: Value = refused.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("user_requests"),
        "{body}"
    );
    assert_eq!(
        ask(&gateway, &quiet).await.status(),
        200,
        "the tenant still has allowance for others"
    );
}

#[tokio::test]
async fn a_tenant_has_a_bounded_number_of_answers_in_progress() {
    use ragway_tests::fake_openai::{FakeOpenAi, FakeOptions};
    let fake = FakeOpenAi::start(FakeOptions {
        chunk_delay: std::time::Duration::from_millis(40),
        ..FakeOptions::default()
    })
    .await
    .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let mut config = test_config(tmp.path());
    config.llm = Some(ragway_tests::harness::fake_llm_config(&fake.base_url, 0));
    config.limits = LimitsConfig {
        max_concurrent_streams: 1,
        ..LimitsConfig::default()
    };
    let (gateway, key) = Gateway::with_handbook(config).await.unwrap();
    let question = json!({"question": "Which server address does the NorthGate client connect to?", "stream": true});

    let first = reqwest::Client::new()
        .post(format!("{}/api/v1/ask", gateway.base_url))
        .bearer_auth(&key)
        .json(&question)
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), 200, "the first answer is streaming");
    let second = ask(&gateway, &key).await;
    assert_eq!(second.status(), 429);
    let body: Value = second.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("concurrent_streams"),
        "{body}"
    );

    assert!(first.text().await.unwrap().contains("event: done"));
    assert_eq!(
        ask(&gateway, &key).await.status(),
        200,
        "the slot is free once the stream ended"
    );
}
