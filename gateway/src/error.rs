//! The gateway's one error type and its HTTP mapping (`{"error":{"code","message","request_id"}}`).

use axum::http::StatusCode;
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
    Ingest(#[from] IngestError),
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}

impl GatewayError {
    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::NotFound(_) | Self::Ingest(IngestError::NotFound(_)) => StatusCode::NOT_FOUND,
            Self::Ingest(IngestError::AlreadyExists(_)) => StatusCode::CONFLICT,
            Self::Llm(_) | Self::Ingest(IngestError::Embedding(_)) => StatusCode::BAD_GATEWAY,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// Stable machine-readable code for clients.
    pub fn code(&self) -> &'static str {
        self.error_code().as_str()
    }

    pub fn error_code(&self) -> ErrorCode {
        match self {
            Self::BadRequest(_) => ErrorCode::InvalidRequest,
            Self::Unauthorized(_) => ErrorCode::Unauthorized,
            Self::NotFound(_) | Self::Ingest(IngestError::NotFound(_)) => ErrorCode::NotFound,
            Self::Ingest(IngestError::AlreadyExists(_)) => ErrorCode::Conflict,
            Self::Llm(_) => ErrorCode::LlmUnavailable,
            Self::Ingest(IngestError::Embedding(_)) => ErrorCode::EmbeddingsUnavailable,
            _ => ErrorCode::InternalError,
        }
    }

    /// What a caller may see: internals of 5xx errors stay in the logs.
    pub fn public_message(&self) -> String {
        match self.status() {
            StatusCode::INTERNAL_SERVER_ERROR => {
                "internal error; see the server log for this request id".into()
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
            Self::InternalError => "internal_error",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
