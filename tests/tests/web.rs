#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Web sources end to end: a local static site crawled into the index — links, sitemap,
//! robots.txt, conditional GET, changes and removals, limits, and the SSRF guard.

use ragway_ingest::SyncReport;
use ragway_ingest::source::AclConfig;
use ragway_ingest::source::AclRule;
use ragway_ingest::source::web::{WebFetchPolicy, WebSourceConfig};
use ragway_tests::harness::{Gateway, test_config};
use ragway_tests::samples;
use ragway_tests::static_site::StaticSite;

const TENANT: &str = "acme";

/// The test sites listen on loopback and an ephemeral port, which the strict default policy
/// refuses.
fn loopback_allowed(site: &StaticSite) -> WebFetchPolicy {
    WebFetchPolicy {
        allow_private_networks: false,
        allowed_networks: vec!["127.0.0.0/8".parse().unwrap()],
        allowed_ports: vec![site.addr.port()],
    }
}

fn config(site: &StaticSite) -> WebSourceConfig {
    WebSourceConfig {
        urls: vec![site.url("/")],
        delay_ms: 0,
        ..WebSourceConfig::default()
    }
}

async fn gateway(tmp: &tempfile::TempDir) -> Gateway {
    let gateway = Gateway::start(test_config(&tmp.path().join("data")))
        .await
        .unwrap();
    gateway
        .state
        .core
        .catalog
        .ensure_tenant(TENANT)
        .await
        .unwrap();
    gateway
}

async fn crawl(gateway: &Gateway, config: &WebSourceConfig, policy: &WebFetchPolicy) -> SyncReport {
    gateway
        .state
        .indexer
        .sync_web(TENANT, "intranet", config, policy, &|_| {})
        .await
        .unwrap()
}

fn failure_for<'a>(report: &'a SyncReport, uri: &str) -> &'a str {
    report
        .failures
        .iter()
        .find(|f| f.uri == uri)
        .map(|f| f.reason.as_str())
        .unwrap_or_else(|| panic!("no failure for {uri}: {:?}", report.failures))
}

fn requested(site: &StaticSite, path: &str) -> usize {
    site.requests().iter().filter(|r| r.path == path).count()
}

/// A small intranet: a home page linking to pages (one disallowed by robots.txt, one missing,
/// one image, one off-site), a PDF, and a sitemap listing a page nothing links to.
fn publish_intranet(site: &StaticSite) {
    site.put(
        "/robots.txt",
        "text/plain",
        "User-agent: *\nDisallow: /private/\nCrawl-delay: 0.01\n",
    );
    site.put_html(
        "/",
        r#"<html><head><title>Intranet home</title></head><body><h1>Welcome</h1>
<p>The company intranet.</p>
<a href="/vpn.html">VPN</a> <a href="printer.html#setup">Printers</a> <a href="/private/salaries.html">Salaries</a>
<a href="/missing.html">Old page</a> <a href="/logo.png">logo</a> <a href="https://elsewhere.example/">partner</a>
<a href="/guides/manual.pdf">Manual</a></body></html>"#,
    );
    site.put_html(
        "/vpn.html",
        "<html><head><title>VPN</title></head><body><h1>VPN access</h1><p>Connect with the zebracorn token before opening the tunnel.</p><a href=\"/\">home</a></body></html>",
    );
    site.put_html(
        "/printer.html",
        "<html><head><title>Printers</title></head><body><h1>Printers</h1><p>Toner cartridges for the quokka printer are in room 4.</p></body></html>",
    );
    site.put_html(
        "/private/salaries.html",
        "<html><body><p>Secret salary bands.</p></body></html>",
    );
    site.put(
        "/guides/manual.pdf",
        "application/pdf",
        samples::pdf(
            "Forklift manual",
            &[vec![
                "Forklift inspection happens every morning with the marmoset checklist.".into(),
            ]],
        ),
    );
    site.put_html(
        "/faq.html",
        "<html><head><title>FAQ</title></head><body><h1>FAQ</h1><p>The cafeteria serves axolotl soup on Fridays.</p></body></html>",
    );
    site.put(
        "/sitemap.xml",
        "application/xml",
        format!(
            "<?xml version=\"1.0\"?><urlset xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\"><url><loc>{}</loc></url></urlset>",
            site.url("/faq.html")
        ),
    );
}

