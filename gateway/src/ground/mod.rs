//! Grounding: the tenant's prompt templates turn a question, its conversation and the retrieved
//! passages into the prompt the model answers from, within its token budget.

mod budget;
mod escape;
mod excerpt;
mod frame;
mod line_tokens;
mod prompt;
mod templates;

pub use excerpt::excerpt;
pub use prompt::{Citation, GroundedPrompt, Role, SourcePassage, Turn};
pub use templates::Prompts;
