//! Tenant API keys: `rgw_<id>_<secret>`. Only the SHA-256 of the whole key is stored; the id is the
//! visible prefix used to find the row, and the hash is compared in constant time.

use rand::Rng;
use rand::distr::Alphanumeric;
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::Row;

use super::{Catalog, now};
use crate::error::{CatalogError, Result};

/// A key's record and its stored hash.
pub(crate) type KeyRow = (ApiKeyRecord, String);

const PREFIX: &str = "rgw_";

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiKeyRecord {
    pub id: String,
    pub tenant_id: String,
    pub name: String,
    pub created_at: String,
    pub expires_at: Option<String>,
    pub last_used_at: Option<String>,
    pub revoked_at: Option<String>,
    /// The user the key acts as (None: the key itself, `key:<id>`).
    pub user_id: Option<String>,
    /// Groups the key's caller belongs to (document ACLs).
    pub groups: Vec<String>,
}

/// What a new key is: its name, expiry and the identity it carries.
#[derive(Debug, Clone, Default)]
pub struct NewApiKey<'a> {
    pub name: &'a str,
    /// RFC 3339; None: never expires.
    pub expires_at: Option<&'a str>,
    pub user_id: Option<&'a str>,
    pub groups: &'a [String],
}

/// A freshly created key: `secret` is shown once and never stored.
#[derive(Debug, Clone)]
pub struct GeneratedKey {
    pub record: ApiKeyRecord,
    pub secret: String,
}

pub(super) fn random_string(len: usize) -> String {
    rand::rng()
        .sample_iter(&Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

pub fn hash_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// Splits `rgw_<id>_<secret>` into its id, or None when the shape is wrong.
pub fn key_id(key: &str) -> Option<&str> {
    let rest = key.strip_prefix(PREFIX)?;
    let (id, secret) = rest.split_once('_')?;
    (id.len() == 8 && secret.len() == 32).then_some(id)
}

fn from_row(row: &sqlx::any::AnyRow) -> Result<ApiKeyRecord> {
    Ok(ApiKeyRecord {
        id: row.try_get("id")?,
        tenant_id: row.try_get("tenant_id")?,
        name: row.try_get("name")?,
        created_at: row.try_get("created_at")?,
        expires_at: row.try_get("expires_at")?,
        last_used_at: row.try_get("last_used_at")?,
        revoked_at: row.try_get("revoked_at")?,
        user_id: row.try_get("user_id")?,
        groups: serde_json::from_str(&row.try_get::<String, _>("groups")?).unwrap_or_default(),
    })
}

const COLUMNS: &str =
    "id, tenant_id, name, created_at, expires_at, last_used_at, revoked_at, user_id, groups";

impl Catalog {
    pub async fn create_api_key(&self, tenant_id: &str, name: &str) -> Result<GeneratedKey> {
        let key = NewApiKey {
            name,
            ..NewApiKey::default()
        };
        self.create_api_key_with(tenant_id, &key).await
    }

    /// A key with an expiry and/or an identity (user and groups for document ACLs).
    pub async fn create_api_key_with(
        &self,
        tenant_id: &str,
        new: &NewApiKey<'_>,
    ) -> Result<GeneratedKey> {
        self.require_tenant(tenant_id).await?;
        for group in new.groups {
            crate::validate_group(group)?;
        }
        let mut groups = new.groups.to_vec();
        groups.sort();
        groups.dedup();
        let groups = serde_json::to_string(&groups)
            .map_err(|e| CatalogError::Invalid(format!("cannot store groups: {e}")))?;
        let name = new.name;
        let id = random_string(8).to_ascii_lowercase();
        let secret = format!("{PREFIX}{id}_{}", random_string(32));
        sqlx::query(
            "INSERT INTO api_keys (id, tenant_id, name, key_hash, created_at, expires_at, user_id, groups) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&id)
        .bind(tenant_id)
        .bind(name)
        .bind(hash_key(&secret))
        .bind(now())
        .bind(new.expires_at)
        .bind(new.user_id)
        .bind(groups)
        .execute(self.pool())
        .await?;
        let record = self
            .api_key(&id)
            .await?
            .ok_or_else(|| CatalogError::NotFound(format!("api key {id}")))?;
        Ok(GeneratedKey { record, secret })
    }

    pub async fn api_key(&self, id: &str) -> Result<Option<ApiKeyRecord>> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM api_keys WHERE id = $1"))
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(from_row).transpose()
    }

    pub async fn api_keys(&self, tenant_id: &str) -> Result<Vec<ApiKeyRecord>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM api_keys WHERE tenant_id = $1 ORDER BY created_at"
        ))
        .bind(tenant_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(from_row).collect()
    }

    /// The key's record and stored hash, for the caller to compare in constant time.
    pub async fn api_key_with_hash(&self, id: &str) -> Result<Option<(ApiKeyRecord, String)>> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS}, key_hash FROM api_keys WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        match row {
            Some(row) => Ok(Some((from_row(&row)?, row.try_get("key_hash")?))),
            None => Ok(None),
        }
    }

    /// As [`Self::api_key_with_hash`], from memory while fresh (see `recent`: this
    /// process's revocations show at once, another's within [`crate::API_KEY_TTL`]). Unknown ids
    /// are not remembered, so a key created elsewhere works at once.
    pub async fn recent_api_key_with_hash(
        &self,
        id: &str,
    ) -> Result<Option<(ApiKeyRecord, String)>> {
        if let Some(row) = self.recent_keys.get(id) {
            return Ok(Some(row));
        }
        let epoch = self.recent_keys.begin_load();
        let row = self.api_key_with_hash(id).await?;
        if let Some(row) = &row {
            self.recent_keys.store(epoch, id, row.clone());
        }
        Ok(row)
    }

    /// How many times [`Self::recent_api_key_with_hash`] read the table rather than memory.
    pub fn api_key_loads(&self) -> u64 {
        self.recent_keys.loads()
    }

    pub async fn touch_api_key(&self, id: &str) -> Result<()> {
        sqlx::query("UPDATE api_keys SET last_used_at = $1 WHERE id = $2")
            .bind(now())
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    pub async fn revoke_api_key(&self, id: &str) -> Result<()> {
        let done =
            sqlx::query("UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
                .bind(now())
                .bind(id)
                .execute(self.pool())
                .await?;
        self.recent_keys.invalidate();
        if done.rows_affected() == 0 {
            return Err(CatalogError::NotFound(format!("active api key {id}")));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_shape() {
        assert_eq!(
            key_id("rgw_abcdefgh_0123456789abcdef0123456789ABCDEF"),
            Some("abcdefgh")
        );
        assert_eq!(key_id("rgw_abc_0123"), None);
        assert_eq!(key_id("sk-foo"), None);
    }
}
