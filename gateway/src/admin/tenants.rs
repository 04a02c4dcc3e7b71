//! `/api/v1/admin/tenants`: create, list, show, rename and delete tenants.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use ragway_catalog::{Tenant, TenantDeletion, validate_tenant_id};
use serde::{Deserialize, Serialize};

use crate::http::errors::ErrorBody;
use crate::http::{Admin, ApiError, JsonBody};
use crate::state::AppState;

/// A tenant as the admin API shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TenantView {
    pub id: String,
    pub name: String,
    /// Bumped by every sync that changes the index (cached answers of older generations are never served).
    pub generation: i64,
    pub created_at: String,
}

impl From<Tenant> for TenantView {
    fn from(t: Tenant) -> Self {
        Self {
            id: t.id,
            name: t.display_name,
            generation: t.generation,
            created_at: t.created_at,
        }
    }
}

/// A tenant with what it holds.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TenantDetail {
    #[serde(flatten)]
    pub tenant: TenantView,
    pub documents: i64,
    /// Passages in the index.
    pub chunks: usize,
    pub sources: usize,
    /// Keys neither revoked nor expired.
    pub active_api_keys: usize,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTenant {
    /// 1-64 lowercase letters, digits, `-` or `_`, starting with a letter or digit; never changes.
    pub id: String,
    /// Display name (default: the id).
    pub name: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateTenant {
    pub name: String,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeleteQuery {
    /// Must repeat the tenant id: deleting a tenant cannot be undone.
    pub confirm: Option<String>,
}

/// What a deletion removed.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DeletedTenant {
    pub id: String,
    /// Passages removed from the index.
    pub chunks: usize,
    pub documents: i64,
    pub sources: i64,
    pub api_keys: i64,
    pub admin_keys: i64,
    pub conversations: i64,
}

fn forbidden_for_scoped() -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "forbidden",
        "only a global admin key may create or delete tenants",
    )
}

/// Create a tenant (global admin keys only).
#[utoipa::path(post, path = "/api/v1/admin/tenants", tag = "admin", request_body = CreateTenant,
    security(("admin_key" = [])),
    responses(
        (status = 201, description = "Created", body = TenantView),
        (status = 400, description = "Invalid id or body", body = ErrorBody),
        (status = 401, description = "Missing or invalid admin key", body = ErrorBody),
        (status = 403, description = "A key scoped to one tenant", body = ErrorBody),
        (status = 409, description = "A tenant with this id exists", body = ErrorBody),
    ))]
pub async fn create(
    State(state): State<AppState>,
    admin: Admin,
    JsonBody(body): JsonBody<CreateTenant>,
) -> Result<Response, ApiError> {
    if admin.key.tenant_id.is_some() {
        return Err(forbidden_for_scoped());
    }
    validate_tenant_id(&body.id).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let name = body
        .name
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty());
    let tenant = state
        .core
        .catalog
        .create_tenant(&body.id, name.unwrap_or(&body.id))
        .await?;
    tracing::info!(tenant = %tenant.id, admin_key = %admin.key.id, "tenant created");
    Ok((StatusCode::CREATED, Json(TenantView::from(tenant))).into_response())
}

/// List the tenants this key administers.
#[utoipa::path(get, path = "/api/v1/admin/tenants", tag = "admin", security(("admin_key" = [])),
    responses(
        (status = 200, description = "Tenants, by id", body = [TenantView]),
        (status = 401, description = "Missing or invalid admin key", body = ErrorBody),
    ))]
pub async fn list(
    State(state): State<AppState>,
    admin: Admin,
) -> Result<Json<Vec<TenantView>>, ApiError> {
    let tenants = state.core.catalog.tenants().await?;
    Ok(Json(
        tenants
            .into_iter()
            .filter(|t| admin.key.covers(&t.id))
            .map(TenantView::from)
            .collect(),
    ))
}

