//! The one way sources change, for the admin API, the CLI and the sync jobs alike: created (their
//! name, settings and schedule checked once), updated, paused and resumed, queued for a sync,
//! removed. Callers decode their input, call it, and encode what it returns or refuses.

use ragway_catalog::{
    AdminKeyRecord, Catalog, CatalogError, Enqueued, SourceRecord, SourceUpdate, TRIGGER_MANUAL,
};
use ragway_ingest::IngestError;
use ragway_ingest::lang::Lang;
use ragway_ingest::source::AclRule;
use ragway_ingest::store::VectorStore;
use ragway_ingest::sync::SyncPlan;
use serde_json::Value;

use super::folders::{FolderAccess, FolderRules};
use super::plan::{PlanError, sync_plan};
use super::schedule::Schedule;
use super::settings::{KindSettings, SettingsError, SourceSettings};
use super::upload_dir;
use crate::config::Config;
use crate::state::AppState;
use crate::sync_jobs::SyncJobs;

/// A source to create, as a caller decoded it.
#[derive(Debug, Clone)]
pub struct NewSource {
    pub name: String,
    /// `folder`, `upload` or `web`.
    pub kind: String,
    /// The kind's settings (`null`: none), plus any kind's `language`.
    pub settings: Value,
    pub schedule: Option<String>,
    pub paused: bool,
    /// Queue a first sync (never for an upload source, which has no files yet, nor a paused one).
    pub sync: bool,
}

/// What changes in a source; `None` keeps the current value.
#[derive(Debug, Clone, Default)]
pub struct SourceChanges {
    pub name: Option<String>,
    /// Replaces the settings, checked as on creation; the next sync applies them.
    pub settings: Option<Value>,
    /// `Some(None)` (or a blank schedule) removes the schedule.
    pub schedule: Option<Option<String>>,
}

/// Why the service refused; each caller words and codes it for its audience.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// A name or schedule refused, with the reason.
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Settings(#[from] SettingsError),
    #[error("source `{name}` is paused; resume it first")]
    Paused { name: String },
    #[error(
        "a sync of `{name}` is running (`{run}`); pause the source and delete it when the sync ends"
    )]
    SyncRunning { name: String, run: String },
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error(transparent)]
    Index(#[from] IngestError),
}

/// The source service: borrowed from the state (admin API, sync jobs) or from a CLI command.
#[derive(Debug, Clone, Copy)]
pub struct SourceService<'a> {
    catalog: &'a Catalog,
    config: &'a Config,
    /// This process's sync workers, woken when a sync is queued (none in a CLI command).
    jobs: Option<&'a SyncJobs>,
    folders: FolderAccess,
}

impl<'a> SourceService<'a> {
    /// For the admin API and the sync jobs: folder sources only under the per-tenant
    /// `[sources] folder_roots` (what a tenant-scoped admin key may use; see [`Self::for_admin`]).
    pub fn of(state: &'a AppState) -> Self {
        Self {
            catalog: &state.core.catalog,
            config: &state.core.config,
            jobs: Some(&state.jobs),
            folders: FolderAccess::TenantRoots,
        }
    }

    /// For an admin API request: folders where `key` may register them (a global key also
    /// under the shared roots).
    pub fn for_admin(state: &'a AppState, key: &AdminKeyRecord) -> Self {
        Self {
            folders: FolderAccess::of_admin_key(key),
            ..Self::of(state)
        }
    }

    /// For the CLI, run by the operator: a folder source may be any folder on the server (see
    /// [`FolderAccess::Anywhere`]); names, globs, ACLs, languages and schedules are checked as
    /// for the admin API.
    pub fn operator(catalog: &'a Catalog, config: &'a Config) -> Self {
        Self {
            catalog,
            config,
            jobs: None,
            folders: FolderAccess::Anywhere,
        }
    }

    /// Creates a source in `tenant` (paused if asked) and queues its first sync if asked.
    pub async fn create(&self, tenant: &str, new: NewSource) -> Result<SourceRecord, SourceError> {
        let name = checked_name(&new.name)?;
        let settings =
            SourceSettings::from_wire(&new.kind, new.settings, &self.folder_rules(tenant))?;
        let schedule = self.checked_schedule(new.schedule.as_deref())?;
        let kind = settings.kind();
        let mut source = self
            .catalog
            .create_source(
                tenant,
                name,
                kind.as_str(),
                &settings.to_json()?,
                schedule.as_deref(),
            )
            .await?;
        if new.paused {
            self.catalog.set_source_paused(&source.id, true).await?;
            source.paused = true;
        }
        if new.sync && !source.paused && kind.syncs_when_created() {
            self.queue_sync(&source, TRIGGER_MANUAL).await?;
        }
        Ok(source)
    }

