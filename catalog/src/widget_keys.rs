//! Web widget keys: `pk_<24 characters>`. They are public (they sit in the host page's script
//! tag), so they are stored as they are; what protects them is the list of origins a key may be
//! used from, checked by the gateway on every session.

use std::sync::Arc;

use serde::Serialize;
use sqlx::Row;

use super::keys::random_string;
use super::{Catalog, now};
use crate::error::{CatalogError, Result};

const PREFIX: &str = "pk_";
/// Origins one key may list (an intranet has a few hosts, not hundreds).
pub const MAX_ORIGINS: usize = 50;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WidgetKeyRecord {
    /// The public key itself (`pk_…`).
    pub id: String,
    pub tenant_id: String,
    pub name: String,
    /// Normalised origins (`https://intranet.acme.com`, `https://*.acme.com`).
    pub allowed_origins: Vec<String>,
    pub created_at: String,
    pub updated_at: String,
    pub revoked_at: Option<String>,
}

/// Whether a string has the shape of a widget key (cheap check before a lookup).
pub fn is_widget_key(key: &str) -> bool {
    key.strip_prefix(PREFIX)
        .is_some_and(|rest| rest.len() == 24 && rest.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// An origin as browsers send it: `scheme://host[:port]`, lower-case, default port dropped.
/// `https://*.example.com` allows every subdomain of example.com (not example.com itself).
pub fn normalize_origin(origin: &str) -> std::result::Result<String, String> {
    let origin = origin.trim();
    let bad = |why: &str| Err(format!("`{origin}` is not an origin: {why}"));
    let Some((scheme, rest)) = origin.split_once("://") else {
        return bad("expected scheme://host[:port]");
    };
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "https" && scheme != "http" {
        return bad("the scheme must be https (or http)");
    }
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    if rest.is_empty() || rest.contains(['/', '?', '#', '@', ' ']) {
        return bad("it must not have a path, query, fragment or credentials");
    }
    // `[v6]:port` or `host:port`; the port is optional.
    let (host, port) = match rest.strip_prefix('[').and_then(|r| r.split_once(']')) {
        Some((v6, after)) => (&rest[..v6.len() + 2], after.strip_prefix(':')),
        None => match rest.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (rest, None),
        },
    };
    let port = match port {
        None => None,
        Some(port) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => {
            match port.parse::<u16>() {
                Ok(port) => Some(port),
                Err(_) => return bad("the port is out of range"),
            }
        }
        Some(_) => return bad("the port must be a number"),
    };
    let host = host.to_ascii_lowercase();
    let name = host.strip_prefix("*.").unwrap_or(&host);
    let valid_name = !name.is_empty()
        && !name.contains('*')
        && (name.starts_with('[') && name.ends_with(']')
            || name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.'));
    if !valid_name {
        return bad("the host is not valid");
    }
    let default_port = if scheme == "https" { 443 } else { 80 };
    Ok(match port {
        Some(port) if port != default_port => format!("{scheme}://{host}:{port}"),
        _ => format!("{scheme}://{host}"),
    })
}

/// Whether `origin` (as a browser sent it) is one of `allowed` (normalised entries).
pub fn origin_allowed(allowed: &[String], origin: &str) -> bool {
    let Ok(origin) = normalize_origin(origin) else {
        return false;
    };
    if origin.contains('*') {
        return false;
    }
    allowed.iter().any(|entry| {
        if *entry == origin {
            return true;
        }
        // `scheme://*.suffix[:port]` matches `scheme://<one or more labels>.suffix[:port]`.
        let Some((scheme, pattern)) = entry.split_once("://*.") else {
            return false;
        };
        let Some(host) = origin
            .strip_prefix(scheme)
            .and_then(|r| r.strip_prefix("://"))
        else {
            return false;
        };
        host.strip_suffix(pattern)
            .and_then(|labels| labels.strip_suffix('.'))
            .is_some_and(|labels| !labels.is_empty() && !labels.contains(':'))
    })
}

/// Normalises, sorts and de-duplicates a key's origins; refuses an empty or oversized list.
pub fn normalize_origins(origins: &[String]) -> Result<Vec<String>> {
    let mut out = origins
        .iter()
        .map(|o| normalize_origin(o).map_err(CatalogError::Invalid))
        .collect::<Result<Vec<_>>>()?;
    out.sort();
    out.dedup();
    if out.is_empty() {
        return Err(CatalogError::Invalid(
            "a widget key needs at least one allowed origin".into(),
        ));
    }
    if out.len() > MAX_ORIGINS {
        return Err(CatalogError::Invalid(format!(
            "a widget key may list at most {MAX_ORIGINS} origins"
        )));
    }
    Ok(out)
}

fn from_row(row: &sqlx::any::AnyRow) -> Result<WidgetKeyRecord> {
    let origins: String = row.try_get("allowed_origins")?;
    Ok(WidgetKeyRecord {
        id: row.try_get("id")?,
        tenant_id: row.try_get("tenant_id")?,
        name: row.try_get("name")?,
        allowed_origins: serde_json::from_str(&origins).unwrap_or_default(),
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        revoked_at: row.try_get("revoked_at")?,
    })
}

const COLUMNS: &str = "id, tenant_id, name, allowed_origins, created_at, updated_at, revoked_at";

fn origins_json(origins: &[String]) -> Result<String> {
    serde_json::to_string(origins)
        .map_err(|e| CatalogError::Invalid(format!("cannot store origins: {e}")))
}

impl Catalog {
    /// Creates a widget key for a tenant, usable from `origins` (normalised here).
    pub async fn create_widget_key(
        &self,
        tenant_id: &str,
        name: &str,
        origins: &[String],
    ) -> Result<WidgetKeyRecord> {
        self.require_tenant(tenant_id).await?;
        let origins = normalize_origins(origins)?;
        let id = format!("{PREFIX}{}", random_string(24));
        let at = now();
        sqlx::query(
            "INSERT INTO widget_keys (id, tenant_id, name, allowed_origins, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $5)",
        )
        .bind(&id)
        .bind(tenant_id)
        .bind(name)
        .bind(origins_json(&origins)?)
        .bind(&at)
        .execute(self.pool())
        .await?;
        self.widget_keys_changed();
        self.widget_key(&id)
            .await?
            .ok_or_else(|| CatalogError::NotFound(format!("widget key {id}")))
    }

    pub async fn widget_key(&self, id: &str) -> Result<Option<WidgetKeyRecord>> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM widget_keys WHERE id = $1"))
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// A tenant's widget keys, oldest first.
    pub async fn widget_keys(&self, tenant_id: &str) -> Result<Vec<WidgetKeyRecord>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM widget_keys WHERE tenant_id = $1 ORDER BY created_at, id"
        ))
        .bind(tenant_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(from_row).collect()
    }

    /// Every origin some active widget key allows (answers CORS preflights, which carry no key),
    /// from memory while fresh (see `widget_origins`: this process's own changes show at once,
    /// other processes' within [`crate::WIDGET_ORIGINS_TTL`]).
    pub async fn widget_origins(&self) -> Result<Arc<Vec<String>>> {
        if let Some(origins) = self.widget_origins.get() {
            return Ok(origins);
        }
        let epoch = self.widget_origins.begin_load();
        let rows = sqlx::query("SELECT allowed_origins FROM widget_keys WHERE revoked_at IS NULL")
            .fetch_all(self.pool())
            .await?;
        let mut all = Vec::new();
        for row in &rows {
            let origins: String = row.try_get("allowed_origins")?;
            all.extend(serde_json::from_str::<Vec<String>>(&origins).unwrap_or_default());
        }
        all.sort();
        all.dedup();
        let all = Arc::new(all);
        self.widget_origins.store(epoch, all.clone());
        Ok(all)
    }

    /// How many times [`Self::widget_origins`] read the table rather than memory.
    pub fn widget_origin_loads(&self) -> u64 {
        self.widget_origins.loads()
    }

    /// Drops the in-memory origins (after a change to widget keys made here).
    pub(crate) fn widget_keys_changed(&self) {
        self.widget_origins.invalidate();
    }

    /// Replaces an active key's name and/or origins.
    pub async fn update_widget_key(
        &self,
        id: &str,
        name: Option<&str>,
        origins: Option<&[String]>,
    ) -> Result<WidgetKeyRecord> {
        let current = self
            .widget_key(id)
            .await?
            .filter(|k| k.revoked_at.is_none())
            .ok_or_else(|| CatalogError::NotFound(format!("active widget key {id}")))?;
        let origins = match origins {
            Some(origins) => normalize_origins(origins)?,
            None => current.allowed_origins,
        };
        sqlx::query(
            "UPDATE widget_keys SET name = $1, allowed_origins = $2, updated_at = $3 WHERE id = $4",
        )
        .bind(name.unwrap_or(&current.name))
        .bind(origins_json(&origins)?)
        .bind(now())
        .bind(id)
        .execute(self.pool())
        .await?;
        self.widget_keys_changed();
        self.widget_key(id)
            .await?
            .ok_or_else(|| CatalogError::NotFound(format!("widget key {id}")))
    }

    pub async fn revoke_widget_key(&self, id: &str) -> Result<()> {
        let done = sqlx::query(
            "UPDATE widget_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL",
        )
        .bind(now())
        .bind(id)
        .execute(self.pool())
        .await?;
        self.widget_keys_changed();
        if done.rows_affected() == 0 {
            return Err(CatalogError::NotFound(format!("active widget key {id}")));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_normalised() {
        assert_eq!(
            normalize_origin("HTTPS://Intranet.Acme.com:443/").unwrap(),
            "https://intranet.acme.com"
        );
        assert_eq!(
            normalize_origin("http://127.0.0.1:8080").unwrap(),
            "http://127.0.0.1:8080"
        );
        assert_eq!(normalize_origin("http://[::1]:80").unwrap(), "http://[::1]");
        assert_eq!(
            normalize_origin("https://*.acme.com").unwrap(),
            "https://*.acme.com"
        );
        for bad in [
            "intranet.acme.com",
            "ftp://acme.com",
            "https://acme.com/path",
            "https://u:p@acme.com",
            "https://acme.com:99999",
            "https://*",
            "https://a.*.com",
            "*",
        ] {
            assert!(normalize_origin(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn origins_match_exactly_or_by_subdomain_pattern() {
        let allowed = vec![
            "https://intranet.acme.com".to_owned(),
            "https://*.acme.net".to_owned(),
            "http://localhost:3000".to_owned(),
        ];
        assert!(origin_allowed(&allowed, "https://intranet.acme.com"));
        assert!(origin_allowed(&allowed, "https://INTRANET.acme.com:443"));
        assert!(origin_allowed(&allowed, "https://hr.acme.net"));
        assert!(origin_allowed(&allowed, "https://a.b.acme.net"));
        assert!(origin_allowed(&allowed, "http://localhost:3000"));
        assert!(!origin_allowed(&allowed, "https://acme.net"));
        assert!(!origin_allowed(&allowed, "https://evilacme.net"));
        assert!(!origin_allowed(&allowed, "https://hr.acme.net:8443"));
        assert!(!origin_allowed(&allowed, "http://intranet.acme.com"));
        assert!(!origin_allowed(
            &allowed,
            "https://intranet.acme.com.evil.io"
        ));
        assert!(!origin_allowed(&allowed, "http://localhost:3001"));
        assert!(!origin_allowed(&allowed, "null"));
    }

    #[test]
    fn key_shape() {
        assert!(is_widget_key("pk_abcdefghijklmnopqrstuvwx"));
        assert!(!is_widget_key("pk_short"));
        assert!(!is_widget_key("rgw_abcdefghijklmnopqrstuvwx"));
    }
}