/// Show a tenant and what it holds.
#[utoipa::path(get, path = "/api/v1/admin/tenants/{id}", tag = "admin", security(("admin_key" = [])),
    params(("id" = String, Path, description = "Tenant id")),
    responses(
        (status = 200, description = "The tenant", body = TenantDetail),
        (status = 401, description = "Missing or invalid admin key", body = ErrorBody),
        (status = 403, description = "A key scoped to another tenant", body = ErrorBody),
        (status = 404, description = "No such tenant", body = ErrorBody),
    ))]
pub async fn show(
    State(state): State<AppState>,
    admin: Admin,
    Path(id): Path<String>,
) -> Result<Json<TenantDetail>, ApiError> {
    let tenant = super::administered_tenant(&state, &admin, &id).await?;
    let now = chrono::Utc::now().to_rfc3339();
    let active_api_keys = state
        .core
        .catalog
        .api_keys(&id)
        .await?
        .iter()
        .filter(|k| {
            k.revoked_at.is_none() && k.expires_at.as_deref().is_none_or(|e| e > now.as_str())
        })
        .count();
    Ok(Json(TenantDetail {
        tenant: tenant.into(),
        documents: state.core.catalog.document_count(&id).await?,
        chunks: state.store.count(&id).await?,
        sources: state.core.catalog.sources(&id).await?.len(),
        active_api_keys,
    }))
}

/// Rename a tenant.
#[utoipa::path(patch, path = "/api/v1/admin/tenants/{id}", tag = "admin", request_body = UpdateTenant,
    security(("admin_key" = [])),
    params(("id" = String, Path, description = "Tenant id")),
    responses(
        (status = 200, description = "The tenant", body = TenantView),
        (status = 400, description = "Empty name or bad body", body = ErrorBody),
        (status = 403, description = "A key scoped to another tenant", body = ErrorBody),
        (status = 404, description = "No such tenant", body = ErrorBody),
    ))]
pub async fn update(
    State(state): State<AppState>,
    admin: Admin,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<UpdateTenant>,
) -> Result<Json<TenantView>, ApiError> {
    super::administered_tenant(&state, &admin, &id).await?;
    let name = body.name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(ApiError::bad_request("`name` must be 1 to 200 characters"));
    }
    Ok(Json(
        state.core.catalog.rename_tenant(&id, name).await?.into(),
    ))
}

/// Delete a tenant: its index passages, documents, sources, API keys, scoped admin keys and
/// conversations (its usage history stays). Needs `?confirm=<id>`; global admin keys only.
#[utoipa::path(delete, path = "/api/v1/admin/tenants/{id}", tag = "admin", security(("admin_key" = [])),
    params(("id" = String, Path, description = "Tenant id"), DeleteQuery),
    responses(
        (status = 200, description = "What was removed", body = DeletedTenant),
        (status = 400, description = "`confirm` missing or not the tenant id", body = ErrorBody),
        (status = 403, description = "A key scoped to one tenant", body = ErrorBody),
        (status = 404, description = "No such tenant", body = ErrorBody),
    ))]
pub async fn delete(
    State(state): State<AppState>,
    admin: Admin,
    Path(id): Path<String>,
    Query(query): Query<DeleteQuery>,
) -> Result<Json<DeletedTenant>, ApiError> {
    if admin.key.tenant_id.is_some() {
        return Err(forbidden_for_scoped());
    }
    super::administered_tenant(&state, &admin, &id).await?;
    if query.confirm.as_deref() != Some(id.as_str()) {
        return Err(ApiError::bad_request(format!(
            "deleting a tenant cannot be undone: repeat its id as `?confirm={id}`"
        )));
    }
    let crate::tenant_removal::Removed {
        chunks,
        catalog:
            TenantDeletion {
                documents,
                sources,
                api_keys,
                admin_keys,
                conversations,
            },
        upload_folders,
    } = crate::tenant_removal::delete_tenant(&state, &id).await?;
    tracing::warn!(tenant = %id, chunks, documents, upload_folders, admin_key = %admin.key.id, "tenant deleted");
    Ok(Json(DeletedTenant {
        id,
        chunks,
        documents,
        sources,
        api_keys,
        admin_keys,
        conversations,
    }))
}
