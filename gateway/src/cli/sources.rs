//! `ragway sources …` (manage a tenant's sources) and `ragway sync` (run queued and due syncs,
//! then exit — for a CronJob, or when the gateway runs no sync workers).

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use ragway_catalog::{Enqueued, SourceRecord, TRIGGER_MANUAL};

use super::{out, output_lang};
use crate::config::Config;
use crate::error::GatewayError;
use crate::i18n::{fill, messages};
use crate::sources::{NewSource, SourceChanges, SourceError, SourceKind, SourceService};
use crate::state::AppState;

#[derive(Debug, Subcommand)]
pub enum SourcesCommand {
    /// List a tenant's sources with their last sync.
    List {
        #[arg(long)]
        tenant: String,
    },
    /// Add a folder source (a path on this server).
    AddFolder {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        name: String,
        path: PathBuf,
        /// `every 6h` or a 5-field cron expression (UTC).
        #[arg(long)]
        schedule: Option<String>,
    },
    /// Add a web source: start URLs and/or sitemaps, crawled within their hosts (robots.txt,
    /// conditional GET; only addresses `[sources.web]` allows).
    AddWeb {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        name: String,
        /// A start page (repeat for several).
        #[arg(long = "url")]
        urls: Vec<String>,
        /// A sitemap.xml or sitemap index (repeat for several).
        #[arg(long = "sitemap")]
        sitemaps: Vec<String>,
        #[arg(long, default_value_t = 3)]
        max_depth: u32,
        #[arg(long, default_value_t = 1000)]
        max_pages: u32,
        #[arg(long)]
        schedule: Option<String>,
    },
    /// Add an upload source (files sent through the admin API).
    AddUpload {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        name: String,
    },
    /// Take over a folder source as the operator: its folder is then read wherever it is, like
    /// one added with `add-folder`, instead of only inside `[sources] folder_roots` (for a source
    /// added through the admin API, or before ragway recorded who added each source, whose
    /// syncs are refused since its folder is outside the allowed folders).
    Adopt {
        #[arg(long)]
        tenant: String,
        name: String,
    },
    /// Set (or with `--clear`, remove) a source's schedule.
    Schedule {
        #[arg(long)]
        tenant: String,
        name: String,
        schedule: Option<String>,
        #[arg(long)]
        clear: bool,
    },
    /// Pause a source: no syncs until it is resumed.
    Pause {
        #[arg(long)]
        tenant: String,
        name: String,
    },
    /// Resume a paused source.
    Resume {
        #[arg(long)]
        tenant: String,
        name: String,
    },
    /// Remove a source with its documents and their passages. Stop `ragway serve` first (the
    /// embedded index is single-process) or use the admin API.
    Remove {
        #[arg(long)]
        tenant: String,
        name: String,
        /// Confirm: this cannot be undone.
        #[arg(long)]
        yes: bool,
    },
}

