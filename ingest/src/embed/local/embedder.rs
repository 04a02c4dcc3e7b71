//! [`LocalEmbedder`]: the [`Embedder`] over a [`SentenceModel`].

use std::sync::Arc;

use tokio::sync::Semaphore;

use super::LocalEmbedderConfig;
use super::model::SentenceModel;
use crate::embed::Embedder;
use crate::error::{IngestError, Result};

#[derive(Debug)]
pub struct LocalEmbedder {
    model: Arc<SentenceModel>,
    name: String,
    languages: Vec<crate::lang::Lang>,
    batch_size: usize,
    /// One forward pass at a time (see the module comment).
    running: Semaphore,
}

impl LocalEmbedder {
    /// Loads the model (reads ~90 MB for MiniLM; call it once at start-up, off the async runtime).
    pub fn load(config: &LocalEmbedderConfig) -> Result<Self> {
        if config.batch_size == 0 || config.max_tokens == 0 {
            return Err(IngestError::Config(
                "embeddings.batch_size and max_tokens must be positive".into(),
            ));
        }
        let dir = config.resolved_model_dir();
        let model = SentenceModel::load(&dir, config.max_tokens)?;
        let name = config.model.clone().unwrap_or_else(|| {
            dir.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "local".into())
        });
        Ok(Self {
            model: Arc::new(model),
            name,
            languages: config.languages.clone(),
            batch_size: config.batch_size,
            running: Semaphore::new(1),
        })
    }

    /// [`load`](Self::load) on the blocking pool.
    pub async fn open(config: LocalEmbedderConfig) -> Result<Self> {
        tokio::task::spawn_blocking(move || Self::load(&config)).await?
    }
}

#[async_trait::async_trait]
impl Embedder for LocalEmbedder {
    fn model(&self) -> &str {
        &self.name
    }

    fn speaks(&self, lang: crate::lang::Lang) -> bool {
        crate::embed::model_speaks(&self.languages, &self.name, lang)
    }

    fn dimensions(&self) -> usize {
        self.model.dimensions()
    }

    async fn embed(&self, texts: Vec<String>) -> Result<Vec<Vec<f32>>> {
        // Batch texts of similar length together: padding to the longest in a batch is wasted work.
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&i| texts[i].len());
        let mut vectors: Vec<Vec<f32>> = vec![Vec::new(); texts.len()];
        let texts = Arc::new(texts);
        for batch in order.chunks(self.batch_size) {
            let _permit = self
                .running
                .acquire()
                .await
                .map_err(|_| IngestError::Embedding("the local embedder is closed".into()))?;
            let model = Arc::clone(&self.model);
            let inputs: Vec<String> = batch.iter().map(|&i| texts[i].clone()).collect();
            let embedded = tokio::task::spawn_blocking(move || model.embed(&inputs)).await??;
            for (&i, vector) in batch.iter().zip(embedded) {
                vectors[i] = vector;
            }
        }
        Ok(vectors)
    }
}
