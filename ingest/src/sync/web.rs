//! Syncing a web source: the crawl (`source::web`) feeds the same pipeline as a folder.
//!
//! Progress: a crawl sends [`SyncEvent::Listed`](super::SyncEvent::Listed) again each time it
//! admits more pages (the last one is the final count), then the usual per-document events.

use std::time::Duration;

use ragway_catalog::SourceRecord;

use super::language::SourceLanguage;
use super::{Indexer, Progress, SyncReport, Target};
use crate::error::{IngestError, Result};
use crate::source::Acl;
use crate::source::web::{GuardedClient, WebFetchPolicy, WebSourceConfig, canonical, crawl, plan};

impl Indexer {
    /// Crawls a web source into the tenant's index as `source_name` (created on first use),
    /// mirroring [`Indexer::sync_folder`]: new and changed pages are indexed, unchanged ones
    /// (304, or the same bytes) are skipped, pages gone (404/410, no longer linked or listed)
    /// are removed. `policy` is the operator's SSRF guard, never a tenant's setting.
    pub async fn sync_web(
        &self,
        tenant_id: &str,
        source_name: &str,
        config: &WebSourceConfig,
        policy: &WebFetchPolicy,
        progress: Progress<'_>,
    ) -> Result<SyncReport> {
        self.catalog.require_tenant(tenant_id).await?;
        config.validate()?;
        let settings = serde_json::to_value(config)
            .map_err(|e| IngestError::Config(format!("web source settings: {e}")))?;
        let source = self
            .catalog
            .upsert_source(tenant_id, source_name, "web", &settings)
            .await?;
        let report = self.start_sync_run(&source).await?;
        // Its settings declare no language: detected, English where detection cannot tell.
        let language = SourceLanguage::default();
        self.web_run(&source, &report.run_id, config, policy, language, progress)
            .await
    }

    /// Crawls a web source as the already started run `run_id`, and closes the run with its
    /// report, or as failed with the reason.
    pub(super) async fn web_run(
        &self,
        source: &SourceRecord,
        run_id: &str,
        config: &WebSourceConfig,
        policy: &WebFetchPolicy,
        language: SourceLanguage,
        progress: Progress<'_>,
    ) -> Result<SyncReport> {
        let mut report = SyncReport {
            run_id: run_id.to_owned(),
            source_id: source.id.clone(),
            ..SyncReport::default()
        };
        let prepared = (|| {
            config.validate()?;
            let plan = plan::Plan::new(config)?;
            let acl = Acl::new(&config.acl)?;
            let client = GuardedClient::new(
                policy,
                &config.user_agent,
                Duration::from_secs(config.timeout_secs),
            )
            .map_err(IngestError::Config)?;
            Ok::<_, IngestError>((plan, acl, client))
        })();
        let (plan, acl, client) = match prepared {
            Ok(parts) => parts,
            Err(err) => return self.finish_sync_run(report, Err(err)).await,
        };
        let outcome = async {
            let manifest = self.catalog.manifest(&source.id).await?;
            let stored = self.catalog.web_pages(&source.id).await?;
            // Documents indexed under other settings must be fetched whole (no 304) to re-index.
            let analysis = self.analysis();
            let indexed = manifest
                .iter()
                .filter(|(_, entry)| self.is_current(&entry.analysis, &analysis))
                .map(|(uri, entry)| (uri.clone(), entry.content_hash.clone()))
                .collect();
            let crawler = crawl::Crawler::new(
                client,
                config,
                plan,
                self.catalog.clone(),
                source.id.clone(),
                config.max_page_bytes.min(self.max_document_bytes),
                stored,
                indexed,
                progress,
            );
            // A small buffer: pages wait for the pipeline rather than pile up in memory.
            let (pages, listing) = futures::channel::mpsc::channel(4);
            let groups = |uri: &str| acl.groups_for(&canonical::path_key_of(uri));
            let (reached, indexed) = tokio::join!(
                crawler.crawl(pages),
                self.run(
                    Target { source, language },
                    listing,
                    manifest,
                    &groups,
                    &mut report,
                    progress
                )
            );
            indexed?;
            self.catalog.retain_web_pages(&source.id, &reached).await?;
            Ok(())
        }
        .await;
        self.finish_sync_run(report, outcome).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The gateway runs syncs on spawned tasks: the futures must be `Send`.
    #[allow(dead_code)]
    fn sync_web_is_send(indexer: &Indexer, config: &WebSourceConfig, policy: &WebFetchPolicy) {
        fn assert_send<T: Send>(_: &T) {}
        let future = indexer.sync_web("t", "s", config, policy, &|_| {});
        assert_send(&future);
    }

    #[allow(dead_code)]
    fn sync_folder_is_send(indexer: &Indexer, config: &crate::source::FolderSourceConfig) {
        fn assert_send<T: Send>(_: &T) {}
        let future = indexer.sync_folder("t", "s", std::path::Path::new("x"), config, &|_| {});
        assert_send(&future);
    }
}
