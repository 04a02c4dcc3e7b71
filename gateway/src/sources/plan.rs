//! What a sync of a stored source reads, resolved from its typed settings for the indexer: a
//! folder and its filters, an upload source's folder, or a site with the operator's fetch policy.

use std::path::PathBuf;

use ragway_catalog::SourceRecord;
use ragway_ingest::lang::Lang;
use ragway_ingest::sync::{Documents, SyncPlan};

use super::settings::{KindSettings, SettingsError, SourceSettings};
use super::upload_dir;
use crate::config::Config;

/// Why a sync cannot start (recorded on its run).
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error(transparent)]
    Settings(#[from] SettingsError),
    #[error("cannot create {}: {source}", .dir.display())]
    UploadDir {
        dir: PathBuf,
        source: std::io::Error,
    },
}

/// The plan for one sync of `source`; documents too short to tell their language take
/// `fallback` (the tenant's language), English when it has none.
pub fn sync_plan<'a>(
    config: &'a Config,
    source: &SourceRecord,
    fallback: Option<Lang>,
) -> Result<SyncPlan<'a>, PlanError> {
    let settings = SourceSettings::stored(source)?;
    let documents = match settings.per_kind {
        KindSettings::Folder(folder) => Documents::Folder {
            config: folder.filters(),
            root: folder.path,
        },
        KindSettings::Upload(upload) => {
            let root = upload_dir(&config.data_dir, &source.id);
            std::fs::create_dir_all(&root).map_err(|source| PlanError::UploadDir {
                dir: root.clone(),
                source,
            })?;
            Documents::Upload {
                root,
                acl: upload.acl,
            }
        }
        KindSettings::Web(web) => Documents::Web {
            config: web,
            policy: &config.sources.web,
        },
    };
    Ok(SyncPlan {
        documents,
        language: settings.language,
        fallback_language: fallback.unwrap_or_default(),
    })
}
