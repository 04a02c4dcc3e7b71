//! What the chat bots (and the widget's secrets) share: the clock used for time windows (Slack's
//! 5-minute signature window, JWT expiry), secrets read from the environment, and the count of
//! what became of each bot event.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use crate::context::Core;
use crate::error::GatewayError;
use crate::metrics::{BotLabels, Metrics};

/// Wall-clock Unix seconds for signature windows and token expiry. Tests hold a manual clock
/// and move it; the system clock is everything else.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    manual: Option<Arc<AtomicI64>>,
}

impl Clock {
    pub fn system() -> Self {
        Self::default()
    }

    /// A clock that reads `unix_secs` until it is set to another time.
    pub fn manual(unix_secs: i64) -> Self {
        Self {
            manual: Some(Arc::new(AtomicI64::new(unix_secs))),
        }
    }

    /// Moves a manual clock (the system clock ignores it).
    pub fn set(&self, unix_secs: i64) {
        if let Some(manual) = &self.manual {
            manual.store(unix_secs, Ordering::SeqCst);
        }
    }

    pub fn now(&self) -> i64 {
        match &self.manual {
            Some(manual) => manual.load(Ordering::SeqCst),
            None => chrono::Utc::now().timestamp(),
        }
    }
}

/// Where a secret setting (`*_env`) is read from: the process environment in production.
pub type SecretSource<'a> = &'a dyn Fn(&str) -> Option<String>;

/// Reads the secret a `*_env` setting names; a missing or empty variable is a configuration error.
pub fn secret(
    secrets: SecretSource<'_>,
    setting: &str,
    env_name: &str,
) -> Result<String, GatewayError> {
    match secrets(env_name) {
        Some(value) if !value.trim().is_empty() => Ok(value.trim().to_owned()),
        _ => Err(GatewayError::Config(format!(
            "{setting} names the environment variable `{env_name}`, which is not set"
        ))),
    }
}

/// Counts what became of one bot event (`ragway_bot_events`).
pub fn count(metrics: &Metrics, channel: &str, outcome: &str) {
    let labels = BotLabels {
        channel: channel.to_owned(),
        outcome: outcome.to_owned(),
    };
    metrics.bot_events.get_or_create(&labels).inc();
}

/// How long the catalog remembers a delivery (both platforms stop retrying within minutes).
const DELIVERIES_KEPT_HOURS: i64 = 24;

/// True the first time a delivery (`key`) reaches ragway: this process's cache answers repeats
/// it saw itself; with a shared index (several replicas behind one URL) the catalog answers for
/// every replica. If the catalog cannot answer, the event is taken (a rare double answer beats a
/// lost question).
pub async fn first_delivery(
    core: &Core,
    seen: &moka::future::Cache<String, ()>,
    channel: &str,
    key: &str,
) -> bool {
    if !seen.entry(key.to_owned()).or_insert(()).await.is_fresh() {
        return false;
    }
    if !core.config.index.is_shared() {
        return true;
    }
    let first = match core.catalog.first_bot_event(channel, key).await {
        Ok(first) => first,
        Err(err) => {
            tracing::warn!(%err, channel, "cannot check the delivery against other replicas");
            true
        }
    };
    // Pruned now and then by whichever replica gets the delivery, no timer needed.
    if first && key.bytes().fold(0u8, |a, b| a.wrapping_add(b)) == 0 {
        let before = chrono::Utc::now() - chrono::Duration::hours(DELIVERIES_KEPT_HOURS);
        let before = before.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
        if let Err(err) = core.catalog.prune_bot_events(&before).await {
            tracing::debug!(%err, "cannot prune old deliveries");
        }
    }
    first
}
