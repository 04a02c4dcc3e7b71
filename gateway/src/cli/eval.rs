//! `ragway eval DATASET`: retrieval quality (nDCG@10, Recall@10/@100, MRR@10) and query
//! latency of BM25, dense and hybrid retrieval on a BEIR-layout dataset.

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use ragway_ingest::embed::{Embedder, LocalEmbedderConfig};
use ragway_ingest::lang::Lang;
use ragway_ingest::store::SearchMode;
use ragway_ingest::sync::{DocumentOutcome, SyncEvent};

use super::out;
use crate::config::{Config, EmbeddingsConfig};
use crate::error::GatewayError;
use crate::eval::{self, Dataset, EvalOptions, EvalReport, Languages};
use crate::i18n;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Mode {
    Bm25,
    Dense,
    Hybrid,
}

impl From<Mode> for SearchMode {
    fn from(mode: Mode) -> Self {
        match mode {
            Mode::Bm25 => SearchMode::Bm25,
            Mode::Dense => SearchMode::Dense,
            Mode::Hybrid => SearchMode::Hybrid,
        }
    }
}

#[derive(Debug, Args)]
pub struct EvalArgs {
    /// Dataset directory in BEIR layout (corpus.jsonl, queries*.jsonl, qrels*.tsv).
    dataset: PathBuf,
    /// Which judgements: qrels-<split>.tsv or qrels/<split>.tsv.
    #[arg(long, default_value = "test")]
    split: String,
    /// Multilingual dataset (XQuAD layout): the queries' language (`es`, `en`); reads
    /// queries-<split>-<lang>.jsonl, qrels-<split>-<lang>.tsv, answers-<split>-<lang>.jsonl.
    #[arg(long)]
    query_lang: Option<Lang>,
    /// The corpus languages, comma-separated (default: the queries' language): `es,en` is one
    /// mixed corpus, `en` with `--lang es` is cross-lingual.
    #[arg(long, value_delimiter = ',', requires = "query_lang")]
    corpus_lang: Vec<Lang>,
    /// Modes to measure (default: all that the embedder allows).
    #[arg(long = "mode", value_enum)]
    modes: Vec<Mode>,
    /// Use the local sentence-transformers model in this directory as the dense embedder
    /// (instead of `[embeddings]` from the configuration).
    #[arg(long)]
    local_model: Option<PathBuf>,
    /// BM25 only, even when an embedder is configured.
    #[arg(long, conflicts_with = "local_model")]
    no_dense: bool,
    /// Only the first N documents (plus those the kept queries judge).
    #[arg(long)]
    max_docs: Option<usize>,
    /// Only the first N judged queries.
    #[arg(long)]
    max_queries: Option<usize>,
    /// Where the scratch indexes live (default: <data-dir>/eval).
    #[arg(long)]
    work_dir: Option<PathBuf>,
    /// Print the report as JSON instead of a table.
    #[arg(long)]
    json: bool,
}

