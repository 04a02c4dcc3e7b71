//! `/api/v1/admin/tenants/{id}/sources`: a tenant's document sources — create, list, show, update,
//! delete, sync now, pause and resume.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use ragway_catalog::{Enqueued, SourceRecord, TRIGGER_MANUAL};
use serde::{Deserialize, Serialize};

use super::syncs::SyncView;
use super::tenant_source;
use crate::http::errors::ErrorBody;
use crate::http::{Admin, ApiError, JsonBody};
use crate::sources::{NewSource, SourceChanges, SourceError, SourceService};
use crate::state::AppState;

/// A document source.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SourceView {
    pub id: String,
    pub name: String,
    /// `folder` or `upload`.
    pub kind: String,
    /// Kind-specific settings (a folder: `path`, `include`, `exclude`, `acl`, and
    /// `registered_by` — `tenant_admin`, `global_admin` or `operator`, set by ragway: the rules
    /// its folder is checked with again at every sync; an upload: `acl`), plus, for any kind,
    /// `language` (`es`, `en`) when the documents' language is declared rather than detected.
    #[schema(value_type = Object)]
    pub settings: serde_json::Value,
    pub paused: bool,
    /// `every 6h` or a 5-field cron expression (UTC); absent: only synced on request.
    pub schedule: Option<String>,
    pub next_sync_at: Option<String>,
    pub created_at: String,
    pub updated_at: Option<String>,
    /// The sync queued or running now, if any.
    pub active_sync: Option<SyncView>,
    /// The last finished sync.
    pub last_sync: Option<SyncView>,
    /// Documents indexed from it.
    pub documents: i64,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSource {
    /// Unique within the tenant (1 to 100 characters).
    pub name: String,
    /// `folder` (a server path under `[sources] folder_roots`: a root with `{tenant}` for this
    /// tenant, or a shared root with a global admin key), `upload` (files sent to
    /// `…/sources/{source_id}/files`) or `web` (a crawled site).
    pub kind: String,
    /// Kind-specific settings; any kind may add `"language": "es"` (or `en`) to declare its
    /// documents' language instead of detecting it per document and passage. A folder's
    /// `registered_by` is set by ragway from the admin key (a value sent is ignored).
    #[serde(default)]
    #[schema(value_type = Object)]
    pub settings: serde_json::Value,
    pub schedule: Option<String>,
    /// Create it paused (default false).
    #[serde(default)]
    pub paused: bool,
    /// Queue a first sync now (default true; ignored for uploads and paused sources).
    pub sync: Option<bool>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateSource {
    pub name: Option<String>,
    /// Replaces the settings (validated as on creation); the next sync applies them.
    #[schema(value_type = Option<Object>)]
    pub settings: Option<serde_json::Value>,
    /// A new schedule; `null` removes it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub schedule: Option<Option<String>>,
}

/// Tells an explicit `null` (Some(None)) from an absent field (None).
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ConfirmQuery {
    /// The source's name, to confirm the deletion.
    pub confirm: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DeletedSource {
    pub source: SourceView,
    pub documents_removed: i64,
}

fn conflict(code: &'static str, message: String) -> ApiError {
    ApiError::new(StatusCode::CONFLICT, code, message)
}

pub(crate) async fn view(state: &AppState, source: SourceRecord) -> Result<SourceView, ApiError> {
    let recent = state.core.catalog.recent_sync_runs(&source.id, 5).await?;
    let active_sync = recent.iter().find(|r| r.is_active()).cloned();
    let last_sync = recent.into_iter().find(|r| !r.is_active());
    let documents = state.core.catalog.source_document_count(&source.id).await?;
    Ok(SourceView {
        active_sync: active_sync.map(|r| SyncView::from_run(state, r)),
        last_sync: last_sync.map(|r| SyncView::from_run(state, r)),
        documents,
        id: source.id,
        name: source.name,
        kind: source.kind,
        settings: source.settings,
        paused: source.paused,
        schedule: source.schedule,
        next_sync_at: source.next_sync_at,
        created_at: source.created_at,
        updated_at: source.updated_at,
    })
}

/// A refusal of the source service, as the admin API words it.
impl From<SourceError> for ApiError {
    fn from(err: SourceError) -> Self {
        match err {
            SourceError::Invalid(_) | SourceError::Settings(_) => {
                ApiError::bad_request(err.to_string())
            }
            SourceError::Paused { .. } => conflict("source_paused", err.to_string()),
            SourceError::SyncRunning { .. } => conflict("sync_in_progress", err.to_string()),
            SourceError::Catalog(err) => err.into(),
            SourceError::Index(err) => err.into(),
        }
    }
}

/// Queues a sync: the run, or 409 when the source is paused or one is already waiting.
async fn queue_sync(
    state: &AppState,
    source: &SourceRecord,
    trigger: &str,
) -> Result<SyncView, ApiError> {
    match SourceService::of(state).queue_sync(source, trigger).await? {
        Enqueued::New(run) => Ok(SyncView::from_run(state, run)),
        Enqueued::AlreadyActive(run) => Err(conflict(
            "sync_in_progress",
            format!(
                "source `{}` already has a sync {} (`{}`); follow it at /api/v1/admin/tenants/{}/syncs/{}",
                source.name, run.status, run.id, source.tenant_id, run.id
            ),
        )),
    }
}

/// Create a source (and queue its first sync).
#[utoipa::path(post, path = "/api/v1/admin/tenants/{id}/sources", tag = "admin", request_body = CreateSource,
    security(("admin_key" = [])),
    params(("id" = String, Path, description = "Tenant id")),
    responses(
        (status = 201, description = "The source", body = SourceView),
        (status = 400, description = "Bad name, kind, settings (e.g. a folder outside the allowed roots) or schedule", body = ErrorBody),
        (status = 403, description = "A key scoped to another tenant", body = ErrorBody),
        (status = 404, description = "No such tenant", body = ErrorBody),
        (status = 409, description = "The tenant already has a source of this name", body = ErrorBody),
    ))]
