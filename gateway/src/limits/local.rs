//! In-process limits: request GCRA via governor, token quotas in a map; exact for one replica,
//! no round trip.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter as Governor};

use super::tokens::{day_refusal, minute_reserve, minute_settle, today};
use super::{Quotas, RateLimiter, RateStatus, Refused, StreamLimiter, StreamPermit, TokenGrant};
use crate::identity::Principal;

type Keyed<K> = Governor<K, DefaultKeyedStateStore<K>, DefaultClock, StateInformationMiddleware>;

#[derive(Debug)]
struct Limit<K: std::hash::Hash + Eq + Clone> {
    name: &'static str,
    per_minute: u32,
    burst: u32,
    limiter: Keyed<K>,
}

impl<K: std::hash::Hash + Eq + Clone> Limit<K> {
    fn new(name: &'static str, per_minute: u32, burst: u32) -> Option<Self> {
        let rate = NonZeroU32::new(per_minute)?;
        let burst_cells = NonZeroU32::new(burst.max(1)).unwrap_or(NonZeroU32::MIN);
        let quota = Quota::per_minute(rate).allow_burst(burst_cells);
        Some(Self {
            name,
            per_minute,
            burst: burst_cells.get(),
            limiter: Governor::keyed(quota).with_middleware::<StateInformationMiddleware>(),
        })
    }

    fn status(&self, remaining: u32) -> RateStatus {
        let per_request = Duration::from_secs(60) / self.per_minute;
        RateStatus {
            limit: u64::from(self.per_minute),
            remaining: u64::from(remaining),
            reset: per_request * self.burst.saturating_sub(remaining),
        }
    }

    fn check(&self, key: &K) -> Result<RateStatus, Refused> {
        match self.limiter.check_key(key) {
            Ok(snapshot) => Ok(self.status(snapshot.remaining_burst_capacity())),
            Err(not_until) => Err(Refused {
                limit_name: self.name,
                status: self.status(0),
                retry_after: not_until.wait_time_from(self.limiter.clock().now()),
                needed: 0,
            }),
        }
    }
}

/// One tenant's request limits (built with the tenant's own quotas; rebuilt when they change).
#[derive(Debug)]
struct TenantRequests {
    built_for: (u32, u32, u32, u32),
    tenant: Option<Limit<()>>,
    user: Option<Limit<String>>,
}

/// One tenant's token quota state.
#[derive(Debug, Default)]
struct TokenState {
    /// Theoretical arrival time of the per-minute GCRA, µs since the limiter started.
    tat_us: f64,
    day: String,
    used_today: u64,
}

#[derive(Debug)]
pub struct LocalLimiter {
    requests: Mutex<HashMap<String, Arc<TenantRequests>>>,
    tokens: Mutex<HashMap<String, TokenState>>,
    streams: StreamLimiter,
    started: Instant,
}

impl Default for LocalLimiter {
    fn default() -> Self {
        Self {
            requests: Mutex::new(HashMap::new()),
            tokens: Mutex::new(HashMap::new()),
            streams: StreamLimiter::default(),
            started: Instant::now(),
        }
    }
}

impl LocalLimiter {
    fn tenant_requests(&self, tenant_id: &str, q: &Quotas) -> Arc<TenantRequests> {
        let wanted = (
            q.requests_per_minute,
            q.burst,
            q.user_requests_per_minute,
            q.user_burst,
        );
        let mut tenants = self.requests.lock().unwrap_or_else(PoisonError::into_inner);
        match tenants.get(tenant_id) {
            Some(limits) if limits.built_for == wanted => Arc::clone(limits),
            // New tenant, or its quotas changed: start it afresh under the new ones.
            _ => {
                let limits = Arc::new(TenantRequests {
                    built_for: wanted,
                    tenant: Limit::new("tenant_requests", q.requests_per_minute, q.burst),
                    user: Limit::new("user_requests", q.user_requests_per_minute, q.user_burst),
                });
                tenants.insert(tenant_id.to_owned(), Arc::clone(&limits));
                limits
            }
        }
    }

    fn now_us(&self) -> f64 {
        self.started.elapsed().as_secs_f64() * 1e6
    }
}

impl LocalLimiter {
    /// The users tracked by the per-user request limits, across tenants.
    fn tracked_users(&self) -> usize {
        let tenants = self.requests.lock().unwrap_or_else(PoisonError::into_inner);
        tenants
            .values()
            .filter_map(|t| t.user.as_ref())
            .map(|user| user.limiter.len())
            .sum()
    }
}

