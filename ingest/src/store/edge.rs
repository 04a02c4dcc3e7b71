//! [`VectorStore`] on the embedded qdrant-edge shard. Its API is synchronous and CPU/disk-bound,
//! so every call runs on the blocking pool. A lock file keeps a second process off the shard.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use qdrant_edge::external::ordered_float::OrderedFloat;
use qdrant_edge::external::uuid::Uuid as EdgeUuid;
use qdrant_edge::{
    Condition, CountRequest, CreateIndex, Distance, EdgeConfigBuilder, EdgeShard,
    EdgeSparseVectorParamsBuilder, EdgeVectorParamsBuilder, FieldCondition, FieldIndexOperations,
    Filter, Fusion, IsEmptyCondition, JsonPath, KeywordIndexParams, Match, Modifier, NamedQuery,
    Payload, PayloadFieldSchema, PayloadOps, PayloadSchemaParams, PointId, PointInsertOperations,
    PointOperations, PointStruct, Prefetch, QueryEnum, QueryRequest, Range, Record, ScoredPoint,
    ScoringQuery, ScrollRequest, SetPayloadOp, SparseVector, UpdateOperation, Vector,
    VectorInternal, VectorStructInternal, Vectors, WithPayloadInterface, WithVector,
};

use super::edge_wal;
use super::stored::{
    ACL, CHUNK_INDEX, DOCUMENT, TENANT, from_stored, store_err, stored_acl, to_stored,
    visible_groups,
};
use super::{BM25, ChunkPoint, DENSE, Hit, SearchMode, SearchQuery, Sparse, VectorStore};
use crate::error::{IngestError, Result};

/// Owns the shard so that its drop-time flush (which panics on I/O errors, e.g. when the directory
/// was already removed) cannot unwind through ragway: every write is flushed when it happens.
struct ShardHandle(Option<EdgeShard>);

impl ShardHandle {
    fn get(&self) -> Result<&EdgeShard> {
        self.0
            .as_ref()
            .ok_or_else(|| store_err("the index is closed"))
    }
}

impl Drop for ShardHandle {
    fn drop(&mut self) {
        if let Some(shard) = self.0.take() {
            if !shard.path().exists() {
                // The directory was removed under us (a test's temp dir): nothing left to flush into.
                std::mem::forget(shard);
                return;
            }
            let closed =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || drop(shard)));
            if closed.is_err() {
                tracing::warn!(
                    "the index could not be flushed on close; all writes were already flushed"
                );
            }
        }
    }
}

pub struct EdgeStore {
    shard: Arc<ShardHandle>,
    /// Serialises writes: qdrant-edge's flush panics if it meets a concurrent writer.
    writes: Arc<Mutex<()>>,
    /// Searches running at once, one per core: more only queue on the CPU, and each one waiting
    /// on a blocking thread of its own grew the process by hundreds of threads (and their
    /// allocator heaps) when questions came faster than the cores answer them.
    searches: Arc<tokio::sync::Semaphore>,
    dense: Option<usize>,
    /// The dimension of the dense vectors the index holds (even when no embedder is configured).
    stored_dense: Option<usize>,
    path: PathBuf,
    _lock: File,
}

impl std::fmt::Debug for EdgeStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EdgeStore")
            .field("path", &self.path)
            .field("dense", &self.dense)
            .finish()
    }
}

impl EdgeStore {
    /// Opens (or creates) the shard in `dir`. `dense` is the embedder's dimension, if one is configured.
    pub async fn open(dir: &Path, dense: Option<usize>) -> Result<Self> {
        let dir = dir.to_path_buf();
        tokio::task::spawn_blocking(move || Self::open_blocking(&dir, dense)).await?
    }