pub async fn sources(config: Config, command: SourcesCommand) -> Result<(), GatewayError> {
    let m = messages(output_lang(None, &config));
    let catalog = ragway_catalog::Catalog::connect(&config.database_url()).await?;
    let service = SourceService::operator(&catalog, &config);
    match command {
        SourcesCommand::List { tenant } => {
            catalog.require_tenant(&tenant).await?;
            for source in catalog.sources(&tenant).await? {
                let last = catalog.recent_sync_runs(&source.id, 1).await?;
                let last = last.first().map_or_else(
                    || m.src_never_synced.to_owned(),
                    |r| {
                        let at = r.finished_at.as_deref().unwrap_or(&r.started_at);
                        fill(m.src_last_sync, &[("status", &r.status), ("at", &at)])
                    },
                );
                out(format!(
                    "{}  {:<24} {:<7} {}{}  {}",
                    source.id,
                    source.name,
                    source.kind,
                    if source.paused { m.src_paused } else { "" },
                    source.schedule.as_deref().unwrap_or(m.src_no_schedule),
                    last
                ));
            }
        }
        SourcesCommand::AddFolder {
            tenant,
            name,
            path,
            schedule,
        } => {
            // Checked like the admin API's, except that the operator may name any folder.
            let settings = serde_json::json!({
                "path": path_text(&path)?, "include": [], "exclude": [], "acl": {},
            });
            let source = service
                .create(
                    &tenant,
                    created(&name, SourceKind::Folder, settings, schedule),
                )
                .await
                .map_err(cli_error)?;
            out(fill(
                m.src_created_folder,
                &[
                    ("id", &source.id),
                    ("tenant", &tenant),
                    ("name", &source.name),
                ],
            ));
        }
        SourcesCommand::AddWeb {
            tenant,
            name,
            urls,
            sitemaps,
            max_depth,
            max_pages,
            schedule,
        } => {
            let settings = serde_json::json!({
                "urls": urls, "sitemaps": sitemaps, "max_depth": max_depth, "max_pages": max_pages,
            });
            let source = service
                .create(&tenant, created(&name, SourceKind::Web, settings, schedule))
                .await
                .map_err(cli_error)?;
            out(fill(
                m.src_created_web,
                &[
                    ("id", &source.id),
                    ("tenant", &tenant),
                    ("name", &source.name),
                ],
            ));
        }
        SourcesCommand::AddUpload { tenant, name } => {
            let settings = serde_json::json!({"acl": {}});
            let source = service
                .create(&tenant, created(&name, SourceKind::Upload, settings, None))
                .await
                .map_err(cli_error)?;
            out(fill(
                m.src_created_upload,
                &[("id", &source.id), ("tenant", &tenant)],
            ));
        }
        SourcesCommand::Schedule {
            tenant,
            name,
            schedule,
            clear,
        } => {
            let source = named(&catalog, &tenant, &name).await?;
            if schedule.is_none() && !clear {
                return Err(GatewayError::Config(
                    "give a schedule (e.g. `every 6h`) or --clear".into(),
                ));
            }
            let changes = SourceChanges {
                schedule: Some(schedule),
                ..SourceChanges::default()
            };
            let updated = service.update(&source, changes).await.map_err(cli_error)?;
            let schedule = updated.schedule.as_deref().unwrap_or(m.src_none);
            out(fill(
                m.src_schedule,
                &[("name", &name), ("schedule", &schedule)],
            ));
        }
        SourcesCommand::Adopt { tenant, name } => {
            let source = named(&catalog, &tenant, &name).await?;
            let adopted = service.adopt_folder(&source).await.map_err(cli_error)?;
            let folder = adopted.settings["path"].as_str().unwrap_or_default();
            out(format!(
                "`{name}` of {tenant} now reads {folder} wherever it is (taken over by the operator); its next sync reads it"
            ));
        }
        SourcesCommand::Pause { tenant, name } => {
            let source = named(&catalog, &tenant, &name).await?;
            service.set_paused(&source, true).await.map_err(cli_error)?;
            out(fill(m.src_paused_done, &[("name", &name)]));
        }
        SourcesCommand::Resume { tenant, name } => {
            let source = named(&catalog, &tenant, &name).await?;
            service
                .set_paused(&source, false)
                .await
                .map_err(cli_error)?;
            out(fill(m.src_resumed, &[("name", &name)]));
        }
        SourcesCommand::Remove { tenant, name, yes } => {
            if !yes {
                return Err(GatewayError::Config(format!(
                    "removing `{name}` deletes its documents from the index; add --yes to confirm"
                )));
            }
            drop(catalog);
            let state = AppState::open(config).await?;
            // This process holds the index now: a sync left running was interrupted.
            state.recover_interrupted_syncs().await?;
            let source = named(&state.core.catalog, &tenant, &name).await?;
            let removed = SourceService::operator(&state.core.catalog, &state.core.config)
                .remove(&*state.store, &source)
                .await
                .map_err(cli_error)?;
            out(fill(m.src_removed, &[("name", &name), ("count", &removed)]));
        }
    }
    Ok(())
}

