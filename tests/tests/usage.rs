#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Usage accounting: requests, cache hits, LLM tokens and refusals per tenant, day and user, in
//! the catalog, read back through `GET /api/v1/admin/usage` with an admin key.

use ragway_gateway::config::LimitsConfig;
use ragway_tests::fake_openai::{FakeOpenAi, FakeOptions};
use ragway_tests::harness::{Gateway, fake_llm_config, test_config};
use serde_json::{Value, json};

async fn ask(gateway: &Gateway, key: &str, question: &str) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{}/api/v1/ask", gateway.base_url))
        .bearer_auth(key)
        .json(&json!({"question": question}))
        .send()
        .await
        .unwrap()
}

async fn usage(gateway: &Gateway, key: &str, query: &str) -> (u16, Value) {
    let response = reqwest::Client::new()
        .get(format!("{}/api/v1/admin/usage{query}", gateway.base_url))
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

#[tokio::test]
async fn counted_per_day_and_user_and_read_by_admins_only() {
    let fake = FakeOpenAi::start(FakeOptions::default()).await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let mut config = test_config(tmp.path());
    config.llm = Some(fake_llm_config(&fake.base_url, 0));
    config.limits = LimitsConfig {
        // One a minute after a burst of four: the fifth request is refused however slow the machine.
        requests_per_minute: 1,
        burst: 4,
        ..LimitsConfig::unlimited()
    };
    let (gateway, key) = Gateway::with_handbook(config).await.unwrap();
    let second_key = gateway.tenant_with_key("acme").await.unwrap();
    let other_tenant_key = gateway.tenant_with_key("globex").await.unwrap();

    let question = "How do I connect to the VPN?";
    let mut tokens = 0;
    for _ in 0..2 {
        let answer: Value = ask(&gateway, &key, question).await.json().await.unwrap();
        tokens += answer["usage"]["total_tokens"].as_u64().unwrap();
    }
    assert_eq!(ask(&gateway, &second_key, question).await.status(), 200);
    assert_eq!(
        ask(&gateway, &second_key, "Who approves travel?")
            .await
            .status(),
        200
    );
    assert_eq!(
        ask(&gateway, &key, question).await.status(),
        429,
        "the burst of 4 is spent"
    );
    assert_eq!(
        ask(&gateway, &other_tenant_key, question).await.status(),
        200
    );

    let catalog = &gateway.state.core.catalog;
    let (_, global) = catalog.create_admin_key(None, "ops").await.unwrap();
    let (_, scoped) = catalog
        .create_admin_key(Some("globex"), "globex admin")
        .await
        .unwrap();

    let (status, report) = usage(&gateway, &global, "?tenant=acme").await;
    assert_eq!(status, 200, "{report}");
    let totals = &report["totals"];
    assert_eq!(totals["requests"], 4);
    assert_eq!(
        totals["cache_hits"], 2,
        "the repeats of the same question hit the cache"
    );
    assert_eq!(totals["refused"]["tenant_requests"], 1);
    let spent =
        totals["prompt_tokens"].as_u64().unwrap() + totals["completion_tokens"].as_u64().unwrap();
    assert!(
        spent >= tokens && spent > 0,
        "{spent} tokens counted, {tokens} reported"
    );
    let day = &report["days"][0];
    assert_eq!(day["day"], report["to"]);
    let users = day["users"].as_array().unwrap();
    assert_eq!(users.len(), 2, "one row per API key: {users:?}");
    assert!(
        users
            .iter()
            .all(|u| u["user_id"].as_str().unwrap().starts_with("key:"))
    );

    // The scoped key sees its own tenant only, and needs no `tenant`.
    let (status, report) = usage(&gateway, &scoped, "").await;
    assert_eq!((status, report["tenant"].as_str()), (200, Some("globex")));
    assert_eq!(report["totals"]["requests"], 1);
    let (status, body) = usage(&gateway, &scoped, "?tenant=acme").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("forbidden"))
    );

    // Wrong credentials and bad queries get clear errors.
    let (status, body) = usage(&gateway, &key, "?tenant=acme").await;
    assert_eq!(status, 403);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("admin key")
    );
    let (status, _) = usage(
        &gateway,
        "rgwadm_abcdefgh_0123456789abcdef0123456789abcdef",
        "?tenant=acme",
    )
    .await;
    assert_eq!(status, 401);
    let (status, body) = usage(&gateway, &global, "").await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = usage(&gateway, &global, "?tenant=acme&from=29-11-2026").await;
    assert_eq!(status, 400);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("YYYY-MM-DD")
    );
    let (status, _) = usage(&gateway, &global, "?tenant=nobody").await;
    assert_eq!(status, 404);
    let (status, report) = usage(
        &gateway,
        &global,
        "?tenant=acme&from=2020-01-01&to=2020-01-31",
    )
    .await;
    assert_eq!(
        (status, report["totals"]["requests"].as_u64()),
        (200, Some(0))
    );
}
