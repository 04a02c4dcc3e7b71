//! Incremental sync of a source into the index: list → diff against the manifest → parse, chunk
//! and embed only what changed → write points → record the manifest → delete what disappeared.
//! Every kind of source enters through [`Indexer::sync`] with a resolved [`SyncPlan`] (`plan`);
//! `folder` and `web` list the documents and feed them to the shared pipeline below.
//!
//! Crash safety: a document's manifest row is written only after its points are, so a sync
//! interrupted at any point converges when re-run (point ids are deterministic, writes idempotent).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use futures::{Stream, StreamExt};
use ragway_catalog::{Catalog, ManifestEntry, SourceRecord};
use tracing::Instrument;

use crate::chunk::Chunker;
use crate::embed::{Bm25Encoder, Embedder};
use crate::error::{IngestError, Result};
use crate::ids::{content_hash, document_id};
use crate::model::Chunk;
use crate::parse::{Format, parse};
use crate::source::{EntryContent, ListItem, SourceEntry};
use crate::store::{Sparse, VectorStore};

mod folder;
mod language;
mod plan;
mod web;
mod write;

use language::{SourceLanguage, chunk_language, document_language};
pub use plan::{Documents, SyncPlan};

/// Documents in flight at once, taken in listing order: a large page being parsed does not hold up
/// the small ones behind it (only as many are parsed at a time as there are cores).
const PREPARED_AHEAD: usize = 32;
/// How often a sync renews its lease while documents flow (well inside `sync_lease_secs` ≥ 30).
const LEASE_RENEWAL: std::time::Duration = std::time::Duration::from_secs(10);

pub use crate::progress::{DocumentOutcome, Progress, SyncEvent};

/// What a sync reports is what its run stores in the catalog.
pub use ragway_catalog::{DocumentFailure, SyncReport};

/// Everything a sync needs; cheap to clone.
#[derive(Clone, Debug)]
pub struct Indexer {
    pub catalog: Catalog,
    pub store: Arc<dyn VectorStore>,
    pub chunker: Arc<Chunker>,
    pub bm25: Arc<Bm25Encoder>,
    pub embedder: Option<Arc<dyn Embedder>>,
    pub max_document_bytes: u64,
    /// Points buffered before a write: large enough to amortise the store's per-call cost (its
    /// documents are recorded once a flush has made it durable; see `sync/write.rs`).
    pub write_batch_points: usize,
    /// How long written documents wait for the flush that makes them durable (and records them
    /// in the manifest): the embedded index syncs every file of every segment at a flush, so a
    /// sync flushes a run of writes at once. A crash redoes at most this much work.
    pub flush_interval: std::time::Duration,
    /// Write every document again, as if indexed under other settings (a re-index into a new,
    /// empty index generation): nothing is skipped as unchanged, web pages are fetched whole.
    pub rewrite_all: bool,
}

/// A document parsed and chunked, waiting to be written.
struct Prepared {
    entry: ManifestEntry,
    chunks: Vec<(Chunk, Sparse)>,
    previous_chunks: Option<usize>,
}

/// A listing item after preparation, in listing order.
enum Processed {
    Step {
        uri: String,
        size: u64,
        step: Step,
    },
    Failed {
        uri: String,
        reason: String,
        keep: bool,
    },
    Unsupported(String),
}

enum Step {
    Unchanged,
    /// Same content; the manifest entry carries the new ACL.
    AclChanged(Box<ManifestEntry>),
    Ready(Box<Prepared>),
    Failed(String),
}

/// Bumped when the pipeline changes what it writes for the same settings (e.g. language-aware
/// analysis): every document is re-indexed once on the next sync.
const ANALYSIS_VERSION: &str = "2-languages";

impl Indexer {
    /// Fingerprint of everything a document's points depend on besides its bytes: the pipeline
    /// version, chunking, BM25 analysis and the dense model. A document indexed under another one
    /// is re-indexed by the next sync even though its content did not change.
    pub fn analysis(&self) -> String {
        let embedder = self
            .embedder
            .as_ref()
            .map_or_else(String::new, |e| format!("{}:{}", e.model(), e.dimensions()));
        let mut hash = <sha2::Sha256 as sha2::Digest>::new();
        for part in [
            ANALYSIS_VERSION,
            self.chunker.fingerprint(),
            self.bm25.fingerprint(),
            &embedder,
        ] {
            sha2::Digest::update(&mut hash, part.as_bytes());
            sha2::Digest::update(&mut hash, [0]);
        }
        hex::encode(&sha2::Digest::finalize(hash)[..8])
    }

    /// Whether a document indexed with `indexed` analysis needs no re-indexing under `current`.
    pub(crate) fn is_current(&self, indexed: &str, current: &str) -> bool {
        !self.rewrite_all && indexed == current
    }

