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
use crate::limits::{RateStatus, StreamPermit};
use crate::state::AppState;
use crate::usage::UsageEvent;

/// The request limits every channel applies before any work: the request rate (tenant and
/// user) and a slot among the tenant's concurrent answers. Admissions and refusals are counted.
pub async fn admit(
    state: &AppState,
    principal: &Principal,
) -> Result<(Option<RateStatus>, StreamPermit), ApiError> {
    let refuse = |refused: crate::limits::Refused| {
        state
            .usage
            .record(principal, UsageEvent::Refused(refused.limit_name));
        ApiError::rate_limited(&refused)
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
