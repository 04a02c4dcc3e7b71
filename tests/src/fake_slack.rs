//! A fake Slack Web API (`{base}/api/{method}`) and `response_url` sink on 127.0.0.1, speaking
//! Slack's wire protocol: bearer bot tokens, JSON or form bodies, HTTP 200 with
//! `{"ok": true|false, "error"}`, and the rules of the methods ragway uses: `auth.test`,
//! `users.info`, `chat.postMessage`, `chat.update`, `chat.startStream`/`appendStream`/`stopStream`
//! (a stream must be open to append to or stop; outside DMs it needs its recipient),
//! `assistant.threads.setStatus`/`setSuggestedPrompts`. Block Kit payloads are checked against
//! the block types and limits Slack enforces (unknown blocks are refused with `invalid_blocks`).
//! Every call is recorded.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{Map, Value, json};

/// A workspace the fake knows: its bot token and the bot's identity.
#[derive(Debug, Clone)]
pub struct FakeWorkspace {
    pub team_id: String,
    pub token: String,
    pub bot_user_id: String,
    pub bot_id: String,
}

#[derive(Debug, Clone)]
pub struct SlackCall {
    pub method: String,
    pub team_id: Option<String>,
    pub body: Value,
}

/// A message as Slack would show it: posted, then perhaps edited or streamed.
#[derive(Debug, Clone, Default)]
pub struct FakeMessage {
    pub channel: String,
    pub ts: String,
    pub thread_ts: Option<String>,
    /// The text as shown: the posted/updated `text`, or the streamed markdown concatenated.
    pub text: String,
    pub blocks: Vec<Value>,
    pub streamed: bool,
    /// For streams: still open (no `chat.stopStream` yet).
    pub streaming: bool,
    pub updates: usize,
}

#[derive(Default)]
struct Shared {
    workspaces: Vec<FakeWorkspace>,
    emails: Mutex<HashMap<String, String>>,
    calls: Mutex<Vec<SlackCall>>,
    messages: Mutex<Vec<FakeMessage>>,
    responses: Mutex<Vec<(String, Value)>>,
    streaming_disabled: AtomicBool,
    next_ts: AtomicU64,
}

