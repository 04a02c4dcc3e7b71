//! The route table and the middleware stack, in the order the design gives: request id and
//! tracing → error envelope → panic guard → timeout → body limit → handlers (authentication per route).

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, StatusCode};
use axum::routing::{get, post};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::admin;
use crate::channels::{openai, rest, slack, teams, widget};
use crate::context::Core;
use crate::http::errors::error_envelope;
use crate::http::{health, metrics, trace};
use crate::openapi;
use crate::server::Server;

pub fn app(server: Server) -> Router {
    let request_id = HeaderName::from_static("x-request-id");
    let config = Arc::clone(&server.state.core.config);
    let upload_limit =
        usize::try_from(config.sources.upload.max_request_bytes).unwrap_or(usize::MAX);
    let mut router = Router::new()
        .route("/api/v1/ask", post(rest::ask_handler))
        .route("/api/v1/admin/usage", get(admin::usage::usage_handler))
        .route(
            "/api/v1/admin/tenants",
            get(admin::tenants::list).post(admin::tenants::create),
        )
        .route(
            "/api/v1/admin/tenants/{id}",
            get(admin::tenants::show)
                .patch(admin::tenants::update)
                .delete(admin::tenants::delete),
        )
        .route(
            "/api/v1/admin/tenants/{id}/documents",
            get(admin::documents::list),
        )
        .route(
            "/api/v1/admin/tenants/{id}/documents/{document_id}",
            axum::routing::delete(admin::documents::delete),
        )
        .route(
            "/api/v1/admin/tenants/{id}/settings",
            get(admin::settings::show).put(admin::settings::replace),
        )
        .route(
            "/api/v1/admin/tenants/{id}/keys",
            get(admin::keys::list).post(admin::keys::create),
        )
        .route(
            "/api/v1/admin/tenants/{id}/keys/{key_id}",
            axum::routing::delete(admin::keys::revoke),
        )
        .route(
            "/api/v1/admin/tenants/{id}/sources",
            get(admin::sources::list).post(admin::sources::create),
        )
        .route(
            "/api/v1/admin/tenants/{id}/sources/{source_id}",
            get(admin::sources::show)
                .patch(admin::sources::update)
                .delete(admin::sources::delete),
        )
        .route(
            "/api/v1/admin/tenants/{id}/sources/{source_id}/sync",
            post(admin::sources::sync_now),
        )
        .route(
            "/api/v1/admin/tenants/{id}/sources/{source_id}/pause",
            post(admin::sources::pause),
        )
        .route(
            "/api/v1/admin/tenants/{id}/sources/{source_id}/resume",
            post(admin::sources::resume),
        )
        .route(
            "/api/v1/admin/tenants/{id}/sources/{source_id}/syncs",
            get(admin::syncs::list),
        )
        .route(
            "/api/v1/admin/tenants/{id}/sources/{source_id}/files",
            post(admin::uploads::upload).layer(DefaultBodyLimit::max(upload_limit)),
        )
        .route(
            "/api/v1/admin/tenants/{id}/sources/{source_id}/files/{*path}",
            axum::routing::delete(admin::uploads::remove),
        )
        .route(
            "/api/v1/admin/tenants/{id}/syncs/{sync_id}",
            get(admin::syncs::show),
        )
        .route(
            "/api/v1/admin/tenants/{id}/syncs/{sync_id}/events",
            get(admin::syncs::events),
        )
        .route(
            "/api/v1/admin/tenants/{id}/widget-keys",
            get(admin::widget_keys::list).post(admin::widget_keys::create),
        )
        .route(
            "/api/v1/admin/tenants/{id}/widget-keys/{key}",
            axum::routing::patch(admin::widget_keys::update).delete(admin::widget_keys::revoke),
        )
        .route("/v1/chat/completions", post(openai::chat_completions))
        .route("/v1/models", get(openai::models))
        .route("/slack/events", post(slack::events_handler))
        .route("/slack/commands", post(slack::commands_handler))
        .route("/slack/interactivity", post(slack::interactivity_handler))
        .route("/api/messages", post(teams::messages_handler))
        .route(
            "/widget/v1/session",
            post(widget::session_handler).options(widget::preflight_handler),
        )
        .route(
            "/widget/v1/chat",
            post(widget::chat_handler).options(widget::preflight_handler),
        )
        .route(
            "/widget/v1/feedback",
            post(widget::feedback_handler).options(widget::preflight_handler),
        )
        .route("/widget/v1/{file}", get(widget::asset_handler))
        .route("/", get(widget::demo_page))
        .route("/openapi.json", get(openapi::openapi_json))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz));
    if config.server.metrics_addr.is_none() {
        router = router.route("/metrics", get(metrics::metrics_for_admins));
    }
    router
        .route_layer(axum::middleware::from_fn_with_state(
            server.state.core.clone(),
            metrics::time_requests,
        ))
        .layer(DefaultBodyLimit::max(config.server.max_body_bytes))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(config.server.request_timeout_secs),
        ))
        .layer(CatchPanicLayer::new())
        .layer(axum::middleware::from_fn(error_envelope))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(trace::request_span)
                .on_response(trace::OnResponse),
        )
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
        .with_state(server)
}

/// The separate metrics listener's routes (`server.metrics_addr`).
pub fn metrics_app(core: Core) -> Router {
    Router::new()
        .route("/metrics", get(metrics::metrics))
        .with_state(core)
}
