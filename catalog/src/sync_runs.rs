//! Sync runs: one row per sync. They double as the job queue: a run is `queued` until a worker
//! claims it, `running` while it syncs (with a progress snapshot), then `succeeded` or `failed`
//! with its counts and per-document failures. A unique index keeps at most one running and one
//! queued run per source: asking again while one runs queues a single follow-up (changes made
//! during a sync are picked up), asking while one waits returns the waiting one.

use serde::Serialize;
use sqlx::Row;
use uuid::Uuid;

use super::{Catalog, now};
use crate::error::{CatalogError, Result};

/// A document a sync could not index, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct DocumentFailure {
    pub uri: String,
    pub reason: String,
}

/// What one sync did: the counts a finished run stores (see [`Catalog::finish_sync_run`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SyncReport {
    pub run_id: String,
    pub source_id: String,
    pub seen: usize,
    pub added: usize,
    pub changed: usize,
    pub unchanged: usize,
    pub removed: usize,
    /// Documents whose ACL changed (content unchanged; no re-embedding).
    pub acl_changed: usize,
    pub failures: Vec<DocumentFailure>,
    /// Files of formats ragway does not read (skipped, not failed).
    pub unsupported: usize,
    pub bytes: u64,
    pub chunks_written: usize,
    pub generation: i64,
}

impl SyncReport {
    /// Whether what a query can find changed (content or visibility): cached answers are stale.
    pub fn index_changed(&self) -> bool {
        self.added + self.changed + self.removed + self.acl_changed > 0
    }
}

/// Why a run was started.
pub const TRIGGER_MANUAL: &str = "manual";
pub const TRIGGER_SCHEDULE: &str = "schedule";
pub const TRIGGER_UPLOAD: &str = "upload";
/// Queued again because the process running the previous sync died.
pub const TRIGGER_RECOVERY: &str = "recovery";

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SyncRunRecord {
    pub id: String,
    pub tenant_id: String,
    pub source_id: String,
    /// `queued`, `running`, `succeeded` or `failed`.
    pub status: String,
    pub trigger: String,
    pub queued_at: Option<String>,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub seen: i64,
    pub added: i64,
    pub changed: i64,
    pub unchanged: i64,
    pub removed: i64,
    pub acl_changed: i64,
    pub failed: i64,
    pub bytes: i64,
    pub chunks_written: i64,
    pub failures: Vec<DocumentFailure>,
    /// Why the run failed as a whole (per-document failures are in `failures`).
    pub message: Option<String>,
    /// The last progress snapshot the worker wrote (JSON chosen by the worker).
    pub progress: Option<serde_json::Value>,
}

impl SyncRunRecord {
    pub fn is_active(&self) -> bool {
        self.status == "queued" || self.status == "running"
    }
}

/// The outcome of asking for a sync.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Enqueued {
    New(SyncRunRecord),
    /// The source already has a queued sync: it is returned instead of a second one.
    AlreadyActive(SyncRunRecord),
}

fn as_i64(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn from_row(row: &sqlx::any::AnyRow) -> Result<SyncRunRecord> {
    let failures: String = row.try_get("failures")?;
    let progress: Option<String> = row.try_get("progress")?;
    Ok(SyncRunRecord {
        id: row.try_get("id")?,
        tenant_id: row.try_get("tenant_id")?,
        source_id: row.try_get("source_id")?,
        status: row.try_get("status")?,
        trigger: row.try_get("trigger")?,
        queued_at: row.try_get("queued_at")?,
        started_at: row.try_get("started_at")?,
        finished_at: row.try_get("finished_at")?,
        seen: row.try_get("seen")?,
        added: row.try_get("added")?,
        changed: row.try_get("changed")?,
        unchanged: row.try_get("unchanged")?,
        removed: row.try_get("removed")?,
        acl_changed: row.try_get("acl_changed")?,
        failed: row.try_get("failed")?,
        bytes: row.try_get("bytes")?,
        chunks_written: row.try_get("chunks_written")?,
        failures: serde_json::from_str(&failures).unwrap_or_default(),
        message: row.try_get("message")?,
        progress: progress.and_then(|p| serde_json::from_str(&p).ok()),
    })
}

fn is_unique_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.is_unique_violation())
}

impl Catalog {
    /// Starts a run that syncs at once (the CLI path): `running` from the start.
    pub async fn start_sync_run(&self, tenant_id: &str, source_id: &str) -> Result<String> {
        let id = Uuid::new_v4().to_string();
        let at = now();
        let inserted = sqlx::query("INSERT INTO sync_runs (id, tenant_id, source_id, status, trigger, queued_at, started_at, heartbeat_at) VALUES ($1, $2, $3, 'running', 'manual', $4, $4, $4)")
            .bind(&id)
            .bind(tenant_id)
            .bind(source_id)
            .bind(at)
            .execute(self.pool())
            .await;
        match inserted {
            Ok(_) => Ok(id),
            Err(err) if is_unique_violation(&err) => Err(CatalogError::AlreadyExists(
                "a sync of this source is already queued or running".into(),
            )),
            Err(err) => Err(err.into()),
        }
    }

