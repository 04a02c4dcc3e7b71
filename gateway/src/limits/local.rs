//! In-process GCRA limits (governor): exact for one replica, no round trip.

use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter as Governor};

use super::{LimitsConfig, RateLimiter, RateStatus, Refused};
use crate::http::Principal;

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
            limit: self.per_minute,
            remaining,
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
            }),
        }
    }
}

#[derive(Debug)]
pub struct LocalLimiter {
    tenant: Option<Limit<String>>,
    user: Option<Limit<(String, String)>>,
}

impl LocalLimiter {
    pub fn new(config: &LimitsConfig) -> Self {
        Self {
            tenant: Limit::new("tenant_requests", config.requests_per_minute, config.burst),
            user: Limit::new(
                "user_requests",
                config.user_requests_per_minute,
                config.user_burst,
            ),
        }
    }
}

#[async_trait::async_trait]
impl RateLimiter for LocalLimiter {
    async fn check_request(&self, principal: &Principal) -> Result<Option<RateStatus>, Refused> {
        // The user's own limit first, so one noisy user does not spend the tenant's allowance.
        if let Some(user) = &self.user {
            user.check(&(principal.tenant_id.clone(), principal.user_id.clone()))?;
        }
        match &self.tenant {
            Some(tenant) => tenant.check(&principal.tenant_id).map(Some),
            None => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal(tenant: &str, user: &str) -> Principal {
        Principal {
            tenant_id: tenant.into(),
            user_id: user.into(),
            groups: vec![],
        }
    }

    #[tokio::test]
    async fn burst_then_refusal_per_tenant_and_per_user() {
        let limiter = LocalLimiter::new(&LimitsConfig {
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
    async fn zero_means_unlimited() {
        let limiter = LocalLimiter::new(&LimitsConfig::unlimited());
        for _ in 0..1000 {
            assert_eq!(limiter.check_request(&principal("a", "u")).await, Ok(None));
        }
    }
}