    fn open_blocking(dir: &Path, dense: Option<usize>) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(|e| IngestError::io(dir, e))?;
        let lock_path = dir.join("ragway.lock");
        let lock = File::create(&lock_path).map_err(|e| IngestError::io(&lock_path, e))?;
        if lock.try_lock().is_err() {
            return Err(IngestError::StoreLocked(dir.to_path_buf()));
        }
        let exists = dir.join("edge_config.json").exists();
        let shard = if exists {
            let freed = edge_wal::prune(&dir.join("wal"))?;
            if freed > 0 {
                tracing::info!(
                    mb = freed / 1_000_000,
                    "removed write-ahead log segments the index no longer needs"
                );
            }
            EdgeShard::load(dir, None).map_err(store_err)?
        } else {
            let mut config = EdgeConfigBuilder::new()
                .wal_options(edge_wal::wal_options())
                .sparse_vector(
                    BM25,
                    EdgeSparseVectorParamsBuilder::new()
                        .modifier(Modifier::Idf)
                        .build(),
                );
            if let Some(size) = dense {
                config = config.vector(
                    DENSE,
                    // Memory-mapped, not loaded: a 100k-chunk index's vectors are 150 MB, and
                    // a search reads only the pages of the vectors it visits.
                    EdgeVectorParamsBuilder::new(size, Distance::Cosine)
                        .on_disk(true)
                        .build(),
                );
            }
            let shard = EdgeShard::new(dir, config.build()).map_err(store_err)?;
            create_keyword_index(&shard, TENANT, true)?;
            create_keyword_index(&shard, DOCUMENT, false)?;
            shard
        };
        // Indexes made before document ACLs existed get the `acl` index on first open, and
        // their points (all public then) the public marker.
        let acl_field = json_path(ACL)?;
        if !shard.info().payload_schema.contains_key(&acl_field) {
            create_keyword_index(&shard, ACL, false)?;
            let unmarked = Filter::new_must(Condition::IsEmpty(IsEmptyCondition::from(
                acl_field.clone(),
            )));
            shard
                .update(UpdateOperation::PayloadOperation(PayloadOps::SetPayload(
                    acl_payload(&[], Some(unmarked)),
                )))
                .map_err(store_err)?;
            shard.flush();
        }
        let stored_dense = shard.config().vectors.get(DENSE).map(|p| p.size);
        match (dense, stored_dense) {
            (Some(wanted), Some(stored)) if wanted != stored => {
                return Err(IngestError::Config(format!(
                    "the index at {} holds {stored}-dimensional dense vectors but the embedder gives {wanted}; \
                     remove the index directory and re-ingest",
                    dir.display()
                )));
            }
            (Some(_), None) => {
                return Err(IngestError::Config(format!(
                    "the index at {} was built without dense vectors; remove the index directory and \
                     re-ingest to enable the embedder",
                    dir.display()
                )));
            }
            _ => {}
        }
        Ok(Self {
            shard: Arc::new(ShardHandle(Some(shard))),
            writes: Arc::new(Mutex::new(())),
            searches: Arc::new(tokio::sync::Semaphore::new(
                std::thread::available_parallelism().map_or(2, |n| n.get()),
            )),
            dense: stored_dense.filter(|_| dense.is_some()),
            stored_dense,
            path: dir.to_path_buf(),
            _lock: lock,
        })
    }

    async fn blocking<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&EdgeShard) -> Result<T> + Send + 'static,
    {
        let shard = Arc::clone(&self.shard);
        tokio::task::spawn_blocking(move || f(shard.get()?)).await?
    }

    /// Applies one update and flushes it to disk before returning. qdrant-edge 0.7 does not
    /// replay its WAL on load, so an unflushed write would be lost in a crash — and the sync
    /// records a document in the manifest only after its points are durable.
    async fn write(&self, operation: UpdateOperation) -> Result<()> {
        let writes = Arc::clone(&self.writes);
        self.blocking(move |shard| {
            let _guard = writes
                .lock()
                .map_err(|_| store_err("a previous write panicked"))?;
            shard.update(operation).map_err(store_err)?;
            shard.flush();
            Ok(())
        })
        .await
    }
}