    /// Queues a sync of the source unless one is already queued (then returns that one). A running
    /// sync does not prevent queueing one follow-up.
    pub async fn enqueue_sync(
        &self,
        tenant_id: &str,
        source_id: &str,
        trigger: &str,
    ) -> Result<Enqueued> {
        let id = Uuid::new_v4().to_string();
        let at = now();
        let inserted = sqlx::query("INSERT INTO sync_runs (id, tenant_id, source_id, status, trigger, queued_at, started_at) VALUES ($1, $2, $3, 'queued', $4, $5, $5)")
            .bind(&id)
            .bind(tenant_id)
            .bind(source_id)
            .bind(trigger)
            .bind(at)
            .execute(self.pool())
            .await;
        match inserted {
            Ok(_) => Ok(Enqueued::New(self.require_sync_run(&id).await?)),
            Err(err) if is_unique_violation(&err) => match self.queued_sync_run(source_id).await? {
                Some(queued) => Ok(Enqueued::AlreadyActive(queued)),
                // It was claimed between the insert and the look-up: queue again.
                None => Box::pin(self.enqueue_sync(tenant_id, source_id, trigger)).await,
            },
            Err(err) => Err(err.into()),
        }
    }

    /// Claims the oldest queued run whose source has no running sync (`running` from now), if
    /// any. Safe when several workers race: the conditional update and the unique index let
    /// exactly one win each run and each source.
    pub async fn claim_queued_sync(&self) -> Result<Option<SyncRunRecord>> {
        loop {
            let candidate: Option<String> = sqlx::query_scalar(
                "SELECT q.id FROM sync_runs q WHERE q.status = 'queued' AND NOT EXISTS \
                 (SELECT 1 FROM sync_runs r WHERE r.source_id = q.source_id AND r.status = 'running') \
                 ORDER BY q.queued_at, q.id LIMIT 1",
            )
            .fetch_optional(self.pool())
            .await?;
            let Some(id) = candidate else {
                return Ok(None);
            };
            let claimed = sqlx::query(
                "UPDATE sync_runs SET status = 'running', started_at = $1, heartbeat_at = $1 WHERE id = $2 AND status = 'queued'",
            )
            .bind(now())
            .bind(&id)
            .execute(self.pool())
            .await;
            match claimed {
                Ok(done) if done.rows_affected() == 1 => return self.sync_run(&id).await,
                Ok(_) => {}
                // Another worker started this source's other run first: look again.
                Err(err) if is_unique_violation(&err) => {}
                Err(err) => return Err(err.into()),
            }
        }
    }

