//! The request span: every log line and child span of a request carries its request id, its
//! channel and — once known — its tenant and copilot profile.

use axum::extract::Request;
use tracing::Span;
use tracing::field::Empty;

/// The channel (or API) a route belongs to, for spans and logs.
pub fn channel_of(path: &str) -> &'static str {
    match path {
        "/api/v1/ask" => "rest",
        "/api/messages" => "teams",
        p if p.starts_with("/api/v1/admin/") => "admin",
        p if p.starts_with("/v1/") => "openai",
        p if p.starts_with("/widget/") || p == "/" => "widget",
        p if p.starts_with("/slack/") => "slack",
        _ => "http",
    }
}

/// The span of one request (`tower_http`'s `TraceLayer` opens it around the whole request).
/// `tenant` and `profile` are recorded by authentication and the ask lifecycle.
pub fn request_span(request: &Request) -> Span {
    let request_id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let path = request.uri().path();
    tracing::info_span!(
        "request",
        method = %request.method(),
        path,
        request_id,
        channel = channel_of(path),
        tenant = Empty,
        profile = Empty,
    )
}

/// Records the caller's tenant on the current request span (a no-op outside one).
pub fn record_tenant(tenant_id: &str) {
    Span::current().record("tenant", tenant_id);
}
