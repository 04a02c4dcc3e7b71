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

/// A configuration whose LLM (a fake, kept alive by the returned handle) streams its answer
/// slowly, so a first answer is still in progress while the test asks again.
async fn slow_llm_config(
    data_dir: &std::path::Path,
) -> (
    ragway_tests::fake_openai::FakeOpenAi,
    ragway_gateway::config::Config,
) {
    use ragway_tests::fake_openai::{FakeOpenAi, FakeOptions};
    let fake = FakeOpenAi::start(FakeOptions {
        chunk_delay: std::time::Duration::from_millis(40),
        ..FakeOptions::default()
    })
    .await
    .unwrap();
    let mut config = test_config(data_dir);
    config.llm = Some(ragway_tests::harness::fake_llm_config(&fake.base_url, 0));
    (fake, config)
}

/// A streamed answer that has started (its body not read yet).
async fn start_streaming(gateway: &Gateway, key: &str) -> reqwest::Response {
    let first = reqwest::Client::new()
        .post(format!("{}/api/v1/ask", gateway.base_url))
        .bearer_auth(key)
        .json(&json!({"question": "Which server address does the NorthGate client connect to?", "stream": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), 200, "the first answer is streaming");
    first
}

/// The first answered question within a second of asking again every 20 ms: a slot held by an
/// answer is freed as its stream is dropped, just after its last byte.
async fn answered_once_free(gateway: &Gateway, key: &str) -> Option<reqwest::Response> {
    for _ in 0..50 {
        let response = ask(gateway, key).await;
        if response.status() == 200 {
            return Some(response);
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    None
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
        .core
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
    bounded_answers_in_progress(LimitBackend::Local).await;
}

/// With Redis the slots are leases shared by every replica.
#[tokio::test]
async fn redis_bounds_answers_in_progress_across_replicas() {
    bounded_answers_in_progress(LimitBackend::Redis).await;
}

async fn bounded_answers_in_progress(backend: LimitBackend) {
    let tmp = tempfile::tempdir().unwrap();
    let (_fake, mut config) = slow_llm_config(tmp.path()).await;
    config.limits = LimitsConfig {
        backend,
        redis_key_prefix: format!(
            "ragway-test-{}",
            tmp.path().file_name().unwrap().to_string_lossy()
        ),
        max_concurrent_streams: 1,
        ..LimitsConfig::default()
    };
    let (gateway, key) = Gateway::with_handbook(config).await.unwrap();
    let first = start_streaming(&gateway, &key).await;
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
    assert!(
        answered_once_free(&gateway, &key).await.is_some(),
        "the slot is free once the stream ended"
    );
}

/// A TCP relay to the local Redis that the test can cut, as a network failure would.
struct RedisRelay {
    url: String,
    accept: tokio::task::JoinHandle<()>,
    links: std::sync::Arc<std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl RedisRelay {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("redis://{}", listener.local_addr().unwrap());
        let links = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let held = std::sync::Arc::clone(&links);
        let accept = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let link = tokio::spawn(async move {
                    if let Ok(mut redis) = tokio::net::TcpStream::connect("127.0.0.1:6379").await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut redis).await;
                    }
                });
                held.lock().unwrap().push(link);
            }
        });
        Self { url, accept, links }
    }

    fn cut(&self) {
        self.accept.abort();
        for link in self.links.lock().unwrap().drain(..) {
            link.abort();
        }
    }
}

