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

use super::cors::{allow, error_response};
use super::sessions::authenticate;
use crate::ask::{AskEvent, AskRequest, Citation, start};
use crate::channels::chat::failure_message;
use crate::channels::rest::{conversation, remember, with_rate};
use crate::http::ApiError;
use crate::http::errors::ErrorBody;
use crate::llm::GenerationOptions;
use crate::state::AppState;

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
    ))]
pub async fn chat_handler(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Json<ChatRequest>, JsonRejection>,
) -> Response {
    match answer(&state, &headers, body).await {
        Ok((response, origin)) => allow(response, &origin),
        Err(err) => error_response(&state, &headers, err).await,
    }
}

async fn answer(
    state: &AppState,
    headers: &HeaderMap,
    body: Result<Json<ChatRequest>, JsonRejection>,
) -> Result<(Response, String), ApiError> {
    let (session, origin) = authenticate(state, headers).await?;
    let Json(body) = body
        .map_err(|e| ApiError::bad_request(format!("malformed chat request: {}", e.body_text())))?;
    let question = body.message.trim().to_owned();
    if question.is_empty() {
        return Err(ApiError::bad_request("`message` must not be empty"));
    }
    let max_chars = state.config.server.max_question_chars;
    if question.chars().count() > max_chars {
        return Err(ApiError::bad_request(format!(
            "`message` is longer than {max_chars} characters"
        )));
    }
    let hint = body
        .lang
        .as_deref()
        .and_then(Lang::from_tag)
        .or_else(|| crate::channels::accept_language(headers));
    let principal = session.principal();
    let profile = state
        .profile(&principal.tenant_id, None)
        .await
        .map_err(|message| {
            ApiError::new(axum::http::StatusCode::NOT_FOUND, "not_found", message)
        })?;
    let (rate, permit) = crate::channels::admit(state, &principal).await?;
    let (conversation_id, history) =
        conversation(state, &principal, body.conversation_id.as_deref()).await?;
    let request = AskRequest {
        principal: principal.clone(),
        question: question.clone(),
        history,
        top_k: profile.top_k,
        profile,
        options: GenerationOptions::default(),
        use_cache: true,
        language: hint,
    };
    // Errors mid-answer are read by the employee: worded in the answer's language.
    let lang = crate::ask::language(state, &principal.tenant_id, &question, hint).await;
    let events = start(state.clone(), request).await?;
    // `<conversation>:<answer>`: feedback names the answer, and the conversation proves whose it is.
    let message_id = format!("{conversation_id}:{}", uuid::Uuid::new_v4().simple());
    let state = state.clone();
    let frames = async_stream::stream! {
        let _permit = permit; // held until the last chunk
        yield json!({"type": "start", "messageId": message_id,
            "messageMetadata": {"conversationId": conversation_id}});
        let text_id = "text-0";
        let mut started = false;
        let mut answer = String::new();
        futures::pin_mut!(events);
        while let Some(event) = events.next().await {
            match event {
                AskEvent::Sources { .. } => {}
                AskEvent::Delta { text } => {
                    if !started {
                        started = true;
                        yield json!({"type": "text-start", "id": text_id});
                    }
                    answer.push_str(&text);
                    yield json!({"type": "text-delta", "id": text_id, "delta": text});
                }
                AskEvent::Done { citations, usage, cached, mode } => {
                    remember(&state, &principal, &conversation_id, &question, &answer).await;
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
                    tracing::error!(channel = super::CHANNEL, tenant = %principal.tenant_id, code, message, "the widget answer failed");
                    yield json!({"type": "error", "errorText": failure_message(lang, &code)});
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