#[async_trait::async_trait]
impl RateLimiter for LocalLimiter {
    fn prune(&self) -> usize {
        let tenants: Vec<Arc<TenantRequests>> = self
            .requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .cloned()
            .collect();
        for user in tenants.iter().filter_map(|t| t.user.as_ref()) {
            user.limiter.retain_recent();
            user.limiter.shrink_to_fit();
        }
        self.tracked_users()
    }

    async fn check_request(
        &self,
        principal: &Principal,
        quotas: &Quotas,
    ) -> Result<Option<RateStatus>, Refused> {
        let limits = self.tenant_requests(&principal.tenant_id, quotas);
        // The user's own limit first, so one noisy user does not spend the tenant's allowance.
        if let Some(user) = &limits.user {
            user.check(&principal.user_id)?;
        }
        match &limits.tenant {
            Some(tenant) => tenant.check(&()).map(Some),
            None => Ok(None),
        }
    }

    async fn reserve_tokens(
        &self,
        principal: &Principal,
        q: &Quotas,
        tokens: u64,
    ) -> Result<Option<TokenGrant>, Refused> {
        if q.tokens_per_minute == 0 && q.tokens_per_day == 0 {
            return Ok(None);
        }
        let (now, day) = (self.now_us(), today());
        let mut states = self.tokens.lock().unwrap_or_else(PoisonError::into_inner);
        let state = states.entry(principal.tenant_id.clone()).or_default();
        if state.day != day {
            state.day.clone_from(&day);
            state.used_today = 0;
        }
        if q.tokens_per_day > 0 && state.used_today + tokens > q.tokens_per_day {
            return Err(day_refusal(tokens, q.tokens_per_day, state.used_today));
        }
        if q.tokens_per_minute > 0 {
            let (tat, _) = minute_reserve(state.tat_us, now, tokens, q.tokens_per_minute)?;
            state.tat_us = tat;
        }
        state.used_today += tokens;
        Ok(Some(TokenGrant {
            tenant_id: principal.tenant_id.clone(),
            reserved: tokens,
            day,
            per_minute: q.tokens_per_minute,
            per_day: q.tokens_per_day,
        }))
    }

    async fn acquire_stream(
        &self,
        tenant_id: &str,
        quotas: &Quotas,
    ) -> Result<StreamPermit, Refused> {
        self.streams
            .acquire(tenant_id, quotas.max_concurrent_streams)
    }

