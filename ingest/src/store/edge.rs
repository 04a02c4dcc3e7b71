//! [`VectorStore`] on embedded qdrant-edge shards, one per tenant (`<dir>/shards/<tenant>`).
//! In one shared shard every posting list and the dense graph spanned all tenants, and a
//! question paid for every tenant's points before the tenant filter threw them away: with 7
//! tenants a miss cost 43 % less CPU on a shard of its tenant's alone (docs/BENCHMARKS.md).
//! A shard per tenant also makes deleting a tenant removing a directory.
//! qdrant-edge's API is synchronous and CPU/disk-bound, so every call runs on the blocking pool.
//! A lock file keeps a second process off the index.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use qdrant_edge::external::ordered_float::OrderedFloat;
use qdrant_edge::{
    Condition, CountRequest, FieldCondition, Filter, PayloadOps, PointOperations, PointStruct,
    Range, ScrollRequest, UpdateOperation, WithPayloadInterface, WithVector,
};

use super::edge_layout::{
    LAYOUT, Layout, SHARDS, read_layout, remove_dir_if_exists, shard_dir, write_layout,
};
use super::edge_legacy;
use super::edge_points::{
    build_query, from_point_id, from_record, keyword, to_hit, to_point, to_point_id, upsert_op,
};
use super::edge_shard::{ShardSettings, TenantShard, acl_payload, json_path};
use super::stored::{CHUNK_INDEX, DOCUMENT, store_err};
use super::{ChunkPoint, Hit, SearchQuery, VectorStore};
use crate::error::{IngestError, Result};

/// A tenant's shard being removed: renamed first, so a crash never leaves half a shard behind.
const DELETING: &str = ".deleting-";

type Shards = HashMap<String, Arc<TenantShard>>;

pub struct EdgeStore {
    shards: Arc<RwLock<Shards>>,
    /// Serialises creating shards (two first writes of one tenant must not both create it).
    creating: Arc<Mutex<()>>,
    root: PathBuf,
    /// Searches running at once, one per core: more only queue on the CPU (searches run on the
    /// async workers; before, each one waiting on a blocking thread of its own grew the process
    /// by hundreds of threads and their allocator heaps when questions came faster than the cores
    /// answer them).
    searches: Arc<tokio::sync::Semaphore>,
    dense: Option<usize>,
    /// The dimension of the dense vectors the index holds (even when no embedder is configured).
    stored_dense: Option<usize>,
    /// Whether shards created from now on map their BM25 inverted index instead of loading it.
    bm25_on_disk: bool,
    /// Whether shards created from now on keep int8 copies of their dense vectors.
    int8_quantization: bool,
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
    /// Opens (or creates) the index in `dir`. `dense` is the embedder's dimension, if one is
    /// configured. An index made before shards per tenant is split into them first (once).
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
        let root = dir.join(SHARDS);
        if !root.exists() {
            let partial = dir.join("shards.partial");
            remove_dir_if_exists(&partial)?;
            if edge_legacy::exists(dir) {
                edge_legacy::split(dir, &partial)?;
            } else {
                write_layout(&partial, &Layout { dense })?;
            }
            // The rename makes the shards (and their layout) appear at once.
            std::fs::rename(&partial, &root).map_err(|e| IngestError::io(&root, e))?;
        }
        // A split interrupted after its rename left the shared shard's files behind.
        edge_legacy::remove(dir)?;
        let stored_dense = read_layout(&root)?.dense;
        check_dense(dir, dense, stored_dense)?;
        let shards = load_shards(&root)?;
        Ok(Self {
            shards: Arc::new(RwLock::new(shards)),
            creating: Arc::new(Mutex::new(())),
            root,
            searches: Arc::new(tokio::sync::Semaphore::new(
                std::thread::available_parallelism().map_or(2, |n| n.get()),
            )),
            dense: stored_dense.filter(|_| dense.is_some()),
            stored_dense,
            bm25_on_disk: false,
            int8_quantization: false,
            path: dir.to_path_buf(),
            _lock: lock,
        })
    }

    /// Shards created from now on keep their BM25 inverted index memory-mapped (`[index]
    /// on_disk`): less RAM, slightly slower BM25 searches. Existing shards keep theirs.
    pub fn with_bm25_on_disk(mut self, on_disk: bool) -> Self {
        self.bm25_on_disk = on_disk;
        self
    }

    /// Shards created from now on keep int8 copies of their dense vectors (`[index]
    /// quantization`), which the graph search scores; the originals rescore its candidates.
    /// Existing shards keep their layout.
    pub fn with_int8_quantization(mut self, int8: bool) -> Self {
        self.int8_quantization = int8;
        self
    }

    fn shard_settings(&self) -> ShardSettings {
        ShardSettings {
            dense: self.stored_dense,
            bm25_on_disk: self.bm25_on_disk,
            int8_quantization: self.int8_quantization,
        }
    }

    /// Whether `dir` holds an embedded index (of either layout).
    pub fn exists(dir: &Path) -> bool {
        dir.join(SHARDS).join(LAYOUT).exists() || edge_legacy::exists(dir)
    }

    /// The dimension of the dense vectors the index was built with, if it has them.
    pub fn stored_dense_dimensions(&self) -> Option<usize> {
        self.stored_dense
    }

    /// The tenants that have a shard, in order.
    pub fn tenants(&self) -> Result<Vec<String>> {
        let mut tenants: Vec<String> = self.read_shards()?.keys().cloned().collect();
        tenants.sort();
        Ok(tenants)
    }

    /// Up to `limit` of a tenant's points after `after` (None: from the start) in id order, with
    /// their vectors, and the id to continue from (None: the end) — what `ragway index migrate`
    /// copies.
    pub async fn scroll(
        &self,
        tenant_id: &str,
        after: Option<uuid::Uuid>,
        limit: usize,
    ) -> Result<(Vec<ChunkPoint>, Option<uuid::Uuid>)> {
        let Some(shard) = self.shard(tenant_id)? else {
            return Ok((Vec::new(), None));
        };
        blocking(move || {
            let request = ScrollRequest {
                offset: after.map(to_point_id),
                limit: Some(limit.max(1)),
                filter: None,
                with_payload: Some(WithPayloadInterface::Bool(true)),
                with_vector: WithVector::Bool(true),
                order_by: None,
            };
            let (records, next) = shard.get()?.scroll(request).map_err(store_err)?;
            let next = next.map(from_point_id);
            let points = records
                .into_iter()
                .map(from_record)
                .collect::<Result<Vec<_>>>()?;
            Ok((points, next))
        })
        .await
    }

    fn read_shards(&self) -> Result<std::sync::RwLockReadGuard<'_, Shards>> {
        self.shards
            .read()
            .map_err(|_| store_err("the index's shard map was poisoned"))
    }

    /// The tenant's shard, if it has one.
    fn shard(&self, tenant_id: &str) -> Result<Option<Arc<TenantShard>>> {
        Ok(self.read_shards()?.get(tenant_id).cloned())
    }

    /// Writes `operation` to the tenant's shard; a tenant without one has nothing to change.
    async fn write_existing(&self, tenant_id: &str, operation: UpdateOperation) -> Result<()> {
        match self.shard(tenant_id)? {
            Some(shard) => blocking(move || shard.write(operation)).await,
            None => Ok(()),
        }
    }
}

