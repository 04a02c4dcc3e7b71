//! The answer pipeline: cache → follow-up rewrite → retrieve → (nothing relevant: refuse without
//! calling the LLM) → ground → reserve tokens → generate → cite → settle → cache store.
//! Callers go through [`super::begin`]; the CLI (a trusted local caller, no limits) and tests of
//! the pipeline itself call [`answer`] directly.

use std::sync::Arc;

use futures::{Stream, StreamExt};
use ragway_ingest::lang::Lang;
use tracing::Instrument;

use super::error::AskError;
use super::events::{AnswerEvents, AskEvent, AskResponse, cited, replay};
use super::request::AskRequest;
use super::rewrite;
use super::tokens::{reserve_tokens, settle_tokens};
use crate::cache::{self, AnswerKey};
use crate::context::Core;
use crate::error::{ErrorCode, GatewayError};
use crate::ground::{Citation, GroundedPrompt, Prompts};
use crate::limits::TokenReservation;
use crate::llm::{AnswerMode, ChatChunk, Usage};
use crate::usage::UsageEvent;

/// Runs one question up to the point where the answer streams: cache, follow-up rewrite,
/// retrieval, grounding and the token reservation. Refusals and failures up to there are
/// returned (and counted) before anything is sent; the LLM call happens in the stream.
pub async fn answer(core: &Core, request: AskRequest) -> Result<AnswerEvents, AskError> {
    let lang = question_language(core, &request).await;
    answer_in(core, request, lang).await
}

/// [`answer`] in a language already decided (the lifecycle decides it once).
pub(crate) async fn answer_in(
    core: &Core,
    request: AskRequest,
    lang: Lang,
) -> Result<AnswerEvents, AskError> {
    let principal = request.principal.clone();
    let outcome = prepare(core, request, lang).await;
    if let Err(AskError::Refused(refused)) = &outcome {
        core.usage
            .record(&principal, UsageEvent::Refused(refused.limit_name));
    }
    outcome
}

async fn prepare(core: &Core, request: AskRequest, lang: Lang) -> Result<AnswerEvents, AskError> {
    let tenant = request.principal.tenant_id.clone();
    let generation = current_generation(core, &tenant).await;
    let prompts = core
        .tenants
        .prompts(&tenant, &core.prompts, core.config.prompts_dir.as_deref())
        .await;
    let lookup = cache_lookup(core, &request, generation, &prompts, lang)
        .instrument(tracing::info_span!("cache"))
        .await;
    let leader = match lookup {
        Some(cache::Lookup::Hit(hit)) => {
            core.usage.record(&request.principal, UsageEvent::CacheHit);
            return Ok(futures::stream::iter(replay(&hit)).boxed());
        }
        Some(cache::Lookup::Miss(leader)) => Some(leader),
        None => None,
    };
    let history = prompts.trim_history(
        &request.history,
        &core.chunker,
        core.config.conversation.history_tokens,
    );
    let search_query = rewrite::search_query(core, &request, &history, &prompts, lang).await?;
    let hits = core
        .retriever
        .retrieve(
            &request.principal,
            &search_query,
            lang,
            request.top_k,
            generation,
        )
        .instrument(tracing::info_span!(
            "retrieve",
            backend = core.retriever.backend()
        ))
        .await
        .inspect_err(|err| tracing::error!(%tenant, %err, "retrieval failed"))?;
    let chat = Arc::clone(&request.profile.chat);
    let mode = chat.mode();
    if hits.is_empty() {
        return Ok(not_found(leader, mode, lang).boxed());
    }
    let max_completion = chat.max_completion_tokens();
    let budget = chat.context_window().saturating_sub(max_completion);
    // A tenant's templates are untrusted input: rendered on a blocking thread, never on an async
    // worker. The operator's are configuration and render in place (the thread hop costs ~0.5 ms
    // of added latency on a 2-core machine; docs/BENCHMARKS.md).
    let span = tracing::info_span!("ground");
    let (question, chunker, grounding) = (
        request.question.clone(),
        Arc::clone(&core.chunker),
        Arc::clone(&prompts),
    );
    let render = move || {
        span.in_scope(|| grounding.ground(lang, &question, history, &hits, &chunker, budget))
    };
    let prompt = if prompts.tenant_written() {
        tokio::task::spawn_blocking(render)
            .await
            .map_err(|e| GatewayError::Template(format!("rendering the prompt stopped: {e}")))??
    } else {
        render()?
    };
    let reservation = match mode {
        AnswerMode::Extractive => TokenReservation::new(Arc::clone(&core.limiter), None),
        AnswerMode::Generative => {
            let completion = request
                .options
                .max_tokens
                .map_or(max_completion, |n| n.min(max_completion));
            reserve_tokens(core, &request.principal, prompt.prompt_tokens + completion).await?
        }
    };
    Ok(generate(core.clone(), request, prompt, leader, reservation).boxed())
}

