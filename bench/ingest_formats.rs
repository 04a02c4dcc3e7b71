//! Ingest throughput per format: generated documents of each format ragway reads are synced
//! from a folder into a fresh embedded index (BM25 only), one source per format; prints MB/s,
//! documents/s and, for PDF and PPTX, pages (slides)/s.
//!
//! cargo run -p ragway-tests --example ingest_formats -- [documents per format]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout
)]

use std::path::Path;
use std::time::Instant;

use ragway_ingest::source::FolderSourceConfig;
use ragway_tests::harness::{Gateway, test_config};
use ragway_tests::samples::{self, Prose};

/// Writes `count` documents of `format`; returns the pages they have (PDF pages, slides) if any.
fn generate(dir: &Path, format: &str, count: usize, prose: &mut Prose) -> Option<usize> {
    std::fs::create_dir_all(dir).unwrap();
    let mut pages = None;
    for i in 0..count {
        let title = prose.title();
        let bytes: Vec<u8> = match format {
            "md" => samples::markdown(&title, &samples::sections(prose, 8, 3)).into_bytes(),
            "txt" => samples::text(&title, &samples::sections(prose, 8, 3)).into_bytes(),
            "html" => samples::html(&title, &samples::sections(prose, 8, 3), &[]).into_bytes(),
            "docx" => samples::docx(&title, &samples::sections(prose, 8, 3)),
            "pptx" => {
                *pages.get_or_insert(0) += 10;
                samples::pptx(&samples::sections(prose, 10, 2))
            }
            "pdf" => {
                *pages.get_or_insert(0) += 10;
                samples::pdf(&title, &samples::pdf_pages(prose, 10, 40))
            }
            "xlsx" => samples::xlsx(prose, 200),
            "csv" => samples::csv(prose, 200).into_bytes(),
            "json" => samples::json(prose, 60).into_bytes(),
            other => panic!("unknown format {other}"),
        };
        std::fs::write(dir.join(format!("doc-{i:04}.{format}")), bytes).unwrap();
    }
    pages
}

#[tokio::main]
async fn main() {
    let count: usize = std::env::args()
        .nth(1)
        .map_or(100, |a| a.parse().expect("documents per format"));
    let tmp = tempfile::tempdir().unwrap();
    let gateway = Gateway::start(test_config(&tmp.path().join("data")))
        .await
        .unwrap();
    gateway
        .state
        .core
        .catalog
        .ensure_tenant("bench")
        .await
        .unwrap();
    let mut prose = Prose::new(42);
    println!("{count} generated documents per format, BM25 only, fresh index");
    println!("| format | documents | MB | chunks | seconds | MB/s | documents/s | pages/s |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    for format in [
        "md", "txt", "html", "pdf", "docx", "pptx", "xlsx", "csv", "json",
    ] {
        let dir = tmp.path().join("corpus").join(format);
        let pages = generate(&dir, format, count, &mut prose);
        let started = Instant::now();
        let report = gateway
            .state
            .indexer
            .sync_folder(
                "bench",
                format,
                &dir,
                &FolderSourceConfig::default(),
                &|_| {},
            )
            .await
            .unwrap();
        let secs = started.elapsed().as_secs_f64();
        assert!(
            report.failures.is_empty(),
            "{format}: {:?}",
            report.failures
        );
        let mb = report.bytes as f64 / 1_000_000.0;
        println!(
            "| {format} | {} | {:.2} | {} | {:.2} | {:.2} | {:.1} | {} |",
            report.seen,
            mb,
            report.chunks_written,
            secs,
            mb / secs,
            report.seen as f64 / secs,
            pages.map_or_else(|| "–".to_owned(), |p| format!("{:.0}", p as f64 / secs)),
        );
    }
    gateway.shutdown().await;
}
