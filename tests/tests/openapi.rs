#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! `/openapi.json` describes the native API as it really answers: real responses are validated
//! against the schemas the document declares for them.

mod common;

use common::post_ask;
use ragway_tests::harness::{Gateway, handbook_dir, test_config};
use ragway_tests::schema::{response_schema, validate};
use serde_json::{Value, json};

#[tokio::test]
async fn the_document_matches_real_responses() {
    let tmp = tempfile::tempdir().unwrap();
    let gateway = Gateway::start(test_config(tmp.path())).await.unwrap();
    let key = gateway.tenant_with_key("acme").await.unwrap();
    gateway
        .sync("acme", "handbook", &handbook_dir())
        .await
        .unwrap();
    let doc: Value = reqwest::get(format!("{}/openapi.json", gateway.base_url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        doc["openapi"]
    );
    assert_eq!(
        doc["components"]["securitySchemes"]["api_key"]["scheme"],
        "bearer"
    );

    let ask = "/api/v1/ask";
    let (status, answer) = post_ask(
        &gateway.base_url,
        Some(&key),
        &json!({"question": "NorthGate VPN server"}),
    )
    .await;
    assert_eq!(status, 200);
    validate(
        &doc,
        response_schema(&doc, ask, "post", 200),
        &answer,
        "answer",
    )
    .unwrap();

    let cases = [
        (None, json!({"question": "x"}), 401),
        (Some(key.as_str()), json!({"question": ""}), 400),
        (
            Some(key.as_str()),
            json!({"question": "x", "conversation_id": "missing"}),
            404,
        ),
    ];
    for (key, body, expected) in cases {
        let (status, error) = post_ask(&gateway.base_url, key, &body).await;
        assert_eq!(status, expected);
        validate(
            &doc,
            response_schema(&doc, ask, "post", status),
            &error,
            "error",
        )
        .unwrap();
    }

    // Every streamed event is an AskEvent (after the leading conversation event).
    let events = common::ask_stream(&gateway.base_url, &key, "NorthGate VPN server").await;
    let event_schema = json!({"$ref": "#/components/schemas/AskEvent"});
    for (name, data) in &events[1..] {
        assert_eq!(data["type"], name.as_str());
        validate(&doc, &event_schema, data, name).unwrap();
    }

    let health: Value = reqwest::get(format!("{}/healthz", gateway.base_url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    validate(
        &doc,
        response_schema(&doc, "/healthz", "get", 200),
        &health,
        "healthz",
    )
    .unwrap();

    // The validator itself rejects what does not match.
    let schema = response_schema(&doc, ask, "post", 200);
    assert!(validate(&doc, schema, &json!({"answer": 3}), "bad").is_err());
    let mut extra = answer.clone();
    extra["surprise"] = json!(1);
    assert!(
        validate(&doc, schema, &extra, "extra").is_err(),
        "undocumented fields are caught"
    );
}