/// When Redis goes away at runtime, the configured policy decides — admit (fail-open) or refuse
/// with a 429 naming `limiter_unavailable` (fail-closed) — promptly, and every such decision is
/// counted on `/metrics`.
#[tokio::test]
async fn losing_redis_follows_the_fail_policy() {
    use ragway_gateway::limits::FailPolicy;
    for policy in [FailPolicy::Open, FailPolicy::Closed] {
        let relay = RedisRelay::start().await;
        let tmp = tempfile::tempdir().unwrap();
        let mut config = test_config(tmp.path());
        config.limits = LimitsConfig {
            backend: LimitBackend::Redis,
            redis_url: relay.url.clone(),
            redis_key_prefix: format!(
                "ragway-test-{}",
                tmp.path().file_name().unwrap().to_string_lossy()
            ),
            redis_timeout_ms: 200,
            on_backend_error: policy,
            ..LimitsConfig::default()
        };
        let gateway = Gateway::start(config).await.unwrap();
        let key = gateway.tenant_with_key("acme").await.unwrap();
        let before = ask(&gateway, &key).await;
        assert_eq!(before.status(), 200);
        assert!(before.headers().contains_key("ratelimit-remaining"));

        relay.cut();
        for _ in 0..3 {
            let response = ask(&gateway, &key).await;
            match policy {
                FailPolicy::Open => {
                    assert_eq!(response.status(), 200, "fail-open admits");
                    assert!(!response.headers().contains_key("ratelimit-remaining"));
                }
                FailPolicy::Closed => {
                    assert_eq!(response.status(), 429, "fail-closed refuses");
                    assert!(response.headers().contains_key("retry-after"));
                    let body: Value = response.json().await.unwrap();
                    let message = body["error"]["message"].as_str().unwrap();
                    assert!(message.contains("limiter_unavailable"), "{message}");
                }
            }
        }
        let metrics = gateway.metrics().await.unwrap();
        let errors: f64 = metrics
            .lines()
            .find_map(|l| l.strip_prefix("ragway_limiter_backend_errors_total "))
            .unwrap()
            .parse()
            .unwrap();
        assert!(errors >= 3.0, "{policy:?}: {errors} backend errors counted");
    }
}

/// `server.max_answers_in_flight` bounds the answers the whole process works on, across tenants:
/// past it a question is refused at once with 503, `Retry-After` and the `overloaded` code (in
/// each API's own error shape), spending none of the tenant's request allowance.
#[tokio::test]
async fn past_its_capacity_the_server_refuses_at_once_with_503() {
    let tmp = tempfile::tempdir().unwrap();
    let (_fake, mut config) = slow_llm_config(tmp.path()).await;
    config.server.max_answers_in_flight = 1;
    config.limits = LimitsConfig {
        // Slow enough that the allowance does not refill while the test runs.
        requests_per_minute: 1,
        burst: 10,
        ..LimitsConfig::unlimited()
    };
    let (gateway, key) = Gateway::with_handbook(config).await.unwrap();
    let other_tenant = gateway.tenant_with_key("globex").await.unwrap();
    let first = start_streaming(&gateway, &key).await;

    let native = ask(&gateway, &other_tenant).await;
    assert_eq!(
        native.status(),
        503,
        "the bound is the server's, not the tenant's"
    );
    assert_eq!(header(&native, "retry-after"), 1);
    let body: Value = native.json().await.unwrap();
    assert_eq!(body["error"]["code"], "overloaded", "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("at capacity (answers in progress: 1, its maximum)"),
        "{body}"
    );
    let openai = reqwest::Client::new()
        .post(format!("{}/v1/chat/completions", gateway.base_url))
        .bearer_auth(&key)
        .json(&json!({"model": "ragway", "messages": [{"role": "user", "content": "vpn"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(openai.status(), 503);
    assert_eq!(header(&openai, "retry-after"), 1);
    let body: Value = openai.json().await.unwrap();
    assert_eq!(body["error"]["type"], "server_error", "{body}");
    assert_eq!(body["error"]["code"], "overloaded", "{body}");
    // Refusing is the server working as designed: counted, not logged as a failure per request.
    assert_eq!(
        ragway_tests::log_scan::lines_with(&["request failed", "503"]),
        0
    );
    let metrics = gateway.metrics().await.unwrap();
    assert!(metrics.contains("ragway_answers_in_flight 1"), "{metrics}");
    assert!(
        metrics.contains("ragway_capacity_refusals_total 2"),
        "{metrics}"
    );

    assert!(first.text().await.unwrap().contains("event: done"));
    let answered = answered_once_free(&gateway, &key)
        .await
        .expect("the place is free once the stream ended");
    // The first question and this one: the refused ones spent none of the tenant's allowance.
    assert_eq!(header(&answered, "ratelimit-remaining"), 8);
}
