//! The core use case every channel calls: `ask(AskRequest) -> Stream<AskEvent>`.
//! retrieve → (nothing relevant: refuse without calling the LLM) → ground → generate → cite.

pub mod cache;
mod ground;
mod retrieve;
mod rewrite;

pub use ground::Prompts;
pub use retrieve::Retriever;

use std::sync::Arc;

use futures::stream::BoxStream;
use futures::{Stream, StreamExt};
use ragway_ingest::lang::Lang;
use serde::Serialize;

use crate::copilot::Profile;
use crate::error::GatewayError;
use crate::http::{ApiError, Principal};
use crate::limits::{Refused, TokenReservation};
use crate::llm::{AnswerMode, ChatChunk, GenerationOptions, Usage};
use crate::metrics::Metrics;
use crate::state::AppState;
use crate::usage::UsageEvent;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    User,
    Assistant,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Assistant => "assistant",
        }
    }

    pub fn parse(role: &str) -> Option<Self> {
        match role {
            "user" => Some(Self::User),
            "assistant" => Some(Self::Assistant),
            _ => None,
        }
    }
}

/// One earlier turn of the conversation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Turn {
    pub role: Role,
    pub text: String,
}

#[derive(Debug, Clone)]
pub struct AskRequest {
    pub principal: Principal,
    /// The copilot profile answering (its LLM, limits of generation).
    pub profile: Arc<Profile>,
    pub question: String,
    /// Earlier turns, oldest first (empty for a first question).
    pub history: Vec<Turn>,
    pub top_k: usize,
    pub options: GenerationOptions,
    /// False when the caller sent `Cache-Control: no-cache`.
    pub use_cache: bool,
    /// The caller's language (`Accept-Language`, a Teams locale, the widget's page), used only
    /// when the question is too short to tell its own.
    pub language: Option<Lang>,
}

/// A source as shown to the caller; `n` is the number the answer cites it by.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Citation {
    pub n: usize,
    pub document_id: String,
    pub title: String,
    pub uri: String,
    pub heading_path: Vec<String>,
    /// Page (PDF) or slide (PPTX) the passage is on, when the format has pages.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page: Option<u32>,
    pub snippet: String,
    pub score: f32,
}

#[derive(Debug, Clone)]
pub struct SourcePassage {
    pub citation: Citation,
    pub text: String,
}

/// The prompt as sent, with the sources it numbers.
#[derive(Debug, Clone)]
pub struct GroundedPrompt {
    pub system: String,
    /// Earlier turns sent before the grounded question (already trimmed to the history budget).
    pub history: Vec<Turn>,
    pub user: String,
    pub sources: Vec<SourcePassage>,
    pub prompt_tokens: usize,
    /// The question as asked (the extractive model quotes what answers it).
    pub question: String,
    /// The language of the question, which the answer is written in.
    pub lang: Lang,
}

/// One Server-Sent Event of a streamed answer (the SSE event name equals `type`).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AskEvent {
    /// The sources the answer may cite, numbered as in the prompt.
    Sources {
        sources: Vec<Citation>,
    },
    Delta {
        text: String,
    },
    Done {
        /// Sources the answer actually cites (all sent sources if it cites none).
        citations: Vec<Citation>,
        usage: Usage,
        cached: bool,
        mode: AnswerMode,
    },
    Error {
        code: String,
        message: String,
    },
}

impl AskEvent {
    pub fn name(&self) -> &'static str {
        match self {
            Self::Sources { .. } => "sources",
            Self::Delta { .. } => "delta",
            Self::Done { .. } => "done",
            Self::Error { .. } => "error",
        }
    }

    fn error(err: &GatewayError) -> Self {
        Self::Error {
            code: err.code().to_owned(),
            message: err.public_message(),
        }
    }
}

/// The events of an answer that has started.
pub type AnswerEvents = BoxStream<'static, AskEvent>;

/// Why an answer could not start. Raised before the first event, so a channel can still answer
/// with a proper HTTP status (429 with its headers, 502, …).
#[derive(Debug)]
pub enum AskFailure {
    /// A token quota cannot fit the LLM call; nothing was sent to the LLM.
    Refused(Refused),
    Failed(GatewayError),
}

impl From<GatewayError> for AskFailure {
    fn from(err: GatewayError) -> Self {
        Self::Failed(err)
    }
}

