//! A chain of model endpoints (e.g. Azure deployment → OpenAI → local vLLM): each request goes to
//! the first endpoint whose circuit is closed; one that fails before its first token hands over to
//! the next. After the first token the answer stays with its endpoint (never retried mid-stream).

use futures::StreamExt;

use super::breaker::Breaker;
use super::{AnswerMode, ChatModel, ChatStream, GenerationOptions, OpenAiChat};
use crate::config::LlmConfig;
use crate::error::GatewayError;
use crate::ground::GroundedPrompt;
use crate::metrics::{CircuitGauges, CircuitLabels};

#[derive(Debug)]
struct Member {
    model: OpenAiChat,
    breaker: Breaker,
}

#[derive(Debug)]
pub struct FallbackChat {
    members: Vec<Member>,
    context_window: usize,
    max_completion_tokens: usize,
}

impl FallbackChat {
    /// The primary endpoint, then its fallbacks, each with its own circuit breaker whose state
    /// `circuits` shows by profile and endpoint.
    pub fn new(
        primary: &LlmConfig,
        profile: &str,
        circuits: &CircuitGauges,
    ) -> Result<Self, GatewayError> {
        let mut members = Vec::with_capacity(1 + primary.fallbacks.len());
        for config in std::iter::once(primary).chain(&primary.fallbacks) {
            let config = LlmConfig {
                fallbacks: Vec::new(),
                ..config.clone()
            };
            let model = OpenAiChat::new(config)?;
            let gauge = circuits
                .get_or_create(&CircuitLabels {
                    profile: profile.to_owned(),
                    endpoint: model.name(),
                })
                .clone();
            members.push(Member {
                breaker: Breaker::new(primary.circuit_breaker, gauge),
                model,
            });
        }
        // Ground for the smallest window in the chain so any endpoint can take the prompt.
        let context_window = std::iter::once(primary)
            .chain(&primary.fallbacks)
            .map(|c| c.context_window)
            .min()
            .unwrap_or(primary.context_window);
        Ok(Self {
            members,
            context_window,
            max_completion_tokens: primary.max_completion_tokens,
        })
    }
}

#[async_trait::async_trait]
impl ChatModel for FallbackChat {
    fn mode(&self) -> AnswerMode {
        AnswerMode::Generative
    }

    fn context_window(&self) -> usize {
        self.context_window
    }

    fn max_completion_tokens(&self) -> usize {
        self.max_completion_tokens
    }

    async fn answer(
        &self,
        prompt: &GroundedPrompt,
        options: GenerationOptions,
    ) -> Result<ChatStream, GatewayError> {
        let mut failures = Vec::new();
        for member in &self.members {
            let name = member.model.name();
            if !member.breaker.allow() {
                failures.push(format!("{name}: circuit open"));
                continue;
            }
            let outcome = match member.model.answer(prompt, options).await {
                Ok(mut stream) => match stream.next().await {
                    Some(Ok(first)) => Ok(futures::stream::iter([Ok(first)]).chain(stream).boxed()),
                    Some(Err(err)) => Err(err.to_string()),
                    None => Err(format!("{name}: empty answer")),
                },
                Err(err) => Err(err.to_string()),
            };
            match outcome {
                Ok(stream) => {
                    member.breaker.success();
                    return Ok(stream);
                }
                Err(reason) => {
                    if member.breaker.failure() {
                        tracing::warn!(endpoint = %name, "circuit opened after repeated failures");
                    }
                    tracing::warn!(endpoint = %name, %reason, "model endpoint failed; trying the next");
                    failures.push(reason);
                }
            }
        }
        Err(GatewayError::Llm(format!(
            "every model endpoint failed: {}",
            failures.join("; ")
        )))
    }
}