    /// Records the start of a sync run and returns its empty report.
    pub(crate) async fn start_sync_run(&self, source: &SourceRecord) -> Result<SyncReport> {
        let run_id = self
            .catalog
            .start_sync_run(&source.tenant_id, &source.id)
            .await?;
        Ok(SyncReport {
            run_id,
            source_id: source.id.clone(),
            ..SyncReport::default()
        })
    }

    /// Closes a sync run with its counts, and its error if it failed.
    pub(crate) async fn finish_sync_run(
        &self,
        report: SyncReport,
        outcome: Result<()>,
    ) -> Result<SyncReport> {
        let message = outcome.as_ref().err().map(ToString::to_string);
        self.catalog
            .finish_sync_run(&report.run_id, &report, message.as_deref())
            .await?;
        if outcome.is_ok() && report.index_changed() {
            self.optimize_index().await;
        }
        outcome.map(|()| report)
    }

    /// Lets the index reorganise what the sync wrote (the embedded index never does on its own:
    /// without this, everything stays in one appendable segment whose BM25 postings are rebuilt
    /// in memory at every start and whose dense vectors are searched by scanning). A no-op for a
    /// Qdrant server, which optimises in the background. A failure is logged, never the sync's:
    /// the points are written and searchable either way.
    async fn optimize_index(&self) {
        let started = std::time::Instant::now();
        match self.store.optimize().await {
            Ok(true) => tracing::info!(
                seconds = started.elapsed().as_secs_f64(),
                "index optimized after the sync"
            ),
            Ok(false) => {}
            Err(err) => tracing::warn!(%err, "cannot optimize the index after the sync"),
        }
    }

    /// The pipeline every source shares, in its `sync` span: `items` may arrive while the source is still listing
    /// (a crawl); whatever the manifest holds that the listing did not mention is removed.
    pub(crate) async fn run(
        &self,
        target: Target<'_>,
        items: impl Stream<Item = ListItem>,
        manifest: HashMap<String, ManifestEntry>,
        acl: &(dyn Fn(&str) -> Vec<String> + Sync),
        report: &mut SyncReport,
        progress: Progress<'_>,
    ) -> Result<()> {
        // The root of a sync's trace: listing, parsing, embedding, writes and removals are its
        // children.
        let span = tracing::info_span!(
            "sync",
            tenant = %target.source.tenant_id,
            source = %target.source.name,
            kind = %target.source.kind,
            run_id = %report.run_id,
        );
        self.run_pipeline(target, items, manifest, acl, report, progress)
            .instrument(span)
            .await
    }

    async fn run_pipeline(
        &self,
        target: Target<'_>,
        items: impl Stream<Item = ListItem>,
        manifest: HashMap<String, ManifestEntry>,
        acl: &(dyn Fn(&str) -> Vec<String> + Sync),
        report: &mut SyncReport,
        progress: Progress<'_>,
    ) -> Result<()> {
        let Target { source, language } = target;
        let tenant_id = source.tenant_id.as_str();
        let rules = IndexRules {
            language,
            analysis: self.analysis(),
        };
        let rules = &rules;
        let mut present: HashSet<String> = HashSet::new();
        let manifest_ref = &manifest;
        // Parsing, chunking and BM25 are CPU-bound: one document per core at a time.
        let cores = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
        let cores = &tokio::sync::Semaphore::new(cores);
        let steps = items
            .map(|item| async move {
                match item {
                    ListItem::Entry(entry) => {
                        let previous = manifest_ref.get(&entry.uri).cloned();
                        let groups = acl(&entry.uri);
                        // Never closed: acquiring cannot fail (and would only lift the bound).
                        let _core = cores.acquire().await.ok();
                        let (uri, size, step) = self
                            .prepare(tenant_id, &source.id, entry, previous, groups, rules)
                            .await;
                        Processed::Step { uri, size, step }
                    }
                    ListItem::Failed { uri, reason, keep } => {
                        Processed::Failed { uri, reason, keep }
                    }
                    ListItem::Unsupported(uri) => Processed::Unsupported(uri),
                }
            })
            .buffered(PREPARED_AHEAD);
        let (queue, queued) = tokio::sync::mpsc::channel(write::QUEUED_BATCHES);
        // The reader prepares documents while the writer writes the batches it filled.
        let reader = self.read_steps(source, steps, queue, &mut present, report, progress);
        let writer = self.write_queued(tenant_id, &source.id, queued, progress);
        let ((), written) = futures::try_join!(reader, writer)?;
        write::merge(report, written);

        let gone: Vec<(String, ManifestEntry)> = manifest
            .into_iter()
            .filter(|(uri, _)| !present.contains(uri))
            .collect();
        if !gone.is_empty() {
            let span = tracing::info_span!("remove", documents = gone.len());
            self.remove(tenant_id, gone, report, progress)
                .instrument(span)
                .await?;
        }
        report.generation = if report.index_changed() {
            self.catalog.bump_generation(tenant_id).await?
        } else {
            self.catalog.require_tenant(tenant_id).await?.generation
        };
        Ok(())
    }

