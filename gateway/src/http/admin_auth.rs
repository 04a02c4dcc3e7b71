//! Administrator keys → [`Admin`]: global keys administer every tenant, scoped keys only theirs.

use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;
use ragway_catalog::AdminKeyRecord;
use ragway_catalog::admin_keys::admin_key_id;

use super::ApiError;
use axum::extract::FromRef;

use crate::context::Core;

/// An authenticated administrator.
#[derive(Debug, Clone)]
pub struct Admin {
    pub key: AdminKeyRecord,
}

impl Admin {
    /// The tenant a request is about: the one named, which the key must cover, or — for a key
    /// scoped to one tenant — its own.
    pub fn tenant(&self, named: Option<&str>) -> Result<String, ApiError> {
        match (named, self.key.tenant_id.as_deref()) {
            (Some(named), _) if self.key.covers(named) => Ok(named.to_owned()),
            (Some(named), _) => Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                format!(
                    "this admin key is scoped to another tenant and cannot administer `{named}`"
                ),
            )),
            (None, Some(own)) => Ok(own.to_owned()),
            (None, None) => Err(ApiError::bad_request(
                "`tenant` is required with a global admin key",
            )),
        }
    }
}

const INVALID: &str = "invalid admin key";

impl<S> FromRequestParts<S> for Admin
where
    S: Send + Sync,
    Core: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let core = Core::from_ref(state);
        let key = super::auth::bearer(parts, "admin key")?;
        if ragway_catalog::keys::key_id(key).is_some() {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                "this is a tenant API key; the admin API needs an admin key (`ragway admin-keys create`)",
            ));
        }
        let id = admin_key_id(key).ok_or_else(|| ApiError::unauthorized(INVALID))?;
        let (record, stored_hash) = core
            .catalog
            .admin_key_with_hash(id)
            .await?
            .ok_or_else(|| ApiError::unauthorized(INVALID))?;
        if !super::auth::hash_matches(key, &stored_hash) {
            return Err(ApiError::unauthorized(INVALID));
        }
        if record.revoked_at.is_some() {
            return Err(ApiError::unauthorized("this admin key has been revoked"));
        }
        if record.is_expired() {
            return Err(ApiError::unauthorized(
                "this admin key has expired; create another with `ragway admin-keys create`",
            ));
        }
        Ok(Self { key: record })
    }
}