/// The tenant's shard, created (empty) on its first write.
fn shard_for_write(
    shards: &RwLock<Shards>,
    creating: &Mutex<()>,
    root: &Path,
    settings: ShardSettings,
    tenant_id: &str,
) -> Result<Arc<TenantShard>> {
    let read = |shards: &RwLock<Shards>| -> Result<Option<Arc<TenantShard>>> {
        let map = shards.read().map_err(|_| store_err("shard map poisoned"))?;
        Ok(map.get(tenant_id).cloned())
    };
    if let Some(shard) = read(shards)? {
        return Ok(shard);
    }
    let _creating = creating
        .lock()
        .map_err(|_| store_err("creating a shard panicked"))?;
    if let Some(shard) = read(shards)? {
        return Ok(shard);
    }
    let shard = Arc::new(TenantShard::create(&shard_dir(root, tenant_id)?, settings)?);
    shards
        .write()
        .map_err(|_| store_err("shard map poisoned"))?
        .insert(tenant_id.to_owned(), Arc::clone(&shard));
    Ok(shard)
}

fn check_dense(dir: &Path, wanted: Option<usize>, stored: Option<usize>) -> Result<()> {
    match (wanted, stored) {
        (Some(wanted), Some(stored)) if wanted != stored => Err(IngestError::Config(format!(
            "the index at {} holds {stored}-dimensional dense vectors but the embedder gives {wanted}; \
             remove the index directory and re-ingest",
            dir.display()
        ))),
        (Some(_), None) => Err(IngestError::Config(format!(
            "the index at {} was built without dense vectors; remove the index directory and \
             re-ingest to enable the embedder",
            dir.display()
        ))),
        _ => Ok(()),
    }
}

/// Every tenant's shard under `root`; what a deletion left half-removed goes.
fn load_shards(root: &Path) -> Result<Shards> {
    let mut shards = HashMap::new();
    let entries = std::fs::read_dir(root).map_err(|e| IngestError::io(root, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| IngestError::io(root, e))?;
        let path = entry.path();
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        if !path.is_dir() {
            continue;
        }
        if name.starts_with(DELETING) {
            remove_dir_if_exists(&path)?;
            continue;
        }
        shards.insert(name, Arc::new(TenantShard::load(&path)?));
    }
    Ok(shards)
}

async fn blocking<T, F>(f: F) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T> + Send + 'static,
{
    tokio::task::spawn_blocking(f).await?
}