    async fn settle_tokens(&self, grant: &TokenGrant, used: u64) {
        let mut states = self.tokens.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(state) = states.get_mut(&grant.tenant_id) else {
            return;
        };
        if grant.per_minute > 0 {
            state.tat_us = minute_settle(state.tat_us, grant.reserved, used, grant.per_minute);
        }
        if state.day == grant.day {
            state.used_today = (state.used_today + used).saturating_sub(grant.reserved);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::LimitsConfig;

    /// A limiter with the quotas of `config` (as the gateway resolves them per request).
    struct Checked {
        limiter: LocalLimiter,
        config: LimitsConfig,
    }

    impl Checked {
        fn new(config: LimitsConfig) -> Self {
            Self {
                limiter: LocalLimiter::default(),
                config,
            }
        }

        async fn check_request(&self, p: &Principal) -> Result<Option<RateStatus>, Refused> {
            let q = self.config.quotas(&p.tenant_id);
            self.limiter.check_request(p, &q).await
        }

        async fn reserve_tokens(
            &self,
            p: &Principal,
            n: u64,
        ) -> Result<Option<TokenGrant>, Refused> {
            let q = self.config.quotas(&p.tenant_id);
            self.limiter.reserve_tokens(p, &q, n).await
        }

        async fn settle_tokens(&self, grant: &TokenGrant, used: u64) {
            self.limiter.settle_tokens(grant, used).await;
        }
    }

    fn principal(tenant: &str, user: &str) -> Principal {
        Principal {
            tenant_id: tenant.into(),
            user_id: user.into(),
            groups: vec![],
        }
    }

    #[tokio::test]
    async fn one_off_users_are_forgotten_once_their_allowance_refilled() {
        // 600,000 a minute: one request's allowance refills in 0.1 ms.
        let limiter = Checked::new(LimitsConfig {
            requests_per_minute: 0,
            user_requests_per_minute: 600_000,
            user_burst: 1,
            ..LimitsConfig::default()
        });
        for user in 0..500 {
            limiter
                .check_request(&principal("a", &format!("anonymous:{user}")))
                .await
                .unwrap();
        }
        assert_eq!(limiter.limiter.tracked_users(), 500);
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(limiter.limiter.prune(), 0, "every allowance refilled");
        // A user still inside the window is kept (its state is not that of a new user).
        let slow = Checked::new(LimitsConfig {
            requests_per_minute: 0,
            user_requests_per_minute: 1,
            user_burst: 1,
            ..LimitsConfig::default()
        });
        slow.check_request(&principal("a", "u1")).await.unwrap();
        assert_eq!(slow.limiter.prune(), 1);
    }

    #[tokio::test]
    async fn burst_then_refusal_per_tenant_and_per_user() {
        let limiter = Checked::new(LimitsConfig {
            requests_per_minute: 60,
            burst: 5,
            user_requests_per_minute: 60,
            user_burst: 3,
            ..LimitsConfig::default()
        });
        for remaining in [4, 3, 2] {
            let status = limiter
                .check_request(&principal("a", "u1"))
                .await
                .unwrap()
                .unwrap();
            assert_eq!((status.limit, status.remaining), (60, remaining));
        }
        let refused = limiter
            .check_request(&principal("a", "u1"))
            .await
            .unwrap_err();
        assert_eq!(refused.limit_name, "user_requests");
        assert!(
            refused.retry_after > Duration::ZERO && refused.retry_after <= Duration::from_secs(1)
        );
        // Another user of the tenant still has the tenant's last two.
        limiter.check_request(&principal("a", "u2")).await.unwrap();
        limiter.check_request(&principal("a", "u2")).await.unwrap();
        let refused = limiter
            .check_request(&principal("a", "u2"))
            .await
            .unwrap_err();
        assert_eq!(refused.limit_name, "tenant_requests");
        assert!(refused.message().contains("60 requests per minute"));
        // Other tenants are untouched.
        assert!(limiter.check_request(&principal("b", "u1")).await.is_ok());
    }

    #[tokio::test]
    async fn token_quotas_reserve_then_settle() {
        let limiter = Checked::new(LimitsConfig {
            tokens_per_minute: 1000,
            tokens_per_day: 1500,
            ..LimitsConfig::default()
        });
        let a = principal("a", "u");
        let grant = limiter.reserve_tokens(&a, 900).await.unwrap().unwrap();
        let refused = limiter.reserve_tokens(&a, 200).await.unwrap_err();
        assert_eq!(refused.limit_name, "tokens_per_minute");
        // The call used only 300 of the 900: the rest comes back at once.
        limiter.settle_tokens(&grant, 300).await;
        let grant = limiter.reserve_tokens(&a, 600).await.unwrap().unwrap();
        limiter.settle_tokens(&grant, 600).await;
        // 900 used today; the day allows 1500, so 700 more does not fit whatever the minute says.
        let refused = limiter.reserve_tokens(&a, 700).await.unwrap_err();
        assert_eq!(refused.limit_name, "tokens_per_day");
        assert_eq!(refused.status.remaining, 600);
        assert!(
            limiter
                .reserve_tokens(&principal("b", "u"), 700)
                .await
                .is_ok()
        );
    }

    #[tokio::test]
    async fn tenant_overrides_apply_to_that_tenant_only() {
        let mut config = LimitsConfig {
            requests_per_minute: 60,
            burst: 1,
            user_requests_per_minute: 0,
            ..LimitsConfig::default()
        };
        config.tenants.insert(
            "big".into(),
            super::super::TenantLimitOverrides {
                burst: Some(5),
                ..Default::default()
            },
        );
        let limiter = Checked::new(config);
        for _ in 0..5 {
            limiter.check_request(&principal("big", "u")).await.unwrap();
        }
        limiter
            .check_request(&principal("small", "u"))
            .await
            .unwrap();
        assert!(
            limiter
                .check_request(&principal("small", "u"))
                .await
                .is_err()
        );
    }

    #[tokio::test]
    async fn changed_quotas_apply_at_once() {
        let limiter = LocalLimiter::default();
        let p = principal("a", "u");
        let mut quotas = LimitsConfig {
            requests_per_minute: 60,
            burst: 1,
            user_requests_per_minute: 0,
            ..LimitsConfig::default()
        }
        .quotas("a");
        limiter.check_request(&p, &quotas).await.unwrap();
        assert!(limiter.check_request(&p, &quotas).await.is_err());
        quotas.burst = 3;
        limiter.check_request(&p, &quotas).await.unwrap();
    }

    #[tokio::test]
    async fn zero_means_unlimited() {
        let limiter = Checked::new(LimitsConfig::unlimited());
        for _ in 0..1000 {
            assert_eq!(limiter.check_request(&principal("a", "u")).await, Ok(None));
            assert_eq!(
                limiter.reserve_tokens(&principal("a", "u"), 100_000).await,
                Ok(None)
            );
        }
    }
}