/// A stored point as the index holds it: id, vectors and payload.
fn from_record(record: Record) -> Result<ChunkPoint> {
    let id = match record.id {
        PointId::Uuid(uuid) => uuid::Uuid::from_bytes(*uuid.as_bytes()),
        PointId::NumId(n) => uuid::Uuid::from_u128(u128::from(n)),
    };
    let payload = record
        .payload
        .ok_or_else(|| store_err(format!("point {id} has no payload")))?;
    let mut point = ChunkPoint {
        id,
        dense: None,
        sparse: Sparse::default(),
        payload: from_stored(serde_json::Value::Object(payload.0))?,
    };
    if let Some(VectorStructInternal::Named(vectors)) = record.vector {
        for (name, vector) in vectors {
            match (name.as_str(), vector) {
                (BM25, VectorInternal::Sparse(sparse)) => {
                    point.sparse = Sparse {
                        indices: sparse.indices,
                        values: sparse.values,
                    };
                }
                (DENSE, VectorInternal::Dense(dense)) => point.dense = Some(dense),
                _ => {}
            }
        }
    }
    Ok(point)
}

fn create_keyword_index(shard: &EdgeShard, field: &str, is_tenant: bool) -> Result<()> {
    let params = KeywordIndexParams {
        is_tenant: Some(is_tenant),
        ..KeywordIndexParams::default()
    };
    let op = FieldIndexOperations::CreateIndex(CreateIndex {
        field_name: json_path(field)?,
        field_schema: Some(PayloadFieldSchema::FieldParams(
            PayloadSchemaParams::Keyword(params),
        )),
    });
    shard
        .update(UpdateOperation::FieldIndexOperation(op))
        .map_err(store_err)
}

fn json_path(field: &str) -> Result<JsonPath> {
    field
        .parse()
        .map_err(|_| store_err(format!("invalid payload field {field:?}")))
}

fn keyword(field: &str, value: &str) -> Result<Condition> {
    Ok(Condition::Field(FieldCondition::new_match(
        json_path(field)?,
        Match::from(value.to_owned()),
    )))
}

fn tenant_filter(tenant_id: &str) -> Result<Filter> {
    Ok(Filter::new_must(keyword(TENANT, tenant_id)?))
}

fn acl_payload(acl: &[String], filter: Option<Filter>) -> SetPayloadOp {
    let mut payload = serde_json::Map::new();
    payload.insert(ACL.to_owned(), serde_json::json!(stored_acl(acl)));
    SetPayloadOp {
        payload: Payload(payload),
        points: None,
        filter,
        key: None,
    }
}

/// The tenant's chunks that `groups` may see: public ones, and those whose ACL shares a group
/// with the caller.
fn visible_filter(tenant_id: &str, groups: &[String]) -> Result<Filter> {
    let mut filter = tenant_filter(tenant_id)?;
    let condition = Condition::Field(FieldCondition::new_match(
        json_path(ACL)?,
        Match::from(visible_groups(groups)),
    ));
    filter.must.get_or_insert_with(Vec::new).push(condition);
    Ok(filter)
}

fn sparse_vector(sparse: &Sparse) -> SparseVector {
    SparseVector {
        indices: sparse.indices.clone(),
        values: sparse.values.clone(),
    }
}

fn to_point(point: ChunkPoint) -> Result<PointStruct> {
    let mut vectors = vec![(
        BM25.to_owned(),
        Vector::new_sparse(point.sparse.indices, point.sparse.values).map_err(store_err)?,
    )];
    if let Some(dense) = point.dense {
        vectors.push((DENSE.to_owned(), Vector::new_dense(dense)));
    }
    let payload = to_stored(&point.payload)?;
    let id = PointId::Uuid(EdgeUuid::from_bytes(*point.id.as_bytes()));
    Ok(PointStruct::new(id, Vectors::new_named(vectors), payload))
}

fn to_hit(point: ScoredPoint) -> Result<Hit> {
    let id = match point.id {
        PointId::Uuid(uuid) => uuid::Uuid::from_bytes(*uuid.as_bytes()),
        PointId::NumId(n) => uuid::Uuid::from_u128(u128::from(n)),
    };
    let payload = point
        .payload
        .ok_or_else(|| store_err(format!("point {id} has no payload")))?;
    Ok(Hit {
        id,
        score: point.score,
        payload: from_stored(serde_json::Value::Object(payload.0))?,
    })
}

fn nearest(vector: VectorInternal, using: &str) -> ScoringQuery {
    ScoringQuery::Vector(QueryEnum::Nearest(NamedQuery::new(vector, using)))
}

