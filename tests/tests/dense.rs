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
    }
}

#[tokio::test]
async fn hybrid_retrieval_with_retried_embeddings() {
    let fake = FakeOpenAi::start(FakeOptions::default()).await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let mut config = test_config(tmp.path());
    config.embeddings = Some(embedder_config(&fake));
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
