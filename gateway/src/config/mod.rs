//! `ragway.toml` (unknown keys rejected) with `RAGWAY_…` environment overrides. Zero config works:
//! data in `./data`, BM25 retrieval, extractive answers, 127.0.0.1:8080.
//!
//! Overrides: `RAGWAY_ADDR`, `RAGWAY_DATA_DIR`, and any key as `RAGWAY_<SECTION>__<KEY>`
//! (e.g. `RAGWAY_LLM__MODEL=gpt-4o-mini`); `DATABASE_URL` for the catalog; `QDRANT_URL` for a
//! Qdrant server or cluster as the index; `OPENAI_API_KEY`
//! alone turns on generative answers with OpenAI's defaults.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use ragway_ingest::chunk::ChunkerConfig;
use ragway_ingest::embed::Bm25Config;
use ragway_ingest::lang::Lang;
use serde::Deserialize;

pub mod cache;
pub mod embeddings;
pub mod index;
pub mod ingest;
pub mod limits;
pub mod retrieval;
pub mod slack;
pub mod sources;
pub mod teams;
pub mod telemetry;
pub mod widget;

pub use cache::CacheConfig;
pub use embeddings::EmbeddingsConfig;
pub use index::{IndexBackend, IndexConfig};
pub use ingest::IngestConfig;
pub use limits::LimitsConfig;
pub use retrieval::RetrievalConfig;
pub use slack::SlackConfig;
pub use sources::SourcesConfig;
pub use teams::TeamsConfig;
pub use telemetry::TelemetryConfig;
pub use widget::WidgetConfig;

use crate::error::GatewayError;

/// The top-level keys of [`Config`]: `RAGWAY_<KEY>` (or `RAGWAY_<KEY>__…`) overrides one of them;
/// any other `RAGWAY_*` variable is ignored with a warning.
pub const TOP_LEVEL_KEYS: [&str; 22] = [
    "addr",
    "data_dir",
    "database_url",
    "prompts_dir",
    "language",
    "server",
    "chunking",
    "bm25",
    "retrieval",
    "ingest",
    "index",
    "sources",
    "copilot",
    "conversation",
    "limits",
    "cache",
    "embeddings",
    "llm",
    "slack",
    "teams",
    "widget",
    "telemetry",
];

