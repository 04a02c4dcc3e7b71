//! The embedded index's directory: a shard per tenant under `shards/`, and `shards/layout.json`,
//! what every shard shares.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::stored::store_err;
use crate::error::{IngestError, Result};

/// The directory of the tenants' shards, and the file there that describes them all.
pub(super) const SHARDS: &str = "shards";
pub(super) const LAYOUT: &str = "layout.json";
/// What every shard of the index shares, written once when the index is created.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct Layout {
    /// The dimension of the dense vectors (None: BM25 only).
    pub(super) dense: Option<usize>,
}

/// A tenant's shard directory. Tenant ids are slugs (the catalog checks them); anything that
/// could leave `root` or hide as a dot-file is refused.
pub(super) fn shard_dir(root: &Path, tenant_id: &str) -> Result<PathBuf> {
    let valid = !tenant_id.is_empty()
        && tenant_id.len() <= 128
        && !tenant_id.starts_with('.')
        && tenant_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.');
    if valid {
        Ok(root.join(tenant_id))
    } else {
        Err(IngestError::Config(format!(
            "tenant id {tenant_id:?} cannot name a shard of the embedded index"
        )))
    }
}

pub(super) fn write_layout(dir: &Path, layout: &Layout) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| IngestError::io(dir, e))?;
    let path = dir.join(LAYOUT);
    let text = serde_json::to_string_pretty(layout).map_err(store_err)?;
    std::fs::write(&path, text).map_err(|e| IngestError::io(&path, e))
}

pub(super) fn read_layout(root: &Path) -> Result<Layout> {
    let path = root.join(LAYOUT);
    let text = std::fs::read_to_string(&path).map_err(|e| IngestError::io(&path, e))?;
    serde_json::from_str(&text)
        .map_err(|e| IngestError::Config(format!("{} is not valid: {e}", path.display())))
}

pub(super) fn remove_dir_if_exists(dir: &Path) -> Result<()> {
    match std::fs::remove_dir_all(dir) {
        Err(err) if err.kind() != std::io::ErrorKind::NotFound => Err(IngestError::io(dir, err)),
        _ => Ok(()),
    }
}
