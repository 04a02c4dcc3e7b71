//! `[retrieval]`: how many passages, from how many candidates, and how BM25 and dense rankings
//! are fused.

use serde::Deserialize;

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetrievalConfig {
    pub top_k: usize,
    pub max_top_k: usize,
    /// Candidates each retriever (BM25, dense) contributes before fusion.
    pub candidates: usize,
    /// BM25 scores below this are not relevant (the "nothing found" cut).
    pub min_bm25_score: f32,
    /// Cosine similarities below this are not relevant.
    pub min_dense_score: f32,
    /// Reciprocal rank fusion's k: larger flattens the difference between ranks.
    pub rrf_k: usize,
    /// Weight of the BM25 ranking in the fusion (weighted RRF; 1.0 and 1.0 is plain RRF).
    pub bm25_weight: f32,
    /// Weight of the dense ranking in the fusion.
    pub dense_weight: f32,
    /// The dense search's beam width on an HNSW graph (larger: slower, fewer neighbours missed;
    /// never below `candidates`). Unset: the index's default (its `ef_construct`, 100).
    pub hnsw_ef: Option<usize>,
}

impl Default for RetrievalConfig {
    fn default() -> Self {
        Self {
            top_k: 5,
            max_top_k: 20,
            candidates: 40,
            min_bm25_score: 4.0,
            min_dense_score: 0.3,
            // Chosen on SciFact (docs/BENCHMARKS.md): 20 beat 10, 60 and 100.
            rrf_k: 20,
            bm25_weight: 1.0,
            dense_weight: 1.0,
            hnsw_ef: None,
        }
    }
}
