//! The OpenAI-compatible channel: `POST /v1/chat/completions` and `GET /v1/models`, so any OpenAI
//! client talks to a tenant's copilot by changing only its base URL and key. Retrieval, grounding
//! and citations happen inside; citations come back inline as `[n]` and as `url_citation`
//! annotations. Errors use OpenAI's shape and stay in English whatever the question's language:
//! they are for developers, who match on `code` (see `crate::i18n`). Answers follow the question's
//! language, `Accept-Language` when it is too short to tell. Wire contract: shared/specs/channels.md §4.

use std::convert::Infallible;

use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::ask::{AskError, AskEvent, ChannelAsk, Conversation, begin};
use crate::context::Core;
use crate::error::ErrorCode;
use crate::ground::{Role, Turn};
use crate::http::ApiError;
use crate::http::errors::{AtCapacity, ShapedError};
use crate::http::headers::{accept_language, wants_cache, with_rate};
use crate::identity::Principal;
use crate::llm::GenerationOptions;

mod frames;
use frames::{Frames, annotations};

/// An error in OpenAI's shape; the native error envelope leaves these responses alone.
#[derive(Debug, Clone)]
pub struct OpenAiError {
    headers: Vec<(axum::http::HeaderName, axum::http::HeaderValue)>,
    status: StatusCode,
    kind: &'static str,
    code: Option<&'static str>,
    param: Option<&'static str>,
    message: String,
}

impl OpenAiError {
    fn invalid(param: Option<&'static str>, message: impl Into<String>) -> Self {
        Self {
            headers: Vec::new(),
            status: StatusCode::BAD_REQUEST,
            kind: "invalid_request_error",
            code: None,
            param,
            message: message.into(),
        }
    }

    fn body(&self) -> Value {
        json!({"error": {"message": self.message, "type": self.kind, "param": self.param, "code": self.code}})
    }
}

impl IntoResponse for OpenAiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(self.body())).into_response();
        for (name, value) in &self.headers {
            response.headers_mut().insert(name.clone(), value.clone());
        }
        if self.code == Some(ErrorCode::Overloaded.as_str()) {
            response.extensions_mut().insert(AtCapacity);
        }
        response.extensions_mut().insert(ShapedError);
        response
    }
}

impl From<ApiError> for OpenAiError {
    fn from(err: ApiError) -> Self {
        let (kind, code) = match err.status {
            StatusCode::UNAUTHORIZED => ("invalid_request_error", Some("invalid_api_key")),
            StatusCode::BAD_REQUEST | StatusCode::PAYLOAD_TOO_LARGE => {
                ("invalid_request_error", None)
            }
            StatusCode::TOO_MANY_REQUESTS => ("requests", Some("rate_limit_exceeded")),
            _ if err.code == ErrorCode::Overloaded.as_str() => ("server_error", Some("overloaded")),
            _ => ("api_error", None),
        };
        Self {
            headers: err.headers,
            status: err.status,
            kind,
            code,
            param: None,
            message: err.message,
        }
    }
}

/// The request; fields ragway does not use are accepted and ignored (clients send many).
#[derive(Debug, Deserialize)]
pub struct ChatRequest {
    model: Option<String>,
    #[serde(default)]
    messages: Vec<ChatMessage>,
    #[serde(default)]
    stream: bool,
    stream_options: Option<StreamOptions>,
    max_tokens: Option<usize>,
    max_completion_tokens: Option<usize>,
    temperature: Option<f32>,
}

#[derive(Debug, Deserialize)]
struct StreamOptions {
    #[serde(default)]
    include_usage: bool,
}

#[derive(Debug, Deserialize)]
struct ChatMessage {
    role: String,
    #[serde(default)]
    content: Content,
}

#[derive(Debug, Default, Deserialize)]
#[serde(untagged)]
enum Content {
    Text(String),
    Parts(Vec<ContentPart>),
    #[default]
    Missing,
}

