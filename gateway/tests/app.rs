#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The router without a socket (`tower::ServiceExt::oneshot`): routing, authentication and the
//! error envelopes of the native and OpenAI APIs.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::json;

mod common;
use common::{ask, call, server_with_document};

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

#[tokio::test]
async fn replicas_on_a_shared_index_need_a_configured_widget_secret() {
    // Refused before any connection is attempted: the URL below is never dialled.
    let dir = tempfile::tempdir().unwrap();
    let mut config = ragway_gateway::Config {
        data_dir: dir.path().to_path_buf(),
        ..Default::default()
    };
    config.index.backend = ragway_gateway::config::IndexBackend::Qdrant;
    config.index.url = Some("http://127.0.0.1:9".into());
    let err = ragway_gateway::Server::open(config).await.unwrap_err();
    assert!(
        err.to_string()
            .contains("widget.session_secret_env is required"),
        "{err}"
    );
}
