//! `/api/v1/admin/tenants/{id}/widget-keys`: a tenant's public web widget keys and the page
//! origins each may be used from — create, list, change, revoke.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use ragway_catalog::WidgetKeyRecord;
use ragway_catalog::widget_keys::normalize_origins;
use serde::{Deserialize, Serialize};

use crate::http::errors::ErrorBody;
use crate::http::{Admin, ApiError, JsonBody};
use crate::state::AppState;

/// A widget key. It is public (it appears in the page's script tag); the origins protect it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct WidgetKeyView {
    /// The key itself (`pk_…`), for `data-widget-key`.
    pub key: String,
    pub name: String,
    /// Page origins allowed to use it (`https://intranet.acme.com`, `https://*.acme.com`).
    pub allowed_origins: Vec<String>,
    pub created_at: String,
    pub updated_at: String,
    pub revoked_at: Option<String>,
    /// `active` or `revoked`.
    pub status: &'static str,
    /// The tag to paste into the intranet page (with this gateway's address in place of `{gateway}`).
    pub embed: String,
}

impl From<WidgetKeyRecord> for WidgetKeyView {
    fn from(k: WidgetKeyRecord) -> Self {
        Self {
            embed: format!(
                "<script src=\"https://{{gateway}}/widget/v1/loader.js\" data-widget-key=\"{}\" async></script>",
                k.id
            ),
            status: if k.revoked_at.is_some() {
                "revoked"
            } else {
                "active"
            },
            key: k.id,
            name: k.name,
            allowed_origins: k.allowed_origins,
            created_at: k.created_at,
            updated_at: k.updated_at,
            revoked_at: k.revoked_at,
        }
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWidgetKey {
    /// What the key is for (e.g. `intranet`).
    pub name: String,
    /// Page origins allowed to use it: `scheme://host[:port]`; `https://*.example.com` allows
    /// every subdomain.
    pub allowed_origins: Vec<String>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateWidgetKey {
    pub name: Option<String>,
    /// Replaces the list (takes effect on the next request of every open session).
    pub allowed_origins: Option<Vec<String>>,
}

fn valid_name(name: &str) -> Result<&str, ApiError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ApiError::bad_request("`name` must be 1 to 100 characters"));
    }
    Ok(name)
}

fn valid_origins(origins: &[String]) -> Result<Vec<String>, ApiError> {
    normalize_origins(origins).map_err(|e| match e {
        ragway_catalog::CatalogError::Invalid(message) => ApiError::bad_request(message),
        other => other.into(),
    })
}

/// The tenant's key `key`, or 404.
async fn owned(state: &AppState, tenant: &str, key: &str) -> Result<WidgetKeyRecord, ApiError> {
    state
        .core
        .catalog
        .widget_key(key)
        .await?
        .filter(|k| k.tenant_id == tenant)
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "not_found",
                format!("no widget key `{key}` in tenant `{tenant}`"),
            )
        })
}

/// Create a widget key for the tenant.
#[utoipa::path(post, path = "/api/v1/admin/tenants/{id}/widget-keys", tag = "admin",
    request_body = CreateWidgetKey, security(("admin_key" = [])),
    params(("id" = String, Path, description = "Tenant id")),
    responses(
        (status = 201, description = "The key and its embed tag", body = WidgetKeyView),
        (status = 400, description = "Empty name, no origins or a malformed origin", body = ErrorBody),
        (status = 403, description = "A key scoped to another tenant", body = ErrorBody),
        (status = 404, description = "No such tenant", body = ErrorBody),
    ))]
pub async fn create(
    State(state): State<AppState>,
    admin: Admin,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<CreateWidgetKey>,
) -> Result<Response, ApiError> {
    super::administered_tenant(&state, &admin, &id).await?;
    let name = valid_name(&body.name)?;
    let origins = valid_origins(&body.allowed_origins)?;
    let key = state
        .core
        .catalog
        .create_widget_key(&id, name, &origins)
        .await?;
    tracing::info!(tenant = %id, widget_key = %key.id, admin_key = %admin.key.id, "widget key created");
    Ok((StatusCode::CREATED, Json(WidgetKeyView::from(key))).into_response())
}

