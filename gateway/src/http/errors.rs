//! Every error response leaves through [`error_envelope`], which gives it the JSON shape
//! `{"error":{"code","message","request_id"}}` and logs 5xx once.

use axum::Json;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::ask::AskError;
use crate::error::{ErrorCode, GatewayError};

/// Every error response of the native API.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// Stable machine-readable code: `invalid_request`, `unauthorized`, `not_found`, `payload_too_large`,
    /// `llm_unavailable`, `catalog_unavailable`, `internal_error`, …
    pub code: String,
    pub message: String,
    /// Also in the `x-request-id` response header; quote it when reporting a problem.
    pub request_id: String,
}

/// Marks a response whose body is already an error in its channel's own shape (the OpenAI
/// API's): the envelope leaves it alone.
#[derive(Debug, Clone, Copy)]
pub struct ShapedError;

/// Marks a 503 refusal at the server's capacity: the server working as designed under overload,
/// counted in `ragway_capacity_refusals_total` and logged at debug — an error line per refusal
/// would add work to a process that is already refusing for lack of it.
#[derive(Debug, Clone, Copy)]
pub struct AtCapacity;

/// An error on its way to the caller; the envelope middleware adds the request id.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// Full internal detail for the log (never sent).
    pub detail: Option<String>,
    /// Extra response headers (e.g. `Retry-After`).
    pub headers: Vec<(axum::http::HeaderName, axum::http::HeaderValue)>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            detail: None,
            headers: Vec::new(),
        }
    }

    /// 429 naming the limit, with `Retry-After` and the `RateLimit-*` headers.
    pub fn rate_limited(refused: &crate::limits::Refused) -> Self {
        Self {
            headers: crate::limits::refusal_headers(refused),
            ..Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                refused.message(),
            )
        }
    }

    /// 503 saying the server is at capacity, with `Retry-After`.
    pub fn overloaded(overloaded: &crate::limits::Overloaded) -> Self {
        Self {
            headers: vec![(
                header::RETRY_AFTER,
                HeaderValue::from(crate::limits::capacity::RETRY_AFTER.as_secs()),
            )],
            ..Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorCode::Overloaded.as_str(),
                overloaded.to_string(),
            )
        }
    }

    /// An answer that did not start, for a JSON API whose question field is `field`: the one
    /// mapping of [`AskError`] to the native error envelope.
    pub fn from_ask(err: AskError, field: &str) -> Self {
        match err {
            AskError::EmptyQuestion => Self::bad_request(format!("`{field}` must not be empty")),
            AskError::QuestionTooLong { max_chars } => {
                Self::bad_request(format!("`{field}` is longer than {max_chars} characters"))
            }
            AskError::TopKOutOfRange { .. } => Self::bad_request(err.to_string()),
            AskError::ProfileNotAllowed(_) | AskError::ConversationNotFound(_) => {
                Self::new(StatusCode::NOT_FOUND, "not_found", err.to_string())
            }
            AskError::Refused(refused) => Self::rate_limited(&refused),
            AskError::Overloaded(overloaded) => Self::overloaded(&overloaded),
            AskError::Failed(err) => Self::from(err),
            AskError::Stream { code, message } => Self::from_code(code, message),
        }
    }

    /// The error an `error` event of an answer stands for.
    pub fn from_code(code: ErrorCode, message: String) -> Self {
        let status = match code {
            ErrorCode::InvalidRequest => StatusCode::BAD_REQUEST,
            ErrorCode::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::LlmUnavailable | ErrorCode::EmbeddingsUnavailable => StatusCode::BAD_GATEWAY,
            ErrorCode::CatalogUnavailable | ErrorCode::Overloaded => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            _ => return Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal_error", message),
        };
        Self::new(status, code.as_str(), message)
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", message)
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }
}

impl From<GatewayError> for ApiError {
    fn from(err: GatewayError) -> Self {
        Self {
            status: err.status(),
            code: err.code(),
            message: err.public_message(),
            detail: Some(err.to_string()),
            headers: Vec::new(),
        }
    }
}

impl From<ragway_ingest::IngestError> for ApiError {
    fn from(err: ragway_ingest::IngestError) -> Self {
        GatewayError::from(err).into()
    }
}

impl From<ragway_catalog::CatalogError> for ApiError {
    fn from(err: ragway_catalog::CatalogError) -> Self {
        GatewayError::from(err).into()
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status;
        let mut response = (
            status,
            Json(json!({"error": {"code": self.code, "message": self.message}})),
        )
            .into_response();
        for (name, value) in &self.headers {
            response.headers_mut().insert(name.clone(), value.clone());
        }
        if self.code == ErrorCode::Overloaded.as_str() {
            response.extensions_mut().insert(AtCapacity);
        }
        response.extensions_mut().insert(self);
        response
    }
}

fn code_for(status: StatusCode) -> &'static str {
    match status {
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
        StatusCode::REQUEST_TIMEOUT => "timeout",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        s if s.is_server_error() => "internal_error",
        _ => "invalid_request",
    }
}

pub async fn error_envelope(request: Request, next: Next) -> Response {
    let request_id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let response = next.run(request).await;
    let status = response.status();
    let already_shaped = response.extensions().get::<ShapedError>().is_some();
    let at_capacity = response.extensions().get::<AtCapacity>().is_some();
    if at_capacity {
        tracing::debug!(%request_id, %method, %path, "refused: the server is at capacity");
    } else if already_shaped && status.is_server_error() {
        tracing::error!(%request_id, %method, %path, status = status.as_u16(), "request failed");
    }
    if !(status.is_client_error() || status.is_server_error()) || already_shaped {
        return response;
    }
    let error = match response.extensions().get::<ApiError>() {
        Some(error) => error.clone(),
        None => ApiError::new(
            status,
            code_for(status),
            status.canonical_reason().unwrap_or("error").to_owned(),
        ),
    };
    if status.is_server_error() && !at_capacity {
        tracing::error!(%request_id, %method, %path, status = status.as_u16(),
            detail = error.detail.as_deref().unwrap_or(&error.message), "request failed");
    }
    let (mut parts, _) = response.into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    let body =
        json!({"error": {"code": error.code, "message": error.message, "request_id": request_id}});
    (parts, Json(body)).into_response()
}
