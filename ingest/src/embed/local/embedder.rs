//! [`LocalEmbedder`]: the [`Embedder`] over a [`SentenceModel`].

use std::ops::Range;
use std::sync::Arc;

use tokio::sync::Semaphore;

use super::model::{Pieces, SentenceModel};
use super::pooling::mean_of;
use super::{LocalEmbedderConfig, LongTexts};
use crate::embed::Embedder;
use crate::error::{IngestError, Result};

#[derive(Debug)]
pub struct LocalEmbedder {
    model: Arc<SentenceModel>,
    name: String,
    languages: Vec<crate::lang::Lang>,
    batch_size: usize,
    long_texts: LongTexts,
    /// One forward pass at a time (see the module comment).
    running: Semaphore,
}

/// The texts of one [`Embedder::embed`] call cut into windows of at most one forward pass.
#[derive(Debug, Default)]
struct Windows {
    /// Each text's word pieces.
    pieces: Vec<Pieces>,
    /// (text, range of its pieces), a text's windows next to each other.
    windows: Vec<(usize, Range<usize>)>,
    /// Each text's windows: a range of `windows`.
    of_text: Vec<Range<usize>>,
}

impl Windows {
    /// `window` word pieces at most per window; a longer text is cut there ([`LongTexts::Truncate`])
    /// or split into the fewest windows that hold it, of near-equal length ([`LongTexts::Windows`],
    /// so that no window is a short remainder with little context).
    fn new(pieces: Vec<Pieces>, window: usize, long_texts: LongTexts) -> Self {
        let mut windows = Vec::with_capacity(pieces.len());
        let mut of_text = Vec::with_capacity(pieces.len());
        for (text, p) in pieces.iter().enumerate() {
            let first = windows.len();
            let n = p.len();
            let parts = match long_texts {
                LongTexts::Truncate => 1,
                LongTexts::Windows => n.div_ceil(window).max(1),
            };
            let (base, extra) = (n / parts, n % parts);
            let mut start = 0;
            for part in 0..parts {
                let len = (base + usize::from(part < extra)).min(window);
                windows.push((text, start..start + len));
                start += len;
            }
            of_text.push(first..windows.len());
        }
        Self {
            pieces,
            windows,
            of_text,
        }
    }

    fn slice(&self, window: usize) -> &[u32] {
        let (text, range) = &self.windows[window];
        &self.pieces[*text][range.clone()]
    }
}

/// Word pieces (padding included) one forward pass holds at most, unless a single window is
/// longer. Small passes are faster on a CPU: every tensor of a pass stays in the cache and below
/// the allocator's threshold for fresh pages (with 32 × 256 tokens each op of a pass got new
/// zeroed pages from the kernel: 25 % more CPU time in the profile, see docs/BENCHMARKS.md).
const TOKENS_PER_PASS: usize = 1024;

