//! Channel adapters: each turns its wire request into an `AskRequest` and the event stream into
//! its wire format. Nothing else knows a channel's protocol.

pub mod bots;
pub mod chat;
pub mod openai;
pub mod rest;
pub mod slack;
pub mod teams;
pub mod widget;

use crate::http::{ApiError, Principal};
use crate::limits::{RateStatus, Refused, StreamPermit};
use crate::state::AppState;
use crate::usage::UsageEvent;

/// The request limits every channel applies before any work: the request rate (tenant and
/// user) and a slot among the tenant's concurrent answers. Admissions and refusals are counted.
pub async fn admit(
    state: &AppState,
    principal: &Principal,
) -> Result<(Option<RateStatus>, StreamPermit), ApiError> {
    admit_or_refuse(state, principal)
        .await
        .map_err(|refused| ApiError::rate_limited(&refused))
}

/// [`admit`] with the refusal itself, for channels that word it for a person (chat bots).
pub async fn admit_or_refuse(
    state: &AppState,
    principal: &Principal,
) -> Result<(Option<RateStatus>, StreamPermit), Refused> {
    let refuse = |refused: Refused| {
        state
            .usage
            .record(principal, UsageEvent::Refused(refused.limit_name));
        refused
    };
    let quotas = state.quotas(&principal.tenant_id).await;
    let rate = state
        .limiter
        .check_request(principal, &quotas)
        .await
        .map_err(refuse)?;
    let permit = state
        .limiter
        .acquire_stream(&principal.tenant_id, &quotas)
        .await
        .map_err(refuse)?;
    state.usage.record(principal, UsageEvent::Request);
    Ok((rate, permit))
}

/// The caller's language from `Accept-Language` (browsers send it; API clients may): a hint
/// for questions too short to tell their own language.
pub fn accept_language(headers: &axum::http::HeaderMap) -> Option<ragway_ingest::lang::Lang> {
    headers
        .get_all(axum::http::header::ACCEPT_LANGUAGE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(ragway_ingest::lang::Lang::from_accept_language)
}
