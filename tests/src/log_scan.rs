//! Secrets and question text never reach the logs (issue 18): every in-process test gateway
//! (`harness::Gateway`) installs, once per test process, a `tracing` subscriber with ragway's
//! default filter (`info,sqlx=warn,qdrant_edge=error`) that keeps every line it would print — events
//! with the fields of the spans around them, and the spans themselves (what the OTLP exporter
//! sends). The harness and the fakes register every secret they create or see go by (API and admin
//! keys, bearer tokens, widget identity and session tokens, Slack signing secrets and bot tokens,
//! Bot Framework app secrets and tokens) and the text of every question a test sends. A registered
//! string in a line — or anything shaped like a ragway key, a Slack token or a JWT — is a finding;
//! findings fail the test whose gateway stops next (`Gateway::shutdown` or its drop).
//!
//! Tests that spawn the `ragway` binary keep what each process writes to stderr (where its logs go,
//! at its default filter) in a [`ChildLogs`]; at the end of the test (its `check` or drop) every
//! line is scanned the same way, with what is registered by then — the test registers what the
//! binary itself created and printed on stdout ([`register_printed_secrets`]) and the questions
//! it asked. Stdout is not scanned: that is where the CLI hands a new key to its user.
//!
//! `LOG_SCAN_SUMMARY=1 cargo test … -- --nocapture` prints the running totals at each check.
//!
//! Lines of the test support itself (`ragway_tests::…`: the fakes) are kept but not scanned.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::subscriber::Interest;
use tracing::{Event, Level, Metadata, Subscriber};

/// Shorter registered strings are ignored (they would match by chance).
const MIN_SECRET_LEN: usize = 8;
/// Questions shorter than this are too likely to occur in a line by chance ("VPN?").
const MIN_QUESTION_LEN: usize = 16;
/// At most this many lines are kept (a runaway test must not exhaust memory).
const MAX_LINES: usize = 2_000_000;

/// A registered string or a secret-shaped token found in a log line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// What was found: the kind of registered secret (`api key`, `question`, …) or of pattern.
    pub kind: String,
    /// The line, the secret masked.
    pub line: String,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} in: {}", self.kind, self.line)
    }
}

#[derive(Default)]
struct Logs {
    lines: Vec<Line>,
    secrets: Vec<(&'static str, String)>,
    /// Lines and secrets already compared with each other.
    scanned_lines: usize,
    scanned_secrets: usize,
    findings: Vec<Finding>,
    dropped: usize,
}

struct Line {
    text: String,
    /// A line of the test support (the fakes), not of ragway.
    support: bool,
}

fn logs() -> MutexGuard<'static, Logs> {
    static LOGS: OnceLock<Mutex<Logs>> = OnceLock::new();
    LOGS.get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
}

static INSTALLED: OnceLock<bool> = OnceLock::new();

/// Installs the recording subscriber as the process's global default, once. False when another
/// global subscriber was there first (then nothing is recorded).
pub fn install() -> bool {
    *INSTALLED.get_or_init(|| tracing::subscriber::set_global_default(Recorder::default()).is_ok())
}

/// Registers a secret: any line containing it is a finding.
pub fn secret(kind: &'static str, value: &str) {
    let value = value.trim();
    if value.len() >= MIN_SECRET_LEN {
        let mut logs = logs();
        if !logs.secrets.iter().any(|(_, s)| s == value) {
            logs.secrets.push((kind, value.to_owned()));
        }
    }
}

/// Registers the text of a question a test sends (also without a leading `<@U…>`/`<at>…</at>`
/// mention, as the channels strip it).
pub fn question(text: &str) {
    let text = text.trim();
    let mut variants = vec![text.to_owned()];
    for (open, close) in [("<@", ">"), ("<at>", "</at>")] {
        if let Some(rest) = text.strip_prefix(open)
            && let Some(end) = rest.find(close)
        {
            variants.push(rest[end + close.len()..].trim().to_owned());
        }
    }
    for variant in variants {
        if variant.chars().count() >= MIN_QUESTION_LEN {
            let mut logs = logs();
            if !logs.secrets.iter().any(|(_, s)| *s == variant) {
                logs.secrets.push(("question text", variant));
            }
        }
    }
}