/// Whether `RAGWAY_<rest>` overrides a configuration key (`RAGWAY_CONFIG` and `RAGWAY_LOG` are
/// the CLI's own; anything else outside [`TOP_LEVEL_KEYS`] is ignored).
pub fn is_config_variable(rest: &str) -> bool {
    if rest == "CONFIG" || rest == "LOG" || rest == "DATA_DIR" {
        return true;
    }
    let first = rest
        .split("__")
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    TOP_LEVEL_KEYS.contains(&first.as_str())
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub addr: SocketAddr,
    pub data_dir: PathBuf,
    /// Catalog URL; `sqlite://<data_dir>/catalog.db` when unset.
    pub database_url: Option<String>,
    /// Directory whose templates override the built-in `prompts/`.
    pub prompts_dir: Option<PathBuf>,
    /// Language (`en`, `es`) of answers to questions too short to tell theirs, of messages sent
    /// before any question, and of tenants that set none.
    pub language: Lang,
    pub server: ServerConfig,
    pub chunking: ChunkerConfig,
    pub bm25: Bm25Config,
    pub retrieval: RetrievalConfig,
    pub ingest: IngestConfig,
    /// Where the vector index lives: embedded (default) or a Qdrant server/cluster.
    pub index: IndexConfig,
    /// Sources managed through the admin API: allowed folders, sync workers, upload limits.
    pub sources: SourcesConfig,
    pub copilot: CopilotConfig,
    pub conversation: ConversationConfig,
    pub limits: LimitsConfig,
    pub cache: CacheConfig,
    pub embeddings: Option<EmbeddingsConfig>,
    pub llm: Option<LlmConfig>,
    /// The Slack bot (absent: off).
    pub slack: Option<SlackConfig>,
    /// The Microsoft Teams bot (absent: off).
    pub teams: Option<TeamsConfig>,
    /// The employee web chat widget (always on; it answers only for pages its keys allow).
    pub widget: WidgetConfig,
    /// OpenTelemetry traces (off unless an OTLP endpoint is set).
    pub telemetry: TelemetryConfig,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("data"),
            database_url: None,
            prompts_dir: None,
            language: Lang::default(),
            server: ServerConfig::default(),
            chunking: ChunkerConfig::default(),
            bm25: Bm25Config::default(),
            retrieval: RetrievalConfig::default(),
            ingest: IngestConfig::default(),
            index: IndexConfig::default(),
            sources: SourcesConfig::default(),
            copilot: CopilotConfig::default(),
            conversation: ConversationConfig::default(),
            limits: LimitsConfig::default(),
            cache: CacheConfig::default(),
            embeddings: None,
            llm: None,
            slack: None,
            teams: None,
            widget: WidgetConfig::default(),
            telemetry: TelemetryConfig::default(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    pub max_body_bytes: usize,
    pub request_timeout_secs: u64,
    pub max_question_chars: usize,
    /// Seconds in-flight streams get to finish on shutdown.
    pub shutdown_grace_secs: u64,
    /// Serve `/metrics` on this separate address (e.g. an internal port) instead of the main one.
    pub metrics_addr: Option<std::net::SocketAddr>,
    /// Seconds between writes of the usage counters to the catalog.
    pub usage_flush_secs: u64,
    /// `text` (default, for a terminal) or `json` (one object per line, with the request's span
    /// fields: request id, channel, tenant, profile — for log collectors).
    pub log_format: LogFormat,
    /// Answers this process works on at once, all tenants together (0: unlimited). Past it a
    /// question is refused at once with 503 and `Retry-After` rather than queued: a queue on a
    /// saturated CPU slows every answer and holds every waiting request's memory.
    pub max_answers_in_flight: usize,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            max_body_bytes: 64 * 1024,
            request_timeout_secs: 300,
            max_question_chars: 4000,
            shutdown_grace_secs: 20,
            metrics_addr: None,
            usage_flush_secs: 5,
            log_format: LogFormat::Text,
            max_answers_in_flight: 512,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConversationConfig {
    /// Tokens of earlier turns sent with a question; the oldest turns are dropped first.
    pub history_tokens: usize,
    /// Stored turns loaded for a conversation.
    pub max_turns: i64,
    /// Conversations untouched for this many days are deleted.
    pub retention_days: u32,
    /// Rewrite follow-up questions into standalone search queries (needs an LLM).
    pub rewrite_follow_ups: bool,
}

impl Default for ConversationConfig {
    fn default() -> Self {
        Self {
            history_tokens: 2000,
            max_turns: 40,
            retention_days: 30,
            rewrite_follow_ups: true,
        }
    }
}

/// The copilot profiles callers choose from (the `model` of the OpenAI-compatible API, the
/// `profile` of the native one). The default profile answers with `[llm]` (extractive without
/// it); `[copilot.profiles.<id>]` adds more; `[copilot.tenants.<tenant>]` restricts a tenant.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CopilotConfig {
    /// The default profile's id.
    pub model: String,
    /// What `GET /v1/models` says about the default profile.
    pub description: String,
    pub profiles: std::collections::BTreeMap<String, ProfileConfig>,
    pub tenants: std::collections::BTreeMap<String, TenantCopilotConfig>,
}

impl Default for CopilotConfig {
    fn default() -> Self {
        Self {
            model: "ragway".into(),
            description: "Answers from your organisation's documents, with citations".into(),
            profiles: std::collections::BTreeMap::new(),
            tenants: std::collections::BTreeMap::new(),
        }
    }
}

/// One more copilot profile: its own LLM (endpoint, timeouts, fallback chain) and retrieval depth.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileConfig {
    #[serde(default)]
    pub description: String,
    /// None: extractive answers (quoted passages, no LLM).
    #[serde(default)]
    pub llm: Option<LlmConfig>,
    /// Passages retrieved by default (else `retrieval.top_k`).
    #[serde(default)]
    pub top_k: Option<usize>,
}

