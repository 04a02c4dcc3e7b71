//! Concurrent answers per tenant: a permit is held for the whole answer (a stream until its last
//! event), so one tenant cannot occupy every LLM connection. In process: a semaphore per tenant;
//! with Redis: a lease per answer, shared by every replica (see `redis.rs`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::Refused;

/// Per tenant: the slot count the semaphore was made for, and the semaphore.
#[derive(Debug, Default)]
pub struct StreamLimiter {
    tenants: Mutex<HashMap<String, (u32, Arc<Semaphore>)>>,
}

/// Held while an answer is being produced; dropping it frees the slot.
pub struct StreamPermit(#[allow(dead_code)] Option<Box<dyn Send + Sync>>);

impl std::fmt::Debug for StreamPermit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "StreamPermit(held)"
        } else {
            "StreamPermit(unlimited)"
        })
    }
}

impl StreamPermit {
    /// No slot is held (no limit applies, or the backend failed open).
    pub fn unlimited() -> Self {
        Self(None)
    }

    /// A slot released when `holder` is dropped.
    pub fn holding(holder: impl Send + Sync + 'static) -> Self {
        Self(Some(Box::new(holder)))
    }
}

impl StreamLimiter {
    /// One of the tenant's `per_tenant` slots (0: unlimited). When the count changes, new answers
    /// take slots from a new semaphore; answers holding old slots finish undisturbed.
    pub fn acquire(&self, tenant_id: &str, per_tenant: u32) -> Result<StreamPermit, Refused> {
        if per_tenant == 0 {
            return Ok(StreamPermit::unlimited());
        }
        let semaphore = {
            let mut tenants = self
                .tenants
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let slots = usize::try_from(per_tenant).unwrap_or(usize::MAX);
            let entry = tenants
                .entry(tenant_id.to_owned())
                .or_insert_with(|| (per_tenant, Arc::new(Semaphore::new(slots))));
            if entry.0 != per_tenant {
                *entry = (per_tenant, Arc::new(Semaphore::new(slots)));
            }
            Arc::clone(&entry.1)
        };
        semaphore
            .try_acquire_owned()
            .map(|permit: OwnedSemaphorePermit| StreamPermit::holding(permit))
            .map_err(|_| {
                Refused::simple(
                    "concurrent_streams",
                    u64::from(per_tenant),
                    Duration::from_secs(1),
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_per_tenant_and_freed_on_drop() {
        let limiter = StreamLimiter::default();
        let a1 = limiter.acquire("a", 2).unwrap();
        let _a2 = limiter.acquire("a", 2).unwrap();
        assert_eq!(
            limiter.acquire("a", 2).unwrap_err().limit_name,
            "concurrent_streams"
        );
        assert!(
            limiter.acquire("b", 2).is_ok(),
            "another tenant has its own slots"
        );
        drop(a1);
        assert!(limiter.acquire("a", 2).is_ok());
        let held: Vec<_> = (0..100).map(|_| limiter.acquire("c", 0).unwrap()).collect();
        assert_eq!(held.len(), 100);
    }
}
