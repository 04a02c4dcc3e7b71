//! The origins some active widget key allows, kept in memory: CORS preflights and widget error
//! responses carry no key and come from anyone, so they must not each read and parse the whole
//! widget-key table. Every change through this `Catalog` (create, update, revoke, a tenant
//! deleted) drops the cached list at once; a change made by another process sharing the
//! database (another replica, a CLI command) is seen within `WIDGET_ORIGINS_TTL`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

/// How long another process's change to widget keys may go unseen here. Preflights are only
/// CORS permission: sessions still look their key up in the database.
pub const WIDGET_ORIGINS_TTL: Duration = Duration::from_secs(30);

#[derive(Debug, Default)]
pub(crate) struct OriginsCache {
    current: RwLock<Option<Cached>>,
    /// Bumped by every invalidation, so that a read which started before one is not stored.
    epoch: AtomicU64,
    /// Reads of the table (for tests and diagnostics).
    loads: AtomicU64,
}

#[derive(Debug)]
struct Cached {
    origins: Arc<Vec<String>>,
    loaded: Instant,
}

impl OriginsCache {
    /// The cached list while it is fresh.
    pub(crate) fn get(&self) -> Option<Arc<Vec<String>>> {
        let current = self.current.read().unwrap_or_else(|e| e.into_inner());
        current
            .as_ref()
            .filter(|c| c.loaded.elapsed() < WIDGET_ORIGINS_TTL)
            .map(|c| c.origins.clone())
    }

    /// Marks the start of a read of the table; pass the returned epoch to [`Self::store`].
    pub(crate) fn begin_load(&self) -> u64 {
        self.loads.fetch_add(1, Ordering::Relaxed);
        self.epoch.load(Ordering::Acquire)
    }

    /// Keeps what a read found, unless the keys changed while it ran.
    pub(crate) fn store(&self, epoch: u64, origins: Arc<Vec<String>>) {
        let mut current = self.current.write().unwrap_or_else(|e| e.into_inner());
        if self.epoch.load(Ordering::Acquire) == epoch {
            *current = Some(Cached {
                origins,
                loaded: Instant::now(),
            });
        }
    }

    pub(crate) fn invalidate(&self) {
        let mut current = self.current.write().unwrap_or_else(|e| e.into_inner());
        self.epoch.fetch_add(1, Ordering::AcqRel);
        *current = None;
    }

    pub(crate) fn loads(&self) -> u64 {
        self.loads.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_read_that_raced_a_change_is_not_kept() {
        let cache = OriginsCache::default();
        assert!(cache.get().is_none());
        let epoch = cache.begin_load();
        cache.invalidate();
        cache.store(epoch, Arc::new(vec!["https://old.example".into()]));
        assert!(cache.get().is_none(), "stale list dropped");
        let epoch = cache.begin_load();
        cache.store(epoch, Arc::new(vec!["https://new.example".into()]));
        assert_eq!(cache.get().unwrap().as_slice(), ["https://new.example"]);
        assert_eq!(cache.loads(), 2);
    }
}
