//! The one error type of the knowledge layer.

use std::path::PathBuf;

use ragway_catalog::CatalogError;

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("I/O error on {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error("cannot parse {uri}: {reason}")]
    Parse { uri: String, reason: String },
    #[error("{uri} is too large ({size} bytes, limit {limit} bytes)")]
    TooLarge { uri: String, size: u64, limit: u64 },
    #[error("embedding request failed: {0}")]
    Embedding(String),
    #[error("vector store error: {0}")]
    Store(String),
    #[error(
        "the data directory {0} is in use by another ragway process; stop it or use its admin API"
    )]
    StoreLocked(PathBuf),
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error("background task failed: {0}")]
    Task(String),
}

impl IngestError {
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }
}

impl From<tokio::task::JoinError> for IngestError {
    fn from(err: tokio::task::JoinError) -> Self {
        Self::Task(err.to_string())
    }
}

pub type Result<T, E = IngestError> = std::result::Result<T, E>;
