use serde::Serialize;
use sqlx::Row;

use super::{Catalog, now};
use crate::error::{CatalogError, Result};

/// What deleting a tenant removed from the catalog (its index points go separately).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct TenantDeletion {
    pub documents: i64,
    pub sources: i64,
    pub api_keys: i64,
    pub admin_keys: i64,
    pub conversations: i64,
}

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
        Err(CatalogError::Invalid(format!(
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
            return Err(CatalogError::AlreadyExists(format!("tenant {id}")));
        }
        sqlx::query("INSERT INTO tenants (id, display_name, generation, settings, created_at) VALUES ($1, $2, 0, '{}', $3)")
            .bind(id)
            .bind(display_name)
            .bind(now())
            .execute(self.pool())
            .await?;
        self.tenant(id)
            .await?
            .ok_or_else(|| CatalogError::NotFound(format!("tenant {id}")))
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
            CatalogError::NotFound(format!(
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

    /// The tenant's settings document (JSON, `{}` when none were set).
    pub async fn tenant_settings(&self, id: &str) -> Result<Option<String>> {
        let row = sqlx::query("SELECT settings FROM tenants WHERE id = $1")
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        row.map(|r| r.try_get("settings").map_err(Into::into))
            .transpose()
    }

    /// Replaces the tenant's settings document (validated by the caller).
    pub async fn set_tenant_settings(&self, id: &str, settings: &str) -> Result<()> {
        let done = sqlx::query("UPDATE tenants SET settings = $1 WHERE id = $2")
            .bind(settings)
            .bind(id)
            .execute(self.pool())
            .await?;
        if done.rows_affected() == 0 {
            return Err(CatalogError::NotFound(format!("tenant {id}")));
        }
        Ok(())
    }

    /// Renames a tenant (its id never changes: it is in every payload and key).
    pub async fn rename_tenant(&self, id: &str, display_name: &str) -> Result<Tenant> {
        let done = sqlx::query("UPDATE tenants SET display_name = $1 WHERE id = $2")
            .bind(display_name)
            .bind(id)
            .execute(self.pool())
            .await?;
        if done.rows_affected() == 0 {
            return Err(CatalogError::NotFound(format!("tenant {id}")));
        }
        self.require_tenant(id).await
    }

    /// Deletes a tenant and everything the catalog holds for it, in one transaction, children
    /// first (no reliance on foreign-key cascades, which SQLite may have off). Usage history is
    /// kept for accounting.
    pub async fn delete_tenant(&self, id: &str) -> Result<TenantDeletion> {
        self.require_tenant(id).await?;
        const STATEMENTS: [&str; 11] = [
            "DELETE FROM conversation_turns WHERE conversation_id IN (SELECT id FROM conversations WHERE tenant_id = $1)",
            "DELETE FROM conversations WHERE tenant_id = $1",
            "DELETE FROM sync_runs WHERE tenant_id = $1",
            "DELETE FROM documents WHERE tenant_id = $1",
            "DELETE FROM web_pages WHERE source_id IN (SELECT id FROM sources WHERE tenant_id = $1)",
            "DELETE FROM upload_file_parts WHERE source_id IN (SELECT id FROM sources WHERE tenant_id = $1)",
            "DELETE FROM upload_files WHERE source_id IN (SELECT id FROM sources WHERE tenant_id = $1)",
            "DELETE FROM sources WHERE tenant_id = $1",
            "DELETE FROM api_keys WHERE tenant_id = $1",
            "DELETE FROM admin_keys WHERE tenant_id = $1",
            "DELETE FROM tenants WHERE id = $1",
        ];
        let mut tx = self.pool().begin().await?;
        let mut removed = [0i64; STATEMENTS.len()];
        for (sql, count) in STATEMENTS.iter().zip(&mut removed) {
            let done = sqlx::query(sql).bind(id).execute(&mut *tx).await?;
            *count = i64::try_from(done.rows_affected()).unwrap_or(i64::MAX);
        }
        let [
            _,
            conversations,
            _,
            documents,
            _,
            _,
            _,
            sources,
            api_keys,
            admin_keys,
            _,
        ] = removed;
        tx.commit().await?;
        self.recent_keys.invalidate();
        self.recent_generations.invalidate();
        // Its widget keys go with it where foreign keys cascade.
        self.widget_keys_changed();
        Ok(TenantDeletion {
            documents,
            sources,
            api_keys,
            admin_keys,
            conversations,
        })
    }

    /// Bumps the tenant's generation (part of every cache key) after its index changed.
    pub async fn bump_generation(&self, id: &str) -> Result<i64> {
        sqlx::query("UPDATE tenants SET generation = generation + 1 WHERE id = $1")
            .bind(id)
            .execute(self.pool())
            .await?;
        self.recent_generations.invalidate();
        Ok(self.require_tenant(id).await?.generation)
    }

    /// The tenant's generation (None: no such tenant), from memory while fresh: a bump through
    /// this `Catalog` shows at once, one by another process only within [`crate::GENERATION_TTL`]
    /// (for a process that owns its index alone). Unknown tenants are not remembered.
    pub async fn recent_generation(&self, id: &str) -> Result<Option<i64>> {
        if let Some(generation) = self.recent_generations.get(id) {
            return Ok(Some(generation));
        }
        let epoch = self.recent_generations.begin_load();
        let generation = self.tenant(id).await?.map(|t| t.generation);
        if let Some(generation) = generation {
            self.recent_generations.store(epoch, id, generation);
        }
        Ok(generation)
    }

    /// How many times [`Self::recent_generation`] read the table rather than memory.
    pub fn generation_loads(&self) -> u64 {
        self.recent_generations.loads()
    }
}
