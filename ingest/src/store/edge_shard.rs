//! One qdrant-edge shard of the embedded index: a tenant's points (or, in indexes made before
//! shards per tenant, everyone's). Its API is synchronous and CPU/disk-bound: callers run it on
//! the blocking pool.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use qdrant_edge::{
    Condition, CreateIndex, Distance, EdgeConfigBuilder, EdgeOptimizersConfig, EdgeShard,
    EdgeSparseVectorParamsBuilder, EdgeVectorParamsBuilder, FieldIndexOperations, Filter,
    IsEmptyCondition, JsonPath, KeywordIndexParams, Modifier, Payload, PayloadFieldSchema,
    PayloadOps, PayloadSchemaParams, ScalarQuantizationConfig, ScalarType, SetPayloadOp,
    UpdateOperation,
};

use super::edge_wal;
use super::stored::{ACL, DOCUMENT, store_err, stored_acl};
use super::{BM25, DENSE};
use crate::error::{IngestError, Result};

/// A shard and the lock its writers take: qdrant-edge's flush panics if it meets a concurrent
/// writer. Dropping it closes the shard (see [`Drop`]).
pub(super) struct TenantShard {
    shard: Option<EdgeShard>,
    writes: Mutex<()>,
    /// Written (or opened) since the last optimize.
    dirty: AtomicBool,
    /// Points upserted into the appendable segment since it was last indexed.
    unindexed: AtomicUsize,
    /// Updated since the last flush (see [`Self::upsert`] with `durable` false).
    unflushed: AtomicBool,
}

/// Points an appendable segment takes before it is indexed during a long write. qdrant-edge
/// 0.7.2 inserts into a BM25 posting list of the appendable segment by rewriting every earlier
/// entry of that list, so N points cost O(N²) for every common term (19.7 % of a 20,000-chunk
/// sync's CPU; a 60,000-chunk sync took 47 s instead of 33.5 s, docs/BENCHMARKS.md). Indexing the
/// segment every so many points keeps that cost linear; the segments are merged once, when the
/// sync optimizes at its end.
const INDEX_EVERY_POINTS: usize = 5_000;

/// The number of segments the optimizer aims at while a segment is indexed mid-write: high
/// enough that it only indexes, leaving the merge to the optimize at the end of the sync.
const UNMERGED_SEGMENTS: usize = 4_096;

/// How a new shard is laid out; a shard keeps the layout it was created with.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct ShardSettings {
    /// Dimensions of the dense vectors (None: BM25 only).
    pub dense: Option<usize>,
    /// The BM25 inverted index memory-mapped rather than copied into RAM.
    pub bm25_on_disk: bool,
    /// Int8 copies of the dense vectors, which the graph search scores; the float32 originals
    /// rescore the candidates (see `edge_points::build_query`).
    pub int8_quantization: bool,
}

