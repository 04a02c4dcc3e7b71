//! The vector index: named vectors `dense` (optional) and `bm25`, every point scoped to its
//! tenant — a shard per tenant in the embedded index, one collection for all tenants (with a
//! tenant-aware payload index) on a Qdrant server.

mod edge;
mod edge_layout;
mod edge_legacy;
mod edge_points;
mod edge_shard;
#[cfg(test)]
mod edge_tests;
mod edge_wal;
mod qdrant;
pub(crate) mod stored;

pub use edge::EdgeStore;
pub use qdrant::{CollectionLayout, Generation, Generations, QdrantSettings, QdrantStore};

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::Result;
use crate::lang::Lang;

pub const DENSE: &str = "dense";
pub const BM25: &str = "bm25";

/// A sparse vector (term id → weight), the form BM25 vectors take.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sparse {
    pub indices: Vec<u32>,
    pub values: Vec<f32>,
}

impl Sparse {
    pub fn is_empty(&self) -> bool {
        self.indices.is_empty()
    }
}

/// What is stored with every chunk; enough to cite it without going back to the catalog.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ChunkPayload {
    pub tenant_id: String,
    pub source_id: String,
    pub document_id: String,
    pub uri: String,
    pub title: String,
    pub heading_path: Vec<String>,
    pub chunk_index: usize,
    pub text: String,
    /// Page (PDF) or slide (PPTX) of the chunk. Defaulted so points written before it existed
    /// still read; omitted when absent so payloads of page-less formats are unchanged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page: Option<u32>,
    /// Groups that may see the chunk (empty or absent: every member of the tenant).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub acl: Vec<String>,
    /// Language of the text (`es`, `en`); absent on points written before languages existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lang: Option<Lang>,
    /// Tokens of `text` (the chunker's count), so a prompt's budget is kept without encoding
    /// every passage again per question; absent on points written before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text_tokens: Option<u32>,
}

#[derive(Debug, Clone)]
pub struct ChunkPoint {
    pub id: Uuid,
    pub dense: Option<Vec<f32>>,
    pub sparse: Sparse,
    pub payload: ChunkPayload,
}

/// Which retrievers a query uses. `Hybrid` fuses BM25 and dense (when the index has dense
/// vectors) with reciprocal rank fusion; the single modes exist to measure each part (`ragway eval`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SearchMode {
    #[default]
    Hybrid,
    Bm25,
    Dense,
}

impl SearchMode {
    pub const ALL: [SearchMode; 3] = [SearchMode::Bm25, SearchMode::Dense, SearchMode::Hybrid];

    pub fn name(self) -> &'static str {
        match self {
            SearchMode::Hybrid => "hybrid",
            SearchMode::Bm25 => "bm25",
            SearchMode::Dense => "dense",
        }
    }
}

/// One retrieval: always scoped to a tenant.
#[derive(Debug, Clone)]
pub struct SearchQuery {
    pub tenant_id: String,
    pub sparse: Sparse,
    pub dense: Option<Vec<f32>>,
    pub limit: usize,
    /// Candidates each retriever contributes before fusion.
    pub candidates: usize,
    /// Minimum BM25 score (the relevance cut for keyword matches).
    pub min_bm25_score: f32,
    /// Minimum cosine similarity (the relevance cut for dense matches).
    pub min_dense_score: f32,
    pub rrf_k: usize,
    /// RRF weight of the BM25 ranking (1.0 with `dense_weight` 1.0: plain RRF).
    pub bm25_weight: f32,
    /// RRF weight of the dense ranking.
    pub dense_weight: f32,
    /// The dense search's beam width on an HNSW graph (None: the index's default, its
    /// `ef_construct`); never below `candidates`. Smaller is faster and may miss a neighbour.
    pub hnsw_ef: Option<usize>,
    pub mode: SearchMode,
    /// The caller's groups: only chunks public to the tenant or shared with one of these match.
    pub groups: Vec<String>,
}

