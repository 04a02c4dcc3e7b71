//! What the chat bots (and the widget's secrets) share: the clock used for time windows (Slack's
//! 5-minute signature window, JWT expiry), secrets read from the environment, and the count of
//! what became of each bot event.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

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
