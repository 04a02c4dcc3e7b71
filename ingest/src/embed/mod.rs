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
use crate::lang::Lang;

/// A dense embedding model. Vectors are compared by cosine similarity.
#[async_trait::async_trait]
pub trait Embedder: Send + Sync + std::fmt::Debug {
    /// Name of the model (part of the index's identity).
    fn model(&self) -> &str;
    fn dimensions(&self) -> usize;
    /// Embeds `texts` in order; any batching and concurrency is the embedder's business.
    async fn embed(&self, texts: Vec<String>) -> Result<Vec<Vec<f32>>>;
    /// Whether the model places text of `lang` meaningfully. Hybrid retrieval fuses the dense
    /// ranking only for questions in a language the model speaks: an English-only model's ranking
    /// of a Spanish question is noise that drags BM25 down (measured in docs/BENCHMARKS.md).
    fn speaks(&self, lang: Lang) -> bool {
        let _ = lang;
        true
    }
}

/// Model families trained on English text only.
pub fn english_only_model(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    !name.contains("multilingual")
        && [
            "all-minilm",
            "all-mpnet",
            "msmarco",
            "bge-small-en",
            "bge-base-en",
            "-en-v",
        ]
        .iter()
        .any(|family| name.contains(family))
}

/// Whether a model speaks `lang`: the configured `languages`, else every language unless the
/// model is of an English-only family.
pub fn model_speaks(configured: &[Lang], model: &str, lang: Lang) -> bool {
    if configured.is_empty() {
        lang == Lang::En || !english_only_model(model)
    } else {
        configured.contains(&lang)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn english_only_families_speak_english_only_unless_configured() {
        assert!(model_speaks(&[], "all-MiniLM-L6-v2", Lang::En));
        assert!(!model_speaks(&[], "all-MiniLM-L6-v2", Lang::Es));
        assert!(model_speaks(
            &[],
            "paraphrase-multilingual-MiniLM-L12-v2",
            Lang::Es
        ));
        assert!(model_speaks(&[], "text-embedding-3-small", Lang::Es));
        assert!(!model_speaks(&[Lang::En], "nomic-embed-text", Lang::Es));
        assert!(model_speaks(&[Lang::Es], "all-MiniLM-L6-v2", Lang::Es));
    }
}
