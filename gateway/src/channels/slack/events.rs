//! `POST /slack/events` (Events API): the URL check, then mentions in channels, direct messages
//! and assistant-thread messages. Acknowledged at once; retries of an event are dropped by
//! `event_id`; the bot's own messages and message subtypes (edits, deletions, bot posts) are ignored.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::Deserialize;

use super::SlackState;
use super::answer::{Thread, answer_in_thread};
use super::identity::Membership;
use super::{CHANNEL, SlackBot, authenticate};
use crate::channels::bots::{count, first_delivery};
use crate::http::ApiError;
use crate::i18n;

#[derive(Debug, Deserialize)]
struct Envelope {
    #[serde(rename = "type")]
    kind: String,
    challenge: Option<String>,
    team_id: Option<String>,
    event_id: Option<String>,
    event: Option<Event>,
}

#[derive(Debug, Clone, Deserialize)]
struct Event {
    #[serde(rename = "type")]
    kind: String,
    subtype: Option<String>,
    user: Option<String>,
    bot_id: Option<String>,
    #[serde(default)]
    text: String,
    ts: Option<String>,
    thread_ts: Option<String>,
    channel: Option<String>,
    channel_type: Option<String>,
    /// Set on messages of other workspaces in shared channels.
    team: Option<String>,
    /// The asker's own workspace (Slack Connect): another organisation's when it is not the
    /// envelope's `team_id`.
    user_team: Option<String>,
    /// `assistant_thread_started`: the assistant thread the user opened.
    assistant_thread: Option<AssistantThread>,
}

#[derive(Debug, Clone, Deserialize)]
struct AssistantThread {
    channel_id: String,
    thread_ts: String,
}

pub async fn events_handler(
    State(state): State<SlackState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let bot = authenticate(&state, &headers, &body)?;
    let envelope: Envelope = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("malformed Slack event: {e}")))?;
    match envelope.kind.as_str() {
        "url_verification" => {
            let challenge = envelope.challenge.unwrap_or_default();
            Ok(([(header::CONTENT_TYPE, "text/plain")], challenge).into_response())
        }
        "event_callback" => {
            accept(&state, bot, envelope).await;
            Ok(StatusCode::OK.into_response())
        }
        other => {
            tracing::debug!(kind = other, "ignored a Slack envelope");
            Ok(StatusCode::OK.into_response())
        }
    }
}

/// Takes an event: answered on a background task if it is a question for the bot.
async fn accept(state: &SlackState, bot: std::sync::Arc<SlackBot>, envelope: Envelope) {
    let (Some(event), Some(team)) = (envelope.event, envelope.team_id) else {
        return count(&state.core.metrics, CHANNEL, "ignored");
    };
    if let Some(event_id) = &envelope.event_id
        && !first_delivery(&state.core, &bot.seen_events, CHANNEL, event_id).await
    {
        tracing::debug!(event_id, "dropped a retried Slack event");
        return count(&state.core.metrics, CHANNEL, "duplicate");
    }
    if event.kind == "assistant_thread_started" {
        return suggest_prompts(state, &bot, &team, event.assistant_thread);
    }
    let is_question = match event.kind.as_str() {
        "app_mention" => true,
        "message" => event.channel_type.as_deref() == Some("im"),
        _ => false,
    };
    if !is_question || event.subtype.is_some() {
        return count(&state.core.metrics, CHANNEL, "ignored");
    }
    let Some((workspace, token)) = bot.workspace(&team) else {
        tracing::warn!(
            team,
            "a Slack event from a workspace that is not configured; nobody can be answered there"
        );
        return count(&state.core.metrics, CHANNEL, "unknown_workspace");
    };
    let (workspace, token) = (workspace.clone(), token.to_owned());
    let state_for_task = state.clone();
    state.core.spawn_background(CHANNEL, async move {
        let state = state_for_task;
        let Some(thread) = question_thread(&bot, &team, &token, &event).await else {
            return count(&state.core.metrics, CHANNEL, "ignored");
        };
        let text = strip_mentions(&event.text);
        if text.is_empty() {
            let lang = state.core.language(&workspace.tenant, "", None).await;
            let hint = i18n::messages(lang).slack_mention_hint;
            let body = serde_json::json!({"channel": thread.channel, "thread_ts": thread.thread_ts, "text": hint});
            if let Err(err) = bot.api.call(&token, "chat.postMessage", &body).await {
                tracing::error!(%err, "could not answer an empty Slack question");
                count(&state.core.metrics, CHANNEL, "delivery_failed");
            }
            return;
        }
        answer_in_thread(state, bot, workspace, token, thread, text).await;
    });
}

