//! The native REST API: `POST /api/v1/ask`, JSON or SSE, optionally continuing a stored conversation.
//! The answer follows the question's language (`Accept-Language` when it is too short to tell);
//! errors, JSON or `error` events, stay in English with their `code`: they are for developers.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::ask::{AskError, AskResponse, ChannelAsk, Conversation, begin};
use crate::context::Core;
use crate::http::errors::ErrorBody;
use crate::http::headers::{accept_language, wants_cache, with_rate};
use crate::http::{ApiError, JsonBody};
use crate::identity::Principal;

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

/// The answer with the conversation it belongs to.
#[derive(Serialize, utoipa::ToSchema)]
pub struct RestAnswer {
    #[serde(flatten)]
    answer: AskResponse,
    conversation_id: String,
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
        (status = 503, description = "The server is at `server.max_answers_in_flight` (`overloaded`) or the \
            catalog is unavailable; `Retry-After` says when to retry", body = ErrorBody),
    )
)]
pub async fn ask_handler(
    State(core): State<Core>,
    headers: axum::http::HeaderMap,
    principal: Principal,
    JsonBody(body): JsonBody<AskBody>,
) -> Result<Response, ApiError> {
    let ask = ChannelAsk {
        top_k: body.top_k,
        profile: body.profile,
        conversation: match body.conversation_id {
            Some(id) => Conversation::Continue(id),
            None => Conversation::Start,
        },
        use_cache: wants_cache(&headers),
        language: accept_language(&headers),
        ..ChannelAsk::new(body.question)
    };
    // Refusals (limits, token quotas) and failures before the answer starts get a real HTTP status.
    let answer = begin(&core, principal, ask).await.map_err(wire_error)?;
    let rate = answer.rate;
    let conversation_id = answer.conversation_id.clone().unwrap_or_default();
    if !body.stream {
        let answer = answer.collect().await.map_err(wire_error)?;
        let body = RestAnswer {
            answer,
            conversation_id,
        };
        return Ok(with_rate(axum::Json(body).into_response(), rate));
    }
    let mut events = answer.into_events();
    let frames = async_stream::stream! {
        let started = json!({"type": "conversation", "conversation_id": conversation_id});
        yield Event::default().event("conversation").data(started.to_string());
        while let Some(event) = events.next().await {
            let sse = Event::default().event(event.name());
            yield sse.json_data(&event).unwrap_or_else(|_| Event::default().event("error"));
        }
    };
    let sse = Sse::new(frames.map(Ok::<_, Infallible>))
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response();
    Ok(with_rate(sse, rate))
}

/// The native API's wording of an answer that did not start (the question is `question`).
fn wire_error(err: AskError) -> ApiError {
    ApiError::from_ask(err, "question")
}
