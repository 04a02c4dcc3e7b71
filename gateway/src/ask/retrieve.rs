//! Retrieval: the question's BM25 (and dense, when an embedder is configured) vectors, fused with
//! RRF inside the index, always filtered to the caller's tenant, cut by minimum relevance.

use std::sync::Arc;

use ragway_ingest::embed::{Bm25Encoder, Embedder};
use ragway_ingest::store::{Hit, SearchQuery, Sparse, VectorStore};

use crate::config::RetrievalConfig;
use crate::error::GatewayError;

#[derive(Debug, Clone)]
pub struct Retriever {
    pub store: Arc<dyn VectorStore>,
    pub bm25: Arc<Bm25Encoder>,
    pub embedder: Option<Arc<dyn Embedder>>,
    pub config: RetrievalConfig,
}

impl Retriever {
    pub async fn retrieve(
        &self,
        tenant_id: &str,
        question: &str,
        top_k: usize,
    ) -> Result<Vec<Hit>, GatewayError> {
        let sparse = self.bm25.embed_query(question);
        let dense = match &self.embedder {
            Some(embedder) => embedder
                .embed(vec![question.to_owned()])
                .await?
                .into_iter()
                .next(),
            None => None,
        };
        let query = SearchQuery {
            tenant_id: tenant_id.to_owned(),
            sparse: Sparse {
                indices: sparse.indices,
                values: sparse.values,
            },
            dense,
            limit: top_k,
            candidates: self.config.candidates.max(top_k),
            min_bm25_score: self.config.min_bm25_score,
            min_dense_score: self.config.min_dense_score,
            rrf_k: self.config.rrf_k,
        };
        Ok(self.store.search(query).await?)
    }
}