#[tokio::test]
async fn crawls_incrementally_with_robots_sitemaps_and_conditional_get() {
    let tmp = tempfile::tempdir().unwrap();
    let gateway = gateway(&tmp).await;
    let site = StaticSite::start("127.0.0.1:0").await.unwrap();
    publish_intranet(&site);
    let config = WebSourceConfig {
        sitemaps: vec![site.url("/sitemap.xml")],
        user_agent: "ragway-test/1.0 (+https://example.com/bot)".into(),
        concurrency: 2,
        ..config(&site)
    };
    let policy = loopback_allowed(&site);

    let first = crawl(&gateway, &config, &policy).await;
    let pages = [
        "/",
        "/vpn.html",
        "/printer.html",
        "/faq.html",
        "/guides/manual.pdf",
    ];
    assert_eq!(
        (first.added, first.changed, first.removed),
        (pages.len(), 0, 0),
        "{first:?}"
    );
    assert!(failure_for(&first, &site.url("/missing.html")).contains("404"));
    assert_eq!(first.failures.len(), 1, "{:?}", first.failures);
    assert_eq!(
        requested(&site, "/private/salaries.html"),
        0,
        "robots.txt disallows it"
    );
    assert_eq!(requested(&site, "/logo.png"), 0, "images are not fetched");
    assert_eq!(
        requested(&site, "/robots.txt"),
        1,
        "robots.txt is read once per host"
    );
    assert!(
        site.requests()
            .iter()
            .all(|r| r.user_agent == config.user_agent)
    );
    assert!(site.max_in_flight() <= config.concurrency);
    assert_eq!(
        gateway
            .bm25_hits(TENANT, "zebracorn token tunnel")
            .await
            .first(),
        Some(&site.url("/vpn.html"))
    );
    assert_eq!(
        gateway
            .bm25_hits(TENANT, "marmoset checklist")
            .await
            .first(),
        Some(&site.url("/guides/manual.pdf")),
        "PDFs are served as application/pdf and parsed as such"
    );
    assert_eq!(
        gateway.bm25_hits(TENANT, "axolotl soup").await.first(),
        Some(&site.url("/faq.html")),
        "pages only the sitemap lists are crawled"
    );
    let points = gateway.state.store.count(TENANT).await.unwrap();

    // Nothing changed: every page answers 304 and nothing is re-indexed.
    site.clear_log();
    let second = crawl(&gateway, &config, &policy).await;
    assert_eq!(
        (
            second.added,
            second.changed,
            second.removed,
            second.unchanged,
            second.chunks_written
        ),
        (0, 0, 0, pages.len(), 0),
        "{second:?}"
    );
    assert_eq!(second.generation, first.generation);
    let not_modified = site.requests().iter().filter(|r| r.status == 304).count();
    assert_eq!(
        not_modified,
        pages.len() + 1,
        "every page and the sitemap: {:?}",
        site.requests()
    );
    assert_eq!(gateway.state.store.count(TENANT).await.unwrap(), points);

    // One page changes, one disappears (404), one is no longer listed in the sitemap.
    site.put_html(
        "/vpn.html",
        "<html><head><title>VPN</title></head><body><h1>VPN access</h1><p>Use the pangolin certificate now.</p></body></html>",
    );
    site.remove("/printer.html");
    site.put(
        "/sitemap.xml",
        "application/xml",
        "<urlset xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\"></urlset>",
    );
    let third = crawl(&gateway, &config, &policy).await;
    assert_eq!(
        (third.added, third.changed, third.removed),
        (0, 1, 2),
        "{third:?}"
    );
    assert!(failure_for(&third, &site.url("/printer.html")).contains("404"));
    assert_eq!(
        gateway
            .bm25_hits(TENANT, "pangolin certificate")
            .await
            .first(),
        Some(&site.url("/vpn.html"))
    );
    assert!(
        !gateway
            .bm25_hits(TENANT, "zebracorn token tunnel")
            .await
            .contains(&site.url("/vpn.html"))
    );
    assert!(
        !gateway
            .bm25_hits(TENANT, "quokka toner cartridges")
            .await
            .contains(&site.url("/printer.html"))
    );
    assert!(
        !gateway
            .bm25_hits(TENANT, "axolotl soup")
            .await
            .contains(&site.url("/faq.html"))
    );
    assert!(third.generation > first.generation);

    // Re-running converges: nothing more to do.
    let fourth = crawl(&gateway, &config, &policy).await;
    assert_eq!(
        (
            fourth.added,
            fourth.changed,
            fourth.removed,
            fourth.chunks_written
        ),
        (0, 0, 0, 0)
    );
}