impl From<AskFailure> for ApiError {
    fn from(failure: AskFailure) -> Self {
        match failure {
            AskFailure::Refused(refused) => ApiError::rate_limited(&refused),
            AskFailure::Failed(err) => ApiError::from(err),
        }
    }
}

/// Runs one question up to the point where the answer streams: cache, follow-up rewrite,
/// retrieval, grounding and the token reservation. Refusals and failures up to there are
/// returned (and counted) before anything is sent; the LLM call happens in the stream.
pub async fn start(state: AppState, request: AskRequest) -> Result<AnswerEvents, AskFailure> {
    let outcome = prepare(&state, request.clone()).await;
    if let Err(AskFailure::Refused(refused)) = &outcome {
        state
            .usage
            .record(&request.principal, UsageEvent::Refused(refused.limit_name));
    }
    outcome
}

async fn prepare(state: &AppState, request: AskRequest) -> Result<AnswerEvents, AskFailure> {
    let tenant = request.principal.tenant_id.clone();
    let generation = current_generation(state, &tenant).await;
    let prompts = state
        .tenants
        .prompts(&tenant, &state.prompts, state.config.prompts_dir.as_deref())
        .await;
    let lang = question_language(state, &request).await;
    let leader = match cache_lookup(state, &request, generation, &prompts, lang).await {
        Some(cache::Lookup::Hit(hit)) => {
            state.usage.record(&request.principal, UsageEvent::CacheHit);
            return Ok(futures::stream::iter(replay(&hit)).boxed());
        }
        Some(cache::Lookup::Miss(leader)) => Some(leader),
        None => None,
    };
    let history = prompts.trim_history(
        &request.history,
        &state.chunker,
        state.config.conversation.history_tokens,
    );
    let search_query = rewrite::search_query(state, &request, &history, &prompts, lang).await?;
    let hits = state
        .retriever
        .retrieve(
            &request.principal,
            &search_query,
            lang,
            request.top_k,
            generation,
        )
        .await
        .inspect_err(|err| tracing::error!(%tenant, %err, "retrieval failed"))?;
    let chat = Arc::clone(&request.profile.chat);
    let mode = chat.mode();
    if hits.is_empty() {
        return Ok(not_found(leader, mode, lang).boxed());
    }
    let max_completion = chat.max_completion_tokens();
    let budget = chat.context_window().saturating_sub(max_completion);
    let prompt = prompts.ground(
        lang,
        &request.question,
        history,
        &hits,
        &state.chunker,
        budget,
    )?;
    let reservation = match mode {
        AnswerMode::Extractive => TokenReservation::new(Arc::clone(&state.limiter), None),
        AnswerMode::Generative => {
            let completion = request
                .options
                .max_tokens
                .map_or(max_completion, |n| n.min(max_completion));
            reserve_tokens(state, &request.principal, prompt.prompt_tokens + completion).await?
        }
    };
    Ok(generate(state.clone(), request, prompt, leader, reservation).boxed())
}

/// The language the question is asked in (its analysis, prompts and messages follow it).
pub(crate) async fn question_language(state: &AppState, request: &AskRequest) -> Lang {
    language(
        state,
        &request.principal.tenant_id,
        &request.question,
        request.language,
    )
    .await
}

/// The language to speak to someone asking `text`: detected from the text, else the caller's
/// hint, else the tenant's language, else the configured one. Channels call it for what they
/// show before (or instead of) an answer, so it matches the answer's.
pub async fn language(state: &AppState, tenant_id: &str, text: &str, hint: Option<Lang>) -> Lang {
    if let Some(lang) = ragway_ingest::lang::detect(text) {
        return lang;
    }
    if let Some(lang) = hint {
        return lang;
    }
    let settings = state.tenants.settings(tenant_id).await;
    settings.language.unwrap_or(state.config.language)
}

/// Reserves an LLM call's tokens against the tenant's quotas (counted in the metrics).
pub(crate) async fn reserve_tokens(
    state: &AppState,
    principal: &Principal,
    tokens: usize,
) -> Result<TokenReservation, AskFailure> {
    let tokens = u64::try_from(tokens).unwrap_or(u64::MAX);
    let quotas = state.quotas(&principal.tenant_id).await;
    let grant = state
        .limiter
        .reserve_tokens(principal, &quotas, tokens)
        .await
        .map_err(AskFailure::Refused)?;
    if grant.is_some() {
        state
            .metrics
            .tokens_reserved
            .get_or_create(&Metrics::tenant(&principal.tenant_id))
            .inc_by(tokens);
    }
    Ok(TokenReservation::new(Arc::clone(&state.limiter), grant))
}

