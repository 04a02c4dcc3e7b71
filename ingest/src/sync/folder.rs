//! Syncing a folder on this server (a `folder` source, or the files of an `upload` source): the
//! walk (`source::folder`) lists every document before the pipeline starts.

use std::path::Path;

use ragway_catalog::SourceRecord;

use super::language::SourceLanguage;
use super::{Indexer, Progress, SyncEvent, SyncReport, Target};
use crate::error::Result;
use crate::source::{
    Acl, FolderSource, FolderSourceConfig, REGISTERED_BY_KEY, REGISTERED_BY_OPERATOR,
};

impl Indexer {
    /// Syncs the folder `root` as the tenant's source `source_name` (created on first use), for
    /// the operator: the source is recorded as registered by the operator (any folder).
    pub async fn sync_folder(
        &self,
        tenant_id: &str,
        source_name: &str,
        root: &Path,
        config: &FolderSourceConfig,
        progress: Progress<'_>,
    ) -> Result<SyncReport> {
        self.catalog.require_tenant(tenant_id).await?;
        let folder = FolderSource::new(root, config)?;
        let acl = Acl::new(&config.acl)?;
        // Run by the operator (`ragway ingest`): the folder may be anywhere, at every sync.
        let settings = serde_json::json!({
            "path": folder.root(),
            "include": config.include,
            "exclude": config.exclude,
            "acl": config.acl,
            (REGISTERED_BY_KEY): REGISTERED_BY_OPERATOR,
        });
        let source = self
            .catalog
            .upsert_source(tenant_id, source_name, "folder", &settings)
            .await?;
        let report = self.start_sync_run(&source).await?;
        // Its settings declare no language: detected, English where detection cannot tell.
        self.walk_folder(
            &source,
            report,
            folder,
            &acl,
            SourceLanguage::default(),
            progress,
        )
        .await
    }

    /// Syncs the folder `root` as the already started run `run_id`, and closes the run with its
    /// report, or as failed with the reason (a missing folder, an invalid glob or ACL included).
    pub(super) async fn folder_run(
        &self,
        source: &SourceRecord,
        run_id: &str,
        root: &Path,
        config: &FolderSourceConfig,
        language: SourceLanguage,
        progress: Progress<'_>,
    ) -> Result<SyncReport> {
        let report = SyncReport {
            run_id: run_id.to_owned(),
            source_id: source.id.clone(),
            ..SyncReport::default()
        };
        let prepared =
            FolderSource::new(root, config).and_then(|folder| Ok((folder, Acl::new(&config.acl)?)));
        match prepared {
            Ok((folder, acl)) => {
                self.walk_folder(source, report, folder, &acl, language, progress)
                    .await
            }
            Err(err) => self.finish_sync_run(report, Err(err)).await,
        }
    }

    async fn walk_folder(
        &self,
        source: &SourceRecord,
        mut report: SyncReport,
        folder: FolderSource,
        acl: &Acl,
        language: SourceLanguage,
        progress: Progress<'_>,
    ) -> Result<SyncReport> {
        let outcome = async {
            let listing = tokio::task::spawn_blocking(move || folder.list()).await?;
            let manifest = self.catalog.manifest(&source.id).await?;
            progress(&SyncEvent::Listed {
                total: listing.entries.len(),
            });
            let items = futures::stream::iter(listing.into_items());
            let groups = |uri: &str| acl.groups_for(uri);
            self.run(
                Target { source, language },
                items,
                manifest,
                &groups,
                &mut report,
                progress,
            )
            .await
        }
        .await;
        self.finish_sync_run(report, outcome).await
    }
}
