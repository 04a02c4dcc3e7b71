#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The log scan (tests/src/log_scan.rs) can fail: a secret or question planted in a log line at
//! info is caught (registered by the harness as it went by, or by its shape), and a test gateway
//! that stops with such a line in the logs fails its test. Also: a real question leaves none.
//! One process-wide log, so these tests take turns.

use ragway_tests::harness::{Gateway, test_config};
use ragway_tests::log_scan;
use serde_json::json;

static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const QUESTION: &str = "Which server address does the NorthGate client connect to?";

async fn ask(gateway: &Gateway, key: &str, question: &str) -> u16 {
    reqwest::Client::new()
        .post(format!("{}/api/v1/ask", gateway.base_url))
        .bearer_auth(key)
        .json(&json!({"question": question}))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn a_real_question_leaves_no_secret_or_question_in_the_logs() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let (gateway, key) = Gateway::with_handbook(test_config(dir.path()))
        .await
        .unwrap();
    let (lines_before, _) = log_scan::line_count();
    assert_eq!(ask(&gateway, &key, QUESTION).await, 200);
    let (lines_after, dropped) = log_scan::line_count();
    assert!(
        lines_after > lines_before,
        "the request was logged ({lines_before} → {lines_after} lines): the subscriber records"
    );
    assert_eq!(dropped, 0);
    let findings = log_scan::findings();
    assert!(findings.is_empty(), "{findings:#?}");
    gateway.shutdown().await;
}

#[tokio::test]
async fn secrets_and_questions_planted_in_the_logs_are_caught() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let gateway = Gateway::start(test_config(dir.path())).await.unwrap();
    let key = gateway.tenant_with_key("acme").await.unwrap();
    // The harness saw the question go by (the request body) and the key (the test's and the header).
    let question = "Planted: what is the NorthGate VPN address of the Zaragoza plant?";
    ask(&gateway, &key, question).await;
    assert!(log_scan::findings().is_empty(), "nothing leaked yet");

    tracing::info!(target: "ragway_gateway::planted", key = %key, "a key planted at info");
    tracing::info!(target: "ragway_gateway::planted", "asked: {question}");
    let shaped = "rgw_zzzzzzzz_0123456789abcdef0123456789ABCDEF";
    tracing::warn!(target: "ragway_gateway::planted", "never registered, but shaped like a key: {shaped}");
    let span = tracing::info_span!(target: "ragway_gateway::planted", "request", slack_secret = "shh-a-signing-secret");
    log_scan::secret("Slack signing secret", "shh-a-signing-secret");
    // Below info: not what the scan covers (debug logging is an explicit opt-in).
    tracing::debug!(target: "ragway_gateway::planted", "debug: {question}");
    drop(span);

    let findings = log_scan::take_findings();
    let kinds: Vec<&str> = findings.iter().map(|f| f.kind.as_str()).collect();
    assert_eq!(findings.len(), 4, "{findings:#?}");
    assert!(kinds.iter().any(|k| k.contains("API key")), "{kinds:?}");
    assert!(
        kinds.iter().any(|k| k.contains("question text")),
        "{kinds:?}"
    );
    assert!(kinds.contains(&"API key (shape)"), "{kinds:?}");
    assert!(kinds.contains(&"Slack signing secret"), "{kinds:?}");
    // The report masks what it found.
    assert!(
        findings
            .iter()
            .all(|f| !f.line.contains(&key) && !f.line.contains(question)),
        "{findings:#?}"
    );
    assert!(log_scan::take_findings().is_empty(), "reported once");

    // A gateway that stops with a leak in the logs fails its test.
    tracing::info!(target: "ragway_gateway::planted", "again {key}");
    let stopped = tokio::spawn(async move { gateway.shutdown().await }).await;
    let message = stopped.unwrap_err().into_panic();
    let message = message
        .downcast_ref::<String>()
        .cloned()
        .unwrap_or_default();
    assert!(message.contains("contain a secret"), "{message}");
    assert!(!message.contains(&key), "{message}");
}