/// A source the CLI creates: unpaused, synced later (`ragway sync`, or its schedule).
fn created(
    name: &str,
    kind: SourceKind,
    settings: serde_json::Value,
    schedule: Option<String>,
) -> NewSource {
    NewSource {
        name: name.to_owned(),
        kind: kind.as_str().to_owned(),
        settings,
        schedule,
        paused: false,
        sync: false,
    }
}

/// A path as JSON text (settings are JSON; a name that is not UTF-8 cannot be stored).
fn path_text(path: &Path) -> Result<&str, GatewayError> {
    path.to_str().ok_or_else(|| {
        GatewayError::Config(format!(
            "cannot read {}: the path is not valid UTF-8",
            path.display()
        ))
    })
}

/// A refusal of the source service, as the CLI words it (catalog errors keep their kind, so
/// they are translated like every other).
fn cli_error(err: SourceError) -> GatewayError {
    match err {
        SourceError::Catalog(err) => err.into(),
        SourceError::Index(err) => err.into(),
        SourceError::Paused { name } => {
            GatewayError::Config(format!("`{name}` is paused; resume it first"))
        }
        other => GatewayError::Config(other.to_string()),
    }
}

async fn named(
    catalog: &ragway_catalog::Catalog,
    tenant: &str,
    name: &str,
) -> Result<SourceRecord, GatewayError> {
    catalog
        .source_by_name(tenant, name)
        .await?
        .ok_or_else(|| GatewayError::Config(format!("tenant `{tenant}` has no source `{name}`")))
}

#[derive(Debug, Args)]
pub struct SyncArgs {
    /// Only this tenant's source `--source` (queued now, unless paused).
    #[arg(long, requires = "source")]
    tenant: Option<String>,
    #[arg(long, requires = "tenant")]
    source: Option<String>,
}

/// Queues what is due (or the named source), runs every queued sync to its end, and exits
/// non-zero if any failed.
pub async fn sync(config: Config, args: SyncArgs) -> Result<(), GatewayError> {
    let lang = output_lang(None, &config);
    let m = messages(lang);
    let state = AppState::open(config).await?;
    state.recover_interrupted_syncs().await?;
    if let (Some(tenant), Some(name)) = (&args.tenant, &args.source) {
        let source = named(&state.core.catalog, tenant, name).await?;
        let service = SourceService::operator(&state.core.catalog, &state.core.config);
        if let Enqueued::AlreadyActive(run) = service
            .queue_sync(&source, TRIGGER_MANUAL)
            .await
            .map_err(cli_error)?
        {
            out(fill(
                m.sync_already,
                &[("name", name), ("status", &run.status), ("id", &run.id)],
            ));
        }
    } else {
        let queued = crate::sources::jobs::queue_due(&state, chrono::Utc::now()).await?;
        out(fill(m.sync_due, &[("count", &queued.len())]));
    }
    let mut failed = 0;
    while let Some(run) = state.core.catalog.claim_queued_sync().await? {
        let done = crate::sources::jobs::execute(&state, run).await;
        let message = done
            .message
            .as_deref()
            .map(|text| format!(" ({})", crate::i18n::error_text(lang, text)))
            .unwrap_or_default();
        out(fill(
            m.sync_done,
            &[
                ("id", &done.id),
                ("source", &done.source_id),
                ("status", &done.status),
                ("seen", &done.seen),
                ("added", &done.added),
                ("changed", &done.changed),
                ("removed", &done.removed),
                ("failed", &done.failed),
                ("message", &message),
            ],
        ));
        for failure in &done.failures {
            out(crate::i18n::cli_failed(lang, &failure.uri, &failure.reason));
        }
        if done.status != "succeeded" {
            failed += 1;
        }
    }
    if failed > 0 {
        return Err(GatewayError::Config(format!("{failed} sync(s) failed")));
    }
    Ok(())
}
