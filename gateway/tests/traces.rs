#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! OpenTelemetry traces end to end: the real `ragway` binary exports over OTLP/HTTP to a local
//! receiver. One question is one trace — continuing the caller's `traceparent` — whose request
//! span has the authentication, limits, cache, retrieval, grounding and LLM stages beneath it;
//! a sync is a trace of its own. Spans carry ids and metadata, never the question's text.

#[path = "common/binary.rs"]
mod binary;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use binary::{ChildLogs, command, free_port, log_scan, run, spawn, succeeded, wait_until_up};
use ragway_tests::fake_openai::{FakeOpenAi, FakeOptions};
use ragway_tests::otlp_receiver::{OtlpReceiver, ReceivedSpan};

const CALLER_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN: &str = "00f067aa0ba902b7";
/// The LLM key ragway reads from `TEST_LLM_KEY` (the fake accepts any).
const LLM_KEY: &str = "sk-test-traces-llm-key";

/// Runs a `ragway` command with `config`; its stdout when it succeeds.
fn ragway(logs: &ChildLogs, data: &Path, config: &Path, args: &[&str]) -> String {
    let cwd = data.parent().unwrap();
    succeeded(&run(
        logs,
        command(Some(config), data, cwd, args).env("TEST_LLM_KEY", LLM_KEY),
    ))
}

fn children<'a>(spans: &'a [ReceivedSpan], parent: &ReceivedSpan) -> Vec<&'a ReceivedSpan> {
    spans
        .iter()
        .filter(|s| s.parent_span_id == parent.span_id)
        .collect()
}

/// The one span named `name` among `spans`.
fn only<'a>(spans: &[&'a ReceivedSpan], name: &str) -> &'a ReceivedSpan {
    let found: Vec<_> = spans.iter().filter(|s| s.name == name).collect();
    assert_eq!(found.len(), 1, "one `{name}` span expected: {spans:#?}");
    found[0]
}

// Multi-threaded: the receiver keeps answering on the workers while the test waits for the
// `ragway` processes, which flush their spans to it before they exit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_question_is_one_trace_with_its_stages_and_a_sync_is_another() {
    let receiver = OtlpReceiver::start().await.unwrap();
    let llm = FakeOpenAi::start(FakeOptions {
        latency: Duration::from_millis(20),
        ..FakeOptions::default()
    })
    .await
    .unwrap();
    let logs = ChildLogs::new("traces: a_question_is_one_trace").unwrap();
    log_scan::secret("LLM API key", LLM_KEY);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let config = dir.path().join("ragway.toml");
    std::fs::write(
        &config,
        format!(
            "[telemetry]\notlp_endpoint = \"{}\"\nservice_name = \"ragway-under-test\"\n\n\
             [llm]\nbase_url = \"{}\"\nmodel = \"gpt-test\"\napi_key_env = \"TEST_LLM_KEY\"\n",
            receiver.endpoint, llm.base_url
        ),
    )
    .unwrap();
    let handbook = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/handbook/it");
    ragway(&logs, &data, &config, &["tenants", "create", "acme"]);
    // The CLI exports too: its spans are sent before the process exits.
    ragway(
        &logs,
        &data,
        &config,
        &["ingest", "--tenant", "acme", handbook.to_str().unwrap()],
    );
    let key = ragway(
        &logs,
        &data,
        &config,
        &["keys", "create", "--tenant", "acme"],
    )
    .lines()
    .last()
    .unwrap()
    .to_owned();

    let port = free_port();
    let serve = ["serve", "--addr", &format!("127.0.0.1:{port}")];
    let mut server = spawn(
        &logs,
        "ragway serve",
        command(Some(&config), &data, dir.path(), &serve).env("TEST_LLM_KEY", LLM_KEY),
    );
    let base = format!("http://127.0.0.1:{port}");
    wait_until_up(&logs, "ragway serve", &format!("{base}/readyz")).await;
    let client = reqwest::Client::new();
    let marker = "okapi-marmot-5521";
    let question = format!("How do I connect to the VPN {marker}?");
    log_scan::question(&question);
    let response = client
        .post(format!("{base}/api/v1/ask"))
        .bearer_auth(&key)
        .header("x-request-id", "req-trace-1")
        .header("traceparent", format!("00-{CALLER_TRACE}-{CALLER_SPAN}-01"))
        .json(&serde_json::json!({ "question": question }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let answer = response.text().await.unwrap();
    assert!(
        answer.contains("northgate-vpn-setup"),
        "cites the VPN guide: {answer}"
    );
    // A graceful stop sends what is still buffered.
    let stopped = Command::new("kill")
        .args(["-TERM", &server.0.id().to_string()])
        .status()
        .unwrap();
    assert!(stopped.success());
    assert!(server.0.wait().unwrap().success());

    let spans = receiver.spans();
    let log = logs.text("ragway serve");
    assert!(
        spans.iter().any(|s| s.name == "request"),
        "no request span exported; the server said:\n{log}"
    );
    assert!(
        spans.iter().all(|s| s.service == "ragway-under-test"),
        "service.name"
    );
    assert!(
        spans
            .iter()
            .all(|s| s.attributes.values().all(|v| !v.contains(marker))),
        "the question's text was exported: {spans:#?}"
    );

    // The question: one request span, a child of the caller's span, in the caller's trace.
    let requests: Vec<_> = spans
        .iter()
        .filter(|s| s.name == "request" && s.attribute("path") == Some("/api/v1/ask"))
        .collect();
    assert_eq!(requests.len(), 1, "{spans:#?}");
    let request = requests[0];
    assert_eq!(
        request.trace_id, CALLER_TRACE,
        "the caller's trace continues"
    );
    assert_eq!(request.parent_span_id, CALLER_SPAN);
    for (key, value) in [
        ("request_id", "req-trace-1"),
        ("tenant", "acme"),
        ("channel", "rest"),
        ("profile", "ragway"),
        ("status", "200"),
    ] {
        assert_eq!(request.attribute(key), Some(value), "{key}: {request:#?}");
    }
    let stages = children(&spans, request);
    for stage in ["auth", "limits", "cache", "retrieve", "ground", "llm"] {
        let span = only(&stages, stage);
        assert_eq!(span.trace_id, CALLER_TRACE, "{stage}");
    }
    assert_eq!(only(&stages, "retrieve").attribute("backend"), Some("edge"));
    let llm_span = only(&stages, "llm");
    let first_token: u64 = llm_span
        .attribute("time_to_first_token_ms")
        .expect("time to first token")
        .parse()
        .unwrap();
    let total: u64 = llm_span.attribute("total_ms").unwrap().parse().unwrap();
    assert!(
        first_token >= 20 && total >= first_token,
        "the fake LLM answers after 20 ms: {llm_span:#?}"
    );

    // The sync: a trace of its own, with its writes beneath it.
    let syncs: Vec<_> = spans.iter().filter(|s| s.name == "sync").collect();
    assert_eq!(syncs.len(), 1, "{spans:#?}");
    let sync = syncs[0];
    assert!(sync.parent_span_id.is_empty(), "a sync is a root span");
    assert_eq!(sync.attribute("tenant"), Some("acme"));
    assert_eq!(sync.attribute("kind"), Some("folder"));
    let upserts: Vec<_> = children(&spans, sync)
        .into_iter()
        .filter(|s| s.name == "upsert")
        .collect();
    assert!(!upserts.is_empty(), "{spans:#?}");
    assert!(
        upserts
            .iter()
            .all(|s| s.attribute("points").is_some_and(|p| p != "0"))
    );
    logs.check();
}
