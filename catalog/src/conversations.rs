//! Stored conversations: turns per tenant and user, so a thread can continue across requests.

use sqlx::Row;

use super::{Catalog, now};
use crate::error::Result;

/// One stored turn: `role` is "user" or "assistant".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredTurn {
    pub role: String,
    pub content: String,
}

impl Catalog {
    /// The last `limit` turns, oldest first — or None when the conversation does not exist or
    /// belongs to another tenant or user (callers cannot tell which).
    pub async fn conversation_turns(
        &self,
        tenant_id: &str,
        user_id: &str,
        id: &str,
        limit: i64,
    ) -> Result<Option<Vec<StoredTurn>>> {
        let owner = sqlx::query(
            "SELECT id FROM conversations WHERE id = $1 AND tenant_id = $2 AND user_id = $3",
        )
        .bind(id)
        .bind(tenant_id)
        .bind(user_id)
        .fetch_optional(self.pool())
        .await?;
        if owner.is_none() {
            return Ok(None);
        }
        let rows = sqlx::query(
            "SELECT role, content FROM conversation_turns WHERE conversation_id = $1 ORDER BY seq DESC LIMIT $2",
        )
        .bind(id)
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        let mut turns = rows
            .iter()
            .map(|row| {
                Ok(StoredTurn {
                    role: row.try_get("role")?,
                    content: row.try_get("content")?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        turns.reverse();
        Ok(Some(turns))
    }

    /// Appends turns, creating the conversation on its first exchange (one transaction).
    pub async fn append_turns(
        &self,
        tenant_id: &str,
        user_id: &str,
        id: &str,
        turns: &[StoredTurn],
    ) -> Result<()> {
        let mut tx = self.pool().begin().await?;
        let at = now();
        sqlx::query(
            "INSERT INTO conversations (id, tenant_id, user_id, created_at, updated_at) VALUES ($1, $2, $3, $4, $4) \
             ON CONFLICT (id) DO UPDATE SET updated_at = excluded.updated_at",
        )
        .bind(id)
        .bind(tenant_id)
        .bind(user_id)
        .bind(&at)
        .execute(&mut *tx)
        .await?;
        let row = sqlx::query("SELECT COALESCE(MAX(seq), 0) AS last FROM conversation_turns WHERE conversation_id = $1")
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
        let mut seq: i64 = row.try_get("last")?;
        for turn in turns {
            seq += 1;
            sqlx::query("INSERT INTO conversation_turns (conversation_id, seq, role, content, created_at) VALUES ($1, $2, $3, $4, $5)")
                .bind(id)
                .bind(seq)
                .bind(&turn.role)
                .bind(&turn.content)
                .bind(&at)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Deletes conversations not touched for `retention_days`; returns how many.
    pub async fn purge_conversations(&self, retention_days: u32) -> Result<u64> {
        let cutoff = (chrono::Utc::now() - chrono::Duration::days(i64::from(retention_days)))
            .to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
        let mut tx = self.pool().begin().await?;
        sqlx::query("DELETE FROM conversation_turns WHERE conversation_id IN (SELECT id FROM conversations WHERE updated_at <= $1)")
            .bind(&cutoff)
            .execute(&mut *tx)
            .await?;
        let done = sqlx::query("DELETE FROM conversations WHERE updated_at <= $1")
            .bind(&cutoff)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected())
    }
}