    /// Renames a source, replaces its settings (checked for its kind) or changes its schedule.
    pub async fn update(
        &self,
        source: &SourceRecord,
        changes: SourceChanges,
    ) -> Result<SourceRecord, SourceError> {
        let name = changes.name.as_deref().map(checked_name).transpose()?;
        let settings = match changes.settings {
            Some(settings) => Some(
                SourceSettings::from_wire(
                    &source.kind,
                    settings,
                    &self.folder_rules(&source.tenant_id),
                )?
                .to_json()?,
            ),
            None => None,
        };
        let schedule = match &changes.schedule {
            Some(text) => Some(self.checked_schedule(text.as_deref())?),
            None => None,
        };
        let update = SourceUpdate {
            name,
            settings: settings.as_ref(),
            schedule: schedule.as_ref().map(|s| s.as_deref()),
        };
        Ok(self.catalog.update_source(source, &update).await?)
    }

    /// Pauses a source (its waiting sync is cancelled; a running one ends) or resumes it (its
    /// schedule starts again from now, so a long pause does not fire a backlog).
    pub async fn set_paused(&self, source: &SourceRecord, paused: bool) -> Result<(), SourceError> {
        self.catalog.set_source_paused(&source.id, paused).await?;
        if paused {
            self.catalog
                .cancel_queued_sync(&source.id, "cancelled: the source was paused")
                .await?;
        } else {
            // The scheduler sets the next time from now.
            self.catalog.set_next_sync_at(&source.id, None).await?;
        }
        Ok(())
    }

    /// Queues a sync of an unpaused source and wakes a worker; when one is already waiting, it
    /// is returned as [`Enqueued::AlreadyActive`] for the caller to report.
    pub async fn queue_sync(
        &self,
        source: &SourceRecord,
        trigger: &str,
    ) -> Result<Enqueued, SourceError> {
        if source.paused {
            return Err(SourceError::Paused {
                name: source.name.clone(),
            });
        }
        let queued = self
            .catalog
            .enqueue_sync(&source.tenant_id, &source.id, trigger)
            .await?;
        if let (Enqueued::New(_), Some(jobs)) = (&queued, self.jobs) {
            jobs.wake();
        }
        Ok(queued)
    }

    /// Removes a source that no sync is running: its documents' passages from the index first (a
    /// crash in between leaves catalog rows, and removing again finishes), then its catalog rows
    /// and uploaded files. Returns how many documents it had.
    pub async fn remove(
        &self,
        store: &dyn VectorStore,
        source: &SourceRecord,
    ) -> Result<i64, SourceError> {
        if let Some(active) = self.catalog.active_sync_run(&source.id).await?
            && active.status == "running"
        {
            return Err(SourceError::SyncRunning {
                name: source.name.clone(),
                run: active.id,
            });
        }
        for document in self.catalog.manifest(&source.id).await?.into_values() {
            store
                .delete_document_chunks(&source.tenant_id, &document.document_id, 0)
                .await?;
        }
        let documents = self.catalog.delete_source(&source.id).await?;
        self.catalog.bump_generation(&source.tenant_id).await?;
        let uploads = upload_dir(&self.config.data_dir, &source.id);
        if uploads.exists()
            && let Err(err) = tokio::fs::remove_dir_all(&uploads).await
        {
            tracing::warn!(%err, dir = %uploads.display(), "could not remove the uploaded files");
        }
        Ok(documents)
    }

    /// Puts per-file ACL rules first in an upload source's settings, replacing older rules for
    /// the same files (its other settings, a declared language included, stay).
    pub async fn add_file_rules(
        &self,
        source: &SourceRecord,
        rules: Vec<AclRule>,
    ) -> Result<SourceRecord, SourceError> {
        let mut settings = SourceSettings::stored(source)?;
        let KindSettings::Upload(upload) = &mut settings.per_kind else {
            return Err(SourceError::Invalid(format!(
                "source `{}` is a {} source; files can only be uploaded to upload sources",
                source.name, source.kind
            )));
        };
        upload
            .acl
            .rules
            .retain(|old| !rules.iter().any(|new| new.pattern == old.pattern));
        let mut merged = rules;
        merged.append(&mut upload.acl.rules);
        upload.acl.rules = merged;
        let update = SourceUpdate {
            settings: Some(&settings.to_json()?),
            ..SourceUpdate::default()
        };
        Ok(self.catalog.update_source(source, &update).await?)
    }

