//! The `ragway` command line. Every command shares one config and data directory, so
//! `ragway ingest` then `ragway serve` just works.

mod admin;
mod admin_keys;
mod ask;
pub mod config_check;
mod eval;
pub mod index;
pub mod index_rebuild;
mod ingest;
mod serve;
mod sources;
mod widget_keys;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use ragway_ingest::lang::Lang;

use crate::config::{Config, LogFormat};
use crate::error::GatewayError;

#[derive(Debug, Parser)]
#[command(
    name = "ragway",
    version,
    about = "Grounded, cited answers from your company's documents"
)]
pub struct Cli {
    /// Configuration file (default: ./ragway.toml when present).
    #[arg(long, global = true, env = "RAGWAY_CONFIG")]
    config: Option<PathBuf>,
    /// Data directory: the embedded index and the SQLite catalog.
    #[arg(long, global = true, env = "RAGWAY_DATA_DIR")]
    data_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the HTTP gateway.
    Serve(serve::ServeArgs),
    /// Sync a folder of documents into a tenant's index (incremental).
    Ingest(ingest::IngestArgs),
    /// Ask a question from the terminal (streams the answer with citations).
    Ask(ask::AskArgs),
    /// Manage tenants.
    #[command(subcommand)]
    Tenants(admin::TenantsCommand),
    /// Manage tenant API keys.
    #[command(subcommand)]
    Keys(admin::KeysCommand),
    /// Manage admin keys (the admin API's credentials).
    #[command(subcommand)]
    AdminKeys(admin_keys::AdminKeysCommand),
    /// Manage a tenant's document sources (folders, uploads), their schedules and pauses.
    #[command(subcommand)]
    Sources(sources::SourcesCommand),
    /// Run the queued and due syncs (or `--tenant T --source S` now), then exit: for a CronJob, or
    /// when the gateway runs no sync workers.
    Sync(sources::SyncArgs),
    /// Manage web widget keys (public keys for the intranet chat widget) and their origins.
    #[command(subcommand)]
    WidgetKeys(widget_keys::WidgetKeysCommand),
    /// Measure retrieval quality (nDCG@10, Recall, MRR) and latency on a BEIR-layout dataset.
    Eval(eval::EvalArgs),
    /// Show a tenant's usage: requests, cache hits, LLM tokens and refusals, per day.
    Usage(admin_keys::UsageArgs),
    /// The vector index: migrate the embedded index to a Qdrant cluster, show what it holds.
    #[command(subcommand)]
    Index(index::IndexCommand),
    /// Check the configuration: every problem with its key, exit status 1 if any.
    #[command(subcommand)]
    Config(config_check::ConfigCommand),
}

impl Command {
    /// The command's own `--lang`, for the commands that have one.
    fn lang(&self) -> Option<Lang> {
        match self {
            Self::Ask(args) => args.lang,
            Self::Ingest(args) => args.lang,
            _ => None,
        }
    }
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    // The log format is configuration: read it first (a configuration error is reported on
    // stderr by `fail` like any other).
    let config = Config::load(cli.config.as_deref());
    let format = config
        .as_ref()
        .map_or(LogFormat::Text, |c| c.server.log_format);
    let telemetry = config
        .as_ref()
        .map(|c| c.telemetry.clone())
        .unwrap_or_default();
    let telemetry = crate::telemetry::init(format, &telemetry);
    if config.is_ok() {
        warn_ignored_environment();
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            telemetry.shutdown();
            return fail(&GatewayError::Io(err), env_lang().unwrap_or_default());
        }
    };
    let outcome = runtime.block_on(run(cli, config));
    // The runtime's tasks are gone; the spans they closed are sent before the process exits.
    drop(runtime);
    telemetry.shutdown();
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err((err, lang)) => fail(&err, lang),
    }
}

/// Says why the command failed, in the language of its output.
fn fail(err: &GatewayError, lang: Lang) -> ExitCode {
    let text = crate::i18n::error_text(lang, &err.to_string());
    let _ = writeln!(std::io::stderr(), "error: {text}");
    ExitCode::FAILURE
}

/// Says which `RAGWAY_*` variables were not taken as configuration (Kubernetes service links).
fn warn_ignored_environment() {
    for (name, _) in std::env::vars() {
        if let Some(rest) = name.strip_prefix("RAGWAY_")
            && !crate::config::is_config_variable(rest)
        {
            tracing::warn!(variable = %name, "ignored: not a ragway configuration key");
        }
    }
}

/// Runs the command; a failure comes with the language to report it in (the configuration's
/// fallback language is only known once the configuration loaded).
async fn run(cli: Cli, config: Result<Config, GatewayError>) -> Result<(), (GatewayError, Lang)> {
    let mut config = match config {
        Ok(config) => config,
        Err(err) => return Err((err, env_lang().unwrap_or_default())),
    };
    if let Some(dir) = cli.data_dir {
        config.data_dir = dir;
    }
    let lang = output_lang(cli.command.lang(), &config);
    execute(cli.command, config)
        .await
        .map_err(|err| (err, lang))
}

async fn execute(command: Command, config: Config) -> Result<(), GatewayError> {
    match command {
        Command::Serve(args) => serve::run(config, args).await,
        Command::Ingest(args) => ingest::run(config, args).await,
        Command::Ask(args) => ask::run(config, args).await,
        Command::Tenants(command) => admin::tenants(config, command).await,
        Command::Keys(command) => admin::keys(config, command).await,
        Command::AdminKeys(command) => admin_keys::admin_keys(config, command).await,
        Command::Sources(command) => sources::sources(config, command).await,
        Command::Sync(args) => sources::sync(config, args).await,
        Command::WidgetKeys(command) => widget_keys::widget_keys(config, command).await,
        Command::Usage(args) => admin_keys::usage(config, args).await,
        Command::Eval(args) => eval::run(config, args).await,
        Command::Config(command) => config_check::config(config, command).await,
        Command::Index(command) => index::index(config, command).await,
    }
}

/// The language of command output: `--lang` when given, else the locale of the environment
/// (`LC_ALL`, `LC_MESSAGES`, `LANG`, the first one set: `es_MX.UTF-8` → es), else `language`
/// from the configuration. `C`/`POSIX` locales express no preference.
pub(crate) fn output_lang(flag: Option<Lang>, config: &Config) -> Lang {
    flag.or_else(env_lang).unwrap_or(config.language)
}

/// The language of the environment's locale, if it names one.
fn env_lang() -> Option<Lang> {
    ["LC_ALL", "LC_MESSAGES", "LANG"]
        .iter()
        .filter_map(|name| std::env::var(name).ok())
        .find(|value| !value.is_empty())
        .and_then(|value| Lang::from_tag(&value))
}

/// Writes a line of command output (stdout is the CLI's product; logs go to stderr).
pub(crate) fn out(line: impl std::fmt::Display) {
    let _ = writeln!(std::io::stdout(), "{line}");
}
