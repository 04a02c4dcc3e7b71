#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Incremental sync end to end: exact change sets, idempotent re-runs, corrupt files reported.

mod common;

use ragway_tests::harness::{Gateway, copy_dir, handbook_dir, test_config};

fn count_files(dir: &std::path::Path) -> usize {
    walk(dir)
        .iter()
        .filter(|p| {
            matches!(
                p.extension().and_then(|e| e.to_str()),
                Some("md" | "html" | "txt")
            )
        })
        .count()
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path))
        } else {
            out.push(path)
        }
    }
    out
}

#[tokio::test]
async fn incremental_sync_applies_exactly_the_changes() {
    let tmp = tempfile::tempdir().unwrap();
    let docs = tmp.path().join("docs");
    copy_dir(&handbook_dir(), &docs).unwrap();
    let total = count_files(&docs);
    let gateway = Gateway::start(test_config(&tmp.path().join("data")))
        .await
        .unwrap();
    gateway.tenant_with_key("acme").await.unwrap();

    let first = gateway.sync("acme", "handbook", &docs).await.unwrap();
    assert_eq!(first.failures, []);
    assert_eq!(
        (first.seen, first.added, first.changed, first.removed),
        (total, total, 0, 0)
    );
    assert!(first.chunks_written >= total);
    assert_eq!(first.generation, 1);
    let points_after_first = gateway.state.store.count("acme").await.unwrap();
    assert_eq!(points_after_first, first.chunks_written);

    // Edit one file, delete one, add one.
    let edited = docs.join("it/password-policy.md");
    let mut text = std::fs::read_to_string(&edited).unwrap();
    text.push_str(
        "\n\n## Quantum keys\nEmployees must rotate the zebracorn quantum key every 17 days.\n",
    );
    std::fs::write(&edited, text).unwrap();
    std::fs::remove_file(docs.join("it/printer-setup.html")).unwrap();
    std::fs::write(
        docs.join("facilities-bikes.md"),
        "# Bicycle parking\nThe velocipede racks are behind building C.\n",
    )
    .unwrap();

    let second = gateway.sync("acme", "handbook", &docs).await.unwrap();
    assert_eq!(second.failures, []);
    assert_eq!(
        (
            second.added,
            second.changed,
            second.removed,
            second.unchanged
        ),
        (1, 1, 1, total - 2)
    );
    assert_eq!(second.generation, 2);
    assert_eq!(
        gateway
            .bm25_hits("acme", "zebracorn quantum key")
            .await
            .first()
            .map(String::as_str),
        Some("it/password-policy.md")
    );
    assert_eq!(
        gateway
            .bm25_hits("acme", "velocipede racks")
            .await
            .first()
            .map(String::as_str),
        Some("facilities-bikes.md")
    );
    assert!(
        !gateway
            .bm25_hits("acme", "printer toner driver queue")
            .await
            .contains(&"it/printer-setup.html".to_string())
    );

    // Re-running on an unchanged folder writes nothing and keeps the generation.
    let points_before = gateway.state.store.count("acme").await.unwrap();
    let third = gateway.sync("acme", "handbook", &docs).await.unwrap();
    assert_eq!(
        (
            third.added,
            third.changed,
            third.removed,
            third.chunks_written
        ),
        (0, 0, 0, 0)
    );
    assert_eq!(third.unchanged, total);
    assert_eq!(third.generation, 2);
    assert_eq!(
        gateway.state.store.count("acme").await.unwrap(),
        points_before
    );
}

