//! Live progress of a sync, built from the indexer's events: what the admin API and its SSE
//! stream show while a sync runs (and the snapshot stored with the run).

use std::time::Instant;

use ragway_ingest::sync::{DocumentFailure, DocumentOutcome, SyncEvent};
use serde::{Deserialize, Serialize};

/// At most this many per-document failures travel with live progress (the finished run keeps all).
const LIVE_FAILURES: usize = 50;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SyncPhase {
    Queued,
    /// Walking the folder or crawling the site.
    Listing,
    /// Reading, parsing, chunking, embedding and writing changed documents.
    Indexing,
    /// Removing documents that disappeared.
    Removing,
    Succeeded,
    Failed,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SyncProgress {
    pub phase: SyncPhase,
    /// Documents the source offers (known once listing ends).
    pub total: Option<usize>,
    pub seen: usize,
    pub added: usize,
    pub changed: usize,
    pub unchanged: usize,
    pub acl_changed: usize,
    pub removed: usize,
    pub failed: usize,
    pub bytes: u64,
    /// The document being worked on.
    pub current: Option<String>,
    pub elapsed_secs: f64,
    /// Seconds left at the pace so far (known once a document is done and the total is known).
    pub eta_secs: Option<f64>,
    /// The latest per-document failures (the finished run lists all of them).
    #[schema(value_type = Vec<Object>)]
    pub failures: Vec<DocumentFailure>,
}

impl Default for SyncProgress {
    fn default() -> Self {
        Self {
            phase: SyncPhase::Queued,
            total: None,
            seen: 0,
            added: 0,
            changed: 0,
            unchanged: 0,
            acl_changed: 0,
            removed: 0,
            failed: 0,
            bytes: 0,
            current: None,
            elapsed_secs: 0.0,
            eta_secs: None,
            failures: Vec::new(),
        }
    }
}

impl SyncProgress {
    /// The progress of a run whose record says it ended with `status`. The sync finishes its
    /// record itself, a moment before its runner marks the live progress done: a reader in between
    /// sees the run over and its progress still at work.
    pub fn settled(mut self, status: &str) -> Self {
        let phase = match status {
            "succeeded" => SyncPhase::Succeeded,
            "failed" => SyncPhase::Failed,
            _ => return self,
        };
        self.phase = phase;
        self.current = None;
        self.eta_secs = None;
        self
    }
}

/// Folds events into progress, timing from the start of the sync.
#[derive(Debug)]
pub struct ProgressTracker {
    started: Instant,
    progress: SyncProgress,
}

impl ProgressTracker {
    pub fn start() -> Self {
        Self {
            started: Instant::now(),
            progress: SyncProgress {
                phase: SyncPhase::Listing,
                ..SyncProgress::default()
            },
        }
    }

    pub fn apply(&mut self, event: &SyncEvent) {
        let p = &mut self.progress;
        match event {
            SyncEvent::Listed { total } => {
                p.total = Some(*total);
                p.phase = SyncPhase::Indexing;
            }
            SyncEvent::Read { bytes } => p.bytes += bytes,
            SyncEvent::Document { uri, outcome } => {
                p.seen += 1;
                p.current = Some(uri.clone());
                match outcome {
                    DocumentOutcome::Added => p.added += 1,
                    DocumentOutcome::Changed => p.changed += 1,
                    DocumentOutcome::Unchanged => p.unchanged += 1,
                    DocumentOutcome::AclChanged => p.acl_changed += 1,
                    DocumentOutcome::Failed(reason) => {
                        p.failed += 1;
                        if p.failures.len() == LIVE_FAILURES {
                            p.failures.remove(0);
                        }
                        p.failures.push(DocumentFailure {
                            uri: uri.clone(),
                            reason: reason.clone(),
                        });
                    }
                }
            }
            SyncEvent::Removed { uri } => {
                p.phase = SyncPhase::Removing;
                p.removed += 1;
                p.current = Some(uri.clone());
            }
        }
    }

    /// The progress now, with elapsed time and ETA brought up to date.
    pub fn snapshot(&mut self) -> SyncProgress {
        let elapsed = self.started.elapsed().as_secs_f64();
        let p = &mut self.progress;
        p.elapsed_secs = (elapsed * 10.0).round() / 10.0;
        p.eta_secs = match p.total {
            Some(total) if p.seen > 0 && p.phase == SyncPhase::Indexing => {
                let left = total.saturating_sub(p.seen) as f64;
                Some((elapsed / p.seen as f64 * left * 10.0).round() / 10.0)
            }
            Some(_) if p.phase == SyncPhase::Removing => Some(0.0),
            _ => None,
        };
        p.clone()
    }

    pub fn finish(&mut self, succeeded: bool) -> SyncProgress {
        self.progress.phase = if succeeded {
            SyncPhase::Succeeded
        } else {
            SyncPhase::Failed
        };
        self.progress.current = None;
        let mut done = self.snapshot();
        done.eta_secs = None;
        done
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_finished_runs_progress_is_settled_by_its_status() {
        let mut t = ProgressTracker::start();
        t.apply(&SyncEvent::Listed { total: 3 });
        t.apply(&SyncEvent::Read { bytes: 10 });
        let working = t.snapshot();
        assert_eq!(working.phase, SyncPhase::Indexing);
        let done = working.clone().settled("succeeded");
        assert_eq!((done.phase, done.eta_secs), (SyncPhase::Succeeded, None));
        assert_eq!((done.total, done.bytes), (working.total, working.bytes));
        assert_eq!(working.clone().settled("failed").phase, SyncPhase::Failed);
        assert_eq!(working.clone().settled("cancelled"), working);
    }

    #[test]
    fn counts_follow_the_events() {
        let mut t = ProgressTracker::start();
        assert_eq!(t.snapshot().phase, SyncPhase::Listing);
        t.apply(&SyncEvent::Listed { total: 3 });
        t.apply(&SyncEvent::Read { bytes: 10 });
        t.apply(&SyncEvent::Document {
            uri: "a.md".into(),
            outcome: DocumentOutcome::Added,
        });
        t.apply(&SyncEvent::Read { bytes: 5 });
        t.apply(&SyncEvent::Document {
            uri: "b.pdf".into(),
            outcome: DocumentOutcome::Failed("encrypted".into()),
        });
        let p = t.snapshot();
        assert_eq!(
            (p.phase, p.total, p.seen, p.added, p.failed, p.bytes),
            (SyncPhase::Indexing, Some(3), 2, 1, 1, 15)
        );
        assert_eq!(p.current.as_deref(), Some("b.pdf"));
        assert_eq!(p.failures[0].reason, "encrypted");
        assert!(p.eta_secs.is_some());
        t.apply(&SyncEvent::Removed {
            uri: "old.md".into(),
        });
        let done = t.finish(true);
        assert_eq!(
            (done.phase, done.removed, done.eta_secs),
            (SyncPhase::Succeeded, 1, None)
        );
    }
}
