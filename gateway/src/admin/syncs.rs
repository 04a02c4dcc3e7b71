//! Sync runs of a tenant's sources: their status, counts, per-document failures and live progress
//! (`…/syncs/{sync_id}` and the SSE stream `…/syncs/{sync_id}/events`).

use std::convert::Infallible;
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::Stream;
use ragway_catalog::SyncRunRecord;
use ragway_ingest::sync::DocumentFailure;
use serde::{Deserialize, Serialize};

use super::{not_found, tenant_source};
use crate::http::errors::ErrorBody;
use crate::http::{Admin, ApiError};
use crate::state::AppState;
use crate::sync_jobs::progress::SyncProgress;

/// How often a progress stream of a sync run by another process re-reads the catalog.
const POLL_EVERY: Duration = Duration::from_secs(1);
/// Progress events are sent at most this often.
const MIN_EVENT_GAP: Duration = Duration::from_millis(250);

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SyncView {
    pub id: String,
    pub source_id: String,
    /// `queued`, `running`, `succeeded` or `failed`.
    pub status: String,
    /// `manual`, `schedule` or `upload`.
    pub trigger: String,
    pub queued_at: Option<String>,
    pub started_at: String,
    pub finished_at: Option<String>,
    /// Live progress while it runs (phase, counts, bytes, current document, ETA); the final
    /// figures once it is done.
    pub progress: Option<SyncProgress>,
    /// Documents that could not be indexed, with the reason (finished runs).
    #[schema(value_type = Vec<Object>)]
    pub failures: Vec<DocumentFailure>,
    /// Why the whole sync failed.
    pub message: Option<String>,
}

impl SyncView {
    pub fn from_run(state: &AppState, mut run: SyncRunRecord) -> Self {
        let live = state
            .jobs
            .watch(&run.id)
            .map(|progress| progress.borrow().clone());
        let stored = run
            .progress
            .take()
            .and_then(|p| serde_json::from_value::<SyncProgress>(p).ok());
        let progress = live.or(stored);
        let progress = if run.is_active() {
            progress
        } else {
            progress.map(|p| p.settled(&run.status))
        };
        Self {
            progress,
            id: run.id,
            source_id: run.source_id,
            status: run.status,
            trigger: run.trigger,
            queued_at: run.queued_at,
            started_at: run.started_at,
            finished_at: run.finished_at,
            failures: run.failures,
            message: run.message,
        }
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SyncsQuery {
    /// 1 to 200 (default 20), newest first.
    pub limit: Option<i64>,
}

/// The source's recent syncs, newest first.
#[utoipa::path(get, path = "/api/v1/admin/tenants/{id}/sources/{source_id}/syncs", tag = "admin",
    security(("admin_key" = [])),
    params(("id" = String, Path, description = "Tenant id"), ("source_id" = String, Path, description = "Source id"), SyncsQuery),
    responses(
        (status = 200, description = "Syncs, newest first", body = [SyncView]),
        (status = 400, description = "Bad limit", body = ErrorBody),
        (status = 403, description = "A key scoped to another tenant", body = ErrorBody),
        (status = 404, description = "No such tenant or source", body = ErrorBody),
    ))]
pub async fn list(
    State(state): State<AppState>,
    admin: Admin,
    Path((id, source_id)): Path<(String, String)>,
    query: Result<Query<SyncsQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Vec<SyncView>>, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let limit = query.limit.unwrap_or(20);
    if !(1..=200).contains(&limit) {
        return Err(ApiError::bad_request("`limit` must be 1 to 200"));
    }
    let source = tenant_source(&state, &admin, &id, &source_id).await?;
    let runs = state
        .core
        .catalog
        .recent_sync_runs(&source.id, limit)
        .await?;
    Ok(Json(
        runs.into_iter()
            .map(|r| SyncView::from_run(&state, r))
            .collect(),
    ))
}

async fn tenant_run(
    state: &AppState,
    admin: &Admin,
    tenant: &str,
    sync_id: &str,
) -> Result<SyncRunRecord, ApiError> {
    super::administered_tenant(state, admin, tenant).await?;
    state
        .core
        .catalog
        .sync_run(sync_id)
        .await?
        .filter(|run| run.tenant_id == tenant)
        .ok_or_else(|| not_found(format!("no sync `{sync_id}` in tenant `{tenant}`")))
}

/// One sync: status, progress, failures.
#[utoipa::path(get, path = "/api/v1/admin/tenants/{id}/syncs/{sync_id}", tag = "admin",
    security(("admin_key" = [])),
    params(("id" = String, Path, description = "Tenant id"), ("sync_id" = String, Path, description = "Sync id")),
    responses(
        (status = 200, description = "The sync", body = SyncView),
        (status = 403, description = "A key scoped to another tenant", body = ErrorBody),
        (status = 404, description = "No such tenant or sync", body = ErrorBody),
    ))]
pub async fn show(
    State(state): State<AppState>,
    admin: Admin,
    Path((id, sync_id)): Path<(String, String)>,
) -> Result<Json<SyncView>, ApiError> {
    let run = tenant_run(&state, &admin, &id, &sync_id).await?;
    Ok(Json(SyncView::from_run(&state, run)))
}

/// Live progress as Server-Sent Events: `progress` events (a `SyncView` each, at most four a
/// second) while the sync is queued or running, then one `done` event with the finished sync.
#[utoipa::path(get, path = "/api/v1/admin/tenants/{id}/syncs/{sync_id}/events", tag = "admin",
    security(("admin_key" = [])),
    params(("id" = String, Path, description = "Tenant id"), ("sync_id" = String, Path, description = "Sync id")),
    responses(
        (status = 200, description = "`text/event-stream` of `progress` events and a final `done` event, each a SyncView", content_type = "text/event-stream", body = SyncView),
        (status = 403, description = "A key scoped to another tenant", body = ErrorBody),
        (status = 404, description = "No such tenant or sync", body = ErrorBody),
    ))]
pub async fn events(
    State(state): State<AppState>,
    admin: Admin,
    Path((id, sync_id)): Path<(String, String)>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let first = tenant_run(&state, &admin, &id, &sync_id).await?;
    let stream = async_stream::stream! {
        let mut run = first;
        loop {
            let view = SyncView::from_run(&state, run.clone());
            if !run.is_active() {
                yield Ok(event("done", &view));
                break;
            }
            yield Ok(event("progress", &view));
            match state.jobs.watch(&run.id) {
                // Running here: wake on each change (or every poll interval at the latest).
                Some(mut live) => {
                    let _ = tokio::time::timeout(POLL_EVERY, live.changed()).await;
                    tokio::time::sleep(MIN_EVENT_GAP).await;
                }
                // Queued, or running in another process: read the catalog again.
                None => tokio::time::sleep(POLL_EVERY).await,
            }
            run = match state.core.catalog.sync_run(&run.id).await {
                Ok(Some(next)) => next,
                Ok(None) => break,
                Err(err) => {
                    tracing::warn!(%err, "cannot read the sync for its progress stream");
                    break;
                }
            };
        }
    };
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

fn event(name: &str, view: &SyncView) -> Event {
    Event::default()
        .event(name)
        .json_data(view)
        .unwrap_or_else(|_| Event::default().event(name).data("{}"))
}
