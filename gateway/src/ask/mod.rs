//! The core use case every channel calls, once: [`begin`] validates a question, resolves the
//! profile, admits it, loads its conversation and starts the answer pipeline (cache → rewrite →
//! retrieve → ground → generate → cite); the [`Answer`]'s events store the exchange when done.

mod error;
mod events;
mod lifecycle;
mod pipeline;
mod request;
mod rewrite;
mod tokens;

pub use error::AskError;
pub use events::{AnswerEvents, AskEvent, AskResponse, cited};
pub use lifecycle::{Answer, ChannelAsk, Conversation, begin};
pub use pipeline::{answer, answer_collect, answer_stream, collect};
pub use request::AskRequest;