/// List the tenant's widget keys.
#[utoipa::path(get, path = "/api/v1/admin/tenants/{id}/widget-keys", tag = "admin",
    security(("admin_key" = [])),
    params(("id" = String, Path, description = "Tenant id")),
    responses(
        (status = 200, description = "Keys, oldest first", body = [WidgetKeyView]),
        (status = 403, description = "A key scoped to another tenant", body = ErrorBody),
        (status = 404, description = "No such tenant", body = ErrorBody),
    ))]
pub async fn list(
    State(state): State<AppState>,
    admin: Admin,
    Path(id): Path<String>,
) -> Result<Json<Vec<WidgetKeyView>>, ApiError> {
    super::administered_tenant(&state, &admin, &id).await?;
    let keys = state.core.catalog.widget_keys(&id).await?;
    Ok(Json(keys.into_iter().map(WidgetKeyView::from).collect()))
}

/// Rename a widget key or replace its allowed origins.
#[utoipa::path(patch, path = "/api/v1/admin/tenants/{id}/widget-keys/{key}", tag = "admin",
    request_body = UpdateWidgetKey, security(("admin_key" = [])),
    params(("id" = String, Path, description = "Tenant id"), ("key" = String, Path, description = "The widget key")),
    responses(
        (status = 200, description = "The changed key", body = WidgetKeyView),
        (status = 400, description = "Empty name, no origins or a malformed origin", body = ErrorBody),
        (status = 403, description = "A key scoped to another tenant", body = ErrorBody),
        (status = 404, description = "No such tenant, or no active key with this id in it", body = ErrorBody),
    ))]
pub async fn update(
    State(state): State<AppState>,
    admin: Admin,
    Path((id, key)): Path<(String, String)>,
    JsonBody(body): JsonBody<UpdateWidgetKey>,
) -> Result<Json<WidgetKeyView>, ApiError> {
    super::administered_tenant(&state, &admin, &id).await?;
    let name = body.name.as_deref().map(valid_name).transpose()?;
    let origins = body
        .allowed_origins
        .as_deref()
        .map(valid_origins)
        .transpose()?;
    let current = owned(&state, &id, &key).await?;
    if current.revoked_at.is_some() {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("widget key `{key}` is revoked"),
        ));
    }
    let updated = state
        .core
        .catalog
        .update_widget_key(&current.id, name, origins.as_deref())
        .await?;
    tracing::info!(tenant = %id, widget_key = %key, admin_key = %admin.key.id, "widget key changed");
    Ok(Json(updated.into()))
}

/// Revoke a widget key: every page using it stops getting answers at once.
#[utoipa::path(delete, path = "/api/v1/admin/tenants/{id}/widget-keys/{key}", tag = "admin",
    security(("admin_key" = [])),
    params(("id" = String, Path, description = "Tenant id"), ("key" = String, Path, description = "The widget key")),
    responses(
        (status = 200, description = "The revoked key", body = WidgetKeyView),
        (status = 403, description = "A key scoped to another tenant", body = ErrorBody),
        (status = 404, description = "No such tenant, or no active key with this id in it", body = ErrorBody),
    ))]
pub async fn revoke(
    State(state): State<AppState>,
    admin: Admin,
    Path((id, key)): Path<(String, String)>,
) -> Result<Json<WidgetKeyView>, ApiError> {
    super::administered_tenant(&state, &admin, &id).await?;
    let current = owned(&state, &id, &key).await?;
    if current.revoked_at.is_some() {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("widget key `{key}` is already revoked"),
        ));
    }
    state.core.catalog.revoke_widget_key(&current.id).await?;
    tracing::info!(tenant = %id, widget_key = %key, admin_key = %admin.key.id, "widget key revoked");
    Ok(Json(owned(&state, &id, &key).await?.into()))
}
