//! One entry point for every kind of source: the caller resolves what a sync reads (where the
//! documents are, who may see them, the languages) into a [`SyncPlan`], and [`Indexer::sync`]
//! runs it as an already started run.

use std::path::PathBuf;

use ragway_catalog::SourceRecord;

use super::language::SourceLanguage;
use super::{Indexer, Progress, SyncReport};
use crate::error::Result;
use crate::lang::Lang;
use crate::source::web::{WebFetchPolicy, WebSourceConfig};
use crate::source::{AclConfig, FolderSourceConfig};

/// Where a source's documents are, resolved and typed.
#[derive(Debug, Clone)]
pub enum Documents<'a> {
    /// A folder on this server, with its include/exclude globs and ACL.
    Folder {
        root: PathBuf,
        config: FolderSourceConfig,
    },
    /// The folder an upload source keeps its files in, and who may see them.
    Upload { root: PathBuf, acl: AclConfig },
    /// A site to crawl; `policy` is the operator's SSRF guard, never a tenant's setting.
    Web {
        config: WebSourceConfig,
        policy: &'a WebFetchPolicy,
    },
}

/// Everything one sync of a source needs besides the source record and its run.
#[derive(Debug, Clone)]
pub struct SyncPlan<'a> {
    pub documents: Documents<'a>,
    /// The source's declared language, forced on every document and passage; `None`: each is
    /// detected.
    pub language: Option<Lang>,
    /// Where detection cannot tell (too little text): the tenant's language, English by default.
    pub fallback_language: Lang,
}

impl<'a> SyncPlan<'a> {
    /// A plan for `documents` with detected languages and English as the fallback.
    pub fn new(documents: Documents<'a>) -> Self {
        Self {
            documents,
            language: None,
            fallback_language: Lang::default(),
        }
    }
}

impl Indexer {
    /// Syncs `source` as the already started run `run_id` (a claimed job), whatever its kind, and
    /// closes the run with its report — or as failed with the reason, which is also returned
    /// (a folder that vanished, an invalid glob or ACL, a crawl that cannot be planned).
    pub async fn sync(
        &self,
        source: &SourceRecord,
        run_id: &str,
        plan: SyncPlan<'_>,
        progress: Progress<'_>,
    ) -> Result<SyncReport> {
        let language = SourceLanguage {
            forced: plan.language,
            fallback: plan.fallback_language,
        };
        match plan.documents {
            Documents::Folder { root, config } => {
                self.folder_run(source, run_id, &root, &config, language, progress)
                    .await
            }
            Documents::Upload { root, acl } => {
                let config = FolderSourceConfig {
                    acl,
                    ..FolderSourceConfig::default()
                };
                self.folder_run(source, run_id, &root, &config, language, progress)
                    .await
            }
            Documents::Web { config, policy } => {
                self.web_run(source, run_id, &config, policy, language, progress)
                    .await
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The gateway runs syncs on spawned tasks: the future must be `Send`.
    #[allow(dead_code)]
    fn sync_is_send(indexer: &Indexer, source: &SourceRecord, policy: &WebFetchPolicy) {
        fn assert_send<T: Send>(_: &T) {}
        let plan = SyncPlan::new(Documents::Web {
            config: WebSourceConfig::default(),
            policy,
        });
        let future = indexer.sync(source, "r", plan, &|_| {});
        assert_send(&future);
    }
}
