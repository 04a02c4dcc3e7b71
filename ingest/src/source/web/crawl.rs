//! The crawl: start pages and sitemap entries first, then links breadth-first, level by level
//! (links are admitted in page order, so the same site yields the same page set every time).
//! Each fetched page goes to the sync pipeline as soon as it arrives.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::channel::mpsc::Sender;
use futures::{SinkExt, StreamExt};
use ragway_catalog::{Catalog, WebPageKind, WebPageRecord};
use tokio::sync::OnceCell;
use url::Url;

use super::canonical::{canonical, name_of};
use super::charset::{charset_of, to_utf8};
use super::client::{FetchError, GuardedClient, Response, Validators};
use super::config::{MAX_CRAWL_DELAY_MS, WebSourceConfig};
use super::gate::{HostGate, host_delay};
use super::links::{self, PageLinks};
use super::plan::Plan;
use super::robots::{MAX_ROBOTS_BYTES, Robots};
use super::sitemap::{self, Sitemap};
use crate::ids::content_hash;
use crate::parse::Format;
use crate::progress::{Progress, SyncEvent};
use crate::source::{EntryContent, ListItem, SourceEntry};

/// Sitemaps an index may name (each one fetched).
const MAX_CHILD_SITEMAPS: usize = 200;
/// Parallel fetches across all hosts (each host is held to the source's own concurrency).
const MAX_PARALLEL: usize = 32;

/// What robots.txt says about an origin, and its politeness gate.
struct Origin {
    robots: RobotsState,
    gate: HostGate,
}

enum RobotsState {
    Rules(Robots),
    /// robots.txt could not be read (5xx, network): the origin is not crawled this time, and
    /// what was indexed from it stays (RFC 9309: assume complete disallow).
    Unavailable(String),
    /// The guard refused the origin's address.
    Refused(String),
}

pub(crate) struct Crawler<'a> {
    pub client: GuardedClient,
    pub config: &'a WebSourceConfig,
    pub plan: Plan,
    pub catalog: Catalog,
    pub source_id: String,
    pub max_bytes: u64,
    /// What the last crawls recorded, by requested URL.
    pub stored: HashMap<String, WebPageRecord>,
    /// Content hash of every indexed document, by uri.
    pub indexed: HashMap<String, String>,
    pub progress: Progress<'a>,
    token: String,
    origins: Mutex<HashMap<String, Arc<OnceCell<Arc<Origin>>>>>,
    handed_over: Mutex<HashSet<String>>,
    reached: Mutex<HashSet<String>>,
    stopped: AtomicBool,
}

