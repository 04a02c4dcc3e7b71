//! Follow-up questions ("and for Saltillo?") are rewritten by the LLM into a standalone search
//! query before retrieval. Skipped for a first question and when no LLM is configured; a failed
//! rewrite falls back to the question itself (retrieval still runs).

use futures::StreamExt;

use super::{GroundedPrompt, Turn};
use crate::llm::{AnswerMode, ChatChunk, GenerationOptions};
use crate::state::AppState;

/// Enough for a query; a model that rambles is cut off.
const REWRITE_MAX_TOKENS: usize = 96;

pub async fn search_query(state: &AppState, history: &[Turn], question: &str) -> String {
    let enabled =
        state.config.conversation.rewrite_follow_ups && state.chat.mode() == AnswerMode::Generative;
    if history.is_empty() || !enabled {
        return question.to_owned();
    }
    match rewrite(state, history, question).await {
        Some(query) => {
            tracing::debug!("follow-up rewritten for retrieval");
            query
        }
        None => question.to_owned(),
    }
}

async fn rewrite(state: &AppState, history: &[Turn], question: &str) -> Option<String> {
    let (system, user) = match state.prompts.rewrite(history, question) {
        Ok(prompt) => prompt,
        Err(err) => {
            tracing::warn!(%err, "rewrite template failed; searching with the question as asked");
            return None;
        }
    };
    let prompt = GroundedPrompt {
        system,
        history: Vec::new(),
        user,
        sources: Vec::new(),
        prompt_tokens: 0,
    };
    let options = GenerationOptions {
        max_tokens: Some(REWRITE_MAX_TOKENS),
        temperature: Some(0.0),
    };
    let mut chunks = match state.chat.answer(&prompt, options).await {
        Ok(chunks) => chunks,
        Err(err) => {
            tracing::warn!(%err, "follow-up rewrite failed; searching with the question as asked");
            return None;
        }
    };
    let mut query = String::new();
    while let Some(chunk) = chunks.next().await {
        match chunk {
            Ok(ChatChunk::Delta(text)) => query.push_str(&text),
            Ok(ChatChunk::Usage(_)) => {}
            Err(err) => {
                tracing::warn!(%err, "follow-up rewrite failed mid-way; searching with the question as asked");
                return None;
            }
        }
    }
    let query = query.trim().trim_matches('"').trim().to_owned();
    (!query.is_empty()).then_some(query)
}
