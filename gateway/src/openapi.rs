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
    modifiers(&ApiKeyAuth),
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

pub async fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