#[tokio::test]
async fn listed_pages_disallowed_by_robots_are_reported_and_acls_follow_the_path() {
    let tmp = tempfile::tempdir().unwrap();
    let gateway = gateway(&tmp).await;
    let site = StaticSite::start("127.0.0.1:0").await.unwrap();
    publish_intranet(&site);
    site.put_html(
        "/hr/leave.html",
        "<html><body><h1>Leave</h1><p>Parental leave is sixteen weeks.</p></body></html>",
    );
    let config = WebSourceConfig {
        urls: vec![
            site.url("/private/salaries.html"),
            site.url("/hr/leave.html"),
        ],
        max_depth: 0,
        acl: AclConfig {
            groups: vec!["staff".into()],
            rules: vec![AclRule {
                pattern: "hr/**".into(),
                groups: vec!["hr".into()],
            }],
        },
        ..config(&site)
    };
    let report = crawl(&gateway, &config, &loopback_allowed(&site)).await;
    assert_eq!(
        failure_for(&report, &site.url("/private/salaries.html")),
        "disallowed by robots.txt"
    );
    assert_eq!(requested(&site, "/private/salaries.html"), 0);
    assert_eq!(report.added, 1);
    let source = gateway
        .state
        .core
        .catalog
        .source_by_name(TENANT, "intranet")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(source.kind, "web");
    let manifest = gateway
        .state
        .core
        .catalog
        .manifest(&source.id)
        .await
        .unwrap();
    assert_eq!(manifest[&site.url("/hr/leave.html")].acl, ["hr"]);
}

#[tokio::test]
async fn depth_and_page_limits_bound_the_crawl() {
    let tmp = tempfile::tempdir().unwrap();
    let gateway = gateway(&tmp).await;
    let site = StaticSite::start("127.0.0.1:0").await.unwrap();
    for i in 0..8 {
        site.put_html(
            &format!("/c{i}"),
            &format!("<html><body><h1>Chapter {i}</h1><p>Chapter {i} of the handbook.</p><a href=\"/c{}\">next</a></body></html>", i + 1),
        );
    }
    let chained = WebSourceConfig {
        urls: vec![site.url("/c0")],
        max_depth: 2,
        ..config(&site)
    };
    let report = crawl(&gateway, &chained, &loopback_allowed(&site)).await;
    assert_eq!(report.added, 3, "{report:?}");
    assert_eq!(requested(&site, "/c3"), 0, "beyond max_depth");

    let few = WebSourceConfig {
        max_depth: 10,
        max_pages: 5,
        ..chained
    };
    let report = crawl(&gateway, &few, &loopback_allowed(&site)).await;
    assert_eq!(
        (report.added, report.unchanged, report.removed),
        (2, 3, 0),
        "{report:?}"
    );
    assert_eq!(requested(&site, "/c5"), 0, "beyond max_pages");
}

#[tokio::test]
async fn loopback_is_refused_unless_the_policy_allows_it() {
    let tmp = tempfile::tempdir().unwrap();
    let gateway = gateway(&tmp).await;
    let site = StaticSite::start("127.0.0.1:0").await.unwrap();
    publish_intranet(&site);
    let by_name = site.url("/").replace("127.0.0.1", "localhost");
    let config = WebSourceConfig {
        urls: vec![site.url("/"), by_name.clone()],
        ..config(&site)
    };
    // The default policy, with the test site's port: the addresses are what it refuses.
    let strict_policy = WebFetchPolicy {
        allowed_ports: vec![site.addr.port()],
        ..WebFetchPolicy::default()
    };
    let strict = crawl(&gateway, &config, &strict_policy).await;
    assert_eq!(strict.added, 0);
    let literal = failure_for(&strict, &site.url("/"));
    assert!(
        literal.contains("refused") && literal.contains("loopback"),
        "{literal}"
    );
    let named = failure_for(&strict, &by_name);
    assert!(
        named.contains("localhost resolves only to addresses the web fetch policy refuses")
            && named.contains("loopback")
            && !named.contains("127.0.0.1"),
        "{named}"
    );
    assert!(
        site.requests().is_empty(),
        "nothing reached the site: {:?}",
        site.requests()
    );

    let intranet_only = WebFetchPolicy {
        allow_private_networks: true,
        allowed_networks: vec![],
        allowed_ports: vec![site.addr.port()],
    };
    let still = crawl(&gateway, &config, &intranet_only).await;
    assert_eq!(still.added, 0, "private networks do not include loopback");

    let allowed = crawl(&gateway, &config, &loopback_allowed(&site)).await;
    assert!(allowed.added >= 5, "{allowed:?}");
}

