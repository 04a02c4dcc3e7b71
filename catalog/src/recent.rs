//! Rows recently read, kept in memory for a while: every question presents an API key and is
//! answered under its tenant's generation, and reading them from the database each time costs a
//! round trip (a thread hop to the SQLite worker) on the hot path. A change made through this
//! `Catalog` drops the memory at once; one made by another process sharing the database (another
//! replica, a CLI command) takes effect here within the memory's time to live.

use std::collections::HashMap;
use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How long another process's revocation of a key may go unseen here.
pub const API_KEY_TTL: Duration = Duration::from_secs(5);
/// How long another process's sync (a new generation: cached answers no longer apply) may go
/// unseen here; not longer than [`API_KEY_TTL`], so a catalog outage refuses questions as before.
pub const GENERATION_TTL: Duration = API_KEY_TTL;
/// Rows kept at most; past it, expired ones are dropped, then all (keys and tenants are few).
const MAX_ROWS: usize = 10_000;

#[derive(Debug)]
pub(crate) struct Recent<T> {
    ttl: Duration,
    rows: RwLock<HashMap<String, (T, Instant)>>,
    /// Bumped by every invalidation, so that a read which started before one is not kept.
    epoch: AtomicU64,
    /// Reads of the table (for tests and diagnostics).
    loads: AtomicU64,
}

impl<T: Clone> Recent<T> {
    pub(crate) fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            rows: RwLock::default(),
            epoch: AtomicU64::new(0),
            loads: AtomicU64::new(0),
        }
    }

    /// The row while fresh.
    pub(crate) fn get(&self, id: &str) -> Option<T> {
        let rows = self.rows.read().unwrap_or_else(|e| e.into_inner());
        rows.get(id)
            .filter(|(_, read)| read.elapsed() < self.ttl)
            .map(|(row, _)| row.clone())
    }

    /// Marks the start of a read of the table; pass the returned epoch to [`Self::store`].
    pub(crate) fn begin_load(&self) -> u64 {
        self.loads.fetch_add(1, Ordering::Relaxed);
        self.epoch.load(Ordering::Acquire)
    }

    /// Keeps what a read found, unless a row changed while it ran.
    pub(crate) fn store(&self, epoch: u64, id: &str, row: T) {
        let mut rows = self.rows.write().unwrap_or_else(|e| e.into_inner());
        if self.epoch.load(Ordering::Acquire) != epoch {
            return;
        }
        if rows.len() >= MAX_ROWS {
            rows.retain(|_, (_, read)| read.elapsed() < self.ttl);
            if rows.len() >= MAX_ROWS {
                rows.clear();
            }
        }
        rows.insert(id.to_owned(), (row, Instant::now()));
    }

    pub(crate) fn invalidate(&self) {
        let mut rows = self.rows.write().unwrap_or_else(|e| e.into_inner());
        self.epoch.fetch_add(1, Ordering::AcqRel);
        rows.clear();
    }

    pub(crate) fn loads(&self) -> u64 {
        self.loads.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::keys::{ApiKeyRecord, KeyRow};

    fn row(id: &str) -> KeyRow {
        let record = ApiKeyRecord {
            id: id.into(),
            tenant_id: "acme".into(),
            name: "k".into(),
            created_at: "2026-01-01T00:00:00Z".into(),
            expires_at: None,
            last_used_at: None,
            revoked_at: None,
            user_id: None,
            groups: Vec::new(),
        };
        (record, "hash".into())
    }

    #[test]
    fn a_read_that_raced_a_revocation_is_not_kept() {
        let keys = Recent::new(API_KEY_TTL);
        assert!(keys.get("a").is_none());
        let epoch = keys.begin_load();
        keys.invalidate();
        keys.store(epoch, "a", row("a"));
        assert!(keys.get("a").is_none(), "stale row dropped");
        let epoch = keys.begin_load();
        keys.store(epoch, "a", row("a"));
        assert_eq!(keys.get("a").unwrap().0.id, "a");
        assert!(keys.get("b").is_none());
        keys.invalidate();
        assert!(keys.get("a").is_none());
        assert_eq!(keys.loads(), 2);
    }
}
