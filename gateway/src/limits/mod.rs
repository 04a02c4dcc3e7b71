//! Per-tenant limits behind one seam: requests per minute (tenant and user, GCRA), LLM tokens per
//! minute and per day (reserved before the LLM call, settled with the real usage after it) and
//! concurrent answers. The in-process limiter serves a single replica; the Redis one is exact
//! across replicas. A refusal names the limit and says when to retry; every answer carries
//! `RateLimit-*` headers.

pub mod capacity;
mod local;
mod quotas;
mod redis;
mod streams;
mod tokens;

pub use crate::config::limits::{FailPolicy, LimitBackend, LimitsConfig, TenantLimitOverrides};
pub use capacity::{Capacity, CapacityPermit, Overloaded};
pub use local::LocalLimiter;
pub use quotas::Quotas;
pub use redis::RedisLimiter;
pub use streams::{StreamLimiter, StreamPermit};
pub use tokens::{TokenGrant, TokenReservation};

use std::time::Duration;

use axum::http::{HeaderName, HeaderValue};

use crate::identity::Principal;

/// Where limit state lives: in this process (one replica) or in Redis (shared by all replicas).
impl LimitsConfig {
    pub fn unlimited() -> Self {
        Self {
            requests_per_minute: 0,
            burst: 0,
            user_requests_per_minute: 0,
            user_burst: 0,
            tokens_per_minute: 0,
            tokens_per_day: 0,
            max_concurrent_streams: 0,
            ..Self::default()
        }
    }

    /// The limits that apply to one tenant by configuration: its overrides, else the defaults.
    pub fn quotas(&self, tenant_id: &str) -> Quotas {
        Quotas::resolve(self, self.tenants.get(tenant_id))
    }

    /// The limits with the tenant's own settings (admin API) on top of the configuration.
    pub fn quotas_with(&self, tenant_id: &str, settings: &TenantLimitOverrides) -> Quotas {
        self.quotas(tenant_id).overridden(settings)
    }

    /// The configured backend.
    pub async fn limiter(
        &self,
    ) -> Result<std::sync::Arc<dyn RateLimiter>, crate::error::GatewayError> {
        Ok(match self.backend {
            LimitBackend::Local => std::sync::Arc::new(LocalLimiter::default()),
            LimitBackend::Redis => std::sync::Arc::new(RedisLimiter::connect(self).await?),
        })
    }
}

/// Where a caller stands against one limit (requests, or tokens for the token quotas).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateStatus {
    pub limit: u64,
    pub remaining: u64,
    /// Until the allowance is whole again.
    pub reset: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// Which limit: `tenant_requests`, `user_requests`, `tokens_per_minute`, `tokens_per_day`,
    /// `concurrent_streams` or `limiter_unavailable`.
    pub limit_name: &'static str,
    pub status: RateStatus,
    pub retry_after: Duration,
    /// Tokens the refused request needed (token quotas only).
    pub needed: u64,
}

impl Refused {
    /// A refusal with no request-rate status (`RateLimit-*` say "nothing left").
    pub(crate) fn simple(limit_name: &'static str, limit: u64, retry_after: Duration) -> Self {
        Self {
            limit_name,
            status: RateStatus {
                limit,
                remaining: 0,
                reset: retry_after,
            },
            retry_after,
            needed: 0,
        }
    }

    pub fn message(&self) -> String {
        let whose = match self.limit_name {
            "user_requests" => "your",
            _ => "your organisation's",
        };
        let (limit, name, retry) = (
            self.status.limit,
            self.limit_name,
            ceil_secs(self.retry_after).max(1),
        );
        match name {
            "concurrent_streams" => format!(
                "too many answers in progress: {whose} limit is {limit} at once ({name}); retry in {retry} s"
            ),
            "tokens_per_minute" if self.needed > limit => format!(
                "this request needs up to {} LLM tokens, more than {whose} whole quota of {limit} tokens per \
                 minute ({name}); ask a shorter question, lower `max_tokens`, or ask an administrator to raise the quota",
                self.needed
            ),
            "tokens_per_minute" => format!(
                "token quota exceeded: {whose} limit of {limit} LLM tokens per minute ({name}) cannot fit \
                 this request's {} tokens now; retry in {retry} s",
                self.needed
            ),
            "tokens_per_day" => format!(
                "daily token quota exhausted: {whose} limit of {limit} LLM tokens per day ({name}) cannot fit \
                 this request's {} tokens; it resets at 00:00 UTC, in {retry} s",
                self.needed
            ),
            "limiter_unavailable" => format!(
                "the rate limiter is unavailable and the gateway is configured to refuse ({name}); retry in {retry} s"
            ),
            _ => format!(
                "rate limit exceeded: {whose} limit of {limit} requests per minute ({name}); retry in {retry} s"
            ),
        }
    }
}

#[async_trait::async_trait]
pub trait RateLimiter: Send + Sync + std::fmt::Debug {
    /// Admits one request (consuming allowance) or refuses it, under the tenant's `quotas`.
    /// `Ok(None)`: no limit applies.
    async fn check_request(
        &self,
        principal: &Principal,
        quotas: &Quotas,
    ) -> Result<Option<RateStatus>, Refused>;

    /// Reserves `tokens` of the tenant's token quotas before an LLM call, or refuses without
    /// consuming anything. `Ok(None)`: no token quota applies.
    async fn reserve_tokens(
        &self,
        principal: &Principal,
        quotas: &Quotas,
        tokens: u64,
    ) -> Result<Option<TokenGrant>, Refused>;

    /// Settles a reservation with the tokens the call really used: gives back what was not used,
    /// charges what was used beyond it.
    async fn settle_tokens(&self, grant: &TokenGrant, used: u64);

    /// Takes one of the tenant's concurrent-answer slots, held until the permit is dropped.
    async fn acquire_stream(
        &self,
        tenant_id: &str,
        quotas: &Quotas,
    ) -> Result<StreamPermit, Refused>;

    /// Forgets in-process per-user state that is as good as new (users whose allowance has
    /// refilled), so a stream of one-off users cannot grow memory without end. Returns the number
    /// of users still tracked. A shared backend keeps nothing in process (its keys expire).
    fn prune(&self) -> usize {
        0
    }

    /// Checks the shared backend could not answer (each decided by the fail policy).
    fn backend_errors(&self) -> prometheus_client::metrics::counter::Counter {
        prometheus_client::metrics::counter::Counter::default()
    }
}

fn ceil_secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

/// `RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset` (IETF draft, seconds).
pub fn rate_headers(status: &RateStatus) -> Vec<(HeaderName, HeaderValue)> {
    vec![
        (
            HeaderName::from_static("ratelimit-limit"),
            HeaderValue::from(status.limit),
        ),
        (
            HeaderName::from_static("ratelimit-remaining"),
            HeaderValue::from(status.remaining),
        ),
        (
            HeaderName::from_static("ratelimit-reset"),
            HeaderValue::from(ceil_secs(status.reset)),
        ),
    ]
}

/// The rate headers plus `Retry-After` (at least 1 s).
pub fn refusal_headers(refused: &Refused) -> Vec<(HeaderName, HeaderValue)> {
    let mut headers = rate_headers(&refused.status);
    headers.push((
        axum::http::header::RETRY_AFTER,
        HeaderValue::from(ceil_secs(refused.retry_after).max(1)),
    ));
    headers
}