/// The language the question is asked in (its analysis, prompts and messages follow it).
async fn question_language(core: &Core, request: &AskRequest) -> Lang {
    let tenant = &request.principal.tenant_id;
    core.language(tenant, &request.question, request.language)
        .await
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
    core: Core,
    request: AskRequest,
    prompt: GroundedPrompt,
    leader: Option<cache::Leader>,
    reservation: TokenReservation,
) -> impl Stream<Item = AskEvent> + Send + 'static {
    // Created here, in the request's span; entered only while the model is awaited.
    let llm = tracing::info_span!(
        "llm",
        mode = ?request.profile.chat.mode(),
        time_to_first_token_ms = tracing::field::Empty,
        total_ms = tracing::field::Empty,
    );
    async_stream::stream! {
        let asked = std::time::Instant::now();
        let tenant = request.principal.tenant_id.clone();
        let mode = request.profile.chat.mode();
        let sources: Vec<Citation> = prompt.sources.iter().map(|s| s.citation.clone()).collect();
        yield AskEvent::Sources { sources: sources.clone() };
        let started = request.profile.chat.answer(&prompt, request.options).instrument(llm.clone()).await;
        let mut chunks = match started {
            Ok(chunks) => chunks,
            Err(err) => {
                tracing::error!(%tenant, %err, "answer generation failed");
                // Nothing was generated: give the reservation back.
                reservation.settle(0).await;
                yield AskEvent::error(&err);
                return;
            }
        };
        // The request is with the LLM: the prompt's texts (passages, system, question; ≈ 20 KB) are
        // not needed while the answer streams, and under overload hundreds of answers stream at once.
        let prompt_tokens = prompt.prompt_tokens;
        drop(prompt);
        let mut answer = String::new();
        let mut usage = None;
        while let Some(chunk) = chunks.next().instrument(llm.clone()).await {
            match chunk {
                Ok(ChatChunk::Delta(text)) => {
                    if answer.is_empty() {
                        llm.record("time_to_first_token_ms", elapsed_ms(asked));
                    }
                    answer.push_str(&text);
                    yield AskEvent::Delta { text };
                }
                Ok(ChatChunk::Usage(reported)) => usage = Some(reported),
                Err(err) => {
                    tracing::error!(%tenant, %err, "answer stream failed");
                    let spent = estimated_usage(&core, prompt_tokens, &answer);
                    settle_tokens(&core, &request.principal, reservation, &spent).await;
                    yield AskEvent::error(&err);
                    return;
                }
            }
        }
        llm.record("total_ms", elapsed_ms(asked));
        let usage = match (mode, usage) {
            (AnswerMode::Extractive, _) => Usage::default(),
            (_, Some(usage)) => usage,
            (_, None) => estimated_usage(&core, prompt_tokens, &answer),
        };
        if mode == AnswerMode::Generative {
            settle_tokens(&core, &request.principal, reservation, &usage).await;
        }
        let citations = cited(&answer, &sources);
        if let Some(leader) = leader {
            let entry = cache::CachedAnswer { sources, answer, citations: citations.clone(), mode, usage };
            leader.store(entry).await;
        }
        yield AskEvent::Done { citations, usage, cached: false, mode };
    }
}

fn elapsed_ms(since: std::time::Instant) -> u64 {
    u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// Usage counted with tiktoken when the LLM did not report it (or stopped mid-way).
fn estimated_usage(core: &Core, prompt_tokens: usize, answer: &str) -> Usage {
    let completion_tokens = core.chunker.count(answer);
    Usage {
        prompt_tokens,
        completion_tokens,
        total_tokens: prompt_tokens + completion_tokens,
    }
}

/// Runs one question as a stream of events; a failure to start is its only (`error`) event.
pub fn answer_stream(
    core: Core,
    request: AskRequest,
) -> impl Stream<Item = AskEvent> + Send + 'static {
    async_stream::stream! {
        match answer(&core, request).await {
            Ok(mut events) => {
                while let Some(event) = events.next().await {
                    yield event;
                }
            }
            Err(err) => yield AskEvent::Error { code: err.code(), message: err.public_message() },
        }
    }
}

/// The tenant's index generation, or None when it cannot be read (then nothing is cached:
/// never serve what cannot be proven current).
async fn current_generation(core: &Core, tenant_id: &str) -> Option<i64> {
    // The embedded index belongs to this process alone (a second one is refused), so every sync
    // that bumps a generation runs here and drops the remembered one at once. With a Qdrant
    // server other replicas sync too, and a sync anywhere must invalidate everywhere at once:
    // read the catalog every time.
    let read = if core.retriever.index_owned_by_this_process() {
        core.catalog.recent_generation(tenant_id).await
    } else {
        core.catalog
            .tenant(tenant_id)
            .await
            .map(|t| t.map(|t| t.generation))
    };
    match read {
        Ok(generation) => generation,
        Err(err) => {
            tracing::warn!(%err, "cannot read the tenant generation; answering without caches");
            None
        }
    }
}

/// The cache decision for a request: None when caching does not apply (disabled, bypassed, or
/// no generation to bind the entry to).
async fn cache_lookup(
    core: &Core,
    request: &AskRequest,
    generation: Option<i64>,
    prompts: &Prompts,
    lang: Lang,
) -> Option<cache::Lookup> {
    if !request.use_cache || !core.config.cache.enabled {
        return None;
    }
    let generation = generation?;
    let profile = &request.profile;
    let key = AnswerKey {
        principal: &request.principal,
        question: &request.question,
        history: &request.history,
        top_k: request.top_k,
        options: &request.options,
        generation,
        model: &profile.cache_identity,
        prompts_version: prompts.version(),
        lang,
    };
    Some(
        core.cache
            .lookup(key.digest(), profile.answer_timeout)
            .await,
    )
}

/// The pipeline's answer folded into one response (tests of the pipeline; no limits).
pub async fn answer_collect(core: &Core, request: AskRequest) -> Result<AskResponse, AskError> {
    collect(answer(core, request).await?).await
}

/// Folds a started answer into one response; an `error` event becomes the error.
pub async fn collect(mut events: AnswerEvents) -> Result<AskResponse, AskError> {
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
            AskEvent::Error { code, message } => return Err(AskError::Stream { code, message }),
        }
    }
    Err(AskError::Stream {
        code: ErrorCode::InternalError,
        message: "the answer ended unexpectedly".into(),
    })
}