/// Only web ports unless the operator adds more, and a failed connection tells a tenant admin
/// nothing about the network (refused, reset, no route stay in the server log).
#[tokio::test]
async fn other_ports_are_refused_and_network_errors_say_little() {
    let tmp = tempfile::tempdir().unwrap();
    let gateway = gateway(&tmp).await;
    let site = StaticSite::start("127.0.0.1:0").await.unwrap();
    publish_intranet(&site);
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let closed_url = format!("http://127.0.0.1:{closed}/");
    let config = WebSourceConfig {
        urls: vec![site.url("/"), closed_url.clone()],
        ..config(&site)
    };
    let loopback_web_ports_only = WebFetchPolicy {
        allowed_networks: vec!["127.0.0.0/8".parse().unwrap()],
        ..WebFetchPolicy::default()
    };
    let refused = crawl(&gateway, &config, &loopback_web_ports_only).await;
    assert_eq!(refused.added, 0, "{refused:?}");
    let reason = failure_for(&refused, &site.url("/"));
    assert!(
        reason.contains(&format!("port {}", site.addr.port())) && reason.contains("allowed_ports"),
        "{reason}"
    );
    assert!(
        site.requests().is_empty(),
        "the guard let a request through"
    );

    let with_ports = WebFetchPolicy {
        allowed_ports: vec![site.addr.port(), closed],
        ..loopback_web_ports_only
    };
    let report = crawl(&gateway, &config, &with_ports).await;
    assert!(report.added >= 4, "{report:?}");
    let reason = failure_for(&report, &closed_url);
    assert!(reason.ends_with(": could not connect"), "{reason}");
    assert!(
        !reason.contains("refused") && !reason.contains("error"),
        "no error chain for a tenant admin: {reason}"
    );
}

#[tokio::test]
async fn redirects_to_internal_addresses_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let gateway = gateway(&tmp).await;
    // The crawled site on 127.0.0.2, the "internal service" on 127.0.0.1.
    let site = StaticSite::start("127.0.0.2:0").await.unwrap();
    let internal = StaticSite::start("127.0.0.1:0").await.unwrap();
    internal.put_html(
        "/admin",
        "<html><body><p>Internal admin console.</p></body></html>",
    );
    site.put_html(
        "/",
        "<html><body><p>Public page.</p><a href=\"/to-internal\">a</a><a href=\"/to-metadata\">b</a><a href=\"/to-mapped\">c</a></body></html>",
    );
    site.redirect("/to-internal", 302, &internal.url("/admin"));
    site.redirect(
        "/to-metadata",
        301,
        "http://169.254.169.254/latest/meta-data/iam/",
    );
    site.redirect(
        "/to-mapped",
        307,
        &format!("http://[::ffff:127.0.0.1]:{}/admin", internal.addr.port()),
    );
    let only_the_site = WebFetchPolicy {
        allow_private_networks: false,
        allowed_networks: vec!["127.0.0.2/32".parse().unwrap()],
        allowed_ports: vec![site.addr.port(), internal.addr.port()],
    };
    let report = crawl(&gateway, &config(&site), &only_the_site).await;
    assert_eq!(report.added, 1, "{report:?}");
    for (path, kind) in [
        ("/to-internal", "loopback"),
        ("/to-metadata", "metadata"),
        ("/to-mapped", "loopback"),
    ] {
        let reason = failure_for(&report, &site.url(path));
        assert!(
            reason.contains("refused") && reason.contains(kind),
            "{path}: {reason}"
        );
    }
    assert!(
        internal.requests().is_empty(),
        "the internal service was reached: {:?}",
        internal.requests()
    );
}

