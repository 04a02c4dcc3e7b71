//! The gateway's one error type and its HTTP mapping (`{"error":{"code","message","request_id"}}`).

use axum::http::StatusCode;
use ragway_catalog::CatalogError;
use ragway_ingest::IngestError;
use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error("{0}")]
    Config(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    NotFound(String),
    #[error("the language model failed: {0}")]
    Llm(String),
    #[error("prompt template error: {0}")]
    Template(String),
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error(transparent)]
    Ingest(#[from] IngestError),
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}

const INTERNAL: (StatusCode, ErrorCode) =
    (StatusCode::INTERNAL_SERVER_ERROR, ErrorCode::InternalError);

/// What a catalog error is to a client, whether the catalog raised it directly or a sync did on
/// its way: a missing row is a 404, a duplicate a 409, an unreachable database a 503 (the
/// caller may retry), anything else an internal error.
fn catalog_status(err: &CatalogError) -> (StatusCode, ErrorCode) {
    match err {
        CatalogError::NotFound(_) => (StatusCode::NOT_FOUND, ErrorCode::NotFound),
        CatalogError::AlreadyExists(_) => (StatusCode::CONFLICT, ErrorCode::Conflict),
        CatalogError::Database(err) if unreachable(err) => (
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::CatalogUnavailable,
        ),
        CatalogError::Invalid(_) | CatalogError::Database(_) | CatalogError::Migration(_) => {
            INTERNAL
        }
    }
}

/// The database is down, restarting or unreachable (not a failed statement): no connection
/// within the pool's acquire timeout, a connection lost, or PostgreSQL ending the session
/// (class 08 connection exceptions, 57P01–57P03 shutdown / cannot connect now).
fn unreachable(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => db
            .code()
            .is_some_and(|c| c.starts_with("08") || matches!(&*c, "57P01" | "57P02" | "57P03")),
        _ => false,
    }
}

impl GatewayError {
    /// The HTTP status and the stable code of the error.
    fn classify(&self) -> (StatusCode, ErrorCode) {
        match self {
            Self::BadRequest(_) => (StatusCode::BAD_REQUEST, ErrorCode::InvalidRequest),
            Self::Unauthorized(_) => (StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized),
            Self::NotFound(_) => (StatusCode::NOT_FOUND, ErrorCode::NotFound),
            Self::Llm(_) => (StatusCode::BAD_GATEWAY, ErrorCode::LlmUnavailable),
            Self::Ingest(IngestError::Embedding(_)) => {
                (StatusCode::BAD_GATEWAY, ErrorCode::EmbeddingsUnavailable)
            }
            Self::Catalog(err) | Self::Ingest(IngestError::Catalog(err)) => catalog_status(err),
            _ => INTERNAL,
        }
    }

    pub fn status(&self) -> StatusCode {
        self.classify().0
    }

    /// Stable machine-readable code for clients.
    pub fn code(&self) -> &'static str {
        self.error_code().as_str()
    }

    pub fn error_code(&self) -> ErrorCode {
        self.classify().1
    }

    /// What a caller may see: internals of 5xx errors stay in the logs. An upstream failure says
    /// which service failed, never its address, model or answer (which name the deployment's
    /// providers and can echo their error bodies).
    pub fn public_message(&self) -> String {
        match self.error_code() {
            ErrorCode::InternalError => {
                "internal error; see the server log for this request id".into()
            }
            ErrorCode::LlmUnavailable => {
                "the language model failed to answer; try again shortly (the server log has the details for this request id)".into()
            }
            ErrorCode::EmbeddingsUnavailable => {
                "the embeddings service is unavailable; try again shortly (the server log has the details for this request id)".into()
            }
            ErrorCode::CatalogUnavailable => {
                "the catalog database is unavailable; try again shortly (the server log has the details for this request id)".into()
            }
            _ => self.to_string(),
        }
    }
}

/// The stable, machine-readable code of a failure (`code` in every error a client reads).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    InvalidRequest,
    Unauthorized,
    NotFound,
    Conflict,
    RateLimited,
    LlmUnavailable,
    EmbeddingsUnavailable,
    /// The catalog database cannot be reached (down or restarting): 503, worth a retry.
    CatalogUnavailable,
    /// The server is at its bound on answers in progress: 503 with `Retry-After`, worth a retry.
    Overloaded,
    InternalError,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::Unauthorized => "unauthorized",
            Self::NotFound => "not_found",
            Self::Conflict => "conflict",
            Self::RateLimited => "rate_limited",
            Self::LlmUnavailable => "llm_unavailable",
            Self::EmbeddingsUnavailable => "embeddings_unavailable",
            Self::CatalogUnavailable => "catalog_unavailable",
            Self::Overloaded => "overloaded",
            Self::InternalError => "internal_error",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The catalog's error `make` builds has `status`, `code` and `message` whether it arrives
    /// directly or wrapped by a sync.
    fn maps_to(make: fn() -> CatalogError, status: StatusCode, code: &str, message: &str) {
        for err in [
            GatewayError::from(make()),
            GatewayError::from(IngestError::from(make())),
        ] {
            assert_eq!(err.status(), status, "{message}");
            assert_eq!(err.code(), code, "{message}");
            assert_eq!(err.to_string(), message);
        }
    }

    #[test]
    fn catalog_errors_map_the_same_directly_or_through_ingest() {
        maps_to(
            || CatalogError::NotFound("tenant acme".into()),
            StatusCode::NOT_FOUND,
            "not_found",
            "not found: tenant acme",
        );
        maps_to(
            || CatalogError::AlreadyExists("tenant acme".into()),
            StatusCode::CONFLICT,
            "conflict",
            "already exists: tenant acme",
        );
        maps_to(
            || CatalogError::Invalid("invalid tenant id".into()),
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "invalid configuration: invalid tenant id",
        );
        maps_to(
            || CatalogError::Database(sqlx::Error::PoolTimedOut),
            StatusCode::SERVICE_UNAVAILABLE,
            "catalog_unavailable",
            &format!("catalog error: {}", sqlx::Error::PoolTimedOut),
        );
        maps_to(
            || CatalogError::Database(sqlx::Error::RowNotFound),
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            &format!("catalog error: {}", sqlx::Error::RowNotFound),
        );
        maps_to(
            || CatalogError::Migration(sqlx::migrate::MigrateError::VersionMissing(3)),
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            &format!(
                "catalog migration failed: {}",
                sqlx::migrate::MigrateError::VersionMissing(3)
            ),
        );
    }
}
