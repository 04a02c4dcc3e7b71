#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The router without a socket (`tower::ServiceExt::oneshot`): routing, authentication, the error
//! envelopes of the native and OpenAI APIs, and the span tree of one question.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use ragway_gateway::{Config, Server, app};
use ragway_ingest::source::FolderSourceConfig;
use serde_json::{Value, json};
use tower::ServiceExt;
use tracing::span::{Attributes, Id, Record};
use tracing::{Subscriber, field};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

const VPN_DOC: &str = "# VPN access\n\nConnect to the Northgate VPN with the GlobalProtect client: \
    open it, enter vpn.northgate.example and sign in with your badge number and password.\n";

/// A server on a fresh data directory whose tenant `acme` has one document; returns its API key.
async fn server_with_document(dir: &tempfile::TempDir) -> (Server, String) {
    let mut config = Config {
        data_dir: dir.path().join("data"),
        ..Config::default()
    };
    // One document: every term is in every document, so BM25's IDF is tiny; the relevance cut
    // is about large corpora, not about what these tests check.
    config.retrieval.min_bm25_score = 0.0;
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

async fn call(server: &Server, request: Request<Body>) -> (StatusCode, Value) {
    let response = app(server.clone()).oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, body)
}

fn ask(key: Option<&str>, body: &str) -> Request<Body> {
    let mut request = Request::post("/api/v1/ask")
        .header("content-type", "application/json")
        .header("x-request-id", "req-42");
    if let Some(key) = key {
        request = request.header("authorization", format!("Bearer {key}"));
    }
    request.body(Body::from(body.to_owned())).unwrap()
}

#[tokio::test]
async fn routing_authentication_and_error_envelopes() {
    let dir = tempfile::tempdir().unwrap();
    let (server, key) = server_with_document(&dir).await;

    let (status, body) = call(&server, ask(None, r#"{"question":"vpn?"}"#)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "unauthorized");
    assert_eq!(body["error"]["request_id"], "req-42");

    let (status, body) = call(&server, ask(Some("rgw_nope_x"), r#"{"question":"vpn?"}"#)).await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (StatusCode::UNAUTHORIZED, json!("unauthorized"))
    );

    let (status, body) = call(&server, ask(Some(&key), r#"{"question":"#)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["code"], "invalid_request");

    let (status, body) = call(&server, ask(Some(&key), r#"{"question":"   "}"#)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["message"], "`question` must not be empty");

    let (status, body) = call(
        &server,
        ask(Some(&key), r#"{"question":"vpn?","profile":"nope"}"#),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["code"], "not_found");

    let (status, body) = call(
        &server,
        ask(
            Some(&key),
            r#"{"question":"vpn?","conversation_id":"c-unknown"}"#,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["message"], "conversation c-unknown not found");

    let unknown = Request::get("/api/v1/nothing-here")
        .body(Body::empty())
        .unwrap();
    let (status, body) = call(&server, unknown).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["code"], "not_found");

    // The OpenAI channel keeps OpenAI's shape: the native envelope leaves it alone.
    let openai = Request::post("/v1/chat/completions")
        .header("content-type", "application/json")
        .body(Body::from(
            r#"{"model":"ragway","messages":[{"role":"user","content":"hi"}]}"#,
        ))
        .unwrap();
    let (status, body) = call(&server, openai).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "invalid_api_key");
    assert_eq!(body["error"]["type"], "invalid_request_error");

    let openai = Request::post("/v1/chat/completions")
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {key}"))
        .body(Body::from(
            r#"{"model":"gpt-nope","messages":[{"role":"user","content":"vpn?"}]}"#,
        ))
        .unwrap();
    let (status, body) = call(&server, openai).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["code"], "model_not_found");
    assert_eq!(body["error"]["param"], "model");

    let (status, body) = call(
        &server,
        ask(Some(&key), r#"{"question":"How do I connect to the VPN?"}"#),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        body["answer"].as_str().unwrap().contains("GlobalProtect"),
        "{body}"
    );
    assert_eq!(body["citations"][0]["uri"], "vpn.md");
}

/// A span as the capturing layer saw it.
#[derive(Debug, Clone)]
struct SeenSpan {
    id: u64,
    name: &'static str,
    parent: Option<u64>,
    fields: BTreeMap<String, String>,
}

/// Records every span, its parent and its fields (also those recorded later).
#[derive(Clone, Default)]
struct Spans(Arc<Mutex<Vec<SeenSpan>>>);

struct Fields<'a>(&'a mut BTreeMap<String, String>);

impl field::Visit for Fields<'_> {
    fn record_str(&mut self, field: &field::Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }

    fn record_debug(&mut self, field: &field::Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> tracing_subscriber::Layer<S> for Spans {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let parent = ctx
            .span(id)
            .and_then(|span| span.parent())
            .map(|parent| parent.id().into_u64());
        let mut fields = BTreeMap::new();
        attrs.record(&mut Fields(&mut fields));
        let span = SeenSpan {
            id: id.into_u64(),
            name: attrs.metadata().name(),
            parent,
            fields,
        };
        self.0.lock().unwrap().push(span);
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, _ctx: Context<'_, S>) {
        let mut spans = self.0.lock().unwrap();
        if let Some(span) = spans.iter_mut().rev().find(|s| s.id == id.into_u64()) {
            values.record(&mut Fields(&mut span.fields));
        }
    }
}

impl Spans {
    /// The spans named `name` whose parent chain reaches the span `ancestor`.
    fn under(&self, ancestor: u64, name: &str) -> Vec<SeenSpan> {
        let spans = self.0.lock().unwrap().clone();
        let reaches = |span: &SeenSpan| {
            let mut parent = span.parent;
            while let Some(id) = parent {
                if id == ancestor {
                    return true;
                }
                parent = spans
                    .iter()
                    .rev()
                    .find(|s| s.id == id)
                    .and_then(|s| s.parent);
            }
            false
        };
        spans
            .iter()
            .filter(|s| s.name == name && reaches(s))
            .cloned()
            .collect()
    }
}

#[tokio::test]
async fn a_question_is_one_request_span_with_a_child_per_stage() {
    let dir = tempfile::tempdir().unwrap();
    let (server, key) = server_with_document(&dir).await;
    let spans = Spans::default();
    let _guard =
        tracing::subscriber::set_default(tracing_subscriber::registry().with(spans.clone()));

    let (status, body) = call(
        &server,
        ask(Some(&key), r#"{"question":"How do I connect to the VPN?"}"#),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let requests: Vec<SeenSpan> = spans
        .0
        .lock()
        .unwrap()
        .iter()
        .filter(|s| s.name == "request")
        .cloned()
        .collect();
    assert_eq!(requests.len(), 1, "{requests:?}");
    let request = &requests[0];
    assert_eq!(request.fields["request_id"], "req-42");
    assert_eq!(request.fields["channel"], "rest");
    assert_eq!(request.fields["tenant"], "acme");
    assert_eq!(request.fields["profile"], "ragway");
    for stage in ["auth", "limits", "cache", "retrieve", "ground", "llm"] {
        assert_eq!(
            spans.under(request.id, stage).len(),
            1,
            "one `{stage}` span under the request: {:?}",
            spans.0.lock().unwrap()
        );
    }
    assert_eq!(
        spans.under(request.id, "retrieve")[0].fields["backend"],
        "edge"
    );
}