impl<'a> Crawler<'a> {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        client: GuardedClient,
        config: &'a WebSourceConfig,
        plan: Plan,
        catalog: Catalog,
        source_id: String,
        max_bytes: u64,
        stored: HashMap<String, WebPageRecord>,
        indexed: HashMap<String, String>,
        progress: Progress<'a>,
    ) -> Self {
        Self {
            client,
            token: config.agent_token(),
            config,
            plan,
            catalog,
            source_id,
            max_bytes,
            stored,
            indexed,
            progress,
            origins: Mutex::new(HashMap::new()),
            handed_over: Mutex::new(HashSet::new()),
            reached: Mutex::new(HashSet::new()),
            stopped: AtomicBool::new(false),
        }
    }

    /// Crawls, sending every page to `out`; returns the URLs whose stored rows are still valid.
    pub async fn crawl(self, out: Sender<ListItem>) -> HashSet<String> {
        self.crawl_levels(&out).await;
        self.reached.into_inner().unwrap_or_default()
    }

    async fn crawl_levels(&self, out: &Sender<ListItem>) {
        let max_pages = self.config.max_pages;
        let mut admitted: HashSet<String> = HashSet::new();
        let mut level: Vec<(Url, bool)> = Vec::new();
        for url in &self.plan.start {
            admit(&mut admitted, max_pages, url.clone(), true, &mut level);
        }
        for sitemap in &self.plan.sitemaps {
            for listed in self.sitemap_urls(sitemap, 0, out).await {
                match canonical(&listed) {
                    Ok(url) if self.plan.follows(&url) => {
                        admit(&mut admitted, max_pages, url, true, &mut level);
                    }
                    Ok(url) => tracing::debug!(url = %url, "sitemap entry out of scope; skipped"),
                    Err(reason) => tracing::debug!(%reason, "invalid sitemap entry; skipped"),
                }
            }
        }
        let parallel = (self.config.concurrency * self.plan.host_count()).clamp(1, MAX_PARALLEL);
        let mut depth = 0;
        while !level.is_empty() && !self.stopped.load(Ordering::Relaxed) {
            (self.progress)(&SyncEvent::Listed {
                total: admitted.len(),
            });
            let mut found: Vec<(usize, Vec<String>)> =
                // Owned items: borrowed ones make the future's Send-ness depend on
                // higher-ranked lifetimes the compiler cannot prove.
                futures::stream::iter(std::mem::take(&mut level).into_iter().enumerate())
                    .map(|(i, (url, explicit))| {
                        let out = out.clone();
                        async move { (i, self.visit(&url, explicit, out).await) }
                    })
                    .buffer_unordered(parallel)
                    .collect()
                    .await;
            if depth >= self.config.max_depth {
                break;
            }
            found.sort_by_key(|(i, _)| *i);
            let mut next = Vec::new();
            for link in found.into_iter().flat_map(|(_, links)| links) {
                if let Ok(url) = canonical(&link)
                    && self.plan.follows(&url)
                {
                    admit(&mut admitted, max_pages, url, false, &mut next);
                }
            }
            level = next;
            depth += 1;
        }
    }

    async fn send(&self, mut out: Sender<ListItem>, item: ListItem) {
        if let ListItem::Entry(entry) = &item {
            // Never held across an await: every visit runs on this one task.
            let first = self
                .handed_over
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(entry.uri.clone());
            if !first {
                return; // another URL redirected to the same page
            }
        }
        if out.send(item).await.is_err() {
            // The pipeline stopped (it failed): no point fetching more.
            self.stopped.store(true, Ordering::Relaxed);
        }
    }

    fn reach(&self, url: &str) {
        self.reached
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(url.to_owned());
    }

    async fn origin(&self, url: &Url) -> Arc<Origin> {
        let key = url.origin().ascii_serialization();
        let cell = {
            let mut origins = self.origins.lock().unwrap_or_else(|e| e.into_inner());
            origins.entry(key).or_default().clone()
        };
        cell.get_or_init(|| self.load_origin(url)).await.clone()
    }

    async fn load_origin(&self, url: &Url) -> Arc<Origin> {
        let robots = match url.join("/robots.txt") {
            Err(e) => RobotsState::Unavailable(format!("robots.txt: {e}")),
            Ok(robots_url) => {
                match self
                    .client
                    .get(&robots_url, None, 4 * MAX_ROBOTS_BYTES as u64)
                    .await
                {
                    Ok(r) if (200..300).contains(&r.status) => RobotsState::Rules(Robots::parse(
                        &String::from_utf8_lossy(&r.body),
                        &self.token,
                    )),
                    // RFC 9309: 4xx means there are no rules.
                    Ok(r) if (400..500).contains(&r.status) => {
                        RobotsState::Rules(Robots::allow_all())
                    }
                    Ok(r) => {
                        RobotsState::Unavailable(format!("robots.txt answered HTTP {}", r.status))
                    }
                    Err(FetchError::Refused(reason)) => RobotsState::Refused(reason),
                    Err(e) => RobotsState::Unavailable(format!("robots.txt: {e}")),
                }
            }
        };
        let crawl_delay = match &robots {
            RobotsState::Rules(rules) => rules.crawl_delay(),
            _ => None,
        };
        let delay = host_delay(
            Duration::from_millis(self.config.delay_ms),
            crawl_delay,
            Duration::from_millis(MAX_CRAWL_DELAY_MS),
        );
        if delay > Duration::from_millis(self.config.delay_ms) {
            tracing::info!(origin = %url.origin().ascii_serialization(), ?delay, "robots.txt Crawl-delay honoured");
        }
        Arc::new(Origin {
            robots,
            gate: HostGate::new(self.config.concurrency, delay),
        })
    }

    /// Whether robots.txt lets us fetch `url`; `Err` carries a reason and whether to keep what
    /// is indexed.
    async fn robots_check(&self, url: &Url) -> Result<Arc<Origin>, (String, bool)> {
        let origin = self.origin(url).await;
        match &origin.robots {
            RobotsState::Rules(rules) => {
                let path = match url.query() {
                    Some(q) => format!("{}?{q}", url.path()),
                    None => url.path().to_owned(),
                };
                if rules.allows(&path) {
                    Ok(origin)
                } else {
                    Err(("disallowed by robots.txt".into(), false))
                }
            }
            RobotsState::Unavailable(reason) => Err((format!("not crawled: {reason}"), true)),
            RobotsState::Refused(reason) => Err((format!("refused: {reason}"), false)),
        }
    }

    /// Fetches one page and hands it over; returns the links to follow from it.
    async fn visit(&self, url: &Url, explicit: bool, out: Sender<ListItem>) -> Vec<String> {
        if self.stopped.load(Ordering::Relaxed) {
            return Vec::new();
        }
        let key = url.to_string();
        let stored = self
            .stored
            .get(&key)
            .filter(|r| r.kind == WebPageKind::Page);
        // What to keep following when the page cannot be read this time.
        let known_links = || stored.map(|r| r.links.clone()).unwrap_or_default();
        let indexed_uri = stored.map_or_else(|| key.clone(), |r| r.final_url.clone());
        let failed = |reason: String, keep: bool| ListItem::Failed {
            uri: indexed_uri.clone(),
            reason,
            keep,
        };

        let origin = match self.robots_check(url).await {
            Ok(origin) => origin,
            Err((reason, keep)) => {
                // A page only linked (not listed) that robots.txt disallows is simply not crawled.
                if keep || explicit || stored.is_some() {
                    self.send(out, failed(reason, keep)).await;
                }
                if keep {
                    self.reach(&key);
                    return known_links();
                }
                return Vec::new();
            }
        };
        // Validators only while the indexed document is the body they belong to.
        let validators = stored
            .filter(|r| self.indexed.get(&r.final_url) == Some(&r.content_hash))
            .map(|r| Validators {
                etag: r.etag.clone(),
                last_modified: r.last_modified.clone(),
            });
        let response = {
            let _permit = origin.gate.enter().await;
            self.client
                .get(url, validators.as_ref(), self.max_bytes)
                .await
        };
        let response = match response {
            Ok(response) => response,
            Err(FetchError::Refused(reason)) => {
                self.send(out, failed(format!("refused: {reason}"), false))
                    .await;
                return Vec::new();
            }
            Err(err) => {
                self.send(out, failed(err.to_string(), true)).await;
                self.reach(&key);
                return known_links();
            }
        };
        let final_url = match canonical(response.final_url.as_str()) {
            Ok(u) => u,
            Err(reason) => {
                self.send(out, failed(reason, false)).await;
                return Vec::new();
            }
        };
        if final_url != *url {
            if !self.plan.in_scope(&final_url) {
                let reason = format!("redirected outside the crawl's hosts, to {final_url}");
                self.send(out, failed(reason, false)).await;
                return Vec::new();
            }
            if let Err((reason, keep)) = self.robots_check(&final_url).await {
                self.send(
                    out,
                    failed(format!("redirected to {final_url}: {reason}"), keep),
                )
                .await;
                return if keep { known_links() } else { Vec::new() };
            }
        }
        let final_uri = final_url.to_string();
        let gone = |status: u16| ListItem::Failed {
            uri: final_uri.clone(),
            reason: format!("HTTP {status}: the page is gone"),
            keep: false,
        };
        match response.status {
            304 => match stored {
                Some(record) if validators.is_some() && record.final_url == final_uri => {
                    let entry = SourceEntry {
                        uri: final_uri,
                        size: 0,
                        content: EntryContent::NotModified,
                    };
                    self.send(out, ListItem::Entry(entry)).await;
                    self.reach(&key);
                    record.links.clone()
                }
                _ => {
                    let reason =
                        "HTTP 304 Not Modified, but no stored copy of this page to keep".to_owned();
                    self.send(out, failed(reason, true)).await;
                    Vec::new()
                }
            },
            404 | 410 => {
                self.send(out, gone(response.status)).await;
                Vec::new()
            }
            status if !(200..300).contains(&status) => {
                let reason = format!("HTTP {status}");
                self.send(out, failed(reason, true)).await;
                self.reach(&key);
                known_links()
            }
            _ => self.take_page(&key, final_url, response, out).await,
        }
    }

    /// A 2xx page: decode, read links, remember its validators, hand it over.
    async fn take_page(
        &self,
        key: &str,
        final_url: Url,
        response: Response,
        out: Sender<ListItem>,
    ) -> Vec<String> {
        let final_uri = final_url.to_string();
        let content_type = response.content_type.clone().unwrap_or_default();
        let generic = content_type.is_empty()
            || content_type.starts_with("application/octet-stream")
            || content_type.starts_with("binary/octet-stream");
        let by_extension = || {
            final_url
                .path()
                .rsplit_once('.')
                .and_then(|(_, ext)| Format::from_extension(ext))
        };
        let format = if generic {
            by_extension()
        } else {
            match Format::from_mime(&content_type) {
                // Markdown is often served as text/plain.
                Some(Format::Text) => by_extension()
                    .filter(|f| *f == Format::Markdown)
                    .or(Some(Format::Text)),
                other => other,
            }
        };
        let Some(format) = format else {
            tracing::debug!(uri = %final_uri, %content_type, "unsupported content type");
            self.send(out, ListItem::Unsupported(final_uri)).await;
            return Vec::new();
        };
        let body = if format.is_text() {
            match to_utf8(
                response.body,
                charset_of(&content_type),
                format == Format::Html,
            ) {
                Ok(body) => body,
                Err(reason) => {
                    let item = ListItem::Failed {
                        uri: final_uri,
                        reason,
                        keep: false,
                    };
                    self.send(out, item).await;
                    return Vec::new();
                }
            }
        } else {
            response.body
        };
        let mut page = PageLinks::default();
        if format == Format::Html {
            let html = String::from_utf8_lossy(&body).into_owned();
            let (base, token) = (final_url.clone(), self.token.clone());
            page = tokio::task::spawn_blocking(move || links::extract(&html, &base, &token))
                .await
                .unwrap_or_default();
        }
        if let Some(header) = &response.x_robots_tag {
            links::apply_directives(header, &mut page);
        }
        let follow = if page.nofollow {
            Vec::new()
        } else {
            page.links
        };
        let record = WebPageRecord {
            url: key.to_owned(),
            kind: WebPageKind::Page,
            final_url: final_uri.clone(),
            etag: response.validators.etag,
            last_modified: response.validators.last_modified,
            content_hash: content_hash(&body),
            links: follow.clone(),
        };
        if let Err(err) = self.catalog.record_web_page(&self.source_id, &record).await {
            tracing::warn!(url = %key, %err, "cannot record the page's validators; it is fetched in full next time");
        }
        self.reach(key);
        if page.noindex {
            tracing::debug!(uri = %final_uri, "noindex: not indexed");
        } else {
            let entry = SourceEntry {
                uri: final_uri,
                size: body.len() as u64,
                content: EntryContent::Bytes {
                    name: name_of(&final_url),
                    bytes: body,
                    format,
                },
            };
            self.send(out, ListItem::Entry(entry)).await;
        }
        follow
    }

    /// The page URLs a sitemap lists (following a sitemap index one level down).
    async fn sitemap_urls(&self, url: &Url, level: u8, out: &Sender<ListItem>) -> Vec<String> {
        let key = url.to_string();
        let stored = self
            .stored
            .get(&key)
            .filter(|r| matches!(r.kind, WebPageKind::Sitemap | WebPageKind::SitemapIndex));
        // What the sitemap listed last time, when it cannot be read now.
        let known = || {
            stored.map_or((Vec::new(), false), |r| {
                (r.links.clone(), r.kind == WebPageKind::SitemapIndex)
            })
        };
        let failed = |reason: String| ListItem::Failed {
            uri: key.clone(),
            reason: format!("sitemap: {reason}"),
            keep: true,
        };
        let (listed, is_index) = match self.fetch_sitemap(url, stored).await {
            Ok(Some((links, is_index))) => {
                self.reach(&key);
                (links, is_index)
            }
            Ok(None) => {
                self.reach(&key);
                known()
            }
            Err((reason, keep)) => {
                self.send(out.clone(), failed(reason)).await;
                if !keep {
                    return Vec::new();
                }
                self.reach(&key);
                known()
            }
        };
        if is_index {
            return self.children(listed, level, out).await;
        }
        listed
    }

    /// `Ok(None)`: not modified; `Err((reason, keep what was known))`.
    async fn fetch_sitemap(
        &self,
        url: &Url,
        stored: Option<&WebPageRecord>,
    ) -> Result<Option<(Vec<String>, bool)>, (String, bool)> {
        let origin = self.robots_check(url).await?;
        let validators = stored.map(|r| Validators {
            etag: r.etag.clone(),
            last_modified: r.last_modified.clone(),
        });
        let response = {
            let _permit = origin.gate.enter().await;
            self.client
                .get(url, validators.as_ref(), self.max_bytes)
                .await
        };
        let response = match response {
            Ok(r) => r,
            Err(FetchError::Refused(reason)) => return Err((format!("refused: {reason}"), false)),
            Err(err) => return Err((err.to_string(), true)),
        };
        match response.status {
            304 if stored.is_some() => return Ok(None),
            404 | 410 => return Err((format!("HTTP {}: gone", response.status), false)),
            status if !(200..300).contains(&status) => {
                return Err((format!("HTTP {status}"), true));
            }
            _ => {}
        }
        let max = self.config.max_pages.max(MAX_CHILD_SITEMAPS);
        let body = response.body;
        let hash = content_hash(&body);
        let parsed = tokio::task::spawn_blocking(move || sitemap::parse(&body, max))
            .await
            .unwrap_or_else(|e| Err(e.to_string()));
        let (links, is_index) = match parsed {
            Ok(Sitemap::Pages(urls)) => (urls, false),
            Ok(Sitemap::Index(urls)) => (urls, true),
            Err(reason) => return Err((reason, true)),
        };
        let record = WebPageRecord {
            url: url.to_string(),
            kind: if is_index {
                WebPageKind::SitemapIndex
            } else {
                WebPageKind::Sitemap
            },
            final_url: response.final_url.to_string(),
            etag: response.validators.etag,
            last_modified: response.validators.last_modified,
            content_hash: hash,
            links: links.clone(),
        };
        if let Err(err) = self.catalog.record_web_page(&self.source_id, &record).await {
            tracing::warn!(url = %url, %err, "cannot record the sitemap");
        }
        Ok(Some((links, is_index)))
    }

    async fn children(
        &self,
        sitemaps: Vec<String>,
        level: u8,
        out: &Sender<ListItem>,
    ) -> Vec<String> {
        if level >= 1 {
            tracing::warn!("a sitemap index names another index; not followed");
            return Vec::new();
        }
        let mut pages = Vec::new();
        for child in sitemaps.into_iter().take(MAX_CHILD_SITEMAPS) {
            match canonical(&child) {
                Ok(child) if self.plan.in_scope(&child) => {
                    pages.extend(Box::pin(self.sitemap_urls(&child, level + 1, out)).await);
                }
                _ => tracing::debug!(%child, "sitemap out of scope; skipped"),
            }
            if pages.len() >= self.config.max_pages {
                break;
            }
        }
        pages
    }
}

/// Takes `url` into the crawl unless it was already taken or the page limit is reached.
fn admit(
    admitted: &mut HashSet<String>,
    max_pages: usize,
    url: Url,
    explicit: bool,
    level: &mut Vec<(Url, bool)>,
) {
    if admitted.len() < max_pages && admitted.insert(url.to_string()) {
        level.push((url, explicit));
    }
}
