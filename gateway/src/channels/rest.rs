//! The native REST API: `POST /api/v1/ask`, JSON or SSE.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use serde::Deserialize;

use crate::ask::{AskRequest, ask, ask_collect};
use crate::http::{ApiError, JsonBody, Principal};
use crate::llm::GenerationOptions;
use crate::state::AppState;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AskBody {
    pub question: String,
    #[serde(default)]
    pub stream: bool,
    pub top_k: Option<usize>,
}

fn validate(state: &AppState, body: &AskBody) -> Result<usize, ApiError> {
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
    let retrieval = &state.config.retrieval;
    let top_k = body.top_k.unwrap_or(retrieval.top_k);
    if top_k == 0 || top_k > retrieval.max_top_k {
        return Err(ApiError::bad_request(format!(
            "`top_k` must be between 1 and {}",
            retrieval.max_top_k
        )));
    }
    Ok(top_k)
}

fn status_for(code: &str) -> StatusCode {
    match code {
        "invalid_request" => StatusCode::BAD_REQUEST,
        "llm_unavailable" | "embeddings_unavailable" => StatusCode::BAD_GATEWAY,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

pub async fn ask_handler(
    State(state): State<AppState>,
    principal: Principal,
    JsonBody(body): JsonBody<AskBody>,
) -> Result<Response, ApiError> {
    let top_k = validate(&state, &body)?;
    let request = AskRequest {
        principal,
        question: body.question.trim().to_owned(),
        top_k,
        options: GenerationOptions::default(),
    };
    if !body.stream {
        return match ask_collect(state, request).await {
            Ok(response) => Ok(axum::Json(response).into_response()),
            Err((code, message)) => {
                let status = status_for(&code);
                let code: &'static str = match status {
                    StatusCode::BAD_REQUEST => "invalid_request",
                    StatusCode::BAD_GATEWAY => "llm_unavailable",
                    _ => "internal_error",
                };
                Err(ApiError::new(status, code, message))
            }
        };
    }
    let events = ask(state, request).map(|event| {
        let sse = Event::default().event(event.name());
        Ok::<_, Infallible>(
            sse.json_data(&event)
                .unwrap_or_else(|_| Event::default().event("error")),
        )
    });
    Ok(Sse::new(events)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response())
}
