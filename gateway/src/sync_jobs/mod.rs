//! The sync runs this process is running: their live progress (read by the admin API's event
//! stream) and the bell that wakes idle sync workers. Held by `AppState`; filled by `sources`.

pub mod progress;

use progress::SyncProgress;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::{Notify, watch};

/// Live progress of the syncs this process runs, and the bell that wakes idle workers.
#[derive(Debug, Clone, Default)]
pub struct SyncJobs {
    live: Arc<Mutex<HashMap<String, watch::Receiver<SyncProgress>>>>,
    pub(crate) wake: Arc<Notify>,
}

impl SyncJobs {
    /// Tells an idle worker that a run was queued.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Live progress of a sync this process is running.
    pub fn watch(&self, run_id: &str) -> Option<watch::Receiver<SyncProgress>> {
        self.live
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(run_id)
            .cloned()
    }

    pub(crate) fn track(&self, run_id: &str, receiver: watch::Receiver<SyncProgress>) {
        self.live
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(run_id.to_owned(), receiver);
    }

    pub(crate) fn untrack(&self, run_id: &str) {
        self.live
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(run_id);
    }
}