    /// Stores the worker's latest progress snapshot of a running sync.
    pub async fn record_sync_progress(&self, id: &str, progress: &serde_json::Value) -> Result<()> {
        sqlx::query("UPDATE sync_runs SET progress = $1 WHERE id = $2 AND status = 'running'")
            .bind(progress.to_string())
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Stores the progress a finished sync ended with.
    pub async fn record_final_progress(
        &self,
        id: &str,
        progress: &serde_json::Value,
    ) -> Result<()> {
        sqlx::query("UPDATE sync_runs SET progress = $1 WHERE id = $2")
            .bind(progress.to_string())
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    pub async fn finish_sync_run(
        &self,
        id: &str,
        report: &SyncReport,
        message: Option<&str>,
    ) -> Result<()> {
        let status = if message.is_some() {
            "failed"
        } else {
            "succeeded"
        };
        let failures = serde_json::to_string(&report.failures).unwrap_or_else(|_| "[]".into());
        sqlx::query(
            "UPDATE sync_runs SET status = $1, finished_at = $2, seen = $3, added = $4, changed = $5, \
             unchanged = $6, removed = $7, failed = $8, bytes = $9, chunks_written = $10, failures = $11, message = $12, \
             acl_changed = $13 WHERE id = $14",
        )
        .bind(status)
        .bind(now())
        .bind(as_i64(report.seen))
        .bind(as_i64(report.added))
        .bind(as_i64(report.changed))
        .bind(as_i64(report.unchanged))
        .bind(as_i64(report.removed))
        .bind(as_i64(report.failures.len()))
        .bind(i64::try_from(report.bytes).unwrap_or(i64::MAX))
        .bind(as_i64(report.chunks_written))
        .bind(failures)
        .bind(message)
        .bind(as_i64(report.acl_changed))
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Fails a run that could not start (its source vanished or its settings are invalid).
    pub async fn fail_sync_run(&self, id: &str, message: &str) -> Result<()> {
        sqlx::query(
            "UPDATE sync_runs SET status = 'failed', finished_at = $1, message = $2 WHERE id = $3 AND status IN ('queued', 'running')",
        )
        .bind(now())
        .bind(message)
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Cancels the source's queued (not yet running) sync, if any; returns whether one was.
    pub async fn cancel_queued_sync(&self, source_id: &str, reason: &str) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE sync_runs SET status = 'failed', finished_at = $1, message = $2 WHERE source_id = $3 AND status = 'queued'",
        )
        .bind(now())
        .bind(reason)
        .bind(source_id)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Runs left `running` by a process that died are marked failed, so they can be re-run.
    /// Queued runs stay queued: the next worker picks them up. Only for a process that owns the
    /// catalog alone (the embedded index); replicas use [`Catalog::fail_stale_sync_runs`].
    pub async fn fail_interrupted_sync_runs(&self) -> Result<u64> {
        Ok(self.fail_stale_sync_runs(None).await?.len() as u64)
    }

    /// Renews a running sync's lease (its worker is alive).
    pub async fn heartbeat_sync_run(&self, id: &str) -> Result<()> {
        sqlx::query("UPDATE sync_runs SET heartbeat_at = $1 WHERE id = $2 AND status = 'running'")
            .bind(now())
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Fails the running syncs whose heartbeat is older than `heartbeat_before` (RFC 3339; None:
    /// every running sync) — their process died — and returns them, so the caller can queue each
    /// source again. Each run is taken by exactly one caller, however many race.
    pub async fn fail_stale_sync_runs(
        &self,
        heartbeat_before: Option<&str>,
    ) -> Result<Vec<SyncRunRecord>> {
        let cutoff = heartbeat_before.unwrap_or("9999");
        let stale: Vec<String> = sqlx::query_scalar(
            "SELECT id FROM sync_runs WHERE status = 'running' AND (heartbeat_at IS NULL OR heartbeat_at < $1)",
        )
        .bind(cutoff)
        .fetch_all(self.pool())
        .await?;
        let mut failed = Vec::new();
        for id in stale {
            let done = sqlx::query(
                "UPDATE sync_runs SET status = 'failed', finished_at = $1, message = 'interrupted: the process running it stopped during the sync; queued again' \
                 WHERE id = $2 AND status = 'running' AND (heartbeat_at IS NULL OR heartbeat_at < $3)",
            )
            .bind(now())
            .bind(&id)
            .bind(cutoff)
            .execute(self.pool())
            .await?;
            if done.rows_affected() == 1
                && let Some(run) = self.sync_run(&id).await?
            {
                failed.push(run);
            }
        }
        Ok(failed)
    }

    pub async fn sync_run(&self, id: &str) -> Result<Option<SyncRunRecord>> {
        let row = sqlx::query("SELECT * FROM sync_runs WHERE id = $1")
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(from_row).transpose()
    }

    async fn require_sync_run(&self, id: &str) -> Result<SyncRunRecord> {
        self.sync_run(id)
            .await?
            .ok_or_else(|| CatalogError::NotFound(format!("sync {id}")))
    }

    /// The source's running sync, or else its queued one, if any.
    pub async fn active_sync_run(&self, source_id: &str) -> Result<Option<SyncRunRecord>> {
        let row = sqlx::query(
            "SELECT * FROM sync_runs WHERE source_id = $1 AND status IN ('queued', 'running') ORDER BY status DESC LIMIT 1",
        )
        .bind(source_id)
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(from_row).transpose()
    }

    async fn queued_sync_run(&self, source_id: &str) -> Result<Option<SyncRunRecord>> {
        let row = sqlx::query("SELECT * FROM sync_runs WHERE source_id = $1 AND status = 'queued'")
            .bind(source_id)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// A source's runs, oldest first.
    pub async fn sync_runs(&self, source_id: &str) -> Result<Vec<SyncRunRecord>> {
        let rows =
            sqlx::query("SELECT * FROM sync_runs WHERE source_id = $1 ORDER BY started_at, id")
                .bind(source_id)
                .fetch_all(self.pool())
                .await?;
        rows.iter().map(from_row).collect()
    }

    /// A source's most recent runs, newest first.
    pub async fn recent_sync_runs(
        &self,
        source_id: &str,
        limit: i64,
    ) -> Result<Vec<SyncRunRecord>> {
        let rows = sqlx::query(
            "SELECT * FROM sync_runs WHERE source_id = $1 ORDER BY COALESCE(queued_at, started_at) DESC, id DESC LIMIT $2",
        )
        .bind(source_id)
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(from_row).collect()
    }
}
