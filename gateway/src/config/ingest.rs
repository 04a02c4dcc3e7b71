//! `[ingest]`: how syncs read, batch and flush what they write.

use serde::Deserialize;

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IngestConfig {
    pub max_document_bytes: u64,
    /// Chunks a sync buffers before one write to the index (1,024 instead of 256: −14 % sync
    /// wall time, docs/BENCHMARKS.md).
    pub write_batch_points: usize,
    /// How long a sync's writes wait to be flushed to disk together, their documents then
    /// recorded in the manifest (0: each write at once). The embedded index syncs every file
    /// of every segment at a flush; a crash redoes at most this much of a sync.
    pub flush_interval_ms: u64,
}

impl IngestConfig {
    pub fn flush_interval(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.flush_interval_ms)
    }
}

impl Default for IngestConfig {
    fn default() -> Self {
        Self {
            max_document_bytes: 20 * 1024 * 1024,
            write_batch_points: 1024,
            flush_interval_ms: 2000,
        }
    }
}
