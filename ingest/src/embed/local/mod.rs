//! A sentence-transformers BERT model (e.g. all-MiniLM-L6-v2) run in process with candle: no
//! document or question text leaves the machine. Mean pooling over the attention mask, then L2
//! normalisation, exactly as sentence-transformers' `Pooling` + `Normalize` modules do.
//!
//! A text longer than the model's maximum sequence (256 word pieces for all-MiniLM-L6-v2, while
//! chunks are up to 512 cl100k tokens, ≈ 600 word pieces) is split into windows that each fit, and
//! its vector is the mean over the tokens of all windows ([`LongTexts`]; docs/BENCHMARKS.md has
//! what truncating instead costs retrieval).
//!
//! The model is CPU-bound and synchronous, so every batch runs on the blocking pool, one batch at a
//! time (candle's matrix multiplications already use every core; two batches at once would only
//! contend for them). Windows are batched by word-piece count, so padding wastes little.

#[cfg(feature = "local-embedder")]
mod embedder;
#[cfg(feature = "local-embedder")]
mod encoder;
#[cfg(feature = "local-embedder")]
mod kernels;
#[cfg(feature = "local-embedder")]
mod model;
#[cfg(feature = "local-embedder")]
mod pooling;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

#[cfg(feature = "local-embedder")]
pub use embedder::LocalEmbedder;
#[cfg(feature = "local-embedder")]
pub use model::SentenceModel;

/// The files a model directory must hold.
pub const MODEL_FILES: [&str; 3] = ["config.json", "tokenizer.json", "model.safetensors"];

/// Where `scripts/fetch-minilm` puts all-MiniLM-L6-v2, relative to the home directory.
pub const DEFAULT_MODEL_DIR: &str = ".cache/ragway/models/all-MiniLM-L6-v2";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocalEmbedderConfig {
    /// Directory with the model's `config.json`, `tokenizer.json` and `model.safetensors`
    /// (default: `~/.cache/ragway/models/all-MiniLM-L6-v2`, where `scripts/fetch-minilm` puts it).
    #[serde(default)]
    pub model_dir: Option<PathBuf>,
    /// Name recorded for the model (default: the directory's name).
    #[serde(default)]
    pub model: Option<String>,
    /// Texts per forward pass.
    #[serde(default = "default_batch_size")]
    pub batch_size: usize,
    /// Longest input of one forward pass in word pieces, [CLS] and [SEP] included
    /// (sentence-transformers' `max_seq_length`); longer texts are handled as `long_texts` says.
    #[serde(default = "default_max_tokens")]
    pub max_tokens: usize,
    /// What a text longer than `max_tokens` becomes (default: windows).
    #[serde(default)]
    pub long_texts: LongTexts,
    /// Languages the model embeds well (default: English only for English-only families such as
    /// all-MiniLM, else all). Hybrid retrieval uses dense vectors only for questions in these.
    #[serde(default)]
    pub languages: Vec<crate::lang::Lang>,
}

/// What the embedder does with a text longer than one forward pass (`max_tokens`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LongTexts {
    /// Cut at `max_tokens` word pieces, as sentence-transformers does: the rest of the text is not
    /// in its vector.
    Truncate,
    /// Split into the fewest windows of at most `max_tokens` word pieces, of near-equal length; the
    /// vector is the mean over every token of every window (for a text that fits, exactly
    /// sentence-transformers' vector). Costs what embedding the whole text costs.
    #[default]
    Windows,
}

fn default_batch_size() -> usize {
    32
}
fn default_max_tokens() -> usize {
    256
}

impl Default for LocalEmbedderConfig {
    /// The default model directory (see [`LocalEmbedderConfig::resolved_model_dir`]).
    fn default() -> Self {
        Self {
            model_dir: None,
            model: None,
            batch_size: default_batch_size(),
            max_tokens: default_max_tokens(),
            long_texts: LongTexts::default(),
            languages: Vec::new(),
        }
    }
}

impl LocalEmbedderConfig {
    /// The model directory: the configured one, else the default under `$HOME`.
    pub fn resolved_model_dir(&self) -> PathBuf {
        match &self.model_dir {
            Some(dir) => dir.clone(),
            None => std::env::var_os("HOME")
                .map(PathBuf::from)
                .unwrap_or_default()
                .join(DEFAULT_MODEL_DIR),
        }
    }

    pub fn new(model_dir: impl Into<PathBuf>) -> Self {
        Self {
            model_dir: Some(model_dir.into()),
            ..Self::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_model_directory_is_needed() {
        let config: LocalEmbedderConfig =
            serde_json::from_value(serde_json::json!({"model_dir": "/models/minilm"})).unwrap();
        assert_eq!(config, LocalEmbedderConfig::new("/models/minilm"));
        let defaulted: LocalEmbedderConfig = serde_json::from_value(serde_json::json!({})).unwrap();
        assert!(defaulted.resolved_model_dir().ends_with(DEFAULT_MODEL_DIR));
    }
}
