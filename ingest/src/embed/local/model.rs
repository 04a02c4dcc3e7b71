//! The BERT encoder and its tokenizer, loaded from a sentence-transformers model directory.

use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::Config;
use tokenizers::Tokenizer;

use super::MODEL_FILES;
use super::encoder::Encoder;
use super::pooling::masked_sums;
use crate::error::{IngestError, Result};

/// A text's word pieces, without [CLS] and [SEP].
pub type Pieces = Vec<u32>;

pub struct SentenceModel {
    encoder: Encoder,
    tokenizer: Tokenizer,
    dimensions: usize,
    device: Device,
    /// Word pieces a forward pass takes per text, [CLS] and [SEP] included
    /// (sentence-transformers' `max_seq_length`).
    max_tokens: usize,
    cls: u32,
    sep: u32,
    pad: u32,
}

impl std::fmt::Debug for SentenceModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SentenceModel")
            .field("dimensions", &self.dimensions)
            .field("max_tokens", &self.max_tokens)
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
        if max_tokens < 3 {
            return Err(model_err(
                dir,
                format!("max_tokens {max_tokens} leaves no room for a word piece"),
            ));
        }

        // Word pieces only: [CLS]/[SEP], truncation into windows and padding to the batch's
        // longest are done here, per batch (tokenizer.json's own settings pad everything to 128).
        let mut tokenizer = Tokenizer::from_file(file("tokenizer.json")?)
            .map_err(|e| model_err(dir, format!("tokenizer.json: {e}")))?;
        tokenizer
            .with_truncation(None)
            .map_err(|e| model_err(dir, format!("tokenizer truncation: {e}")))?;
        tokenizer.with_padding(None);
        let special = |token: &str| {
            tokenizer
                .token_to_id(token)
                .ok_or_else(|| model_err(dir, format!("tokenizer.json has no {token} token")))
        };
        let (cls, sep) = (special("[CLS]")?, special("[SEP]")?);
        let pad = u32::try_from(config.pad_token_id)
            .map_err(|_| model_err(dir, "pad_token_id out of range"))?;

        let weights_path = file("model.safetensors")?;
        let weights =
            std::fs::read(&weights_path).map_err(|e| IngestError::io(&weights_path, e))?;
        let device = Device::Cpu;
        let vars = VarBuilder::from_buffered_safetensors(weights, DType::F32, &device)
            .map_err(|e| model_err(dir, format!("model.safetensors: {e}")))?;
        let encoder = Encoder::load(vars, &config).map_err(|e| {
            model_err(
                dir,
                format!("model.safetensors does not fit config.json: {e}"),
            )
        })?;
        Ok(Self {
            encoder,
            tokenizer,
            dimensions,
            device,
            max_tokens,
            cls,
            sep,
            pad,
        })
    }

    pub fn dimensions(&self) -> usize {
        self.dimensions
    }

    /// Word pieces one forward pass takes, [CLS] and [SEP] excluded.
    pub fn window(&self) -> usize {
        self.max_tokens - 2
    }

    /// The word pieces of each text (blocking, CPU-bound; parallel over the texts).
    pub fn word_pieces(&self, texts: &[String]) -> Result<Vec<Pieces>> {
        let inputs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let encodings = self
            .tokenizer
            .encode_batch_fast(inputs, false)
            .map_err(embed_err)?;
        Ok(encodings
            .into_iter()
            .map(|e| e.get_ids().to_vec())
            .collect())
    }

    /// One forward pass over `windows` (each at most [`window`](Self::window) word pieces,
    /// longer ones are cut), padded to the longest: per window, the sum of its token vectors
    /// ([CLS] and [SEP] included, padding excluded) — mean pooling before the division, so the
    /// windows of one text pool together ([`mean_of`](super::pooling::mean_of)).
    pub fn forward(&self, windows: &[&[u32]]) -> Result<Vec<Vec<f32>>> {
        let Some(longest) = windows.iter().map(|w| w.len()).max() else {
            return Ok(Vec::new());
        };
        let width = longest.min(self.window()) + 2;
        let rows = windows.len();
        let mut ids = Vec::with_capacity(rows * width);
        let mut mask = Vec::with_capacity(rows * width);
        let mut lengths = Vec::with_capacity(rows);
        for window in windows {
            let pieces = &window[..window.len().min(self.window())];
            ids.push(self.cls);
            ids.extend_from_slice(pieces);
            ids.push(self.sep);
            let real = pieces.len() + 2;
            lengths.push(real);
            ids.resize(ids.len() + width - real, self.pad);
            mask.extend(std::iter::repeat_n(1u32, real));
            mask.extend(std::iter::repeat_n(0u32, width - real));
        }
        let ids = Tensor::from_vec(ids, (rows, width), &self.device).map_err(embed_err)?;
        let mask = Tensor::from_vec(mask, (rows, width), &self.device).map_err(embed_err)?;
        // In candle's own thread pool: its workers stay warm between the many short parallel
        // sections of a forward pass (from outside the pool every matmul wakes them anew).
        self.device
            .with_context(|| {
                let hidden = self.encoder.forward(&ids, &lengths)?;
                masked_sums(&hidden, &mask)?.to_vec2::<f32>()
            })
            .map_err(embed_err)
    }
}
