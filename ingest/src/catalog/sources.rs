use serde::Serialize;
use sqlx::Row;
use uuid::Uuid;

use super::{Catalog, now};
use crate::error::{IngestError, Result};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SourceRecord {
    pub id: String,
    pub tenant_id: String,
    pub name: String,
    pub kind: String,
    /// Kind-specific settings as JSON (for a folder: its path and globs).
    pub settings: serde_json::Value,
    pub created_at: String,
}

fn from_row(row: &sqlx::any::AnyRow) -> Result<SourceRecord> {
    let settings: String = row.try_get("settings")?;
    Ok(SourceRecord {
        id: row.try_get("id")?,
        tenant_id: row.try_get("tenant_id")?,
        name: row.try_get("name")?,
        kind: row.try_get("kind")?,
        settings: serde_json::from_str(&settings).unwrap_or(serde_json::Value::Null),
        created_at: row.try_get("created_at")?,
    })
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

    /// Returns the named source, creating it (or updating its settings) as given.
    pub async fn upsert_source(
        &self,
        tenant_id: &str,
        name: &str,
        kind: &str,
        settings: &serde_json::Value,
    ) -> Result<SourceRecord> {
        self.require_tenant(tenant_id).await?;
        let settings_text = settings.to_string();
        match self.source_by_name(tenant_id, name).await? {
            Some(existing) => {
                sqlx::query("UPDATE sources SET kind = $1, settings = $2 WHERE id = $3")
                    .bind(kind)
                    .bind(&settings_text)
                    .bind(&existing.id)
                    .execute(self.pool())
                    .await?;
            }
            None => {
                sqlx::query("INSERT INTO sources (id, tenant_id, name, kind, settings, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
                    .bind(Uuid::new_v4().to_string())
                    .bind(tenant_id)
                    .bind(name)
                    .bind(kind)
                    .bind(&settings_text)
                    .bind(now())
                    .execute(self.pool())
                    .await?;
            }
        }
        self.source_by_name(tenant_id, name)
            .await?
            .ok_or_else(|| IngestError::NotFound(format!("source {name}")))
    }
}