/// How many lines were recorded (and dropped beyond the cap) so far.
pub fn line_count() -> (usize, usize) {
    let logs = logs();
    (logs.lines.len(), logs.dropped)
}

/// How many of the lines recorded so far contain every one of `needles` (what a test checks is,
/// or is not, logged).
pub fn lines_with(needles: &[&str]) -> usize {
    let logs = logs();
    logs.lines
        .iter()
        .filter(|line| needles.iter().all(|n| line.text.contains(n)))
        .count()
}

/// How many secrets and questions are registered.
pub fn registered() -> usize {
    logs().secrets.len()
}

/// Scans what is new (lines, secrets) and returns the findings not taken yet.
pub fn findings() -> Vec<Finding> {
    let mut logs = logs();
    scan(&mut logs);
    logs.findings.clone()
}

/// Scans and takes the findings (they are reported once).
pub fn take_findings() -> Vec<Finding> {
    let mut logs = logs();
    scan(&mut logs);
    std::mem::take(&mut logs.findings)
}

/// Fails the calling test when a line contains a registered secret or question, or a secret-shaped
/// token (called when a test gateway stops; not while the test is failing already).
#[allow(clippy::panic)] // Test support: failing the test is the point.
pub fn fail_on_leaks() {
    if std::thread::panicking() {
        return;
    }
    let findings = take_findings();
    if std::env::var_os("LOG_SCAN_SUMMARY").is_some() {
        let (lines, dropped) = line_count();
        eprintln!(
            "log scan: {lines} lines ({dropped} dropped), {} secrets and questions registered, {} findings",
            registered(),
            findings.len()
        );
    }
    if !findings.is_empty() {
        let shown: Vec<String> = findings.iter().take(20).map(ToString::to_string).collect();
        panic!(
            "{} log line(s) of this test process (this test's, or one running beside it) contain a secret \
             or question text (tests/src/log_scan.rs):\n{}",
            findings.len(),
            shown.join("\n")
        );
    }
}

/// Registers every secret-shaped token in `text` — what a spawned `ragway` printed to its user on
/// stdout, e.g. the key `ragway keys create` made — and returns how many it found. (Stdout is where
/// the CLI hands a new key to the operator, by design; the same key in a log line is a leak.)
pub fn register_printed_secrets(text: &str) -> usize {
    let token = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.');
    let mut found = 0;
    for word in text.split(|c: char| !token(c)) {
        let word = word.trim_end_matches(['.', '-']);
        if !shaped_secrets(word).is_empty() {
            secret("secret printed on stdout", word);
            found += 1;
        }
    }
    found
}

/// Scans what a child process wrote (its stderr: ragway's logs) with the registered secrets and
/// questions and the secret shapes, one line at a time (colour codes removed first). Each finding's
/// line starts with `[label]`, the secret masked.
pub fn scan_output(label: &str, text: &str) -> Vec<Finding> {
    let secrets = logs().secrets.clone();
    let plain = strip_ansi(text);
    plain
        .lines()
        .filter(|line| !line.trim().is_empty())
        .take(MAX_LINES)
        .filter_map(|line| finding(line, &secrets, true))
        .map(|finding| Finding {
            line: format!("[{label}] {}", finding.line),
            ..finding
        })
        .collect()
}

/// `text` without ANSI escape sequences (`ESC [ … final byte`), which colour a terminal log.
fn strip_ansi(text: &str) -> String {
    let mut plain = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            if chars.peek() == Some(&'[') {
                chars.next();
                for c in chars.by_ref() {
                    if ('\u{40}'..='\u{7e}').contains(&c) {
                        break;
                    }
                }
            }
        } else {
            plain.push(c);
        }
    }
    plain
}

/// Numbers the directories of [`ChildLogs`].
static CHILD_DIRS: AtomicU64 = AtomicU64::new(0);

