//! `[limits]`: request rates, token quotas and concurrent answers, per tenant and user.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

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
    /// Longest a Redis round trip may take before the fail policy decides (milliseconds).
    pub redis_timeout_ms: u64,
    /// Requests per minute per tenant (0: unlimited).
    pub requests_per_minute: u32,
    /// Requests a tenant may make at once above the steady rate.
    pub burst: u32,
    /// Requests per minute per user inside a tenant (0: unlimited).
    pub user_requests_per_minute: u32,
    pub user_burst: u32,
    /// LLM tokens (prompt + completion) per minute per tenant (0: unlimited). A whole minute's
    /// worth may be used at once.
    pub tokens_per_minute: u64,
    /// LLM tokens per tenant per UTC day (0: unlimited).
    pub tokens_per_day: u64,
    /// Answers a tenant may have in progress at once, across replicas with Redis (0: unlimited).
    pub max_concurrent_streams: u32,
    /// Per-tenant exceptions to the defaults above, by tenant id.
    pub tenants: BTreeMap<String, TenantLimitOverrides>,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            backend: LimitBackend::Local,
            redis_url: "redis://127.0.0.1:6379".into(),
            redis_key_prefix: "ragway:rl".into(),
            on_backend_error: FailPolicy::Open,
            redis_timeout_ms: 250,
            requests_per_minute: 1200,
            burst: 100,
            user_requests_per_minute: 300,
            user_burst: 30,
            tokens_per_minute: 200_000,
            tokens_per_day: 0,
            max_concurrent_streams: 50,
            tenants: BTreeMap::new(),
        }
    }
}

/// A tenant's exceptions to the defaults; a missing field keeps the default (0: unlimited).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TenantLimitOverrides {
    pub requests_per_minute: Option<u32>,
    pub burst: Option<u32>,
    pub user_requests_per_minute: Option<u32>,
    pub user_burst: Option<u32>,
    pub tokens_per_minute: Option<u64>,
    pub tokens_per_day: Option<u64>,
    pub max_concurrent_streams: Option<u32>,
}
