//! Dense embeddings from any OpenAI-compatible `/v1/embeddings` endpoint.

use async_openai::Client;
use async_openai::config::OpenAIConfig;
use async_openai::types::embeddings::{CreateEmbeddingRequest, EmbeddingInput};
use futures::{StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};

use super::Embedder;
use crate::error::{IngestError, Result};
use crate::openai::{EndpointSettings, client};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpenAiEmbedderConfig {
    pub base_url: String,
    pub model: String,
    /// Vector size the model returns (the index is created with it).
    pub dimensions: usize,
    #[serde(default = "default_api_key_env")]
    pub api_key_env: Option<String>,
    /// Send `dimensions` in the request (OpenAI text-embedding-3 can shorten vectors; most servers reject it).
    #[serde(default)]
    pub send_dimensions: bool,
    #[serde(default = "default_batch_size")]
    pub batch_size: usize,
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
    #[serde(default = "default_max_retries")]
    pub max_retries: usize,
    #[serde(default = "default_timeout_secs")]
    pub timeout_secs: u64,
    /// Languages the model embeds well (default: all; text-embedding-3 is multilingual). Hybrid
    /// retrieval uses dense vectors only for questions in these.
    #[serde(default)]
    pub languages: Vec<crate::lang::Lang>,
}

fn default_api_key_env() -> Option<String> {
    Some("OPENAI_API_KEY".into())
}
fn default_batch_size() -> usize {
    64
}
fn default_concurrency() -> usize {
    4
}
fn default_max_retries() -> usize {
    5
}
fn default_timeout_secs() -> u64 {
    60
}

#[derive(Debug)]
pub struct OpenAiEmbedder {
    client: Client<OpenAIConfig>,
    config: OpenAiEmbedderConfig,
}

impl OpenAiEmbedder {
    pub fn new(config: OpenAiEmbedderConfig) -> Result<Self> {
        if config.dimensions == 0 || config.batch_size == 0 || config.concurrency == 0 {
            return Err(IngestError::Config(
                "embeddings.dimensions, batch_size and concurrency must be positive".into(),
            ));
        }
        let client = client(&EndpointSettings {
            base_url: &config.base_url,
            api_key_env: config.api_key_env.as_deref(),
            max_retries: config.max_retries,
            timeout_secs: config.timeout_secs,
            connect_timeout_secs: 10,
        })?;
        Ok(Self { client, config })
    }

    async fn embed_batch(&self, texts: Vec<String>) -> Result<Vec<Vec<f32>>> {
        let expected = texts.len();
        let request = CreateEmbeddingRequest {
            model: self.config.model.clone(),
            input: EmbeddingInput::StringArray(texts),
            dimensions: self
                .config
                .send_dimensions
                .then(|| u32::try_from(self.config.dimensions).unwrap_or(u32::MAX)),
            ..CreateEmbeddingRequest::default()
        };
        let response = self
            .client
            .embeddings()
            .create(request)
            .await
            .map_err(|e| {
                IngestError::Embedding(format!(
                    "{} (model {}) failed after up to {} retries: {e}",
                    self.config.base_url, self.config.model, self.config.max_retries
                ))
            })?;
        let mut data = response.data;
        if data.len() != expected {
            return Err(IngestError::Embedding(format!(
                "asked for {expected} embeddings, got {}",
                data.len()
            )));
        }
        data.sort_by_key(|e| e.index);
        let vectors: Vec<Vec<f32>> = data.into_iter().map(|e| e.embedding).collect();
        if let Some(bad) = vectors.iter().find(|v| v.len() != self.config.dimensions) {
            return Err(IngestError::Embedding(format!(
                "model {} returned {}-dimensional vectors, config says {}",
                self.config.model,
                bad.len(),
                self.config.dimensions
            )));
        }
        Ok(vectors)
    }
}

#[async_trait::async_trait]
impl Embedder for OpenAiEmbedder {
    fn model(&self) -> &str {
        &self.config.model
    }

    fn speaks(&self, lang: crate::lang::Lang) -> bool {
        super::model_speaks(&self.config.languages, &self.config.model, lang)
    }

    fn dimensions(&self) -> usize {
        self.config.dimensions
    }

    async fn embed(&self, texts: Vec<String>) -> Result<Vec<Vec<f32>>> {
        let batches: Vec<Vec<String>> = texts
            .chunks(self.config.batch_size)
            .map(<[String]>::to_vec)
            .collect();
        let results: Vec<Vec<Vec<f32>>> = futures::stream::iter(batches)
            .map(|batch| self.embed_batch(batch))
            .buffered(self.config.concurrency)
            .try_collect()
            .await?;
        Ok(results.into_iter().flatten().collect())
    }
}
