//! `ragway index …`: moving the embedded index to a Qdrant server or cluster without
//! re-embedding (`migrate`), and what the configured index holds (`status`).

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use ragway_catalog::Catalog;
use ragway_ingest::store::{EdgeStore, Generations, QdrantSettings, QdrantStore, VectorStore};
use serde::{Deserialize, Serialize};

use super::out;
use crate::config::{Config, IndexBackend};
use crate::error::GatewayError;

#[derive(Debug, Subcommand)]
pub enum IndexCommand {
    /// Copy every tenant's points (vectors and payloads) from the embedded index in the data
    /// directory to a Qdrant collection, in batches, resumable, then verify counts per tenant.
    Migrate(MigrateArgs),
    /// Show the configured index: backend, collection and generation, points per tenant.
    Status,
    /// Re-index every source into a new generation of the Qdrant collection (the current analysis
    /// settings: embedding model, chunking, BM25) while questions are answered from the current
    /// one, then switch the alias to it atomically. Run it with no sync running.
    Rebuild {
        /// Drop the previous generation once the alias points at the new one (default: keep it
        /// for `ragway index switch`).
        #[arg(long)]
        drop_previous: bool,
    },
    /// Point the alias at another generation (roll back a rebuild).
    Switch { generation: u32 },
    /// Drop a generation questions are not answered from.
    Drop { generation: u32 },
    /// Compact the embedded index now (syncs do it after every change; a Qdrant server does it
    /// on its own): build the indexes of large segments, merge small ones, drop deleted points.
    Optimize,
}

#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// Qdrant's gRPC URL (default: `[index] url`).
    #[arg(long)]
    pub to: Option<String>,
    /// The target alias (default: `[index] collection`).
    #[arg(long)]
    pub collection: Option<String>,
    /// Points per request.
    #[arg(long, default_value_t = 256)]
    pub batch: usize,
    /// Start from the first point instead of resuming an interrupted migration.
    #[arg(long)]
    pub restart: bool,
}

