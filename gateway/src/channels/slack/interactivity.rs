//! `POST /slack/interactivity`: clicks on an answer's 👍/👎 buttons (`block_actions`), stored
//! as feedback on the answer message for its tenant and user.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use ragway_catalog::{Feedback, Rating};
use serde::Deserialize;
use serde_json::{Value, json};

use super::SlackState;
use super::blocks::FEEDBACK_ACTION;
use super::{CHANNEL, authenticate};
use crate::channels::bots::count;
use crate::http::ApiError;

#[derive(Debug, Deserialize)]
struct Form {
    payload: String,
}

#[derive(Debug, Deserialize)]
struct Payload {
    #[serde(rename = "type")]
    kind: String,
    team: Option<Id>,
    user: Option<Id>,
    container: Option<Container>,
    #[serde(default)]
    actions: Vec<Action>,
    response_url: Option<String>,
    /// The rated message (its text tells which language to apologise in).
    message: Option<Message>,
}

#[derive(Debug, Deserialize)]
struct Message {
    #[serde(default)]
    text: String,
}

#[derive(Debug, Deserialize)]
struct Id {
    id: String,
}

#[derive(Debug, Deserialize)]
struct Container {
    channel_id: Option<String>,
    message_ts: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Action {
    action_id: String,
    value: Option<String>,
}

/// Reads an interaction's form body and payload as the handler does, without acting on it (for
/// the fuzzing harness).
pub(super) fn fuzz_read(bot: &super::SlackBot, body: &[u8]) -> Result<(), String> {
    let form: Form = serde_urlencoded::from_bytes(body).map_err(|e| e.to_string())?;
    let payload: Payload = serde_json::from_str(&form.payload).map_err(|e| e.to_string())?;
    let _ = payload
        .actions
        .iter()
        .find(|a| a.action_id == FEEDBACK_ACTION)
        .and_then(|a| Rating::parse(a.value.as_deref().unwrap_or_default()));
    if let Some(team) = &payload.team {
        let _ = bot.workspace(&team.id);
    }
    if let Some(url) = &payload.response_url {
        let _ = bot.response_url_allowed(url);
    }
    Ok(())
}

pub async fn interactivity_handler(
    State(state): State<SlackState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let bot = authenticate(&state, &headers, &body)?;
    let form: Form = serde_urlencoded::from_bytes(&body)
        .map_err(|e| ApiError::bad_request(format!("malformed Slack interaction: {e}")))?;
    let payload: Payload = serde_json::from_str(&form.payload)
        .map_err(|e| ApiError::bad_request(format!("malformed Slack interaction payload: {e}")))?;
    let feedback = payload
        .actions
        .iter()
        .find(|a| a.action_id == FEEDBACK_ACTION)
        .and_then(|a| Rating::parse(a.value.as_deref().unwrap_or_default()));
    let (Some(rating), "block_actions") = (feedback, payload.kind.as_str()) else {
        count(&state.core.metrics, CHANNEL, "ignored");
        return Ok(StatusCode::OK.into_response());
    };
    let (Some(team), Some(user), Some(container)) = (payload.team, payload.user, payload.container)
    else {
        return Err(ApiError::bad_request(
            "a feedback click without its team, user or message",
        ));
    };
    let (Some(channel), Some(ts)) = (container.channel_id, container.message_ts) else {
        return Err(ApiError::bad_request(
            "a feedback click without its message",
        ));
    };
    let Some((workspace, _)) = bot.workspace(&team.id) else {
        tracing::warn!(team = %team.id, "feedback from a Slack workspace that is not configured");
        count(&state.core.metrics, CHANNEL, "unknown_workspace");
        return Ok(StatusCode::OK.into_response());
    };
    let feedback = Feedback {
        tenant_id: workspace.tenant.clone(),
        channel: CHANNEL.into(),
        message_id: format!("{channel}:{ts}"),
        user_id: format!("slack:{}:{}", team.id, user.id),
        rating,
        comment: None,
        created_at: String::new(),
    };
    match state.core.catalog.record_feedback(&feedback).await {
        Ok(()) => count(&state.core.metrics, CHANNEL, "feedback"),
        Err(err) => {
            tracing::error!(%err, tenant = %feedback.tenant_id, "could not store Slack feedback");
            count(&state.core.metrics, CHANNEL, "failed");
            let response_url = payload
                .response_url
                .filter(|url| bot.response_url_allowed(url));
            if let Some(url) = response_url {
                let rated = payload.message.map(|m| m.text).unwrap_or_default();
                let lang = state.core.language(&feedback.tenant_id, &rated, None).await;
                let body: Value = json!({"response_type": "ephemeral", "replace_original": false,
                    "text": crate::i18n::messages(lang).feedback_not_saved});
                let bot = bot.clone();
                state.core.spawn_background(CHANNEL, async move {
                    if let Err(err) = bot.api.respond(&url, &body).await {
                        tracing::error!(%err, "could not tell the Slack user their feedback was lost");
                    }
                });
            }
        }
    }
    Ok(StatusCode::OK.into_response())
}
