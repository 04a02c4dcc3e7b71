//! Document sources: their typed settings (`settings`, checked once; `folders`: which server
//! folders they may read), the one service that creates, changes, pauses, syncs and removes them
//! for the admin API, the CLI and the sync jobs (`service`), what a sync reads (`plan`), the sync
//! jobs (a bounded worker pool fed by the catalog's queue), their schedules, and uploads.

pub mod folders;
pub mod jobs;
pub mod plan;
pub mod schedule;
pub mod service;
pub mod settings;
pub mod upload;
pub mod upload_copy;

use std::path::{Path, PathBuf};

pub use crate::config::sources::{SourcesConfig, UploadLimits};
pub use folders::{FolderAccess, FolderRules, TENANT_PLACEHOLDER, allowed_folder};
pub use service::{NewSource, SourceChanges, SourceError, SourceService};
pub use settings::{
    FolderSettings, KindSettings, SettingsError, SourceKind, SourceSettings, UploadSettings,
};

/// Where an upload source keeps its files.
pub fn upload_dir(data_dir: &Path, source_id: &str) -> PathBuf {
    data_dir.join("uploads").join(source_id)
}
