//! Generative answers from an OpenAI-compatible endpoint or an Azure OpenAI deployment, streamed,
//! with a time-to-first-token and a total deadline (retries happen before the first byte only).

use std::task::Poll;
use std::time::Duration;

use async_openai::Client;
use async_openai::config::{AzureConfig, OpenAIConfig};
use async_openai::types::chat::{
    ChatCompletionRequestAssistantMessage, ChatCompletionRequestMessage,
    ChatCompletionRequestSystemMessage, ChatCompletionRequestUserMessage,
    ChatCompletionStreamOptions, CreateChatCompletionRequest,
};
use futures::StreamExt;
use ragway_ingest::openai::{EndpointSettings, azure_client, client};
use tokio::time::Instant;

use super::upstream_events::{MAX_EVENTS_TOGETHER, merge_batch};
use super::{AnswerMode, ChatChunk, ChatModel, ChatStream, GenerationOptions};
use crate::config::LlmConfig;
use crate::error::GatewayError;
use crate::ground::{GroundedPrompt, Role};

/// Where requests go: an OpenAI-compatible server or an Azure OpenAI deployment.
#[derive(Debug)]
enum Backend {
    OpenAi(Client<OpenAIConfig>),
    Azure(Client<AzureConfig>),
}

#[derive(Debug)]
pub struct OpenAiChat {
    backend: Backend,
    config: LlmConfig,
}

impl OpenAiChat {
    pub fn new(config: LlmConfig) -> Result<Self, GatewayError> {
        let settings = EndpointSettings {
            base_url: &config.base_url,
            api_key_env: config.api_key_env.as_deref(),
            max_retries: config.max_retries,
            timeout_secs: config.first_token_timeout_secs.min(config.timeout_secs),
            connect_timeout_secs: config.connect_timeout_secs,
        };
        let backend = match &config.api_version {
            Some(version) => Backend::Azure(azure_client(&settings, version, &config.model)?),
            None => Backend::OpenAi(client(&settings)?),
        };
        Ok(Self { backend, config })
    }

    /// A name for logs and errors.
    pub fn name(&self) -> String {
        format!("{} at {}", self.config.model, self.config.base_url)
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
        let started = Instant::now();
        let first_token_by = started + Duration::from_secs(self.config.first_token_timeout_secs);
        let finish_by = started + Duration::from_secs(self.config.timeout_secs);
        let name = self.name();
        let request = self.request(prompt, options);
        let opening = async {
            match &self.backend {
                Backend::OpenAi(client) => client.chat().create_stream(request).await,
                Backend::Azure(client) => client.chat().create_stream(request).await,
            }
        };
        let stream = match tokio::time::timeout_at(first_token_by.min(finish_by), opening).await {
            Ok(Ok(stream)) => stream,
            Ok(Err(e)) => return Err(GatewayError::Llm(format!("{name}: {e}"))),
            Err(_) => {
                return Err(GatewayError::Llm(format!(
                    "{name}: no response within {}s",
                    self.config.first_token_timeout_secs
                )));
            }
        };
        let (ttft, total) = (
            self.config.first_token_timeout_secs,
            self.config.timeout_secs,
        );
        // Every event already arrived, at each read (see `upstream_events`); after the first
        // token, text is held up to `stream_flush_ms` so that what comes close together goes
        // to the caller in one piece (a write and a wake-up each, instead of one per token).
        let window = Duration::from_millis(self.config.stream_flush_ms);
        let mut batches = stream.ready_chunks(MAX_EVENTS_TOGETHER);
        let chunks = async_stream::stream! {
            let mut first_token_seen = false;
            let mut finished = false;
            let mut held = String::new();
            let mut flush_by: Option<Instant> = None;
            // One timer for the whole answer, moved only when its deadline changes: a timer made
            // for every wait is registered anew each time, and one due sooner than the runtime's
            // next wake-up wakes a parked worker (≈ 4 wake-ups a streamed answer, docs/BENCHMARKS.md).
            let timer = tokio::time::sleep_until(first_token_by.min(finish_by));
            tokio::pin!(timer);
            loop {
                let deadline = if first_token_seen { finish_by } else { first_token_by.min(finish_by) };
                let wake = flush_by.map_or(deadline, |at| at.min(deadline));
                // The events first, as `timeout_at` did; the timer is moved (which registers it)
                // only when the answer has to wait for them.
                let mut next_batch = batches.next();
                let next = match futures::poll!(&mut next_batch) {
                    Poll::Ready(next) => Ok(next),
                    Poll::Pending => {
                        if timer.deadline() != wake {
                            timer.as_mut().reset(wake);
                        }
                        tokio::select! {
                            biased;
                            next = next_batch => Ok(next),
                            () = &mut timer => Err(()),
                        }
                    }
                };
                let batch = match next {
                    Ok(Some(batch)) => batch,
                    Ok(None) => {
                        if !held.is_empty() {
                            yield Ok(ChatChunk::Delta(std::mem::take(&mut held)));
                        }
                        if !finished {
                            yield Err(GatewayError::Llm(format!("{name}: the stream ended before the answer finished")));
                        }
                        return;
                    }
                    // Woken before the deadline: the held text is due.
                    Err(_) if flush_by.is_some() && Instant::now() < deadline => {
                        flush_by = None;
                        if !held.is_empty() {
                            yield Ok(ChatChunk::Delta(std::mem::take(&mut held)));
                        }
                        continue;
                    }
                    Err(_) => {
                        if !held.is_empty() {
                            yield Ok(ChatChunk::Delta(std::mem::take(&mut held)));
                        }
                        let why = if first_token_seen {
                            format!("the answer took longer than {total}s")
                        } else {
                            format!("no first token within {ttft}s")
                        };
                        yield Err(GatewayError::Llm(format!("{name}: {why}")));
                        return;
                    }
                };
                for chunk in merge_batch(batch, &name, &mut finished) {
                    match chunk {
                        Ok(ChatChunk::Delta(text)) if first_token_seen && !window.is_zero() => {
                            held.push_str(&text);
                            flush_by.get_or_insert_with(|| Instant::now() + window);
                        }
                        Ok(ChatChunk::Delta(text)) => {
                            first_token_seen = true;
                            yield Ok(ChatChunk::Delta(text));
                        }
                        other => {
                            if !held.is_empty() {
                                flush_by = None;
                                yield Ok(ChatChunk::Delta(std::mem::take(&mut held)));
                            }
                            let failed = other.is_err();
                            yield other;
                            if failed {
                                return;
                            }
                        }
                    }
                }
                if flush_by.is_some_and(|at| Instant::now() >= at) {
                    flush_by = None;
                    if !held.is_empty() {
                        yield Ok(ChatChunk::Delta(std::mem::take(&mut held)));
                    }
                }
            }
        };
        Ok(chunks.boxed())
    }
}
