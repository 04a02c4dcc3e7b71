//! What a web source's URLs last answered (table `web_pages`, migration 0007): validators for
//! conditional GETs and the links to follow when a page answers 304 or fails for a while.

use std::collections::{HashMap, HashSet};

use sqlx::Row;

use super::{Catalog, now};
use crate::error::Result;

/// Whether a row describes a page (indexed) or a sitemap (only the URLs it lists matter).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebPageKind {
    Page,
    Sitemap,
    SitemapIndex,
}

impl WebPageKind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Page => "page",
            Self::Sitemap => "sitemap",
            Self::SitemapIndex => "sitemap_index",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebPageRecord {
    /// The URL requested (canonical).
    pub url: String,
    pub kind: WebPageKind,
    /// Where redirects led: the uri of the indexed document.
    pub final_url: String,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    /// Hash of the body the validators belong to.
    pub content_hash: String,
    /// Canonical URLs the page links to (a sitemap: the URLs it lists), in order.
    pub links: Vec<String>,
}

impl Catalog {
    /// A web source's rows by requested URL.
    pub async fn web_pages(&self, source_id: &str) -> Result<HashMap<String, WebPageRecord>> {
        let rows = sqlx::query(
            "SELECT url, kind, final_url, etag, last_modified, content_hash, links FROM web_pages WHERE source_id = $1",
        )
        .bind(source_id)
        .fetch_all(self.pool())
        .await?;
        let mut pages = HashMap::with_capacity(rows.len());
        for row in rows {
            let kind: String = row.try_get("kind")?;
            let record = WebPageRecord {
                url: row.try_get("url")?,
                kind: match kind.as_str() {
                    "sitemap" => WebPageKind::Sitemap,
                    "sitemap_index" => WebPageKind::SitemapIndex,
                    _ => WebPageKind::Page,
                },
                final_url: row.try_get("final_url")?,
                etag: row.try_get("etag")?,
                last_modified: row.try_get("last_modified")?,
                content_hash: row.try_get("content_hash")?,
                links: serde_json::from_str(&row.try_get::<String, _>("links")?)
                    .unwrap_or_default(),
            };
            pages.insert(record.url.clone(), record);
        }
        Ok(pages)
    }

    /// Records (or replaces) what a URL answered.
    pub async fn record_web_page(&self, source_id: &str, page: &WebPageRecord) -> Result<()> {
        sqlx::query(
            "INSERT INTO web_pages (source_id, url, kind, final_url, etag, last_modified, content_hash, links, fetched_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
             ON CONFLICT (source_id, url) DO UPDATE SET kind = excluded.kind, final_url = excluded.final_url, \
             etag = excluded.etag, last_modified = excluded.last_modified, content_hash = excluded.content_hash, \
             links = excluded.links, fetched_at = excluded.fetched_at",
        )
        .bind(source_id)
        .bind(&page.url)
        .bind(page.kind.as_str())
        .bind(&page.final_url)
        .bind(&page.etag)
        .bind(&page.last_modified)
        .bind(&page.content_hash)
        .bind(serde_json::to_string(&page.links).unwrap_or_else(|_| "[]".into()))
        .bind(now())
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Forgets everything recorded for a web source (call it when the source is deleted; SQLite
    /// may have foreign-key cascades off).
    pub async fn forget_web_pages(&self, source_id: &str) -> Result<u64> {
        let done = sqlx::query("DELETE FROM web_pages WHERE source_id = $1")
            .bind(source_id)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected())
    }

    /// Forgets the rows of URLs the last crawl did not reach (or that are gone).
    pub async fn retain_web_pages(&self, source_id: &str, keep: &HashSet<String>) -> Result<u64> {
        let stored = self.web_pages(source_id).await?;
        let mut removed = 0;
        for url in stored.keys().filter(|url| !keep.contains(*url)) {
            removed += sqlx::query("DELETE FROM web_pages WHERE source_id = $1 AND url = $2")
                .bind(source_id)
                .bind(url)
                .execute(self.pool())
                .await?
                .rows_affected();
        }
        Ok(removed)
    }
}