/// Offers the configured prompts in a freshly opened assistant thread (questions asked there
/// arrive as direct messages), titled in the tenant's language (nobody has asked anything yet).
fn suggest_prompts(
    state: &SlackState,
    bot: &std::sync::Arc<SlackBot>,
    team: &str,
    thread: Option<AssistantThread>,
) {
    let (Some(thread), Some((workspace, token))) = (thread, bot.workspace(team)) else {
        return count(&state.core.metrics, CHANNEL, "ignored");
    };
    if bot.config.suggested_prompts.is_empty() {
        return;
    }
    let prompts: Vec<_> = bot
        .config
        .suggested_prompts
        .iter()
        .map(|p| serde_json::json!({"title": p, "message": p}))
        .collect();
    let (bot, token, task_state) = (bot.clone(), token.to_owned(), state.clone());
    let tenant = workspace.tenant.clone();
    state.core.spawn_background(CHANNEL, async move {
        let (state, metrics) = (&task_state, &task_state.core.metrics);
        let lang = state.core.language(&tenant, "", None).await;
        let body = serde_json::json!({"channel_id": thread.channel_id, "thread_ts": thread.thread_ts,
            "title": i18n::messages(lang).slack_prompts_title, "prompts": prompts});
        if let Err(err) = bot
            .api
            .call(&token, "assistant.threads.setSuggestedPrompts", &body)
            .await
        {
            tracing::warn!(%err, "could not suggest prompts in a Slack assistant thread");
            count(metrics, CHANNEL, "delivery_failed");
        }
    });
}

/// The thread to answer in, or None for the bot's own messages (and malformed events).
async fn question_thread(bot: &SlackBot, team: &str, token: &str, event: &Event) -> Option<Thread> {
    let user = event.user.clone()?;
    let identity = bot.identity(team, token).await;
    let own = identity.as_ref().is_some_and(|me| {
        me.user_id == user || (event.bot_id.is_some() && event.bot_id == me.bot_id)
    });
    if own || (identity.is_none() && event.bot_id.is_some()) {
        return None;
    }
    let ts = event.ts.clone()?;
    let user_team = event.user_team.as_deref().or(event.team.as_deref());
    Some(Thread {
        team: event.team.clone().unwrap_or_else(|| team.to_owned()),
        channel: event.channel.clone()?,
        thread_ts: event.thread_ts.clone().unwrap_or(ts),
        user,
        membership: Membership::of(team, user_team),
    })
}

/// Reads an Events API body as the handler and `accept` do, without acting on it (for the
/// fuzzing harness).
pub(super) fn fuzz_read(body: &[u8]) -> Result<(), serde_json::Error> {
    let envelope: Envelope = serde_json::from_slice(body)?;
    let (Some(event), team) = (envelope.event, envelope.team_id.unwrap_or_default()) else {
        return Ok(());
    };
    let _ = Membership::of(&team, event.user_team.as_deref().or(event.team.as_deref()));
    let _ = strip_mentions(&event.text);
    Ok(())
}

/// The question without `<@U…>` mentions (the bot's and anyone else's).
pub fn strip_mentions(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("<@") {
        out.push_str(&rest[..start]);
        match rest[start..].find('>') {
            Some(end) => rest = &rest[start + end + 1..],
            None => {
                rest = &rest[start..];
                break;
            }
        }
    }
    out.push_str(rest);
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mentions_are_stripped_from_questions() {
        assert_eq!(
            strip_mentions("<@U0BOT> How do I  connect?"),
            "How do I connect?"
        );
        assert_eq!(strip_mentions("hey <@U0BOT|ragway>, VPN?"), "hey , VPN?");
        assert_eq!(strip_mentions("<@U0BOT>"), "");
    }
}