/// The profiles one tenant may use.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TenantCopilotConfig {
    /// Profile ids (default profile included or not).
    pub profiles: Vec<String>,
    /// Used when a request names none (default: the first of `profiles`).
    #[serde(default)]
    pub default: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LlmConfig {
    /// OpenAI-compatible base URL, e.g. `https://api.openai.com/v1`, `http://localhost:11434/v1`.
    pub base_url: String,
    pub model: String,
    #[serde(default = "default_api_key_env")]
    pub api_key_env: Option<String>,
    #[serde(default = "default_context_window")]
    pub context_window: usize,
    #[serde(default = "default_max_completion_tokens")]
    pub max_completion_tokens: usize,
    #[serde(default)]
    pub temperature: Option<f32>,
    #[serde(default = "default_max_retries")]
    pub max_retries: usize,
    /// Whole answer, from the request to the last token.
    #[serde(default = "default_timeout_secs")]
    pub timeout_secs: u64,
    #[serde(default = "default_connect_timeout_secs")]
    pub connect_timeout_secs: u64,
    /// From the request to the first token of the answer (retries included).
    #[serde(default = "default_first_token_timeout_secs")]
    pub first_token_timeout_secs: u64,
    /// After the first token (passed on at once), text is held at most this long so that tokens
    /// arriving close together reach the caller in one piece; 0 passes on every event.
    #[serde(default = "default_stream_flush_ms")]
    pub stream_flush_ms: u64,
    /// Azure OpenAI deployments API: set the `api-version`; `model` is then the deployment name.
    #[serde(default)]
    pub api_version: Option<String>,
    /// Endpoints tried in order when this one fails before its first token (their own
    /// `fallbacks` are ignored).
    #[serde(default)]
    pub fallbacks: Vec<LlmConfig>,
    #[serde(default)]
    pub circuit_breaker: BreakerConfig,
}

/// Per endpoint: after `failures` consecutive failures, skip it for `cooldown_secs`, then let one
/// trial request through (half-open).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BreakerConfig {
    pub failures: u32,
    pub cooldown_secs: u64,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        Self {
            failures: 5,
            cooldown_secs: 30,
        }
    }
}

fn default_api_key_env() -> Option<String> {
    Some("OPENAI_API_KEY".into())
}
fn default_context_window() -> usize {
    16_384
}
fn default_max_completion_tokens() -> usize {
    1024
}
fn default_max_retries() -> usize {
    2
}
fn default_timeout_secs() -> u64 {
    120
}
fn default_connect_timeout_secs() -> u64 {
    10
}
fn default_first_token_timeout_secs() -> u64 {
    30
}

fn default_stream_flush_ms() -> u64 {
    LlmConfig::DEFAULT_STREAM_FLUSH_MS
}

impl LlmConfig {
    /// 20 ms: 50 updates a second, smoother than a reader can tell apart.
    pub const DEFAULT_STREAM_FLUSH_MS: u64 = 20;

    /// What `OPENAI_API_KEY` alone means.
    fn openai_default() -> Self {
        Self {
            base_url: "https://api.openai.com/v1".into(),
            model: "gpt-4o-mini".into(),
            api_key_env: default_api_key_env(),
            context_window: 128_000,
            max_completion_tokens: default_max_completion_tokens(),
            temperature: None,
            max_retries: default_max_retries(),
            timeout_secs: default_timeout_secs(),
            connect_timeout_secs: default_connect_timeout_secs(),
            first_token_timeout_secs: default_first_token_timeout_secs(),
            stream_flush_ms: default_stream_flush_ms(),
            api_version: None,
            fallbacks: Vec::new(),
            circuit_breaker: BreakerConfig::default(),
        }
    }
}

