//! A crawl's plan, checked before anything is fetched: canonical start URLs and sitemaps, the
//! hosts in scope, and the include/exclude globs.

use std::collections::HashSet;

use globset::GlobSet;
use url::Url;

use super::canonical::{canonical, host_of, is_asset, path_key};
use super::config::WebSourceConfig;
use crate::error::{IngestError, Result};
use crate::source::folder::glob_set;

#[derive(Debug, Clone)]
pub struct Plan {
    pub start: Vec<Url>,
    pub sitemaps: Vec<Url>,
    hosts: HashSet<String>,
    include: Option<GlobSet>,
    exclude: GlobSet,
}

impl Plan {
    pub fn new(config: &WebSourceConfig) -> Result<Self> {
        let parse = |text: &String| {
            canonical(text).map_err(|e| IngestError::Config(format!("web source: {e}")))
        };
        let start: Vec<Url> = config.urls.iter().map(parse).collect::<Result<_>>()?;
        let sitemaps: Vec<Url> = config.sitemaps.iter().map(parse).collect::<Result<_>>()?;
        let hosts = start.iter().chain(&sitemaps).map(host_of).collect();
        let include = if config.include.is_empty() {
            None
        } else {
            Some(glob_set(&config.include)?)
        };
        Ok(Self {
            start,
            sitemaps,
            hosts,
            include,
            exclude: glob_set(&config.exclude)?,
        })
    }

    pub fn host_count(&self) -> usize {
        self.hosts.len()
    }

    /// Same host as a start URL or sitemap (any scheme or port).
    pub fn in_scope(&self, url: &Url) -> bool {
        self.hosts.contains(&host_of(url))
    }

    /// Whether a discovered URL is worth fetching: in scope, selected by the globs, not an asset.
    pub fn follows(&self, url: &Url) -> bool {
        if !self.in_scope(url) || is_asset(url) {
            return false;
        }
        let key = path_key(url);
        self.include.as_ref().is_none_or(|set| set.is_match(&key)) && !self.exclude.is_match(&key)
    }
}

impl WebSourceConfig {
    /// Everything a crawl would refuse before its first request: bounds, shapes, start URLs
    /// (http(s), a host, no credentials) and globs — by planning it. For settings given through
    /// the admin API.
    pub fn check(&self) -> Result<()> {
        self.validate()?;
        Plan::new(self).map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_and_globs() {
        let config = WebSourceConfig {
            urls: vec!["https://docs.example.com/".into()],
            sitemaps: vec!["https://kb.example.com/sitemap.xml".into()],
            include: vec!["guide/**".into(), "kb/**".into()],
            exclude: vec!["**/drafts/**".into()],
            ..WebSourceConfig::default()
        };
        let plan = Plan::new(&config).unwrap();
        let follows = |u: &str| plan.follows(&canonical(u).unwrap());
        assert!(follows("https://docs.example.com/guide/a.html"));
        assert!(
            follows("http://docs.example.com:8080/guide/b"),
            "same host, any scheme or port"
        );
        assert!(follows("https://kb.example.com/kb/1"));
        assert!(!follows("https://docs.example.com/blog/x"), "not included");
        assert!(
            !follows("https://docs.example.com/guide/drafts/x"),
            "excluded"
        );
        assert!(!follows("https://evil.example/guide/a.html"), "other host");
        assert!(!follows("https://docs.example.com/guide/logo.png"), "asset");

        let bad = WebSourceConfig {
            urls: vec!["gopher://docs.example.com/".into()],
            ..WebSourceConfig::default()
        };
        assert!(
            Plan::new(&bad)
                .unwrap_err()
                .to_string()
                .contains("http and https")
        );
    }
}
