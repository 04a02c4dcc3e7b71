//! Limits shared by every replica: GCRA and token-quota state in Redis, updated by one atomic Lua
//! script per check (one round trip). If Redis is unreachable, the configured policy admits
//! (fail-open) or refuses (fail-closed); either way it is logged and counted.

use std::time::Duration;

use redis::Script;
use redis::aio::ConnectionManager;

use super::tokens::{day_refusal, minute_refusal, today};
use super::{
    FailPolicy, LimitsConfig, Quotas, RateLimiter, RateStatus, Refused, StreamPermit, TokenGrant,
};
use crate::error::GatewayError;
use crate::identity::Principal;

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

    fn status(self, remaining: u64) -> RateStatus {
        RateStatus {
            limit: u64::from(self.per_minute),
            remaining,
            reset: Duration::from_micros(
                self.interval_us() * u64::from(self.burst).saturating_sub(remaining),
            ),
        }
    }
}

pub struct RedisLimiter {
    conn: ConnectionManager,
    requests: Script,
    tokens: Script,
    settle: Script,
    streams: Script,
    prefix: String,
    policy: FailPolicy,
    /// Bound on one round trip, reconnection included.
    timeout: Duration,
    /// Redis failures seen (each decided by the policy).
    backend_errors: prometheus_client::metrics::counter::Counter,
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
        let timeout = Duration::from_millis(config.redis_timeout_ms.max(1));
        // Short timeouts and few reconnect attempts: a limit check must never hang a request;
        // when Redis is slow or gone, the fail policy decides at once.
        let settings = redis::aio::ConnectionManagerConfig::new()
            .set_response_timeout(Some(timeout))
            .set_connection_timeout(Some(timeout))
            .set_number_of_retries(1)
            .set_max_delay(timeout);
        let conn = ConnectionManager::new_with_config(client, settings)
            .await
            .map_err(unreachable)?;
        Ok(Self {
            conn,
            requests: Script::new(include_str!("gcra.lua")),
            tokens: Script::new(include_str!("tokens.lua")),
            settle: Script::new(include_str!("settle.lua")),
            streams: Script::new(include_str!("streams.lua")),
            prefix: config.redis_key_prefix.clone(),
            policy: config.on_backend_error,
            timeout,
            backend_errors: prometheus_client::metrics::counter::Counter::default(),
        })
    }
}

impl RedisLimiter {
    /// Runs one script within the timeout (a stalled Redis counts as unreachable).
    async fn run<T: redis::FromRedisValue>(
        &self,
        invocation: redis::ScriptInvocation<'_>,
    ) -> redis::RedisResult<T> {
        let mut conn = self.conn.clone();
        match tokio::time::timeout(self.timeout * 3, invocation.invoke_async(&mut conn)).await {
            Ok(outcome) => outcome,
            Err(_) => Err(redis::RedisError::from((
                redis::ErrorKind::Io,
                "the limit check timed out",
            ))),
        }
    }

    /// Decides a request the backend could not judge, by the configured policy.
    fn unreachable<T>(&self, err: &redis::RedisError, admitted: T) -> Result<T, Refused> {
        self.backend_errors.inc();
        match self.policy {
            FailPolicy::Open => {
                tracing::warn!(%err, "rate limiter backend unreachable; admitting (fail-open)");
                Ok(admitted)
            }
            FailPolicy::Closed => {
                tracing::error!(%err, "rate limiter backend unreachable; refusing (fail-closed)");
                Err(Refused::simple(
                    "limiter_unavailable",
                    0,
                    Duration::from_secs(1),
                ))
            }
        }
    }

    fn token_keys(
        &self,
        grant_tenant: &str,
        per_minute: u64,
        per_day: u64,
        day: &str,
    ) -> (String, String) {
        let minute = if per_minute > 0 {
            format!("{}:tpm:{grant_tenant}", self.prefix)
        } else {
            String::new()
        };
        let daily = if per_day > 0 {
            format!("{}:tpd:{grant_tenant}:{day}", self.prefix)
        } else {
            String::new()
        };
        (minute, daily)
    }
}

#[async_trait::async_trait]
impl RateLimiter for RedisLimiter {
    async fn check_request(
        &self,
        principal: &Principal,
        quotas: &Quotas,
    ) -> Result<Option<RateStatus>, Refused> {
        let tenant = Quota::new(quotas.requests_per_minute, quotas.burst);
        let user = Quota::new(quotas.user_requests_per_minute, quotas.user_burst);
        if tenant.is_none() && user.is_none() {
            return Ok(None);
        }
        let key = |kind: &str, quota: Option<Quota>, id: &str| {
            quota.map_or_else(String::new, |_| {
                format!("{}:{kind}:{}:{id}", self.prefix, principal.tenant_id)
            })
        };
        let user_key = key("user", user, &principal.user_id);
        let tenant_key = key("tenant", tenant, "");
        let args = |q: Option<Quota>| q.map_or((1, 1), |q| (q.interval_us(), u64::from(q.burst)));
        let (user_interval, user_burst) = args(user);
        let (tenant_interval, tenant_burst) = args(tenant);
        let mut invocation = self.requests.key(user_key);
        invocation
            .key(tenant_key)
            .arg(user_interval)
            .arg(user_burst)
            .arg(tenant_interval)
            .arg(tenant_burst);
        let outcome: redis::RedisResult<(i64, i64, i64, i64)> = self.run(invocation).await;
        match outcome {
            Ok((1, _, _, remaining)) => {
                Ok(tenant.map(|q| q.status(u64::try_from(remaining.max(0)).unwrap_or(0))))
            }
            Ok((_, refused_by, retry_us, _)) => {
                let (limit_name, quota) = match refused_by {
                    1 => ("user_requests", user),
                    _ => ("tenant_requests", tenant),
                };
                let quota = quota.unwrap_or(Quota {
                    per_minute: 1,
                    burst: 1,
                });
                Err(Refused {
                    limit_name,
                    status: quota.status(0),
                    retry_after: Duration::from_micros(u64::try_from(retry_us.max(0)).unwrap_or(0)),
                    needed: 0,
                })
            }
            Err(err) => self.unreachable(&err, None),
        }
    }