#[derive(Debug, Deserialize)]
struct ContentPart {
    #[serde(rename = "type")]
    kind: String,
    text: Option<String>,
}

impl Content {
    /// The text of a message; non-text parts (images, audio) are not supported by a document copilot.
    fn text(&self) -> String {
        match self {
            Self::Text(text) => text.clone(),
            Self::Parts(parts) => parts
                .iter()
                .filter(|p| p.kind == "text")
                .filter_map(|p| p.text.as_deref())
                .collect::<Vec<_>>()
                .join("\n"),
            Self::Missing => String::new(),
        }
    }
}

/// The validated essentials of a request.
struct Parsed {
    model: String,
    question: String,
    history: Vec<Turn>,
    options: GenerationOptions,
    stream: bool,
    include_usage: bool,
}

fn parse(body: Result<Json<ChatRequest>, JsonRejection>) -> Result<Parsed, OpenAiError> {
    let Json(request) = body.map_err(|rejection| match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => OpenAiError {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            ..OpenAiError::invalid(None, "the request body is larger than the server accepts")
        },
        _ => OpenAiError::invalid(
            None,
            format!(
                "We could not parse the JSON body of your request: {}",
                rejection.body_text()
            ),
        ),
    })?;
    let model = request
        .model
        .filter(|m| !m.is_empty())
        .ok_or_else(|| OpenAiError::invalid(Some("model"), "you must provide a model parameter"))?;
    if request.messages.is_empty() {
        return Err(OpenAiError::invalid(
            Some("messages"),
            "`messages` must contain at least one message",
        ));
    }
    if let Some(bad) = request.messages.iter().find(|m| {
        !matches!(
            m.role.as_str(),
            "system" | "developer" | "user" | "assistant" | "tool"
        )
    }) {
        return Err(OpenAiError::invalid(
            Some("messages"),
            format!("unknown message role `{}`", bad.role),
        ));
    }
    // The last user message is the question; the user and assistant turns before it are history.
    let last_user = request.messages.iter().rposition(|m| m.role == "user");
    let question = last_user
        .map(|i| request.messages[i].content.text())
        .unwrap_or_default();
    let question = question.trim().to_owned();
    let history: Vec<Turn> = request.messages[..last_user.unwrap_or(0)]
        .iter()
        .filter_map(|m| {
            let role = Role::parse(&m.role)?;
            let text = m.content.text();
            (!text.trim().is_empty()).then_some(Turn { role, text })
        })
        .collect();
    let max_tokens = request.max_completion_tokens.or(request.max_tokens);
    if max_tokens == Some(0) {
        return Err(OpenAiError::invalid(
            Some("max_tokens"),
            "`max_tokens` must be at least 1",
        ));
    }
    if request
        .temperature
        .is_some_and(|t| !(0.0..=2.0).contains(&t))
    {
        return Err(OpenAiError::invalid(
            Some("temperature"),
            "`temperature` must be between 0 and 2",
        ));
    }
    Ok(Parsed {
        model,
        question,
        history,
        options: GenerationOptions {
            max_tokens,
            temperature: request.temperature,
        },
        stream: request.stream,
        include_usage: request.stream_options.is_some_and(|o| o.include_usage),
    })
}

fn usage_json(usage: &crate::llm::Usage) -> Value {
    json!({"prompt_tokens": usage.prompt_tokens, "completion_tokens": usage.completion_tokens, "total_tokens": usage.total_tokens})
}

pub async fn models(State(core): State<Core>, principal: Result<Principal, ApiError>) -> Response {
    let principal = match principal {
        Ok(principal) => principal,
        Err(err) => return OpenAiError::from(err).into_response(),
    };
    // The tenant's copilot profiles, its default first.
    let data: Vec<Value> = core
        .tenant_profiles(&principal.tenant_id)
        .await
        .iter()
        .map(|p| json!({"id": p.id, "object": "model", "created": 0, "owned_by": "ragway"}))
        .collect();
    Json(json!({"object": "list", "data": data})).into_response()
}

