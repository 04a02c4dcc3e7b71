//! Vectors for chunks and queries: dense through an [`Embedder`], sparse BM25 always.

mod bm25;
pub mod local;
mod openai;

pub use bm25::{Bm25Config, Bm25Encoder};
#[cfg(feature = "local-embedder")]
pub use local::LocalEmbedder;
pub use local::LocalEmbedderConfig;
pub use openai::{OpenAiEmbedder, OpenAiEmbedderConfig};

use crate::error::Result;

/// A dense embedding model. Vectors are compared by cosine similarity.
#[async_trait::async_trait]
pub trait Embedder: Send + Sync + std::fmt::Debug {
    /// Name of the model (part of the index's identity).
    fn model(&self) -> &str;
    fn dimensions(&self) -> usize;
    /// Embeds `texts` in order; any batching and concurrency is the embedder's business.
    async fn embed(&self, texts: Vec<String>) -> Result<Vec<Vec<f32>>>;
}
