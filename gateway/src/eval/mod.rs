//! `ragway eval`: retrieval quality on a BEIR-layout dataset. The corpus is synced into a scratch
//! tenant through the normal ingest pipeline (reused while the corpus and the indexing settings are
//! unchanged), then every query runs through [`Retriever::search`] — the gateway's own retrieval
//! code — in each mode, and the rankings are scored against the judgements.

pub mod answers;
mod corpus;
pub mod dataset;
pub mod metrics;

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use prometheus_client::metrics::counter::Counter;
use ragway_catalog::Catalog;
use ragway_catalog::default_url;
use ragway_ingest::SyncReport;
use ragway_ingest::chunk::Chunker;
use ragway_ingest::embed::{Bm25Encoder, Embedder};
use ragway_ingest::lang::{Lang, detect_or};
use ragway_ingest::source::FolderSourceConfig;
use ragway_ingest::store::SearchMode;
use ragway_ingest::sync::{Indexer, Progress};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::config::CacheConfig;
use crate::config::{Config, IndexBackend, RetrievalConfig};
use crate::error::GatewayError;
use crate::ground::Prompts;
use crate::metrics::Metrics;
use crate::retrieve::Retriever;
pub use answers::AnswerCheck;
pub use dataset::{Dataset, Languages};
pub use metrics::Scores;

/// Documents each query's ranking is cut at (Recall@100 needs 100).
pub const DEPTH: usize = 100;

#[derive(Debug, Clone)]
pub struct EvalOptions {
    pub split: String,
    pub modes: Vec<SearchMode>,
    /// Where the scratch indexes live (one per embedder).
    pub work_dir: PathBuf,
}

/// Figures of one retrieval mode.
#[derive(Debug, Clone, Serialize)]
pub struct ModeReport {
    pub mode: SearchMode,
    #[serde(flatten)]
    pub scores: Scores,
    pub queries_per_sec: f64,
    pub latency_p50_ms: f64,
    pub latency_p99_ms: f64,
    /// Extractive answers containing the gold span (datasets with answers only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extractive: Option<AnswerCheck>,
}

#[derive(Debug, Clone, Serialize)]
pub struct EvalReport {
    pub dataset: String,
    pub split: String,
    pub documents: usize,
    pub queries: usize,
    pub chunks: usize,
    pub tenant: String,
    /// The dense model, if any.
    pub embedder: Option<String>,
    pub chunking: ragway_ingest::chunk::ChunkerConfig,
    pub bm25: ragway_ingest::embed::Bm25Config,
    pub retrieval: RetrievalSettings,
    pub ingest: SyncReport,
    pub ingest_secs: f64,
    pub modes: Vec<ModeReport>,
    /// The queries' language and the corpus languages (multilingual datasets).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub query_lang: Option<Lang>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub corpus_langs: Vec<Lang>,
    /// What the figures cannot show (e.g. an English-only embedder on Spanish text).
    pub notes: Vec<Note>,
}

/// What the figures cannot show, said in either language (the JSON report carries English).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Note {
    /// An English-only dense model measured on Spanish or cross-lingual text.
    EnglishOnlyModel { model: String },
    /// Cross-lingual questions measured without a dense model.
    CrossLingualWithoutDense,
}

impl Note {
    pub fn text(&self, lang: Lang) -> String {
        let m = crate::i18n::messages(lang);
        match self {
            Self::EnglishOnlyModel { model } => {
                crate::i18n::fill(m.eval_note_english_only, &[("model", model)])
            }
            Self::CrossLingualWithoutDense => m.eval_note_cross_lingual.to_owned(),
        }
    }
}

impl Serialize for Note {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text(Lang::En))
    }
}

fn notes(dataset: &Dataset, embedder: Option<&dyn Embedder>) -> Vec<Note> {
    let mut notes = Vec::new();
    let spanish = dataset.query_lang == Some(Lang::Es) || dataset.corpus_langs.contains(&Lang::Es);
    if let Some(embedder) = embedder
        && spanish
        && !embedder.speaks(Lang::Es)
    {
        notes.push(Note::EnglishOnlyModel {
            model: embedder.model().to_owned(),
        });
    }
    let cross = match dataset.query_lang {
        Some(q) => !dataset.corpus_langs.is_empty() && !dataset.corpus_langs.contains(&q),
        None => false,
    };
    if cross && embedder.is_none() {
        notes.push(Note::CrossLingualWithoutDense);
    }
    notes
}

/// The retrieval settings the figures were measured with.
#[derive(Debug, Clone, Serialize)]
pub struct RetrievalSettings {
    pub candidates: usize,
    pub rrf_k: usize,
    pub bm25_weight: f32,
    pub dense_weight: f32,
    pub min_bm25_score: f32,
    pub min_dense_score: f32,
    pub hnsw_ef: Option<usize>,
}