pub async fn chat_completions(
    State(core): State<Core>,
    headers: axum::http::HeaderMap,
    principal: Result<Principal, ApiError>,
    body: Result<Json<ChatRequest>, JsonRejection>,
) -> Response {
    let principal = match principal {
        Ok(principal) => principal,
        Err(err) => return OpenAiError::from(err).into_response(),
    };
    let parsed = match parse(body) {
        Ok(parsed) => parsed,
        Err(err) => return err.into_response(),
    };
    let ask = ChannelAsk {
        profile: Some(parsed.model.clone()),
        conversation: Conversation::Given(parsed.history),
        options: parsed.options,
        use_cache: wants_cache(&headers),
        language: accept_language(&headers),
        ..ChannelAsk::new(parsed.question)
    };
    let answer = match begin(&core, principal, ask).await {
        Ok(answer) => answer,
        Err(err) => return wire_error(err, &parsed.model).into_response(),
    };
    let rate = answer.rate;
    let id = format!("chatcmpl-{}", uuid::Uuid::new_v4().simple());
    let created = chrono::Utc::now().timestamp();
    if !parsed.stream {
        return match answer.collect().await {
            Ok(answer) => with_rate(Json(json!({
                "id": id, "object": "chat.completion", "created": created, "model": parsed.model,
                "choices": [{"index": 0, "message": {
                    "role": "assistant", "content": answer.answer, "refusal": null,
                    "annotations": annotations(&answer.answer, &answer.citations),
                }, "logprobs": null, "finish_reason": "stop"}],
                "usage": usage_json(&answer.usage),
                "system_fingerprint": null,
            }))
            .into_response(), rate),
            Err(err) => wire_error(err, &parsed.model).into_response(),
        };
    }
    let model = parsed.model;
    let include_usage = parsed.include_usage;
    let chunks = Frames {
        id,
        created,
        model: model.clone(),
    };
    let mut events = answer.into_events();
    let frames = async_stream::stream! {
        yield chunks.role();
        let mut answer = String::new();
        while let Some(event) = events.next().await {
            match event {
                AskEvent::Sources { .. } => {}
                AskEvent::Delta { text } => {
                    answer.push_str(&text);
                    yield chunks.content(&text);
                }
                AskEvent::Done { citations, usage, .. } => {
                    yield chunks.stop(&annotations(&answer, &citations));
                    if include_usage {
                        yield chunks.usage(&usage);
                    }
                }
                AskEvent::Error { code, message } => {
                    yield wire_error(AskError::Stream { code, message }, &model).body().to_string();
                }
            }
        }
        yield "[DONE]".to_owned();
    };
    let frames = frames.map(|data| Ok::<_, Infallible>(Event::default().data(data)));
    with_rate(
        Sse::new(frames)
            .keep_alive(KeepAlive::default())
            .into_response(),
        rate,
    )
}

/// The one mapping of an answer that did not start (or failed mid-way) to OpenAI's error shape:
/// validation is about `messages`, an unknown profile is an unknown `model`.
fn wire_error(err: AskError, model: &str) -> OpenAiError {
    match err {
        AskError::EmptyQuestion => {
            OpenAiError::invalid(Some("messages"), "the last user message has no text")
        }
        AskError::QuestionTooLong { max_chars } => OpenAiError::invalid(
            Some("messages"),
            format!("the question is longer than {max_chars} characters"),
        ),
        AskError::ProfileNotAllowed(_) => OpenAiError {
            headers: Vec::new(),
            status: StatusCode::NOT_FOUND,
            kind: "invalid_request_error",
            code: Some("model_not_found"),
            param: Some("model"),
            message: format!("The model `{model}` does not exist or you do not have access to it."),
        },
        other => OpenAiError::from(ApiError::from_ask(other, "messages")),
    }
}
