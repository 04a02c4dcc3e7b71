//! What a sync reports while it runs: one event per listing, document read, outcome and removal.

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "outcome", content = "reason")]
pub enum DocumentOutcome {
    Added,
    Changed,
    Unchanged,
    /// Same content, new ACL: its chunks' payload was updated without re-indexing.
    AclChanged,
    Failed(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "event")]
pub enum SyncEvent {
    Listed {
        total: usize,
    },
    Document {
        uri: String,
        outcome: DocumentOutcome,
    },
    Removed {
        uri: String,
    },
    /// A document's bytes were read (for live byte counts; its outcome follows).
    Read {
        bytes: u64,
    },
}

/// Where a sync sends its events (a progress bar, the admin API's live progress).
pub type Progress<'a> = &'a (dyn Fn(&SyncEvent) + Send + Sync);
