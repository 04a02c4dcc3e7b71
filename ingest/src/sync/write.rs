//! The pipeline's writer: embeds (when dense vectors are on) and writes the batches the reader
//! fills, while the reader goes on parsing. Parsing and writing used to take turns: a batch of
//! one-chunk documents (an abstract, a short page) was written while at most two documents were
//! prepared, and a sync kept barely more than one core busy.

use ragway_catalog::SyncReport;
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

impl Indexer {
    /// Writes every batch the reader sends until it closes the queue; its counts in a report of
    /// their own (merged by the caller: the reader owns the run's report meanwhile).
    pub(super) async fn write_queued(
        &self,
        tenant_id: &str,
        source_id: &str,
        mut queue: mpsc::Receiver<Vec<Prepared>>,
        progress: Progress<'_>,
    ) -> Result<SyncReport> {
        let mut written = SyncReport::default();
        while let Some(batch) = queue.recv().await {
            self.write(tenant_id, source_id, batch, &mut written, progress)
                .await?;
        }
        Ok(written)
    }

    /// Embeds (if dense is on) and writes a batch, then trims stale chunks and records the batch's
    /// manifest rows (one transaction: a crash before it leaves them to the next run).
    async fn write(
        &self,
        tenant_id: &str,
        source_id: &str,
        batch: Vec<Prepared>,
        report: &mut SyncReport,
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
            .upsert(points)
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
        let entries: Vec<_> = batch.iter().map(|p| &p.entry).collect();
        self.catalog
            .record_documents(tenant_id, source_id, &entries)
            .await?;
        for prepared in batch {
            let outcome = if prepared.previous_chunks.is_some() {
                report.changed += 1;
                DocumentOutcome::Changed
            } else {
                report.added += 1;
                DocumentOutcome::Added
            };
            progress(&SyncEvent::Document {
                uri: prepared.entry.uri,
                outcome,
            });
        }
        Ok(())
    }
}
