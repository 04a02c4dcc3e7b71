//! Slack and Teams deliveries already handled (table `bot_events`): both platforms retry an event
//! they think was lost, and the retry may reach another replica.

use super::{Catalog, now};
use crate::error::Result;

impl Catalog {
    /// True the first time `event_id` of `channel` is seen, by any process sharing the catalog.
    pub async fn first_bot_event(&self, channel: &str, event_id: &str) -> Result<bool> {
        let inserted = sqlx::query(
            "INSERT INTO bot_events (channel, event_id, seen_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        )
        .bind(channel)
        .bind(event_id)
        .bind(now())
        .execute(self.pool())
        .await?;
        Ok(inserted.rows_affected() == 1)
    }

    /// Forgets events seen before `before` (RFC 3339): retries stop long before that.
    pub async fn prune_bot_events(&self, before: &str) -> Result<u64> {
        let done = sqlx::query("DELETE FROM bot_events WHERE seen_at < $1")
            .bind(before)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected())
    }
}
