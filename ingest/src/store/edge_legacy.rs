//! Indexes made before shards per tenant held every tenant in one shard at the index's root.
//! The first open after the upgrade splits it: every point (vectors and payload, nothing
//! re-embedded) is copied into its tenant's shard in a side directory, which then replaces the
//! shared shard. A crash midway leaves the shared shard untouched and the next open starts over.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use qdrant_edge::{CountRequest, ScrollRequest, WithPayloadInterface, WithVector};

use super::edge_layout::{Layout, remove_dir_if_exists, shard_dir, write_layout};
use super::edge_points::{from_record, to_point, upsert_op};
use super::edge_shard::{ShardSettings, TenantShard};
use super::stored::store_err;
use crate::error::{IngestError, Result};

/// What the shared shard kept at the index's root.
pub(super) const FILES: [&str; 4] = ["edge_config.json", "segments", "temp_segments", "wal"];
/// Points copied per write.
const BATCH: usize = 1024;

/// Whether `dir` holds a shared shard.
pub(super) fn exists(dir: &Path) -> bool {
    dir.join(FILES[0]).exists()
}

/// Copies the shared shard in `dir` into one shard per tenant under `into` (with the layout).
pub(super) fn split(dir: &Path, into: &Path) -> Result<()> {
    let shared = TenantShard::load(dir)?;
    let dense = shared.dense_size()?;
    write_layout(into, &Layout { dense })?;
    let total = shared
        .get()?
        .count(CountRequest {
            filter: None,
            exact: true,
        })
        .map_err(store_err)?;
    tracing::info!(
        points = total,
        "splitting the embedded index into one shard per tenant (once, after an upgrade)"
    );
    let mut shards: HashMap<String, TenantShard> = HashMap::new();
    let (mut offset, mut copied) = (None, 0usize);
    loop {
        let request = ScrollRequest {
            offset,
            limit: Some(BATCH),
            filter: None,
            with_payload: Some(WithPayloadInterface::Bool(true)),
            with_vector: WithVector::Bool(true),
            order_by: None,
        };
        let (records, next) = shared.get()?.scroll(request).map_err(store_err)?;
        let mut by_tenant: BTreeMap<String, Vec<_>> = BTreeMap::new();
        for record in records {
            let point = from_record(record)?;
            let tenant = point.payload.tenant_id.clone();
            by_tenant.entry(tenant).or_default().push(to_point(point)?);
        }
        for (tenant, points) in by_tenant {
            copied += points.len();
            let shard = match shards.entry(tenant) {
                std::collections::hash_map::Entry::Occupied(entry) => entry.into_mut(),
                std::collections::hash_map::Entry::Vacant(entry) => {
                    let dir = shard_dir(into, entry.key())?;
                    entry.insert(TenantShard::create(
                        &dir,
                        ShardSettings {
                            dense,
                            ..ShardSettings::default()
                        },
                    )?)
                }
            };
            shard.write(upsert_op(points))?;
        }
        tracing::info!(copied, total, "splitting the embedded index");
        offset = next;
        if offset.is_none() {
            break;
        }
    }
    for shard in shards.values() {
        shard.optimize()?;
    }
    tracing::info!(
        tenants = shards.len(),
        points = copied,
        "the embedded index now has one shard per tenant"
    );
    Ok(())
}

/// Removes the shared shard's files from `dir` (once its points live in the tenants' shards).
pub(super) fn remove(dir: &Path) -> Result<()> {
    for name in FILES {
        let path = dir.join(name);
        if path.is_dir() {
            remove_dir_if_exists(&path)?;
        } else if path.exists() {
            std::fs::remove_file(&path).map_err(|e| IngestError::io(&path, e))?;
        }
    }
    Ok(())
}
