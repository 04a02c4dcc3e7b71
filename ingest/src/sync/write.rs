//! The pipeline's writer: embeds (when dense vectors are on) and writes the batches the reader
//! fills, while the reader goes on parsing. Parsing and writing used to take turns: a batch of
//! one-chunk documents (an abstract, a short page) was written while at most two documents were
//! prepared, and a sync kept barely more than one core busy.

use std::time::{Duration, Instant};

use ragway_catalog::{ManifestEntry, SyncReport};
use tokio::sync::mpsc;
use tracing::Instrument;

use super::{DocumentOutcome, Indexer, Prepared, Progress, SyncEvent};
use crate::error::Result;
use crate::ids::point_id;
use crate::store::{ChunkPayload, ChunkPoint};

/// Batches filled and waiting while one is written: the reader runs ahead by this much and no
/// more (memory stays bounded by a few batches of points).
pub(super) const QUEUED_BATCHES: usize = 1;

/// Adds the writer's counts (the documents it wrote and the ones it could not) to the run's.
pub(super) fn merge(report: &mut SyncReport, written: SyncReport) {
    report.added += written.added;
    report.changed += written.changed;
    report.chunks_written += written.chunks_written;
    report.failures.extend(written.failures);
}

/// Documents written but not yet durable: recorded in the manifest after the next flush.
#[derive(Default)]
struct Unrecorded {
    entries: Vec<ManifestEntry>,
    /// Per entry: it replaced an indexed version (else it is new).
    changed: Vec<bool>,
    /// When the first of them was written.
    since: Option<Instant>,
}

impl Unrecorded {
    fn is_due(&self, interval: Duration) -> bool {
        self.since.is_some_and(|t| t.elapsed() >= interval)
    }
}

impl Indexer {
    /// Writes every batch the reader sends until it closes the queue; its counts in a report of
    /// their own (merged by the caller: the reader owns the run's report meanwhile). Written
    /// documents are flushed and recorded together `flush_interval` after the first of them
    /// was written, whether more batches came meanwhile or not, and at the end.
    pub(super) async fn write_queued(
        &self,
        tenant_id: &str,
        source_id: &str,
        mut queue: mpsc::Receiver<Vec<Prepared>>,
        progress: Progress<'_>,
    ) -> Result<SyncReport> {
        let target = (tenant_id, source_id);
        let mut written = SyncReport::default();
        let mut unrecorded = Unrecorded::default();
        loop {
            let next = match unrecorded.since {
                None => queue.recv().await,
                Some(since) => {
                    let due = (since + self.flush_interval).into();
                    match tokio::time::timeout_at(due, queue.recv()).await {
                        Ok(next) => next,
                        // Nothing came before the flush was due (a slow source): flush now.
                        Err(_elapsed) => {
                            self.record(target, &mut unrecorded, &mut written, progress)
                                .await?;
                            continue;
                        }
                    }
                }
            };
            let Some(batch) = next else { break };
            self.write(target, batch, &mut written, &mut unrecorded, progress)
                .await?;
            if unrecorded.is_due(self.flush_interval) {
                self.record(target, &mut unrecorded, &mut written, progress)
                    .await?;
            }
        }
        self.record(target, &mut unrecorded, &mut written, progress)
            .await?;
        Ok(written)
    }

    /// Flushes what was written and records its documents in the manifest (one transaction: a
    /// crash before it leaves them to the next run).
    async fn record(
        &self,
        (tenant_id, source_id): (&str, &str),
        unrecorded: &mut Unrecorded,
        report: &mut SyncReport,
        progress: Progress<'_>,
    ) -> Result<()> {
        if unrecorded.entries.is_empty() {
            return Ok(());
        }
        self.store.persist().await?;
        let entries: Vec<_> = unrecorded.entries.iter().collect();
        self.catalog
            .record_documents(tenant_id, source_id, &entries)
            .await?;
        let changed = std::mem::take(&mut unrecorded.changed);
        for (entry, changed) in std::mem::take(&mut unrecorded.entries)
            .into_iter()
            .zip(changed)
        {
            let outcome = if changed {
                report.changed += 1;
                DocumentOutcome::Changed
            } else {
                report.added += 1;
                DocumentOutcome::Added
            };
            progress(&SyncEvent::Document {
                uri: entry.uri,
                outcome,
            });
        }
        unrecorded.since = None;
        Ok(())
    }

    /// Embeds (if dense is on) and writes a batch, then trims stale chunks; its documents wait in
    /// `unrecorded` for the flush that makes them durable.
    async fn write(
        &self,
        (tenant_id, source_id): (&str, &str),
        batch: Vec<Prepared>,
        report: &mut SyncReport,
        unrecorded: &mut Unrecorded,
        progress: Progress<'_>,
    ) -> Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        let mut dense = match &self.embedder {
            None => None,
            Some(embedder) => {
                let texts = batch
                    .iter()
                    .flat_map(|p| p.chunks.iter().map(|(c, _)| c.indexed_text()))
                    .collect();
                let embedding = embedder
                    .embed(texts)
                    .instrument(tracing::info_span!("embed", documents = batch.len()));
                match embedding.await {
                    Ok(vectors) => Some(vectors.into_iter()),
                    Err(err) => {
                        for prepared in batch {
                            self.fail(report, progress, prepared.entry.uri, err.to_string());
                        }
                        return Ok(());
                    }
                }
            }
        };
        let mut points = Vec::new();
        for prepared in &batch {
            for (chunk, sparse) in &prepared.chunks {
                points.push(ChunkPoint {
                    id: point_id(tenant_id, &prepared.entry.document_id, chunk.index),
                    dense: dense.as_mut().and_then(Iterator::next),
                    sparse: sparse.clone(),
                    payload: ChunkPayload {
                        tenant_id: tenant_id.to_owned(),
                        source_id: source_id.to_owned(),
                        document_id: prepared.entry.document_id.clone(),
                        uri: prepared.entry.uri.clone(),
                        title: prepared.entry.title.clone(),
                        heading_path: chunk.heading_path.clone(),
                        chunk_index: chunk.index,
                        text: chunk.text.clone(),
                        page: chunk.page,
                        acl: prepared.entry.acl.clone(),
                        lang: Some(chunk.lang),
                        text_tokens: u32::try_from(chunk.text_tokens).ok(),
                    },
                });
            }
        }
        let written = points.len();
        self.store
            .upsert_buffered(points)
            .instrument(tracing::info_span!("upsert", points = written))
            .await?;
        report.chunks_written += written;
        for prepared in &batch {
            let new_count = prepared.chunks.len();
            if prepared.previous_chunks.is_some_and(|old| old > new_count) {
                self.store
                    .delete_document_chunks(tenant_id, &prepared.entry.document_id, new_count)
                    .await?;
            }
        }
        unrecorded.since.get_or_insert_with(Instant::now);
        for prepared in batch {
            unrecorded.changed.push(prepared.previous_chunks.is_some());
            unrecorded.entries.push(prepared.entry);
        }
        Ok(())
    }
}
