//! Web sources: a list of URLs and/or sitemaps, crawled within their hosts to a depth and a page
//! limit, politely (robots.txt, per-host concurrency and delay), incrementally (conditional GET),
//! and only towards addresses the operator's [`WebFetchPolicy`] allows.
//! The sync pipeline drives a crawl in `sync::web`.

pub(crate) mod canonical;
mod charset;
mod client;
mod config;
pub(crate) mod crawl;
mod gate;
mod links;
pub(crate) mod plan;
mod policy;
mod robots;
mod sitemap;

pub use canonical::canonical;
pub use client::{FetchError, GuardedClient, MAX_REDIRECTS, check_destination};
pub use config::WebSourceConfig;
pub use policy::{AddressKind, IpNet, Refused, WebFetchPolicy, classify};

/// The crawler's parsers of untrusted bytes (robots.txt, sitemaps, a page's links and meta
/// directives), for the fuzzing harness (`tests/src/fuzz.rs`); not an API.
#[doc(hidden)]
pub mod fuzz_targets {
    /// Parses a robots.txt and asks it the questions a crawl asks.
    pub fn robots(text: &str) {
        let robots = super::robots::Robots::parse(text, "ragway");
        let _ = robots.allows("/docs/a%20b/index.html?x=1");
        let _ = robots.crawl_delay();
    }

    /// Parses a sitemap or sitemap index (plain or gzip).
    pub fn sitemap(bytes: &[u8]) -> Result<(), String> {
        super::sitemap::parse(bytes, 10_000).map(drop)
    }

    /// Extracts a page's links and applies its robots meta directives.
    pub fn links(html: &str) {
        if let Ok(page) = url::Url::parse("https://intranet.example/docs/page.html") {
            let mut found = super::links::extract(html, &page, "ragway");
            super::links::apply_directives("noindex, nofollow", &mut found);
        }
    }
}
