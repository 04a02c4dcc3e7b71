//! Per-tenant request limits behind one seam. The in-process limiter (GCRA via governor) serves a
//! single replica; a shared (Redis) backend for several replicas plugs in behind the same trait.
//! A refusal names the limit and says when to retry; every answer carries `RateLimit-*` headers.

mod local;
mod redis;
mod streams;

pub use local::LocalLimiter;
pub use redis::RedisLimiter;
pub use streams::{StreamLimiter, StreamPermit};

use std::time::Duration;

use axum::http::{HeaderName, HeaderValue};
use serde::Deserialize;

use crate::http::Principal;

/// Where limit state lives: in this process (one replica) or in Redis (shared by all replicas).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LimitBackend {
    #[default]
    Local,
    Redis,
}

/// What to do with a request when the shared backend cannot be reached.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FailPolicy {
    #[default]
    Open,
    Closed,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    pub backend: LimitBackend,
    pub redis_url: String,
    /// Prefix of every Redis key (several deployments can share one Redis).
    pub redis_key_prefix: String,
    pub on_backend_error: FailPolicy,
    /// Requests per minute per tenant (0: unlimited).
    pub requests_per_minute: u32,
    /// Requests a tenant may make at once above the steady rate.
    pub burst: u32,
    /// Requests per minute per user inside a tenant (0: unlimited).
    pub user_requests_per_minute: u32,
    pub user_burst: u32,
    /// Answers a tenant may have in progress at once, per replica (0: unlimited).
    pub max_concurrent_streams: u32,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            backend: LimitBackend::Local,
            redis_url: "redis://127.0.0.1:6379".into(),
            redis_key_prefix: "ragway:rl".into(),
            on_backend_error: FailPolicy::Open,
            requests_per_minute: 1200,
            burst: 100,
            user_requests_per_minute: 300,
            user_burst: 30,
            max_concurrent_streams: 50,
        }
    }
}

impl LimitsConfig {
    pub fn unlimited() -> Self {
        Self {
            requests_per_minute: 0,
            burst: 0,
            user_requests_per_minute: 0,
            user_burst: 0,
            max_concurrent_streams: 0,
            ..Self::default()
        }
    }

    /// The configured backend.
    pub async fn limiter(
        &self,
    ) -> Result<std::sync::Arc<dyn RateLimiter>, crate::error::GatewayError> {
        Ok(match self.backend {
            LimitBackend::Local => std::sync::Arc::new(LocalLimiter::new(self)),
            LimitBackend::Redis => std::sync::Arc::new(RedisLimiter::connect(self).await?),
        })
    }
}

/// Where a caller stands against the tenant's request limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateStatus {
    /// Requests per minute.
    pub limit: u32,
    pub remaining: u32,
    /// Until the allowance is whole again.
    pub reset: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// Which limit: `tenant_requests` or `user_requests`.
    pub limit_name: &'static str,
    pub status: RateStatus,
    pub retry_after: Duration,
}

impl Refused {
    pub fn message(&self) -> String {
        let whose = match self.limit_name {
            "user_requests" => "your",
            _ => "your organisation's",
        };
        if self.limit_name == "concurrent_streams" {
            return format!(
                "too many answers in progress: {whose} limit is {} at once (concurrent_streams); retry in 1 s",
                self.status.limit
            );
        }
        format!(
            "rate limit exceeded: {whose} limit of {} requests per minute ({}); retry in {} s",
            self.status.limit,
            self.limit_name,
            ceil_secs(self.retry_after)
        )
    }
}

#[async_trait::async_trait]
pub trait RateLimiter: Send + Sync + std::fmt::Debug {
    /// Admits one request (consuming allowance) or refuses it. `Ok(None)`: no limit applies.
    async fn check_request(&self, principal: &Principal) -> Result<Option<RateStatus>, Refused>;
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
