//! Sync jobs: the catalog's `sync_runs` table is the queue; a bounded pool of workers claims queued
//! runs (one per source at a time, enforced by the catalog), runs them with live progress, and a
//! scheduler queues scheduled sources when due — skipping a source whose last sync is still queued
//! or running, so slow syncs never stack up.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Utc};
use ragway_catalog::{Enqueued, SourceRecord, SyncRunRecord, TRIGGER_SCHEDULE};
use ragway_ingest::SyncReport;
use ragway_ingest::sync::SyncEvent;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::schedule::Schedule;
use super::service::{SourceError, SourceService};
use super::{SourceKind, upload_copy, upload_dir};
use crate::state::AppState;
use crate::sync_jobs::progress::{ProgressTracker, SyncProgress};

/// How often the live progress of a running sync is written to the catalog (for other replicas
/// and for the record).
const PROGRESS_WRITE_EVERY: Duration = Duration::from_secs(1);
/// How often idle workers look for queued runs another process queued.
const POLL_EVERY: Duration = Duration::from_secs(2);

/// Starts the workers and the scheduler as tracked background tasks that end when `stop` fires
/// (a running sync is finished first; shutdown waits for it within the grace period).
pub fn spawn(state: &AppState, stop: &CancellationToken) {
    let workers = state.core.config.sources.sync_workers;
    for _ in 0..workers {
        state.core.tasks.spawn(work(state.clone(), stop.clone()));
    }
    if workers > 0 {
        state
            .core
            .tasks
            .spawn(schedule(state.clone(), stop.clone()));
        tracing::info!(workers, "sync workers started");
    }
}

async fn work(state: AppState, stop: CancellationToken) {
    loop {
        if stop.is_cancelled() {
            return;
        }
        match state.core.catalog.claim_queued_sync().await {
            Ok(Some(run)) => {
                execute(&state, run).await;
                continue;
            }
            Ok(None) => {}
            Err(err) => tracing::warn!(%err, "cannot read the sync queue"),
        }
        tokio::select! {
            () = stop.cancelled() => return,
            () = state.jobs.wake.notified() => {}
            () = tokio::time::sleep(POLL_EVERY) => {}
        }
    }
}

/// Runs a claimed sync to its end and returns the finished run. Never fails: whatever goes wrong
/// is recorded on the run (`failed`, with the reason) for the admin to read.
pub async fn execute(state: &AppState, run: SyncRunRecord) -> SyncRunRecord {
    let source = match state
        .core
        .catalog
        .source(&run.tenant_id, &run.source_id)
        .await
    {
        Ok(Some(source)) => source,
        Ok(None) => return give_up(state, &run, "its source was deleted").await,
        Err(err) => return give_up(state, &run, &err.to_string()).await,
    };
    tracing::info!(run = %run.id, tenant = %source.tenant_id, source = %source.name, trigger = %run.trigger, "sync started");
    let tracker = Mutex::new(ProgressTracker::start());
    let (sender, receiver) = watch::channel(SyncProgress::default());
    state.jobs.track(&run.id, receiver.clone());
    let on_event = |event: &SyncEvent| {
        let mut tracker = tracker.lock().unwrap_or_else(PoisonError::into_inner);
        tracker.apply(event);
        sender.send_replace(tracker.snapshot());
    };
    let writer = tokio::spawn(write_progress(state.clone(), run.id.clone(), receiver));
    let heartbeat = tokio::spawn(renew_lease(state.clone(), run.id.clone()));
    let outcome = sync(state, &source, &run, &on_event).await;
    heartbeat.abort();
    writer.abort();
    let succeeded = outcome.is_ok();
    let last = tracker
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .finish(succeeded);
    match &outcome {
        Ok(report) => {
            tracing::info!(run = %run.id, seen = report.seen, added = report.added, changed = report.changed, removed = report.removed, failed = report.failures.len(), "sync finished");
        }
        Err(reason) => {
            tracing::warn!(run = %run.id, %reason, "sync failed");
            if let Err(err) = state.core.catalog.fail_sync_run(&run.id, reason).await {
                tracing::warn!(%err, run = %run.id, "cannot record the failed sync");
            }
        }
    }
    if let Ok(snapshot) = serde_json::to_value(&last) {
        let _ = state
            .core
            .catalog
            .record_final_progress(&run.id, &snapshot)
            .await;
    }
    sender.send_replace(last);
    state.jobs.untrack(&run.id);
    count_run(state, succeeded);
    finished(state, run).await
}

/// `ragway_sync_runs_total{status}`: what the sync-failure alert watches.
fn count_run(state: &AppState, succeeded: bool) {
    let status = if succeeded { "succeeded" } else { "failed" };
    state
        .core
        .metrics
        .sync_runs
        .get_or_create(&crate::metrics::SyncLabels {
            status: status.to_owned(),
        })
        .inc();
}