/// What the processes one test spawns (the `ragway` binary) write to stderr, scanned at the end of
/// the test like the in-process logs: [`ChildLogs::stderr`] gives a file for `Command::stderr`,
/// [`ChildLogs::add`] takes what `Command::output` captured. [`ChildLogs::check`] — or the drop, at
/// the end of the test — scans it all with the secrets and questions registered by then (register
/// what the test creates before: keys the binary printed, see [`register_printed_secrets`]) and
/// panics with the findings, masked. Stdout is not taken: ragway logs to stderr, and stdout is
/// where the CLI prints a new key to its user.
pub struct ChildLogs {
    test: String,
    dir: PathBuf,
    outputs: Mutex<Vec<ChildOutput>>,
    checked: bool,
}

struct ChildOutput {
    label: String,
    captured: Captured,
}

enum Captured {
    /// What the test captured (`Output::stderr`).
    Text(String),
    /// The file the child writes.
    File(PathBuf),
}

impl ChildOutput {
    fn text(&self) -> String {
        match &self.captured {
            Captured::Text(text) => text.clone(),
            Captured::File(path) => std::fs::read(path)
                .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
                .unwrap_or_default(),
        }
    }
}

impl ChildLogs {
    /// The logs of the processes `test` spawns; their files go in a fresh temporary directory.
    pub fn new(test: &str) -> std::io::Result<Self> {
        let dir = std::env::temp_dir().join(format!(
            "ragway-child-logs-{}-{}",
            std::process::id(),
            CHILD_DIRS.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir)?;
        Ok(Self {
            test: test.to_owned(),
            dir,
            outputs: Mutex::default(),
            checked: false,
        })
    }

    fn outputs(&self) -> MutexGuard<'_, Vec<ChildOutput>> {
        self.outputs.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A new file for the stderr of the child `label` (`Command::stderr(file)`), scanned at the check.
    pub fn stderr(&self, label: &str) -> std::io::Result<std::fs::File> {
        let mut outputs = self.outputs();
        let name: String = label
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .take(40)
            .collect();
        let path = self.dir.join(format!("{:04}-{name}.log", outputs.len()));
        let file = std::fs::File::create(&path)?;
        outputs.push(ChildOutput {
            label: label.to_owned(),
            captured: Captured::File(path),
        });
        Ok(file)
    }

    /// What a child `label` wrote to stderr, captured by the test (`Output::stderr`).
    pub fn add(&self, label: &str, stderr: &[u8]) {
        self.outputs().push(ChildOutput {
            label: label.to_owned(),
            captured: Captured::Text(String::from_utf8_lossy(stderr).into_owned()),
        });
    }

    /// What the children labelled `label` wrote so far (for a test's own asserts and messages).
    pub fn text(&self, label: &str) -> String {
        self.outputs()
            .iter()
            .filter(|output| output.label == label)
            .map(ChildOutput::text)
            .collect()
    }

    /// How many outputs are kept.
    pub fn len(&self) -> usize {
        self.outputs().len()
    }

    /// Whether nothing is kept yet.
    pub fn is_empty(&self) -> bool {
        self.outputs().is_empty()
    }

    /// Scans every output with what is registered now.
    pub fn findings(&self) -> Vec<Finding> {
        self.outputs()
            .iter()
            .flat_map(|output| scan_output(&output.label, &output.text()))
            .collect()
    }

    /// Scans every output and fails the test on a finding (the drop does the same).
    pub fn check(mut self) {
        self.verify();
    }

    #[allow(clippy::panic)] // Test support: failing the test is the point.
    fn verify(&mut self) {
        self.checked = true;
        let findings = self.findings();
        if std::env::var_os("LOG_SCAN_SUMMARY").is_some() {
            let outputs = self.outputs();
            let lines: usize = outputs.iter().map(|o| o.text().lines().count()).sum();
            eprintln!(
                "log scan ({}): stderr of {} spawned processes, {lines} lines, {} secrets and \
                 questions registered, {} findings",
                self.test,
                outputs.len(),
                registered(),
                findings.len()
            );
        }
        if !findings.is_empty() {
            let shown: Vec<String> = findings.iter().take(20).map(ToString::to_string).collect();
            panic!(
                "{} line(s) the processes spawned by {} wrote to stderr contain a secret or \
                 question text (tests/src/log_scan.rs):\n{}",
                findings.len(),
                self.test,
                shown.join("\n")
            );
        }
    }
}

impl Drop for ChildLogs {
    fn drop(&mut self) {
        // The files go also when the check fails.
        let _cleanup = Cleanup(self.dir.clone());
        if !self.checked && !std::thread::panicking() {
            self.verify();
        }
    }
}

/// Removes a directory when dropped (also while a panic unwinds).
struct Cleanup(PathBuf);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn scan(logs: &mut Logs) {
    let (old_lines, old_secrets) = (logs.scanned_lines, logs.scanned_secrets);
    let mut found = Vec::new();
    for (index, line) in logs.lines.iter().enumerate() {
        if line.support {
            continue;
        }
        let new_line = index >= old_lines;
        let secrets = if new_line {
            &logs.secrets[..]
        } else {
            &logs.secrets[old_secrets..]
        };
        found.extend(finding(&line.text, secrets, new_line));
    }
    logs.scanned_lines = logs.lines.len();
    logs.scanned_secrets = logs.secrets.len();
    logs.findings.extend(found);
}

/// The finding in one line, if any: the registered strings it contains (also as `Debug` and JSON
/// print them, escaped), masked, and — when `shapes` — the secret-shaped tokens.
fn finding(line: &str, secrets: &[(&'static str, String)], shapes: bool) -> Option<Finding> {
    let mut masked: Option<String> = None;
    let mut kinds = Vec::new();
    for (kind, secret) in secrets {
        let escaped = format!("{secret:?}");
        let escaped = &escaped[1..escaped.len() - 1];
        let forms: &[&str] = if escaped == secret {
            &[secret.as_str()]
        } else {
            &[secret.as_str(), escaped]
        };
        for form in forms {
            if line.contains(form) {
                if !kinds.iter().any(|k| k == kind) {
                    kinds.push((*kind).to_owned());
                }
                let text = masked.get_or_insert_with(|| line.to_owned());
                *text = text.replace(form, &format!("<{kind}>"));
            }
        }
    }
    if shapes {
        for kind in shaped_secrets(line) {
            kinds.push(kind.to_owned());
        }
    }
    (!kinds.is_empty()).then(|| Finding {
        kind: kinds.join(", "),
        line: masked.unwrap_or_else(|| line.to_owned()),
    })
}

/// The kinds of secret-shaped tokens in `text`: a whole ragway API or admin key
/// (`rgw_<id>_<secret>`, `rgwadm_<id>_<secret>`; the id alone is fine), a Slack token (`xoxb-…`), a
/// JWT (`eyJ….eyJ…`), a widget session token (`v1.eyJ…`).
pub fn shaped_secrets(text: &str) -> Vec<&'static str> {
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'-';
    let bytes = text.as_bytes();
    let run = |from: usize, ok: &dyn Fn(u8) -> bool| {
        bytes[from.min(bytes.len())..]
            .iter()
            .take_while(|b| ok(**b))
            .count()
    };
    let mut kinds = Vec::new();
    for (prefix, kind) in [
        ("rgwadm_", "admin key (shape)"),
        ("rgw_", "API key (shape)"),
    ] {
        for (at, _) in text.match_indices(prefix) {
            let start = at + prefix.len();
            let id = run(start, &|b: u8| b.is_ascii_alphanumeric());
            let after = start + id;
            if id >= 4 && bytes.get(after) == Some(&b'_') {
                let secret = run(after + 1, &|b: u8| b.is_ascii_alphanumeric());
                if secret >= 16 && !kinds.contains(&kind) {
                    kinds.push(kind);
                }
            }
        }
    }
    for prefix in ["xoxb-", "xoxp-", "xoxa-", "xoxe-", "xapp-"] {
        if text
            .match_indices(prefix)
            .any(|(at, _)| run(at + prefix.len(), &word) >= 10)
        {
            kinds.push("Slack token (shape)");
            break;
        }
    }
    for (at, _) in text.match_indices("eyJ") {
        let header = run(at, &word);
        if header >= 10
            && bytes.get(at + header) == Some(&b'.')
            && run(at + header + 1, &word) >= 10
        {
            let preceded_by_v1 = at >= 3 && &bytes[at - 3..at] == b"v1.";
            kinds.push(if preceded_by_v1 {
                "widget session token (shape)"
            } else {
                "JWT (shape)"
            });
            break;
        }
    }
    kinds
}

fn record(text: String, target: &str) {
    let mut logs = logs();
    if logs.lines.len() >= MAX_LINES {
        logs.dropped += 1;
        return;
    }
    logs.lines.push(Line {
        text,
        support: target.starts_with("ragway_tests"),
    });
}

/// ragway's default filter (`gateway/src/telemetry.rs`): `info,sqlx=warn,qdrant_edge=error`.
fn enabled(metadata: &Metadata<'_>) -> bool {
    let target = metadata.target();
    let max = if target.starts_with("sqlx") {
        Level::WARN
    } else if target.starts_with("qdrant_edge") {
        Level::ERROR
    } else {
        Level::INFO
    };
    *metadata.level() <= max
}

/// Fields as the text formatter prints them (strings unquoted, so nothing hides behind escaping).
#[derive(Default)]
struct Fields(String);

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.push(field, value);
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.push(field, &format!("{value:?}"));
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        let mut text = value.to_string();
        let mut source = value.source();
        while let Some(cause) = source {
            let _ = write!(text, ": {cause}");
            source = cause.source();
        }
        self.push(field, &text);
    }
}

