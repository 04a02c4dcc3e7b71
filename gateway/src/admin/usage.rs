//! `GET /api/v1/admin/usage`: a tenant's usage per day and user.

use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use serde::Deserialize;

use crate::http::errors::ErrorBody;
use crate::http::{Admin, ApiError};
use crate::state::AppState;
use crate::usage::{UsageReport, period};

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UsageQuery {
    /// The tenant (optional with a key scoped to one tenant).
    pub tenant: Option<String>,
    /// First UTC day, `YYYY-MM-DD` (default: 30 days before `to`).
    pub from: Option<String>,
    /// Last UTC day, inclusive (default: today).
    pub to: Option<String>,
}

/// A tenant's requests, cache hits, LLM tokens and refusals by limit, per day and user.
#[utoipa::path(
    get,
    path = "/api/v1/admin/usage",
    tag = "admin",
    params(UsageQuery),
    security(("admin_key" = [])),
    responses(
        (status = 200, description = "Usage over the period", body = UsageReport),
        (status = 400, description = "Bad dates or period, or no tenant with a global key", body = ErrorBody),
        (status = 401, description = "Missing, invalid or revoked admin key", body = ErrorBody),
        (status = 403, description = "A tenant API key, or an admin key scoped to another tenant", body = ErrorBody),
        (status = 404, description = "Unknown tenant", body = ErrorBody),
    )
)]
pub async fn usage_handler(
    State(state): State<AppState>,
    admin: Admin,
    query: Result<Query<UsageQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<UsageReport>, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let tenant = admin.tenant(query.tenant.as_deref())?;
    let (from, to) =
        period(query.from.as_deref(), query.to.as_deref()).map_err(ApiError::bad_request)?;
    if state.core.catalog.tenant(&tenant).await?.is_none() {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("tenant `{tenant}` not found"),
        ));
    }
    // What this replica counted but has not written yet is included.
    state.core.flush_usage().await;
    let rows = state.core.catalog.usage(&tenant, &from, &to).await?;
    Ok(Json(UsageReport::from_rows(&tenant, &from, &to, &rows)))
}
