#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Every parser of untrusted bytes on mutated inputs, with a small fixed budget per target (the
//! large runs and their figures: `bench/fuzz.rs`, docs/RELIABILITY.md): documents, the crawler's
//! files, Slack and Teams payloads, Bot Framework and widget tokens. A document, payload or token
//! the parser cannot read is an error, never a panic.

use ragway_tests::fuzz_targets::run_all;

/// Mutated inputs per target in CI (plus the seeds); the same seed every run.
const EXECUTIONS: usize = 300;

#[test]
fn no_parser_panics_on_mutated_documents() {
    let reports = run_all(EXECUTIONS, 0x5EED);
    // 15 document and crawler targets, 13 of the chat channels (Slack, Teams, widget).
    assert_eq!(reports.len(), 28, "every target ran");
    let mut found = Vec::new();
    for report in &reports {
        assert!(report.executions > EXECUTIONS, "{}", report.target);
        // A target that refuses every input tests nothing behind its first check.
        assert!(
            report.errors < report.executions,
            "{}: all {} inputs refused",
            report.target,
            report.executions
        );
        for (message, input) in &report.panics {
            found.push(format!(
                "{}: {message} (input of {} bytes, first 200 escaped: {})",
                report.target,
                input.len(),
                input
                    .iter()
                    .take(200)
                    .flat_map(|b| std::ascii::escape_default(*b))
                    .map(char::from)
                    .collect::<String>()
            ));
        }
    }
    assert!(
        found.is_empty(),
        "{} panic(s):\n{}",
        found.len(),
        found.join("\n")
    );
}

/// The harness itself can fail: a target that panics on some inputs is reported with them.
#[test]
fn a_panicking_target_is_reported_with_its_input() {
    let report = ragway_tests::fuzz::fuzz("planted", &[b"<<hello>>".to_vec()], 500, 7, |bytes| {
        assert!(!bytes.contains(&b'<') || bytes.len() < 12, "planted");
        Ok::<(), ()>(())
    });
    assert_eq!(report.executions, 501);
    assert!(!report.panics.is_empty());
    assert!(
        report
            .panics
            .iter()
            .all(|(m, input)| m == "planted" && input.len() >= 12)
    );
}
