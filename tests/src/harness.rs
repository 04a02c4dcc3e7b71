//! Runs the real gateway in-process on 127.0.0.1:0 with its own data directory.

use std::path::{Path, PathBuf};

use ragway_gateway::config::LlmConfig;
use ragway_gateway::{AppState, Config, Server, app};
use ragway_ingest::SyncReport;
use ragway_ingest::source::FolderSourceConfig;
use ragway_ingest::store::{SearchQuery, Sparse};

use crate::log_scan;

/// The sample handbook shipped in `examples/`.
pub fn handbook_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/handbook")
}

/// A config for tests: a fresh data directory, no LLM, no embedder.
pub fn test_config(data_dir: &Path) -> Config {
    Config {
        data_dir: data_dir.to_path_buf(),
        ..Config::default()
    }
}

/// An LLM profile pointing at a fake OpenAI-compatible server.
pub fn fake_llm_config(base_url: &str, max_retries: usize) -> LlmConfig {
    LlmConfig {
        base_url: base_url.to_owned(),
        model: "fake-gpt".into(),
        api_key_env: None,
        context_window: 8192,
        max_completion_tokens: 512,
        temperature: None,
        max_retries,
        timeout_secs: 30,
        connect_timeout_secs: 5,
        first_token_timeout_secs: 10,
        stream_flush_ms: LlmConfig::DEFAULT_STREAM_FLUSH_MS,
        api_version: None,
        fallbacks: Vec::new(),
        circuit_breaker: Default::default(),
    }
}

/// The tenant `Gateway::with_handbook` indexes the handbook for.
pub const HANDBOOK_TENANT: &str = "acme";

pub struct Gateway {
    pub base_url: String,
    pub state: AppState,
    /// The channel runtimes served beside the state (bots, widget).
    pub server: Server,
    serving: tokio::task::JoinHandle<()>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for Gateway {
    fn drop(&mut self) {
        self.serving.abort();
        // Secrets or question text in the logs fail the test (`log_scan`).
        log_scan::fail_on_leaks();
    }
}

impl Gateway {
    pub async fn start(config: Config) -> Result<Self, Box<dyn std::error::Error>> {
        Self::serve(Server::open(config).await?).await
    }

    /// Serves a server the test opened (and adjusted) itself.
    pub async fn serve(server: Server) -> Result<Self, Box<dyn std::error::Error>> {
        log_scan::install();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        // Every credential and question that goes by is registered for the log scan.
        let router = app(server.clone()).layer(axum::middleware::from_fn(register_secrets));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let serving = tokio::spawn(async move {
            let graceful = async {
                let _ = stopped.await;
            };
            // Served as `ragway serve` serves it: one router shared by every connection.
            let served =
                axum::serve(listener, router.into_make_service()).with_graceful_shutdown(graceful);
            if let Err(err) = served.await {
                tracing::error!(%err, "test gateway stopped");
            }
        });
        Ok(Self {
            base_url: format!("http://{addr}"),
            state: server.state.clone(),
            server,
            serving,
            stop: Some(stop),
        })
    }

    /// Starts a gateway whose tenant `acme` has the sample handbook indexed; returns its API key too.
    pub async fn with_handbook(
        config: Config,
    ) -> Result<(Self, String), Box<dyn std::error::Error>> {
        let gateway = Self::start(config).await?;
        let key = gateway.tenant_with_key(HANDBOOK_TENANT).await?;
        let report = gateway
            .sync(HANDBOOK_TENANT, "handbook", &handbook_dir())
            .await?;
        if !report.failures.is_empty() {
            return Err(
                format!("the handbook did not ingest cleanly: {:?}", report.failures).into(),
            );
        }
        Ok((gateway, key))
    }

    /// Stops the server and waits until it has released the data directory (call it before the
    /// directory is removed).
    pub async fn shutdown(mut self) {
        // Gracefully: open connections (each holding the index) close before this returns.
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let closed =
            tokio::time::timeout(std::time::Duration::from_secs(5), &mut self.serving).await;
        if closed.is_err() {
            self.serving.abort();
            let _ = (&mut self.serving).await;
        }
    }

    /// `/metrics` as Prometheus scrapes the main port: with a global admin key.
    pub async fn metrics(&self) -> Result<String, Box<dyn std::error::Error>> {
        let (_, key) = self
            .state
            .core
            .catalog
            .create_admin_key(None, "prometheus")
            .await?;
        log_scan::secret("admin key", &key);
        let response = reqwest::Client::new()
            .get(format!("{}/metrics", self.base_url))
            .bearer_auth(key)
            .send()
            .await?
            .error_for_status()?;
        Ok(response.text().await?)
    }

    /// Creates the tenant and returns a fresh API key for it.
    pub async fn tenant_with_key(
        &self,
        tenant: &str,
    ) -> Result<String, Box<dyn std::error::Error>> {
        self.state.core.catalog.ensure_tenant(tenant).await?;
        let key = self
            .state
            .core
            .catalog
            .create_api_key(tenant, "test")
            .await?
            .secret;
        log_scan::secret("API key", &key);
        Ok(key)
    }