    /// Takes the prepared documents in listing order: counts what needs no write, applies ACL
    /// changes, and queues full batches for the writer (the last, partial one when the listing
    /// ends). Stops early, without an error of its own, when the writer has failed.
    async fn read_steps(
        &self,
        source: &SourceRecord,
        steps: impl Stream<Item = Processed>,
        queue: tokio::sync::mpsc::Sender<Vec<Prepared>>,
        present: &mut HashSet<String>,
        report: &mut SyncReport,
        progress: Progress<'_>,
    ) -> Result<()> {
        let tenant_id = source.tenant_id.as_str();
        let mut steps = std::pin::pin!(steps);
        let mut batch: Vec<Prepared> = Vec::new();
        let mut renewed = std::time::Instant::now();
        while let Some(processed) = steps.next().await {
            // The run's lease: processes sharing the catalog take over a sync gone silent.
            if renewed.elapsed() >= LEASE_RENEWAL {
                renewed = std::time::Instant::now();
                if let Err(err) = self.catalog.heartbeat_sync_run(&report.run_id).await {
                    tracing::warn!(%err, "cannot renew the sync's lease");
                }
            }
            let (uri, size, step) = match processed {
                Processed::Step { uri, size, step } => (uri, size, step),
                Processed::Failed { uri, reason, keep } => {
                    if keep {
                        present.insert(uri.clone());
                    }
                    self.fail(report, progress, uri, reason);
                    continue;
                }
                Processed::Unsupported(uri) => {
                    tracing::debug!(uri = %uri, "unsupported format; skipped");
                    report.unsupported += 1;
                    continue;
                }
            };
            present.insert(uri.clone());
            report.seen += 1;
            report.bytes += size;
            progress(&SyncEvent::Read { bytes: size });
            match step {
                Step::Unchanged => {
                    report.unchanged += 1;
                    progress(&SyncEvent::Document {
                        uri,
                        outcome: DocumentOutcome::Unchanged,
                    });
                }
                Step::AclChanged(updated) => {
                    self.store
                        .set_document_acl(tenant_id, &updated.document_id, &updated.acl)
                        .await?;
                    self.catalog
                        .record_document(tenant_id, &source.id, &updated)
                        .await?;
                    report.acl_changed += 1;
                    progress(&SyncEvent::Document {
                        uri,
                        outcome: DocumentOutcome::AclChanged,
                    });
                }
                Step::Failed(reason) => self.fail(report, progress, uri, reason),
                Step::Ready(prepared) => {
                    batch.push(*prepared);
                    let points: usize = batch.iter().map(|p| p.chunks.len()).sum();
                    if points >= self.write_batch_points.max(1)
                        && queue.send(std::mem::take(&mut batch)).await.is_err()
                    {
                        // The writer stopped on an error, which the run reports.
                        return Ok(());
                    }
                }
            }
        }
        if !batch.is_empty() {
            // An error here is the writer's, reported by the run.
            let _ = queue.send(batch).await;
        }
        Ok(())
    }

    /// Deletes the points and manifest rows of documents the listing no longer has.
    async fn remove(
        &self,
        tenant_id: &str,
        gone: Vec<(String, ManifestEntry)>,
        report: &mut SyncReport,
        progress: Progress<'_>,
    ) -> Result<()> {
        for (uri, entry) in gone {
            self.store
                .delete_document_chunks(tenant_id, &entry.document_id, 0)
                .await?;
            self.catalog.forget_document(&entry.document_id).await?;
            report.removed += 1;
            progress(&SyncEvent::Removed { uri });
        }
        Ok(())
    }

    fn fail(&self, report: &mut SyncReport, progress: Progress<'_>, uri: String, reason: String) {
        tracing::warn!(uri = %uri, reason = %reason, "document skipped");
        progress(&SyncEvent::Document {
            uri: uri.clone(),
            outcome: DocumentOutcome::Failed(reason.clone()),
        });
        report.failures.push(DocumentFailure { uri, reason });
    }