impl TenantShard {
    /// A new, empty shard in `dir`, laid out as `settings` say.
    pub(super) fn create(dir: &Path, settings: ShardSettings) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(|e| IngestError::io(dir, e))?;
        let mut bm25 = EdgeSparseVectorParamsBuilder::new().modifier(Modifier::Idf);
        if settings.bm25_on_disk {
            // Optimized segments then map their inverted index (the same file an in-RAM one is
            // copied from): ≈ 96 MB less RSS for 141k chunks, ≈ 8 % fewer misses a second.
            bm25 = bm25.on_disk(true);
        }
        let mut config = EdgeConfigBuilder::new()
            .wal_options(edge_wal::wal_options())
            .sparse_vector(BM25, bm25.build());
        if let Some(size) = settings.dense {
            // Memory-mapped, not loaded: a 100k-chunk index's vectors are 150 MB, and a search
            // reads only the pages of the vectors it visits.
            let mut vectors = EdgeVectorParamsBuilder::new(size, Distance::Cosine).on_disk(true);
            if settings.int8_quantization {
                // Mapped too: the graph walk then touches a quarter of the pages it would in the
                // float32 vectors (≈ 25 MB less RSS serving 100k chunks, docs/BENCHMARKS.md).
                vectors = vectors.quantization_config(
                    ScalarQuantizationConfig {
                        r#type: ScalarType::Int8,
                        quantile: Some(0.99),
                        always_ram: Some(false),
                    }
                    .into(),
                );
            }
            config = config.vector(DENSE, vectors.build());
        }
        let shard = EdgeShard::new(dir, config.build()).map_err(store_err)?;
        create_keyword_index(&shard, DOCUMENT)?;
        create_keyword_index(&shard, ACL)?;
        Ok(Self::wrap(shard, false))
    }

    /// The shard in `dir`, as a previous run left it.
    pub(super) fn load(dir: &Path) -> Result<Self> {
        let freed = edge_wal::prune(&dir.join("wal"))?;
        if freed > 0 {
            tracing::info!(
                shard = %dir.display(),
                mb = freed / 1_000_000,
                "removed write-ahead log segments the index no longer needs"
            );
        }
        let shard = EdgeShard::load(dir, None).map_err(store_err)?;
        settle_optimizers(&shard)?;
        upgrade_to_acls(&shard)?;
        // Whether an earlier run optimized it is unknown: the first optimize looks.
        Ok(Self::wrap(shard, true))
    }

    fn wrap(shard: EdgeShard, dirty: bool) -> Self {
        Self {
            shard: Some(shard),
            writes: Mutex::new(()),
            dirty: AtomicBool::new(dirty),
            unindexed: AtomicUsize::new(0),
            unflushed: AtomicBool::new(false),
        }
    }

    pub(super) fn get(&self) -> Result<&EdgeShard> {
        self.shard
            .as_ref()
            .ok_or_else(|| store_err("the index is closed"))
    }

    /// The dimension of the shard's dense vectors, if it has them.
    pub(super) fn dense_size(&self) -> Result<Option<usize>> {
        Ok(self.get()?.config().vectors.get(DENSE).map(|p| p.size))
    }

    /// Applies one update and flushes it to disk before returning. qdrant-edge 0.7 does not
    /// replay its WAL on load, so an unflushed write would be lost in a crash — and the sync
    /// records a document in the manifest only after its points are durable.
    pub(super) fn write(&self, operation: UpdateOperation) -> Result<()> {
        self.apply(operation, true)
    }

    fn apply(&self, operation: UpdateOperation, flush: bool) -> Result<()> {
        let _guard = self
            .writes
            .lock()
            .map_err(|_| store_err("a previous write panicked"))?;
        let shard = self.get()?;
        self.dirty.store(true, Ordering::Release);
        self.unflushed.store(true, Ordering::Release);
        shard.update(operation).map_err(store_err)?;
        if flush {
            self.flush_locked(shard);
        }
        Ok(())
    }

    /// Upserts `points` points — flushed before returning if `durable`, else left for the next
    /// [`Self::persist`] — and indexes the appendable segment once it holds
    /// [`INDEX_EVERY_POINTS`] of them.
    pub(super) fn upsert(
        &self,
        operation: UpdateOperation,
        points: usize,
        durable: bool,
    ) -> Result<()> {
        self.apply(operation, durable)?;
        let unindexed = self.unindexed.fetch_add(points, Ordering::AcqRel) + points;
        if unindexed >= INDEX_EVERY_POINTS {
            self.index_appendable()?;
        }
        Ok(())
    }

    /// Flushes what was applied since the last flush, if anything: a flush syncs every file of
    /// every segment (≈ 50 syscalls a shard), so a sync flushes a run of writes at once.
    pub(super) fn persist(&self) -> Result<()> {
        if !self.unflushed.load(Ordering::Acquire) {
            return Ok(());
        }
        let _guard = self
            .writes
            .lock()
            .map_err(|_| store_err("a previous write panicked"))?;
        self.flush_locked(self.get()?);
        Ok(())
    }

    /// Call with `writes` held: an update between the flush and the flag would be marked flushed.
    fn flush_locked(&self, shard: &EdgeShard) {
        shard.flush();
        self.unflushed.store(false, Ordering::Release);
    }

    /// Turns the appendable segment into an indexed one (a fresh appendable segment takes the
    /// next writes) without merging it with the others. The shard stays dirty: the optimize at
    /// the end of the sync merges what this leaves.
    fn index_appendable(&self) -> Result<()> {
        let _guard = self
            .writes
            .lock()
            .map_err(|_| store_err("a previous write panicked"))?;
        let shard = self.get()?;
        let points = self.unindexed.swap(0, Ordering::AcqRel);
        let started = std::time::Instant::now();
        let settled = shard.config().optimizers.clone();
        shard
            .set_optimizers_config(indexing_only(&settled))
            .map_err(store_err)?;
        let indexed = shard.optimize().map_err(store_err);
        // Restored even if indexing failed: the end-of-sync optimize must merge again.
        shard.set_optimizers_config(settled).map_err(store_err)?;
        if indexed? {
            self.flush_locked(shard);
        }
        tracing::debug!(
            points,
            ms = started.elapsed().as_millis() as u64,
            "appendable segment indexed"
        );
        Ok(())
    }

    /// Optimizes the shard if it was written since the last time; true if anything changed.
    pub(super) fn optimize(&self) -> Result<bool> {
        let _guard = self
            .writes
            .lock()
            .map_err(|_| store_err("a previous write panicked"))?;
        if !self.dirty.swap(false, Ordering::AcqRel) {
            return Ok(false);
        }
        self.unindexed.store(0, Ordering::Release);
        let shard = self.get()?;
        let changed = shard.optimize().map_err(store_err)?;
        if changed || self.unflushed.load(Ordering::Acquire) {
            self.flush_locked(shard);
        }
        Ok(changed)
    }

    fn path(&self) -> Option<PathBuf> {
        self.shard.as_ref().map(|s| s.path().to_path_buf())
    }
}

