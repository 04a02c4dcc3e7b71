//! `POST /widget/v1/chat`: one question of a widget conversation, answered as an AI SDK UI
//! message stream (v1) over SSE: `start` (message id, conversation id) → `text-start` →
//! `text-delta`… → `text-end` → a `source-url` (documents with a web address) or `source-document`
//! per cited source → `finish` → `[DONE]`; a failure is an `error` chunk, then `[DONE]`.

use std::convert::Infallible;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::http::{HeaderMap, HeaderValue};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use ragway_ingest::lang::Lang;
use serde::Deserialize;
use serde_json::{Value, json};

use super::WidgetState;
use super::anonymous::{self, AnonymousSlot};
use super::cors::{allow, error_response};
use super::sessions::authenticate;
use crate::ask::{AskError, AskEvent, ChannelAsk, Conversation, begin};
use crate::error::ErrorCode;
use crate::ground::Citation;
use crate::http::ApiError;
use crate::http::errors::ErrorBody;
use crate::http::headers::{accept_language, with_rate};
use crate::i18n;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChatRequest {
    /// The employee's question.
    pub message: String,
    /// Continue this conversation (from the `start` chunk's `messageMetadata.conversationId`).
    pub conversation_id: Option<String>,
    /// The page's language (`es`, `en`, `es-MX`, …) for questions too short to tell theirs;
    /// default: `Accept-Language`.
    #[serde(default)]
    #[schema(example = "es-MX")]
    pub lang: Option<String>,
}

/// Ask a question in a widget session; the answer is an AI SDK UI message stream (SSE).
#[utoipa::path(post, path = "/widget/v1/chat", tag = "widget", request_body = ChatRequest,
    security(("widget_session" = [])),
    responses(
        (status = 200, description = "`text/event-stream`: `start`, `text-start`, `text-delta`…, `text-end`, \
            `source-url`/`source-document` per cited source, `finish` (or `error`), then `[DONE]`"),
        (status = 400, description = "Malformed body or empty question", body = ErrorBody),
        (status = 401, description = "Missing, tampered or expired (`session_expired`) session token, or one \
            issued to another origin", body = ErrorBody),
        (status = 404, description = "Unknown `conversation_id`", body = ErrorBody),
        (status = 429, description = "A request limit or token quota was reached", body = ErrorBody),
        (status = 503, description = "The server is at capacity (`overloaded`); `Retry-After` says when to \
            retry", body = ErrorBody),
    ))]
pub async fn chat_handler(
    State(state): State<WidgetState>,
    headers: HeaderMap,
    body: Result<Json<ChatRequest>, JsonRejection>,
) -> Response {
    match answer(&state, &headers, body).await {
        Ok((response, origin)) => allow(response, &origin),
        Err(err) => error_response(&state, &headers, err).await,
    }
}

