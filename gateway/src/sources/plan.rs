//! What a sync of a stored source reads, resolved from its typed settings for the indexer: a
//! folder and its filters, an upload source's folder, or a site with the operator's fetch policy.
//!
//! A folder is checked again first, with the rules it was registered under and the operator's
//! `[sources] folder_roots` as configured now (`folders::FolderRules::recheck`). A refused folder
//! fails the sync before anything is read: its documents stay indexed as they are (a root
//! removed by mistake, or a folder swapped for a link, must not wipe what was legitimately
//! indexed; removing the source removes them), and the run says why and what to do.

use std::path::PathBuf;

use ragway_catalog::SourceRecord;
use ragway_ingest::lang::Lang;
use ragway_ingest::sync::{Documents, SyncPlan};

use super::folders::{FolderRules, SyncRefused};
use super::settings::{FolderSettings, KindSettings, SettingsError, SourceSettings};
use super::upload_dir;
use crate::config::Config;

/// Why a sync cannot start (recorded on its run).
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error(transparent)]
    Settings(#[from] SettingsError),
    #[error(transparent)]
    Folder(SyncRefused),
    /// As [`Self::Folder`], for a source registered before ragway recorded who registered it.
    #[error(
        "{0} (ragway did not record who added this source: if the operator did, `ragway sources adopt` keeps it)"
    )]
    UnrecordedFolder(SyncRefused),
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
        KindSettings::Folder(folder) => {
            let root = allowed_now(config, source, &folder).map_err(|refused| {
                if refused.is_policy() && folder.registered_by.is_none() {
                    // (only with roots configured: without them an unrecorded folder is the
                    // operator's and never refused by policy)
                    PlanError::UnrecordedFolder(refused)
                } else {
                    PlanError::Folder(refused)
                }
            })?;
            Documents::Folder {
                config: folder.filters(),
                root,
            }
        }
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

/// The folder a sync of `source` reads: its stored folder, resolved now, if the rules it was
/// registered under still allow it (logged at warn for the operator when they do not).
fn allowed_now(
    config: &Config,
    source: &SourceRecord,
    folder: &FolderSettings,
) -> Result<PathBuf, SyncRefused> {
    let access = folder.access(&config.sources.folder_roots);
    let rules = FolderRules {
        access,
        roots: &config.sources.folder_roots,
        data_dir: &config.data_dir,
        tenant: &source.tenant_id,
    };
    rules.recheck(&folder.path).inspect_err(|refused| {
        if refused.is_policy() {
            let resolved = folder
                .path
                .canonicalize()
                .map_or_else(|err| err.to_string(), |p| p.display().to_string());
            let roots = config
                .sources
                .folder_roots
                .iter()
                .map(|root| root.display().to_string())
                .collect::<Vec<_>>()
                .join(", ");
            tracing::warn!(
                tenant = %source.tenant_id,
                source = %source.id,
                name = %source.name,
                folder = %folder.path.display(),
                %resolved,
                registered_by = ?access,
                recorded = folder.registered_by.is_some(),
                folder_roots = %roots,
                %refused,
                "folder source refused at sync: not synced, its documents stay indexed; allow \
                 the folder in [sources] folder_roots, remove the source, or (for a folder the \
                 operator added) keep it with `ragway sources adopt`"
            );
        }
    })
}