/// Settles a reservation with an LLM call's real usage and accounts it.
pub(crate) async fn settle_tokens(
    state: &AppState,
    principal: &Principal,
    reservation: TokenReservation,
    usage: &Usage,
) {
    let (prompt, completion) = (usage.prompt_tokens as u64, usage.completion_tokens as u64);
    reservation.settle(prompt + completion).await;
    state
        .usage
        .record(principal, UsageEvent::Tokens { prompt, completion });
}

/// The answer when nothing relevant was found: no LLM call, no tokens.
fn not_found(
    leader: Option<cache::Leader>,
    mode: AnswerMode,
    lang: Lang,
) -> impl Stream<Item = AskEvent> + Send + 'static {
    let refusal = crate::i18n::messages(lang).not_found;
    async_stream::stream! {
        yield AskEvent::Sources { sources: Vec::new() };
        yield AskEvent::Delta { text: refusal.to_owned() };
        // Stored before the last event: a caller may stop reading once it has `done`.
        if let Some(leader) = leader {
            let answer = refusal.to_owned();
            leader.store(cache::CachedAnswer { sources: Vec::new(), answer, citations: Vec::new(), mode, usage: Usage::default() }).await;
        }
        yield AskEvent::Done { citations: Vec::new(), usage: Usage::default(), cached: false, mode };
    }
}

/// Sources first, then the LLM's (or the extractive) answer as it is produced; the token
/// reservation is settled with the real usage before `done`.
fn generate(
    state: AppState,
    request: AskRequest,
    prompt: GroundedPrompt,
    leader: Option<cache::Leader>,
    reservation: TokenReservation,
) -> impl Stream<Item = AskEvent> + Send + 'static {
    async_stream::stream! {
        let tenant = request.principal.tenant_id.clone();
        let mode = request.profile.chat.mode();
        let sources: Vec<Citation> = prompt.sources.iter().map(|s| s.citation.clone()).collect();
        yield AskEvent::Sources { sources: sources.clone() };
        let mut chunks = match request.profile.chat.answer(&prompt, request.options).await {
            Ok(chunks) => chunks,
            Err(err) => {
                tracing::error!(%tenant, %err, "answer generation failed");
                // Nothing was generated: give the reservation back.
                reservation.settle(0).await;
                yield AskEvent::error(&err);
                return;
            }
        };
        let mut answer = String::new();
        let mut usage = None;
        while let Some(chunk) = chunks.next().await {
            match chunk {
                Ok(ChatChunk::Delta(text)) => {
                    answer.push_str(&text);
                    yield AskEvent::Delta { text };
                }
                Ok(ChatChunk::Usage(reported)) => usage = Some(reported),
                Err(err) => {
                    tracing::error!(%tenant, %err, "answer stream failed");
                    let spent = estimated_usage(&state, &prompt, &answer);
                    settle_tokens(&state, &request.principal, reservation, &spent).await;
                    yield AskEvent::error(&err);
                    return;
                }
            }
        }
        let usage = match (mode, usage) {
            (AnswerMode::Extractive, _) => Usage::default(),
            (_, Some(usage)) => usage,
            (_, None) => estimated_usage(&state, &prompt, &answer),
        };
        if mode == AnswerMode::Generative {
            settle_tokens(&state, &request.principal, reservation, &usage).await;
        }
        let citations = cited(&answer, &sources);
        if let Some(leader) = leader {
            let entry = cache::CachedAnswer { sources, answer, citations: citations.clone(), mode, usage };
            leader.store(entry).await;
        }
        yield AskEvent::Done { citations, usage, cached: false, mode };
    }
}

/// Usage counted with tiktoken when the LLM did not report it (or stopped mid-way).
fn estimated_usage(state: &AppState, prompt: &GroundedPrompt, answer: &str) -> Usage {
    let completion_tokens = state.chunker.count(answer);
    Usage {
        prompt_tokens: prompt.prompt_tokens,
        completion_tokens,
        total_tokens: prompt.prompt_tokens + completion_tokens,
    }
}