async fn answer(
    state: &WidgetState,
    headers: &HeaderMap,
    body: Result<Json<ChatRequest>, JsonRejection>,
) -> Result<(Response, String), ApiError> {
    let (session, origin) = authenticate(state, headers).await?;
    let Json(body) = body
        .map_err(|e| ApiError::bad_request(format!("malformed chat request: {}", e.body_text())))?;
    let hint = body
        .lang
        .as_deref()
        .and_then(Lang::from_tag)
        .or_else(|| accept_language(headers));
    // Anonymous visitors share their key's budget and slots (see `anonymous`).
    let slot = if session.anonymous {
        let config = &state.widget.config;
        state
            .widget
            .anonymous_streams
            .acquire(
                &session.key,
                config.anonymous_streams_per_key,
                config.anonymous_stream_max_secs,
                &state.clock,
            )
            .map_err(|refused| ApiError::rate_limited(&refused))?
    } else {
        None
    };
    let ask = ChannelAsk {
        conversation: match body.conversation_id {
            Some(id) => Conversation::Continue(id),
            None => Conversation::Start,
        },
        language: hint,
        budget: session.anonymous.then(|| anonymous::budget(&session.key)),
        ..ChannelAsk::new(body.message)
    };
    let principal = session.principal();
    let tenant = principal.tenant_id.clone();
    let answer = begin(&state.core, principal, ask)
        .await
        .map_err(wire_error)?;
    let (rate, lang) = (answer.rate, answer.lang);
    let conversation_id = answer.conversation_id.clone().unwrap_or_default();
    // `<conversation>:<answer>`: feedback names the answer, and the conversation proves whose it is.
    let message_id = format!("{conversation_id}:{}", uuid::Uuid::new_v4().simple());
    let mut events = answer.into_events();
    let frames = async_stream::stream! {
        yield json!({"type": "start", "messageId": message_id,
            "messageMetadata": {"conversationId": conversation_id}});
        let text_id = "text-0";
        let mut started = false;
        while let Some(event) = events.next().await {
            if slot.as_ref().is_some_and(AnonymousSlot::expired) {
                // Held too long (nobody read it): the slot is someone else's now.
                yield json!({"type": "error", "errorText": i18n::failure(lang, ErrorCode::RateLimited)});
                break;
            }
            match event {
                AskEvent::Sources { .. } => {}
                AskEvent::Delta { text } => {
                    if !started {
                        started = true;
                        yield json!({"type": "text-start", "id": text_id});
                    }
                    yield json!({"type": "text-delta", "id": text_id, "delta": text});
                }
                AskEvent::Done { citations, usage, cached, mode } => {
                    if started {
                        yield json!({"type": "text-end", "id": text_id});
                    }
                    for citation in &citations {
                        yield source_chunk(citation);
                    }
                    yield json!({"type": "finish", "messageMetadata": {
                        "conversationId": conversation_id, "mode": mode, "cached": cached,
                        "usage": usage,
                    }});
                }
                AskEvent::Error { code, message } => {
                    tracing::error!(channel = super::CHANNEL, %tenant, %code, message, "the widget answer failed");
                    yield json!({"type": "error", "errorText": i18n::failure(lang, code)});
                }
            }
        }
    };
    let frames = frames
        .map(|chunk| Event::default().data(chunk.to_string()))
        .chain(futures::stream::once(async {
            Event::default().data("[DONE]")
        }))
        .map(Ok::<_, Infallible>);
    let mut response = Sse::new(frames)
        .keep_alive(
            KeepAlive::new()
                .interval(Duration::from_secs(15))
                .text("ping"),
        )
        .into_response();
    let headers = response.headers_mut();
    headers.insert(
        "x-vercel-ai-ui-message-stream",
        HeaderValue::from_static("v1"),
    );
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    Ok((with_rate(response, rate), origin))
}

/// A cited source: `source-url` when the document has a web address, `source-document`
/// otherwise; ragway's own details (citation number, section, page) ride in `providerMetadata`.
fn source_chunk(citation: &Citation) -> Value {
    let section = citation.heading_path.join(" › ");
    let metadata = json!({"ragway": {
        "n": citation.n, "documentId": citation.document_id, "uri": citation.uri,
        "section": section, "page": citation.page, "snippet": citation.snippet,
    }});
    let source_id = citation.n.to_string();
    let is_web = citation.uri.starts_with("https://") || citation.uri.starts_with("http://");
    if is_web {
        json!({"type": "source-url", "sourceId": source_id, "url": citation.uri,
               "title": citation.title, "providerMetadata": metadata})
    } else {
        let media_type = mime_of(&citation.uri);
        let filename = citation.uri.rsplit('/').next().unwrap_or(&citation.uri);
        json!({"type": "source-document", "sourceId": source_id, "mediaType": media_type,
               "title": citation.title, "filename": filename, "providerMetadata": metadata})
    }
}

fn mime_of(uri: &str) -> &'static str {
    let ext = uri
        .rsplit('.')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    match ext.as_str() {
        "md" | "markdown" => "text/markdown",
        "html" | "htm" => "text/html",
        "pdf" => "application/pdf",
        "docx" => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "pptx" => "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "xlsx" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "csv" => "text/csv",
        "json" => "application/json",
        _ => "text/plain",
    }
}

/// The widget's wording of an answer that did not start (the question is `message`).
fn wire_error(err: AskError) -> ApiError {
    ApiError::from_ask(err, "message")
}
