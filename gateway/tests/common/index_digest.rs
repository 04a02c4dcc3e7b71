//! A digest of what a data directory holds for a tenant — its points (ids, payloads, vectors)
//! read through the embedded store, and its catalog manifest — comparable across data
//! directories: the ids derived from a source's random id are checked against their derivation
//! and then left out, so two directories that indexed the same documents the same way have the
//! same digest. Used by the crash-recovery and sync-fault tests (include it with `#[path]`).
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::Path;

use ragway_catalog::Catalog;
use ragway_ingest::ids::{document_id, point_id};
use ragway_ingest::store::EdgeStore;
use sha2::{Digest, Sha256};

/// One point, without the ids that depend on the source's id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PointDigest {
    /// Hash of the payload with `source_id` and `document_id` blanked.
    pub payload: String,
    /// Hash of the dense vector (`None`: the point has none).
    pub dense: Option<String>,
    /// Hash of the BM25 sparse vector.
    pub sparse: String,
}

/// What the index and the catalog hold for one tenant, by document uri.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IndexDigest {
    /// `(uri, chunk index)` → the point.
    pub points: BTreeMap<(String, usize), PointDigest>,
    /// uri → the manifest row (`title|mime|hash|size|chunks|acl|analysis`).
    pub manifest: BTreeMap<String, String>,
}

impl IndexDigest {
    /// One hash of everything (what the reports quote).
    pub fn hash(&self) -> String {
        let mut hash = Sha256::new();
        for ((uri, index), point) in &self.points {
            hash.update(format!("{uri}\u{1f}{index}\u{1f}{point:?}\u{1e}"));
        }
        hash.update("\u{1d}");
        for (uri, row) in &self.manifest {
            hash.update(format!("{uri}\u{1f}{row}\u{1e}"));
        }
        hex::encode(&hash.finalize()[..8])
    }

    /// The documents with a dense vector on none of their points.
    pub fn uris_without_dense(&self) -> Vec<String> {
        let mut uris: Vec<String> = self
            .points
            .iter()
            .filter(|(_, p)| p.dense.is_none())
            .map(|((uri, _), _)| uri.clone())
            .collect();
        uris.dedup();
        uris
    }

    /// What differs from `other` (at most `limit` lines), for assertion messages.
    pub fn diff(&self, other: &Self, limit: usize) -> String {
        let mut lines = Vec::new();
        for (key, point) in &self.points {
            match other.points.get(key) {
                None => lines.push(format!("point {key:?} only on the left")),
                Some(theirs) if theirs != point => lines.push(format!("point {key:?} differs")),
                Some(_) => {}
            }
        }
        for key in other.points.keys() {
            if !self.points.contains_key(key) {
                lines.push(format!("point {key:?} only on the right"));
            }
        }
        for (uri, row) in &self.manifest {
            match other.manifest.get(uri) {
                None => lines.push(format!("manifest {uri} only on the left")),
                Some(theirs) if theirs != row => {
                    lines.push(format!("manifest {uri}: {row} vs {theirs}"));
                }
                Some(_) => {}
            }
        }
        for uri in other.manifest.keys() {
            if !self.manifest.contains_key(uri) {
                lines.push(format!("manifest {uri} only on the right"));
            }
        }
        let total = lines.len();
        lines.truncate(limit);
        format!(
            "{total} differences (left {}, right {}):\n{}",
            self.hash(),
            other.hash(),
            lines.join("\n")
        )
    }
}

fn hash_bytes(bytes: impl IntoIterator<Item = u8>) -> String {
    let mut hash = Sha256::new();
    hash.update(bytes.into_iter().collect::<Vec<u8>>());
    hex::encode(&hash.finalize()[..8])
}

/// Only the catalog side of [`index_digest`] (it does not open the index, so the next run finds
/// the index as a killed process left it): uri → manifest row.
pub async fn manifest_digest(
    data_dir: &Path,
    tenant: &str,
    source: &str,
) -> Result<BTreeMap<String, String>, String> {
    let catalog = Catalog::connect(&ragway_catalog::default_url(data_dir))
        .await
        .map_err(|e| e.to_string())?;
    let manifest = manifest_rows(&catalog, tenant, source).await;
    catalog.pool().close().await;
    manifest
}