/// The shard's drop-time flush panics on I/O errors (e.g. when its directory was removed): it
/// must not unwind through ragway. Nothing recorded is lost: a sync records documents only after
/// their points are flushed ([`TenantShard::persist`]), and unrecorded points are written again.
impl Drop for TenantShard {
    fn drop(&mut self) {
        let exists = self.path().is_some_and(|p| p.exists());
        if let Some(shard) = self.shard.take() {
            if !exists {
                // The directory was removed (a deleted tenant): nothing left to flush into.
                std::mem::forget(shard);
                return;
            }
            let closed =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || drop(shard)));
            if closed.is_err() {
                tracing::warn!(
                    "the index could not be flushed on close; every recorded write was already flushed"
                );
            }
        }
    }
}

/// The optimizer settings of [`TenantShard::index_appendable`]: index any appendable segment
/// (its size was already judged) and merge nothing.
fn indexing_only(settled: &EdgeOptimizersConfig) -> EdgeOptimizersConfig {
    EdgeOptimizersConfig {
        indexing_threshold: Some(1),
        default_segment_number: Some(UNMERGED_SEGMENTS),
        ..settled.clone()
    }
}

/// A process that stopped while indexing a segment mid-write left the indexing-only settings in
/// the shard's config: its segments would never be merged again. Back to the defaults.
fn settle_optimizers(shard: &EdgeShard) -> Result<()> {
    let current = shard.config().optimizers.clone();
    if current.default_segment_number == Some(UNMERGED_SEGMENTS) {
        shard
            .set_optimizers_config(EdgeOptimizersConfig {
                indexing_threshold: None,
                default_segment_number: None,
                ..current
            })
            .map_err(store_err)?;
    }
    Ok(())
}

/// Shards made before document ACLs existed get the `acl` index on first open, and their points
/// (all public then) the public marker.
fn upgrade_to_acls(shard: &EdgeShard) -> Result<()> {
    let acl_field = json_path(ACL)?;
    if shard.info().payload_schema.contains_key(&acl_field) {
        return Ok(());
    }
    create_keyword_index(shard, ACL)?;
    let unmarked = Filter::new_must(Condition::IsEmpty(IsEmptyCondition::from(acl_field)));
    shard
        .update(UpdateOperation::PayloadOperation(PayloadOps::SetPayload(
            acl_payload(&[], Some(unmarked)),
        )))
        .map_err(store_err)?;
    shard.flush();
    Ok(())
}

pub(super) fn acl_payload(acl: &[String], filter: Option<Filter>) -> SetPayloadOp {
    let mut payload = serde_json::Map::new();
    payload.insert(ACL.to_owned(), serde_json::json!(stored_acl(acl)));
    SetPayloadOp {
        payload: Payload(payload),
        points: None,
        filter,
        key: None,
    }
}

fn create_keyword_index(shard: &EdgeShard, field: &str) -> Result<()> {
    let op = FieldIndexOperations::CreateIndex(CreateIndex {
        field_name: json_path(field)?,
        field_schema: Some(PayloadFieldSchema::FieldParams(
            PayloadSchemaParams::Keyword(KeywordIndexParams::default()),
        )),
    });
    shard
        .update(UpdateOperation::FieldIndexOperation(op))
        .map_err(store_err)
}

pub(super) fn json_path(field: &str) -> Result<JsonPath> {
    field
        .parse()
        .map_err(|_| store_err(format!("invalid payload field {field:?}")))
}
