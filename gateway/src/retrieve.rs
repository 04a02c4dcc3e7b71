//! Retrieval: the question's BM25 (and dense, when an embedder is configured) vectors, fused with
//! RRF inside the index, always filtered to the caller's tenant, cut by minimum relevance.
//! Two caches sit in front: dense query vectors by (tenant, text), and results by (tenant,
//! groups, index generation, query, k) — a sync that changes the index bumps the generation, so
//! a result is never served from an older index.

use std::sync::Arc;
use std::time::Duration;

use moka::future::Cache;
use ragway_ingest::embed::{Bm25Encoder, Embedder};
use ragway_ingest::lang::Lang;
use ragway_ingest::store::{Hit, SearchMode, SearchQuery, Sparse, VectorStore};
use sha2::{Digest, Sha256};

use crate::config::CacheConfig;
use crate::config::RetrievalConfig;
use crate::error::GatewayError;
use crate::identity::Principal;
use crate::metrics::Metrics;

#[derive(Debug, Clone)]
pub struct Retriever {
    pub store: Arc<dyn VectorStore>,
    pub bm25: Arc<Bm25Encoder>,
    pub embedder: Option<Arc<dyn Embedder>>,
    pub config: RetrievalConfig,
    caches: Option<RetrievalCaches>,
    metrics: Arc<Metrics>,
}

#[derive(Debug, Clone)]
struct RetrievalCaches {
    query_vectors: Cache<Digest32, Arc<[f32]>>,
    results: Cache<Digest32, Arc<Vec<Hit>>>,
}

/// A cache key: the SHA-256 of its parts, kept as bytes (a hex `String` would weigh 88 bytes
/// and a heap allocation more per entry).
type Digest32 = [u8; 32];

const QUERY_EMBEDDING: &str = "query_embedding";
const RETRIEVAL: &str = "retrieval";

fn digest(parts: &[&str]) -> Digest32 {
    let mut hash = Sha256::new();
    for part in parts {
        hash.update((part.len() as u64).to_le_bytes());
        hash.update(part.as_bytes());
    }
    hash.finalize().into()
}