#[tokio::test]
async fn oversized_responses_are_capped_and_the_rest_continues() {
    let tmp = tempfile::tempdir().unwrap();
    let gateway = gateway(&tmp).await;
    let site = StaticSite::start("127.0.0.1:0").await.unwrap();
    site.put_html(
        "/",
        "<html><body><p>Index of reports.</p><a href=\"/big.txt\">big</a><a href=\"/stream.txt\">stream</a></body></html>",
    );
    site.put("/big.txt", "text/plain", vec![b'x'; 3 * 1024 * 1024]);
    site.put_stream("/stream.txt", 3 * 1024 * 1024);
    let capped = WebSourceConfig {
        max_page_bytes: 1024 * 1024,
        ..config(&site)
    };
    let report = crawl(&gateway, &capped, &loopback_allowed(&site)).await;
    assert_eq!(report.added, 1, "{report:?}");
    for path in ["/big.txt", "/stream.txt"] {
        let reason = failure_for(&report, &site.url(path));
        assert!(
            reason.contains("larger than the limit of 1048576 bytes"),
            "{path}: {reason}"
        );
    }
}

#[tokio::test]
async fn invalid_settings_are_refused_before_any_request() {
    let tmp = tempfile::tempdir().unwrap();
    let gateway = gateway(&tmp).await;
    let bad = WebSourceConfig {
        urls: vec!["file:///etc/passwd".into()],
        ..WebSourceConfig::default()
    };
    let err = gateway
        .state
        .indexer
        .sync_web(TENANT, "bad", &bad, &WebFetchPolicy::default(), &|_| {})
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("only http and https"), "{err}");
}

#[tokio::test]
async fn hung_servers_time_out_noindex_pages_are_skipped_and_progress_is_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let gateway = gateway(&tmp).await;
    let site = StaticSite::start("127.0.0.1:0").await.unwrap();
    site.put_html(
        "/",
        "<html><head><meta name=\"robots\" content=\"noindex\"></head><body><p>Navigation only.</p>\
         <a href=\"/hung.txt\">hung</a><a href=\"/kept.html\">kept</a><a href=\"/legacy.html\">legacy</a></body></html>",
    );
    site.put_hanging("/hung.txt");
    site.put_html(
        "/kept.html",
        "<html><body><p>The okapi procedure is documented here.</p></body></html>",
    );
    // A legacy page in windows-1252, declared in the header.
    site.put(
        "/legacy.html",
        "text/html; charset=windows-1252",
        b"<html><body><p>Se\xf1or Ca\xf1amero approves the \x93narwhal\x94 budget.</p></body></html>".to_vec(),
    );
    let config = WebSourceConfig {
        timeout_secs: 1,
        ..config(&site)
    };
    let events = std::sync::Mutex::new(Vec::new());
    let record = |event: &ragway_ingest::SyncEvent| events.lock().unwrap().push(event.clone());
    let report = gateway
        .state
        .indexer
        .sync_web(
            TENANT,
            "intranet",
            &config,
            &loopback_allowed(&site),
            &record,
        )
        .await
        .unwrap();
    assert_eq!(
        report.added, 2,
        "the noindex home page is not indexed: {report:?}"
    );
    assert!(
        failure_for(&report, &site.url("/hung.txt")).contains("no complete response within 1 s")
    );
    assert_eq!(
        gateway.bm25_hits(TENANT, "okapi procedure").await.first(),
        Some(&site.url("/kept.html"))
    );
    assert_eq!(
        gateway.bm25_hits(TENANT, "Cañamero narwhal").await.first(),
        Some(&site.url("/legacy.html")),
        "legacy character sets are converted"
    );
    let listed: Vec<usize> = events
        .lock()
        .unwrap()
        .iter()
        .filter_map(|e| match e {
            ragway_ingest::SyncEvent::Listed { total } => Some(*total),
            _ => None,
        })
        .collect();
    assert_eq!(listed, [1, 4], "the count grows as the crawl admits pages");
}
