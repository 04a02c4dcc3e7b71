//! The local embedder as first written (commit 4b75f7e, "today's" figure of issue 17), rebuilt
//! here so that before and after run in the same build on the same machine: candle's own
//! `BertModel`, the tokenizer truncating at 256 word pieces and padding each batch to its longest,
//! batches of 32 texts sorted by bytes, mean pooling and L2 normalisation as tensor ops.

use std::path::Path;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use tokenizers::{PaddingParams, PaddingStrategy, Tokenizer, TruncationParams};

pub struct Baseline {
    bert: BertModel,
    tokenizer: Tokenizer,
}

impl Baseline {
    pub fn load(dir: &Path) -> Self {
        let config: Config =
            serde_json::from_str(&std::fs::read_to_string(dir.join("config.json")).unwrap())
                .unwrap();
        let mut tokenizer = Tokenizer::from_file(dir.join("tokenizer.json")).unwrap();
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: 256,
                ..TruncationParams::default()
            }))
            .unwrap();
        tokenizer.with_padding(Some(PaddingParams {
            strategy: PaddingStrategy::BatchLongest,
            ..PaddingParams::default()
        }));
        let weights = std::fs::read(dir.join("model.safetensors")).unwrap();
        let vars =
            VarBuilder::from_buffered_safetensors(weights, DType::F32, &Device::Cpu).unwrap();
        Self {
            bert: BertModel::load(vars, &config).unwrap(),
            tokenizer,
        }
    }

    /// Unit vectors of `texts`, in batches of `batch` texts of similar byte length.
    pub fn embed(&self, texts: &[String], batch: usize) -> Vec<Vec<f32>> {
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&i| texts[i].len());
        let mut vectors = vec![Vec::new(); texts.len()];
        for ids in order.chunks(batch) {
            let inputs: Vec<&str> = ids.iter().map(|&i| texts[i].as_str()).collect();
            for (&i, v) in ids.iter().zip(self.forward(inputs)) {
                vectors[i] = v;
            }
        }
        vectors
    }

    fn forward(&self, inputs: Vec<&str>) -> Vec<Vec<f32>> {
        let encodings = self.tokenizer.encode_batch(inputs, true).unwrap();
        let rows = |field: fn(&tokenizers::Encoding) -> &[u32]| {
            let rows: Vec<Tensor> = encodings
                .iter()
                .map(|e| Tensor::new(field(e), &Device::Cpu).unwrap())
                .collect();
            Tensor::stack(&rows, 0).unwrap()
        };
        let ids = rows(tokenizers::Encoding::get_ids);
        let types = rows(tokenizers::Encoding::get_type_ids);
        let mask = rows(tokenizers::Encoding::get_attention_mask);
        let hidden = self.bert.forward(&ids, &types, Some(&mask)).unwrap();
        let mask = mask.to_dtype(DType::F32).unwrap().unsqueeze(2).unwrap();
        let summed = hidden.broadcast_mul(&mask).unwrap().sum(1).unwrap();
        let pooled = summed.broadcast_div(&mask.sum(1).unwrap()).unwrap();
        let norms = pooled
            .sqr()
            .unwrap()
            .sum_keepdim(1)
            .unwrap()
            .sqrt()
            .unwrap();
        pooled.broadcast_div(&norms).unwrap().to_vec2().unwrap()
    }
}
