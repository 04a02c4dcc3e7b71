//! `POST /widget/v1/feedback`: 👍/👎 (and an optional comment) on one answer, stored per tenant,
//! answer and user; rating again replaces the earlier rating. The answer's message id names its
//! conversation, which must be the session user's own.

use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use ragway_catalog::{Feedback, Rating};
use serde::Deserialize;

use super::WidgetState;
use super::cors::{allow, error_response};
use super::sessions::authenticate;
use crate::http::ApiError;
use crate::http::errors::ErrorBody;

/// Longest comment kept (characters).
const MAX_COMMENT_CHARS: usize = 2000;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FeedbackRequest {
    /// The answer's `messageId` (from its `start` chunk).
    pub message_id: String,
    /// `up` or `down`.
    pub rating: String,
    pub comment: Option<String>,
}

/// Rate an answer of the session's own conversation 👍/👎 (rating again replaces it).
#[utoipa::path(post, path = "/widget/v1/feedback", tag = "widget", request_body = FeedbackRequest,
    security(("widget_session" = [])),
    responses(
        (status = 204, description = "Stored"),
        (status = 400, description = "Malformed body or rating", body = ErrorBody),
        (status = 401, description = "Missing, tampered or expired session token", body = ErrorBody),
        (status = 404, description = "No such answer in the caller's conversations", body = ErrorBody),
    ))]
pub async fn feedback_handler(
    State(state): State<WidgetState>,
    headers: HeaderMap,
    body: Result<Json<FeedbackRequest>, JsonRejection>,
) -> Response {
    match store(&state, &headers, body).await {
        Ok(origin) => allow(StatusCode::NO_CONTENT.into_response(), &origin),
        Err(err) => error_response(&state, &headers, err).await,
    }
}

async fn store(
    state: &WidgetState,
    headers: &HeaderMap,
    body: Result<Json<FeedbackRequest>, JsonRejection>,
) -> Result<String, ApiError> {
    let (session, origin) = authenticate(state, headers).await?;
    let Json(body) = body.map_err(|e| {
        ApiError::bad_request(format!("malformed feedback request: {}", e.body_text()))
    })?;
    let rating = Rating::parse(&body.rating)
        .ok_or_else(|| ApiError::bad_request("`rating` must be \"up\" or \"down\""))?;
    let comment = body
        .comment
        .map(|c| c.trim().chars().take(MAX_COMMENT_CHARS).collect::<String>())
        .filter(|c| !c.is_empty());
    let unknown = || {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "no such answer in your conversations",
        )
    };
    let (conversation_id, answer_id) = body.message_id.split_once(':').ok_or_else(unknown)?;
    if answer_id.is_empty()
        || answer_id.len() > 64
        || !answer_id.bytes().all(|b| b.is_ascii_hexdigit())
    {
        return Err(unknown());
    }
    let principal = session.principal();
    // Feedback spends the sender's request allowance like a question does (anonymous visitors
    // share their key's): a session cannot write rows without end.
    let spender = crate::identity::Principal {
        user_id: if session.anonymous {
            super::anonymous::budget(&session.key)
        } else {
            principal.user_id.clone()
        },
        ..principal.clone()
    };
    let quotas = state.core.quotas(&principal.tenant_id).await;
    state
        .core
        .limiter
        .check_request(&spender, &quotas)
        .await
        .map_err(|refused| ApiError::rate_limited(&refused))?;
    let owned = state
        .core
        .catalog
        .conversation_turns(&principal.tenant_id, &principal.user_id, conversation_id, 1)
        .await?;
    if owned.is_none() {
        return Err(unknown());
    }
    let feedback = Feedback {
        tenant_id: principal.tenant_id.clone(),
        channel: super::CHANNEL.into(),
        message_id: body.message_id,
        user_id: principal.user_id,
        rating,
        comment,
        created_at: String::new(),
    };
    state.core.catalog.record_feedback(&feedback).await?;
    crate::channels::bots::count(&state.core.metrics, super::CHANNEL, "feedback");
    Ok(origin)
}