    async fn reserve_tokens(
        &self,
        principal: &Principal,
        quotas: &Quotas,
        tokens: u64,
    ) -> Result<Option<TokenGrant>, Refused> {
        let (per_minute, per_day) = (quotas.tokens_per_minute, quotas.tokens_per_day);
        if per_minute == 0 && per_day == 0 {
            return Ok(None);
        }
        let day = today();
        let (minute_key, day_key) =
            self.token_keys(&principal.tenant_id, per_minute, per_day, &day);
        let mut invocation = self.tokens.key(minute_key);
        invocation
            .key(day_key)
            .arg(tokens)
            .arg(per_minute.max(1))
            .arg(per_day);
        let outcome: redis::RedisResult<(i64, i64, i64, i64)> = self.run(invocation).await;
        let used = |n: i64| u64::try_from(n.max(0)).unwrap_or(0);
        match outcome {
            Ok((1, _, _, _)) => Ok(Some(TokenGrant {
                tenant_id: principal.tenant_id.clone(),
                reserved: tokens,
                day,
                per_minute,
                per_day,
            })),
            Ok((_, 2, _, used_today)) => Err(day_refusal(tokens, per_day, used(used_today))),
            Ok((_, _, retry_us, _)) => Err(minute_refusal(tokens, per_minute, retry_us as f64)),
            // Admitted without a grant: there is nothing in Redis to settle.
            Err(err) => self.unreachable(&err, None),
        }
    }

    async fn settle_tokens(&self, grant: &TokenGrant, used: u64) {
        let delta = i128::from(used) - i128::from(grant.reserved);
        if delta == 0 {
            return;
        }
        let (minute_key, day_key) = self.token_keys(
            &grant.tenant_id,
            grant.per_minute,
            grant.per_day,
            &grant.day,
        );
        let mut invocation = self.settle.key(minute_key);
        invocation
            .key(day_key)
            .arg(i64::try_from(delta).unwrap_or(0))
            .arg(grant.per_minute.max(1));
        let outcome: redis::RedisResult<i64> = self.run(invocation).await;
        if let Err(err) = outcome {
            self.backend_errors.inc();
            tracing::warn!(%err, tenant = %grant.tenant_id, "could not settle a token reservation");
        }
    }

    async fn acquire_stream(
        &self,
        tenant_id: &str,
        quotas: &Quotas,
    ) -> Result<StreamPermit, Refused> {
        let slots = quotas.max_concurrent_streams;
        if slots == 0 {
            return Ok(StreamPermit::unlimited());
        }
        let key = format!("{}:streams:{tenant_id}", self.prefix);
        let id = uuid::Uuid::new_v4().to_string();
        let mut invocation = self.streams.key(&key);
        invocation.arg(&id).arg(slots).arg(LEASE_MS).arg("acquire");
        match self.run::<i64>(invocation).await {
            Ok(1) => Ok(StreamPermit::holding(Lease::start(self, key, id))),
            Ok(_) => Err(Refused::simple(
                "concurrent_streams",
                u64::from(slots),
                Duration::from_secs(1),
            )),
            Err(err) => self
                .unreachable(&err, ())
                .map(|()| StreamPermit::unlimited()),
        }
    }

    fn backend_errors(&self) -> prometheus_client::metrics::counter::Counter {
        self.backend_errors.clone()
    }
}

/// How long a concurrent-answer lease lasts without renewal: a replica that dies frees its
/// tenants' slots after at most this long. Held leases are renewed every third of it.
const LEASE_MS: u64 = 30_000;

/// One held slot: renewed in the background while held, removed when dropped.
struct Lease {
    renew: tokio::task::JoinHandle<()>,
    conn: ConnectionManager,
    key: String,
    id: String,
}

impl Lease {
    fn start(limiter: &RedisLimiter, key: String, id: String) -> Self {
        let (conn, script) = (limiter.conn.clone(), limiter.streams.clone());
        let (renew_key, renew_id, mut renew_conn) = (key.clone(), id.clone(), conn.clone());
        let renew = tokio::spawn(async move {
            let every = Duration::from_millis(LEASE_MS / 3);
            loop {
                tokio::time::sleep(every).await;
                let renewed: redis::RedisResult<i64> = script
                    .key(&renew_key)
                    .arg(&renew_id)
                    .arg(0)
                    .arg(LEASE_MS)
                    .arg("renew")
                    .invoke_async(&mut renew_conn)
                    .await;
                if let Err(err) = renewed {
                    tracing::warn!(%err, "could not renew a concurrent-answer lease");
                }
            }
        });
        Self {
            renew,
            conn,
            key,
            id,
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.renew.abort();
        let (mut conn, key, id) = (
            self.conn.clone(),
            std::mem::take(&mut self.key),
            std::mem::take(&mut self.id),
        );
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                let released: redis::RedisResult<i64> =
                    redis::cmd("ZREM").arg(&key).arg(&id).query_async(&mut conn).await;
                if let Err(err) = released {
                    tracing::warn!(%err, "could not release a concurrent-answer lease; it expires on its own");
                }
            });
        }
    }
}
