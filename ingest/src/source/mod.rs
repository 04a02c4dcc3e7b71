//! Sources list a tenant's documents and hand the sync pipeline their bytes: a folder names
//! files to read, a web crawl hands over what it fetched (or that a page did not change).

mod acl;
mod folder;
pub mod web;

pub use acl::{Acl, AclConfig, AclRule, validate_group};
pub use folder::{FolderSource, FolderSourceConfig, REGISTERED_BY_KEY, REGISTERED_BY_OPERATOR};

use std::path::PathBuf;

use crate::parse::Format;

/// One document a source offers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceEntry {
    /// Stable identifier within the source: a `/`-separated relative path for folders, the
    /// canonical URL for web pages.
    pub uri: String,
    /// Bytes the source read for it (0 when it did not change, see [`EntryContent::NotModified`]).
    pub size: u64,
    pub content: EntryContent,
}

/// Where a document's bytes are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryContent {
    /// A file on this machine, read (off the async runtime) when the document is prepared.
    File(PathBuf),
    /// Bytes the source already fetched, in a known format; `name` is the title of last resort
    /// (the file name for uploads, the last path segment for web pages).
    Bytes {
        bytes: Vec<u8>,
        format: Format,
        name: String,
    },
    /// The source vouches that the document is exactly what the manifest holds (an HTTP
    /// `304 Not Modified` to a conditional request): its manifest entry and points are kept,
    /// only an ACL change is applied.
    NotModified,
}

/// One item of a listing as a source produces it, in any order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListItem {
    Entry(SourceEntry),
    /// The document could not be read this time. It is reported as failed; when `keep` is set
    /// its indexed version (if any) stays, otherwise it is removed like a deleted file
    /// (a page that answered 404 or that robots.txt now disallows).
    Failed {
        uri: String,
        reason: String,
        keep: bool,
    },
    /// Present but of a format ragway does not read (counted, not failed; not indexed).
    Unsupported(String),
}
