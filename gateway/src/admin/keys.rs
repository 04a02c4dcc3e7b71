//! `/api/v1/admin/tenants/{id}/keys`: a tenant's API keys — create (the secret is shown once),
//! list, revoke.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use ragway_catalog::{ApiKeyRecord, NewApiKey};
use serde::{Deserialize, Serialize};

use crate::http::errors::ErrorBody;
use crate::http::{Admin, ApiError, JsonBody};
use crate::state::AppState;

/// An API key without its secret.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ApiKeyView {
    pub id: String,
    /// How the key starts (`rgw_<id>_`), to recognise it.
    pub prefix: String,
    pub name: String,
    pub created_at: String,
    pub expires_at: Option<String>,
    pub last_used_at: Option<String>,
    pub revoked_at: Option<String>,
    /// `active`, `expired` or `revoked`.
    pub status: &'static str,
    /// The user the key acts as (absent: the key itself).
    pub user_id: Option<String>,
    /// The groups its caller belongs to: documents restricted to other groups stay invisible.
    pub groups: Vec<String>,
}

impl From<ApiKeyRecord> for ApiKeyView {
    fn from(k: ApiKeyRecord) -> Self {
        let now = chrono::Utc::now();
        let expired = k
            .expires_at
            .as_deref()
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .is_some_and(|t| t < now);
        let status = match (k.revoked_at.is_some(), expired) {
            (true, _) => "revoked",
            (false, true) => "expired",
            (false, false) => "active",
        };
        Self {
            prefix: format!("rgw_{}_", k.id),
            id: k.id,
            name: k.name,
            created_at: k.created_at,
            expires_at: k.expires_at,
            last_used_at: k.last_used_at,
            revoked_at: k.revoked_at,
            status,
            user_id: k.user_id,
            groups: k.groups,
        }
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateKey {
    /// What the key is for (e.g. `intranet`, `slack-bot`).
    pub name: String,
    /// The key stops working after this many days (default: never).
    #[schema(minimum = 1, maximum = 36500)]
    pub expires_in_days: Option<u32>,
    /// Bind the key to a user (usage and conversations are then that user's).
    pub user_id: Option<String>,
    /// The groups the key's caller belongs to, for document ACLs (default: none — only documents
    /// open to the whole tenant).
    #[serde(default)]
    pub groups: Vec<String>,
}

/// A new key: `secret` is shown only in this response.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CreatedKey {
    #[serde(flatten)]
    pub key: ApiKeyView,
    pub secret: String,
}

fn not_found(what: String) -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", what)
}

/// Create an API key for the tenant.
#[utoipa::path(post, path = "/api/v1/admin/tenants/{id}/keys", tag = "admin", request_body = CreateKey,
    security(("admin_key" = [])),
    params(("id" = String, Path, description = "Tenant id")),
    responses(
        (status = 201, description = "The key, with its secret (shown once)", body = CreatedKey),
        (status = 400, description = "Empty name, bad expiry or body", body = ErrorBody),
        (status = 403, description = "A key scoped to another tenant", body = ErrorBody),
        (status = 404, description = "No such tenant", body = ErrorBody),
    ))]
pub async fn create(
    State(state): State<AppState>,
    admin: Admin,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<CreateKey>,
) -> Result<Response, ApiError> {
    super::administered_tenant(&state, &admin, &id).await?;
    let name = body.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ApiError::bad_request("`name` must be 1 to 100 characters"));
    }
    let expires_at = body
        .expires_in_days
        .map(crate::identity::expiry::expiry_in_days)
        .transpose()
        .map_err(ApiError::bad_request)?;
    for group in &body.groups {
        ragway_ingest::source::validate_group(group)
            .map_err(|e| ApiError::bad_request(e.to_string()))?;
    }
    let user_id = body
        .user_id
        .as_deref()
        .map(str::trim)
        .filter(|u| !u.is_empty());
    let new = NewApiKey {
        name,
        expires_at: expires_at.as_deref(),
        user_id,
        groups: &body.groups,
    };
    let key = state.core.catalog.create_api_key_with(&id, &new).await?;
    tracing::info!(tenant = %id, key = %key.record.id, admin_key = %admin.key.id, "API key created");
    let created = CreatedKey {
        key: key.record.into(),
        secret: key.secret,
    };
    Ok((StatusCode::CREATED, Json(created)).into_response())
}

/// List the tenant's API keys (never their secrets).
#[utoipa::path(get, path = "/api/v1/admin/tenants/{id}/keys", tag = "admin", security(("admin_key" = [])),
    params(("id" = String, Path, description = "Tenant id")),
    responses(
        (status = 200, description = "Keys, oldest first", body = [ApiKeyView]),
        (status = 403, description = "A key scoped to another tenant", body = ErrorBody),
        (status = 404, description = "No such tenant", body = ErrorBody),
    ))]
pub async fn list(
    State(state): State<AppState>,
    admin: Admin,
    Path(id): Path<String>,
) -> Result<Json<Vec<ApiKeyView>>, ApiError> {
    super::administered_tenant(&state, &admin, &id).await?;
    let keys = state.core.catalog.api_keys(&id).await?;
    Ok(Json(keys.into_iter().map(ApiKeyView::from).collect()))
}

/// Revoke one of the tenant's API keys; it stops working at once.
#[utoipa::path(delete, path = "/api/v1/admin/tenants/{id}/keys/{key_id}", tag = "admin",
    security(("admin_key" = [])),
    params(("id" = String, Path, description = "Tenant id"), ("key_id" = String, Path, description = "Key id")),
    responses(
        (status = 200, description = "The revoked key", body = ApiKeyView),
        (status = 403, description = "A key scoped to another tenant", body = ErrorBody),
        (status = 404, description = "No such tenant, or no active key with this id in it", body = ErrorBody),
    ))]
pub async fn revoke(
    State(state): State<AppState>,
    admin: Admin,
    Path((id, key_id)): Path<(String, String)>,
) -> Result<Json<ApiKeyView>, ApiError> {
    super::administered_tenant(&state, &admin, &id).await?;
    let owned = state
        .core
        .catalog
        .api_key(&key_id)
        .await?
        .filter(|k| k.tenant_id == id && k.revoked_at.is_none())
        .ok_or_else(|| not_found(format!("no active API key `{key_id}` in tenant `{id}`")))?;
    state.core.catalog.revoke_api_key(&owned.id).await?;
    tracing::info!(tenant = %id, key = %owned.id, admin_key = %admin.key.id, "API key revoked");
    let revoked = state
        .core
        .catalog
        .api_key(&owned.id)
        .await?
        .ok_or_else(|| not_found(format!("API key `{key_id}`")))?;
    Ok(Json(revoked.into()))
}