pub struct FakeSlack {
    /// The Web API base, as `slack.api_base` is configured.
    pub api_base: String,
    /// Where `response_url`s of this fake point (`{root}/response/{id}`).
    pub root: String,
    shared: Arc<Shared>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for FakeSlack {
    fn drop(&mut self) {
        self.server.abort();
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl FakeSlack {
    pub async fn start(workspaces: Vec<FakeWorkspace>) -> std::io::Result<Self> {
        for workspace in &workspaces {
            crate::log_scan::secret("Slack bot token", &workspace.token);
        }
        let shared = Arc::new(Shared {
            workspaces,
            next_ts: AtomicU64::new(1),
            ..Shared::default()
        });
        let router = Router::new()
            .route("/api/{method}", post(web_api))
            .route("/response/{id}", post(response_url))
            .with_state(Arc::clone(&shared));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let server = tokio::spawn(async move {
            if let Err(err) = axum::serve(listener, router).await {
                tracing::error!(%err, "fake Slack stopped");
            }
        });
        Ok(Self {
            api_base: format!("http://{addr}/api"),
            root: format!("http://{addr}"),
            shared,
            server,
        })
    }

    /// `chat.startStream` answers `unknown_method` (a workspace without streaming).
    pub fn disable_streaming(&self) {
        self.shared.streaming_disabled.store(true, Ordering::SeqCst);
    }

    /// What `users.info` reports as a user's email.
    pub fn set_email(&self, user: &str, email: &str) {
        lock(&self.shared.emails).insert(user.to_owned(), email.to_owned());
    }

    pub fn calls(&self) -> Vec<SlackCall> {
        lock(&self.shared.calls).clone()
    }

    pub fn calls_to(&self, method: &str) -> Vec<SlackCall> {
        self.calls()
            .into_iter()
            .filter(|c| c.method == method)
            .collect()
    }

    pub fn messages(&self) -> Vec<FakeMessage> {
        lock(&self.shared.messages).clone()
    }

    /// Bodies posted to `response_url`s, with the URL path.
    pub fn responses(&self) -> Vec<(String, Value)> {
        lock(&self.shared.responses).clone()
    }
}

async fn response_url(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    match serde_json::from_slice::<Value>(&body) {
        Ok(value) => {
            if let Some(blocks) = value.get("blocks")
                && let Err(error) = check_blocks(blocks)
            {
                return (axum::http::StatusCode::BAD_REQUEST, error).into_response();
            }
            lock(&shared.responses).push((format!("/response/{id}"), value));
            "ok".into_response()
        }
        Err(_) => (axum::http::StatusCode::BAD_REQUEST, "invalid_payload").into_response(),
    }
}

fn failure(error: &str) -> Response {
    Json(json!({"ok": false, "error": error})).into_response()
}

/// The body as a JSON object: Slack takes JSON or form-encoded arguments.
fn arguments(headers: &HeaderMap, body: &[u8]) -> Result<Map<String, Value>, &'static str> {
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if content_type.starts_with("application/json") {
        return match serde_json::from_slice(body) {
            Ok(Value::Object(map)) => Ok(map),
            _ => Err("invalid_json"),
        };
    }
    if content_type.starts_with("application/x-www-form-urlencoded") {
        let pairs: Vec<(String, String)> =
            serde_urlencoded::from_bytes(body).map_err(|_| "invalid_form_data")?;
        return Ok(pairs
            .into_iter()
            .map(|(k, v)| (k, Value::String(v)))
            .collect());
    }
    Err("invalid_form_data")
}

async fn web_api(
    State(shared): State<Arc<Shared>>,
    Path(method): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let Some(token) = token else {
        return failure("not_authed");
    };
    let Some(workspace) = shared.workspaces.iter().find(|w| w.token == token).cloned() else {
        return failure("invalid_auth");
    };
    let args = match arguments(&headers, &body) {
        Ok(args) => args,
        Err(error) => return failure(error),
    };
    lock(&shared.calls).push(SlackCall {
        method: method.clone(),
        team_id: Some(workspace.team_id.clone()),
        body: Value::Object(args.clone()),
    });
    let arg = |name: &str| args.get(name).and_then(Value::as_str).map(str::to_owned);
    match method.as_str() {
        "auth.test" => Json(
            json!({"ok": true, "url": "https://fake.slack.com/", "team": "Fake",
            "user": "ragway", "team_id": workspace.team_id, "user_id": workspace.bot_user_id,
            "bot_id": workspace.bot_id, "is_enterprise_install": false}),
        )
        .into_response(),
        "users.info" => {
            let Some(user) = arg("user") else {
                return failure("user_not_found");
            };
            let email = lock(&shared.emails).get(&user).cloned();
            Json(
                json!({"ok": true, "user": {"id": user, "team_id": workspace.team_id,
                "profile": {"email": email}}}),
            )
            .into_response()
        }
        "assistant.threads.setStatus" => {
            match (arg("channel_id"), arg("thread_ts"), args.get("status")) {
                (Some(_), Some(_), Some(_)) => Json(json!({"ok": true})).into_response(),
                _ => failure("invalid_arguments"),
            }
        }
        "assistant.threads.setSuggestedPrompts" => Json(json!({"ok": true})).into_response(),
        "chat.postMessage" => post_message(&shared, &args),
        "chat.update" => update(&shared, &args),
        "chat.startStream" => start_stream(&shared, &args),
        "chat.appendStream" | "chat.stopStream" => continue_stream(&shared, &method, &args),
        _ => failure("unknown_method"),
    }
}

fn next_ts(shared: &Shared) -> String {
    format!(
        "1700000000.{:06}",
        shared.next_ts.fetch_add(1, Ordering::SeqCst)
    )
}

/// The message's blocks, checked; `Err` is Slack's `invalid_blocks` answer.
fn blocks_of(args: &Map<String, Value>) -> Result<Vec<Value>, String> {
    match args.get("blocks") {
        None => Ok(Vec::new()),
        Some(blocks) => {
            check_blocks(blocks).map(|()| blocks.as_array().cloned().unwrap_or_default())
        }
    }
}

fn invalid_blocks(error: String) -> Response {
    Json(json!({"ok": false, "error": "invalid_blocks", "errors": [error]})).into_response()
}

fn post_message(shared: &Shared, args: &Map<String, Value>) -> Response {
    let Some(channel) = args.get("channel").and_then(Value::as_str) else {
        return failure("channel_not_found");
    };
    let blocks = match blocks_of(args) {
        Ok(blocks) => blocks,
        Err(error) => return invalid_blocks(error),
    };
    let text = args.get("text").and_then(Value::as_str).unwrap_or_default();
    if text.is_empty() && blocks.is_empty() {
        return failure("no_text");
    }
    let ts = next_ts(shared);
    let thread_ts = args
        .get("thread_ts")
        .and_then(Value::as_str)
        .map(str::to_owned);
    lock(&shared.messages).push(FakeMessage {
        channel: channel.to_owned(),
        ts: ts.clone(),
        thread_ts: thread_ts.clone(),
        text: text.to_owned(),
        blocks,
        ..FakeMessage::default()
    });
    Json(json!({"ok": true, "channel": channel, "ts": ts,
        "message": {"type": "message", "text": text, "ts": ts, "thread_ts": thread_ts}}))
    .into_response()
}

fn update(shared: &Shared, args: &Map<String, Value>) -> Response {
    let (Some(channel), Some(ts)) = (
        args.get("channel").and_then(Value::as_str),
        args.get("ts").and_then(Value::as_str),
    ) else {
        return failure("invalid_arguments");
    };
    let blocks = match blocks_of(args) {
        Ok(blocks) => blocks,
        Err(error) => return invalid_blocks(error),
    };
    let text = args.get("text").and_then(Value::as_str).unwrap_or_default();
    if text.is_empty() && blocks.is_empty() {
        return failure("no_text");
    }
    let mut messages = lock(&shared.messages);
    let Some(message) = messages
        .iter_mut()
        .find(|m| m.ts == ts && m.channel == channel)
    else {
        return failure("message_not_found");
    };
    if message.streamed {
        return failure("cant_update_message");
    }
    message.text = text.to_owned();
    message.blocks = blocks;
    message.updates += 1;
    Json(json!({"ok": true, "channel": channel, "ts": ts, "text": text})).into_response()
}

fn start_stream(shared: &Shared, args: &Map<String, Value>) -> Response {
    if shared.streaming_disabled.load(Ordering::SeqCst) {
        return failure("unknown_method");
    }
    let (Some(channel), Some(thread_ts)) = (
        args.get("channel").and_then(Value::as_str),
        args.get("thread_ts").and_then(Value::as_str),
    ) else {
        return failure("invalid_arguments");
    };
    // Outside DMs Slack must know whom the stream is for.
    if !channel.starts_with('D') {
        if args
            .get("recipient_team_id")
            .and_then(Value::as_str)
            .is_none()
        {
            return failure("missing_recipient_team_id");
        }
        if args
            .get("recipient_user_id")
            .and_then(Value::as_str)
            .is_none()
        {
            return failure("missing_recipient_user_id");
        }
    }
    let text = args
        .get("markdown_text")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let ts = next_ts(shared);
    lock(&shared.messages).push(FakeMessage {
        channel: channel.to_owned(),
        ts: ts.clone(),
        thread_ts: Some(thread_ts.to_owned()),
        text: text.to_owned(),
        streamed: true,
        streaming: true,
        ..FakeMessage::default()
    });
    Json(json!({"ok": true, "channel": channel, "ts": ts})).into_response()
}

fn continue_stream(shared: &Shared, method: &str, args: &Map<String, Value>) -> Response {
    let (Some(channel), Some(ts)) = (
        args.get("channel").and_then(Value::as_str),
        args.get("ts").and_then(Value::as_str),
    ) else {
        return failure("invalid_arguments");
    };
    let text = args
        .get("markdown_text")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if text.chars().count() > 12_000 {
        return failure("msg_too_long");
    }
    let stopping = method == "chat.stopStream";
    if !stopping && text.is_empty() {
        return failure("no_text");
    }
    let blocks = match blocks_of(args) {
        Ok(blocks) => blocks,
        Err(error) => return invalid_blocks(error),
    };
    let mut messages = lock(&shared.messages);
    let Some(message) = messages
        .iter_mut()
        .find(|m| m.ts == ts && m.channel == channel)
    else {
        return failure("message_not_found");
    };
    if !message.streaming {
        return failure("message_not_in_streaming_state");
    }
    message.text.push_str(text);
    message.updates += 1;
    if stopping {
        message.streaming = false;
        message.blocks = blocks;
    }
    Json(json!({"ok": true, "channel": channel, "ts": ts})).into_response()
}

fn text_object(value: &Value, max: usize, what: &str) -> Result<(), String> {
    let kind = value["type"].as_str().unwrap_or_default();
    if !matches!(kind, "mrkdwn" | "plain_text") {
        return Err(format!(
            "{what}: text objects are mrkdwn or plain_text, not `{kind}`"
        ));
    }
    let text = value["text"].as_str().unwrap_or_default();
    if text.is_empty() || text.chars().count() > max {
        return Err(format!("{what}: text must be 1 to {max} characters"));
    }
    Ok(())
}

fn feedback_buttons(element: &Value) -> Result<(), String> {
    if element["action_id"].as_str().is_none_or(str::is_empty) {
        return Err("feedback_buttons: action_id is required".into());
    }
    for side in ["positive_button", "negative_button"] {
        let button = &element[side];
        if button["text"]["type"] != "plain_text"
            || button["value"].as_str().is_none_or(str::is_empty)
        {
            return Err(format!(
                "feedback_buttons: {side} needs plain_text text and a value"
            ));
        }
    }
    Ok(())
}

/// Checks blocks as Slack's Block Kit does for the types ragway may send; anything else fails.
pub fn check_blocks(blocks: &Value) -> Result<(), String> {
    let blocks = blocks.as_array().ok_or("blocks must be an array")?;
    if blocks.len() > 50 {
        return Err("no more than 50 blocks".into());
    }
    for (i, block) in blocks.iter().enumerate() {
        let at = format!("blocks[{i}]");
        match block["type"].as_str().unwrap_or_default() {
            "section" => text_object(&block["text"], 3000, &at)?,
            "markdown" => {
                if block["text"].as_str().is_none_or(str::is_empty) {
                    return Err(format!("{at}: markdown needs text"));
                }
            }
            "divider" => {}
            "context" => {
                let elements = block["elements"]
                    .as_array()
                    .ok_or(format!("{at}: elements required"))?;
                if elements.is_empty() || elements.len() > 10 {
                    return Err(format!("{at}: a context block has 1 to 10 elements"));
                }
                for element in elements {
                    if element["type"] != "image" {
                        text_object(element, 3000, &at)?;
                    }
                }
            }
            "context_actions" => {
                let elements = block["elements"]
                    .as_array()
                    .ok_or(format!("{at}: elements required"))?;
                if elements.is_empty() || elements.len() > 5 {
                    return Err(format!("{at}: context_actions has 1 to 5 elements"));
                }
                for element in elements {
                    match element["type"].as_str().unwrap_or_default() {
                        "feedback_buttons" => feedback_buttons(element)?,
                        "icon_button" => {}
                        other => {
                            return Err(format!(
                                "{at}: `{other}` is not allowed in context_actions"
                            ));
                        }
                    }
                }
            }
            other => return Err(format!("{at}: unsupported block type `{other}`")),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_blocks_and_overlong_text_are_refused() {
        assert!(
            check_blocks(&json!([{"type": "section", "text": {"type": "mrkdwn", "text": "hi"}}]))
                .is_ok()
        );
        assert!(check_blocks(&json!([{"type": "fancy"}])).is_err());
        assert!(
            check_blocks(
                &json!([{"type": "section", "text": {"type": "mrkdwn", "text": "x".repeat(3001)}}])
            )
            .is_err()
        );
        assert!(check_blocks(&json!([{"type": "context", "elements": []}])).is_err());
    }
}
