//! The BERT encoder's forward pass (inference only), with the same weights and the same
//! arithmetic as `candle_transformers::models::bert::BertModel` but fewer passes over memory:
//! one fused query/key/value projection with the 1/√d attention scale folded into the query
//! weights, and the bias + GELU and the padding-masked softmax as vectorised in-place passes
//! ([`super::kernels`]; candle's own run scalar libm `erff`/`expf` per element).

use candle_core::{Module, Result, Tensor};
use candle_nn::{Embedding, LayerNorm, Linear, VarBuilder};
use candle_transformers::models::bert::{Config, HiddenAct};

use super::kernels::{BiasGelu, MaskedSoftmax};

struct Layer {
    /// hidden → 3 × hidden: query (pre-scaled by 1/√head size), key, value.
    qkv: Linear,
    attention_out: Linear,
    attention_norm: LayerNorm,
    up: Linear,
    /// `up`'s bias, added in the GELU pass.
    up_bias: Vec<f32>,
    down: Linear,
    output_norm: LayerNorm,
}

pub struct Encoder {
    words: Embedding,
    /// Position embeddings with token type 0's embedding added (single-segment inputs only).
    positions: Tensor,
    norm: LayerNorm,
    layers: Vec<Layer>,
    heads: usize,
    head_size: usize,
    activation: HiddenAct,
}

fn linear(vb: &VarBuilder, input: usize, output: usize) -> Result<Linear> {
    Ok(Linear::new(
        vb.get((output, input), "weight")?,
        Some(vb.get(output, "bias")?),
    ))
}

fn layer_norm(vb: &VarBuilder, size: usize, eps: f64) -> Result<LayerNorm> {
    Ok(LayerNorm::new(
        vb.get(size, "weight")?,
        vb.get(size, "bias")?,
        eps,
    ))
}

impl Layer {
    fn load(vb: &VarBuilder, config: &Config, head_size: usize) -> Result<Self> {
        let h = config.hidden_size;
        let attention = vb.pp("attention");
        let part = |name: &str| -> Result<(Tensor, Tensor)> {
            let vb = attention.pp("self").pp(name);
            Ok((vb.get((h, h), "weight")?, vb.get(h, "bias")?))
        };
        let scale = 1.0 / (head_size as f64).sqrt();
        let (qw, qb) = part("query")?;
        let (kw, kb) = part("key")?;
        let (vw, vb_) = part("value")?;
        let qkv = Linear::new(
            Tensor::cat(&[(qw * scale)?, kw, vw], 0)?,
            Some(Tensor::cat(&[(qb * scale)?, kb, vb_], 0)?),
        );
        let eps = config.layer_norm_eps;
        let up = linear(
            &vb.pp("intermediate").pp("dense"),
            h,
            config.intermediate_size,
        )?;
        let up_bias = match up.bias() {
            Some(bias) => bias.to_vec1::<f32>()?,
            None => vec![0.0; config.intermediate_size],
        };
        Ok(Self {
            qkv,
            attention_out: linear(&attention.pp("output").pp("dense"), h, h)?,
            attention_norm: layer_norm(&attention.pp("output").pp("LayerNorm"), h, eps)?,
            up,
            up_bias,
            down: linear(&vb.pp("output").pp("dense"), config.intermediate_size, h)?,
            output_norm: layer_norm(&vb.pp("output").pp("LayerNorm"), h, eps)?,
        })
    }
}

impl Encoder {
    pub fn load(vb: VarBuilder, config: &Config) -> Result<Self> {
        // Checkpoints saved from a task model prefix everything with "bert.".
        let vb = if vb.contains_tensor("bert.embeddings.word_embeddings.weight") {
            vb.pp("bert")
        } else {
            vb
        };
        let h = config.hidden_size;
        if config.num_attention_heads == 0 || !h.is_multiple_of(config.num_attention_heads) {
            candle_core::bail!(
                "hidden_size {h} is not a multiple of num_attention_heads {}",
                config.num_attention_heads
            );
        }
        let head_size = h / config.num_attention_heads;
        let embeddings = vb.pp("embeddings");
        let words = Embedding::new(
            embeddings.get((config.vocab_size, h), "word_embeddings.weight")?,
            h,
        );
        let types = embeddings.get((config.type_vocab_size, h), "token_type_embeddings.weight")?;
        let positions = embeddings
            .get(
                (config.max_position_embeddings, h),
                "position_embeddings.weight",
            )?
            .broadcast_add(&types.narrow(0, 0, 1)?)?;
        let norm = layer_norm(&embeddings.pp("LayerNorm"), h, config.layer_norm_eps)?;
        let layers = (0..config.num_hidden_layers)
            .map(|i| Layer::load(&vb.pp(format!("encoder.layer.{i}")), config, head_size))
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            words,
            positions,
            norm,
            layers,
            heads: config.num_attention_heads,
            head_size,
            activation: config.hidden_act,
        })
    }

    /// Token vectors (batch, tokens, hidden) of `ids` (batch, tokens); row `i` holds
    /// `lengths[i]` real tokens, then padding, which no token attends to.
    pub fn forward(&self, ids: &Tensor, lengths: &[usize]) -> Result<Tensor> {
        let (_, tokens) = ids.dims2()?;
        let x = self
            .words
            .forward(ids)?
            .broadcast_add(&self.positions.narrow(0, 0, tokens)?)?;
        let mut x = self.norm.forward(&x)?;
        for layer in &self.layers {
            x = self.layer(layer, &x, lengths)?;
        }
        Ok(x)
    }

    fn layer(&self, layer: &Layer, x: &Tensor, lengths: &[usize]) -> Result<Tensor> {
        let (batch, tokens, hidden) = x.dims3()?;
        let qkv = layer
            .qkv
            .forward(x)?
            .reshape((batch, tokens, 3, self.heads, self.head_size))?
            .permute((2, 0, 3, 1, 4))?
            .contiguous()?;
        let (q, k, v) = (qkv.get(0)?, qkv.get(1)?, qkv.get(2)?);
        let probs = q.matmul(&k.t()?)?;
        probs.inplace_op1(&MaskedSoftmax { lengths })?;
        let context = probs
            .matmul(&v)?
            .transpose(1, 2)?
            .contiguous()?
            .reshape((batch, tokens, hidden))?;
        let x = layer
            .attention_norm
            .forward(&(layer.attention_out.forward(&context)? + x)?)?;
        let up = match self.activation {
            HiddenAct::Gelu => {
                let up = x
                    .reshape((batch * tokens, hidden))?
                    .matmul(&layer.up.weight().t()?)?;
                up.inplace_op1(&BiasGelu {
                    bias: &layer.up_bias,
                })?;
                up.reshape((batch, tokens, ()))?
            }
            HiddenAct::GeluApproximate => layer.up.forward(&x)?.gelu()?,
            HiddenAct::Relu => layer.up.forward(&x)?.relu()?,
        };
        layer.output_norm.forward(&(layer.down.forward(&up)? + x)?)
    }
}