impl Fields {
    fn push(&mut self, field: &Field, value: &str) {
        if !self.0.is_empty() {
            self.0.push(' ');
        }
        if field.name() == "message" {
            self.0.push_str(value);
        } else {
            let _ = write!(self.0, "{}={value}", field.name());
        }
    }
}

struct Span {
    /// `name{fields}`.
    text: String,
    target: String,
    references: usize,
}

#[derive(Default)]
struct Recorder {
    next_id: AtomicU64,
    spans: Mutex<HashMap<u64, Span>>,
}

thread_local! {
    /// The spans entered on this thread, innermost last.
    static ENTERED: RefCell<Vec<u64>> = const { RefCell::new(Vec::new()) };
}

impl Recorder {
    fn spans(&self) -> MutexGuard<'_, HashMap<u64, Span>> {
        self.spans.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Subscriber for Recorder {
    fn register_callsite(&self, metadata: &'static Metadata<'static>) -> Interest {
        if enabled(metadata) {
            Interest::always()
        } else {
            Interest::never()
        }
    }

    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        enabled(metadata)
    }

    fn max_level_hint(&self) -> Option<tracing::level_filters::LevelFilter> {
        Some(tracing::level_filters::LevelFilter::INFO)
    }

    fn new_span(&self, attributes: &Attributes<'_>) -> Id {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        let mut fields = Fields::default();
        attributes.record(&mut fields);
        let metadata = attributes.metadata();
        let text = format!("{}{{{}}}", metadata.name(), fields.0);
        record(
            format!("{} span {text}", metadata.level()),
            metadata.target(),
        );
        self.spans().insert(
            id,
            Span {
                text,
                target: metadata.target().to_owned(),
                references: 1,
            },
        );
        Id::from_u64(id)
    }