impl Retriever {
    /// The index engine answering queries (`edge`, …).
    pub fn backend(&self) -> &'static str {
        self.store.backend()
    }

    pub fn index_owned_by_this_process(&self) -> bool {
        self.store.owned_by_this_process()
    }

    pub fn new(
        store: Arc<dyn VectorStore>,
        bm25: Arc<Bm25Encoder>,
        embedder: Option<Arc<dyn Embedder>>,
        config: RetrievalConfig,
        cache: &CacheConfig,
        metrics: Arc<Metrics>,
    ) -> Self {
        let caches = cache.enabled.then(|| {
            let ttl = Duration::from_secs(cache.ttl_secs);
            RetrievalCaches {
                query_vectors: Self::query_vector_cache(cache, ttl, &metrics),
                results: Self::results_cache(cache, ttl, &metrics),
            }
        });
        Self {
            store,
            bm25,
            embedder,
            config,
            caches,
            metrics,
        }
    }

    /// Dense query vectors, bounded by `query_embedding_max_bytes` and `query_embedding_entries`.
    fn query_vector_cache(
        cache: &CacheConfig,
        ttl: Duration,
        metrics: &Arc<Metrics>,
    ) -> Cache<Digest32, Arc<[f32]>> {
        let bounds = (
            cache.query_embedding_max_bytes,
            cache.query_embedding_entries,
        );
        Self::weighted_cache(bounds, query_vector_bytes, ttl, metrics, QUERY_EMBEDDING)
    }

    /// Retrieval results, bounded by `retrieval_max_bytes` and `retrieval_entries`.
    fn results_cache(
        cache: &CacheConfig,
        ttl: Duration,
        metrics: &Arc<Metrics>,
    ) -> Cache<Digest32, Arc<Vec<Hit>>> {
        let bounds = (cache.retrieval_max_bytes, cache.retrieval_entries);
        let weigh = |hits: &Arc<Vec<Hit>>| hits.iter().map(hit_bytes).sum();
        Self::weighted_cache(bounds, weigh, ttl, metrics, RETRIEVAL)
    }

    /// A cache bounded by `max_bytes` and by `entries`: each entry weighs its bytes (`weigh`, plus
    /// its key), and at least an equal share of the bytes.
    fn weighted_cache<V: Clone + Send + Sync + 'static>(
        (max_bytes, entries): (u64, u64),
        weigh: fn(&V) -> u64,
        ttl: Duration,
        metrics: &Arc<Metrics>,
        name: &str,
    ) -> Cache<Digest32, V> {
        let evictions = metrics
            .cache_evictions
            .get_or_create(&Metrics::cache(name))
            .clone();
        let share = max_bytes / entries.max(1);
        Cache::builder()
            .max_capacity(max_bytes)
            .weigher(move |key: &Digest32, value: &V| {
                let bytes = key.len() as u64 + weigh(value);
                u32::try_from(bytes.max(share)).unwrap_or(u32::MAX)
            })
            .time_to_live(ttl)
            .eviction_listener(move |_key, _value, cause| {
                if cause.was_evicted() {
                    evictions.inc();
                }
            })
            .build()
    }

    fn count(&self, cache: &str, hit: bool) {
        let family = if hit {
            &self.metrics.cache_hits
        } else {
            &self.metrics.cache_misses
        };
        family.get_or_create(&Metrics::cache(cache)).inc();
    }

    /// The best passages for `question` in the caller's tenant. `generation` None: the index
    /// version is unknown, so the result cache is not used.
    pub async fn retrieve(
        &self,
        principal: &Principal,
        question: &str,
        lang: Lang,
        top_k: usize,
        generation: Option<i64>,
    ) -> Result<Vec<Hit>, GatewayError> {
        let tenant_id = &principal.tenant_id;
        let result_key = match (&self.caches, generation) {
            (Some(caches), Some(generation)) => {
                let mut groups = principal.groups.clone();
                groups.sort();
                let key = digest(&[
                    tenant_id,
                    &groups.join("\u{1f}"),
                    &generation.to_string(),
                    question,
                    lang.code(),
                    &top_k.to_string(),
                ]);
                if let Some(hits) = caches.results.get(&key).await {
                    self.count(RETRIEVAL, true);
                    return Ok(hits.as_ref().clone());
                }
                self.count(RETRIEVAL, false);
                Some(key)
            }
            _ => None,
        };
        let hits = self
            .search(
                tenant_id,
                &principal.groups,
                question,
                lang,
                top_k,
                SearchMode::Hybrid,
            )
            .await?;
        if let (Some(caches), Some(key)) = (&self.caches, result_key) {
            caches.results.insert(key, Arc::new(hits.clone())).await;
        }
        Ok(hits)
    }

    /// One search as the gateway runs it, without the result cache: the question's BM25 vector
    /// (analysed as `lang`, the question's language) and (unless `mode` is BM25) its dense
    /// vector, fused in the index. `ragway eval` measures retrieval quality through this same
    /// function.
    pub async fn search(
        &self,
        tenant_id: &str,
        groups: &[String],
        question: &str,
        lang: Lang,
        limit: usize,
        mode: SearchMode,
    ) -> Result<Vec<Hit>, GatewayError> {
        let sparse = self.bm25.embed_query(question, lang);
        let dense = match (&self.embedder, mode) {
            (Some(embedder), SearchMode::Dense) => {
                Some(self.query_vector(embedder, tenant_id, question).await?)
            }
            // Hybrid fuses a dense ranking only where the model speaks the question's language.
            (Some(embedder), SearchMode::Hybrid) if embedder.speaks(lang) => {
                Some(self.query_vector(embedder, tenant_id, question).await?)
            }
            _ => None,
        };
        let config = &self.config;
        let query = SearchQuery {
            tenant_id: tenant_id.to_owned(),
            sparse: Sparse {
                indices: sparse.indices,
                values: sparse.values,
            },
            dense: dense.map(|v| v.to_vec()),
            limit,
            candidates: config.candidates.max(limit),
            min_bm25_score: config.min_bm25_score,
            min_dense_score: config.min_dense_score,
            rrf_k: config.rrf_k,
            bm25_weight: config.bm25_weight,
            dense_weight: config.dense_weight,
            hnsw_ef: config.hnsw_ef,
            mode,
            groups: groups.to_vec(),
        };
        Ok(self.store.search(query).await?)
    }

    /// The dense vector of a query, embedded once per tenant and text while cached.
    async fn query_vector(
        &self,
        embedder: &Arc<dyn Embedder>,
        tenant_id: &str,
        question: &str,
    ) -> Result<Arc<[f32]>, GatewayError> {
        let key = digest(&[tenant_id, question]);
        if let Some(caches) = &self.caches {
            if let Some(vector) = caches.query_vectors.get(&key).await {
                self.count(QUERY_EMBEDDING, true);
                return Ok(vector);
            }
            self.count(QUERY_EMBEDDING, false);
        }
        let vector = embedder
            .embed(vec![question.to_owned()])
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| {
                GatewayError::Ingest(ragway_ingest::IngestError::Embedding(
                    "the embeddings endpoint returned no vector for the question".into(),
                ))
            })?;
        // An exact-size copy: the vector as decoded may hold spare capacity (a 384-d vector
        // parsed from JSON sits in a 512-float buffer), which the cache would keep for its life.
        let vector: Arc<[f32]> = Arc::from(vector);
        if let Some(caches) = &self.caches {
            caches.query_vectors.insert(key, Arc::clone(&vector)).await;
        }
        Ok(vector)
    }
}