impl EdgeStore {
    /// Writes points into their tenants' shards, flushed before returning if `durable`.
    async fn upsert_points(&self, points: Vec<ChunkPoint>, durable: bool) -> Result<()> {
        let mut by_tenant: BTreeMap<String, Vec<PointStruct>> = BTreeMap::new();
        for point in points {
            let tenant = point.payload.tenant_id.clone();
            by_tenant.entry(tenant).or_default().push(to_point(point)?);
        }
        if by_tenant.is_empty() {
            return Ok(());
        }
        let (shards, creating) = (Arc::clone(&self.shards), Arc::clone(&self.creating));
        let (root, settings) = (self.root.clone(), self.shard_settings());
        blocking(move || {
            for (tenant, points) in by_tenant {
                let shard = shard_for_write(&shards, &creating, &root, settings, &tenant)?;
                let count = points.len();
                shard.upsert(upsert_op(points), count, durable)?;
            }
            Ok(())
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
        self.upsert_points(points, true).await
    }

    async fn upsert_buffered(&self, points: Vec<ChunkPoint>) -> Result<()> {
        self.upsert_points(points, false).await
    }

    async fn persist(&self) -> Result<()> {
        let shards: Vec<Arc<TenantShard>> = self.read_shards()?.values().cloned().collect();
        blocking(move || shards.iter().try_for_each(|shard| shard.persist())).await
    }

    async fn delete_document_chunks(
        &self,
        tenant_id: &str,
        document_id: &str,
        from_index: usize,
    ) -> Result<()> {
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
        let filter = Filter {
            must: Some(must),
            ..Filter::default()
        };
        let op = PointOperations::DeletePointsByFilter(filter);
        self.write_existing(tenant_id, UpdateOperation::PointOperation(op))
            .await
    }

    async fn delete_tenant(&self, tenant_id: &str) -> Result<()> {
        let dir = shard_dir(&self.root, tenant_id)?;
        let removed = self
            .shards
            .write()
            .map_err(|_| store_err("shard map poisoned"))?
            .remove(tenant_id);
        let deleting = self.root.join(format!("{DELETING}{tenant_id}"));
        blocking(move || {
            // Closed (and flushed) here unless a search still holds it; then it closes when that
            // ends, finds its directory gone and lets go without flushing.
            drop(removed);
            match std::fs::rename(&dir, &deleting) {
                Ok(()) => remove_dir_if_exists(&deleting),
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(()),
                Err(err) => Err(IngestError::io(&dir, err)),
            }
        })
        .await
    }

    async fn set_document_acl(
        &self,
        tenant_id: &str,
        document_id: &str,
        acl: &[String],
    ) -> Result<()> {
        let filter = Filter::new_must(keyword(DOCUMENT, document_id)?);
        let op = PayloadOps::SetPayload(acl_payload(acl, Some(filter)));
        self.write_existing(tenant_id, UpdateOperation::PayloadOperation(op))
            .await
    }

    /// qdrant-edge never optimizes on its own: without this, every point stays in one appendable
    /// segment whose BM25 inverted index is rebuilt in memory at every start and whose dense
    /// vectors are only ever scanned. Shards not written since their last optimize are skipped.
    async fn optimize(&self) -> Result<bool> {
        let shards: Vec<Arc<TenantShard>> = self.read_shards()?.values().cloned().collect();
        blocking(move || {
            let mut changed = false;
            for shard in shards {
                changed |= shard.optimize()?;
            }
            Ok(changed)
        })
        .await
    }

    async fn search(&self, query: SearchQuery) -> Result<Vec<Hit>> {
        let Some(shard) = self.shard(&query.tenant_id)? else {
            return Ok(Vec::new());
        };
        let Some(request) = build_query(&query, self.dense.is_some())? else {
            return Ok(Vec::new());
        };
        let _running = self
            .searches
            .acquire()
            .await
            .map_err(|_| store_err("the index is closed"))?;
        // Run where the question is, not on a blocking thread: a tenant shard's search is about a
        // millisecond of CPU, and the hop there and back (two thread wake-ups, each thread its
        // own allocator heap) cost 11 % of a cache miss's CPU (docs/BENCHMARKS.md). A worker
        // busy for that millisecond is what the CPU would be anyway; a shard large enough to
        // search for much longer belongs on a Qdrant server (`[index] backend = "qdrant"`).
        shard
            .get()?
            .query(request)
            .map_err(store_err)?
            .into_iter()
            .map(to_hit)
            .collect()
    }

    async fn count(&self, tenant_id: &str) -> Result<usize> {
        let Some(shard) = self.shard(tenant_id)? else {
            return Ok(0);
        };
        blocking(move || {
            shard
                .get()?
                .count(CountRequest {
                    filter: None,
                    exact: true,
                })
                .map_err(store_err)
        })
        .await
    }
}