pub async fn index(config: Config, command: IndexCommand) -> Result<(), GatewayError> {
    match command {
        IndexCommand::Migrate(args) => {
            let target = migration_target(&config, &args)?;
            let bar = ProgressBar::new(0);
            bar.set_style(
                ProgressStyle::with_template(
                    "copy [{bar:30}] {pos}/{len} points {per_sec} eta {eta}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            let progress = |done: u64, total: u64| {
                bar.set_length(total);
                bar.set_position(done);
            };
            let report = migrate(
                &config,
                &target,
                &MigrateOptions {
                    batch: args.batch,
                    restart: args.restart,
                    stop_after_batches: None,
                },
                &progress,
            )
            .await;
            bar.finish_and_clear();
            let report = report?;
            for (tenant, points) in &report.tenants {
                out(format!("{tenant}: {points} points, verified"));
            }
            out(format!(
                "copied {} points to {} at {} ({} resumed from an interrupted run); switch with \
                 [index] backend = \"qdrant\", url = \"{}\", collection = \"{}\"",
                report.copied,
                target.collection,
                target.url,
                report.resumed,
                target.url,
                target.collection
            ));
            Ok(())
        }
        IndexCommand::Status => status(&config).await,
        IndexCommand::Rebuild { drop_previous } => {
            let report = super::index_rebuild::rebuild(&config, drop_previous).await?;
            for failure in &report.failures {
                out(format!("not indexed: {failure}"));
            }
            for (tenant, points) in &report.tenants {
                out(format!("{tenant}: {points} points"));
            }
            out(format!(
                "questions are answered from {} now{}",
                report.generation.collection,
                report.previous.map_or_else(String::new, |p| format!(
                    " (previous: generation {}, {})",
                    p.number,
                    if drop_previous {
                        "dropped"
                    } else {
                        "kept; `ragway index switch` goes back"
                    }
                ))
            ));
            Ok(())
        }
        IndexCommand::Switch { generation } => {
            let previous = super::index_rebuild::switch(&config, generation).await?;
            out(format!(
                "questions are answered from generation {generation} now (was {})",
                previous.map_or_else(|| "none".to_owned(), |p| p.number.to_string())
            ));
            Ok(())
        }
        IndexCommand::Drop { generation } => {
            let dropped = super::index_rebuild::drop_generation(&config, generation).await?;
            out(format!("dropped {}", dropped.collection));
            Ok(())
        }
        IndexCommand::Optimize => {
            let state = crate::state::AppState::open(config).await?;
            let started = std::time::Instant::now();
            let changed = state.store.optimize().await?;
            out(format!(
                "{} in {:.1} s",
                if changed {
                    "optimized"
                } else {
                    "nothing to optimize"
                },
                started.elapsed().as_secs_f64()
            ));
            Ok(())
        }
    }
}

fn migration_target(config: &Config, args: &MigrateArgs) -> Result<QdrantSettings, GatewayError> {
    let mut index = config.index.clone();
    index.backend = IndexBackend::Qdrant;
    if let Some(url) = &args.to {
        index.url = Some(url.clone());
    }
    if let Some(collection) = &args.collection {
        index.collection = collection.clone();
    }
    index.qdrant_settings(&|name| std::env::var(name).ok())
}

/// How a migration runs (`stop_after_batches` interrupts it on purpose, for tests).
#[derive(Debug, Clone)]
pub struct MigrateOptions {
    pub batch: usize,
    pub restart: bool,
    pub stop_after_batches: Option<usize>,
}

/// What a finished migration copied and verified.
#[derive(Debug, Clone, PartialEq)]
pub struct MigrateReport {
    pub copied: u64,
    /// Points copied by earlier, interrupted runs.
    pub resumed: u64,
    /// Points per tenant, equal on both sides.
    pub tenants: Vec<(String, usize)>,
}

/// Where an interrupted migration continues: the last point copied, per target.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
struct Checkpoint {
    url: String,
    collection: String,
    /// Tenants copied whole.
    #[serde(default)]
    finished: Vec<String>,
    /// The tenant being copied, and its next point.
    #[serde(default)]
    tenant: Option<String>,
    after: Option<uuid::Uuid>,
    copied: u64,
}

fn checkpoint_path(config: &Config) -> PathBuf {
    config.index_dir().join("migration.json")
}

fn read_checkpoint(path: &Path, target: &QdrantSettings) -> Option<Checkpoint> {
    let text = std::fs::read_to_string(path).ok()?;
    let checkpoint: Checkpoint = serde_json::from_str(&text).ok()?;
    // A point to continue from without its tenant: written before shards per tenant.
    let whole = checkpoint.after.is_none() || checkpoint.tenant.is_some();
    (whole && checkpoint.url == target.url && checkpoint.collection == target.collection)
        .then_some(checkpoint)
}

fn write_checkpoint(path: &Path, checkpoint: &Checkpoint) -> Result<(), GatewayError> {
    let text =
        serde_json::to_string(checkpoint).map_err(|e| GatewayError::Config(e.to_string()))?;
    // Written whole, then renamed: a crash never leaves half a checkpoint.
    let partial = path.with_extension("json.part");
    std::fs::write(&partial, text).map_err(GatewayError::Io)?;
    std::fs::rename(&partial, path).map_err(GatewayError::Io)
}

/// Copies the embedded index of `config`'s data directory into `target`, batch by batch; every
/// batch is checkpointed, so an interrupted run resumes where it stopped (upserts of the same ids
/// are idempotent, so a batch copied twice changes nothing). Ends by comparing each tenant's
/// point count on both sides.
pub async fn migrate(
    config: &Config,
    target: &QdrantSettings,
    options: &MigrateOptions,
    progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<MigrateReport, GatewayError> {
    let dir = config.index_dir();
    if !EdgeStore::exists(&dir) {
        return Err(GatewayError::Config(format!(
            "there is no embedded index at {} to migrate",
            dir.display()
        )));
    }
    let source = EdgeStore::open(&dir, None).await?;
    let dense = source.stored_dense_dimensions();
    let store = QdrantStore::connect(target, dense).await?;
    let catalog = Catalog::connect(&config.database_url()).await?;
    let tenants: Vec<String> = catalog.tenants().await?.into_iter().map(|t| t.id).collect();
    let mut total = 0;
    for tenant in &tenants {
        total += source.count(tenant).await?;
    }
    let total = total as u64;

    let path = checkpoint_path(config);
    let mut checkpoint = match read_checkpoint(&path, target) {
        Some(checkpoint) if !options.restart => checkpoint,
        _ => Checkpoint {
            url: target.url.clone(),
            collection: target.collection.clone(),
            ..Checkpoint::default()
        },
    };
    let resumed = checkpoint.copied;
    progress(resumed.min(total), total);
    let mut batches = 0;
    for tenant in source.tenants()? {
        if checkpoint.finished.contains(&tenant) {
            continue;
        }
        if checkpoint.tenant.as_ref() != Some(&tenant) {
            checkpoint.tenant = Some(tenant.clone());
            checkpoint.after = None;
        }
        loop {
            if options.stop_after_batches == Some(batches) {
                return Err(GatewayError::Config(format!(
                    "migration interrupted after {} points; run it again to resume",
                    checkpoint.copied
                )));
            }
            let (points, next) = source
                .scroll(&tenant, checkpoint.after, options.batch.max(1))
                .await?;
            let count = points.len() as u64;
            store.upsert(points).await?;
            checkpoint.copied += count;
            checkpoint.after = next;
            if next.is_none() {
                checkpoint.finished.push(tenant.clone());
                checkpoint.tenant = None;
            }
            write_checkpoint(&path, &checkpoint)?;
            progress(checkpoint.copied.min(total), total);
            batches += 1;
            if next.is_none() {
                break;
            }
        }
    }

    let mut verified = Vec::with_capacity(tenants.len());
    let mut differences = Vec::new();
    for tenant in tenants {
        let (here, there) = (source.count(&tenant).await?, store.count(&tenant).await?);
        if here == there {
            verified.push((tenant, here));
        } else {
            differences.push(format!("{tenant}: {here} embedded, {there} in Qdrant"));
        }
    }
    if !differences.is_empty() {
        return Err(GatewayError::Config(format!(
            "the copy does not match the embedded index ({}); run the migration again with --restart",
            differences.join("; ")
        )));
    }
    let _ = std::fs::remove_file(&path);
    Ok(MigrateReport {
        copied: checkpoint.copied - resumed,
        resumed,
        tenants: verified,
    })
}

async fn status(config: &Config) -> Result<(), GatewayError> {
    // Opened as `serve` opens it (the embedder decides the dense dimension it must have).
    let state = crate::state::AppState::open(config.clone()).await?;
    match config.index.backend {
        IndexBackend::Edge => out(format!("index: embedded, {}", config.index_dir().display())),
        IndexBackend::Qdrant => {
            let settings = config
                .index
                .qdrant_settings(&|name| std::env::var(name).ok())?;
            let current = Generations::new(&settings)?.current().await?;
            out(format!(
                "index: Qdrant at {}, collection {} ({})",
                settings.url,
                settings.collection,
                current.map_or_else(
                    || "a plain collection".to_owned(),
                    |g| format!("generation {}: {}", g.number, g.collection)
                )
            ));
        }
    }
    for tenant in state.core.catalog.tenants().await? {
        out(format!(
            "{}: {} points",
            tenant.id,
            state.store.count(&tenant.id).await?
        ));
    }
    Ok(())
}
