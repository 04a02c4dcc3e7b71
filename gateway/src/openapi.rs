//! The OpenAPI 3.1 document of the native API, generated from the handlers and types themselves
//! and served at `/openapi.json`.

use axum::Json;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::ask::{AskEvent, AskResponse};
use crate::channels::rest::{AskBody, RestAnswer};
use crate::ground::Citation;
use crate::http::errors::{ErrorBody, ErrorDetail};
use crate::http::health::Health;
use crate::llm::{AnswerMode, Usage};
use crate::usage::{DayUsage, UsageCounts, UsageReport, UserUsage};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "ragway",
        description = "Grounded, cited answers from a tenant's documents. Authenticate with a tenant API key \
            (`Authorization: Bearer rgw_…`); the admin API (`/api/v1/admin/…`) takes an admin key \
            (`Authorization: Bearer rgwadm_…`, created with `ragway admin-keys create`). The OpenAI-compatible \
            API (`/v1/chat/completions`, `/v1/models`) follows OpenAI's own specification."
    ),
    paths(
        crate::channels::rest::ask_handler,
        crate::admin::usage::usage_handler,
        crate::admin::tenants::create,
        crate::admin::tenants::list,
        crate::admin::tenants::show,
        crate::admin::tenants::update,
        crate::admin::tenants::delete,
        crate::admin::documents::list,
        crate::admin::documents::delete,
        crate::admin::settings::show,
        crate::admin::settings::replace,
        crate::admin::keys::create,
        crate::admin::keys::list,
        crate::admin::keys::revoke,
        crate::admin::sources::create,
        crate::admin::sources::list,
        crate::admin::sources::show,
        crate::admin::sources::update,
        crate::admin::sources::delete,
        crate::admin::sources::sync_now,
        crate::admin::sources::pause,
        crate::admin::sources::resume,
        crate::admin::syncs::list,
        crate::admin::syncs::show,
        crate::admin::syncs::events,
        crate::admin::uploads::upload,
        crate::admin::uploads::remove,
        crate::admin::widget_keys::create,
        crate::admin::widget_keys::list,
        crate::admin::widget_keys::update,
        crate::admin::widget_keys::revoke,
        crate::channels::widget::sessions::session_handler,
        crate::channels::widget::chat::chat_handler,
        crate::channels::widget::feedback::feedback_handler,
        crate::http::health::healthz,
        crate::http::health::readyz
    ),
    components(schemas(
        AskBody, RestAnswer, AskResponse, AskEvent, Citation, Usage, AnswerMode, ErrorBody, ErrorDetail, Health,
        UsageReport, UsageCounts, DayUsage, UserUsage,
        crate::admin::tenants::TenantView, crate::admin::tenants::TenantDetail, crate::admin::tenants::CreateTenant,
        crate::admin::tenants::UpdateTenant, crate::admin::tenants::DeletedTenant,
        crate::admin::keys::ApiKeyView, crate::admin::keys::CreateKey, crate::admin::keys::CreatedKey,
        crate::admin::documents::DocumentView, crate::admin::settings::SettingsView, crate::tenants::TenantSettings, crate::limits::Quotas,
        crate::limits::TenantLimitOverrides, crate::config::TenantCopilotConfig,
        crate::admin::sources::SourceView, crate::admin::sources::CreateSource, crate::admin::sources::UpdateSource,
        crate::admin::sources::DeletedSource, crate::admin::syncs::SyncView, crate::sync_jobs::progress::SyncProgress,
        crate::sync_jobs::progress::SyncPhase, crate::admin::uploads::UploadResult, crate::admin::uploads::UploadedFile,
        crate::admin::widget_keys::WidgetKeyView, crate::admin::widget_keys::CreateWidgetKey,
        crate::admin::widget_keys::UpdateWidgetKey,
        crate::channels::widget::sessions::SessionRequest, crate::channels::widget::sessions::SessionResponse,
        crate::channels::widget::chat::ChatRequest, crate::channels::widget::feedback::FeedbackRequest
    )),
    modifiers(&ApiKeyAuth, &CommonResponses),
    tags(
        (name = "ask", description = "Questions and answers"),
        (name = "admin", description = "Administration (admin keys)"),
        (name = "widget", description = "The web chat widget (called by its script from allowed page origins)"),
        (name = "operations", description = "Health")
    )
)]
pub struct ApiDoc;

struct ApiKeyAuth;

impl Modify for ApiKeyAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("A tenant API key, `rgw_<id>_<secret>`"))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "widget_session",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "A widget session token from `POST /widget/v1/session` (15 minutes, one origin)",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "admin_key",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "An admin key, `rgwadm_<id>_<secret>`: global, or scoped to one tenant",
                    ))
                    .build(),
            ),
        );
    }
}

/// What every operation can answer besides its own responses, added where an operation does not
/// declare it (so the document is complete without repeating it on each route): 401 for an
/// operation that needs a credential, 415 for one with a JSON body; and the shapes utoipa cannot
/// express: `POST /api/v1/ask` also streams `text/event-stream`, the widget refuses other origins
/// with 403, and a sync's event stream carries each SyncView as text.
struct CommonResponses;

fn error_response(description: &str) -> utoipa::openapi::RefOr<utoipa::openapi::Response> {
    utoipa::openapi::ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            utoipa::openapi::Content::new(Some(utoipa::openapi::Ref::from_schema_name(
                "ErrorBody",
            ))),
        )
        .build()
        .into()
}

/// A server-sent event stream, described (as Schemathesis and OpenAPI 3.2's `itemSchema` read
/// it) by the shape of one event: its name and its data, a JSON text.
fn event_stream(data: &str) -> utoipa::openapi::Content {
    use utoipa::openapi::ObjectBuilder;
    use utoipa::openapi::schema::Type;
    let text = |description: &str| {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some(description))
    };
    utoipa::openapi::Content::new(Some(
        ObjectBuilder::new()
            .property("event", text("The event's name"))
            .property("data", text(data))
            .property("id", text("Unused"))
            .description(Some("One server-sent event")),
    ))
}

impl Modify for CommonResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for (path, item) in &mut openapi.paths.paths {
            let operations = [
                item.get.as_mut(),
                item.post.as_mut(),
                item.put.as_mut(),
                item.patch.as_mut(),
                item.delete.as_mut(),
            ];
            for operation in operations.into_iter().flatten() {
                let responses = &mut operation.responses.responses;
                if operation.security.as_ref().is_some_and(|s| !s.is_empty()) {
                    responses.entry("401".into()).or_insert_with(|| {
                        error_response("A missing, invalid, revoked or expired credential")
                    });
                }
                let json_body = operation
                    .request_body
                    .as_ref()
                    .is_some_and(|b| b.content.contains_key("application/json"));
                if json_body {
                    responses.entry("415".into()).or_insert_with(|| {
                        error_response("The body is not sent as `application/json`")
                    });
                }
                if path.starts_with("/widget/v1/") {
                    responses.entry("403".into()).or_insert_with(|| {
                        error_response("The page's origin is not allowed for the session's key")
                    });
                }
                let data = if path == "/api/v1/ask" {
                    Some("JSON: an AskEvent (first a `conversation` event with its id)")
                } else if path.ends_with("/events") {
                    Some("JSON: a SyncView (`progress` events, then `done`)")
                } else {
                    None
                };
                if let Some(utoipa::openapi::RefOr::T(ok)) = responses.get_mut("200")
                    && let Some(data) = data
                {
                    ok.content
                        .insert("text/event-stream".into(), event_stream(data));
                }
            }
        }
    }
}

pub async fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
