//! Helpers for the web widget tests: a gateway whose widget reads its secrets from the test and
//! runs on a manual clock, the handbook plus a hostile document indexed for `acme`, and a host
//! page (an "intranet" on its own origin) that embeds the widget with one script tag.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::response::Html;
use ragway_gateway::channels::bots::Clock;
use ragway_gateway::channels::widget::Widget;
use ragway_gateway::server::Bots;
use ragway_gateway::{Config, Server};
use ragway_ingest::source::FolderSourceConfig;
use serde::Deserialize;

use crate::harness::{Gateway, HANDBOOK_TENANT, copy_dir, handbook_dir};

/// A document whose title and text carry markup that must never run in the widget: the fake
/// LLM repeats the title (with its `<script>`) in its answer.
pub const HOSTILE_DOCUMENT: &str = r#"<!doctype html>
<html><head><title>Zebracorn badges &lt;script&gt;window.__xss=1&lt;/script&gt; &lt;img src=x onerror=window.__xss=2&gt;</title></head>
<body><h1>Zebracorn visitor badge rules</h1>
<p>Zebracorn visitor badges are collected at reception and returned when leaving.
&lt;img src=x onerror=window.__xss=3&gt; Visitor badge rules apply to every zebracorn visitor.</p>
</body></html>
"#;

/// Starts a gateway for `config` with its widget secrets from `secrets` (env-var name → value)
/// and clock `clock`; `acme` gets the handbook plus [`HOSTILE_DOCUMENT`] (in `security/`),
/// copied to `docs_dir` and synced with `source` (its ACL rules).
pub async fn widget_gateway(
    config: Config,
    secrets: &[(&str, &str)],
    clock: Clock,
    docs_dir: &Path,
    source: &FolderSourceConfig,
) -> Result<Gateway, Box<dyn std::error::Error>> {
    for (_, value) in secrets {
        crate::log_scan::secret("configured secret", value);
    }
    let secrets: HashMap<String, String> = secrets
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let lookup = |name: &str| secrets.get(name).cloned();
    // Opened without the widget's secrets (they are not in the environment), then given them.
    let mut bare = config.clone();
    bare.widget = Default::default();
    let mut server = Server::open(bare).await?;
    server.widget = Arc::new(Widget::new(&config.widget, &lookup)?);
    server.bots = Bots::new(&config, &lookup, clock)?;
    server.state.core.set_config(Arc::new(config));
    let gateway = Gateway::serve(server).await?;
    gateway.tenant_with_key(HANDBOOK_TENANT).await?;
    copy_dir(&handbook_dir(), docs_dir)?;
    std::fs::write(
        docs_dir.join("security/zebracorn-badges.html"),
        HOSTILE_DOCUMENT,
    )?;
    let report = gateway
        .state
        .indexer
        .sync_folder(HANDBOOK_TENANT, "handbook", docs_dir, source, &|_| {})
        .await?;
    if !report.failures.is_empty() {
        return Err(format!(
            "the documents did not ingest cleanly: {:?}",
            report.failures
        )
        .into());
    }
    Ok(gateway)
}

/// An intranet page on its own origin that embeds the widget of `gateway_url` with `key`.
pub struct HostPage {
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    pub port: u16,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for HostPage {
    fn drop(&mut self) {
        self.server.abort();
    }
}

#[derive(Deserialize)]
struct PageQuery {
    lang: Option<String>,
}

/// The page; `?lang=es-MX` puts `data-lang="es-MX"` on the embed tag (letters and `-` only).
async fn page(
    State(page): State<Arc<(String, String)>>,
    Query(query): Query<PageQuery>,
) -> Html<String> {
    let (gateway_url, key) = page.as_ref();
    let lang = query
        .lang
        .filter(|l| !l.is_empty() && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
        .map(|l| format!(r#" data-lang="{l}""#))
        .unwrap_or_default();
    // Careless global CSS, as intranets have: the widget's Shadow DOM must not inherit it.
    Html(format!(
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Acme intranet</title>
<style>button {{ background: hotpink !important; font-size: 40px; }} p {{ text-transform: uppercase; }}</style>
</head><body><h1>Acme intranet</h1><p>Welcome.</p>
<script>window.Ragway=window.Ragway||function(){{(Ragway.q=Ragway.q||[]).push(arguments)}};</script>
<script src="{gateway_url}/widget/v1/loader.js" data-widget-key="{key}" data-title="Ask Acme"{lang} async></script>
</body></html>"#
    ))
}

impl HostPage {
    /// Serves the page at `/` (and `/?lang=<tag>` for an embed tag with `data-lang`).
    pub async fn start(gateway_url: &str, key: &str) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let app = axum::Router::new()
            .route("/", axum::routing::get(page))
            .with_state(Arc::new((gateway_url.to_owned(), key.to_owned())));
        let server = tokio::spawn(async move {
            if let Err(err) = axum::serve(listener, app).await {
                tracing::error!(%err, "host page server stopped");
            }
        });
        Ok(Self {
            url: format!("http://127.0.0.1:{port}"),
            port,
            server,
        })
    }
}
