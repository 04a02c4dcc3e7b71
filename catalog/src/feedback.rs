//! Feedback on answers given in the chat channels: a thumbs up or down (and an optional comment)
//! per tenant, answer message and user. Clicking again replaces the earlier rating.

use sqlx::Row;

use super::{Catalog, now};
use crate::error::{CatalogError, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rating {
    Up,
    Down,
}

impl Rating {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Up => "up",
            Self::Down => "down",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "up" => Some(Self::Up),
            "down" => Some(Self::Down),
            _ => None,
        }
    }
}

/// One stored rating. `message_id` is the channel's id of the answer message (Slack
/// `channel:ts`, Teams activity id); `created_at` is RFC 3339 (set when stored).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Feedback {
    pub tenant_id: String,
    pub channel: String,
    pub message_id: String,
    pub user_id: String,
    pub rating: Rating,
    pub comment: Option<String>,
    pub created_at: String,
}

impl Catalog {
    /// Stores a rating, replacing the user's earlier one on the same answer.
    pub async fn record_feedback(&self, feedback: &Feedback) -> Result<()> {
        sqlx::query(
            "INSERT INTO feedback (tenant_id, channel, message_id, user_id, rating, comment, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (tenant_id, channel, message_id, user_id) DO UPDATE SET \
             rating = excluded.rating, comment = excluded.comment, created_at = excluded.created_at",
        )
        .bind(&feedback.tenant_id)
        .bind(&feedback.channel)
        .bind(&feedback.message_id)
        .bind(&feedback.user_id)
        .bind(feedback.rating.as_str())
        .bind(feedback.comment.as_deref())
        .bind(now())
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// A tenant's most recent ratings, newest first.
    pub async fn feedback(&self, tenant_id: &str, limit: i64) -> Result<Vec<Feedback>> {
        let rows = sqlx::query(
            "SELECT tenant_id, channel, message_id, user_id, rating, comment, created_at FROM feedback \
             WHERE tenant_id = $1 ORDER BY created_at DESC, message_id LIMIT $2",
        )
        .bind(tenant_id)
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                let rating: String = row.try_get("rating")?;
                Ok(Feedback {
                    tenant_id: row.try_get("tenant_id")?,
                    channel: row.try_get("channel")?,
                    message_id: row.try_get("message_id")?,
                    user_id: row.try_get("user_id")?,
                    rating: Rating::parse(&rating).ok_or_else(|| {
                        CatalogError::Invalid(format!(
                            "unknown feedback rating `{rating}` in the catalog"
                        ))
                    })?,
                    comment: row.try_get("comment")?,
                    created_at: row.try_get("created_at")?,
                })
            })
            .collect()
    }
}