    /// The uris of the tenant's top BM25 hits for `text` (public documents only), best first.
    pub async fn bm25_hits(&self, tenant: &str, text: &str) -> Vec<String> {
        let sparse = self.state.core.retriever.bm25.embed_query(
            text,
            ragway_ingest::lang::detect_or(text, ragway_ingest::lang::Lang::En),
        );
        let sparse = Sparse {
            indices: sparse.indices,
            values: sparse.values,
        };
        let query = SearchQuery::unfiltered(tenant, sparse, None, 5);
        match self.state.store.search(query).await {
            Ok(hits) => hits.into_iter().map(|h| h.payload.uri).collect(),
            Err(err) => {
                tracing::error!(%err, "search failed");
                Vec::new()
            }
        }
    }

    pub async fn sync(
        &self,
        tenant: &str,
        source: &str,
        dir: &Path,
    ) -> Result<SyncReport, Box<dyn std::error::Error>> {
        let report = self
            .state
            .indexer
            .sync_folder(tenant, source, dir, &FolderSourceConfig::default(), &|_| {})
            .await?;
        Ok(report)
    }
}

/// Copies a directory tree (tests mutate copies of the handbook, never the original).
pub fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}

/// Bodies up to this size are read to register what they carry (larger ones pass untouched).
const INSPECTED_BODY: usize = 1 << 20;

/// Registers with the log scan the credentials a request presents (`Authorization`, `X-Api-Key`),
/// the questions and tokens its JSON or form body carries, and the secrets a JSON response hands
/// out (new keys, session tokens). Streams (`text/event-stream`) and large bodies pass untouched.
async fn register_secrets(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::http::header;
    let (parts, body) = request.into_parts();
    for name in [header::AUTHORIZATION.as_str(), "x-api-key", "api-key"] {
        if let Some(value) = parts.headers.get(name).and_then(|v| v.to_str().ok()) {
            let value = value.strip_prefix("Bearer ").unwrap_or(value);
            log_scan::secret("credential", value);
        }
    }
    let body = match inspectable(&parts.headers, true) {
        Some(kind) => match axum::body::to_bytes(body, INSPECTED_BODY).await {
            Ok(bytes) => {
                register_body(kind, &bytes, false);
                axum::body::Body::from(bytes)
            }
            Err(_) => axum::body::Body::empty(),
        },
        None => body,
    };
    let response = next
        .run(axum::extract::Request::from_parts(parts, body))
        .await;
    let (parts, body) = response.into_parts();
    // A JSON response is never streamed (and has no length yet: the server sets it later).
    let body = match inspectable(&parts.headers, false) {
        Some(kind) => match axum::body::to_bytes(body, 64 * INSPECTED_BODY).await {
            Ok(bytes) => {
                register_body(kind, &bytes, true);
                axum::body::Body::from(bytes)
            }
            Err(_) => axum::body::Body::empty(),
        },
        None => body,
    };
    axum::response::Response::from_parts(parts, body)
}

#[derive(Clone, Copy)]
enum BodyKind {
    Json,
    Form,
}

/// JSON or form bodies (of a known, moderate length when `sized`).
fn inspectable(headers: &axum::http::HeaderMap, sized: bool) -> Option<BodyKind> {
    use axum::http::header;
    let length = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    let kind = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    if sized && length.is_none_or(|length| length > INSPECTED_BODY) {
        None
    } else if kind.starts_with("application/json") {
        Some(BodyKind::Json)
    } else if kind.starts_with("application/x-www-form-urlencoded") {
        Some(BodyKind::Form)
    } else {
        None
    }
}

/// Fields whose string values are questions (in requests) and secrets (in both directions).
const QUESTION_FIELDS: [&str; 5] = ["question", "text", "content", "query", "input"];
const SECRET_FIELDS: [&str; 9] = [
    "secret",
    "token",
    "identity",
    "resume",
    "access_token",
    "client_secret",
    "api_key",
    "password",
    "signing_secret",
];

fn register_body(kind: BodyKind, bytes: &[u8], response: bool) {
    let value = match kind {
        BodyKind::Json => serde_json::from_slice(bytes).ok(),
        BodyKind::Form => serde_urlencoded::from_bytes::<Vec<(String, String)>>(bytes)
            .ok()
            .map(|fields| {
                let mut object = serde_json::Map::new();
                for (name, value) in fields {
                    // Slack's interaction payload is JSON inside the form.
                    let value = serde_json::from_str::<serde_json::Value>(&value)
                        .ok()
                        .filter(serde_json::Value::is_object)
                        .unwrap_or(serde_json::Value::String(value));
                    object.insert(name, value);
                }
                serde_json::Value::Object(object)
            }),
    };
    if let Some(value) = value {
        register_value(&value, None, response);
    }
}

fn register_value(value: &serde_json::Value, field: Option<&str>, response: bool) {
    match value {
        serde_json::Value::String(text) => {
            let Some(field) = field else { return };
            if SECRET_FIELDS.contains(&field)
                || (field == "key" && (text.starts_with("rgw_") || text.starts_with("rgwadm_")))
            {
                log_scan::secret("secret in a request or response body", text);
            } else if !response && QUESTION_FIELDS.contains(&field) {
                log_scan::question(text);
            }
        }
        serde_json::Value::Array(items) => {
            for item in items {
                register_value(item, field, response);
            }
        }
        serde_json::Value::Object(object) => {
            for (name, item) in object {
                register_value(item, Some(name), response);
            }
        }
        _ => {}
    }
}
