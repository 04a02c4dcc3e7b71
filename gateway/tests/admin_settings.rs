#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The operator's configuration is a ceiling: a tenant-scoped admin key may lower its tenant's
//! limits and narrow its profiles, never raise or widen them; a global admin key may.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use ragway_gateway::Server;
use ragway_gateway::config::{ProfileConfig, TenantCopilotConfig};
use ragway_gateway::limits::TenantLimitOverrides;
use serde_json::{Value, json};

mod common;
use common::{call, server_configured};

async fn put_settings(server: &Server, admin_key: &str, settings: Value) -> (StatusCode, Value) {
    let request = Request::put("/api/v1/admin/tenants/acme/settings")
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {admin_key}"))
        .body(Body::from(settings.to_string()))
        .unwrap();
    call(server, request).await
}

#[tokio::test]
async fn a_tenant_admin_may_lower_limits_but_never_lift_the_operators() {
    let dir = tempfile::tempdir().unwrap();
    let (server, _) = server_configured(&dir, |config| {
        config.limits.tenants.insert(
            "acme".into(),
            TenantLimitOverrides {
                tokens_per_day: Some(20_000),
                ..TenantLimitOverrides::default()
            },
        );
        let extractive = ProfileConfig {
            description: "Quoted passages".into(),
            llm: None,
            top_k: Some(8),
        };
        config.copilot.profiles.insert("precise".into(), extractive);
        config.copilot.tenants.insert(
            "acme".into(),
            TenantCopilotConfig {
                profiles: vec!["ragway".into()],
                default: None,
            },
        );
    })
    .await;
    let catalog = &server.state.core.catalog;
    let (_, scoped) = catalog
        .create_admin_key(Some("acme"), "acme it")
        .await
        .unwrap();
    let (_, global) = catalog.create_admin_key(None, "ops").await.unwrap();

    for raise in [
        json!({"limits": {"tokens_per_day": 0}}),
        json!({"limits": {"tokens_per_day": 20_001}}),
        json!({"copilot": {"profiles": ["ragway", "precise"]}}),
    ] {
        let (status, body) = put_settings(&server, &scoped, raise.clone()).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{raise}: {body}");
        assert_eq!(body["error"]["code"], "forbidden");
    }
    let (_, body) = put_settings(&server, &scoped, json!({"limits": {"tokens_per_day": 0}})).await;
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("tokens_per_day") && message.contains("20000"),
        "{message}"
    );
    let shown = call(
        &server,
        Request::get("/api/v1/admin/tenants/acme/settings")
            .header("authorization", format!("Bearer {scoped}"))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(
        shown.1["limits"]["tokens_per_day"], 20_000,
        "nothing refused was stored"
    );

    let (status, body) = put_settings(
        &server,
        &scoped,
        json!({"limits": {"tokens_per_day": 5_000}}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["limits"]["tokens_per_day"], 5_000);

    let (status, body) = put_settings(
        &server,
        &global,
        json!({"limits": {"tokens_per_day": 0}, "copilot": {"profiles": ["ragway", "precise"]}}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["limits"]["tokens_per_day"], 0);
    assert_eq!(body["profiles"], json!(["ragway", "precise"]));
}

/// A tenant's template that would loop past the rendering budget is refused when stored, before
/// any employee asks (it would otherwise stall answers).
#[tokio::test]
async fn templates_past_the_rendering_budget_are_refused_when_stored() {
    let dir = tempfile::tempdir().unwrap();
    let (server, _) = server_configured(&dir, |_| {}).await;
    let (_, scoped) = (server.state.core.catalog)
        .create_admin_key(Some("acme"), "acme it")
        .await
        .unwrap();
    let stall = "{% for a in range(100000) %}{% for b in range(100000) %}x{% endfor %}{% endfor %}";
    let (status, body) =
        put_settings(&server, &scoped, json!({"prompts": {"system": stall}})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.starts_with("prompts: ") && message.contains("fuel"),
        "{message}"
    );
    let (status, body) = put_settings(
        &server,
        &scoped,
        json!({"prompts": {"system": "Be brief."}}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}
