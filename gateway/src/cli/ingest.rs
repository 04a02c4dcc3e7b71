use std::path::{Path, PathBuf};

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use ragway_ingest::SyncReport;
use ragway_ingest::lang::Lang;
use ragway_ingest::source::{AclConfig, AclRule, FolderSourceConfig};
use ragway_ingest::sync::{DocumentOutcome, SyncEvent};

use super::out;
use crate::config::Config;
use crate::error::GatewayError;
use crate::i18n;
use crate::state::AppState;

#[derive(Debug, Args)]
pub struct IngestArgs {
    /// Tenant that owns the documents.
    #[arg(long)]
    tenant: String,
    /// Source name (default: the folder's name); re-using a name syncs the same source incrementally.
    #[arg(long)]
    source: Option<String>,
    /// Only files matching these globs (relative to the folder), e.g. `--include 'it/**'`.
    #[arg(long)]
    include: Vec<String>,
    /// Skip files matching these globs.
    #[arg(long)]
    exclude: Vec<String>,
    /// Only members of this group may see the documents (repeat for several; default: the whole
    /// tenant). Per-path rules (`--acl`) take precedence.
    #[arg(long = "group")]
    groups: Vec<String>,
    /// A per-path rule `GLOB=group1,group2`, e.g. `--acl 'hr/**=hr,managers'` (first match wins).
    #[arg(long = "acl", value_parser = parse_acl_rule)]
    acl: Vec<AclRule>,
    /// Language of the output (`es`, `en`; default: the locale, e.g. `LANG=es_MX.UTF-8`).
    #[arg(long)]
    pub(super) lang: Option<Lang>,
    /// Folder to sync.
    dir: PathBuf,
}

pub async fn run(config: Config, args: IngestArgs) -> Result<(), GatewayError> {
    let lang = super::output_lang(args.lang, &config);
    let state = AppState::open(config).await?;
    state.recover_interrupted_syncs().await?;
    let source = args
        .source
        .clone()
        .unwrap_or_else(|| folder_name(&args.dir));
    let globs = FolderSourceConfig {
        include: args.include,
        exclude: args.exclude,
        acl: AclConfig {
            groups: args.groups,
            rules: args.acl,
        },
    };
    let report = sync_folder(&state, &args.tenant, &source, &args.dir, &globs, lang).await?;
    print_summary(&report, lang);
    Ok(())
}

fn parse_acl_rule(rule: &str) -> Result<AclRule, String> {
    let (pattern, groups) = rule
        .split_once('=')
        .ok_or_else(|| format!("`{rule}`: expected GLOB=group1,group2"))?;
    let groups: Vec<String> = groups
        .split(',')
        .map(str::trim)
        .filter(|g| !g.is_empty())
        .map(str::to_owned)
        .collect();
    if pattern.trim().is_empty() || groups.is_empty() {
        return Err(format!("`{rule}`: expected GLOB=group1,group2"));
    }
    Ok(AclRule {
        pattern: pattern.trim().to_owned(),
        groups,
    })
}

pub fn folder_name(dir: &Path) -> String {
    dir.canonicalize()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "folder".to_owned())
}

/// Syncs with a progress bar on the terminal.
pub async fn sync_folder(
    state: &AppState,
    tenant: &str,
    source: &str,
    dir: &Path,
    globs: &FolderSourceConfig,
    lang: Lang,
) -> Result<SyncReport, GatewayError> {
    let messages = i18n::messages(lang);
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{bar:30}] {pos}/{len} {wide_msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    let progress = |event: &SyncEvent| match event {
        SyncEvent::Listed { total } => bar.set_length(*total as u64),
        SyncEvent::Document { uri, outcome } => {
            bar.inc(1);
            if let DocumentOutcome::Failed(reason) = outcome {
                bar.println(i18n::cli_failed(lang, uri, reason));
            }
            bar.set_message(uri.clone());
        }
        SyncEvent::Removed { uri } => {
            bar.println(i18n::fill(messages.cli_removed, &[("uri", uri)]))
        }
        SyncEvent::Read { .. } => {}
    };
    let result = state
        .indexer
        .sync_folder(tenant, source, dir, globs, &progress)
        .await;
    bar.finish_and_clear();
    Ok(result?)
}

pub fn print_summary(report: &SyncReport, lang: Lang) {
    let messages = i18n::messages(lang);
    let mb = format!("{:.1}", report.bytes as f64 / 1_000_000.0);
    out(i18n::fill(
        messages.cli_synced,
        &[
            ("seen", &report.seen),
            ("added", &report.added),
            ("changed", &report.changed),
            ("unchanged", &report.unchanged),
            ("removed", &report.removed),
            ("failed", &report.failures.len()),
            ("chunks", &report.chunks_written),
            ("mb", &mb),
            ("generation", &report.generation),
        ],
    ));
    if report.acl_changed > 0 {
        out(i18n::fill(
            messages.cli_acl_changed,
            &[("count", &report.acl_changed)],
        ));
    }
    if report.unsupported > 0 {
        out(i18n::fill(
            messages.cli_unsupported,
            &[("count", &report.unsupported)],
        ));
    }
    for failure in &report.failures {
        out(i18n::cli_failed(lang, &failure.uri, &failure.reason));
    }
}
