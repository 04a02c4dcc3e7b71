#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Hybrid retrieval with dense vectors from an OpenAI-compatible embeddings endpoint (the fake),
//! including retries on 429 with `Retry-After` and a clear error when the endpoint stays down.

mod common;

use common::{first_cited_uri, post_ask};
use ragway_ingest::embed::OpenAiEmbedderConfig;
use ragway_tests::fake_openai::{Failure, FakeOpenAi, FakeOptions};
use ragway_tests::harness::{Gateway, handbook_dir, test_config};
use serde_json::json;

fn embedder_config(fake: &FakeOpenAi) -> OpenAiEmbedderConfig {
    OpenAiEmbedderConfig {
        base_url: fake.base_url.clone(),
        model: "fake-embed".into(),
        dimensions: 256,
        api_key_env: None,
        send_dimensions: true,
        batch_size: 32,
        concurrency: 2,
        max_retries: 3,
        timeout_secs: 30,
        languages: Vec::new(),
    }
}

#[tokio::test]
async fn hybrid_retrieval_with_retried_embeddings() {
    let fake = FakeOpenAi::start(FakeOptions::default()).await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let mut config = test_config(tmp.path());
    config.embeddings = Some(embedder_config(&fake).into());
    let gateway = Gateway::start(config).await.unwrap();
    assert_eq!(gateway.state.store.dense_dimensions(), Some(256));
    let key = gateway.tenant_with_key("acme").await.unwrap();

    // Two rate-limited answers first: the sync must wait them out and succeed.
    fake.fail_embeddings(
        Failure {
            status: 429,
            retry_after_secs: Some(0),
        },
        2,
    );
    let report = gateway
        .sync("acme", "handbook", &handbook_dir())
        .await
        .unwrap();
    assert_eq!(report.failures, []);
    let batches = report.chunks_written.div_ceil(32);
    assert!(
        fake.embedding_requests() >= batches + 2,
        "{} requests for {batches} batches",
        fake.embedding_requests()
    );

    let (status, answer) = post_ask(
        &gateway.base_url,
        Some(&key),
        &json!({"question": "Which server address does the NorthGate client connect to?"}),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(first_cited_uri(&answer), "it/northgate-vpn-setup.md");

    // An endpoint that keeps failing: the documents are reported failed with a clear reason.
    let docs = tmp.path().join("more");
    std::fs::create_dir_all(&docs).unwrap();
    std::fs::write(
        docs.join("a.md"),
        "# Lathe\nThe lathe spindle needs grease weekly.\n",
    )
    .unwrap();
    fake.fail_embeddings(
        Failure {
            status: 500,
            retry_after_secs: Some(0),
        },
        100,
    );
    let report = gateway.sync("acme", "more", &docs).await.unwrap();
    assert_eq!(report.added, 0);
    assert_eq!(report.failures.len(), 1);
    assert!(
        report.failures[0]
            .reason
            .contains("failed after up to 3 retries"),
        "{}",
        report.failures[0].reason
    );
}

/// The query-embedding cache embeds a question once per tenant; the retrieval cache answers a
/// repeated query of the same index generation without searching; a sync that changes the
/// index starts afresh. Both count hits and misses on `/metrics`.
#[tokio::test]
async fn query_vectors_and_results_are_cached_per_tenant_and_generation() {
    let fake = FakeOpenAi::start(FakeOptions::default()).await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let mut config = test_config(&tmp.path().join("data"));
    config.embeddings = Some(embedder_config(&fake).into());
    let gateway = Gateway::start(config).await.unwrap();
    let key = gateway.tenant_with_key("acme").await.unwrap();
    let other = gateway.tenant_with_key("globex").await.unwrap();
    let docs = tmp.path().join("docs");
    ragway_tests::harness::copy_dir(&handbook_dir(), &docs).unwrap();
    gateway.sync("acme", "handbook", &docs).await.unwrap();
    gateway.sync("globex", "handbook", &docs).await.unwrap();
    let metric = |text: &str, series: &str| -> f64 {
        text.lines()
            .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
            .unwrap_or(0.0)
    };
    let metrics = || async { gateway.metrics().await.unwrap() };
    let ask = |key: String| {
        let url = gateway.base_url.clone();
        async move {
            // no-cache bypasses the answer cache only: retrieval still goes through its caches.
            let response = reqwest::Client::new()
                .post(format!("{url}/api/v1/ask"))
                .bearer_auth(key)
                .header("cache-control", "no-cache")
                .json(&json!({"question": "How do I connect to the VPN from home?"}))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200);
        }
    };

    let before = fake.embedding_requests();
    ask(key.clone()).await;
    assert_eq!(
        fake.embedding_requests(),
        before + 1,
        "the question is embedded once"
    );
    ask(key.clone()).await;
    assert_eq!(
        fake.embedding_requests(),
        before + 1,
        "then the results come from the cache"
    );
    let text = metrics().await;
    assert_eq!(
        metric(&text, "ragway_cache_hits_total{cache=\"retrieval\"}"),
        1.0
    );
    assert_eq!(
        metric(&text, "ragway_cache_misses_total{cache=\"retrieval\"}"),
        1.0
    );

    ask(other).await;
    assert_eq!(
        fake.embedding_requests(),
        before + 2,
        "another tenant embeds its own"
    );

    std::fs::write(
        docs.join("vpn-news.md"),
        "# VPN news\nThe VPN gateway moves next week.\n",
    )
    .unwrap();
    assert!(
        gateway
            .sync("acme", "handbook", &docs)
            .await
            .unwrap()
            .index_changed()
    );
    ask(key).await;
    let text = metrics().await;
    assert_eq!(
        metric(&text, "ragway_cache_misses_total{cache=\"retrieval\"}"),
        3.0,
        "a new generation is a miss"
    );
    assert_eq!(
        metric(&text, "ragway_cache_hits_total{cache=\"query_embedding\"}"),
        1.0,
        "the new generation still reuses the question's vector"
    );
    assert_eq!(
        metric(
            &text,
            "ragway_cache_misses_total{cache=\"query_embedding\"}"
        ),
        2.0
    );
}