fn build_query(query: &SearchQuery, dense_enabled: bool) -> Result<Option<QueryRequest>> {
    let filter = visible_filter(&query.tenant_id, &query.groups)?;
    let bm25 = (!query.sparse.is_empty() && query.mode != SearchMode::Dense)
        .then(|| nearest(VectorInternal::Sparse(sparse_vector(&query.sparse)), BM25));
    let dense = query
        .dense
        .clone()
        .filter(|_| dense_enabled && query.mode != SearchMode::Bm25)
        .map(|v| nearest(VectorInternal::Dense(v), DENSE));
    let (prefetches, scoring, threshold, filter) = match (bm25, dense) {
        (None, None) => return Ok(None),
        (Some(bm25), None) => (Vec::new(), bm25, Some(query.min_bm25_score), Some(filter)),
        (None, Some(dense)) => (Vec::new(), dense, Some(query.min_dense_score), Some(filter)),
        (Some(bm25), Some(dense)) => {
            let prefetch = |scoring: ScoringQuery, min: f32| Prefetch {
                prefetches: Vec::new(),
                query: Some(scoring),
                limit: query.candidates,
                params: None,
                filter: Some(filter.clone()),
                score_threshold: Some(OrderedFloat(min)),
            };
            // Equal weights are plain RRF; sent as None so the index takes its unweighted path.
            let weighted = query.bm25_weight != 1.0 || query.dense_weight != 1.0;
            let fusion = ScoringQuery::Fusion(Fusion::Rrf {
                k: query.rrf_k,
                weights: weighted.then(|| {
                    vec![
                        OrderedFloat(query.bm25_weight),
                        OrderedFloat(query.dense_weight),
                    ]
                }),
            });
            (
                vec![
                    prefetch(bm25, query.min_bm25_score),
                    prefetch(dense, query.min_dense_score),
                ],
                fusion,
                None,
                // The prefetches carry the filter; one on the query too would be merged into
                // each of them and every candidate checked twice.
                None,
            )
        }
    };
    Ok(Some(QueryRequest {
        prefetches,
        query: Some(scoring),
        filter,
        score_threshold: threshold.map(OrderedFloat),
        limit: query.limit,
        offset: 0,
        params: None,
        with_vector: WithVector::Bool(false),
        with_payload: WithPayloadInterface::Bool(true),
    }))
}

impl EdgeStore {
    /// The dimension of the dense vectors the index was built with, if it has them.
    pub fn stored_dense_dimensions(&self) -> Option<usize> {
        self.stored_dense
    }

    /// Up to `limit` points after `after` (None: from the start) in id order, with their vectors,
    /// and the id to continue from (None: the end) — what `ragway index migrate` copies.
    pub async fn scroll(
        &self,
        after: Option<uuid::Uuid>,
        limit: usize,
    ) -> Result<(Vec<ChunkPoint>, Option<uuid::Uuid>)> {
        self.blocking(move |shard| {
            let request = ScrollRequest {
                offset: after.map(|id| PointId::Uuid(EdgeUuid::from_bytes(*id.as_bytes()))),
                limit: Some(limit.max(1)),
                filter: None,
                with_payload: Some(WithPayloadInterface::Bool(true)),
                with_vector: WithVector::Bool(true),
                order_by: None,
            };
            let (records, next) = shard.scroll(request).map_err(store_err)?;
            let next = next.map(|id| match id {
                PointId::Uuid(uuid) => uuid::Uuid::from_bytes(*uuid.as_bytes()),
                PointId::NumId(n) => uuid::Uuid::from_u128(u128::from(n)),
            });
            let points = records
                .into_iter()
                .map(from_record)
                .collect::<Result<Vec<_>>>()?;
            Ok((points, next))
        })
        .await
    }
}