    /// Reads, hashes and (when new or changed) parses, chunks and BM25-encodes one document.
    /// Returns its uri and size alongside, since the entry (and its bytes) moves into the work.
    async fn prepare(
        &self,
        tenant_id: &str,
        source_id: &str,
        entry: SourceEntry,
        previous: Option<ManifestEntry>,
        acl: Vec<String>,
        rules: &IndexRules,
    ) -> (String, u64, Step) {
        let indexer = self.clone();
        let tenant_id = tenant_id.to_owned();
        let source_id = source_id.to_owned();
        let (uri, size) = (entry.uri.clone(), entry.size);
        let rules = rules.clone();
        // Per document, so below the default level: a large sync would export thousands.
        let span = tracing::debug_span!("prepare", uri = %uri);
        let step = tokio::task::spawn_blocking(move || {
            span.in_scope(|| {
                indexer.prepare_blocking(&tenant_id, &source_id, entry, previous, acl, rules)
            })
        })
        .await
        .unwrap_or_else(|e| Step::Failed(format!("internal error while parsing: {e}")));
        (uri, size, step)
    }

    fn prepare_blocking(
        &self,
        tenant_id: &str,
        source_id: &str,
        entry: SourceEntry,
        previous: Option<ManifestEntry>,
        acl: Vec<String>,
        rules: IndexRules,
    ) -> Step {
        let IndexRules {
            language: declared,
            analysis,
        } = rules;
        if entry.size > self.max_document_bytes {
            let err = IngestError::TooLarge {
                uri: entry.uri.clone(),
                size: entry.size,
                limit: self.max_document_bytes,
            };
            return Step::Failed(err.to_string());
        }
        let (bytes, format, name) = match entry.content {
            EntryContent::File(path) => {
                let bytes = match std::fs::read(&path) {
                    Ok(bytes) => bytes,
                    Err(e) => return Step::Failed(format!("cannot read: {e}")),
                };
                let stem = path
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default();
                (bytes, Format::from_path(&path), stem)
            }
            EntryContent::Bytes {
                bytes,
                format,
                name,
            } => (bytes, Some(format), name),
            EntryContent::NotModified => {
                return match previous {
                    Some(previous) if previous.acl == acl => Step::Unchanged,
                    Some(previous) => Step::AclChanged(Box::new(ManifestEntry { acl, ..previous })),
                    None => Step::Failed(
                        "the source reported it unchanged but it is not indexed; it is read again next sync"
                            .into(),
                    ),
                };
            }
        };
        let hash = content_hash(&bytes);
        // Same bytes indexed the same way: nothing to do but follow an ACL change.
        if let Some(previous) = previous
            .as_ref()
            .filter(|p| p.content_hash == hash && self.is_current(&p.analysis, &analysis))
        {
            if previous.acl == acl {
                return Step::Unchanged;
            }
            return Step::AclChanged(Box::new(ManifestEntry {
                acl,
                ..previous.clone()
            }));
        }
        let Some(format) = format else {
            return Step::Failed("unsupported format".into());
        };
        let doc = match parse(format, &entry.uri, &name, &bytes) {
            Ok(doc) => doc,
            Err(e) => return Step::Failed(e.to_string()),
        };
        // The document's language only decides chunks too short or too ambiguous to tell on their
        // own: detected when the first such chunk needs it (most documents never do).
        let document_lang = std::cell::LazyCell::new(|| document_language(&doc, declared.fallback));
        let chunks: Vec<(Chunk, Sparse)> = self
            .chunker
            .chunk(&doc)
            .into_iter()
            .map(|mut chunk| {
                chunk.lang = declared
                    .forced
                    .unwrap_or_else(|| chunk_language(&chunk.text, || *document_lang));
                let sparse = self.bm25.embed_document(&chunk.indexed_text(), chunk.lang);
                let sparse = Sparse {
                    indices: sparse.indices,
                    values: sparse.values,
                };
                (chunk, sparse)
            })
            .collect();
        let entry = ManifestEntry {
            document_id: document_id(tenant_id, source_id, &entry.uri),
            uri: entry.uri,
            title: doc.title,
            mime: doc.mime.to_owned(),
            content_hash: hash,
            size_bytes: i64::try_from(bytes.len()).unwrap_or(i64::MAX),
            chunk_count: i64::try_from(chunks.len()).unwrap_or(i64::MAX),
            acl,
            analysis,
        };
        Step::Ready(Box::new(Prepared {
            entry,
            chunks,
            previous_chunks: previous.map(|p| usize::try_from(p.chunk_count).unwrap_or(0)),
        }))
    }
}

/// The source a run indexes, and the language rules its documents follow.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Target<'a> {
    pub(crate) source: &'a SourceRecord,
    pub(crate) language: SourceLanguage,
}

/// How a run indexes each document: its source's language rules and the analysis fingerprint.
#[derive(Debug, Clone)]
pub(crate) struct IndexRules {
    language: SourceLanguage,
    analysis: String,
}
