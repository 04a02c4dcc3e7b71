//! A fake Bot Connector (the `serviceUrl` Teams gives a bot) on 127.0.0.1:
//! `POST {serviceUrl}/v3/conversations/{id}/activities[/{replyToId}]` with a bearer token from the
//! fake Microsoft token endpoint. It enforces Teams' streaming rules and records what breaks them:
//! streams only in 1:1 chats (conversation ids `a:…`; group chats and channels are `19:…` and get
//! `403 ContentStreamNotAllowed`), an informative or streaming update is a `typing` activity, the
//! first has sequence 1 and no stream id (≤ 1000 characters) and gets the stream id back, later
//! ones name the stream with strictly increasing sequences and cumulative text, one request at a
//! time, and the `final` message has no sequence and closes the stream. It also checks the AI
//! entity's citations against Teams' limits and the `[n]` markers of the text.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{Value, json};

/// One activity the bot sent.
#[derive(Debug, Clone)]
pub struct Posted {
    pub conversation: String,
    pub reply_to: Option<String>,
    pub activity: Value,
}

#[derive(Debug, Default)]
struct StreamState {
    sequence: u64,
    text: String,
    /// The last text was the informative one (not part of the answer).
    informative: bool,
    finished: bool,
    in_flight: bool,
}

struct Shared {
    tokens: Arc<Mutex<HashSet<String>>>,
    posts: Mutex<Vec<Posted>>,
    streams: Mutex<HashMap<String, StreamState>>,
    violations: Mutex<Vec<String>>,
    next_id: AtomicU64,
}