impl From<&RetrievalConfig> for RetrievalSettings {
    fn from(c: &RetrievalConfig) -> Self {
        Self {
            candidates: c.candidates,
            rrf_k: c.rrf_k,
            bm25_weight: c.bm25_weight,
            dense_weight: c.dense_weight,
            min_bm25_score: c.min_bm25_score,
            min_dense_score: c.min_dense_score,
            hnsw_ef: c.hnsw_ef,
        }
    }
}

/// Called after each query: mode, queries done, queries in all.
pub type QueryProgress<'a> = &'a (dyn Fn(SearchMode, usize, usize) + Send + Sync);

/// Everything the indexing depends on: a change gives a new scratch tenant (so the sweep never
/// measures chunks made with other settings), no change reuses the one synced before.
fn fingerprint(dataset: &Dataset, config: &Config, embedder: Option<&dyn Embedder>) -> String {
    let mut hash = Sha256::new();
    for part in [
        format!("{:?}", config.chunking),
        format!("{:?}", config.bm25),
        embedder.map_or_else(String::new, |e| format!("{}:{}", e.model(), e.dimensions())),
        dataset.corpus.len().to_string(),
    ] {
        hash.update(part.as_bytes());
        hash.update([0]);
    }
    hex::encode(&hash.finalize()[..5])
}

fn tenant_id(dataset: &Dataset, fingerprint: &str) -> String {
    let name: String = dataset
        .name
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .take(40)
        .collect();
    format!("eval-{name}-{fingerprint}")
}

/// Runs the evaluation. `embedder` None: BM25 only.
pub async fn run(
    config: &Config,
    dataset: Dataset,
    embedder: Option<Arc<dyn Embedder>>,
    options: &EvalOptions,
    sync_progress: Progress<'_>,
    query_progress: QueryProgress<'_>,
) -> Result<EvalReport, GatewayError> {
    for mode in &options.modes {
        if *mode != SearchMode::Bm25 && embedder.is_none() {
            return Err(GatewayError::Config(format!(
                "mode {} needs a dense embedder: configure [embeddings] or pass --local-model",
                mode.name()
            )));
        }
    }
    // Per backend too: the work directory's catalog records what its index holds.
    let index_name = embedder.as_ref().map_or_else(
        || "bm25-only".to_owned(),
        |e| format!("{}-{}", e.model(), e.dimensions()),
    );
    let index_name = match config.index.backend {
        IndexBackend::Edge => index_name,
        IndexBackend::Qdrant => format!("qdrant-{}-{index_name}", config.index.collection),
    };
    let dir = options.work_dir.join(index_name);
    std::fs::create_dir_all(&dir)
        .map_err(|e| GatewayError::Config(format!("cannot create {}: {e}", dir.display())))?;
    let fingerprint = fingerprint(&dataset, config, embedder.as_deref());
    let tenant = tenant_id(&dataset, &fingerprint);

    let catalog = Catalog::connect(&default_url(&dir)).await?;
    catalog.ensure_tenant(&tenant).await?;
    let store = config
        .index
        .open(
            &dir.join("index"),
            embedder.as_ref().map(|e| e.dimensions()),
        )
        .await?;
    let bm25 = Arc::new(Bm25Encoder::new(&config.bm25)?);
    let indexer = Indexer {
        catalog,
        store: Arc::clone(&store),
        chunker: Arc::new(Chunker::new(&config.chunking)?),
        bm25: Arc::clone(&bm25),
        embedder: embedder.clone(),
        max_document_bytes: config.ingest.max_document_bytes,
        write_batch_points: config.ingest.write_batch_points,
        flush_interval: config.ingest.flush_interval(),
        rewrite_all: false,
    };

    let corpus_dir = dir.join("corpus").join(&tenant);
    let uris = corpus::write(&dataset.corpus, &corpus_dir).await?;
    let started = Instant::now();
    let ingest = indexer
        .sync_folder(
            &tenant,
            "corpus",
            &corpus_dir,
            &FolderSourceConfig::default(),
            sync_progress,
        )
        .await?;
    let ingest_secs = started.elapsed().as_secs_f64();
    let chunks = store.count(&tenant).await?;

    let notes = notes(&dataset, embedder.as_deref());
    // Enough chunks that DEPTH distinct documents usually remain after merging a document's chunks.
    let per_doc = chunks.div_ceil(dataset.corpus.len().max(1)).max(1);
    let answering = Answering {
        limit: (DEPTH * per_doc).min(1000),
        prompts: Prompts::load(None)?,
        chunker: Chunker::new(&config.chunking)?,
        top_k: config.retrieval.top_k,
    };
    let retriever = Retriever::new(
        store,
        bm25,
        embedder.clone(),
        config.retrieval.clone(),
        &CacheConfig {
            enabled: false,
            ..CacheConfig::default()
        },
        Arc::new(Metrics::new(Counter::default(), Default::default())),
    );
    let mut modes = Vec::new();
    for &mode in &options.modes {
        modes.push(
            measure(
                &retriever,
                &tenant,
                &dataset,
                &uris,
                mode,
                &answering,
                query_progress,
            )
            .await?,
        );
    }
    Ok(EvalReport {
        dataset: dataset.name.clone(),
        split: options.split.clone(),
        documents: dataset.corpus.len(),
        queries: dataset.queries.len(),
        chunks,
        tenant,
        embedder: embedder.map(|e| e.model().to_owned()),
        chunking: config.chunking.clone(),
        bm25: config.bm25.clone(),
        retrieval: RetrievalSettings::from(&config.retrieval),
        ingest,
        ingest_secs,
        modes,
        query_lang: dataset.query_lang,
        corpus_langs: dataset.corpus_langs.clone(),
        notes,
    })
}