impl Config {
    /// Loads `path` (or `./ragway.toml` when present), then applies the environment.
    pub fn load(path: Option<&Path>) -> Result<Self, GatewayError> {
        let default_path = Path::new("ragway.toml");
        let path = path.or_else(|| default_path.exists().then_some(default_path));
        let text = match path {
            Some(path) => std::fs::read_to_string(path).map_err(|e| {
                GatewayError::Config(format!("cannot read {}: {e}", path.display()))
            })?,
            None => String::new(),
        };
        Self::from_toml_and_env(&text, std::env::vars())
    }

    pub fn from_toml_and_env(
        text: &str,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, GatewayError> {
        let mut value: toml::Table =
            toml::from_str(text).map_err(|e| GatewayError::Config(format!("ragway.toml: {e}")))?;
        let mut openai_key_set = false;
        for (name, raw) in env {
            if name == "OPENAI_API_KEY" {
                openai_key_set = !raw.is_empty();
                continue;
            }
            let path: Vec<String> = if name == "DATABASE_URL" {
                vec!["database_url".into()]
            } else if name == "QDRANT_URL" {
                // Like DATABASE_URL: the conventional variable alone points ragway at a server.
                if raw.is_empty() {
                    continue;
                }
                let backend = vec!["index".to_owned(), "backend".to_owned()];
                set_path(&mut value, &backend, toml::Value::String("qdrant".into()));
                vec!["index".into(), "url".into()]
            } else if let Some(rest) = name.strip_prefix("RAGWAY_") {
                if rest == "CONFIG" || rest == "LOG" {
                    continue;
                }
                if !is_config_variable(rest) {
                    // Kubernetes injects `RAGWAY_PORT=tcp://…`, `RAGWAY_SERVICE_HOST`, … into
                    // every pod of a namespace with a Service named `ragway`: not ours, not fatal
                    // (the CLI warns once logging is set up). Keys inside a known section stay
                    // strict: a typo there is still an error.
                    continue;
                }
                rest.split("__").map(str::to_ascii_lowercase).collect()
            } else {
                continue;
            };
            set_path(&mut value, &path, env_value(&raw));
        }
        let mut config: Config = toml::Value::Table(value)
            .try_into()
            .map_err(|e| GatewayError::Config(format!("configuration: {e}")))?;
        if config.llm.is_none() && openai_key_set {
            config.llm = Some(LlmConfig::openai_default());
        }
        Ok(config)
    }

    pub fn database_url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| ragway_catalog::default_url(&self.data_dir))
    }

    pub fn index_dir(&self) -> PathBuf {
        self.data_dir.join("index")
    }
}

/// Numbers and booleans keep their type; anything else is a string.
fn env_value(raw: &str) -> toml::Value {
    match toml::from_str::<toml::Table>(&format!("v = {raw}")) {
        Ok(mut table) => table
            .remove("v")
            .unwrap_or_else(|| toml::Value::String(raw.into())),
        Err(_) => toml::Value::String(raw.into()),
    }
}

