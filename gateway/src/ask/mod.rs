//! The core use case every channel calls: `ask(AskRequest) -> Stream<AskEvent>`.
//! retrieve → (nothing relevant: refuse without calling the LLM) → ground → generate → cite.

pub mod cache;
mod ground;
mod retrieve;
mod rewrite;

pub use ground::Prompts;
pub use retrieve::Retriever;

use futures::{Stream, StreamExt};
use serde::Serialize;

use crate::error::GatewayError;
use crate::http::Principal;
use crate::llm::{AnswerMode, ChatChunk, GenerationOptions, Usage};
use crate::state::AppState;

pub const NOT_FOUND_ANSWER: &str = "I couldn't find this in your documents.";

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
    pub question: String,
    /// Earlier turns, oldest first (empty for a first question).
    pub history: Vec<Turn>,
    pub top_k: usize,
    pub options: GenerationOptions,
    /// False when the caller sent `Cache-Control: no-cache`.
    pub use_cache: bool,
}

/// A source as shown to the caller; `n` is the number the answer cites it by.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Citation {
    pub n: usize,
    pub document_id: String,
    pub title: String,
    pub uri: String,
    pub heading_path: Vec<String>,
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

/// Runs one question through the pipeline as a stream of events.
pub fn ask(state: AppState, request: AskRequest) -> impl Stream<Item = AskEvent> + Send + 'static {
    async_stream::stream! {
        let tenant = request.principal.tenant_id.clone();
        let leader = match cache_lookup(&state, &request).await {
            Some(cache::Lookup::Hit(hit)) => {
                for event in replay(&hit) {
                    yield event;
                }
                return;
            }
            Some(cache::Lookup::Miss(leader)) => Some(leader),
            None => None,
        };
        let history = state.prompts.trim_history(&request.history, &state.chunker, state.config.conversation.history_tokens);
        let search_query = rewrite::search_query(&state, &history, &request.question).await;
        let hits = match state.retriever.retrieve(&tenant, &search_query, request.top_k).await {
            Ok(hits) => hits,
            Err(err) => {
                tracing::error!(%tenant, %err, "retrieval failed");
                yield AskEvent::error(&err);
                return;
            }
        };
        let mode = state.chat.mode();
        if hits.is_empty() {
            yield AskEvent::Sources { sources: Vec::new() };
            yield AskEvent::Delta { text: NOT_FOUND_ANSWER.to_owned() };
            // Stored before the last event: a caller may stop reading once it has `done`.
            if let Some(leader) = leader {
                let answer = NOT_FOUND_ANSWER.to_owned();
                leader.store(cache::CachedAnswer { sources: Vec::new(), answer, citations: Vec::new(), mode, usage: Usage::default() }).await;
            }
            yield AskEvent::Done { citations: Vec::new(), usage: Usage::default(), cached: false, mode };
            return;
        }
        let budget = state.chat.context_window().saturating_sub(state.chat.max_completion_tokens());
        let prompt = match state.prompts.ground(&request.question, history, &hits, &state.chunker, budget) {
            Ok(prompt) => prompt,
            Err(err) => {
                yield AskEvent::error(&err);
                return;
            }
        };
        let sources: Vec<Citation> = prompt.sources.iter().map(|s| s.citation.clone()).collect();
        yield AskEvent::Sources { sources: sources.clone() };
        let mut chunks = match state.chat.answer(&prompt, request.options).await {
            Ok(chunks) => chunks,
            Err(err) => {
                tracing::error!(%tenant, %err, "answer generation failed");
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
                    yield AskEvent::error(&err);
                    return;
                }
            }
        }
        let usage = match (mode, usage) {
            (AnswerMode::Extractive, _) => Usage::default(),
            (_, Some(usage)) => usage,
            (_, None) => {
                let completion_tokens = state.chunker.count(&answer);
                Usage {
                    prompt_tokens: prompt.prompt_tokens,
                    completion_tokens,
                    total_tokens: prompt.prompt_tokens + completion_tokens,
                }
            }
        };
        let citations = cited(&answer, &sources);
        if let Some(leader) = leader {
            let entry = cache::CachedAnswer { sources, answer, citations: citations.clone(), mode, usage };
            leader.store(entry).await;
        }
        yield AskEvent::Done { citations, usage, cached: false, mode };
    }
}

/// The cache decision for a request: None when caching does not apply (disabled, bypassed, or
/// the tenant's generation cannot be read — never serve what cannot be proven current).
async fn cache_lookup(state: &AppState, request: &AskRequest) -> Option<cache::Lookup> {
    if !request.use_cache || !state.config.cache.enabled {
        return None;
    }
    let generation = match state.catalog.tenant(&request.principal.tenant_id).await {
        Ok(Some(tenant)) => tenant.generation,
        Ok(None) => return None,
        Err(err) => {
            tracing::warn!(%err, "cannot read the tenant generation; answering without the cache");
            return None;
        }
    };
    let model = state.config.llm.as_ref().map_or_else(
        || "extractive".to_owned(),
        |llm| format!("{}@{}", llm.model, llm.base_url),
    );
    let key = cache::key(request, generation, &model, state.prompts.version());
    let wait = state.config.llm.as_ref().map_or(5, |llm| llm.timeout_secs);
    Some(
        state
            .cache
            .lookup(key, std::time::Duration::from_secs(wait))
            .await,
    )
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

pub async fn ask_collect(
    state: AppState,
    request: AskRequest,
) -> Result<AskResponse, (String, String)> {
    let events = ask(state, request);
    futures::pin_mut!(events);
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
            AskEvent::Error { code, message } => return Err((code, message)),
        }
    }
    Err((
        "internal_error".into(),
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
