//! Sources list a tenant's documents and read their bytes.

mod acl;
mod folder;

pub use acl::{Acl, AclConfig, AclRule, validate_group};
pub use folder::{FolderSource, FolderSourceConfig};

use std::path::PathBuf;

/// One document a source offers, before it is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceEntry {
    /// Stable, source-relative identifier (a `/`-separated relative path for folders).
    pub uri: String,
    pub path: PathBuf,
    pub size: u64,
}
