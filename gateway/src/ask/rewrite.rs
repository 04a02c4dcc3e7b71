//! Follow-up questions ("and for Saltillo?") are rewritten by the LLM into a standalone search
//! query before retrieval. Skipped for a first question and when no LLM is configured; a failed
//! rewrite falls back to the question itself (retrieval still runs). The rewrite's tokens are
//! reserved and settled against the tenant's quotas like the answer's.

use std::sync::Arc;

use futures::StreamExt;
use ragway_ingest::lang::Lang;

use super::error::AskError;
use super::request::AskRequest;
use super::tokens::{reserve_tokens, settle_tokens};
use crate::context::Core;
use crate::error::GatewayError;
use crate::ground::{GroundedPrompt, Prompts, Turn};
use crate::llm::{AnswerMode, ChatChunk, ChatModel, GenerationOptions, Usage};

/// Enough for a query; a model that rambles is cut off.
const REWRITE_MAX_TOKENS: usize = 96;

pub async fn search_query(
    core: &Core,
    request: &AskRequest,
    history: &[Turn],
    prompts: &Arc<Prompts>,
    lang: Lang,
) -> Result<String, AskError> {
    let (principal, question) = (&request.principal, request.question.as_str());
    let chat = request.profile.chat.as_ref();
    let enabled =
        core.config.conversation.rewrite_follow_ups && chat.mode() == AnswerMode::Generative;
    if history.is_empty() || !enabled {
        return Ok(question.to_owned());
    }
    // A tenant's templates are untrusted input: rendered on a blocking thread, never on an async
    // worker (the operator's are configuration and render in place).
    let rendered = if prompts.tenant_written() {
        let (rendering, turns, asked) =
            (Arc::clone(prompts), history.to_vec(), question.to_owned());
        tokio::task::spawn_blocking(move || rendering.rewrite(lang, &turns, &asked))
            .await
            .unwrap_or_else(|e| Err(GatewayError::Template(e.to_string())))
    } else {
        prompts.rewrite(lang, history, question)
    };
    let (system, user) = match rendered {
        Ok(prompt) => prompt,
        Err(err) => {
            tracing::warn!(%err, "rewrite template failed; searching with the question as asked");
            return Ok(question.to_owned());
        }
    };
    let prompt_tokens = prompts.message_tokens(&[&system, &user], &core.chunker);
    let reservation = reserve_tokens(core, principal, prompt_tokens + REWRITE_MAX_TOKENS).await?;
    let prompt = GroundedPrompt {
        system,
        history: Vec::new(),
        user,
        sources: Vec::new(),
        prompt_tokens,
        question: question.to_owned(),
        lang,
    };
    let (query, usage) = rewrite(core, chat, &prompt).await;
    settle_tokens(core, principal, reservation, &usage).await;
    Ok(match query {
        Some(query) => {
            tracing::debug!("follow-up rewritten for retrieval");
            query
        }
        None => question.to_owned(),
    })
}

/// The rewritten query (None when the LLM failed or said nothing) and the tokens it cost.
async fn rewrite(
    core: &Core,
    chat: &dyn ChatModel,
    prompt: &GroundedPrompt,
) -> (Option<String>, Usage) {
    let options = GenerationOptions {
        max_tokens: Some(REWRITE_MAX_TOKENS),
        temperature: Some(0.0),
    };
    let mut chunks = match chat.answer(prompt, options).await {
        Ok(chunks) => chunks,
        Err(err) => {
            tracing::warn!(%err, "follow-up rewrite failed; searching with the question as asked");
            return (None, Usage::default());
        }
    };
    let mut query = String::new();
    let mut reported = None;
    while let Some(chunk) = chunks.next().await {
        match chunk {
            Ok(ChatChunk::Delta(text)) => query.push_str(&text),
            Ok(ChatChunk::Usage(usage)) => reported = Some(usage),
            Err(err) => {
                tracing::warn!(%err, "follow-up rewrite failed mid-way; searching with the question as asked");
                query.clear(); // a partial query is worse than the question as asked
                break;
            }
        }
    }
    let usage = reported.unwrap_or_else(|| {
        let completion_tokens = core.chunker.count(&query);
        Usage {
            prompt_tokens: prompt.prompt_tokens,
            completion_tokens,
            total_tokens: prompt.prompt_tokens + completion_tokens,
        }
    });
    let query = query.trim().trim_matches('"').trim().to_owned();
    ((!query.is_empty()).then_some(query), usage)
}
