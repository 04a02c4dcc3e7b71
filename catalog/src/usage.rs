//! Usage counters per tenant, UTC day and user (requests, cache hits, tokens, refusals by limit).
//! Replicas add their counts in batches; an upsert adds to what is there, so nothing is lost
//! when several replicas write the same row.

use sqlx::Row;

use super::Catalog;
use crate::error::Result;

/// One counter: `metric` is `requests`, `cache_hits`, `prompt_tokens`, `completion_tokens` or
/// `refused:<limit>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageRow {
    pub tenant_id: String,
    /// `YYYY-MM-DD`, UTC.
    pub day: String,
    pub user_id: String,
    pub metric: String,
    pub value: i64,
}

impl Catalog {
    /// Adds the counts (one transaction).
    pub async fn add_usage(&self, rows: &[UsageRow]) -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let mut tx = self.pool().begin().await?;
        for row in rows {
            sqlx::query(
                "INSERT INTO usage_daily (tenant_id, day, user_id, metric, value) VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (tenant_id, day, user_id, metric) DO UPDATE SET value = usage_daily.value + excluded.value",
            )
            .bind(&row.tenant_id)
            .bind(&row.day)
            .bind(&row.user_id)
            .bind(&row.metric)
            .bind(row.value)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The counters of one tenant between two UTC days (inclusive), by day, user and metric.
    pub async fn usage(&self, tenant_id: &str, from: &str, to: &str) -> Result<Vec<UsageRow>> {
        let rows = sqlx::query(
            "SELECT tenant_id, day, user_id, metric, value FROM usage_daily \
             WHERE tenant_id = $1 AND day >= $2 AND day <= $3 ORDER BY day, user_id, metric",
        )
        .bind(tenant_id)
        .bind(from)
        .bind(to)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                Ok(UsageRow {
                    tenant_id: row.try_get("tenant_id")?,
                    day: row.try_get("day")?,
                    user_id: row.try_get("user_id")?,
                    metric: row.try_get("metric")?,
                    value: row.try_get("value")?,
                })
            })
            .collect()
    }
}
