//! Why a question was not answered, typed. [`AskError`] is what `begin` returns before the first
//! event; [`ErrorCode`] is what an `error` event carries once the answer has started. Each channel
//! turns them into its wire shape in one function.

use crate::error::{ErrorCode, GatewayError};
use crate::limits::{Overloaded, Refused};

/// Why an answer could not start. Raised before the first event, so a channel can still answer
/// with a proper status (HTTP 429 with its headers, 404, 502, …) or a message in the chat.
#[derive(Debug, thiserror::Error)]
pub enum AskError {
    #[error("the question is empty")]
    EmptyQuestion,
    #[error("the question is longer than {max_chars} characters")]
    QuestionTooLong { max_chars: usize },
    #[error("`top_k` must be between 1 and {max}")]
    TopKOutOfRange { max: usize },
    /// The caller named a profile the tenant may not use (or the tenant has none): why.
    #[error("{0}")]
    ProfileNotAllowed(String),
    #[error("conversation {0} not found")]
    ConversationNotFound(String),
    /// A request limit, the concurrent-answer cap or a token quota; nothing was sent to the LLM.
    #[error("{}", .0.message())]
    Refused(Refused),
    /// The server is answering as many questions as it may (`server.max_answers_in_flight`).
    #[error(transparent)]
    Overloaded(#[from] Overloaded),
    /// The pipeline failed before the answer started (retrieval, embeddings, templates, catalog).
    #[error(transparent)]
    Failed(#[from] GatewayError),
    /// The answer started, then failed (an `error` event, folded by a non-streaming caller).
    #[error("{message}")]
    Stream { code: ErrorCode, message: String },
}

impl AskError {
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::EmptyQuestion | Self::QuestionTooLong { .. } | Self::TopKOutOfRange { .. } => {
                ErrorCode::InvalidRequest
            }
            Self::ProfileNotAllowed(_) | Self::ConversationNotFound(_) => ErrorCode::NotFound,
            Self::Refused(_) => ErrorCode::RateLimited,
            Self::Overloaded(_) => ErrorCode::Overloaded,
            Self::Failed(err) => err.error_code(),
            Self::Stream { code, .. } => *code,
        }
    }

    /// What the caller may read: internals of a failure stay in the log.
    pub fn public_message(&self) -> String {
        match self {
            Self::Failed(err) => err.public_message(),
            other => other.to_string(),
        }
    }
}
