//! The one error type of the catalog.
//!
//! The messages are the ones people see (the REST API, the logs, and the CLI, whose translation
//! table in the gateway is keyed by this English text): change one only together with its entry.

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// A value the catalog refuses to store (a tenant id, a group, an origin, …), or a database URL
    /// it cannot open.
    #[error("invalid configuration: {0}")]
    Invalid(String),
    #[error("not found: {0}")]
    NotFound(String),
    #[error("already exists: {0}")]
    AlreadyExists(String),
    #[error("catalog error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("catalog migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
}

pub type Result<T, E = CatalogError> = std::result::Result<T, E>;