/// How each query runs: its depth, and what an extractive answer needs (built once per run).
struct Answering {
    limit: usize,
    prompts: Prompts,
    chunker: Chunker,
    top_k: usize,
}

async fn measure(
    retriever: &Retriever,
    tenant: &str,
    dataset: &Dataset,
    uris: &HashMap<String, String>,
    mode: SearchMode,
    answering: &Answering,
    progress: QueryProgress<'_>,
) -> Result<ModeReport, GatewayError> {
    let mut scores = metrics::Accumulator::default();
    let mut extractive = (!dataset.answers.is_empty()).then(AnswerCheck::default);
    let mut latencies = Vec::with_capacity(dataset.queries.len());
    for (done, query) in dataset.queries.iter().enumerate() {
        // As the gateway does: the question's own language, the dataset's when too short to tell.
        let lang = detect_or(&query.text, dataset.query_lang.unwrap_or_default());
        let asked = Instant::now();
        let hits = retriever
            .search(tenant, &[], &query.text, lang, answering.limit, mode)
            .await?;
        latencies.push(asked.elapsed());
        let mut seen = HashSet::new();
        let ranking: Vec<String> = hits
            .iter()
            .filter_map(|hit| uris.get(&hit.payload.uri))
            .filter(|id| seen.insert(*id))
            .take(DEPTH)
            .cloned()
            .collect();
        if let Some(judged) = dataset.qrels.get(&query.id) {
            scores.add(&ranking, judged);
            let first_relevant = ranking
                .first()
                .is_some_and(|id| judged.get(id).is_some_and(|&grade| grade > 0));
            if let (Some(check), Some(golds), true) = (
                extractive.as_mut(),
                dataset.answers.get(&query.id),
                first_relevant,
            ) {
                let top = &hits[..hits.len().min(answering.top_k)];
                let answer = answers::extractive_answer(
                    &answering.prompts,
                    &answering.chunker,
                    &query.text,
                    lang,
                    top,
                )
                .await?;
                check.add(answers::contains_any(&answer, golds));
            }
        }
        progress(mode, done + 1, dataset.queries.len());
    }
    // Search time only (answer checks are not part of a query's latency).
    let total: f64 = latencies.iter().map(Duration::as_secs_f64).sum();
    latencies.sort_unstable();
    Ok(ModeReport {
        mode,
        scores: scores.mean(),
        queries_per_sec: dataset.queries.len() as f64 / total.max(1e-9),
        latency_p50_ms: percentile_ms(&latencies, 0.50),
        latency_p99_ms: percentile_ms(&latencies, 0.99),
        extractive,
    })
}

/// Nearest-rank percentile of sorted latencies, in milliseconds.
pub fn percentile_ms(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1].as_secs_f64() * 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notes_are_said_in_the_reader_s_language_and_reported_in_english() {
        let note = Note::EnglishOnlyModel {
            model: "all-MiniLM-L6-v2".into(),
        };
        assert!(
            note.text(Lang::Es)
                .starts_with("all-MiniLM-L6-v2 es un modelo solo en inglés")
        );
        assert_eq!(
            serde_json::to_value(&note).unwrap(),
            serde_json::Value::String(note.text(Lang::En))
        );
        assert!(note.text(Lang::En).contains("English-only"));
        assert!(
            Note::CrossLingualWithoutDense
                .text(Lang::Es)
                .contains("multilingüe")
        );
    }

    #[test]
    fn nearest_rank_percentiles() {
        let ms: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile_ms(&ms, 0.50), 50.0);
        assert_eq!(percentile_ms(&ms, 0.99), 99.0);
        assert_eq!(percentile_ms(&ms[..1], 0.99), 1.0);
        assert_eq!(percentile_ms(&[], 0.5), 0.0);
    }
}