    /// For the operator only: records a folder source as the operator's, so its folder is read
    /// wherever it is, like one added with the CLI — for a source registered through the API,
    /// or before ragway recorded who registered it, that the operator vouches for. Its folder
    /// must exist now; it and every other setting stay as they are.
    pub async fn adopt_folder(&self, source: &SourceRecord) -> Result<SourceRecord, SourceError> {
        if self.folders != FolderAccess::Anywhere {
            return Err(SourceError::Invalid(
                "only the operator (the CLI) may take over a folder source".into(),
            ));
        }
        let mut settings = SourceSettings::stored(source)?;
        let KindSettings::Folder(folder) = &mut settings.per_kind else {
            return Err(SourceError::Invalid(format!(
                "source `{}` is a {} source, not a folder source",
                source.name, source.kind
            )));
        };
        // Kept as stored (document uris are relative to it); only checked to exist.
        self.folder_rules(&source.tenant_id)
            .check(&folder.path)
            .map_err(SettingsError::from)?;
        folder.registered_by = Some(FolderAccess::Anywhere);
        let update = SourceUpdate {
            settings: Some(&settings.to_json()?),
            ..SourceUpdate::default()
        };
        Ok(self.catalog.update_source(source, &update).await?)
    }

    /// What a sync of `source` reads, from its stored settings (`fallback`: the tenant's
    /// language, for documents too short to tell theirs); a folder is checked again against the
    /// rules it was registered under (see [`super::plan`]).
    pub fn sync_plan(
        &self,
        source: &SourceRecord,
        fallback: Option<Lang>,
    ) -> Result<SyncPlan<'a>, PlanError> {
        sync_plan(self.config, source, fallback)
    }

    /// Where a folder source of `tenant` may be, for this service's caller.
    fn folder_rules<'t>(&'t self, tenant: &'t str) -> FolderRules<'t> {
        FolderRules {
            access: self.folders,
            roots: &self.config.sources.folder_roots,
            data_dir: &self.config.data_dir,
            tenant,
        }
    }

    fn checked_schedule(&self, schedule: Option<&str>) -> Result<Option<String>, SourceError> {
        let Some(text) = schedule.map(str::trim).filter(|s| !s.is_empty()) else {
            return Ok(None);
        };
        Schedule::parse(text, Schedule::min_interval(&self.config.sources))
            .map_err(SourceError::Invalid)?;
        Ok(Some(text.to_owned()))
    }
}

fn checked_name(name: &str) -> Result<&str, SourceError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(SourceError::Invalid(
            "`name` must be 1 to 100 printable characters".into(),
        ));
    }
    Ok(name)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn folder(name: &str, settings: Value, schedule: Option<&str>) -> NewSource {
        NewSource {
            name: name.into(),
            kind: "folder".into(),
            settings,
            schedule: schedule.map(str::to_owned),
            paused: false,
            sync: false,
        }
    }

    /// The CLI's service takes any folder, and refuses what the admin API refuses otherwise,
    /// storing nothing.
    #[tokio::test]
    async fn the_operator_adds_any_folder_with_checked_settings() {
        let data = tempfile::tempdir().unwrap();
        let docs = tempfile::tempdir().unwrap();
        let catalog = Catalog::connect(&ragway_catalog::default_url(data.path()))
            .await
            .unwrap();
        catalog.ensure_tenant("acme").await.unwrap();
        let config = Config::default();
        let service = SourceService::operator(&catalog, &config);
        let path = docs.path();
        let refusals = [
            (
                json!({"path": path, "include": ["[a"]}),
                None,
                "invalid glob",
            ),
            (
                json!({"path": path, "acl": {"rules": [{"pattern": "hr/**", "groups": []}]}}),
                None,
                "names no group",
            ),
            (
                json!({"path": path, "language": "fr"}),
                None,
                "not supported",
            ),
            (json!({"path": path}), Some("every 1m"), "allowed minimum"),
        ];
        for (settings, schedule, reason) in refusals {
            let err = service
                .create("acme", folder("docs", settings, schedule))
                .await
                .unwrap_err()
                .to_string();
            assert!(err.contains(reason), "{err}");
        }
        assert!(catalog.sources("acme").await.unwrap().is_empty());

        let created = service
            .create(
                "acme",
                folder(" docs ", json!({"path": path}), Some(" every 6h ")),
            )
            .await
            .unwrap();
        assert_eq!(created.name, "docs");
        assert_eq!(created.schedule.as_deref(), Some("every 6h"));
        assert_eq!(
            created.settings,
            json!({
                "path": path.canonicalize().unwrap(),
                "include": [],
                "exclude": [],
                "acl": {"groups": [], "rules": []},
                "registered_by": "operator",
            })
        );
        // Through the API the same folder needs `folder_roots`.
        let api = FolderRules {
            access: FolderAccess::AllRoots,
            roots: &config.sources.folder_roots,
            data_dir: &config.data_dir,
            tenant: "acme",
        };
        let refused = SourceSettings::from_wire("folder", json!({"path": path}), &api).unwrap_err();
        assert!(refused.to_string().contains("folder_roots"), "{refused}");
    }
}
