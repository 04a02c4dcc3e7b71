#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Copilot profiles: `model` (OpenAI-compatible API) or `profile` (native API) picks one of the
//! tenant's profiles — its own LLM and retrieval depth; `/v1/models` lists the tenant's; a tenant
//! cannot use a profile it was not given.

use ragway_gateway::config::{ProfileConfig, TenantCopilotConfig};
use ragway_tests::fake_openai::{FakeOpenAi, FakeOptions};
use ragway_tests::harness::{Gateway, fake_llm_config, test_config};
use serde_json::{Value, json};

const QUESTION: &str = "Which server address does the NorthGate client connect to?";

async fn models(gateway: &Gateway, key: &str) -> Vec<String> {
    let list: Value = reqwest::Client::new()
        .get(format!("{}/v1/models", gateway.base_url))
        .bearer_auth(key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_owned())
        .collect()
}

async fn chat(gateway: &Gateway, key: &str, model: &str) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(format!("{}/v1/chat/completions", gateway.base_url))
        .bearer_auth(key)
        .header("cache-control", "no-cache")
        .json(&json!({"model": model, "messages": [{"role": "user", "content": QUESTION}]}))
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

async fn ask(gateway: &Gateway, key: &str, profile: Option<&str>) -> (u16, Value) {
    let mut body = json!({"question": QUESTION});
    if let Some(profile) = profile {
        body["profile"] = json!(profile);
    }
    let response = reqwest::Client::new()
        .post(format!("{}/api/v1/ask", gateway.base_url))
        .bearer_auth(key)
        .header("cache-control", "no-cache")
        .json(&body)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

#[tokio::test]
async fn each_tenant_uses_its_own_profiles() {
    let fake = FakeOpenAi::start(FakeOptions::default()).await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let mut config = test_config(&tmp.path().join("data"));
    config.llm = Some(fake_llm_config(&fake.base_url, 0));
    let mut large = fake_llm_config(&fake.base_url, 0);
    large.model = "fake-gpt-large".into();
    config.copilot.profiles.insert(
        "precise".into(),
        ProfileConfig {
            description: "A larger model, more passages".into(),
            llm: Some(large),
            top_k: Some(8),
        },
    );
    config.copilot.profiles.insert(
        "quotes".into(),
        ProfileConfig {
            description: "Quoted passages, no LLM".into(),
            llm: None,
            top_k: None,
        },
    );
    config.copilot.tenants.insert(
        "acme".into(),
        TenantCopilotConfig {
            profiles: vec!["ragway".into(), "precise".into(), "quotes".into()],
            default: Some("precise".into()),
        },
    );
    config.copilot.tenants.insert(
        "globex".into(),
        TenantCopilotConfig {
            profiles: vec!["ragway".into()],
            default: None,
        },
    );
    let (gateway, acme) = Gateway::with_handbook(config).await.unwrap();
    let globex = gateway.tenant_with_key("globex").await.unwrap();

    // The default first, then the tenant's list in its order.
    assert_eq!(
        models(&gateway, &acme).await,
        ["precise", "ragway", "quotes"]
    );
    assert_eq!(models(&gateway, &globex).await, ["ragway"]);

    let (status, completion) = chat(&gateway, &acme, "precise").await;
    assert_eq!(status, 200, "{completion}");
    assert_eq!(completion["model"], "precise");
    let sent = fake.chat_requests().last().unwrap().clone();
    assert_eq!(
        sent["model"], "fake-gpt-large",
        "the profile's own LLM answers"
    );
    let sources = ragway_tests::fake_openai::sources_in_prompt(
        sent["messages"].as_array().unwrap().last().unwrap()["content"]
            .as_str()
            .unwrap(),
    );
    assert!(
        sources.len() > 5,
        "the profile retrieves 8 passages, got {}",
        sources.len()
    );

    let (status, _) = chat(&gateway, &acme, "ragway").await;
    assert_eq!(status, 200);
    assert_eq!(fake.chat_requests().last().unwrap()["model"], "fake-gpt");

    let calls = fake.chat_requests().len();
    let (status, completion) = chat(&gateway, &acme, "quotes").await;
    assert_eq!(status, 200);
    assert!(
        completion["choices"][0]["message"]["content"]
            .as_str()
            .unwrap()
            .starts_with("Extractive answer")
    );
    assert_eq!(
        fake.chat_requests().len(),
        calls,
        "an extractive profile calls no LLM"
    );

    let (status, error) = chat(&gateway, &globex, "precise").await;
    assert_eq!(status, 404);
    assert_eq!(error["error"]["code"], "model_not_found");

    // The native API: the tenant's default, or the profile named.
    let (status, answer) = ask(&gateway, &acme, None).await;
    assert_eq!((status, answer["mode"].as_str()), (200, Some("generative")));
    assert_eq!(
        fake.chat_requests().last().unwrap()["model"],
        "fake-gpt-large"
    );
    let (status, answer) = ask(&gateway, &acme, Some("quotes")).await;
    assert_eq!((status, answer["mode"].as_str()), (200, Some("extractive")));
    let (status, error) = ask(&gateway, &globex, Some("precise")).await;
    assert_eq!(status, 404);
    let message = error["error"]["message"].as_str().unwrap();
    assert!(message.contains("available: ragway"), "{message}");
}

/// A tenant's own prompt templates (admin settings) shape its answers only: checked when stored,
/// used for its prompts, part of its cache key, and removable.
#[tokio::test]
async fn a_tenant_may_set_its_own_prompt_templates() {
    let fake = FakeOpenAi::start(FakeOptions::default()).await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let mut config = test_config(&tmp.path().join("data"));
    config.llm = Some(fake_llm_config(&fake.base_url, 0));
    let (gateway, key) = Gateway::with_handbook(config).await.unwrap();
    let (_, admin) = gateway
        .state
        .core
        .catalog
        .create_admin_key(None, "ops")
        .await
        .unwrap();
    let put = |settings: Value| {
        let (url, admin) = (
            format!("{}/api/v1/admin/tenants/acme/settings", gateway.base_url),
            admin.clone(),
        );
        async move {
            let response = reqwest::Client::new()
                .put(url)
                .bearer_auth(admin)
                .json(&settings)
                .send()
                .await
                .unwrap();
            (
                response.status().as_u16(),
                response.json::<Value>().await.unwrap(),
            )
        }
    };
    let system_prompt = |fake: &FakeOpenAi| {
        let requests = fake.chat_requests();
        requests.last().unwrap()["messages"][0]["content"]
            .as_str()
            .unwrap()
            .to_owned()
    };

    let (status, _) = ask(&gateway, &key, None).await;
    assert_eq!(status, 200);
    assert!(!system_prompt(&fake).contains("Monterrey Plant copilot"));

    for (bad, why) in [
        (json!({"prompts": {"sistema": "x"}}), "unknown template"),
        (
            json!({"prompts": {"answer": "{{ question "}}),
            "answer.jinja",
        ),
        (
            json!({"prompts": {"system": "x".repeat(20_000)}}),
            "larger than",
        ),
    ] {
        let (status, body) = put(bad).await;
        assert_eq!(status, 400, "{body}");
        assert!(
            body["error"]["message"].as_str().unwrap().contains(why),
            "{body}"
        );
    }
    let own = "You are the Monterrey Plant copilot. Answer only from the numbered sources and cite them as [n].";
    let (status, body) = put(json!({"prompts": {"system": own}})).await;
    assert_eq!(status, 200, "{body}");
    let (status, _) = ask(&gateway, &key, None).await;
    assert_eq!(status, 200);
    assert_eq!(system_prompt(&fake), own);

    // A cached answer made with other templates is not served: the templates are in the key.
    let cached = || async {
        reqwest::Client::new()
            .post(format!("{}/api/v1/ask", gateway.base_url))
            .bearer_auth(&key)
            .json(&json!({"question": QUESTION}))
            .send()
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap()
    };
    let first = cached().await;
    assert_eq!(cached().await["cached"], true, "{first}");
    let (status, _) = put(json!({})).await;
    assert_eq!(status, 200);
    let after = cached().await;
    assert_eq!(after["cached"], false, "{after}");
    assert!(!system_prompt(&fake).contains("Monterrey Plant copilot"));
}