#[tokio::test]
async fn corrupt_files_are_reported_and_skipped() {
    let tmp = tempfile::tempdir().unwrap();
    let docs = tmp.path().join("docs");
    std::fs::create_dir_all(&docs).unwrap();
    std::fs::write(
        docs.join("good.md"),
        "# Good\nThe turbine manual says torque is 45 Nm.\n",
    )
    .unwrap();
    // Windows-1252 Markdown (an old Windows editor's "ANSI") is read as such, not refused.
    std::fs::write(
        docs.join("latin1.md"),
        b"# Se\xf1alizaci\xf3n\nSe\xf1al de \xe1rea restringida en la nave 3.\n",
    )
    .unwrap();
    // JSON must be UTF-8 (RFC 8259): not guessed.
    std::fs::write(docs.join("bad.json"), b"{\"nota\": \"Se\xf1al\"}").unwrap();
    std::fs::write(docs.join("binary.html"), b"<html>\0\0\x01\x02</html>").unwrap();
    std::fs::write(docs.join("empty.txt"), b"   \n").unwrap();
    std::fs::write(docs.join("photo.jpg"), b"\xff\xd8\xff").unwrap();
    let gateway = Gateway::start(test_config(&tmp.path().join("data")))
        .await
        .unwrap();
    gateway.tenant_with_key("acme").await.unwrap();

    let report = gateway.sync("acme", "docs", &docs).await.unwrap();
    assert_eq!(report.added, 2);
    assert_eq!(report.unsupported, 1);
    let mut failed: Vec<_> = report
        .failures
        .iter()
        .map(|f| (f.uri.as_str(), f.reason.as_str()))
        .collect();
    failed.sort();
    assert_eq!(failed.len(), 3, "{failed:?}");
    assert!(
        failed[0].0 == "bad.json" && failed[0].1.contains("UTF-8"),
        "{failed:?}"
    );
    assert!(
        failed[1].0 == "binary.html" && failed[1].1.contains("binary"),
        "{failed:?}"
    );
    assert!(
        failed[2].0 == "empty.txt" && failed[2].1.contains("no text"),
        "{failed:?}"
    );
    assert_eq!(
        gateway.bm25_hits("acme", "turbine torque").await,
        ["good.md"]
    );
    // The Windows-1252 text was decoded: its accented words are found as written.
    assert_eq!(
        gateway.bm25_hits("acme", "señal de área restringida").await,
        ["latin1.md"]
    );

    // The failures are recorded with the run, and fixing a file picks it up next time.
    std::fs::write(docs.join("bad.json"), "{\"nota\": \"Señal\"}").unwrap();
    let again = gateway.sync("acme", "docs", &docs).await.unwrap();
    assert_eq!(
        (again.added, again.unchanged, again.failures.len()),
        (1, 2, 2)
    );
}

/// Many one-chunk documents (abstracts, short pages) fill several write batches while the next
/// ones are parsed: every document is written and recorded once — the last, partial batch too —
/// and failures found while parsing are reported beside them.
#[tokio::test]
async fn documents_parsed_while_batches_are_written_are_all_written_once() {
    let tmp = tempfile::tempdir().unwrap();
    let docs = tmp.path().join("docs");
    std::fs::create_dir_all(&docs).unwrap();
    let documents = 2_200; // 2 full batches of 1,024 points and a partial one
    for i in 0..documents {
        std::fs::write(
            docs.join(format!("abstract-{i:04}.md")),
            format!("# Abstract {i}\nSpecimen zq{i}x was measured at {i} kelvin.\n"),
        )
        .unwrap();
        if i % 250 == 0 {
            std::fs::write(docs.join(format!("broken-{i:04}.html")), b"<p>\0\0\x01</p>").unwrap();
        }
    }
    let gateway = Gateway::start(test_config(&tmp.path().join("data")))
        .await
        .unwrap();
    gateway.tenant_with_key("acme").await.unwrap();

    let report = gateway.sync("acme", "abstracts", &docs).await.unwrap();
    assert_eq!(
        (report.added, report.chunks_written),
        (documents, documents)
    );
    let mut failed: Vec<_> = report.failures.iter().map(|f| f.uri.clone()).collect();
    failed.sort();
    let broken: Vec<_> = (0..documents)
        .step_by(250)
        .map(|i| format!("broken-{i:04}.html"))
        .collect();
    assert_eq!(failed, broken);
    assert_eq!(gateway.state.store.count("acme").await.unwrap(), documents);
    // The first and the very last document (the partial batch) are searchable.
    assert_eq!(
        gateway.bm25_hits("acme", "zq0x").await,
        ["abstract-0000.md"]
    );
    assert_eq!(
        gateway.bm25_hits("acme", "zq2199x").await,
        ["abstract-2199.md"]
    );

    // Every document was recorded in the manifest: nothing is written again.
    let again = gateway.sync("acme", "abstracts", &docs).await.unwrap();
    assert_eq!(
        (again.unchanged, again.added, again.chunks_written),
        (documents, 0, 0)
    );
}
