//! `/api/v1/admin/tenants/{id}/settings`: a tenant's own limits and copilot profiles, on top of
//! `ragway.toml`, and what is in force as a result.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Serialize;

use crate::error::GatewayError;
use crate::http::errors::ErrorBody;
use crate::http::{Admin, ApiError, JsonBody};
use crate::limits::Quotas;
use crate::state::AppState;
use crate::tenants::TenantSettings;

/// The settings as stored and what applies to the tenant now.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SettingsView {
    pub settings: TenantSettings,
    /// The limits in force: defaults, configuration, then these settings.
    pub limits: Quotas,
    /// The copilot profiles the tenant may use, its default first.
    pub profiles: Vec<String>,
}

async fn view(state: &AppState, id: &str) -> SettingsView {
    SettingsView {
        settings: state.core.tenants.settings(id).await.as_ref().clone(),
        limits: state.core.quotas(id).await,
        profiles: state
            .core
            .tenant_profiles(id)
            .await
            .iter()
            .map(|p| p.id.clone())
            .collect(),
    }
}

/// The operator's configuration is a ceiling a tenant-scoped admin key may lower, never raise:
/// no limit above the configured one (nor unlimited where it is finite), no profile the
/// configuration does not give the tenant. Only a global admin key changes ceilings.
fn within_the_operators_ceiling(
    state: &AppState,
    tenant: &str,
    settings: &TenantSettings,
) -> Result<(), ApiError> {
    let forbidden = |message: String| ApiError::new(StatusCode::FORBIDDEN, "forbidden", message);
    let ceiling = state.core.config.limits.quotas(tenant);
    if let Some((field, asked, limit)) = ceiling.raised_by(&settings.limits).into_iter().next() {
        let asked = match asked {
            0 => "0 (unlimited)".to_owned(),
            n => n.to_string(),
        };
        return Err(forbidden(format!(
            "limits.{field}: {asked} is above the operator's limit of {limit} for this tenant; \
             a tenant admin key may lower limits, only a global admin key may raise them"
        )));
    }
    if let Some(copilot) = &settings.copilot {
        let allowed: Vec<String> = (state.core.profiles.for_tenant(tenant, None).iter())
            .map(|p| p.id.clone())
            .collect();
        if let Some(profile) = copilot.profiles.iter().find(|p| !allowed.contains(p)) {
            return Err(forbidden(format!(
                "copilot: the operator does not give this tenant the profile `{profile}` \
                 (it may use: {}); only a global admin key may grant it",
                allowed.join(", ")
            )));
        }
    }
    Ok(())
}

/// A tenant's settings and the limits and profiles in force.
#[utoipa::path(get, path = "/api/v1/admin/tenants/{id}/settings", tag = "admin",
    security(("admin_key" = [])),
    params(("id" = String, Path, description = "Tenant id")),
    responses(
        (status = 200, description = "Settings and what applies", body = SettingsView),
        (status = 403, description = "A key scoped to another tenant", body = ErrorBody),
        (status = 404, description = "No such tenant", body = ErrorBody),
    ))]
pub async fn show(
    State(state): State<AppState>,
    admin: Admin,
    Path(id): Path<String>,
) -> Result<Json<SettingsView>, ApiError> {
    super::administered_tenant(&state, &admin, &id).await?;
    Ok(Json(view(&state, &id).await))
}

/// Replace a tenant's settings (limits, copilot profiles). This replica applies them at once,
/// the others within 10 s.
#[utoipa::path(put, path = "/api/v1/admin/tenants/{id}/settings", tag = "admin",
    request_body = TenantSettings,
    security(("admin_key" = [])),
    params(("id" = String, Path, description = "Tenant id")),
    responses(
        (status = 200, description = "Settings and what applies now", body = SettingsView),
        (status = 400, description = "Unknown field, unknown profile, or a bad value", body = ErrorBody),
        (status = 403, description = "A key scoped to another tenant, or a tenant-scoped key raising a limit \
            above the operator's configuration (or granting a profile it does not give the tenant)", body = ErrorBody),
        (status = 404, description = "No such tenant", body = ErrorBody),
    ))]
pub async fn replace(
    State(state): State<AppState>,
    admin: Admin,
    Path(id): Path<String>,
    JsonBody(settings): JsonBody<TenantSettings>,
) -> Result<Json<SettingsView>, ApiError> {
    super::administered_tenant(&state, &admin, &id).await?;
    if let Some(copilot) = &settings.copilot {
        state
            .core
            .profiles
            .validate(copilot)
            .map_err(|e| ApiError::bad_request(format!("copilot: {e}")))?;
    }
    if admin.key.tenant_id.is_some() {
        within_the_operators_ceiling(&state, &id, &settings)?;
    }
    if let Some((name, _)) = settings
        .prompts
        .iter()
        .find(|(_, text)| text.len() > crate::tenants::MAX_TEMPLATE_BYTES)
    {
        return Err(ApiError::bad_request(format!(
            "prompts: `{name}` is larger than {} bytes",
            crate::tenants::MAX_TEMPLATE_BYTES
        )));
    }
    let prompts = crate::ground::Prompts::with_overrides(
        state.core.config.prompts_dir.as_deref(),
        &settings.prompts,
    )
    .map_err(|e| ApiError::bad_request(format!("prompts: {e}")))?;
    // A trial render of the largest prompt, off the async workers: a template that loops past
    // the rendering budget is refused now, not when employees ask.
    let chunker = std::sync::Arc::clone(&state.core.chunker);
    tokio::task::spawn_blocking(move || prompts.check_budget(&chunker))
        .await
        .map_err(|e| ApiError::from(GatewayError::Template(e.to_string())))?
        .map_err(|e| ApiError::bad_request(format!("prompts: {e}")))?;
    state.core.tenants.store(&id, &settings).await?;
    tracing::info!(tenant = %id, admin_key = %admin.key.id, "tenant settings replaced");
    Ok(Json(view(&state, &id).await))
}
