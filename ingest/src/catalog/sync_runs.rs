//! Sync runs: one row per sync, started as `running` and closed with its counts and failures.

use serde::Serialize;
use sqlx::Row;
use uuid::Uuid;

use super::{Catalog, now};
use crate::error::Result;
use crate::sync::SyncReport;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SyncRunRecord {
    pub id: String,
    pub tenant_id: String,
    pub source_id: String,
    pub status: String,
    pub started_at: String,
    pub finished_at: Option<String>,
}

fn as_i64(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl Catalog {
    pub async fn start_sync_run(&self, tenant_id: &str, source_id: &str) -> Result<String> {
        let id = Uuid::new_v4().to_string();
        sqlx::query("INSERT INTO sync_runs (id, tenant_id, source_id, status, started_at) VALUES ($1, $2, $3, 'running', $4)")
            .bind(&id)
            .bind(tenant_id)
            .bind(source_id)
            .bind(now())
            .execute(self.pool())
            .await?;
        Ok(id)
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
             unchanged = $6, removed = $7, failed = $8, bytes = $9, chunks_written = $10, failures = $11, message = $12 \
             WHERE id = $13",
        )
        .bind(status)
        .bind(now())
        .bind(as_i64(report.seen))
        .bind(as_i64(report.added))
        .bind(as_i64(report.changed))
        .bind(as_i64(report.unchanged))
        .bind(as_i64(report.removed))
        .bind(as_i64(report.failures.len()))
        .bind(as_i64(report.bytes as usize))
        .bind(as_i64(report.chunks_written))
        .bind(failures)
        .bind(message)
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Runs left `running` by a process that died are marked failed, so they can be re-run.
    pub async fn fail_interrupted_sync_runs(&self) -> Result<u64> {
        let done = sqlx::query(
            "UPDATE sync_runs SET status = 'failed', finished_at = $1, message = 'interrupted: the process stopped during the sync; run it again' \
             WHERE status = 'running'",
        )
        .bind(now())
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected())
    }

    pub async fn sync_runs(&self, source_id: &str) -> Result<Vec<SyncRunRecord>> {
        let rows = sqlx::query(
            "SELECT id, tenant_id, source_id, status, started_at, finished_at FROM sync_runs WHERE source_id = $1 ORDER BY started_at",
        )
        .bind(source_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                Ok(SyncRunRecord {
                    id: row.try_get("id")?,
                    tenant_id: row.try_get("tenant_id")?,
                    source_id: row.try_get("source_id")?,
                    status: row.try_get("status")?,
                    started_at: row.try_get("started_at")?,
                    finished_at: row.try_get("finished_at")?,
                })
            })
            .collect()
    }
}