pub async fn create(
    State(state): State<AppState>,
    admin: Admin,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<CreateSource>,
) -> Result<Response, ApiError> {
    super::administered_tenant(&state, &admin, &id).await?;
    let new = NewSource {
        name: body.name,
        kind: body.kind,
        settings: body.settings,
        schedule: body.schedule,
        paused: body.paused,
        sync: body.sync.unwrap_or(true),
    };
    let source = SourceService::for_admin(&state, &admin.key)
        .create(&id, new)
        .await?;
    tracing::info!(tenant = %id, source = %source.id, kind = %source.kind, admin_key = %admin.key.id, "source created");
    let view = view(&state, source).await?;
    Ok((StatusCode::CREATED, Json(view)).into_response())
}

/// List the tenant's sources with their current and last sync.
#[utoipa::path(get, path = "/api/v1/admin/tenants/{id}/sources", tag = "admin", security(("admin_key" = [])),
    params(("id" = String, Path, description = "Tenant id")),
    responses(
        (status = 200, description = "Sources by name", body = [SourceView]),
        (status = 403, description = "A key scoped to another tenant", body = ErrorBody),
        (status = 404, description = "No such tenant", body = ErrorBody),
    ))]
pub async fn list(
    State(state): State<AppState>,
    admin: Admin,
    Path(id): Path<String>,
) -> Result<Json<Vec<SourceView>>, ApiError> {
    super::administered_tenant(&state, &admin, &id).await?;
    let mut views = Vec::new();
    for source in state.core.catalog.sources(&id).await? {
        views.push(view(&state, source).await?);
    }
    Ok(Json(views))
}

/// Show one source.
#[utoipa::path(get, path = "/api/v1/admin/tenants/{id}/sources/{source_id}", tag = "admin",
    security(("admin_key" = [])),
    params(("id" = String, Path, description = "Tenant id"), ("source_id" = String, Path, description = "Source id")),
    responses(
        (status = 200, description = "The source", body = SourceView),
        (status = 403, description = "A key scoped to another tenant", body = ErrorBody),
        (status = 404, description = "No such tenant or source", body = ErrorBody),
    ))]
pub async fn show(
    State(state): State<AppState>,
    admin: Admin,
    Path((id, source_id)): Path<(String, String)>,
) -> Result<Json<SourceView>, ApiError> {
    let source = tenant_source(&state, &admin, &id, &source_id).await?;
    Ok(Json(view(&state, source).await?))
}

/// Rename a source, replace its settings or change its schedule.
#[utoipa::path(patch, path = "/api/v1/admin/tenants/{id}/sources/{source_id}", tag = "admin",
    request_body = UpdateSource, security(("admin_key" = [])),
    params(("id" = String, Path, description = "Tenant id"), ("source_id" = String, Path, description = "Source id")),
    responses(
        (status = 200, description = "The updated source", body = SourceView),
        (status = 400, description = "Bad name, settings or schedule", body = ErrorBody),
        (status = 403, description = "A key scoped to another tenant", body = ErrorBody),
        (status = 404, description = "No such tenant or source", body = ErrorBody),
        (status = 409, description = "Another source has this name", body = ErrorBody),
    ))]
pub async fn update(
    State(state): State<AppState>,
    admin: Admin,
    Path((id, source_id)): Path<(String, String)>,
    JsonBody(body): JsonBody<UpdateSource>,
) -> Result<Json<SourceView>, ApiError> {
    let source = tenant_source(&state, &admin, &id, &source_id).await?;
    let changes = SourceChanges {
        name: body.name,
        settings: body.settings,
        schedule: body.schedule,
    };
    let updated = SourceService::for_admin(&state, &admin.key)
        .update(&source, changes)
        .await?;
    tracing::info!(tenant = %id, source = %source.id, admin_key = %admin.key.id, "source updated");
    Ok(Json(view(&state, updated).await?))
}

