//! `/metrics` (Prometheus text format) and the layer that times every request.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::ApiError;
use super::admin_auth::Admin;
use crate::context::Core;
use crate::metrics::RouteLabels;

/// `/metrics` on the main port: tenant ids and volumes are not for the public, so it takes a
/// global admin key (`Authorization: Bearer rgwadm_…`, Prometheus' `authorization` setting).
/// `[server] metrics_addr` serves it without a key on an internal address instead.
pub async fn metrics_for_admins(admin: Admin, state: State<Core>) -> Response {
    if admin.key.tenant_id.is_some() {
        return ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "the metrics cover every tenant: they need a global admin key, not one scoped to a tenant",
        )
        .into_response();
    }
    metrics(state).await
}

pub async fn metrics(State(core): State<Core>) -> Response {
    match core.metrics.encode() {
        Ok(text) => (
            [(
                header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            text,
        )
            .into_response(),
        Err(err) => {
            tracing::error!(%err, "could not encode the metrics");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// Records the time to the response head by route (the route pattern, never the raw path, so
/// the label set stays small) and status.
pub async fn time_requests(State(core): State<Core>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let started = Instant::now();
    let response = next.run(request).await;
    let labels = RouteLabels {
        route,
        status: response.status().as_u16(),
    };
    core.metrics
        .request_seconds
        .get_or_create(&labels)
        .observe(started.elapsed().as_secs_f64());
    response
}
