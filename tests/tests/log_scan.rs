#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The log scan (tests/src/log_scan.rs) can fail: a secret or question planted in a log line at
//! info is caught (registered by the harness as it went by, or by its shape), and a test gateway
//! that stops with such a line in the logs fails its test. Also: a real question leaves none. And
//! the same for what a spawned process writes to stderr (`ChildLogs`, as the tests of the `ragway`
//! binary keep it). One process-wide log and registry, so these tests take turns.

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

/// Runs `sh`, which prints `stdout` on its stdout and `stderr` on its stderr (like a `ragway`
/// command: a new key for its user on stdout, logs on stderr).
fn child(stdout: &str, stderr: impl Into<std::process::Stdio>, logged: &str) -> String {
    let output = std::process::Command::new("sh")
        .args([
            "-c",
            r#"printf '%s\n' "$1"; printf '%s\n' "$2" >&2"#,
            "sh",
            stdout,
            logged,
        ])
        .stderr(stderr)
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    String::from_utf8(output.stdout).unwrap()
}

/// The stderr of spawned processes (`log_scan::ChildLogs`, what the tests of the `ragway` binary
/// use): a key a child printed on stdout is registered and not a finding there; the same key in
/// its stderr is, and so are a registered question (JSON-escaped, as the JSON logs print it), an
/// unregistered key-shaped string and a Slack token — behind colour codes, in a file given to
/// `Command::stderr` or in captured output — masked; and checking the logs fails the test.
#[tokio::test]
async fn leaks_in_the_stderr_of_a_spawned_process_are_caught() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let key = "rgw_chld0001_Zq8v3LmN5pR7sT9wX2yA4bC6dE8fG0hJ";
    let question = r#"Planted in a child: is the "night shift" badge door at the north gate?"#;
    log_scan::question(question);

    // A clean run: the new key on stdout (by design), nothing secret on stderr.
    let logs = log_scan::ChildLogs::new("log_scan: planted in a child").unwrap();
    let printed = child(
        &format!("created API key for tenant acme (shown once):\n{key}"),
        logs.stderr("clean child").unwrap(),
        "\u{1b}[32m INFO\u{1b}[0m ragway_gateway::cli: created key_id=rgw_chld0001 tenant=acme",
    );
    assert_eq!(log_scan::register_printed_secrets(&printed), 1);
    assert_eq!(logs.len(), 1);
    assert!(logs.text("clean child").contains("key_id=rgw_chld0001"));
    assert!(logs.findings().is_empty(), "{:#?}", logs.findings());

    // Leaks: in a file the child writes, and in output the test captured.
    let shaped = "rgw_zzzzchld_0123456789abcdef0123456789ABCDEF";
    let escaped = question.replace('"', "\\\"");
    child(
        "",
        logs.stderr("leaking child").unwrap(),
        &format!(
            "\u{1b}[33m WARN\u{1b}[0m auth: \u{1b}[3mkey\u{1b}[0m\u{1b}[2m=\u{1b}[0m{key}\n\
             {{\"level\":\"INFO\",\"fields\":{{\"question\":\"{escaped}\"}}}}\n\
             ERROR never registered, but shaped like a key: {shaped}"
        ),
    );
    let captured = std::process::Command::new("sh")
        .args([
            "-c",
            "echo 'WARN slack: token=xoxb-1234-5678-abcdefghij' >&2",
        ])
        .output()
        .unwrap();
    logs.add("captured child", &captured.stderr);

    let findings = logs.findings();
    let kinds: Vec<&str> = findings.iter().map(|f| f.kind.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "secret printed on stdout, API key (shape)",
            "question text",
            "API key (shape)",
            "Slack token (shape)"
        ],
        "{findings:#?}"
    );
    assert!(
        findings[0].line == "[leaking child]  WARN auth: key=<secret printed on stdout>",
        "masked, colour codes removed: {findings:#?}"
    );
    assert!(findings[1].line.starts_with("[leaking child] "));
    assert!(findings[3].line.starts_with("[captured child] "));
    assert!(
        findings
            .iter()
            .all(|f| !f.line.contains(key) && !f.line.contains(&escaped)),
        "{findings:#?}"
    );

    // Checking them fails the test, the secrets masked in the message; so does the drop.
    let message = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| logs.check()))
        .unwrap_err()
        .downcast_ref::<String>()
        .cloned()
        .unwrap_or_default();
    assert!(message.contains("4 line(s)"), "{message}");
    assert!(message.contains("contain a secret"), "{message}");
    assert!(!message.contains(key), "{message}");
    let dropped = log_scan::ChildLogs::new("log_scan: dropped").unwrap();
    dropped.add("child", format!("INFO {key}").as_bytes());
    assert!(std::panic::catch_unwind(move || drop(dropped)).is_err());
}
