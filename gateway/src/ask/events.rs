//! What an answer is made of, as every channel reads it: the event stream and its folded form.

use serde::Serialize;

use crate::cache::CachedAnswer;
use crate::error::{ErrorCode, GatewayError};
use crate::ground::Citation;
use crate::llm::{AnswerMode, Usage};

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
        #[schema(value_type = String)]
        code: ErrorCode,
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

    pub(crate) fn error(err: &GatewayError) -> Self {
        Self::Error {
            code: err.error_code(),
            message: err.public_message(),
        }
    }
}

/// The events of an answer that has started.
pub type AnswerEvents = futures::stream::BoxStream<'static, AskEvent>;

/// The non-streaming answer: the events folded into one response.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AskResponse {
    pub answer: String,
    pub citations: Vec<Citation>,
    pub usage: Usage,
    pub mode: AnswerMode,
    pub cached: bool,
}

/// A cached answer as the events a fresh one produces, marked `cached` and costing no tokens.
pub(crate) fn replay(hit: &CachedAnswer) -> Vec<AskEvent> {
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