pub struct FakeBotConnector {
    /// The `serviceUrl` to put in activities (ends with `/`).
    pub service_url: String,
    shared: Arc<Shared>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for FakeBotConnector {
    fn drop(&mut self) {
        self.server.abort();
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl FakeBotConnector {
    /// `tokens`: the access tokens the fake token endpoint issued (the only ones accepted).
    pub async fn start(tokens: Arc<Mutex<HashSet<String>>>) -> std::io::Result<Self> {
        let shared = Arc::new(Shared {
            tokens,
            posts: Mutex::new(Vec::new()),
            streams: Mutex::new(HashMap::new()),
            violations: Mutex::new(Vec::new()),
            next_id: AtomicU64::new(1),
        });
        let router = Router::new()
            .route(
                "/teams/v3/conversations/{conversation}/activities",
                post(to_conversation),
            )
            .route(
                "/teams/v3/conversations/{conversation}/activities/{reply_to}",
                post(reply),
            )
            .with_state(Arc::clone(&shared));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let server = tokio::spawn(async move {
            if let Err(err) = axum::serve(listener, router).await {
                tracing::error!(%err, "fake Bot Connector stopped");
            }
        });
        Ok(Self {
            service_url: format!("http://{addr}/teams/"),
            shared,
            server,
        })
    }

    pub fn posts(&self) -> Vec<Posted> {
        lock(&self.shared.posts).clone()
    }

    /// The `message` activities sent (finals and plain replies).
    pub fn messages(&self) -> Vec<Posted> {
        self.posts()
            .into_iter()
            .filter(|p| p.activity["type"] == "message")
            .collect()
    }

    /// Broken streaming or citation rules, in the order they happened (empty when all held).
    pub fn violations(&self) -> Vec<String> {
        lock(&self.shared.violations).clone()
    }
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        Json(json!({"error": {"code": code, "message": message}})),
    )
        .into_response()
}

async fn to_conversation(
    State(shared): State<Arc<Shared>>,
    Path(conversation): Path<String>,
    headers: HeaderMap,
    Json(activity): Json<Value>,
) -> Response {
    handle(shared, conversation, None, headers, activity).await
}

async fn reply(
    State(shared): State<Arc<Shared>>,
    Path((conversation, reply_to)): Path<(String, String)>,
    headers: HeaderMap,
    Json(activity): Json<Value>,
) -> Response {
    handle(shared, conversation, Some(reply_to), headers, activity).await
}

async fn handle(
    shared: Arc<Shared>,
    conversation: String,
    reply_to: Option<String>,
    headers: HeaderMap,
    activity: Value,
) -> Response {
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    if !lock(&shared.tokens).contains(token) {
        return error(
            StatusCode::UNAUTHORIZED,
            "Unauthorized",
            "Authorization has been denied for this request.",
        );
    }
    if activity["type"].as_str().is_none() {
        return error(
            StatusCode::BAD_REQUEST,
            "BadArgument",
            "Activity must have a type",
        );
    }
    lock(&shared.posts).push(Posted {
        conversation: conversation.clone(),
        reply_to,
        activity: activity.clone(),
    });
    check_citations(&shared, &activity);
    let streaminfo = activity["entities"]
        .as_array()
        .and_then(|entities| entities.iter().find(|e| e["type"] == "streaminfo"))
        .cloned();
    let id = format!("activity-{}", shared.next_id.fetch_add(1, Ordering::SeqCst));
    match streaminfo {
        Some(info) => stream_update(&shared, &conversation, &activity, &info, id).await,
        None => (StatusCode::CREATED, Json(json!({"id": id}))).into_response(),
    }
}

fn violation(shared: &Shared, status: StatusCode, code: &str, message: String) -> Response {
    lock(&shared.violations).push(format!("{code}: {message}"));
    error(status, code, &message)
}

async fn stream_update(
    shared: &Shared,
    conversation: &str,
    activity: &Value,
    info: &Value,
    id: String,
) -> Response {
    if !conversation.starts_with("a:") {
        return violation(
            shared,
            StatusCode::FORBIDDEN,
            "ContentStreamNotAllowed",
            format!("streaming is only supported in 1:1 chats, not in {conversation}"),
        );
    }
    let kind = activity["type"].as_str().unwrap_or_default();
    let stream_type = info["streamType"].as_str().unwrap_or_default();
    let text = activity["text"].as_str().unwrap_or_default();
    let expected_kind = if stream_type == "final" {
        "message"
    } else {
        "typing"
    };
    if kind != expected_kind {
        return violation(
            shared,
            StatusCode::BAD_REQUEST,
            "BadArgument",
            format!("a {stream_type} stream update must be a {expected_kind} activity, not {kind}"),
        );
    }
    let Some(stream_id) = info["streamId"].as_str().map(str::to_owned) else {
        // The first update opens the stream.
        if stream_type != "informative" && stream_type != "streaming"
            || info["streamSequence"] != json!(1)
        {
            return violation(
                shared,
                StatusCode::BAD_REQUEST,
                "BadArgument",
                "a stream starts with an update of sequence 1 and no streamId".into(),
            );
        }
        if text.chars().count() > 1000 {
            return violation(
                shared,
                StatusCode::BAD_REQUEST,
                "BadArgument",
                "informative updates are at most 1000 characters".into(),
            );
        }
        let informative = stream_type == "informative";
        let state = StreamState {
            sequence: 1,
            text: text.to_owned(),
            informative,
            ..StreamState::default()
        };
        lock(&shared.streams).insert(id.clone(), state);
        return (StatusCode::CREATED, Json(json!({"id": id}))).into_response();
    };
    {
        let mut streams = lock(&shared.streams);
        let Some(state) = streams.get_mut(&stream_id) else {
            drop(streams);
            return violation(
                shared,
                StatusCode::NOT_FOUND,
                "BadArgument",
                format!("unknown stream {stream_id}"),
            );
        };
        if state.finished {
            drop(streams);
            return violation(
                shared,
                StatusCode::FORBIDDEN,
                "ContentStreamNotAllowed",
                format!("stream {stream_id} has already ended"),
            );
        }
        if state.in_flight {
            drop(streams);
            return violation(
                shared,
                StatusCode::TOO_MANY_REQUESTS,
                "Throttled",
                format!("two requests in flight on stream {stream_id}"),
            );
        }
        if stream_type == "final" {
            if !info["streamSequence"].is_null() {
                drop(streams);
                return violation(
                    shared,
                    StatusCode::BAD_REQUEST,
                    "BadArgument",
                    "the final message has no streamSequence".into(),
                );
            }
            state.finished = true;
            return (StatusCode::ACCEPTED, Json(json!({"id": stream_id}))).into_response();
        }
        let sequence = info["streamSequence"].as_u64().unwrap_or(0);
        if sequence <= state.sequence {
            let last = state.sequence;
            drop(streams);
            return violation(
                shared,
                StatusCode::BAD_REQUEST,
                "ContentStreamSequenceOrderPreConditionFailed",
                format!("sequence {sequence} after {last}"),
            );
        }
        let cumulative = state.informative || text.starts_with(&state.text);
        if !cumulative {
            drop(streams);
            return violation(
                shared,
                StatusCode::BAD_REQUEST,
                "BadArgument",
                "streaming text must repeat everything streamed so far".into(),
            );
        }
        state.sequence = sequence;
        state.text = text.to_owned();
        state.informative = false;
        state.in_flight = true;
    }
    // Hold the request a moment, so an overlapping one would be caught.
    tokio::time::sleep(Duration::from_millis(20)).await;
    if let Some(state) = lock(&shared.streams).get_mut(&stream_id) {
        state.in_flight = false;
    }
    (StatusCode::ACCEPTED, Json(json!({"id": stream_id}))).into_response()
}

/// The AI entity's citations: at most 20, positions matching `[n]` markers of the text, names
/// ≤ 80 and abstracts ≤ 160 characters.
fn check_citations(shared: &Shared, activity: &Value) {
    let text = activity["text"].as_str().unwrap_or_default();
    let messages: Vec<&Value> = activity["entities"]
        .as_array()
        .map(|e| e.iter().filter(|e| e["@type"] == "Message").collect())
        .unwrap_or_default();
    if messages.len() > 1 {
        lock(&shared.violations).push("Citations: more than one root Message entity".into());
    }
    for message in messages {
        let citations = message["citation"].as_array().cloned().unwrap_or_default();
        let mut problems = Vec::new();
        if citations.len() > 20 {
            problems.push("more than 20 citations".to_owned());
        }
        for claim in &citations {
            let position = claim["position"].as_u64().unwrap_or(0);
            if claim["@type"] != "Claim" || !text.contains(&format!("[{position}]")) {
                problems.push(format!(
                    "citation {position} has no [{position}] in the text"
                ));
            }
            let appearance = &claim["appearance"];
            if appearance["name"]
                .as_str()
                .is_none_or(|n| n.is_empty() || n.chars().count() > 80)
            {
                problems.push(format!(
                    "citation {position}: name must be 1 to 80 characters"
                ));
            }
            if appearance["abstract"]
                .as_str()
                .is_some_and(|a| a.chars().count() > 160)
            {
                problems.push(format!("citation {position}: abstract over 160 characters"));
            }
        }
        lock(&shared.violations).extend(problems.into_iter().map(|p| format!("Citations: {p}")));
    }
}
