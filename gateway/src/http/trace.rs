//! The request span: every log line and child span of a request carries its request id, its
//! channel and — once known — its tenant and copilot profile.

use std::time::Duration;

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
    let span = tracing::info_span!(
        "request",
        otel.kind = "server",
        method = %request.method(),
        path,
        request_id,
        channel = channel_of(path),
        tenant = Empty,
        profile = Empty,
        status = Empty,
        otel.status_code = Empty,
    );
    crate::telemetry::continue_remote_trace(&span, request.headers());
    span
}

/// Records the status on the request span (a 5xx marks the trace as failed), then writes the
/// access line: one per request at info, status and latency in ms, never the body.
#[derive(Debug, Clone, Copy)]
pub struct OnResponse;

impl<B> tower_http::trace::OnResponse<B> for OnResponse {
    fn on_response(self, response: &axum::http::Response<B>, latency: Duration, span: &Span) {
        let status = response.status();
        span.record("status", status.as_u16());
        if status.is_server_error() {
            span.record("otel.status_code", "ERROR");
        }
        tower_http::trace::DefaultOnResponse::new()
            .level(tracing::Level::INFO)
            .latency_unit(tower_http::LatencyUnit::Millis)
            .on_response(response, latency, span);
    }
}

/// Records the caller's tenant on the current request span (a no-op outside one).
pub fn record_tenant(tenant_id: &str) {
    Span::current().record("tenant", tenant_id);
}
