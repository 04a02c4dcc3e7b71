//! Concurrent answers per tenant: a permit is held for the whole answer (a stream until its last
//! event), so one tenant cannot occupy every LLM connection. Counted per replica.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::{RateStatus, Refused};

#[derive(Debug)]
pub struct StreamLimiter {
    per_tenant: u32,
    tenants: Mutex<HashMap<String, Arc<Semaphore>>>,
}

/// Held while an answer is being produced; dropping it frees the slot.
#[derive(Debug)]
pub struct StreamPermit(#[allow(dead_code)] Option<OwnedSemaphorePermit>);

impl StreamLimiter {
    /// `per_tenant` = 0: unlimited.
    pub fn new(per_tenant: u32) -> Self {
        Self {
            per_tenant,
            tenants: Mutex::new(HashMap::new()),
        }
    }

    pub fn acquire(&self, tenant_id: &str) -> Result<StreamPermit, Refused> {
        if self.per_tenant == 0 {
            return Ok(StreamPermit(None));
        }
        let semaphore = {
            let mut tenants = self
                .tenants
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let slots = usize::try_from(self.per_tenant).unwrap_or(usize::MAX);
            Arc::clone(
                tenants
                    .entry(tenant_id.to_owned())
                    .or_insert_with(|| Arc::new(Semaphore::new(slots))),
            )
        };
        semaphore
            .try_acquire_owned()
            .map(|p| StreamPermit(Some(p)))
            .map_err(|_| Refused {
                limit_name: "concurrent_streams",
                status: RateStatus {
                    limit: self.per_tenant,
                    remaining: 0,
                    reset: Duration::from_secs(1),
                },
                retry_after: Duration::from_secs(1),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_per_tenant_and_freed_on_drop() {
        let limiter = StreamLimiter::new(2);
        let a1 = limiter.acquire("a").unwrap();
        let _a2 = limiter.acquire("a").unwrap();
        assert_eq!(
            limiter.acquire("a").unwrap_err().limit_name,
            "concurrent_streams"
        );
        assert!(
            limiter.acquire("b").is_ok(),
            "another tenant has its own slots"
        );
        drop(a1);
        assert!(limiter.acquire("a").is_ok());
        let unlimited = StreamLimiter::new(0);
        let held: Vec<_> = (0..100).map(|_| unlimited.acquire("a").unwrap()).collect();
        assert_eq!(held.len(), 100);
    }
}