/// Runs one question as a stream of events; a failure to start is its only (`error`) event.
pub fn ask(state: AppState, request: AskRequest) -> impl Stream<Item = AskEvent> + Send + 'static {
    async_stream::stream! {
        match start(state, request).await {
            Ok(mut events) => {
                while let Some(event) = events.next().await {
                    yield event;
                }
            }
            Err(AskFailure::Refused(refused)) => {
                yield AskEvent::Error { code: "rate_limited".into(), message: refused.message() };
            }
            Err(AskFailure::Failed(err)) => yield AskEvent::error(&err),
        }
    }
}

/// The tenant's index generation, or None when it cannot be read (then nothing is cached:
/// never serve what cannot be proven current).
async fn current_generation(state: &AppState, tenant_id: &str) -> Option<i64> {
    match state.catalog.tenant(tenant_id).await {
        Ok(tenant) => tenant.map(|t| t.generation),
        Err(err) => {
            tracing::warn!(%err, "cannot read the tenant generation; answering without caches");
            None
        }
    }
}

/// The cache decision for a request: None when caching does not apply (disabled, bypassed, or
/// no generation to bind the entry to).
async fn cache_lookup(
    state: &AppState,
    request: &AskRequest,
    generation: Option<i64>,
    prompts: &Prompts,
    lang: Lang,
) -> Option<cache::Lookup> {
    if !request.use_cache || !state.config.cache.enabled {
        return None;
    }
    let generation = generation?;
    let profile = &request.profile;
    let key = cache::key(
        request,
        generation,
        &profile.cache_identity,
        prompts.version(),
        lang,
    );
    Some(state.cache.lookup(key, profile.answer_timeout).await)
}

/// A cached answer as the events a fresh one produces, marked `cached` and costing no tokens.
fn replay(hit: &cache::CachedAnswer) -> Vec<AskEvent> {
    let mut events = vec![AskEvent::Sources {
        sources: hit.sources.clone(),
    }];
    let mut piece = String::new();
    for word in hit.answer.split_inclusive(' ') {
        piece.push_str(word);
        if piece.len() >= 48 {
            events.push(AskEvent::Delta {
                text: std::mem::take(&mut piece),
            });
        }
    }
    if !piece.is_empty() {
        events.push(AskEvent::Delta { text: piece });
    }
    events.push(AskEvent::Done {
        citations: hit.citations.clone(),
        usage: Usage::default(),
        cached: true,
        mode: hit.mode,
    });
    events
}

/// The sources an answer cites as `[n]`, in source order; every source when it cites none.
pub fn cited(answer: &str, sources: &[Citation]) -> Vec<Citation> {
    let used: Vec<Citation> = sources
        .iter()
        .filter(|s| answer.contains(&format!("[{}]", s.n)))
        .cloned()
        .collect();
    if used.is_empty() {
        sources.to_vec()
    } else {
        used
    }
}

/// The non-streaming answer: the events folded into one response.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AskResponse {
    pub answer: String,
    pub citations: Vec<Citation>,
    pub usage: Usage,
    pub mode: AnswerMode,
    pub cached: bool,
}

pub async fn ask_collect(state: AppState, request: AskRequest) -> Result<AskResponse, ApiError> {
    let events = start(state, request).await?;
    collect(events).await
}

/// Folds a started answer into one response; an `error` event becomes the error.
pub async fn collect(mut events: AnswerEvents) -> Result<AskResponse, ApiError> {
    let mut answer = String::new();
    while let Some(event) = events.next().await {
        match event {
            AskEvent::Sources { .. } => {}
            AskEvent::Delta { text } => answer.push_str(&text),
            AskEvent::Done {
                citations,
                usage,
                cached,
                mode,
            } => {
                return Ok(AskResponse {
                    answer,
                    citations,
                    usage,
                    mode,
                    cached,
                });
            }
            AskEvent::Error { code, message } => return Err(ApiError::from_event(&code, message)),
        }
    }
    Err(ApiError::from_event(
        "internal_error",
        "the answer ended unexpectedly".into(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn citation(n: usize) -> Citation {
        Citation {
            n,
            document_id: format!("d{n}"),
            title: format!("T{n}"),
            uri: format!("u{n}"),
            heading_path: vec![],
            page: None,
            snippet: String::new(),
            score: 1.0,
        }
    }

    #[test]
    fn cited_keeps_only_referenced_sources() {
        let sources = vec![citation(1), citation(2), citation(3)];
        let used = cited("Use the VPN [2]. Also [3][2].", &sources);
        assert_eq!(used.iter().map(|c| c.n).collect::<Vec<_>>(), [2, 3]);
        assert_eq!(cited("No citations.", &sources).len(), 3);
    }
}
