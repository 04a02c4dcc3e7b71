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
//! `LOG_SCAN_SUMMARY=1 cargo test … -- --nocapture` prints the running totals at each check.
//!
//! Lines of the test support itself (`ragway_tests::…`: the fakes) are kept but not scanned.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt::Write as _;
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
        let mut masked: Option<String> = None;
        let mut kinds = Vec::new();
        for (kind, secret) in secrets {
            if line.text.contains(secret.as_str()) {
                kinds.push((*kind).to_owned());
                let text = masked.get_or_insert_with(|| line.text.clone());
                *text = text.replace(secret.as_str(), &format!("<{kind}>"));
            }
        }
        if new_line {
            for kind in shaped_secrets(&line.text) {
                kinds.push(kind.to_owned());
            }
        }
        if !kinds.is_empty() {
            found.push(Finding {
                kind: kinds.join(", "),
                line: masked.unwrap_or_else(|| line.text.clone()),
            });
        }
    }
    logs.scanned_lines = logs.lines.len();
    logs.scanned_secrets = logs.secrets.len();
    logs.findings.extend(found);
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
}