/// Delete a source, its documents and their passages (`?confirm=<source name>`).
#[utoipa::path(delete, path = "/api/v1/admin/tenants/{id}/sources/{source_id}", tag = "admin",
    security(("admin_key" = [])),
    params(("id" = String, Path, description = "Tenant id"), ("source_id" = String, Path, description = "Source id"), ConfirmQuery),
    responses(
        (status = 200, description = "What was removed", body = DeletedSource),
        (status = 400, description = "Missing or wrong confirmation", body = ErrorBody),
        (status = 403, description = "A key scoped to another tenant", body = ErrorBody),
        (status = 404, description = "No such tenant or source", body = ErrorBody),
        (status = 409, description = "A sync of the source is running", body = ErrorBody),
    ))]
pub async fn delete(
    State(state): State<AppState>,
    admin: Admin,
    Path((id, source_id)): Path<(String, String)>,
    Query(query): Query<ConfirmQuery>,
) -> Result<Json<DeletedSource>, ApiError> {
    let source = tenant_source(&state, &admin, &id, &source_id).await?;
    if query.confirm.as_deref() != Some(source.name.as_str()) {
        return Err(ApiError::bad_request(format!(
            "deleting source `{}` removes its documents from the index; confirm with `?confirm={}`",
            source.name, source.name
        )));
    }
    let shown = view(&state, source.clone()).await?;
    let documents_removed = SourceService::of(&state)
        .remove(&*state.store, &source)
        .await?;
    tracing::info!(tenant = %id, source = %source.id, documents_removed, admin_key = %admin.key.id, "source deleted");
    Ok(Json(DeletedSource {
        source: shown,
        documents_removed,
    }))
}

/// Sync the source now.
#[utoipa::path(post, path = "/api/v1/admin/tenants/{id}/sources/{source_id}/sync", tag = "admin",
    security(("admin_key" = [])),
    params(("id" = String, Path, description = "Tenant id"), ("source_id" = String, Path, description = "Source id")),
    responses(
        (status = 202, description = "The queued sync; follow it at …/syncs/{sync_id} or …/syncs/{sync_id}/events", body = SyncView),
        (status = 403, description = "A key scoped to another tenant", body = ErrorBody),
        (status = 404, description = "No such tenant or source", body = ErrorBody),
        (status = 409, description = "The source is paused, or a sync of it is already waiting (one may run while another waits)", body = ErrorBody),
    ))]
pub async fn sync_now(
    State(state): State<AppState>,
    admin: Admin,
    Path((id, source_id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let source = tenant_source(&state, &admin, &id, &source_id).await?;
    let run = queue_sync(&state, &source, TRIGGER_MANUAL).await?;
    tracing::info!(tenant = %id, source = %source.id, run = %run.id, admin_key = %admin.key.id, "sync requested");
    Ok((StatusCode::ACCEPTED, Json(run)).into_response())
}

/// Pause the source: no scheduled or requested syncs until it is resumed (a running one ends).
#[utoipa::path(post, path = "/api/v1/admin/tenants/{id}/sources/{source_id}/pause", tag = "admin",
    security(("admin_key" = [])),
    params(("id" = String, Path, description = "Tenant id"), ("source_id" = String, Path, description = "Source id")),
    responses(
        (status = 200, description = "The paused source", body = SourceView),
        (status = 403, description = "A key scoped to another tenant", body = ErrorBody),
        (status = 404, description = "No such tenant or source", body = ErrorBody),
    ))]
pub async fn pause(
    State(state): State<AppState>,
    admin: Admin,
    Path((id, source_id)): Path<(String, String)>,
) -> Result<Json<SourceView>, ApiError> {
    set_paused(state, admin, id, source_id, true).await
}

/// Resume a paused source (its schedule starts again from now).
#[utoipa::path(post, path = "/api/v1/admin/tenants/{id}/sources/{source_id}/resume", tag = "admin",
    security(("admin_key" = [])),
    params(("id" = String, Path, description = "Tenant id"), ("source_id" = String, Path, description = "Source id")),
    responses(
        (status = 200, description = "The resumed source", body = SourceView),
        (status = 403, description = "A key scoped to another tenant", body = ErrorBody),
        (status = 404, description = "No such tenant or source", body = ErrorBody),
    ))]
pub async fn resume(
    State(state): State<AppState>,
    admin: Admin,
    Path((id, source_id)): Path<(String, String)>,
) -> Result<Json<SourceView>, ApiError> {
    set_paused(state, admin, id, source_id, false).await
}

async fn set_paused(
    state: AppState,
    admin: Admin,
    id: String,
    source_id: String,
    paused: bool,
) -> Result<Json<SourceView>, ApiError> {
    let source = tenant_source(&state, &admin, &id, &source_id).await?;
    SourceService::of(&state)
        .set_paused(&source, paused)
        .await?;
    tracing::info!(tenant = %id, source = %source.id, paused, admin_key = %admin.key.id, "source paused or resumed");
    let source = tenant_source(&state, &admin, &id, &source_id).await?;
    Ok(Json(view(&state, source).await?))
}