/// [`manifest_digest`] through an open catalog (to watch a running sync's progress).
pub async fn manifest_rows(
    catalog: &Catalog,
    tenant: &str,
    source: &str,
) -> Result<BTreeMap<String, String>, String> {
    let Some(record) = catalog
        .source_by_name(tenant, source)
        .await
        .map_err(|e| e.to_string())?
    else {
        return Ok(BTreeMap::new());
    };
    let mut rows = BTreeMap::new();
    for (uri, entry) in catalog
        .manifest(&record.id)
        .await
        .map_err(|e| e.to_string())?
    {
        if entry.document_id != document_id(tenant, &record.id, &uri) {
            return Err(format!("manifest row of {uri} has a foreign document id"));
        }
        let row = format!(
            "{}|{}|{}|{}|{}|{}|{}",
            entry.title,
            entry.mime,
            entry.content_hash,
            entry.size_bytes,
            entry.chunk_count,
            entry.acl.join(","),
            entry.analysis
        );
        rows.insert(uri, row);
    }
    Ok(rows)
}

/// The digest of the tenant's source `source` in `data_dir` (nothing else may have the data
/// directory open). Fails on anything a converged index can never hold: a point of another
/// tenant or source, ids that do not follow from (tenant, source, uri, chunk index), manifest
/// rows of other sources.
pub async fn index_digest(
    data_dir: &Path,
    tenant: &str,
    source: &str,
) -> Result<IndexDigest, String> {
    let catalog = Catalog::connect(&ragway_catalog::default_url(data_dir))
        .await
        .map_err(|e| e.to_string())?;
    let manifest = manifest_rows(&catalog, tenant, source).await?;
    let source_id = catalog
        .source_by_name(tenant, source)
        .await
        .map_err(|e| e.to_string())?
        .map(|s| s.id)
        .unwrap_or_default();
    let documents = catalog
        .document_count(tenant)
        .await
        .map_err(|e| e.to_string())?;
    catalog.pool().close().await;
    if usize::try_from(documents).unwrap_or(usize::MAX) != manifest.len() {
        return Err(format!(
            "{documents} documents in the catalog, {} in the source's manifest",
            manifest.len()
        ));
    }

    let store = EdgeStore::open(&data_dir.join("index"), None)
        .await
        .map_err(|e| e.to_string())?;
    let mut points = BTreeMap::new();
    // Every shard, not only the tenant's: a point anywhere else is a fault too.
    for shard in store.tenants().map_err(|e| e.to_string())? {
        let mut after = None;
        loop {
            let (batch, next) = store
                .scroll(&shard, after, 512)
                .await
                .map_err(|e| e.to_string())?;
            for point in batch {
                let mut payload = point.payload;
                if payload.tenant_id != tenant || payload.source_id != source_id {
                    return Err(format!(
                        "point {} belongs to {}/{}",
                        point.id, payload.tenant_id, payload.source_id
                    ));
                }
                if payload.document_id != document_id(tenant, &source_id, &payload.uri)
                    || point.id != point_id(tenant, &payload.document_id, payload.chunk_index)
                {
                    return Err(format!(
                        "point {} has ids not derived from its uri",
                        point.id
                    ));
                }
                let key = (payload.uri.clone(), payload.chunk_index);
                payload.source_id.clear();
                payload.document_id.clear();
                let json = serde_json::to_vec(&payload).map_err(|e| e.to_string())?;
                let digest = PointDigest {
                    payload: hash_bytes(json),
                    dense: point
                        .dense
                        .map(|v| hash_bytes(v.iter().flat_map(|x| x.to_le_bytes()))),
                    sparse: hash_bytes(
                        point
                            .sparse
                            .indices
                            .iter()
                            .flat_map(|i| i.to_le_bytes())
                            .chain(point.sparse.values.iter().flat_map(|x| x.to_le_bytes())),
                    ),
                };
                if points.insert(key.clone(), digest).is_some() {
                    return Err(format!("two points for {key:?}"));
                }
            }
            match next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
    }
    drop(store);
    Ok(IndexDigest { points, manifest })
}