fn set_path(table: &mut toml::Table, path: &[String], value: toml::Value) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut current = table;
    for key in parents {
        let entry = current
            .entry(key.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        if !entry.is_table() {
            *entry = toml::Value::Table(toml::Table::new());
        }
        let toml::Value::Table(next) = entry else {
            return;
        };
        current = next;
    }
    current.insert(last.clone(), value);
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// An environment of `(name, value)` pairs, for `Config::from_toml_and_env`.
    pub(crate) fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn zero_config_is_offline_and_extractive() {
        let config = Config::from_toml_and_env("", env(&[])).unwrap();
        assert_eq!(config, Config::default());
        assert!(config.llm.is_none());
        assert_eq!(config.addr.to_string(), "127.0.0.1:8080");
    }

    #[test]
    fn kubernetes_service_links_are_ignored_but_section_typos_are_not() {
        // What Kubernetes injects for a Service named `ragway` in the namespace.
        let links = [
            ("RAGWAY_PORT", "tcp://10.0.0.7:8080"),
            ("RAGWAY_SERVICE_HOST", "10.0.0.7"),
            ("RAGWAY_SERVICE_PORT", "8080"),
            ("RAGWAY_SERVICE_PORT_HTTP", "8080"),
            ("RAGWAY_PORT_8080_TCP", "tcp://10.0.0.7:8080"),
            ("RAGWAY_PORT_8080_TCP_PROTO", "tcp"),
            ("RAGWAY_PORT_8080_TCP_PORT", "8080"),
            ("RAGWAY_PORT_8080_TCP_ADDR", "10.0.0.7"),
            ("RAGWAY_BIN", "x"),
        ];
        let config = Config::from_toml_and_env("", env(&links)).unwrap();
        assert_eq!(config, Config::default());
        let err = Config::from_toml_and_env("", env(&[("RAGWAY_LLM__MODLE", "x")])).unwrap_err();
        assert!(err.to_string().contains("modle"), "{err}");
        // The file stays strict.
        let err = Config::from_toml_and_env("port = 1\n", env(&[])).unwrap_err();
        assert!(err.to_string().contains("unknown field `port`"), "{err}");
    }

    #[test]
    fn every_top_level_key_is_a_real_key() {
        for key in TOP_LEVEL_KEYS {
            let result = Config::from_toml_and_env(&format!("{key} = 0\n"), env(&[]));
            if let Err(err) = result {
                assert!(!err.to_string().contains("unknown field"), "{key}: {err}");
            }
        }
    }

    #[test]
    fn env_overrides_file_and_keeps_types() {
        let text = "addr = \"0.0.0.0:9000\"\n[retrieval]\ntop_k = 3\n";
        let config = Config::from_toml_and_env(
            text,
            env(&[
                ("RAGWAY_ADDR", "127.0.0.1:9999"),
                ("RAGWAY_RETRIEVAL__TOP_K", "7"),
                ("RAGWAY_LLM__BASE_URL", "http://localhost:11434/v1"),
                ("RAGWAY_LLM__MODEL", "llama3.1"),
                ("DATABASE_URL", "postgres://localhost/test"),
                ("HOME", "/root"),
            ]),
        )
        .unwrap();
        assert_eq!(config.addr.port(), 9999);
        assert_eq!(config.retrieval.top_k, 7);
        assert_eq!(config.llm.unwrap().model, "llama3.1");
        assert_eq!(
            config.database_url.as_deref(),
            Some("postgres://localhost/test")
        );
    }

    /// The example configuration in the README is valid.
    #[test]
    fn the_readme_example_config_loads() {
        let readme = include_str!("../../../README.md");
        let start = readme.find("```toml\n").unwrap() + "```toml\n".len();
        let block = &readme[start..];
        let block = &block[..block.find("```").unwrap()];
        let config = Config::from_toml_and_env(block, env(&[])).unwrap();
        assert_eq!(
            config.copilot.tenants["acme"].default.as_deref(),
            Some("precise")
        );
        assert!(config.limits.tenants.contains_key("acme"));
        assert_eq!(config.copilot.profiles["precise"].top_k, Some(8));
        assert_eq!(config.widget.identity["acme"].audience, "ragway-widget");
        assert_eq!(config.widget.session_ttl_secs, 900);
        // The README lists the cache budgets as the defaults: a changed default must show there.
        assert_eq!(config.cache, CacheConfig::default());
    }

    #[test]
    fn unknown_keys_are_rejected_with_their_name() {
        let err = Config::from_toml_and_env("[retrieval]\ntopk = 3\n", env(&[])).unwrap_err();
        assert!(err.to_string().contains("topk"), "{err}");
    }

    #[test]
    fn openai_key_alone_enables_generation() {
        let config = Config::from_toml_and_env("", env(&[("OPENAI_API_KEY", "sk-x")])).unwrap();
        assert_eq!(config.llm.unwrap().base_url, "https://api.openai.com/v1");
    }
}
