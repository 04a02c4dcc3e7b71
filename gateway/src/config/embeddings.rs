//! `[embeddings]`: which dense embedder, if any. `provider = "openai"` (the default, any
//! OpenAI-compatible endpoint) or `provider = "local"` (a sentence-transformers model run in
//! process; needs the `local-embedder` build feature, on by default).

use std::sync::Arc;

use ragway_ingest::embed::{Embedder, LocalEmbedderConfig, OpenAiEmbedder, OpenAiEmbedderConfig};
use serde::de::Error as _;
use serde::{Deserialize, Deserializer};

use crate::error::GatewayError;

#[derive(Debug, Clone, PartialEq)]
pub enum EmbeddingsConfig {
    OpenAi(OpenAiEmbedderConfig),
    Local(LocalEmbedderConfig),
}

impl From<OpenAiEmbedderConfig> for EmbeddingsConfig {
    fn from(config: OpenAiEmbedderConfig) -> Self {
        Self::OpenAi(config)
    }
}

impl From<LocalEmbedderConfig> for EmbeddingsConfig {
    fn from(config: LocalEmbedderConfig) -> Self {
        Self::Local(config)
    }
}

// By hand rather than a tagged enum: `provider` may be omitted (configurations written before the
// local model existed), and each provider's own keys stay strictly checked.
impl<'de> Deserialize<'de> for EmbeddingsConfig {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut table = toml::Table::deserialize(deserializer)?;
        let provider = match table.remove("provider") {
            None => "openai".to_owned(),
            Some(toml::Value::String(provider)) => provider,
            Some(other) => {
                return Err(D::Error::custom(format!(
                    "embeddings.provider must be a string, not {other}"
                )));
            }
        };
        let section = toml::Value::Table(table);
        match provider.as_str() {
            "openai" => section.try_into().map(Self::OpenAi),
            "local" => section.try_into().map(Self::Local),
            other => {
                return Err(D::Error::custom(format!(
                    "unknown embeddings.provider {other:?}: expected \"openai\" or \"local\""
                )));
            }
        }
        .map_err(|e| D::Error::custom(format!("[embeddings] ({provider}): {e}")))
    }
}

impl EmbeddingsConfig {
    /// Builds the embedder (loading a local model reads its weights: done on the blocking pool).
    pub async fn embedder(&self) -> Result<Arc<dyn Embedder>, GatewayError> {
        match self {
            Self::OpenAi(settings) => Ok(Arc::new(OpenAiEmbedder::new(settings.clone())?)),
            Self::Local(settings) => local(settings).await,
        }
    }
}

#[cfg(feature = "local-embedder")]
async fn local(settings: &LocalEmbedderConfig) -> Result<Arc<dyn Embedder>, GatewayError> {
    let embedder = ragway_ingest::embed::LocalEmbedder::open(settings.clone()).await?;
    Ok(Arc::new(embedder))
}

#[cfg(not(feature = "local-embedder"))]
async fn local(_: &LocalEmbedderConfig) -> Result<Arc<dyn Embedder>, GatewayError> {
    Err(GatewayError::Config(
        "embeddings.provider = \"local\" needs a ragway built with the `local-embedder` feature"
            .into(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<EmbeddingsConfig, toml::de::Error> {
        toml::from_str(text)
    }

    #[test]
    fn provider_defaults_to_openai_and_selects_local() {
        let openai = parse("base_url = \"http://x/v1\"\nmodel = \"m\"\ndimensions = 8\n").unwrap();
        assert!(matches!(openai, EmbeddingsConfig::OpenAi(ref c) if c.dimensions == 8));
        let local = parse("provider = \"local\"\nmodel_dir = \"/m\"\nbatch_size = 8\n").unwrap();
        let EmbeddingsConfig::Local(local) = local else {
            panic!("expected the local provider");
        };
        assert_eq!(local.batch_size, 8);
        assert_eq!(local.resolved_model_dir(), std::path::PathBuf::from("/m"));
    }

    #[test]
    fn unknown_providers_and_keys_are_named() {
        let err = parse("provider = \"cohere\"\n").unwrap_err().to_string();
        assert!(err.contains("cohere"), "{err}");
        let err = parse("provider = \"local\"\nbase_url = \"x\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("base_url"), "{err}");
    }
}
