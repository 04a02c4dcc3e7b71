//! Tenant API keys → [`Principal`]. The tenant always comes from the credential, never the request.

use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use ragway_catalog::keys::{hash_key, key_id};
use subtle::ConstantTimeEq;
use tracing::Instrument;

use super::ApiError;
use super::headers::{BearerError, bearer_token};
use crate::context::Core;
use crate::identity::Principal;

const INVALID: &str = "invalid API key";

/// The credential of `Authorization: Bearer <credential>`; `what` names it in errors.
pub(crate) fn bearer<'a>(parts: &'a Parts, what: &str) -> Result<&'a str, ApiError> {
    bearer_token(&parts.headers).map_err(|err| {
        ApiError::unauthorized(match err {
            BearerError::Missing => format!("missing `Authorization: Bearer <{what}>` header"),
            BearerError::NotBearer => {
                format!("the Authorization header must be `Bearer <{what}>`")
            }
        })
    })
}

/// Whether `key` hashes to `stored_hash`, compared in constant time.
pub(crate) fn hash_matches(key: &str, stored_hash: &str) -> bool {
    hash_key(key)
        .as_bytes()
        .ct_eq(stored_hash.as_bytes())
        .into()
}

impl<S> FromRequestParts<S> for Principal
where
    S: Send + Sync,
    Core: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let principal = api_key_principal(parts, &Core::from_ref(state))
            .instrument(tracing::info_span!("auth", credential = "api_key"))
            .await?;
        super::trace::record_tenant(&principal.tenant_id);
        Ok(principal)
    }
}

/// The principal an API key stands for: its tenant, and its user and groups when bound to one.
async fn api_key_principal(parts: &Parts, core: &Core) -> Result<Principal, ApiError> {
    let key = bearer(parts, "API key")?;
    let id = key_id(key).ok_or_else(|| ApiError::unauthorized(INVALID))?;
    let (record, stored_hash) = core
        .catalog
        .recent_api_key_with_hash(id)
        .await?
        .ok_or_else(|| ApiError::unauthorized(INVALID))?;
    if !hash_matches(key, &stored_hash) {
        return Err(ApiError::unauthorized(INVALID));
    }
    if record.revoked_at.is_some() {
        return Err(ApiError::unauthorized("this API key has been revoked"));
    }
    if record
        .expires_at
        .as_deref()
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .is_some_and(|t| t < chrono::Utc::now())
    {
        return Err(ApiError::unauthorized("this API key has expired"));
    }
    if core.key_touches.due(&record.id) {
        let catalog = core.catalog.clone();
        let key_id = record.id.clone();
        core.tasks.spawn(async move {
            if let Err(err) = catalog.touch_api_key(&key_id).await {
                tracing::warn!(%err, "could not record API key use");
            }
        });
    }
    // A key bound to a user acts as that user, with its groups (document ACLs).
    Ok(Principal {
        tenant_id: record.tenant_id,
        user_id: record
            .user_id
            .unwrap_or_else(|| format!("key:{}", record.id)),
        groups: record.groups,
    })
}
