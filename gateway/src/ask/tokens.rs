//! LLM tokens against the tenant's quotas: reserved before a call, settled with its real usage.

use std::sync::Arc;

use super::error::AskError;
use crate::context::Core;
use crate::identity::Principal;
use crate::limits::TokenReservation;
use crate::llm::Usage;
use crate::metrics::Metrics;
use crate::usage::UsageEvent;

/// Reserves an LLM call's tokens against the tenant's quotas (counted in the metrics).
pub(crate) async fn reserve_tokens(
    core: &Core,
    principal: &Principal,
    tokens: usize,
) -> Result<TokenReservation, AskError> {
    let tokens = u64::try_from(tokens).unwrap_or(u64::MAX);
    let quotas = core.quotas(&principal.tenant_id).await;
    let grant = core
        .limiter
        .reserve_tokens(principal, &quotas, tokens)
        .await
        .map_err(AskError::Refused)?;
    if grant.is_some() {
        core.metrics
            .tokens_reserved
            .get_or_create(&Metrics::tenant(&principal.tenant_id))
            .inc_by(tokens);
    }
    Ok(TokenReservation::new(Arc::clone(&core.limiter), grant))
}

/// Settles a reservation with an LLM call's real usage and accounts it.
pub(crate) async fn settle_tokens(
    core: &Core,
    principal: &Principal,
    reservation: TokenReservation,
    usage: &Usage,
) {
    let (prompt, completion) = (usage.prompt_tokens as u64, usage.completion_tokens as u64);
    reservation.settle(prompt + completion).await;
    core.usage
        .record(principal, UsageEvent::Tokens { prompt, completion });
}
