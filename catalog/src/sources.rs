//! Sources: where a tenant's documents come from (kind + kind-specific settings), whether they are
//! paused, their schedule, and when the scheduler syncs them next.

use serde::Serialize;
use sqlx::Row;
use uuid::Uuid;

use super::{Catalog, now};
use crate::error::{CatalogError, Result};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SourceRecord {
    pub id: String,
    pub tenant_id: String,
    pub name: String,
    pub kind: String,
    /// Kind-specific settings as JSON (for a folder: its path and globs).
    pub settings: serde_json::Value,
    pub created_at: String,
    pub updated_at: Option<String>,
    /// A paused source is not synced by its schedule nor on request.
    pub paused: bool,
    /// The schedule as given (`every 6h`, or a cron expression), if any.
    pub schedule: Option<String>,
    pub next_sync_at: Option<String>,
}

/// What changes in a source; `None` keeps the current value.
#[derive(Debug, Clone, Default)]
pub struct SourceUpdate<'a> {
    pub name: Option<&'a str>,
    pub settings: Option<&'a serde_json::Value>,
    /// `Some(None)` removes the schedule.
    pub schedule: Option<Option<&'a str>>,
}

fn from_row(row: &sqlx::any::AnyRow) -> Result<SourceRecord> {
    let settings: String = row.try_get("settings")?;
    let paused: i64 = row.try_get("paused")?;
    Ok(SourceRecord {
        id: row.try_get("id")?,
        tenant_id: row.try_get("tenant_id")?,
        name: row.try_get("name")?,
        kind: row.try_get("kind")?,
        settings: serde_json::from_str(&settings).unwrap_or(serde_json::Value::Null),
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        paused: paused != 0,
        schedule: row.try_get("schedule")?,
        next_sync_at: row.try_get("next_sync_at")?,
    })
}

fn duplicate_name(err: sqlx::Error, name: &str) -> CatalogError {
    match &err {
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            CatalogError::AlreadyExists(format!("a source named `{name}`"))
        }
        _ => err.into(),
    }
}

impl Catalog {
    /// A tenant's sources, by name.
    pub async fn sources(&self, tenant_id: &str) -> Result<Vec<SourceRecord>> {
        let rows = sqlx::query("SELECT * FROM sources WHERE tenant_id = $1 ORDER BY name")
            .bind(tenant_id)
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(from_row).collect()
    }

    /// The tenant's source with this id.
    pub async fn source(&self, tenant_id: &str, id: &str) -> Result<Option<SourceRecord>> {
        let row = sqlx::query("SELECT * FROM sources WHERE tenant_id = $1 AND id = $2")
            .bind(tenant_id)
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(from_row).transpose()
    }

    pub async fn source_by_name(
        &self,
        tenant_id: &str,
        name: &str,
    ) -> Result<Option<SourceRecord>> {
        let row = sqlx::query("SELECT * FROM sources WHERE tenant_id = $1 AND name = $2")
            .bind(tenant_id)
            .bind(name)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// Creates a source; a name the tenant already uses is refused.
    pub async fn create_source(
        &self,
        tenant_id: &str,
        name: &str,
        kind: &str,
        settings: &serde_json::Value,
        schedule: Option<&str>,
    ) -> Result<SourceRecord> {
        self.require_tenant(tenant_id).await?;
        let id = Uuid::new_v4().to_string();
        sqlx::query("INSERT INTO sources (id, tenant_id, name, kind, settings, created_at, updated_at, schedule) VALUES ($1, $2, $3, $4, $5, $6, $6, $7)")
            .bind(&id)
            .bind(tenant_id)
            .bind(name)
            .bind(kind)
            .bind(settings.to_string())
            .bind(now())
            .bind(schedule)
            .execute(self.pool())
            .await
            .map_err(|e| duplicate_name(e, name))?;
        self.source(tenant_id, &id)
            .await?
            .ok_or_else(|| CatalogError::NotFound(format!("source {name}")))
    }

    /// Returns the named source, creating it (or updating its settings) as given.
    pub async fn upsert_source(
        &self,
        tenant_id: &str,
        name: &str,
        kind: &str,
        settings: &serde_json::Value,
    ) -> Result<SourceRecord> {
        self.require_tenant(tenant_id).await?;
        match self.source_by_name(tenant_id, name).await? {
            Some(existing) => {
                sqlx::query(
                    "UPDATE sources SET kind = $1, settings = $2, updated_at = $3 WHERE id = $4",
                )
                .bind(kind)
                .bind(settings.to_string())
                .bind(now())
                .bind(&existing.id)
                .execute(self.pool())
                .await?;
                self.source_by_name(tenant_id, name)
                    .await?
                    .ok_or_else(|| CatalogError::NotFound(format!("source {name}")))
            }
            None => {
                self.create_source(tenant_id, name, kind, settings, None)
                    .await
            }
        }
    }

    /// Applies an update; changing the schedule clears the next run time (the scheduler sets it).
    pub async fn update_source(
        &self,
        source: &SourceRecord,
        update: &SourceUpdate<'_>,
    ) -> Result<SourceRecord> {
        let name = update.name.unwrap_or(&source.name);
        let settings = update.settings.unwrap_or(&source.settings).to_string();
        let (schedule, next) = match update.schedule {
            Some(schedule) => (schedule, None),
            None => (source.schedule.as_deref(), source.next_sync_at.as_deref()),
        };
        sqlx::query("UPDATE sources SET name = $1, settings = $2, schedule = $3, next_sync_at = $4, updated_at = $5 WHERE id = $6")
            .bind(name)
            .bind(settings)
            .bind(schedule)
            .bind(next)
            .bind(now())
            .bind(&source.id)
            .execute(self.pool())
            .await
            .map_err(|e| duplicate_name(e, name))?;
        self.source(&source.tenant_id, &source.id)
            .await?
            .ok_or_else(|| CatalogError::NotFound(format!("source {}", source.id)))
    }

    pub async fn set_source_paused(&self, id: &str, paused: bool) -> Result<()> {
        sqlx::query("UPDATE sources SET paused = $1, updated_at = $2 WHERE id = $3")
            .bind(i64::from(paused))
            .bind(now())
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// How many documents of this source are indexed.
    pub async fn source_document_count(&self, source_id: &str) -> Result<i64> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM documents WHERE source_id = $1")
            .bind(source_id)
            .fetch_one(self.pool())
            .await?;
        Ok(row.try_get("n")?)
    }

    pub async fn set_next_sync_at(&self, id: &str, at: Option<&str>) -> Result<()> {
        sqlx::query("UPDATE sources SET next_sync_at = $1 WHERE id = $2")
            .bind(at)
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Every tenant's scheduled, unpaused sources (the scheduler decides which are due).
    pub async fn scheduled_sources(&self) -> Result<Vec<SourceRecord>> {
        let rows = sqlx::query(
            "SELECT * FROM sources WHERE schedule IS NOT NULL AND paused = 0 ORDER BY id",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(from_row).collect()
    }

    /// Deletes a source's catalog rows (crawl state, uploaded files, documents, runs, the source) in one transaction and returns
    /// how many documents it had. The caller removes its points from the index first.
    pub async fn delete_source(&self, id: &str) -> Result<i64> {
        let mut tx = self.pool().begin().await?;
        sqlx::query("DELETE FROM web_pages WHERE source_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM upload_file_parts WHERE source_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM upload_files WHERE source_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM sync_runs WHERE source_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let documents = sqlx::query("DELETE FROM documents WHERE source_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        sqlx::query("DELETE FROM sources WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(i64::try_from(documents).unwrap_or(i64::MAX))
    }
}
