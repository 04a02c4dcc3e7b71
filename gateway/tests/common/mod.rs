//! What the router tests share: a server with one indexed document, and requests without a socket.
//! (Each test binary uses its own part of it.)
#![allow(dead_code)]

use axum::body::Body;
use axum::http::{Request, StatusCode};
use ragway_gateway::{Config, Server, app};
use ragway_ingest::source::FolderSourceConfig;
use serde_json::Value;
use tower::ServiceExt;

const VPN_DOC: &str = "# VPN access\n\nConnect to the Northgate VPN with the GlobalProtect client: \
    open it, enter vpn.northgate.example and sign in with your badge number and password.\n";

/// A server on a fresh data directory whose tenant `acme` has one document; returns its API key.
pub async fn server_with_document(dir: &tempfile::TempDir) -> (Server, String) {
    server_configured(dir, |_| {}).await
}

/// [`server_with_document`] with the configuration adjusted by `adjust` first.
pub async fn server_configured(
    dir: &tempfile::TempDir,
    adjust: impl FnOnce(&mut Config),
) -> (Server, String) {
    let mut config = Config {
        data_dir: dir.path().join("data"),
        ..Config::default()
    };
    // One document: every term is in every document, so BM25's IDF is tiny; the relevance cut
    // is about large corpora, not about what these tests check.
    config.retrieval.min_bm25_score = 0.0;
    adjust(&mut config);
    let server = Server::open(config).await.unwrap();
    let catalog = &server.state.core.catalog;
    catalog.ensure_tenant("acme").await.unwrap();
    let key = catalog.create_api_key("acme", "test").await.unwrap().secret;
    let docs = dir.path().join("docs");
    std::fs::create_dir_all(&docs).unwrap();
    std::fs::write(docs.join("vpn.md"), VPN_DOC).unwrap();
    let report = server
        .state
        .indexer
        .sync_folder(
            "acme",
            "docs",
            &docs,
            &FolderSourceConfig::default(),
            &|_| {},
        )
        .await
        .unwrap();
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    (server, key)
}

pub async fn call(server: &Server, request: Request<Body>) -> (StatusCode, Value) {
    let response = app(server.clone()).oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, body)
}

pub fn ask(key: Option<&str>, body: &str) -> Request<Body> {
    let mut request = Request::post("/api/v1/ask")
        .header("content-type", "application/json")
        .header("x-request-id", "req-42");
    if let Some(key) = key {
        request = request.header("authorization", format!("Bearer {key}"));
    }
    request.body(Body::from(body.to_owned())).unwrap()
}
