//! Answer generators behind one seam: an OpenAI-compatible LLM, or extractive passages when none
//! is configured (the offline default).

mod breaker;
mod extractive;
mod fallback;
mod focus;
mod openai;
mod upstream_events;

pub use extractive::Extractive;
pub use fallback::FallbackChat;
pub use focus::focused_excerpt;
pub use openai::OpenAiChat;

use futures::stream::BoxStream;
use serde::Serialize;

use crate::error::GatewayError;
use crate::ground::GroundedPrompt;

/// `extractive`: the best passages, quoted (no LLM configured); `generative`: written by the LLM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum AnswerMode {
    Generative,
    Extractive,
}

/// LLM tokens used by the answer (zero for extractive answers).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Usage {
    pub prompt_tokens: usize,
    pub completion_tokens: usize,
    pub total_tokens: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ChatChunk {
    Delta(String),
    Usage(Usage),
}

/// Per-request generation settings a caller may choose (within the profile's limits).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct GenerationOptions {
    pub max_tokens: Option<usize>,
    pub temperature: Option<f32>,
}

pub type ChatStream = BoxStream<'static, Result<ChatChunk, GatewayError>>;

#[async_trait::async_trait]
pub trait ChatModel: Send + Sync + std::fmt::Debug {
    fn mode(&self) -> AnswerMode;
    /// Context window in tokens (the grounding budget is this minus the completion reserve).
    fn context_window(&self) -> usize;
    fn max_completion_tokens(&self) -> usize;
    async fn answer(
        &self,
        prompt: &GroundedPrompt,
        options: GenerationOptions,
    ) -> Result<ChatStream, GatewayError>;
}
