//! The Microsoft Teams channel (Bot Framework): `POST /api/messages`. The bearer token is
//! validated by Microsoft's rules for requests from the Bot Connector before the activity is
//! trusted (`jwt.rs`: issuer, audience, signing key and algorithm, lifetime, and the caller app of
//! an Entra-issued token), the activity is bound to it (the `serviceurl` claim, the key's channel
//! endorsement), its `serviceUrl` must be allow-listed and its organisation configured. Messages
//! are acknowledged at once and answered on a tracked background task; feedback invokes are
//! stored and answered synchronously. Wire contract: shared/specs/channels.md §2.

mod activity;
mod answer;
mod citations;
mod connector;
#[doc(hidden)]
pub mod fuzz_targets;
mod jwt;
mod keys;
mod token;

pub use crate::config::teams::{TeamsConfig, TeamsTenant};

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use ragway_catalog::{Feedback, Rating};
use serde_json::{Value, json};

use self::activity::Activity;
use self::connector::Connector;
use self::jwt::TokenError;
use self::keys::KeyStore;
use self::token::TokenClient;
use super::bots::{Clock, SecretSource, count, first_delivery, secret};
use crate::context::Core;
use crate::error::GatewayError;
use crate::http::ApiError;
use crate::http::headers::bearer_token;
use crate::i18n;

pub const CHANNEL: &str = "teams";

/// What the Teams handler works with: the core and the bot (None: `[teams]` is not configured,
/// and the route answers 404).
#[derive(Debug, Clone)]
pub struct TeamsState {
    pub core: Core,
    pub bot: Option<Arc<TeamsBot>>,
    pub clock: Clock,
}

pub struct TeamsBot {
    config: TeamsConfig,
    keys: KeyStore,
    connector: Connector,
    /// Activity ids already taken (redeliveries are dropped).
    seen: moka::future::Cache<String, ()>,
}

impl std::fmt::Debug for TeamsBot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TeamsBot")
            .field("app_id", &self.config.app_id)
            .finish_non_exhaustive()
    }
}

impl TeamsBot {
    pub fn new(config: &TeamsConfig, secrets: SecretSource<'_>) -> Result<Self, GatewayError> {
        if config.app_id.trim().is_empty() {
            return Err(GatewayError::Config(
                "teams.app_id (the bot's Microsoft App ID) is empty".into(),
            ));
        }
        let password = secret(secrets, "teams.app_password_env", &config.app_password_env)?;
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(15))
            .build()
            .map_err(|e| {
                GatewayError::Config(format!("teams: cannot build the HTTP client: {e}"))
            })?;
        let keys = KeyStore::new(
            http.clone(),
            &config.openid_metadata_url,
            config.entra_openid_metadata_url().as_deref(),
            Duration::from_secs(config.keys_refresh_secs),
            Duration::from_secs(config.unknown_key_refetch_secs),
        );
        let tokens = TokenClient::new(
            http.clone(),
            config.token_url(),
            config.app_id.clone(),
            password,
            config.token_scope.clone(),
        );
        Ok(Self {
            config: config.clone(),
            keys,
            connector: Connector::new(http, config.service_url_prefixes.clone(), tokens),
            seen: moka::future::Cache::builder()
                .max_capacity(100_000)
                .time_to_live(Duration::from_secs(config.dedupe_ttl_secs.max(1)))
                .build(),
        })
    }
}

fn refuse(state: &TeamsState, err: &TokenError) -> ApiError {
    tracing::warn!(%err, "refused a Bot Framework request");
    count(&state.core.metrics, CHANNEL, "rejected");
    let code = match err.status() {
        StatusCode::FORBIDDEN => "forbidden",
        StatusCode::SERVICE_UNAVAILABLE => "unavailable",
        _ => "unauthorized",
    };
    ApiError::new(err.status(), code, err.to_string())
}

pub async fn messages_handler(
    State(state): State<TeamsState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let bot = state.bot.clone().ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "the Teams channel is not configured",
        )
    })?;
    let token = bearer_token(&headers)
        .map_err(|_| TokenError::Missing)
        .map_err(|err| refuse(&state, &err))?;
    let now = state.clock.now();
    let verified = jwt::verify(&bot.keys, &bot.config, token.trim(), now)
        .await
        .map_err(|err| refuse(&state, &err))?;
    let activity: Activity = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("malformed activity: {e}")))?;
    verified
        .covers(&activity.service_url, &activity.channel_id)
        .map_err(|err| refuse(&state, &err))?;
    if !bot.connector.allowed(&activity.service_url) {
        tracing::warn!(service_url = %activity.service_url, "an activity from a serviceUrl outside teams.service_url_prefixes");
        count(&state.core.metrics, CHANNEL, "rejected");
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "serviceUrl is not allowed",
        ));
    }
    match (activity.kind.as_str(), activity.name.as_deref()) {
        ("message", _) => Ok(take_message(&state, bot, activity).await),
        ("invoke", Some("message/submitAction")) => {
            Ok(store_feedback(&state, &bot, &activity).await)
        }
        _ => {
            count(&state.core.metrics, CHANNEL, "ignored");
            Ok(StatusCode::OK.into_response())
        }
    }
}

