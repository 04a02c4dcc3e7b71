//! The gateway's one error type and its HTTP mapping (`{"error":{"code","message","request_id"}}`).

use axum::http::StatusCode;
use ragway_ingest::IngestError;

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
        match self {
            Self::BadRequest(_) => "invalid_request",
            Self::Unauthorized(_) => "unauthorized",
            Self::NotFound(_) | Self::Ingest(IngestError::NotFound(_)) => "not_found",
            Self::Ingest(IngestError::AlreadyExists(_)) => "conflict",
            Self::Llm(_) => "llm_unavailable",
            Self::Ingest(IngestError::Embedding(_)) => "embeddings_unavailable",
            _ => "internal_error",
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