#[async_trait::async_trait]
impl VectorStore for EdgeStore {
    fn backend(&self) -> &'static str {
        "edge"
    }

    fn owned_by_this_process(&self) -> bool {
        true
    }

    fn dense_dimensions(&self) -> Option<usize> {
        self.dense
    }

    async fn upsert(&self, points: Vec<ChunkPoint>) -> Result<()> {
        if points.is_empty() {
            return Ok(());
        }
        let points = points
            .into_iter()
            .map(|p| to_point(p).map(Into::into))
            .collect::<Result<Vec<_>>>()?;
        let op = PointOperations::UpsertPoints(PointInsertOperations::PointsList(points));
        self.write(UpdateOperation::PointOperation(op)).await
    }

    async fn delete_document_chunks(
        &self,
        tenant_id: &str,
        document_id: &str,
        from_index: usize,
    ) -> Result<()> {
        let mut filter = tenant_filter(tenant_id)?;
        let mut must = vec![keyword(DOCUMENT, document_id)?];
        if from_index > 0 {
            let range = Range {
                gte: Some(OrderedFloat(from_index as f64)),
                ..Range::default()
            };
            must.push(Condition::Field(FieldCondition::new_range(
                json_path(CHUNK_INDEX)?,
                range,
            )));
        }
        filter.must.get_or_insert_with(Vec::new).extend(must);
        let op = PointOperations::DeletePointsByFilter(filter);
        self.write(UpdateOperation::PointOperation(op)).await
    }

    async fn delete_tenant(&self, tenant_id: &str) -> Result<()> {
        let op = PointOperations::DeletePointsByFilter(tenant_filter(tenant_id)?);
        self.write(UpdateOperation::PointOperation(op)).await
    }

    async fn set_document_acl(
        &self,
        tenant_id: &str,
        document_id: &str,
        acl: &[String],
    ) -> Result<()> {
        let mut filter = tenant_filter(tenant_id)?;
        filter
            .must
            .get_or_insert_with(Vec::new)
            .push(keyword(DOCUMENT, document_id)?);
        let op = PayloadOps::SetPayload(acl_payload(acl, Some(filter)));
        self.write(UpdateOperation::PayloadOperation(op)).await
    }

    /// qdrant-edge never optimizes on its own: without this, every point stays in one appendable
    /// segment whose BM25 inverted index is rebuilt in memory at every start (13 s and ~1 GB of
    /// RSS for 100k chunks) and whose dense vectors are only ever scanned.
    async fn optimize(&self) -> Result<bool> {
        let writes = Arc::clone(&self.writes);
        self.blocking(move |shard| {
            let _guard = writes
                .lock()
                .map_err(|_| store_err("a previous write panicked"))?;
            let changed = shard.optimize().map_err(store_err)?;
            if changed {
                shard.flush();
            }
            Ok(changed)
        })
        .await
    }

    async fn search(&self, query: SearchQuery) -> Result<Vec<Hit>> {
        let Some(request) = build_query(&query, self.dense.is_some())? else {
            return Ok(Vec::new());
        };
        let _running = self
            .searches
            .acquire()
            .await
            .map_err(|_| store_err("the index is closed"))?;
        self.blocking(move |shard| {
            shard
                .query(request)
                .map_err(store_err)?
                .into_iter()
                .map(to_hit)
                .collect()
        })
        .await
    }

    async fn count(&self, tenant_id: &str) -> Result<usize> {
        let filter = tenant_filter(tenant_id)?;
        self.blocking(move |shard| {
            shard
                .count(CountRequest {
                    filter: Some(filter),
                    exact: true,
                })
                .map_err(store_err)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fused_query_filters_each_candidate_once() {
        let sparse = Sparse {
            indices: vec![1, 2],
            values: vec![0.5, 0.5],
        };
        let mut query = SearchQuery::unfiltered("acme", sparse, Some(vec![0.1; 4]), 5);
        query.groups = vec!["hr".into()];
        let request = build_query(&query, true).unwrap().unwrap();
        // Qdrant merges the query's filter into every prefetch: it must be on one side only.
        assert!(request.filter.is_none());
        assert_eq!(request.prefetches.len(), 2);
        for prefetch in &request.prefetches {
            let filter = prefetch.filter.as_ref().unwrap();
            assert_eq!(filter.must.as_ref().map(Vec::len), Some(2), "{filter:?}");
        }

        query.mode = SearchMode::Bm25;
        let single = build_query(&query, true).unwrap().unwrap();
        assert!(single.prefetches.is_empty());
        let filter = single.filter.unwrap();
        assert_eq!(filter.must.map(|m| m.len()), Some(2), "tenant and ACL");
    }
}