    fn record(&self, span: &Id, values: &Record<'_>) {
        let mut fields = Fields::default();
        values.record(&mut fields);
        let mut spans = self.spans();
        if let Some(span) = spans.get_mut(&span.into_u64()) {
            let line = format!("span {} += {}", span.text, fields.0);
            span.text.pop();
            span.text.push(' ');
            span.text.push_str(&fields.0);
            span.text.push('}');
            let target = span.target.clone();
            drop(spans);
            record(line, &target);
        }
    }

    fn record_follows_from(&self, _span: &Id, _follows: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let mut fields = Fields::default();
        event.record(&mut fields);
        let metadata = event.metadata();
        let context: Vec<String> = ENTERED.with(|entered| {
            let spans = self.spans();
            entered
                .borrow()
                .iter()
                .filter_map(|id| spans.get(id).map(|s| s.text.clone()))
                .collect()
        });
        let mut line = format!("{} ", metadata.level());
        for span in context {
            let _ = write!(line, "{span}:");
        }
        let _ = write!(line, " {}: {}", metadata.target(), fields.0);
        record(line, metadata.target());
    }

    fn enter(&self, span: &Id) {
        ENTERED.with(|entered| entered.borrow_mut().push(span.into_u64()));
    }

    fn exit(&self, span: &Id) {
        ENTERED.with(|entered| {
            let mut entered = entered.borrow_mut();
            if let Some(at) = entered.iter().rposition(|id| *id == span.into_u64()) {
                entered.remove(at);
            }
        });
    }

