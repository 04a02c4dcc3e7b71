//! The native REST API: `POST /api/v1/ask`, JSON or SSE, optionally continuing a stored conversation.
//! The answer follows the question's language (`Accept-Language` when it is too short to tell);
//! errors, JSON or `error` events, stay in English with their `code`: they are for developers.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use ragway_catalog::StoredTurn;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::ask::{AskEvent, AskRequest, AskResponse, Role, Turn, collect, start};
use crate::http::errors::ErrorBody;
use crate::http::{ApiError, JsonBody, Principal};
use crate::limits::{RateStatus, rate_headers};
use crate::llm::GenerationOptions;
use crate::state::AppState;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AskBody {
    /// The question (1 to `server.max_question_chars` characters).
    pub question: String,
    /// Answer as Server-Sent Events (`AskEvent`s) instead of one JSON object.
    #[serde(default)]
    pub stream: bool,
    /// Passages to retrieve (1 to `retrieval.max_top_k`; default `retrieval.top_k`).
    pub top_k: Option<usize>,
    /// Continue this conversation (from an earlier answer's `conversation_id`).
    pub conversation_id: Option<String>,
    /// The copilot profile to answer with (default: the tenant's default; `GET /v1/models` lists them).
    pub profile: Option<String>,
}

fn validate(state: &AppState, body: &AskBody) -> Result<(), ApiError> {
    let question = body.question.trim();
    if question.is_empty() {
        return Err(ApiError::bad_request("`question` must not be empty"));
    }
    let max_chars = state.config.server.max_question_chars;
    if question.chars().count() > max_chars {
        return Err(ApiError::bad_request(format!(
            "`question` is longer than {max_chars} characters"
        )));
    }
    let max_top_k = state.config.retrieval.max_top_k;
    if body.top_k.is_some_and(|k| k == 0 || k > max_top_k) {
        return Err(ApiError::bad_request(format!(
            "`top_k` must be between 1 and {max_top_k}"
        )));
    }
    Ok(())
}

/// The profile a request names (or the tenant's default); 404 when it may not use it.
async fn profile(
    state: &AppState,
    principal: &Principal,
    requested: Option<&str>,
) -> Result<std::sync::Arc<crate::copilot::Profile>, ApiError> {
    state
        .profile(&principal.tenant_id, requested)
        .await
        .map_err(|message| ApiError::new(StatusCode::NOT_FOUND, "not_found", message))
}

/// The conversation a question belongs to: loaded when the caller continues one, a new
/// id otherwise.
pub(crate) async fn conversation(
    state: &AppState,
    principal: &Principal,
    id: Option<&str>,
) -> Result<(String, Vec<Turn>), ApiError> {
    let catalog = &state.catalog;
    let Some(id) = id else {
        // Stored with its first exchange; nothing to write before the answer.
        return Ok((uuid::Uuid::new_v4().to_string(), Vec::new()));
    };
    let turns = catalog
        .conversation_turns(
            &principal.tenant_id,
            &principal.user_id,
            id,
            state.config.conversation.max_turns,
        )
        .await?
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "not_found",
                format!("conversation {id} not found"),
            )
        })?;
    let history = turns
        .into_iter()
        .filter_map(|t| {
            Some(Turn {
                role: Role::parse(&t.role)?,
                text: t.content,
            })
        })
        .collect();
    Ok((id.to_owned(), history))
}

/// Records the exchange so the next question can continue it.
pub(crate) async fn remember(
    state: &AppState,
    principal: &Principal,
    conversation_id: &str,
    question: &str,
    answer: &str,
) {
    let turns = [
        StoredTurn {
            role: Role::User.as_str().into(),
            content: question.into(),
        },
        StoredTurn {
            role: Role::Assistant.as_str().into(),
            content: answer.into(),
        },
    ];
    let (tenant, user) = (&principal.tenant_id, &principal.user_id);
    if let Err(err) = state
        .catalog
        .append_turns(tenant, user, conversation_id, &turns)
        .await
    {
        tracing::warn!(%err, conversation_id, "could not store the conversation turn");
    }
}

