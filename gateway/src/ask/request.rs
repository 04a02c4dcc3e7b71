//! A question as the pipeline runs it: who asks, with which profile, in which conversation.

use std::sync::Arc;

use ragway_ingest::lang::Lang;

use crate::copilot::Profile;
use crate::ground::Turn;
use crate::identity::Principal;
use crate::llm::GenerationOptions;

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
