//! Token quotas: before an LLM call the request reserves what it may use (the prompt as sent +
//! the completion limit); afterwards it settles with the real usage. The per-minute quota is a
//! weighted GCRA (a whole minute's worth may be spent at once, then it refills steadily); the
//! per-day quota is a counter per UTC day.

use std::sync::Arc;
use std::time::Duration;

use super::{RateLimiter, RateStatus, Refused};

pub(super) const MINUTE_US: f64 = 60_000_000.0;

/// Tokens held for one LLM call, to be settled with what it really used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenGrant {
    pub tenant_id: String,
    pub reserved: u64,
    /// The UTC day (`YYYY-MM-DD`) the daily quota was charged on.
    pub day: String,
    pub(super) per_minute: u64,
    pub(super) per_day: u64,
}

/// A reservation that is settled exactly once: explicitly with the real usage, or — when the
/// answer is abandoned (caller gone, error) — with the whole reservation, since the LLM may
/// have spent it.
#[derive(Debug)]
pub struct TokenReservation {
    limiter: Arc<dyn RateLimiter>,
    grant: Option<TokenGrant>,
}

impl TokenReservation {
    pub fn new(limiter: Arc<dyn RateLimiter>, grant: Option<TokenGrant>) -> Self {
        Self { limiter, grant }
    }

    pub fn reserved(&self) -> u64 {
        self.grant.as_ref().map_or(0, |g| g.reserved)
    }

    pub async fn settle(mut self, used: u64) {
        if let Some(grant) = self.grant.take() {
            self.limiter.settle_tokens(&grant, used).await;
        }
    }
}

impl Drop for TokenReservation {
    fn drop(&mut self) {
        let Some(grant) = self.grant.take() else {
            return;
        };
        let limiter = Arc::clone(&self.limiter);
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                let used = grant.reserved;
                limiter.settle_tokens(&grant, used).await;
            });
        }
    }
}

/// The UTC day now, as the daily quota keys it.
pub(super) fn today() -> String {
    chrono::Utc::now().format("%Y-%m-%d").to_string()
}

/// Until the daily quotas reset (next 00:00 UTC).
pub(super) fn until_midnight() -> Duration {
    let now = chrono::Utc::now();
    let midnight = (now.date_naive() + chrono::Days::new(1))
        .and_hms_opt(0, 0, 0)
        .map(|t| t.and_utc());
    midnight
        .and_then(|m| (m - now).to_std().ok())
        .unwrap_or(Duration::from_secs(1))
}

/// The per-minute decision: the new theoretical arrival time (µs) and tokens left, or a refusal.
pub(super) fn minute_reserve(
    tat: f64,
    now: f64,
    tokens: u64,
    per_minute: u64,
) -> Result<(f64, u64), Refused> {
    let per_token = MINUTE_US / per_minute as f64;
    let new_tat = tat.max(now) + tokens as f64 * per_token;
    let ahead = new_tat - now;
    if ahead > MINUTE_US {
        let wait = if tokens > per_minute {
            MINUTE_US
        } else {
            ahead - MINUTE_US
        };
        return Err(minute_refusal(tokens, per_minute, wait));
    }
    let remaining = ((MINUTE_US - ahead) / per_token).floor() as u64;
    Ok((new_tat, remaining))
}

pub(super) fn minute_refusal(tokens: u64, per_minute: u64, wait_us: f64) -> Refused {
    let retry_after = Duration::from_micros(wait_us.max(0.0) as u64);
    Refused {
        limit_name: "tokens_per_minute",
        status: RateStatus {
            limit: per_minute,
            remaining: 0,
            reset: retry_after,
        },
        retry_after,
        needed: tokens,
    }
}

pub(super) fn day_refusal(tokens: u64, per_day: u64, used: u64) -> Refused {
    let retry_after = until_midnight();
    Refused {
        limit_name: "tokens_per_day",
        status: RateStatus {
            limit: per_day,
            remaining: per_day.saturating_sub(used),
            reset: retry_after,
        },
        retry_after,
        needed: tokens,
    }
}

/// The theoretical arrival time after settling: unused tokens given back, extra tokens charged.
pub(super) fn minute_settle(tat: f64, reserved: u64, used: u64, per_minute: u64) -> f64 {
    let per_token = MINUTE_US / per_minute as f64;
    tat + (used as f64 - reserved as f64) * per_token
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_minute_of_tokens_at_once_then_a_steady_refill() {
        let (tat, remaining) = minute_reserve(0.0, 0.0, 600, 600).unwrap();
        assert_eq!(remaining, 0);
        let refused = minute_reserve(tat, 0.0, 10, 600).unwrap_err();
        assert_eq!(refused.limit_name, "tokens_per_minute");
        assert_eq!(
            refused.retry_after,
            Duration::from_secs(1),
            "10 tokens at 10/s"
        );
        // One second later, ten tokens have come back.
        let (_, remaining) = minute_reserve(tat, 1_000_000.0, 10, 600).unwrap();
        assert_eq!(remaining, 0);
    }

    #[test]
    fn settling_gives_back_and_charges() {
        let (tat, _) = minute_reserve(0.0, 0.0, 500, 600).unwrap();
        let tat = minute_settle(tat, 500, 100, 600);
        let (_, remaining) = minute_reserve(tat, 0.0, 100, 600).unwrap();
        assert_eq!(remaining, 400);
        let overdrawn = minute_settle(tat, 100, 700, 600);
        assert!(minute_reserve(overdrawn, 0.0, 1, 600).is_err());
    }

    #[test]
    fn a_request_larger_than_the_quota_says_so() {
        let refused = minute_reserve(0.0, 0.0, 2000, 1000).unwrap_err();
        assert!(
            refused
                .message()
                .contains("more than your organisation's whole quota")
        );
    }

    #[test]
    fn daily_refusal_waits_for_midnight() {
        let refused = day_refusal(10, 100, 95);
        assert_eq!(refused.status.remaining, 5);
        assert!(refused.retry_after <= Duration::from_secs(86_400));
        assert!(refused.message().contains("00:00 UTC"));
    }
}
