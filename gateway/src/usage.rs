//! Usage accounting per tenant, UTC day and user: requests, cache hits, LLM tokens and refusals by
//! limit. Counted in memory on the request path and added to the catalog in batches (every few
//! seconds and at shutdown), so accounting never adds a database write to a request. The same
//! events feed the Prometheus counters.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};

use ragway_catalog::Catalog;
use ragway_catalog::UsageRow;

use crate::error::GatewayError;
use crate::identity::Principal;
use crate::metrics::{Metrics, RefusalLabels};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UsageEvent {
    /// A request admitted by the request limits.
    Request,
    /// An answer served from the answer cache (no LLM tokens).
    CacheHit,
    /// LLM tokens used by one call, as settled.
    Tokens { prompt: u64, completion: u64 },
    /// Refused by the named limit.
    Refused(&'static str),
}

type Key = (String, String, String);

#[derive(Debug)]
pub struct UsageRecorder {
    pending: Mutex<HashMap<Key, BTreeMap<String, i64>>>,
    metrics: Arc<Metrics>,
}

impl UsageRecorder {
    pub fn new(metrics: Arc<Metrics>) -> Self {
        Self {
            pending: Mutex::new(HashMap::new()),
            metrics,
        }
    }

    pub fn record(&self, principal: &Principal, event: UsageEvent) {
        let tenant = Metrics::tenant(&principal.tenant_id);
        let counts: Vec<(String, u64)> = match event {
            UsageEvent::Request => {
                self.metrics.admitted.get_or_create(&tenant).inc();
                vec![("requests".into(), 1)]
            }
            UsageEvent::CacheHit => vec![("cache_hits".into(), 1)],
            UsageEvent::Tokens { prompt, completion } => {
                self.metrics
                    .tokens_settled
                    .get_or_create(&tenant)
                    .inc_by(prompt + completion);
                vec![
                    ("prompt_tokens".into(), prompt),
                    ("completion_tokens".into(), completion),
                ]
            }
            UsageEvent::Refused(limit) => {
                let labels = RefusalLabels {
                    tenant: principal.tenant_id.clone(),
                    limit: limit.to_owned(),
                };
                self.metrics.refused.get_or_create(&labels).inc();
                vec![(format!("refused:{limit}"), 1)]
            }
        };
        let key = (
            principal.tenant_id.clone(),
            chrono::Utc::now().format("%Y-%m-%d").to_string(),
            principal.user_id.clone(),
        );
        let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        let row = pending.entry(key).or_default();
        for (metric, n) in counts {
            *row.entry(metric).or_default() += i64::try_from(n).unwrap_or(i64::MAX);
        }
    }

    /// Adds everything counted so far to the catalog. On failure the counts are kept for the next
    /// flush, so a database hiccup loses nothing.
    pub async fn flush(&self, catalog: &Catalog) -> Result<(), GatewayError> {
        let batch =
            std::mem::take(&mut *self.pending.lock().unwrap_or_else(PoisonError::into_inner));
        let rows: Vec<UsageRow> = batch
            .iter()
            .flat_map(|((tenant_id, day, user_id), counts)| {
                counts
                    .iter()
                    .filter(|(_, v)| **v != 0)
                    .map(|(metric, value)| UsageRow {
                        tenant_id: tenant_id.clone(),
                        day: day.clone(),
                        user_id: user_id.clone(),
                        metric: metric.clone(),
                        value: *value,
                    })
            })
            .collect();
        if let Err(err) = catalog.add_usage(&rows).await {
            let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
            for (key, counts) in batch {
                let row = pending.entry(key).or_default();
                for (metric, value) in counts {
                    *row.entry(metric).or_default() += value;
                }
            }
            return Err(err.into());
        }
        Ok(())
    }
}

/// Counters of a period, a day or a user.
#[derive(
    Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
pub struct UsageCounts {
    /// Requests admitted.
    pub requests: u64,
    /// Answers served from the answer cache.
    pub cache_hits: u64,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    /// Refusals by limit (`tenant_requests`, `user_requests`, `tokens_per_minute`, …).
    pub refused: BTreeMap<String, u64>,
}

impl UsageCounts {
    fn add(&mut self, metric: &str, value: i64) {
        let value = u64::try_from(value).unwrap_or(0);
        match metric {
            "requests" => self.requests += value,
            "cache_hits" => self.cache_hits += value,
            "prompt_tokens" => self.prompt_tokens += value,
            "completion_tokens" => self.completion_tokens += value,
            other => {
                if let Some(limit) = other.strip_prefix("refused:") {
                    *self.refused.entry(limit.to_owned()).or_default() += value;
                }
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct UserUsage {
    /// `key:<api key id>` for API keys, the user id for identified users.
    pub user_id: String,
    #[serde(flatten)]
    pub counts: UsageCounts,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct DayUsage {
    /// `YYYY-MM-DD`, UTC.
    pub day: String,
    #[serde(flatten)]
    pub counts: UsageCounts,
    pub users: Vec<UserUsage>,
}

/// A tenant's usage over a period: totals, then per day and user.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct UsageReport {
    pub tenant: String,
    pub from: String,
    pub to: String,
    pub totals: UsageCounts,
    pub days: Vec<DayUsage>,
}

impl UsageReport {
    /// Folds catalog rows (ordered by day, user, metric) into the report.
    pub fn from_rows(tenant: &str, from: &str, to: &str, rows: &[UsageRow]) -> Self {
        let mut totals = UsageCounts::default();
        let mut days: Vec<DayUsage> = Vec::new();
        for row in rows {
            totals.add(&row.metric, row.value);
            if days.last().is_none_or(|d| d.day != row.day) {
                days.push(DayUsage {
                    day: row.day.clone(),
                    counts: UsageCounts::default(),
                    users: Vec::new(),
                });
            }
            let Some(day) = days.last_mut() else { continue };
            day.counts.add(&row.metric, row.value);
            if day.users.last().is_none_or(|u| u.user_id != row.user_id) {
                day.users.push(UserUsage {
                    user_id: row.user_id.clone(),
                    counts: UsageCounts::default(),
                });
            }
            if let Some(user) = day.users.last_mut() {
                user.counts.add(&row.metric, row.value);
            }
        }
        Self {
            tenant: tenant.to_owned(),
            from: from.to_owned(),
            to: to.to_owned(),
            totals,
            days,
        }
    }
}

/// A period of whole UTC days, validated: `YYYY-MM-DD`, from ≤ to, at most `MAX_DAYS` long.
/// Defaults: to = today, from = 30 days before `to`.
pub fn period(from: Option<&str>, to: Option<&str>) -> Result<(String, String), String> {
    const MAX_DAYS: i64 = 366;
    let parse = |name: &str, value: &str| {
        chrono::NaiveDate::parse_from_str(value, "%Y-%m-%d")
            .map_err(|_| format!("`{name}` must be a date as YYYY-MM-DD, got `{value}`"))
    };
    let to = match to {
        Some(to) => parse("to", to)?,
        None => chrono::Utc::now().date_naive(),
    };
    let from = match from {
        Some(from) => parse("from", from)?,
        None => to - chrono::Days::new(30),
    };
    if from > to {
        return Err(format!("`from` ({from}) is after `to` ({to})"));
    }
    if (to - from).num_days() >= MAX_DAYS {
        return Err(format!("the period may span at most {MAX_DAYS} days"));
    }
    Ok((from.to_string(), to.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(day: &str, user: &str, metric: &str, value: i64) -> UsageRow {
        UsageRow {
            tenant_id: "acme".into(),
            day: day.into(),
            user_id: user.into(),
            metric: metric.into(),
            value,
        }
    }

    #[test]
    fn rows_fold_into_days_users_and_totals() {
        let rows = [
            row("2026-11-28", "u1", "requests", 3),
            row("2026-11-28", "u1", "refused:tokens_per_day", 1),
            row("2026-11-28", "u2", "prompt_tokens", 100),
            row("2026-11-29", "u1", "requests", 2),
        ];
        let report = UsageReport::from_rows("acme", "2026-11-28", "2026-11-29", &rows);
        assert_eq!(report.totals.requests, 5);
        assert_eq!(report.totals.refused["tokens_per_day"], 1);
        assert_eq!(report.days.len(), 2);
        assert_eq!(report.days[0].users.len(), 2);
        assert_eq!(report.days[0].counts.prompt_tokens, 100);
        assert_eq!(report.days[1].counts.requests, 2);
    }

    #[test]
    fn periods_are_checked() {
        assert_eq!(
            period(Some("2026-11-01"), Some("2026-11-29")).unwrap(),
            ("2026-11-01".into(), "2026-11-29".into())
        );
        assert!(
            period(Some("2026-11-30"), Some("2026-11-29"))
                .unwrap_err()
                .contains("after")
        );
        assert!(
            period(Some("29/11/2026"), None)
                .unwrap_err()
                .contains("YYYY-MM-DD")
        );
        assert!(
            period(Some("2024-01-01"), Some("2026-01-01"))
                .unwrap_err()
                .contains("366")
        );
        let (from, to) = period(None, None).unwrap();
        assert!(from < to);
    }
}