    fn clone_span(&self, id: &Id) -> Id {
        if let Some(span) = self.spans().get_mut(&id.into_u64()) {
            span.references += 1;
        }
        id.clone()
    }

    fn try_close(&self, id: Id) -> bool {
        let mut spans = self.spans();
        let Some(span) = spans.get_mut(&id.into_u64()) else {
            return false;
        };
        span.references = span.references.saturating_sub(1);
        if span.references == 0 {
            spans.remove(&id.into_u64());
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::shaped_secrets;

    #[test]
    fn secret_shapes_are_recognised_and_ids_are_not() {
        assert_eq!(
            shaped_secrets("key rgw_abcdefgh_0123456789abcdef0123456789ABCDEF used"),
            ["API key (shape)"]
        );
        assert_eq!(
            shaped_secrets("rgwadm_abcdefgh_0123456789abcdef0123456789ABCDEF"),
            ["admin key (shape)"]
        );
        assert!(shaped_secrets("key_id=rgw_abcdefgh tenant=acme").is_empty());
        assert_eq!(
            shaped_secrets("token xoxb-1234-5678-abcdefghij"),
            ["Slack token (shape)"]
        );
        assert_eq!(
            shaped_secrets("Bearer eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJodHRwcyJ9.c2ln"),
            ["JWT (shape)"]
        );
        assert_eq!(
            shaped_secrets("v1.eyJrZXkiOiJwa19hYmMiLCJvcmlnaW4iOiJodHRwIn0.c2lnbmF0dXJl"),
            ["widget session token (shape)"]
        );
        assert!(shaped_secrets("INFO request{id=1}: ragway_gateway: served status=200").is_empty());
    }

    #[test]
    fn child_output_is_scanned_without_colour_codes_and_with_escaped_forms() {
        super::secret("test secret", "unit-test-secret-42");
        super::question("Where is the \"blue\" forklift parked?");
        let output = "\u{1b}[2m2026-12-04T10:00:00Z\u{1b}[0m \u{1b}[32m INFO\u{1b}[0m served\n\
                      \u{1b}[33m WARN\u{1b}[0m \u{1b}[3mtoken\u{1b}[0m\u{1b}[2m=\u{1b}[0munit-test-secret-42\n\
                      WARN \u{1b}[3mquestion\u{1b}[0m=\"Where is the \\\"blue\\\" forklift parked?\"\n";
        let findings = super::scan_output("child", output);
        let kinds: Vec<&str> = findings.iter().map(|f| f.kind.as_str()).collect();
        assert_eq!(kinds, ["test secret", "question text"], "{findings:#?}");
        assert!(findings.iter().all(|f| f.line.starts_with("[child] ")));
        assert!(
            findings[0].line.ends_with("token=<test secret>"),
            "{findings:#?}"
        );
    }

    #[test]
    fn keys_printed_on_stdout_are_registered() {
        let stdout = "created API key ci for tenant acme (shown once):\n\
                      rgw_unitkey1_0123456789abcdef0123456789ABCDEF\n";
        assert_eq!(super::register_printed_secrets(stdout), 1);
        assert_eq!(
            super::register_printed_secrets("key id rgw_unitkey1, tenant acme."),
            0
        );
        let findings = super::scan_output(
            "serve",
            "INFO auth key=rgw_unitkey1_0123456789abcdef0123456789ABCDEF",
        );
        assert_eq!(findings.len(), 1, "{findings:#?}");
        assert_eq!(
            findings[0].kind,
            "secret printed on stdout, API key (shape)"
        );
        assert_eq!(
            findings[0].line,
            "[serve] INFO auth key=<secret printed on stdout>"
        );
    }
}
