//! `[sources]`: what admins may register through the API, the sync worker pool and the limits on
//! uploads.

use std::path::{Path, PathBuf};

use ragway_ingest::source::web::WebFetchPolicy;
use serde::Deserialize;

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SourcesConfig {
    /// Server folders under which admins may register `folder` sources through the API (none by
    /// default: folder sources then come only from the CLI, which runs with the operator's rights).
    /// A root containing `{tenant}` (`/srv/docs/{tenant}`) is per tenant: the source's tenant id
    /// replaces the placeholder, and any admin key of that tenant may use it. A root without it
    /// is shared by all tenants, so only global admin keys may use it. The data directory is
    /// never a folder source, even inside a root (`sources::folders`).
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

/// Stands for the source's tenant id in a `folder_roots` entry.
pub const TENANT_PLACEHOLDER: &str = "{tenant}";

/// `path` as the folders it is compared with: canonical when it exists, else absolute (a
/// folder must not contain the data directory where it will be created either).
pub fn resolved(path: &Path) -> PathBuf {
    path.canonicalize()
        .or_else(|_| std::path::absolute(path))
        .unwrap_or_else(|_| path.to_path_buf())
}

/// Whether a folder is inside the data directory or contains it (both resolved).
pub fn overlaps_data_dir(folder: &Path, data_dir: &Path) -> bool {
    folder.starts_with(data_dir) || data_dir.starts_with(folder)
}

impl SourcesConfig {
    /// Roots that would open the data directory (its catalog, index and every tenant's uploads)
    /// to folder sources, each naming the key. The API refuses such folders anyway, when they
    /// are added; this tells the operator at `ragway config check`.
    pub fn problems(&self, data_dir: &Path) -> Vec<String> {
        let data = resolved(data_dir);
        self.folder_roots
            .iter()
            .filter_map(|root| {
                let per_tenant = root
                    .components()
                    .any(|c| c.as_os_str().to_string_lossy().contains(TENANT_PLACEHOLDER));
                // The part of a per-tenant root before its placeholder is what every tenant
                // shares; inside the data directory, any tenant's root would be too.
                let fixed: PathBuf = root
                    .components()
                    .take_while(|c| !c.as_os_str().to_string_lossy().contains(TENANT_PLACEHOLDER))
                    .collect();
                let fixed = resolved(&fixed);
                let overlaps = if per_tenant {
                    fixed.starts_with(&data)
                } else {
                    overlaps_data_dir(&fixed, &data)
                };
                overlaps.then(|| {
                    format!(
                        "sources.folder_roots: `{}` overlaps the data directory `{}`, which is never a folder source; list folders apart from it",
                        root.display(),
                        data_dir.display()
                    )
                })
            })
            .collect()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roots_overlapping_the_data_directory_are_problems() {
        let srv = tempfile::tempdir().unwrap();
        let data = srv.path().join("data");
        std::fs::create_dir_all(data.join("uploads")).unwrap();
        let bad = [
            srv.path().to_path_buf(),
            data.join("uploads"),
            data.join("{tenant}").join("docs"),
        ];
        let good = [
            srv.path().join("docs").join("{tenant}"),
            srv.path().join("docs"),
        ];
        let config = SourcesConfig {
            folder_roots: bad.iter().chain(&good).cloned().collect(),
            ..SourcesConfig::default()
        };
        let problems = config.problems(&data);
        assert_eq!(problems.len(), bad.len(), "{problems:?}");
        for (problem, root) in problems.iter().zip(&bad) {
            assert!(
                problem.starts_with(&format!(
                    "sources.folder_roots: `{}` overlaps the data directory",
                    root.display()
                )),
                "{problem}"
            );
        }
    }
}
