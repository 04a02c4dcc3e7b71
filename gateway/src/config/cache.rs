//! `[cache]`: the answer, query-embedding and retrieval caches.

use serde::Deserialize;

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CacheConfig {
    pub enabled: bool,
    /// Memory the cached answers may hold (bytes: their text, citations and per-entry bookkeeping).
    pub max_bytes: u64,
    pub ttl_secs: u64,
    /// Dense query vectors kept (by tenant and question text), at most.
    pub query_embedding_entries: u64,
    /// Total size of the kept query vectors (bytes: 4 a dimension and the entry's bookkeeping, so
    /// the budget holds whatever the embedder's dimensions).
    pub query_embedding_max_bytes: u64,
    /// Retrieval results kept (by tenant, groups, index generation, query and k).
    pub retrieval_entries: u64,
    /// Total size of the kept retrieval results (bytes, approximately: they hold the passages'
    /// text, ~30 KB a question).
    pub retrieval_max_bytes: u64,
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            // The three budgets (56 MiB) keep a gateway serving 100k chunks of the embedded index
            // under 300 MB resident with every cache full (docs/BENCHMARKS.md); raise them on a
            // larger node for a higher hit rate.
            max_bytes: 32 * 1024 * 1024,
            ttl_secs: 3600,
            query_embedding_entries: 10_000,
            query_embedding_max_bytes: 8 * 1024 * 1024,
            retrieval_entries: 10_000,
            retrieval_max_bytes: 16 * 1024 * 1024,
        }
    }
}