impl SearchQuery {
    /// The raw ranking: no relevance cuts, plain RRF over 20 candidates each, public documents
    /// only — for tests, tools and diagnostics.
    pub fn unfiltered(
        tenant_id: &str,
        sparse: Sparse,
        dense: Option<Vec<f32>>,
        limit: usize,
    ) -> Self {
        Self {
            tenant_id: tenant_id.to_owned(),
            sparse,
            dense,
            limit,
            candidates: 20,
            min_bm25_score: 0.0,
            min_dense_score: 0.0,
            rrf_k: 60,
            bm25_weight: 1.0,
            dense_weight: 1.0,
            hnsw_ef: None,
            mode: SearchMode::Hybrid,
            groups: Vec::new(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Hit {
    pub id: Uuid,
    pub score: f32,
    pub payload: ChunkPayload,
}

#[async_trait::async_trait]
pub trait VectorStore: Send + Sync + std::fmt::Debug {
    /// Which engine serves the index (`edge`: embedded qdrant-edge; `qdrant`: a server or
    /// cluster), for spans and logs.
    fn backend(&self) -> &'static str;
    /// Whether this process alone writes the index (the embedded store refuses a second one), so
    /// every sync that changes it runs here.
    fn owned_by_this_process(&self) -> bool {
        false
    }
    /// Whether the index has a dense vector (an embedder was configured when it was created).
    fn dense_dimensions(&self) -> Option<usize>;
    /// Writes points, durable when it returns.
    async fn upsert(&self, points: Vec<ChunkPoint>) -> Result<()>;
    /// Writes points that may become durable only at the next [`Self::persist`]: a store whose
    /// every flush is costly (the embedded one syncs every segment file) takes a sync's run of
    /// writes and flushes them once.
    async fn upsert_buffered(&self, points: Vec<ChunkPoint>) -> Result<()> {
        self.upsert(points).await
    }
    /// Makes every write so far durable (a store whose writes are durable when they return, as a
    /// Qdrant server's with `wait`, has nothing to do).
    async fn persist(&self) -> Result<()> {
        Ok(())
    }
    /// Deletes a document's chunks with `chunk_index >= from_index` (0 deletes the whole document).
    async fn delete_document_chunks(
        &self,
        tenant_id: &str,
        document_id: &str,
        from_index: usize,
    ) -> Result<()>;
    async fn delete_tenant(&self, tenant_id: &str) -> Result<()>;
    /// Sets the groups that may see a document's chunks (payload only: nothing is re-embedded).
    async fn set_document_acl(
        &self,
        tenant_id: &str,
        document_id: &str,
        acl: &[String],
    ) -> Result<()>;
    async fn search(&self, query: SearchQuery) -> Result<Vec<Hit>>;
    async fn count(&self, tenant_id: &str) -> Result<usize>;
    /// Compacts what writes left behind (indexes large segments, merges small ones, drops deleted
    /// points), blocking writes while it runs; true if anything changed. A Qdrant server does this
    /// itself, in the background.
    async fn optimize(&self) -> Result<bool> {
        Ok(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_page_is_optional_on_the_wire() {
        // A point written before pages existed still reads.
        let old = serde_json::json!({
            "tenant_id": "t", "source_id": "s", "document_id": "d", "uri": "a.md",
            "title": "A", "heading_path": [], "chunk_index": 0, "text": "x"
        });
        let payload: ChunkPayload = serde_json::from_value(old.clone()).unwrap();
        assert_eq!(payload.page, None);
        assert_eq!(serde_json::to_value(&payload).unwrap(), old);
        let paged = ChunkPayload {
            page: Some(7),
            ..payload
        };
        let value = serde_json::to_value(&paged).unwrap();
        assert_eq!(value["page"], 7);
        assert_eq!(
            serde_json::from_value::<ChunkPayload>(value).unwrap(),
            paged
        );
    }
}
