#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Document ACLs end to end: documents restricted to a group reach only callers in that group —
//! never in sources, answers or cache hits for anyone else — and changing a document's ACL takes
//! effect on the next sync without re-indexing its content.

mod common;

use ragway_catalog::NewApiKey;
use ragway_ingest::source::{AclConfig, AclRule, FolderSourceConfig};
use ragway_tests::fake_openai::{FakeOpenAi, FakeOptions};
use ragway_tests::harness::{Gateway, copy_dir, fake_llm_config, handbook_dir, test_config};
use serde_json::{Value, json};

const HR_QUESTION: &str = "How many vacation days do I get after three years?";

fn hr_only() -> FolderSourceConfig {
    FolderSourceConfig {
        acl: AclConfig {
            groups: Vec::new(),
            rules: vec![AclRule {
                pattern: "hr/**".into(),
                groups: vec!["hr".into()],
            }],
        },
        ..FolderSourceConfig::default()
    }
}

async fn key(gateway: &Gateway, user: &str, groups: &[&str]) -> String {
    let groups: Vec<String> = groups.iter().map(|g| (*g).to_owned()).collect();
    let new = NewApiKey {
        name: user,
        user_id: Some(user),
        groups: &groups,
        ..NewApiKey::default()
    };
    gateway
        .state
        .core
        .catalog
        .create_api_key_with("acme", &new)
        .await
        .unwrap()
        .secret
}

async fn ask(gateway: &Gateway, key: &str) -> Value {
    let response = reqwest::Client::new()
        .post(format!("{}/api/v1/ask", gateway.base_url))
        .bearer_auth(key)
        .json(&json!({"question": HR_QUESTION}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

fn cites_hr(answer: &Value) -> bool {
    answer["citations"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["uri"].as_str().unwrap().starts_with("hr/"))
}

#[tokio::test]
async fn restricted_documents_reach_their_groups_only() {
    let fake = FakeOpenAi::start(FakeOptions::default()).await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let mut config = test_config(&tmp.path().join("data"));
    config.llm = Some(fake_llm_config(&fake.base_url, 0));
    let gateway = Gateway::start(config).await.unwrap();
    gateway
        .state
        .core
        .catalog
        .ensure_tenant("acme")
        .await
        .unwrap();
    let docs = tmp.path().join("docs");
    copy_dir(&handbook_dir(), &docs).unwrap();
    let indexer = &gateway.state.indexer;
    indexer
        .sync_folder("acme", "handbook", &docs, &hr_only(), &|_| {})
        .await
        .unwrap();

    let hr = key(&gateway, "ana", &["hr"]).await;
    let engineer = key(&gateway, "luis", &["engineering"]).await;
    let anonymous = gateway.tenant_with_key("acme").await.unwrap();

    let for_hr = ask(&gateway, &hr).await;
    assert!(cites_hr(&for_hr), "{for_hr}");
    assert_eq!(for_hr["cached"], false);
    let prompt = fake.chat_requests().last().unwrap().to_string();
    assert!(
        prompt.contains("Vacation"),
        "the HR document reached the LLM for an HR member"
    );

    // Same question, other principals: never the HR document, never the HR member's cached answer.
    for other in [&engineer, &anonymous] {
        let calls = fake.chat_requests().len();
        let answer = ask(&gateway, other).await;
        assert_eq!(
            answer["cached"], false,
            "no cache hit across ACL boundaries"
        );
        assert!(!cites_hr(&answer), "{answer}");
        if fake.chat_requests().len() > calls {
            let prompt = fake.chat_requests().last().unwrap().to_string();
            assert!(
                !prompt.contains("hr/vacation"),
                "the HR document never reaches their prompt"
            );
        }
        let events = common::ask_stream(&gateway.base_url, other, HR_QUESTION).await;
        let streamed =
            serde_json::to_string(&events.iter().map(|(_, d)| d).collect::<Vec<_>>()).unwrap();
        assert!(
            !streamed.contains("\"uri\":\"hr/"),
            "nor their streamed sources: {streamed}"
        );
    }

    // Opening the folder to everyone updates the points in place: nothing is re-indexed.
    let report = indexer
        .sync_folder(
            "acme",
            "handbook",
            &docs,
            &FolderSourceConfig::default(),
            &|_| {},
        )
        .await
        .unwrap();
    // The HR folder's 4 English and 4 Spanish documents.
    assert_eq!(report.acl_changed, 8, "{report:?}");
    assert_eq!(
        (report.added, report.changed, report.chunks_written),
        (0, 0, 0)
    );
    let opened = ask(&gateway, &engineer).await;
    assert!(cites_hr(&opened), "{opened}");
    assert_eq!(
        opened["cached"], false,
        "the ACL change bumped the generation"
    );

    // And restricting it again hides it again.
    let report = indexer
        .sync_folder("acme", "handbook", &docs, &hr_only(), &|_| {})
        .await
        .unwrap();
    assert_eq!(report.acl_changed, 8);
    assert!(!cites_hr(&ask(&gateway, &engineer).await));
    assert!(cites_hr(&ask(&gateway, &hr).await));
}
