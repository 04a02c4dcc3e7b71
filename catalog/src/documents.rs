//! The document manifest: what is indexed for each source, with its content hash.

use std::collections::HashMap;

use serde::Serialize;
use sqlx::Row;

use super::{Catalog, now};
use crate::error::Result;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ManifestEntry {
    pub document_id: String,
    pub uri: String,
    pub title: String,
    pub mime: String,
    pub content_hash: String,
    pub size_bytes: i64,
    pub chunk_count: i64,
    /// Groups that may see the document (sorted; empty: the whole tenant).
    pub acl: Vec<String>,
    /// Fingerprint of how it was indexed (ragway-ingest's `Indexer::analysis`); '' before it was
    /// recorded.
    pub analysis: String,
}

/// Columns of a manifest row as `record_documents` inserts it.
const MANIFEST_COLUMNS: usize = 12;
/// Rows a statement. Each of the 32 sizes is parsed once and cached by the connection; SQLite
/// finds a parameter by name in a list, so much larger statements (256 rows) spent more time
/// binding and parsing than the transactions they saved.
const ROWS_PER_STATEMENT: usize = 32;

/// `$first, $first+1, …` (`n` of them): the placeholder style both SQLite and PostgreSQL read.
fn numbered_placeholders(n: usize, first: usize) -> Vec<String> {
    (first..first + n).map(|i| format!("${i}")).collect()
}

impl Catalog {
    /// The source's manifest keyed by uri.
    pub async fn manifest(&self, source_id: &str) -> Result<HashMap<String, ManifestEntry>> {
        let rows = sqlx::query(
            "SELECT id, uri, title, mime, content_hash, size_bytes, chunk_count, acl, analysis FROM documents WHERE source_id = $1",
        )
        .bind(source_id)
        .fetch_all(self.pool())
        .await?;
        let mut manifest = HashMap::with_capacity(rows.len());
        for row in rows {
            let entry = ManifestEntry {
                document_id: row.try_get("id")?,
                uri: row.try_get("uri")?,
                title: row.try_get("title")?,
                mime: row.try_get("mime")?,
                content_hash: row.try_get("content_hash")?,
                size_bytes: row.try_get("size_bytes")?,
                chunk_count: row.try_get("chunk_count")?,
                acl: serde_json::from_str(&row.try_get::<String, _>("acl")?).unwrap_or_default(),
                analysis: row.try_get("analysis")?,
            };
            manifest.insert(entry.uri.clone(), entry);
        }
        Ok(manifest)
    }

    /// Records (or replaces) a document's manifest row once its points are written.
    pub async fn record_document(
        &self,
        tenant_id: &str,
        source_id: &str,
        entry: &ManifestEntry,
    ) -> Result<()> {
        self.record_documents(tenant_id, source_id, &[entry]).await
    }

