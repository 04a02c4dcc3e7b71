//! Runs the real gateway in-process on 127.0.0.1:0 with its own data directory.

use std::path::{Path, PathBuf};

use ragway_gateway::config::LlmConfig;
use ragway_gateway::{AppState, Config, Server, app};
use ragway_ingest::SyncReport;
use ragway_ingest::source::FolderSourceConfig;
use ragway_ingest::store::{SearchQuery, Sparse};

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
    }
}

impl Gateway {
    pub async fn start(config: Config) -> Result<Self, Box<dyn std::error::Error>> {
        Self::serve(Server::open(config).await?).await
    }

    /// Serves a server the test opened (and adjusted) itself.
    pub async fn serve(server: Server) -> Result<Self, Box<dyn std::error::Error>> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let router = app(server.clone());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let serving = tokio::spawn(async move {
            let graceful = async {
                let _ = stopped.await;
            };
            let served = axum::serve(listener, router).with_graceful_shutdown(graceful);
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
        Ok(self
            .state
            .core
            .catalog
            .create_api_key(tenant, "test")
            .await?
            .secret)
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
