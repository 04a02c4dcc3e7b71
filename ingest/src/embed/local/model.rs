//! The BERT encoder and its tokenizer, loaded from a sentence-transformers model directory.

use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use tokenizers::{PaddingParams, PaddingStrategy, Tokenizer, TruncationParams};

use super::MODEL_FILES;
use super::pooling::{l2_normalize, mean_pool};
use crate::error::{IngestError, Result};

pub struct SentenceModel {
    bert: BertModel,
    tokenizer: Tokenizer,
    dimensions: usize,
    device: Device,
}

impl std::fmt::Debug for SentenceModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SentenceModel")
            .field("dimensions", &self.dimensions)
            .finish_non_exhaustive()
    }
}

fn model_err(dir: &Path, what: impl std::fmt::Display) -> IngestError {
    IngestError::Config(format!(
        "local embedding model in {}: {what}",
        dir.display()
    ))
}

fn embed_err(err: impl std::fmt::Display) -> IngestError {
    IngestError::Embedding(format!("local model: {err}"))
}

impl SentenceModel {
    pub fn load(dir: &Path, max_tokens: usize) -> Result<Self> {
        let file = |name: &str| -> Result<PathBuf> {
            let path = dir.join(name);
            if path.is_file() {
                Ok(path)
            } else {
                Err(model_err(
                    dir,
                    format!(
                        "{name} is missing (a model directory holds {}; scripts/fetch-minilm fetches all-MiniLM-L6-v2)",
                        MODEL_FILES.join(", ")
                    ),
                ))
            }
        };
        let config_path = file("config.json")?;
        let config_text =
            std::fs::read_to_string(&config_path).map_err(|e| IngestError::io(&config_path, e))?;
        let config: Config = serde_json::from_str(&config_text)
            .map_err(|e| model_err(dir, format!("config.json is not a BERT config: {e}")))?;
        let dimensions = config.hidden_size;
        if max_tokens > config.max_position_embeddings {
            return Err(model_err(
                dir,
                format!(
                    "max_tokens {max_tokens} exceeds the model's {} positions",
                    config.max_position_embeddings
                ),
            ));
        }

        let mut tokenizer = Tokenizer::from_file(file("tokenizer.json")?)
            .map_err(|e| model_err(dir, format!("tokenizer.json: {e}")))?;
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: max_tokens,
                ..TruncationParams::default()
            }))
            .map_err(|e| model_err(dir, format!("tokenizer truncation: {e}")))?;
        tokenizer.with_padding(Some(PaddingParams {
            strategy: PaddingStrategy::BatchLongest,
            ..PaddingParams::default()
        }));

        let weights_path = file("model.safetensors")?;
        let weights =
            std::fs::read(&weights_path).map_err(|e| IngestError::io(&weights_path, e))?;
        let device = Device::Cpu;
        let vars = VarBuilder::from_buffered_safetensors(weights, DType::F32, &device)
            .map_err(|e| model_err(dir, format!("model.safetensors: {e}")))?;
        let bert = BertModel::load(vars, &config).map_err(|e| {
            model_err(
                dir,
                format!("model.safetensors does not fit config.json: {e}"),
            )
        })?;
        Ok(Self {
            bert,
            tokenizer,
            dimensions,
            device,
        })
    }

    pub fn dimensions(&self) -> usize {
        self.dimensions
    }

    /// Unit-length sentence vectors of `texts` (one forward pass; blocking, CPU-bound).
    pub fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let inputs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let encodings = self
            .tokenizer
            .encode_batch(inputs, true)
            .map_err(embed_err)?;
        let rows = |field: fn(&tokenizers::Encoding) -> &[u32]| -> Result<Tensor> {
            let rows = encodings
                .iter()
                .map(|e| Tensor::new(field(e), &self.device))
                .collect::<candle_core::Result<Vec<_>>>()
                .map_err(embed_err)?;
            Tensor::stack(&rows, 0).map_err(embed_err)
        };
        let ids = rows(tokenizers::Encoding::get_ids)?;
        let type_ids = rows(tokenizers::Encoding::get_type_ids)?;
        let mask = rows(tokenizers::Encoding::get_attention_mask)?;
        let hidden = self
            .bert
            .forward(&ids, &type_ids, Some(&mask))
            .map_err(embed_err)?;
        let pooled = mean_pool(&hidden, &mask).map_err(embed_err)?;
        l2_normalize(&pooled)
            .and_then(|v| v.to_vec2::<f32>())
            .map_err(embed_err)
    }
}
