//! The admin API (`/api/v1/admin/...`), authenticated with admin keys.

use axum::http::StatusCode;
use ragway_catalog::{SourceRecord, Tenant};

use crate::http::{Admin, ApiError};
use crate::state::AppState;

pub mod documents;
pub mod keys;
pub mod settings;
pub mod sources;
pub mod syncs;
pub mod tenants;
pub mod uploads;
pub mod usage;
pub mod widget_keys;

/// The tenant a request is about, if this admin key covers it (403) and it exists (404).
pub(crate) async fn administered_tenant(
    state: &AppState,
    admin: &Admin,
    id: &str,
) -> Result<Tenant, ApiError> {
    admin.tenant(Some(id))?;
    state.core.catalog.tenant(id).await?.ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("tenant `{id}` not found"),
        )
    })
}

/// 404 with what was not found.
pub(crate) fn not_found(what: String) -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", what)
}

/// The tenant's source, or 404.
pub(crate) async fn tenant_source(
    state: &AppState,
    admin: &Admin,
    tenant: &str,
    source_id: &str,
) -> Result<SourceRecord, ApiError> {
    administered_tenant(state, admin, tenant).await?;
    state
        .core
        .catalog
        .source(tenant, source_id)
        .await?
        .ok_or_else(|| not_found(format!("no source `{source_id}` in tenant `{tenant}`")))
}
