//! Running the `ragway` binary from a test (include it with `#[path = "common/binary.rs"] mod
//! binary;`): one command with a clean environment; runs to their end, or bounded (a hang fails the
//! test); spawned processes killed when dropped — and what every process writes to stderr (its
//! logs) kept in the test's [`ChildLogs`], scanned for secrets and question text when the test ends
//! (`tests/src/log_scan.rs`). The keys a run prints on stdout are registered for that scan.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub use ragway_tests::log_scan::{self, ChildLogs};

/// The binary with a clean environment: English output (`LANG=C.UTF-8`, no `LC_*`), ragway's
/// default log filter (no `RAGWAY_LOG`: the logs operators see are the ones scanned), no OpenAI
/// key and no `RAGWAY_CONFIG` from the caller's environment.
pub fn bare() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_ragway"));
    command
        .env_remove("OPENAI_API_KEY")
        .env_remove("RAGWAY_CONFIG")
        .env_remove("RAGWAY_LOG")
        .env_remove("LC_ALL")
        .env_remove("LC_MESSAGES")
        .env("LANG", "C.UTF-8");
    command
}

/// `ragway [--config <config>] --data-dir <data_dir> <args>`, run in `cwd` ([`bare`]'s environment).
pub fn command(config: Option<&Path>, data_dir: &Path, cwd: &Path, args: &[&str]) -> Command {
    let mut command = bare();
    if let Some(config) = config {
        command.arg("--config").arg(config);
    }
    command
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .current_dir(cwd);
    command
}

/// The run's name in reports: `ragway` and its subcommand (`ragway keys create`), never its free
/// arguments (a question, a path).
pub fn label(command: &Command) -> String {
    let mut words = vec!["ragway".to_owned()];
    let mut args = command.get_args().map(|arg| arg.to_string_lossy());
    while let Some(arg) = args.next() {
        let word = !arg.starts_with('-')
            && !arg.is_empty()
            && arg.chars().all(|c| c.is_ascii_lowercase() || c == '-');
        if arg == "--config" || arg == "--data-dir" {
            args.next();
        } else if arg.starts_with('-') && words.len() == 1 {
            // A global flag before the subcommand.
        } else if word && words.len() < 3 {
            words.push(arg.into_owned());
        } else {
            break;
        }
    }
    words.join(" ")
}

/// Keeps what a finished run wrote to stderr in `logs`, and registers the secrets it printed on
/// stdout (a new key) for the scan.
fn kept(logs: &ChildLogs, label: &str, output: Output) -> Output {
    log_scan::register_printed_secrets(&String::from_utf8_lossy(&output.stdout));
    logs.add(label, &output.stderr);
    output
}

/// Runs `command` to its end, output captured (see [`kept`]).
pub fn run(logs: &ChildLogs, command: &mut Command) -> Output {
    let label = label(command);
    kept(logs, &label, command.output().unwrap())
}

/// [`run`], but a run still going after `limit` (far beyond what it needs) is a hang: killed, and
/// the test fails.
pub async fn run_bounded(logs: &ChildLogs, command: &mut Command, limit: Duration) -> Output {
    use std::io::{Read, Seek};
    // Files, not pipes: a child writing more than a pipe holds would block, and look hung.
    let (mut out, mut err) = (tempfile::tempfile().unwrap(), tempfile::tempfile().unwrap());
    command
        .stdout(Stdio::from(out.try_clone().unwrap()))
        .stderr(Stdio::from(err.try_clone().unwrap()));
    let label = label(command);
    let mut running = Running(command.spawn().unwrap());
    let started = Instant::now();
    let status = loop {
        if let Some(status) = running.0.try_wait().unwrap() {
            break status;
        }
        // Failing drops `running`: the process is killed.
        assert!(
            started.elapsed() < limit,
            "`{label}` hung (still running after {limit:?})"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let read = |file: &mut std::fs::File| {
        let mut bytes = Vec::new();
        file.rewind().unwrap();
        file.read_to_end(&mut bytes).unwrap();
        bytes
    };
    let output = Output {
        status,
        stdout: read(&mut out),
        stderr: read(&mut err),
    };
    kept(logs, &label, output)
}

/// Its stdout when the run succeeded; fails the test with its stderr otherwise.
pub fn succeeded(output: &Output) -> String {
    assert!(
        output.status.success(),
        "ragway failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).unwrap()
}

/// A spawned `ragway`, killed (and reaped) if the test ends first.
pub struct Running(pub Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Spawns `command` with stdout discarded and stderr into `logs` as `label`.
pub fn spawn(logs: &ChildLogs, label: &str, command: &mut Command) -> Running {
    let stderr = logs.stderr(label).unwrap();
    Running(
        command
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .unwrap(),
    )
}

/// A free port on 127.0.0.1 (for `ragway serve --addr`).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits until `url` answers (a spawned server is up), at most 30 s; otherwise fails with what
/// the process `label` logged.
pub async fn wait_until_up(logs: &ChildLogs, label: &str, url: &str) {
    let client = reqwest::Client::new();
    let started = Instant::now();
    while client.get(url).send().await.is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{label} did not start ({url}):\n{}",
            logs.text(label)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