/// Adds the caller's `RateLimit-*` headers to a successful response.
pub fn with_rate(mut response: Response, rate: Option<RateStatus>) -> Response {
    for (name, value) in rate.as_ref().map(rate_headers).unwrap_or_default() {
        response.headers_mut().insert(name, value);
    }
    response
}

/// The answer with the conversation it belongs to.
#[derive(Serialize, utoipa::ToSchema)]
pub struct RestAnswer {
    #[serde(flatten)]
    answer: AskResponse,
    conversation_id: String,
}

/// `Cache-Control: no-cache` (or `no-store`) asks for a fresh answer.
pub fn wants_cache(headers: &axum::http::HeaderMap) -> bool {
    !headers
        .get_all(axum::http::header::CACHE_CONTROL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("no-cache") || v.contains("no-store"))
}

/// Ask a question about the tenant's documents.
#[utoipa::path(
    post,
    path = "/api/v1/ask",
    tag = "ask",
    request_body = AskBody,
    security(("api_key" = [])),
    responses(
        (status = 200, description = "The answer (JSON), or with `stream: true` a `text/event-stream` of `AskEvent`s \
            (preceded by `{\"type\":\"conversation\",\"conversation_id\"}`)", body = RestAnswer),
        (status = 400, description = "Malformed JSON, empty question, `top_k` out of range", body = ErrorBody),
        (status = 401, description = "Missing, invalid, revoked or expired API key", body = ErrorBody),
        (status = 404, description = "Unknown `conversation_id`, or a `profile` the tenant may not use", body = ErrorBody),
        (status = 413, description = "Body larger than `server.max_body_bytes`", body = ErrorBody),
        (status = 429, description = "A request limit or token quota was reached; the message names it and \
            `Retry-After` says when to retry", body = ErrorBody),
        (status = 502, description = "The LLM or the embeddings endpoint failed", body = ErrorBody),
    )
)]
pub async fn ask_handler(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
    principal: Principal,
    JsonBody(body): JsonBody<AskBody>,
) -> Result<Response, ApiError> {
    validate(&state, &body)?;
    let profile = profile(&state, &principal, body.profile.as_deref()).await?;
    let (rate, permit) = super::admit(&state, &principal).await?;
    let (conversation_id, history) =
        conversation(&state, &principal, body.conversation_id.as_deref()).await?;
    let question = body.question.trim().to_owned();
    let asker = principal.clone();
    let request = AskRequest {
        principal,
        question: question.clone(),
        history,
        top_k: body.top_k.unwrap_or(profile.top_k),
        profile,
        options: GenerationOptions::default(),
        use_cache: wants_cache(&headers),
        language: super::accept_language(&headers),
    };
    // Refusals (token quotas) and failures before the answer starts get a real HTTP status.
    let events = start(state.clone(), request).await?;
    if !body.stream {
        let answer = collect(events).await?;
        remember(&state, &asker, &conversation_id, &question, &answer.answer).await;
        let body = RestAnswer {
            answer,
            conversation_id,
        };
        return Ok(with_rate(axum::Json(body).into_response(), rate));
    }
    let frames = async_stream::stream! {
        let _permit = permit; // held until the last event
        let started = json!({"type": "conversation", "conversation_id": conversation_id});
        yield Event::default().event("conversation").data(started.to_string());
        let mut answer = String::new();
        futures::pin_mut!(events);
        while let Some(event) = events.next().await {
            match &event {
                AskEvent::Delta { text } => answer.push_str(text),
                AskEvent::Done { .. } => remember(&state, &asker, &conversation_id, &question, &answer).await,
                _ => {}
            }
            let sse = Event::default().event(event.name());
            yield sse.json_data(&event).unwrap_or_else(|_| Event::default().event("error"));
        }
    };
    let sse = Sse::new(frames.map(Ok::<_, Infallible>))
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response();
    Ok(with_rate(sse, rate))
}