/// `order` (windows sorted by length, ascending) cut into forward passes of at most `batch_size`
/// windows and [`TOKENS_PER_PASS`] padded word pieces.
fn batches(order: &[usize], len: impl Fn(usize) -> usize, batch_size: usize) -> Vec<&[usize]> {
    let mut batches = Vec::new();
    let mut start = 0;
    while start < order.len() {
        let mut end = start + 1;
        // Sorted ascending, so the last window of a pass is its longest.
        while end < order.len()
            && end - start < batch_size
            && (end + 1 - start) * (len(order[end]) + 2) <= TOKENS_PER_PASS
        {
            end += 1;
        }
        batches.push(&order[start..end]);
        start = end;
    }
    batches
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
            long_texts: config.long_texts,
            running: Semaphore::new(1),
        })
    }

    /// [`load`](Self::load) on the blocking pool.
    pub async fn open(config: LocalEmbedderConfig) -> Result<Self> {
        tokio::task::spawn_blocking(move || Self::load(&config)).await?
    }

    /// How many word pieces each text has ([CLS] and [SEP] not counted): above
    /// `max_tokens - 2`, a text is cut or split (see [`LongTexts`]).
    pub async fn word_pieces(&self, texts: Vec<String>) -> Result<Vec<usize>> {
        let model = Arc::clone(&self.model);
        let pieces = tokio::task::spawn_blocking(move || model.word_pieces(&texts)).await??;
        Ok(pieces.iter().map(Vec::len).collect())
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
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let model = Arc::clone(&self.model);
        let long_texts = self.long_texts;
        let windows = tokio::task::spawn_blocking(move || {
            let window = model.window();
            model
                .word_pieces(&texts)
                .map(|pieces| Windows::new(pieces, window, long_texts))
        })
        .await??;
        // Windows of similar length batch together, so padding to a batch's longest wastes
        // little (sorted by word pieces, not by bytes: that is what a forward pass costs).
        let mut order: Vec<usize> = (0..windows.windows.len()).collect();
        order.sort_by_key(|&w| windows.windows[w].1.len());
        let batches = batches(&order, |w| windows.windows[w].1.len(), self.batch_size);
        let windows = Arc::new(windows);
        let mut sums: Vec<Vec<f32>> = vec![Vec::new(); order.len()];
        for batch in batches {
            let _permit = self
                .running
                .acquire()
                .await
                .map_err(|_| IngestError::Embedding("the local embedder is closed".into()))?;
            let model = Arc::clone(&self.model);
            let all = Arc::clone(&windows);
            let ids = batch.to_vec();
            let pooled = tokio::task::spawn_blocking(move || {
                let slices: Vec<&[u32]> = ids.iter().map(|&w| all.slice(w)).collect();
                model.forward(&slices)
            })
            .await??;
            for (&w, sum) in batch.iter().zip(pooled) {
                sums[w] = sum;
            }
        }
        let dimensions = self.model.dimensions();
        Ok(windows
            .of_text
            .iter()
            .map(|range| mean_of(sums[range.clone()].iter().map(Vec::as_slice), dimensions))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ranges(w: &Windows) -> Vec<(usize, Range<usize>)> {
        w.windows.clone()
    }

    #[test]
    fn passes_hold_at_most_batch_size_windows_and_the_token_budget() {
        let order: Vec<usize> = (0..10).collect();
        let short = batches(&order, |_| 10, 4);
        assert_eq!(short.iter().map(|b| b.len()).collect::<Vec<_>>(), [4, 4, 2]);
        // 254 pieces + [CLS] + [SEP]: four per pass fit 1,024 tokens.
        let long = batches(&order, |_| 254, 32);
        assert_eq!(long.iter().map(|b| b.len()).collect::<Vec<_>>(), [4, 4, 2]);
        let huge = batches(&order[..2], |_| 2000, 32);
        assert_eq!(huge.len(), 2);
    }

    #[test]
    fn long_texts_split_into_near_equal_windows_or_are_cut() {
        let pieces = vec![vec![7; 3], vec![7; 10], Vec::new()];
        let split = Windows::new(pieces.clone(), 4, LongTexts::Windows);
        assert_eq!(
            ranges(&split),
            vec![(0, 0..3), (1, 0..4), (1, 4..7), (1, 7..10), (2, 0..0)]
        );
        assert_eq!(split.of_text, vec![0..1, 1..4, 4..5]);
        let cut = Windows::new(pieces, 4, LongTexts::Truncate);
        assert_eq!(ranges(&cut), vec![(0, 0..3), (1, 0..4), (2, 0..0)]);
        assert_eq!(cut.of_text, vec![0..1, 1..2, 2..3]);
        // 9 pieces in windows of 4: 3 + 3 + 3, not 4 + 4 + 1.
        let even = Windows::new(vec![vec![1; 9]], 4, LongTexts::Windows);
        assert_eq!(ranges(&even), vec![(0, 0..3), (0, 3..6), (0, 6..9)]);
    }
}
