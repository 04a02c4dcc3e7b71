//! The embedded index's write-ahead log, kept small. qdrant-edge 0.7 neither replays its WAL
//! when a shard loads nor ever truncates it, yet maps (and reads) every segment of it on load:
//! for a 100k-chunk index that was 500 MB of resident memory doing nothing. Every write here is
//! flushed to the segments before it returns, so the closed WAL segments before the newest hold
//! nothing the shard needs; the newest stays so that operation numbers go on where they stopped
//! (points keep the number of the operation that wrote them, and lower numbers are ignored).

use std::num::NonZeroUsize;
use std::path::Path;

use qdrant_edge::WalOptions;

use crate::error::{IngestError, Result};

/// WAL segments of new shards: each write is flushed at once, so the log is never read back and
/// what it keeps mapped is waste — every shard (one per tenant) maps its newest closed segment and
/// its open one, read whole on load. A segment grows to fit an entry larger than its capacity
/// (a batch of a few MB), so the capacity only bounds how much of the log stays mapped.
pub(super) fn wal_options() -> WalOptions {
    WalOptions {
        segment_capacity: 1024 * 1024,
        segment_queue_len: 0,
        retain_closed: NonZeroUsize::MIN,
    }
}

/// Removes every closed segment of the WAL in `wal_dir` but the newest; returns the bytes freed.
/// Call it only while no shard has the directory open.
pub(super) fn prune(wal_dir: &Path) -> Result<u64> {
    let entries = match std::fs::read_dir(wal_dir) {
        Ok(entries) => entries,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(err) => return Err(IngestError::io(wal_dir, err)),
    };
    let mut closed = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| IngestError::io(wal_dir, e))?;
        let name = entry.file_name();
        let start = name
            .to_str()
            .and_then(|n| n.strip_prefix("closed-"))
            .and_then(|n| n.parse::<u64>().ok());
        if let Some(start) = start {
            closed.push((start, entry.path()));
        }
    }
    closed.sort();
    closed.pop();
    let mut freed = 0;
    for (_, path) in closed {
        let bytes = std::fs::metadata(&path).map_or(0, |m| m.len());
        std::fs::remove_file(&path).map_err(|e| IngestError::io(&path, e))?;
        freed += bytes;
    }
    Ok(freed)
}