pub async fn run(mut config: Config, args: EvalArgs) -> Result<(), GatewayError> {
    if let Some(dir) = &args.local_model {
        config.embeddings = Some(EmbeddingsConfig::Local(LocalEmbedderConfig::new(dir)));
    }
    if args.no_dense {
        config.embeddings = None;
    }
    let embedder: Option<std::sync::Arc<dyn Embedder>> = match &config.embeddings {
        Some(settings) => Some(settings.embedder().await?),
        None => None,
    };
    let modes: Vec<SearchMode> = if args.modes.is_empty() {
        if embedder.is_some() {
            SearchMode::ALL.to_vec()
        } else {
            vec![SearchMode::Bm25]
        }
    } else {
        args.modes.iter().map(|&m| m.into()).collect()
    };
    let dir = args.dataset.clone();
    let split = args.split.clone();
    let languages = args.query_lang.map(|queries| Languages {
        queries,
        corpus: if args.corpus_lang.is_empty() {
            vec![queries]
        } else {
            args.corpus_lang.clone()
        },
    });
    let dataset =
        tokio::task::spawn_blocking(move || Dataset::load(&dir, &split, languages.as_ref()))
            .await
            .map_err(|e| GatewayError::Config(format!("loading the dataset failed: {e}")))??
            .subset(args.max_docs, args.max_queries);
    let options = EvalOptions {
        split: args.split.clone(),
        modes,
        work_dir: args
            .work_dir
            .clone()
            .unwrap_or_else(|| config.data_dir.join("eval")),
    };

    let lang = super::output_lang(None, &config);
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("{msg:>10} [{bar:30}] {pos}/{len} {per_sec} eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    if args.json {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    bar.set_message("ingest");
    let sync_progress = |event: &SyncEvent| match event {
        SyncEvent::Listed { total } => bar.set_length(*total as u64),
        SyncEvent::Document { uri, outcome } => {
            bar.inc(1);
            if let DocumentOutcome::Failed(reason) = outcome {
                bar.println(i18n::cli_failed(lang, uri, reason));
            }
        }
        SyncEvent::Removed { .. } | SyncEvent::Read { .. } => {}
    };
    let query_progress = |mode: SearchMode, done: usize, total: usize| {
        if done == 1 {
            bar.reset();
            bar.set_length(total as u64);
            bar.set_message(mode.name());
        }
        bar.set_position(done as u64);
    };
    let result = eval::run(
        &config,
        dataset,
        embedder,
        &options,
        &sync_progress,
        &query_progress,
    )
    .await;
    bar.finish_and_clear();
    let report = result?;
    if args.json {
        let json = serde_json::to_string_pretty(&report)
            .map_err(|e| GatewayError::Config(format!("report: {e}")))?;
        out(json);
    } else {
        print_table(&report, lang);
    }
    Ok(())
}

fn print_table(report: &EvalReport, lang: Lang) {
    let m = i18n::messages(lang);
    let dense = report.embedder.as_deref().unwrap_or(m.eval_none);
    out(i18n::fill(
        m.eval_header,
        &[
            ("dataset", &report.dataset),
            ("split", &report.split),
            ("documents", &report.documents),
            ("chunks", &report.chunks),
            ("queries", &report.queries),
            ("dense", &dense),
        ],
    ));
    if let Some(questions) = report.query_lang {
        let corpus: Vec<&str> = report.corpus_langs.iter().map(|l| l.code()).collect();
        let query = format!("{:?}", report.bm25.query).to_lowercase();
        out(i18n::fill(
            m.eval_languages,
            &[
                ("questions", &questions),
                ("corpus", &corpus.join("+")),
                ("analysis", &report.bm25.language),
                ("query", &query),
            ],
        ));
    }
    let secs = format!("{:.1}", report.ingest_secs);
    out(i18n::fill(
        m.eval_ingest,
        &[
            ("added", &report.ingest.added),
            ("changed", &report.ingest.changed),
            ("unchanged", &report.ingest.unchanged),
            ("secs", &secs),
            ("tenant", &report.tenant),
        ],
    ));
    let (c, r) = (&report.chunking, &report.retrieval);
    out(i18n::fill(
        m.eval_settings,
        &[
            ("max_tokens", &c.max_tokens),
            ("overlap", &c.overlap),
            ("prefix", &c.prefix_context),
            ("avg_len", &report.bm25.avg_len),
            ("rrf_k", &r.rrf_k),
            ("candidates", &r.candidates),
            ("bm25", &r.bm25_weight),
            ("dense", &r.dense_weight),
        ],
    ));
    out("");
    let labels: Vec<&str> = m.eval_columns.split('|').collect();
    // Each column as wide as its label, and at least as wide as its figures.
    let widths: Vec<usize> = labels
        .iter()
        .zip([8, 8, 10, 11, 8, 9, 8, 8])
        .map(|(label, min)| label.chars().count().max(min))
        .collect();
    let row = |cells: Vec<String>| {
        cells
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(i, (cell, &width))| match i {
                0 => format!("{cell:<width$}"),
                _ => format!("{cell:>width$}"),
            })
            .collect::<Vec<_>>()
            .join(" ")
    };
    out(row(labels.iter().map(|l| (*l).to_owned()).collect()));
    for mode in &report.modes {
        let s = &mode.scores;
        out(row(vec![
            mode.mode.name().to_owned(),
            format!("{:.4}", s.ndcg_at_10),
            format!("{:.4}", s.recall_at_10),
            format!("{:.4}", s.recall_at_100),
            format!("{:.4}", s.mrr_at_10),
            format!("{:.1}", mode.queries_per_sec),
            format!("{:.2}", mode.latency_p50_ms),
            format!("{:.2}", mode.latency_p99_ms),
        ]));
    }
    let checks: Vec<_> = report
        .modes
        .iter()
        .filter_map(|m| m.extractive.map(|c| (m.mode, c)))
        .collect();
    if !checks.is_empty() {
        out("");
        out(m.eval_extractive);
        for (mode, check) in checks {
            let share = format!("{:.1}", check.share * 100.0);
            let line = i18n::fill(
                m.eval_extractive_row,
                &[
                    ("share", &share),
                    ("containing", &check.containing_gold),
                    ("first", &check.retrieved_first),
                ],
            );
            out(format!("  {:<8} {line}", mode.name()));
        }
    }
    for note in &report.notes {
        out(i18n::fill(m.eval_note, &[("note", &note.text(lang))]));
    }
}
