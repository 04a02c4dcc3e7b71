//! Generative answers from any OpenAI-compatible chat completions endpoint, streamed.

use async_openai::Client;
use async_openai::config::OpenAIConfig;
use async_openai::types::chat::{
    ChatCompletionRequestAssistantMessage, ChatCompletionRequestMessage,
    ChatCompletionRequestSystemMessage, ChatCompletionRequestUserMessage,
    ChatCompletionStreamOptions, CreateChatCompletionRequest,
};
use futures::StreamExt;
use ragway_ingest::openai::{EndpointSettings, client};

use super::{AnswerMode, ChatChunk, ChatModel, ChatStream, GenerationOptions, Usage};
use crate::ask::{GroundedPrompt, Role};
use crate::config::LlmConfig;
use crate::error::GatewayError;

#[derive(Debug)]
pub struct OpenAiChat {
    client: Client<OpenAIConfig>,
    config: LlmConfig,
}

impl OpenAiChat {
    pub fn new(config: LlmConfig) -> Result<Self, GatewayError> {
        let client = client(&EndpointSettings {
            base_url: &config.base_url,
            api_key_env: config.api_key_env.as_deref(),
            max_retries: config.max_retries,
            timeout_secs: config.timeout_secs,
        })?;
        Ok(Self { client, config })
    }

    fn request(
        &self,
        prompt: &GroundedPrompt,
        options: GenerationOptions,
    ) -> CreateChatCompletionRequest {
        // A caller may ask for fewer completion tokens than the profile reserves, never more.
        let max_tokens = options
            .max_tokens
            .map_or(self.config.max_completion_tokens, |n| {
                n.min(self.config.max_completion_tokens)
            });
        let mut messages = vec![ChatCompletionRequestMessage::System(
            ChatCompletionRequestSystemMessage {
                content: prompt.system.clone().into(),
                name: None,
            },
        )];
        for turn in &prompt.history {
            messages.push(match turn.role {
                Role::User => user_message(turn.text.clone()),
                Role::Assistant => {
                    ChatCompletionRequestMessage::Assistant(ChatCompletionRequestAssistantMessage {
                        content: Some(turn.text.clone().into()),
                        ..ChatCompletionRequestAssistantMessage::default()
                    })
                }
            });
        }
        messages.push(user_message(prompt.user.clone()));
        CreateChatCompletionRequest {
            model: self.config.model.clone(),
            messages,
            stream: Some(true),
            stream_options: Some(ChatCompletionStreamOptions {
                include_usage: Some(true),
                include_obfuscation: None,
            }),
            max_completion_tokens: u32::try_from(max_tokens).ok(),
            temperature: options.temperature.or(self.config.temperature),
            ..CreateChatCompletionRequest::default()
        }
    }
}

fn user_message(text: String) -> ChatCompletionRequestMessage {
    ChatCompletionRequestMessage::User(ChatCompletionRequestUserMessage {
        content: text.into(),
        name: None,
    })
}

#[async_trait::async_trait]
impl ChatModel for OpenAiChat {
    fn mode(&self) -> AnswerMode {
        AnswerMode::Generative
    }

    fn context_window(&self) -> usize {
        self.config.context_window
    }

    fn max_completion_tokens(&self) -> usize {
        self.config.max_completion_tokens
    }

    async fn answer(
        &self,
        prompt: &GroundedPrompt,
        options: GenerationOptions,
    ) -> Result<ChatStream, GatewayError> {
        let model = self.config.model.clone();
        let stream = self
            .client
            .chat()
            .create_stream(self.request(prompt, options))
            .await
            .map_err(|e| GatewayError::Llm(format!("{model}: {e}")))?;
        let chunks = stream.flat_map(move |item| {
            let out: Vec<Result<ChatChunk, GatewayError>> = match item {
                Err(e) => vec![Err(GatewayError::Llm(format!("{model}: {e}")))],
                Ok(response) => {
                    let mut out: Vec<_> = response
                        .choices
                        .into_iter()
                        .filter_map(|choice| choice.delta.content)
                        .filter(|text| !text.is_empty())
                        .map(|text| Ok(ChatChunk::Delta(text)))
                        .collect();
                    if let Some(usage) = response.usage {
                        out.push(Ok(ChatChunk::Usage(Usage {
                            prompt_tokens: usage.prompt_tokens as usize,
                            completion_tokens: usage.completion_tokens as usize,
                            total_tokens: usage.total_tokens as usize,
                        })));
                    }
                    out
                }
            };
            futures::stream::iter(out)
        });
        Ok(chunks.boxed())
    }
}
