//! Limits shared by every replica: GCRA state in Redis, updated by one atomic Lua script per
//! request (one round trip). If Redis is unreachable, the configured policy admits (fail-open)
//! or refuses (fail-closed); either way it is logged and counted.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use redis::Script;
use redis::aio::ConnectionManager;

use super::{FailPolicy, LimitsConfig, RateLimiter, RateStatus, Refused};
use crate::error::GatewayError;
use crate::http::Principal;

#[derive(Debug, Clone, Copy)]
struct Quota {
    per_minute: u32,
    burst: u32,
}

impl Quota {
    fn new(per_minute: u32, burst: u32) -> Option<Self> {
        (per_minute > 0).then_some(Self {
            per_minute,
            burst: burst.max(1),
        })
    }

    fn interval_us(self) -> u64 {
        60_000_000 / u64::from(self.per_minute)
    }

    fn status(self, remaining: u32) -> RateStatus {
        RateStatus {
            limit: self.per_minute,
            remaining,
            reset: Duration::from_micros(
                self.interval_us() * u64::from(self.burst.saturating_sub(remaining)),
            ),
        }
    }
}

pub struct RedisLimiter {
    conn: ConnectionManager,
    script: Script,
    prefix: String,
    tenant: Option<Quota>,
    user: Option<Quota>,
    policy: FailPolicy,
    /// Redis failures seen (each decided by the policy).
    pub backend_errors: AtomicU64,
}

impl std::fmt::Debug for RedisLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisLimiter")
            .field("prefix", &self.prefix)
            .finish()
    }
}

impl RedisLimiter {
    pub async fn connect(config: &LimitsConfig) -> Result<Self, GatewayError> {
        let unreachable = |e: redis::RedisError| {
            GatewayError::Config(format!(
                "limits: cannot reach Redis at {}: {e}",
                config.redis_url
            ))
        };
        let client = redis::Client::open(config.redis_url.as_str()).map_err(unreachable)?;
        let conn = ConnectionManager::new(client).await.map_err(unreachable)?;
        Ok(Self {
            conn,
            script: Script::new(include_str!("gcra.lua")),
            prefix: config.redis_key_prefix.clone(),
            tenant: Quota::new(config.requests_per_minute, config.burst),
            user: Quota::new(config.user_requests_per_minute, config.user_burst),
            policy: config.on_backend_error,
            backend_errors: AtomicU64::new(0),
        })
    }
}

#[async_trait::async_trait]
impl RateLimiter for RedisLimiter {
    async fn check_request(&self, principal: &Principal) -> Result<Option<RateStatus>, Refused> {
        if self.tenant.is_none() && self.user.is_none() {
            return Ok(None);
        }
        let key = |kind: &str, quota: Option<Quota>, id: &str| {
            quota.map_or_else(String::new, |_| {
                format!("{}:{kind}:{}:{id}", self.prefix, principal.tenant_id)
            })
        };
        let user_key = key("user", self.user, &principal.user_id);
        let tenant_key = key("tenant", self.tenant, "");
        let args = |q: Option<Quota>| q.map_or((1, 1), |q| (q.interval_us(), u64::from(q.burst)));
        let (user_interval, user_burst) = args(self.user);
        let (tenant_interval, tenant_burst) = args(self.tenant);
        let mut conn = self.conn.clone();
        let outcome: redis::RedisResult<(i64, i64, i64, i64)> = self
            .script
            .key(user_key)
            .key(tenant_key)
            .arg(user_interval)
            .arg(user_burst)
            .arg(tenant_interval)
            .arg(tenant_burst)
            .invoke_async(&mut conn)
            .await;
        match outcome {
            Ok((1, _, _, remaining)) => Ok(self
                .tenant
                .map(|q| q.status(u32::try_from(remaining.max(0)).unwrap_or(0)))),
            Ok((_, refused_by, retry_us, _)) => {
                let (limit_name, quota) = match refused_by {
                    1 => ("user_requests", self.user),
                    _ => ("tenant_requests", self.tenant),
                };
                let quota = quota.unwrap_or(Quota {
                    per_minute: 1,
                    burst: 1,
                });
                Err(Refused {
                    limit_name,
                    status: quota.status(0),
                    retry_after: Duration::from_micros(u64::try_from(retry_us.max(0)).unwrap_or(0)),
                })
            }
            Err(err) => {
                self.backend_errors.fetch_add(1, Ordering::Relaxed);
                match self.policy {
                    FailPolicy::Open => {
                        tracing::warn!(%err, "rate limiter backend unreachable; admitting (fail-open)");
                        Ok(None)
                    }
                    FailPolicy::Closed => {
                        tracing::error!(%err, "rate limiter backend unreachable; refusing (fail-closed)");
                        Err(Refused {
                            limit_name: "limiter_unavailable",
                            status: RateStatus {
                                limit: 0,
                                remaining: 0,
                                reset: Duration::from_secs(1),
                            },
                            retry_after: Duration::from_secs(1),
                        })
                    }
                }
            }
        }
    }
}