/// Approximate heap bytes of a cached hit (its text dominates).
/// A cached query vector's heap bytes: its floats, the `Arc`'s counts and the cache's own entry
/// (key, timestamps, queue nodes; measured ≈ 2.8 KB an entry at 384 dimensions all told).
fn query_vector_bytes(vector: &Arc<[f32]>) -> u64 {
    const ENTRY_OVERHEAD: u64 = 16 + 320;
    (std::mem::size_of_val::<[f32]>(vector) as u64) + ENTRY_OVERHEAD
}

fn hit_bytes(hit: &Hit) -> u64 {
    let p = &hit.payload;
    let strings = p.tenant_id.len()
        + p.source_id.len()
        + p.document_id.len()
        + p.uri.len()
        + p.title.len()
        + p.text.len()
        + p.heading_path.iter().map(String::len).sum::<usize>()
        + p.acl.iter().map(String::len).sum::<usize>();
    (strings + std::mem::size_of::<Hit>() + 24 * (p.heading_path.len() + p.acl.len())) as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus_client::metrics::counter::Counter;
    use ragway_ingest::store::ChunkPayload;

    fn hits(text_bytes: usize) -> Arc<Vec<Hit>> {
        let hit = Hit {
            id: uuid::Uuid::nil(),
            score: 1.0,
            payload: ChunkPayload {
                text: "x".repeat(text_bytes),
                ..ChunkPayload::default()
            },
        };
        Arc::new(vec![hit; 10])
    }

    #[tokio::test]
    async fn retrieval_results_are_bounded_by_bytes_and_by_entries() {
        let metrics = Arc::new(Metrics::new(Counter::default(), Default::default()));
        let ttl = Duration::from_secs(60);
        let config = CacheConfig {
            retrieval_entries: 1_000,
            retrieval_max_bytes: 1024 * 1024,
            ..CacheConfig::default()
        };
        // 100 results of ~30 KB: 3 MB asked for, 1 MB allowed.
        let cache = Retriever::results_cache(&config, ttl, &metrics);
        for i in 0..100 {
            cache.insert(digest(&[&format!("q{i}")]), hits(3_000)).await;
        }
        cache.run_pending_tasks().await;
        assert!(cache.weighted_size() <= config.retrieval_max_bytes);
        assert!(cache.entry_count() < 40, "{}", cache.entry_count());

        // Tiny results: the entry count is the bound.
        let few = CacheConfig {
            retrieval_entries: 10,
            ..config
        };
        let cache = Retriever::results_cache(&few, ttl, &metrics);
        for i in 0..100 {
            cache.insert(digest(&[&format!("q{i}")]), hits(1)).await;
        }
        cache.run_pending_tasks().await;
        assert!(cache.entry_count() <= 10, "{}", cache.entry_count());
    }

    #[tokio::test]
    async fn query_vectors_are_bounded_by_bytes_whatever_their_dimensions() {
        let metrics = Arc::new(Metrics::new(Counter::default(), Default::default()));
        let ttl = Duration::from_secs(60);
        let config = CacheConfig {
            query_embedding_entries: 10_000,
            query_embedding_max_bytes: 1024 * 1024,
            ..CacheConfig::default()
        };
        let mut kept = Vec::new();
        for dimensions in [384, 1_536] {
            let cache = Retriever::query_vector_cache(&config, ttl, &metrics);
            for i in 0..1_000 {
                let vector: Arc<[f32]> = vec![0.5; dimensions].into();
                cache.insert(digest(&[&format!("q{i}")]), vector).await;
            }
            cache.run_pending_tasks().await;
            assert!(cache.weighted_size() <= config.query_embedding_max_bytes);
            // Each vector weighs at least its floats: 1 MiB holds fewer than 1 MiB / (4 × d).
            let at_most = config.query_embedding_max_bytes / (4 * dimensions as u64);
            assert!(cache.entry_count() <= at_most, "{}", cache.entry_count());
            kept.push(cache.entry_count());
        }
        assert!(kept[0] > 2 * kept[1], "{kept:?}");

        // Few entries allowed: the count is the bound.
        let few = CacheConfig {
            query_embedding_entries: 10,
            ..config
        };
        let cache = Retriever::query_vector_cache(&few, ttl, &metrics);
        for i in 0..100 {
            let vector: Arc<[f32]> = vec![0.5; 384].into();
            cache.insert(digest(&[&format!("q{i}")]), vector).await;
        }
        cache.run_pending_tasks().await;
        assert!(cache.entry_count() <= 10, "{}", cache.entry_count());
    }
}
