//! Administrator keys: `rgwadm_<id>_<secret>`, global (every tenant) or scoped to one tenant.
//! Created only from the CLI (whoever runs it owns the server); stored as SHA-256 like API keys.

use serde::Serialize;
use sqlx::Row;

use super::keys::{hash_key, random_string};
use super::{Catalog, now};
use crate::error::{CatalogError, Result};

const PREFIX: &str = "rgwadm_";

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AdminKeyRecord {
    pub id: String,
    /// None: the key administers every tenant.
    pub tenant_id: Option<String>,
    pub name: String,
    pub created_at: String,
    pub last_used_at: Option<String>,
    pub revoked_at: Option<String>,
    /// RFC 3339; None: never expires.
    pub expires_at: Option<String>,
}

impl AdminKeyRecord {
    /// Whether the key's expiry (if any) has passed.
    pub fn is_expired(&self) -> bool {
        self.expires_at
            .as_deref()
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .is_some_and(|t| t < chrono::Utc::now())
    }

    /// Whether this key may administer `tenant_id`.
    pub fn covers(&self, tenant_id: &str) -> bool {
        self.tenant_id.as_deref().is_none_or(|own| own == tenant_id)
    }
}

/// Splits `rgwadm_<id>_<secret>` into its id, or None when the shape is wrong.
pub fn admin_key_id(key: &str) -> Option<&str> {
    let rest = key.strip_prefix(PREFIX)?;
    let (id, secret) = rest.split_once('_')?;
    (id.len() == 8 && secret.len() == 32).then_some(id)
}

fn from_row(row: &sqlx::any::AnyRow) -> Result<AdminKeyRecord> {
    Ok(AdminKeyRecord {
        id: row.try_get("id")?,
        tenant_id: row.try_get("tenant_id")?,
        name: row.try_get("name")?,
        created_at: row.try_get("created_at")?,
        last_used_at: row.try_get("last_used_at")?,
        revoked_at: row.try_get("revoked_at")?,
        expires_at: row.try_get("expires_at")?,
    })
}

const COLUMNS: &str = "id, tenant_id, name, created_at, last_used_at, revoked_at, expires_at";

impl Catalog {
    /// Creates an admin key (global when `tenant_id` is None); returns the record and the secret,
    /// which is shown once and never stored.
    pub async fn create_admin_key(
        &self,
        tenant_id: Option<&str>,
        name: &str,
    ) -> Result<(AdminKeyRecord, String)> {
        self.create_expiring_admin_key(tenant_id, name, None).await
    }

    /// [`Catalog::create_admin_key`] with an expiry (RFC 3339; None: never).
    pub async fn create_expiring_admin_key(
        &self,
        tenant_id: Option<&str>,
        name: &str,
        expires_at: Option<&str>,
    ) -> Result<(AdminKeyRecord, String)> {
        if let Some(at) = expires_at {
            chrono::DateTime::parse_from_rfc3339(at).map_err(|e| {
                CatalogError::Invalid(format!("admin key expiry `{at}` is not RFC 3339: {e}"))
            })?;
        }
        if let Some(tenant_id) = tenant_id {
            self.require_tenant(tenant_id).await?;
        }
        let id = random_string(8).to_ascii_lowercase();
        let secret = format!("{PREFIX}{id}_{}", random_string(32));
        sqlx::query(
            "INSERT INTO admin_keys (id, tenant_id, name, key_hash, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&id)
        .bind(tenant_id)
        .bind(name)
        .bind(hash_key(&secret))
        .bind(now())
        .bind(expires_at)
        .execute(self.pool())
        .await?;
        let (record, _) = self
            .admin_key_with_hash(&id)
            .await?
            .ok_or_else(|| CatalogError::NotFound(format!("admin key {id}")))?;
        Ok((record, secret))
    }

    pub async fn admin_keys(&self) -> Result<Vec<AdminKeyRecord>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM admin_keys ORDER BY created_at"
        ))
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(from_row).collect()
    }

    /// The key's record and stored hash, for the caller to compare in constant time.
    pub async fn admin_key_with_hash(&self, id: &str) -> Result<Option<(AdminKeyRecord, String)>> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS}, key_hash FROM admin_keys WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        match row {
            Some(row) => Ok(Some((from_row(&row)?, row.try_get("key_hash")?))),
            None => Ok(None),
        }
    }

    pub async fn revoke_admin_key(&self, id: &str) -> Result<()> {
        let done = sqlx::query(
            "UPDATE admin_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL",
        )
        .bind(now())
        .bind(id)
        .execute(self.pool())
        .await?;
        if done.rows_affected() == 0 {
            return Err(CatalogError::NotFound(format!("active admin key {id}")));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_key_shape_differs_from_api_keys() {
        let key = "rgwadm_abcdefgh_0123456789abcdef0123456789ABCDEF";
        assert_eq!(admin_key_id(key), Some("abcdefgh"));
        assert_eq!(crate::keys::key_id(key), None);
        assert_eq!(
            admin_key_id("rgw_abcdefgh_0123456789abcdef0123456789ABCDEF"),
            None
        );
    }

    #[test]
    fn scope() {
        let mut key = AdminKeyRecord {
            id: "a".into(),
            tenant_id: None,
            name: "n".into(),
            created_at: String::new(),
            last_used_at: None,
            revoked_at: None,
            expires_at: None,
        };
        assert!(key.covers("acme"));
        assert!(!key.is_expired());
        key.tenant_id = Some("acme".into());
        assert!(key.covers("acme"));
        assert!(!key.covers("globex"));
    }
}