/// Resolves what the source's stored settings say to read, and runs the one sync every kind
/// goes through.
async fn sync(
    state: &AppState,
    source: &SourceRecord,
    run: &SyncRunRecord,
    progress: &(dyn Fn(&SyncEvent) + Send + Sync),
) -> Result<SyncReport, String> {
    if source.kind == SourceKind::Upload.as_str() {
        let dir = upload_dir(&state.core.config.data_dir, &source.id);
        upload_copy::check_out(&state.core.catalog, &source.id, &dir)
            .await
            .map_err(|e| e.to_string())?;
    }
    // Documents too short to tell their language take the tenant's.
    let tenant = state.core.tenants.settings(&source.tenant_id).await;
    let plan = SourceService::of(state)
        .sync_plan(source, tenant.language)
        .map_err(|e| e.to_string())?;
    state
        .indexer
        .sync(source, &run.id, plan, progress)
        .await
        .map_err(|e| e.to_string())
}

async fn give_up(state: &AppState, run: &SyncRunRecord, reason: &str) -> SyncRunRecord {
    tracing::warn!(run = %run.id, %reason, "sync could not start");
    count_run(state, false);
    if let Err(err) = state.core.catalog.fail_sync_run(&run.id, reason).await {
        tracing::warn!(%err, run = %run.id, "cannot record the failed sync");
    }
    finished(state, run.clone()).await
}

async fn finished(state: &AppState, run: SyncRunRecord) -> SyncRunRecord {
    match state.core.catalog.sync_run(&run.id).await {
        Ok(Some(done)) => done,
        _ => run,
    }
}

/// Writes the latest progress to the catalog at most once per interval while the sync runs.
async fn write_progress(
    state: AppState,
    run_id: String,
    mut progress: watch::Receiver<SyncProgress>,
) {
    while progress.changed().await.is_ok() {
        let snapshot = progress.borrow_and_update().clone();
        if let Ok(value) = serde_json::to_value(&snapshot)
            && let Err(err) = state
                .core
                .catalog
                .record_sync_progress(&run_id, &value)
                .await
        {
            tracing::debug!(%err, "cannot store sync progress");
        }
        tokio::time::sleep(PROGRESS_WRITE_EVERY).await;
    }
}

/// Renews the run's lease while its sync works, so other processes know it is alive.
async fn renew_lease(state: AppState, run_id: String) {
    let every = Duration::from_secs((state.core.config.sources.sync_lease_secs / 4).max(1));
    loop {
        tokio::time::sleep(every).await;
        if let Err(err) = state.core.catalog.heartbeat_sync_run(&run_id).await {
            tracing::warn!(%err, run = %run_id, "cannot renew the sync's lease");
        }
    }
}

/// Queues scheduled sources when due, and takes over syncs whose process died, every
/// `schedule_tick_secs`.
async fn schedule(state: AppState, stop: CancellationToken) {
    let every = Duration::from_secs(state.core.config.sources.schedule_tick_secs.max(1));
    loop {
        if let Err(err) = queue_due(&state, Utc::now()).await {
            tracing::warn!(%err, "the scheduler could not check the sources");
        }
        if state.core.config.index.is_shared()
            && let Err(err) = state.recover_interrupted_syncs().await
        {
            tracing::warn!(%err, "could not check for interrupted syncs");
        }
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(every) => {}
        }
    }
}

/// One scheduler pass at `now`: a source without a next time gets one; a due source is queued
/// unless a sync of it is still queued or running (then that run counts for this slot), and its next
/// time is computed from `now` so missed runs never pile up. Returns the runs queued.
pub async fn queue_due(
    state: &AppState,
    now: DateTime<Utc>,
) -> Result<Vec<SyncRunRecord>, ragway_catalog::CatalogError> {
    let min = Schedule::min_interval(&state.core.config.sources);
    let service = SourceService::of(state);
    let mut queued = Vec::new();
    for source in state.core.catalog.scheduled_sources().await? {
        let Some(text) = source.schedule.as_deref() else {
            continue;
        };
        let schedule = match Schedule::parse(text, min) {
            Ok(schedule) => schedule,
            Err(reason) => {
                tracing::warn!(source = %source.id, %reason, "invalid schedule; not scheduling");
                continue;
            }
        };
        let due = source
            .next_sync_at
            .as_deref()
            .and_then(|at| DateTime::parse_from_rfc3339(at).ok())
            .map(|at| at.with_timezone(&Utc));
        match due {
            Some(at) if at > now => continue,
            Some(_) => {
                if let Some(run) = state.core.catalog.active_sync_run(&source.id).await? {
                    tracing::info!(source = %source.id, run = %run.id, "scheduled sync skipped: the previous one is still active");
                } else {
                    match service.queue_sync(&source, TRIGGER_SCHEDULE).await {
                        Ok(Enqueued::New(run)) => {
                            tracing::info!(source = %source.id, run = %run.id, "scheduled sync queued");
                            queued.push(run);
                        }
                        Ok(Enqueued::AlreadyActive(_)) => {}
                        Err(SourceError::Catalog(err)) => return Err(err),
                        Err(err) => {
                            tracing::warn!(source = %source.id, %err, "scheduled sync not queued");
                        }
                    }
                }
            }
            None => {}
        }
        let next = schedule.next_after(now).map(|at| at.to_rfc3339());
        state
            .core
            .catalog
            .set_next_sync_at(&source.id, next.as_deref())
            .await?;
    }
    Ok(queued)
}
