//! How a chunk's payload is stored, the same in every backend: the JSON of [`ChunkPayload`] with
//! the ACL always set (the public marker when the document is open to the whole tenant).

use super::ChunkPayload;
use crate::error::{IngestError, Result};

/// The payload field holding a chunk's document ACL.
pub(crate) const ACL: &str = "acl";
/// The payload field scoping every point to its tenant (a tenant-aware keyword index).
pub(crate) const TENANT: &str = "tenant_id";
pub(crate) const DOCUMENT: &str = "document_id";
pub(crate) const CHUNK_INDEX: &str = "chunk_index";

/// How a document open to the whole tenant is marked in the index. Stored rather than left
/// empty so that visibility is one keyword match on an indexed field: an "is empty OR any of"
/// filter made every query several times slower (docs/BENCHMARKS.md). Not a valid group name.
pub(crate) const PUBLIC: &str = "*";

/// The stored form of an ACL: its groups, or the public marker when there are none.
pub(crate) fn stored_acl(acl: &[String]) -> Vec<String> {
    if acl.is_empty() {
        vec![PUBLIC.to_owned()]
    } else {
        acl.to_vec()
    }
}

/// The groups a query may see through: the caller's, plus the public marker.
pub(crate) fn visible_groups(groups: &[String]) -> Vec<String> {
    let mut visible = groups.to_vec();
    visible.push(PUBLIC.to_owned());
    visible
}

/// The JSON stored with a point.
pub(crate) fn to_stored(payload: &ChunkPayload) -> Result<serde_json::Value> {
    let mut value = serde_json::to_value(payload).map_err(store_err)?;
    value[ACL] = serde_json::json!(stored_acl(&payload.acl));
    Ok(value)
}

/// The payload read back from a point (the public marker removed again).
pub(crate) fn from_stored(value: serde_json::Value) -> Result<ChunkPayload> {
    let mut payload: ChunkPayload = serde_json::from_value(value).map_err(store_err)?;
    payload.acl.retain(|group| group != PUBLIC);
    Ok(payload)
}

pub(crate) fn store_err(err: impl std::fmt::Display) -> IngestError {
    IngestError::Store(err.to_string())
}
