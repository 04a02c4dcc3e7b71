use serde::Serialize;
use sqlx::Row;

use super::{Catalog, now};
use crate::error::{IngestError, Result};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Tenant {
    pub id: String,
    pub display_name: String,
    pub generation: i64,
    pub created_at: String,
}

/// Tenant ids are slugs: they appear in URLs, payloads and metric labels.
pub fn validate_tenant_id(id: &str) -> Result<()> {
    let valid = !id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
        && id.starts_with(|c: char| c.is_ascii_alphanumeric());
    if valid {
        Ok(())
    } else {
        Err(IngestError::Config(format!(
            "invalid tenant id {id:?}: use 1-64 lowercase letters, digits, '-' or '_', starting with a letter or digit"
        )))
    }
}

fn from_row(row: &sqlx::any::AnyRow) -> Result<Tenant> {
    Ok(Tenant {
        id: row.try_get("id")?,
        display_name: row.try_get("display_name")?,
        generation: row.try_get("generation")?,
        created_at: row.try_get("created_at")?,
    })
}

impl Catalog {
    pub async fn create_tenant(&self, id: &str, display_name: &str) -> Result<Tenant> {
        validate_tenant_id(id)?;
        if self.tenant(id).await?.is_some() {
            return Err(IngestError::AlreadyExists(format!("tenant {id}")));
        }
        sqlx::query("INSERT INTO tenants (id, display_name, generation, settings, created_at) VALUES ($1, $2, 0, '{}', $3)")
            .bind(id)
            .bind(display_name)
            .bind(now())
            .execute(self.pool())
            .await?;
        self.tenant(id)
            .await?
            .ok_or_else(|| IngestError::NotFound(format!("tenant {id}")))
    }

    /// Creates the tenant unless it exists; returns it either way (replicas starting together may
    /// race to create it: the loser finds the winner's row).
    pub async fn ensure_tenant(&self, id: &str) -> Result<Tenant> {
        if let Some(tenant) = self.tenant(id).await? {
            return Ok(tenant);
        }
        match self.create_tenant(id, id).await {
            Ok(tenant) => Ok(tenant),
            Err(err) => self.tenant(id).await?.ok_or(err),
        }
    }

    pub async fn tenant(&self, id: &str) -> Result<Option<Tenant>> {
        let row = sqlx::query(
            "SELECT id, display_name, generation, created_at FROM tenants WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(from_row).transpose()
    }

    pub async fn require_tenant(&self, id: &str) -> Result<Tenant> {
        self.tenant(id).await?.ok_or_else(|| {
            IngestError::NotFound(format!(
                "tenant {id} (create it with `ragway tenants create {id}`)"
            ))
        })
    }

    pub async fn tenants(&self) -> Result<Vec<Tenant>> {
        let rows =
            sqlx::query("SELECT id, display_name, generation, created_at FROM tenants ORDER BY id")
                .fetch_all(self.pool())
                .await?;
        rows.iter().map(from_row).collect()
    }

    /// Bumps the tenant's generation (part of every cache key) after its index changed.
    pub async fn bump_generation(&self, id: &str) -> Result<i64> {
        sqlx::query("UPDATE tenants SET generation = generation + 1 WHERE id = $1")
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(self.require_tenant(id).await?.generation)
    }
}
