//! `POST /slack/commands`: the `/ask <question>` slash command. Acknowledged at once; the answer
//! is posted to the command's `response_url` (allow-listed host) when it is complete.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use ragway_ingest::lang::Lang;
use serde::Deserialize;
use serde_json::{Value, json};

use super::SlackState;
use super::{CHANNEL, SlackBot, authenticate, blocks, identity};
use crate::ask::AskEvent;
use crate::channels::bots::count;
use crate::channels::chat::{self, ChatQuestion};
use crate::config::slack::SlackWorkspace;
use crate::http::ApiError;
use crate::i18n;

#[derive(Debug, Deserialize)]
struct SlashCommand {
    team_id: String,
    channel_id: String,
    user_id: String,
    #[serde(default)]
    text: String,
    response_url: String,
    #[serde(default)]
    trigger_id: String,
}

fn ephemeral(text: &str) -> Response {
    Json(json!({"response_type": "ephemeral", "text": text})).into_response()
}

pub async fn commands_handler(
    State(state): State<SlackState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let bot = authenticate(&state, &headers, &body)?;
    let command: SlashCommand = serde_urlencoded::from_bytes(&body)
        .map_err(|e| ApiError::bad_request(format!("malformed Slack command: {e}")))?;
    let question = command.text.trim().to_owned();
    let Some((workspace, token)) = bot.workspace(&command.team_id) else {
        tracing::warn!(team = %command.team_id, "a slash command from a workspace that is not configured");
        count(&state.core.metrics, CHANNEL, "unknown_workspace");
        // No tenant to ask: the command's own words, else the configured language.
        let lang = ragway_ingest::lang::detect_or(&question, state.core.config.language);
        return Ok(ephemeral(i18n::messages(lang).slack_not_connected));
    };
    let lang = state
        .core
        .language(&workspace.tenant, &question, None)
        .await;
    let messages = i18n::messages(lang);
    if question.is_empty() {
        count(&state.core.metrics, CHANNEL, "ignored");
        return Ok(ephemeral(messages.slack_usage));
    }
    if !bot.response_url_allowed(&command.response_url) {
        // The host only: the rest of a response URL is a capability to post into a channel.
        let host = reqwest::Url::parse(&command.response_url)
            .ok()
            .and_then(|url| {
                url.host_str()
                    .map(|h| h.chars().take(253).collect::<String>())
            })
            .unwrap_or_else(|| "(not a URL)".to_owned());
        tracing::warn!(response_url_host = %host, "refused a slash command's response_url (not an allowed host)");
        count(&state.core.metrics, CHANNEL, "rejected");
        return Ok(ephemeral(messages.slack_response_url_refused));
    }
    let (workspace, token) = (workspace.clone(), token.to_owned());
    let task_state = state.clone();
    state.core.spawn_background(CHANNEL, async move {
        answer_command(task_state, bot, workspace, token, command, question, lang).await;
    });
    Ok(ephemeral(messages.searching))
}

async fn answer_command(
    state: SlackState,
    bot: Arc<SlackBot>,
    workspace: SlackWorkspace,
    token: String,
    command: SlashCommand,
    text: String,
    lang: Lang,
) {
    // A command carries no `user_team`: its `team_id` names a configured workspace (checked on
    // arrival), and the asker is taken as that workspace's member.
    let principal = identity::principal(
        &bot,
        &workspace,
        &token,
        &command.team_id,
        &command.user_id,
        identity::Membership::Member,
    )
    .await;
    let question = ChatQuestion {
        principal,
        channel: CHANNEL,
        // Each command stands alone: it has no thread to continue.
        thread: format!("command:{}:{}", command.channel_id, command.trigger_id),
        text: text.clone(),
        lang,
    };
    let reply = match chat::begin(&state.core, question).await {
        Ok(mut answer) => {
            let mut shown = String::new();
            let mut reply = None;
            while let Some(event) = answer.next().await {
                match event {
                    AskEvent::Delta { text } => shown.push_str(&text),
                    AskEvent::Done { citations, .. } => {
                        let mut blocks = vec![json!({"type": "context", "elements": [
                            {"type": "mrkdwn", "text": format!("_{}_", blocks::mrkdwn(&text))}]})];
                        blocks.extend(blocks::answer_blocks(&shown, &citations, lang));
                        reply = Some(json!({"response_type": bot.config.command_response_type,
                            "text": blocks::mrkdwn(&shown), "blocks": blocks}));
                    }
                    AskEvent::Error { code, .. } => {
                        reply = Some(warning(&chat::failure_message(lang, code)));
                    }
                    AskEvent::Sources { .. } => {}
                }
            }
            reply.unwrap_or_else(|| {
                warning(&chat::failure_message(
                    lang,
                    crate::error::ErrorCode::InternalError,
                ))
            })
        }
        Err(message) => warning(&message),
    };
    if let Err(err) = bot.api.respond(&command.response_url, &reply).await {
        tracing::error!(%err, "could not post the slash command's answer to Slack");
        count(&state.core.metrics, CHANNEL, "delivery_failed");
    }
}

/// Reads a slash command's form body as the handler does, without acting on it (for the fuzzing
/// harness).
pub(super) fn fuzz_read(bot: &SlackBot, body: &[u8]) -> Result<(), serde_urlencoded::de::Error> {
    let command: SlashCommand = serde_urlencoded::from_bytes(body)?;
    let question = command.text.trim().to_owned();
    let _ = bot.workspace(&command.team_id);
    let _ = ragway_ingest::lang::detect_or(&question, Lang::En);
    let _ = bot.response_url_allowed(&command.response_url);
    let _ = blocks::mrkdwn(&question);
    Ok(())
}

fn warning(message: &str) -> Value {
    json!({"response_type": "ephemeral", "text": format!("⚠️ {message}")})
}
