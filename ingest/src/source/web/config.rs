//! A web source's settings, as a tenant administrator gives them. Everything is bounded: a
//! source cannot ask for an unbounded crawl, a flood of requests or unbounded downloads.

use serde::{Deserialize, Serialize};

use crate::error::{IngestError, Result};
use crate::source::AclConfig;

/// Hard caps (a value above one is refused, not silently lowered).
pub const MAX_START_URLS: usize = 1_000;
pub const MAX_SITEMAPS: usize = 50;
pub const MAX_DEPTH: u32 = 10;
pub const MAX_PAGES: usize = 20_000;
pub const MAX_CONCURRENCY: usize = 8;
pub const MAX_DELAY_MS: u64 = 60_000;
pub const MAX_PAGE_BYTES: u64 = 100 * 1024 * 1024;
pub const MAX_TIMEOUT_SECS: u64 = 300;
/// A robots.txt `Crawl-delay` longer than this is honoured as this (a day-long crawl is useless).
pub const MAX_CRAWL_DELAY_MS: u64 = 60_000;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebSourceConfig {
    /// Start pages (http or https). Their hosts, and those of the sitemaps, are the crawl's scope.
    pub urls: Vec<String>,
    /// `sitemap.xml` files or sitemap indexes; every page they list is a start page.
    pub sitemaps: Vec<String>,
    /// Links followed from a start page: 0 fetches the start pages (and sitemap pages) only.
    pub max_depth: u32,
    /// Pages fetched per sync, at most (start pages first, then breadth-first in link order).
    pub max_pages: usize,
    /// Globs on the URL path without its leading `/` (plus `?query` when there is one), e.g.
    /// `docs/**`; empty means every page in scope.
    pub include: Vec<String>,
    pub exclude: Vec<String>,
    /// Requests in flight per host.
    pub concurrency: usize,
    /// Pause between two requests to the same host (a robots.txt `Crawl-delay` can lengthen it).
    pub delay_ms: u64,
    /// Sent with every request; its first word (before `/`) is the robots.txt agent token.
    pub user_agent: String,
    /// Larger responses are abandoned and reported (the gateway's per-document limit also applies).
    pub max_page_bytes: u64,
    /// Per request, connection to last byte.
    pub timeout_secs: u64,
    /// Who may see the pages: default groups and rules on the URL path (`hr/**`).
    pub acl: AclConfig,
}

impl Default for WebSourceConfig {
    fn default() -> Self {
        Self {
            urls: Vec::new(),
            sitemaps: Vec::new(),
            max_depth: 3,
            max_pages: 1_000,
            include: Vec::new(),
            exclude: Vec::new(),
            concurrency: 2,
            delay_ms: 250,
            user_agent: format!(
                "ragway/{} (enterprise search crawler)",
                env!("CARGO_PKG_VERSION")
            ),
            max_page_bytes: 10 * 1024 * 1024,
            timeout_secs: 30,
            acl: AclConfig::default(),
        }
    }
}

fn bounded<T: PartialOrd + std::fmt::Display>(name: &str, value: T, min: T, max: T) -> Result<()> {
    if value < min || value > max {
        return Err(IngestError::Config(format!(
            "web source: {name} must be between {min} and {max} (got {value})"
        )));
    }
    Ok(())
}

impl WebSourceConfig {
    /// Checks bounds and shapes; URLs and globs are checked when the crawl is planned.
    pub fn validate(&self) -> Result<()> {
        if self.urls.is_empty() && self.sitemaps.is_empty() {
            return Err(IngestError::Config(
                "web source: give at least one start url or sitemap".into(),
            ));
        }
        bounded("the number of urls", self.urls.len(), 0, MAX_START_URLS)?;
        bounded(
            "the number of sitemaps",
            self.sitemaps.len(),
            0,
            MAX_SITEMAPS,
        )?;
        bounded("max_depth", self.max_depth, 0, MAX_DEPTH)?;
        bounded("max_pages", self.max_pages, 1, MAX_PAGES)?;
        bounded("concurrency", self.concurrency, 1, MAX_CONCURRENCY)?;
        bounded("delay_ms", self.delay_ms, 0, MAX_DELAY_MS)?;
        bounded("max_page_bytes", self.max_page_bytes, 1, MAX_PAGE_BYTES)?;
        bounded("timeout_secs", self.timeout_secs, 1, MAX_TIMEOUT_SECS)?;
        let agent = self.user_agent.trim();
        if agent.is_empty()
            || agent.len() > 256
            || !agent.chars().all(|c| c.is_ascii_graphic() || c == ' ')
            || self.agent_token().is_empty()
        {
            return Err(IngestError::Config(
                "web source: user_agent must be 1-256 printable ASCII characters starting with a product name".into(),
            ));
        }
        Ok(())
    }

    /// The product token robots.txt groups are matched against (`ragway` for `ragway/0.1 (…)`).
    pub fn agent_token(&self) -> String {
        self.user_agent
            .split(['/', ' '])
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_need_a_start_and_bounds_are_enforced() {
        let config = WebSourceConfig::default();
        assert!(config.validate().is_err(), "no url nor sitemap");
        let ok = WebSourceConfig {
            urls: vec!["https://intranet.example/".into()],
            ..WebSourceConfig::default()
        };
        ok.validate().unwrap();
        assert_eq!(ok.agent_token(), "ragway");
        for bad in [
            WebSourceConfig {
                max_pages: 0,
                ..ok.clone()
            },
            WebSourceConfig {
                max_pages: MAX_PAGES + 1,
                ..ok.clone()
            },
            WebSourceConfig {
                concurrency: 100,
                ..ok.clone()
            },
            WebSourceConfig {
                max_depth: 11,
                ..ok.clone()
            },
            WebSourceConfig {
                user_agent: " ".into(),
                ..ok.clone()
            },
            WebSourceConfig {
                user_agent: "bad\nagent".into(),
                ..ok.clone()
            },
        ] {
            let err = bad.validate().unwrap_err().to_string();
            assert!(err.contains("web source"), "{err}");
        }
    }

    #[test]
    fn unknown_keys_are_refused() {
        let err = serde_json::from_str::<WebSourceConfig>(r#"{"urls": [], "max_pagez": 3}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("max_pagez"), "{err}");
        let config: WebSourceConfig =
            serde_json::from_str(r#"{"urls": ["https://a.example/"], "max_depth": 1}"#).unwrap();
        assert_eq!((config.max_depth, config.concurrency), (1, 2));
    }
}
