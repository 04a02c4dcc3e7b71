//! `[sources]`: what admins may register through the API, the sync worker pool and the limits on
//! uploads.

use std::path::PathBuf;

use ragway_ingest::source::web::WebFetchPolicy;
use serde::Deserialize;

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SourcesConfig {
    /// Server folders under which admins may register `folder` sources through the API (none by
    /// default: folder sources then come only from the CLI, which runs with the operator's rights).
    pub folder_roots: Vec<PathBuf>,
    /// Syncs the gateway runs at once (0: none — run `ragway sync` instead, e.g. from a CronJob).
    pub sync_workers: usize,
    /// Seconds between the scheduler's checks for due sources.
    pub schedule_tick_secs: u64,
    /// The shortest interval a schedule may have.
    pub min_schedule_interval_secs: u64,
    /// A running sync renews its lease every quarter of this; a sync whose lease ran out (its
    /// process died) is failed and queued again by another process sharing the index.
    pub sync_lease_secs: u64,
    pub upload: UploadLimits,
    /// Which addresses web sources may fetch from (the SSRF guard; strict by default). Only the
    /// operator sets it — a tenant's source settings cannot lift it.
    pub web: WebFetchPolicy,
}

impl Default for SourcesConfig {
    fn default() -> Self {
        Self {
            folder_roots: Vec::new(),
            sync_workers: 2,
            schedule_tick_secs: 15,
            min_schedule_interval_secs: 300,
            sync_lease_secs: 60,
            upload: UploadLimits::default(),
            web: WebFetchPolicy::default(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UploadLimits {
    /// Largest single file (also each file inside a zip).
    pub max_file_bytes: u64,
    /// Largest upload request (all parts together).
    pub max_request_bytes: u64,
    /// Zip archives: most entries, most bytes once expanded (each archive, and all the files of
    /// one upload request together), and the highest expanded/compressed ratio of the archive
    /// (zip bombs are refused, nothing is written).
    pub max_zip_entries: usize,
    pub max_zip_expanded_bytes: u64,
    pub max_zip_ratio: u64,
}

impl Default for UploadLimits {
    fn default() -> Self {
        Self {
            max_file_bytes: 50 * 1024 * 1024,
            max_request_bytes: 200 * 1024 * 1024,
            max_zip_entries: 5_000,
            max_zip_expanded_bytes: 1024 * 1024 * 1024,
            max_zip_ratio: 100,
        }
    }
}