/// Acknowledges a message and answers it in the background.
async fn take_message(state: &TeamsState, bot: Arc<TeamsBot>, activity: Activity) -> Response {
    if let Some(id) = &activity.id {
        let key = format!("{}\n{id}", activity.conversation.id);
        if !first_delivery(&state.core, &bot.seen, CHANNEL, &key).await {
            count(&state.core.metrics, CHANNEL, "duplicate");
            return StatusCode::OK.into_response();
        }
    }
    let org_id = activity.m365_tenant().unwrap_or_default().to_owned();
    let task_state = state.clone();
    match bot.config.tenants.get(&org_id).cloned() {
        Some(org) => {
            state
                .core
                .tasks
                .spawn(answer::answer(task_state, bot, activity, org_id, org));
        }
        None => {
            tracing::warn!(org = %org_id, "a Teams message from an organisation that is not configured");
            count(&state.core.metrics, CHANNEL, "unknown_workspace");
            // No tenant yet: the message's words, else the client's locale, else the configuration.
            let lang = ragway_ingest::lang::detect(&activity.question())
                .or(activity.lang())
                .unwrap_or(state.core.config.language);
            state.core.spawn_background(CHANNEL, async move {
                let mut reply = activity.reply("message");
                reply["text"] = json!(i18n::messages(lang).teams_not_connected);
                reply["locale"] = json!(i18n::locale_tag(lang, activity.locale.as_deref()));
                let sent = bot.connector.send(&activity.service_url, &activity.conversation.id, activity.id.as_deref(), &reply).await;
                if let Err(err) = sent {
                    tracing::error!(%err, "could not tell a Teams user their organisation is not connected");
                    count(&task_state.core.metrics, CHANNEL, "delivery_failed");
                }
            });
        }
    }
    StatusCode::ACCEPTED.into_response()
}

/// The rating and comment of a feedback invoke's `value` (None: not a 👍/👎).
fn feedback_of(value: &Value) -> Option<(Rating, Option<String>)> {
    let action = &value["actionValue"];
    let rating = match action["reaction"].as_str() {
        Some("like") => Rating::Up,
        Some("dislike") => Rating::Down,
        _ => return None,
    };
    // `feedback` is itself a JSON string: {"feedbackText": "…"}.
    let comment = action["feedback"]
        .as_str()
        .and_then(|text| serde_json::from_str::<Value>(text).ok())
        .and_then(|f| f["feedbackText"].as_str().map(str::to_owned))
        .filter(|text| !text.trim().is_empty());
    Some((rating, comment))
}

/// A 👍/👎 (and optional comment) from Teams' feedback loop, stored for the answer it rates.
async fn store_feedback(state: &TeamsState, bot: &TeamsBot, activity: &Activity) -> Response {
    let Some((rating, comment)) = feedback_of(&activity.value) else {
        count(&state.core.metrics, CHANNEL, "ignored");
        return Json(json!({})).into_response();
    };
    let org_id = activity.m365_tenant().unwrap_or_default();
    let (Some(org), Some(message_id)) =
        (bot.config.tenants.get(org_id), activity.reply_to_id.clone())
    else {
        tracing::warn!(org = %org_id, "Teams feedback that cannot be attributed (organisation or message unknown)");
        count(&state.core.metrics, CHANNEL, "ignored");
        return Json(json!({})).into_response();
    };
    let principal = answer::principal(activity, org_id, org);
    let feedback = Feedback {
        tenant_id: principal.tenant_id,
        channel: CHANNEL.into(),
        message_id,
        user_id: principal.user_id,
        rating,
        comment,
        created_at: String::new(),
    };
    match state.core.catalog.record_feedback(&feedback).await {
        Ok(()) => {
            count(&state.core.metrics, CHANNEL, "feedback");
            Json(json!({})).into_response()
        }
        Err(err) => {
            tracing::error!(%err, tenant = %feedback.tenant_id, "could not store Teams feedback");
            count(&state.core.metrics, CHANNEL, "failed");
            // Teams tells the user the submission failed; the text may surface in its client.
            let lang = state
                .core
                .language(&feedback.tenant_id, "", activity.lang())
                .await;
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                i18n::messages(lang).feedback_not_stored,
            )
            .into_response()
        }
    }
}
