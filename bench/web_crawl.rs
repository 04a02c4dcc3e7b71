//! Web crawl throughput: a generated static site served on 127.0.0.1 by the benchmark, crawled
//! and indexed into a fresh embedded index (BM25 only); then crawled again, when every page
//! answers 304 Not Modified.
//!
//! cargo run -p ragway-tests --example web_crawl -- [pages] [concurrency]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::time::Instant;

use ragway_ingest::source::web::{WebFetchPolicy, WebSourceConfig};
use ragway_tests::harness::{Gateway, test_config};
use ragway_tests::samples::{self, Prose};
use ragway_tests::static_site::StaticSite;

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let pages: usize = args.next().map_or(500, |a| a.parse().expect("pages"));
    let concurrency: usize = args.next().map_or(4, |a| a.parse().expect("concurrency"));

    let site = StaticSite::start("127.0.0.1:0").await.unwrap();
    site.put(
        "/robots.txt",
        "text/plain",
        "User-agent: *\nDisallow: /admin/\n",
    );
    let mut prose = Prose::new(7);
    // A 4-ary tree of pages (page i links to 4i+1 … 4i+4) plus a link home: depth ≈ log4(pages).
    for i in 0..pages {
        let links: Vec<String> = (1..=4)
            .map(|k| 4 * i + k)
            .filter(|&child| child < pages)
            .map(|child| format!("/pages/{child}.html"))
            .chain(std::iter::once("/pages/0.html".to_owned()))
            .collect();
        let body = samples::sections(&mut prose, 4, 2);
        site.put_html(
            &format!("/pages/{i}.html"),
            &samples::html(&prose.title(), &body, &links),
        );
    }

    let tmp = tempfile::tempdir().unwrap();
    let gateway = Gateway::start(test_config(tmp.path())).await.unwrap();
    gateway
        .state
        .core
        .catalog
        .ensure_tenant("bench")
        .await
        .unwrap();
    let config = WebSourceConfig {
        urls: vec![site.url("/pages/0.html")],
        max_depth: 10,
        max_pages: pages,
        concurrency,
        delay_ms: 0,
        ..WebSourceConfig::default()
    };
    let policy = WebFetchPolicy {
        allow_private_networks: false,
        allowed_networks: vec!["127.0.0.0/8".parse().unwrap()],
        allowed_ports: vec![site.addr.port()],
    };

    let started = Instant::now();
    let report = gateway
        .state
        .indexer
        .sync_web("bench", "site", &config, &policy, &|_| {})
        .await
        .unwrap();
    let secs = started.elapsed().as_secs_f64();
    let mb = report.bytes as f64 / 1_000_000.0;
    println!(
        "site: {pages} generated HTML pages on 127.0.0.1, concurrency {concurrency}, no delay"
    );
    println!(
        "full crawl: {} pages ({} failed), {:.2} MB, {} chunks in {:.2} s → {:.1} pages/s, {:.2} MB/s",
        report.seen,
        report.failures.len(),
        mb,
        report.chunks_written,
        secs,
        report.seen as f64 / secs,
        mb / secs
    );

    let started = Instant::now();
    let again = gateway
        .state
        .indexer
        .sync_web("bench", "site", &config, &policy, &|_| {})
        .await
        .unwrap();
    let secs = started.elapsed().as_secs_f64();
    let not_modified = site.requests().iter().filter(|r| r.status == 304).count();
    println!(
        "re-crawl: {} pages checked ({} answered 304), {} chunks written in {:.2} s → {:.1} pages/s",
        again.seen,
        not_modified,
        again.chunks_written,
        secs,
        again.seen as f64 / secs
    );
    gateway.shutdown().await;
}