    /// Records (or replaces) the manifest rows of a written batch in one transaction, up to
    /// 32 rows a statement: a transaction per document cost a sync of 7,000 small documents
    /// 6 % of its CPU in round trips to the database (docs/BENCHMARKS.md). A later entry for the
    /// same document wins.
    pub async fn record_documents(
        &self,
        tenant_id: &str,
        source_id: &str,
        entries: &[&ManifestEntry],
    ) -> Result<()> {
        let mut latest: HashMap<&str, &ManifestEntry> = HashMap::with_capacity(entries.len());
        for &entry in entries {
            latest.insert(entry.document_id.as_str(), entry);
        }
        let mut rows: Vec<&ManifestEntry> = latest.into_values().collect();
        if rows.is_empty() {
            return Ok(());
        }
        // In id order: writers that meet on the same rows take their locks in the same order.
        rows.sort_by(|a, b| a.document_id.cmp(&b.document_id));
        let indexed_at = now();
        let mut tx = self.pool().begin().await?;
        for part in rows.chunks(ROWS_PER_STATEMENT) {
            let placeholders = numbered_placeholders(part.len(), 1);
            let sql = format!(
                "DELETE FROM documents WHERE id IN ({})",
                placeholders.join(", ")
            );
            let mut delete = sqlx::query(&sql);
            for entry in part {
                delete = delete.bind(&entry.document_id);
            }
            delete.execute(&mut *tx).await?;

            let values: Vec<String> = (0..part.len())
                .map(|row| {
                    let first = row * MANIFEST_COLUMNS + 1;
                    format!(
                        "({})",
                        numbered_placeholders(MANIFEST_COLUMNS, first).join(", ")
                    )
                })
                .collect();
            let sql = format!(
                "INSERT INTO documents (id, tenant_id, source_id, uri, title, mime, content_hash, size_bytes, chunk_count, indexed_at, acl, analysis) VALUES {}",
                values.join(", ")
            );
            let mut insert = sqlx::query(&sql);
            for entry in part {
                insert = insert
                    .bind(&entry.document_id)
                    .bind(tenant_id)
                    .bind(source_id)
                    .bind(&entry.uri)
                    .bind(&entry.title)
                    .bind(&entry.mime)
                    .bind(&entry.content_hash)
                    .bind(entry.size_bytes)
                    .bind(entry.chunk_count)
                    .bind(indexed_at.clone())
                    .bind(serde_json::to_string(&entry.acl).unwrap_or_else(|_| "[]".into()))
                    .bind(&entry.analysis);
            }
            insert.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn forget_document(&self, document_id: &str) -> Result<()> {
        sqlx::query("DELETE FROM documents WHERE id = $1")
            .bind(document_id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    pub async fn document_count(&self, tenant_id: &str) -> Result<i64> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM documents WHERE tenant_id = $1")
            .bind(tenant_id)
            .fetch_one(self.pool())
            .await?;
        Ok(row.try_get("n")?)
    }
}

/// A document as the admin API lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DocumentRecord {
    pub id: String,
    pub source_id: String,
    pub uri: String,
    pub title: String,
    pub mime: String,
    pub size_bytes: i64,
    pub chunk_count: i64,
    pub indexed_at: String,
    pub acl: Vec<String>,
}

/// Which documents to list: one source or all, a case-insensitive match on title or uri.
#[derive(Debug, Clone, Default)]
pub struct DocumentQuery<'a> {
    pub source_id: Option<&'a str>,
    pub search: Option<&'a str>,
    pub limit: i64,
    pub offset: i64,
}

fn document_from_row(row: &sqlx::any::AnyRow) -> Result<DocumentRecord> {
    Ok(DocumentRecord {
        id: row.try_get("id")?,
        source_id: row.try_get("source_id")?,
        uri: row.try_get("uri")?,
        title: row.try_get("title")?,
        mime: row.try_get("mime")?,
        size_bytes: row.try_get("size_bytes")?,
        chunk_count: row.try_get("chunk_count")?,
        indexed_at: row.try_get("indexed_at")?,
        acl: serde_json::from_str(&row.try_get::<String, _>("acl")?).unwrap_or_default(),
    })
}

const DOCUMENT_COLUMNS: &str =
    "id, source_id, uri, title, mime, size_bytes, chunk_count, indexed_at, acl";

impl Catalog {
    /// A tenant's documents by uri, filtered and paged.
    pub async fn documents(
        &self,
        tenant_id: &str,
        query: &DocumentQuery<'_>,
    ) -> Result<Vec<DocumentRecord>> {
        // LOWER(...) LIKE works the same on SQLite and PostgreSQL.
        let pattern = query
            .search
            .map(|s| format!("%{}%", s.to_lowercase().replace(['%', '_'], "")));
        let rows = sqlx::query(&format!(
            "SELECT {DOCUMENT_COLUMNS} FROM documents WHERE tenant_id = $1 \
             AND ($2 IS NULL OR source_id = $2) \
             AND ($3 IS NULL OR LOWER(title) LIKE $3 OR LOWER(uri) LIKE $3) \
             ORDER BY uri LIMIT $4 OFFSET $5"
        ))
        .bind(tenant_id)
        .bind(query.source_id)
        .bind(pattern)
        .bind(query.limit)
        .bind(query.offset)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(document_from_row).collect()
    }

    /// One of a tenant's documents.
    pub async fn document(&self, tenant_id: &str, id: &str) -> Result<Option<DocumentRecord>> {
        let row = sqlx::query(&format!(
            "SELECT {DOCUMENT_COLUMNS} FROM documents WHERE tenant_id = $1 AND id = $2"
        ))
        .bind(tenant_id)
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(document_from_row).transpose()
    }
}
