#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The answer cache: hits are marked and cost no tokens; it never crosses a tenant or an ACL
//! boundary; a sync that changes the index invalidates it; `Cache-Control: no-cache` bypasses it;
//! entries expire; concurrent identical misses call the LLM once.

mod common;

use std::time::Duration;

use common::post_ask;
use ragway_gateway::ask::{AskRequest, answer_collect};
use ragway_gateway::identity::Principal;
use ragway_gateway::llm::GenerationOptions;
use ragway_tests::fake_openai::{FakeOpenAi, FakeOptions};
use ragway_tests::harness::{Gateway, copy_dir, fake_llm_config, handbook_dir, test_config};
use serde_json::{Value, json};

const QUESTION: &str = "Which server address does the NorthGate client connect to?";

async fn setup(
    latency: Duration,
    ttl_secs: u64,
) -> (Gateway, String, FakeOpenAi, tempfile::TempDir) {
    let fake = FakeOpenAi::start(FakeOptions {
        latency,
        ..FakeOptions::default()
    })
    .await
    .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let mut config = test_config(&tmp.path().join("data"));
    config.llm = Some(fake_llm_config(&fake.base_url, 0));
    config.cache.ttl_secs = ttl_secs;
    let (gateway, key) = Gateway::with_handbook(config).await.unwrap();
    (gateway, key, fake, tmp)
}

async fn ask_with(gateway: &Gateway, key: &str, question: &str, no_cache: bool) -> Value {
    let mut request = reqwest::Client::new()
        .post(format!("{}/api/v1/ask", gateway.base_url))
        .bearer_auth(key)
        .json(&json!({"question": question}));
    if no_cache {
        request = request.header("cache-control", "no-cache");
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

#[tokio::test]
async fn hits_are_marked_free_and_bypassable() {
    let (gateway, key, fake, _tmp) = setup(Duration::ZERO, 3600).await;
    let first = ask_with(&gateway, &key, QUESTION, false).await;
    assert_eq!(first["cached"], false);
    let second = ask_with(
        &gateway,
        &key,
        "  which server address does the NorthGate client connect to ",
        false,
    )
    .await;
    assert_eq!(second["cached"], true, "the normalised question hits");
    assert_eq!(second["answer"], first["answer"]);
    assert_eq!(second["citations"], first["citations"]);
    assert_eq!(
        second["usage"]["total_tokens"], 0,
        "a hit costs no LLM tokens"
    );
    assert_eq!(fake.chat_requests().len(), 1);

    let fresh = ask_with(&gateway, &key, QUESTION, true).await;
    assert_eq!(fresh["cached"], false);
    assert_eq!(fake.chat_requests().len(), 2, "no-cache goes to the model");

    // A streamed hit replays the same events.
    let events = common::ask_stream(&gateway.base_url, &key, QUESTION).await;
    let text: String = events
        .iter()
        .filter(|(n, _)| n == "delta")
        .map(|(_, d)| d["text"].as_str().unwrap())
        .collect();
    assert_eq!(text, first["answer"].as_str().unwrap());
    assert_eq!(events.last().unwrap().1["cached"], true);
    assert_eq!(fake.chat_requests().len(), 2);
}

#[tokio::test]
async fn never_across_tenants_or_groups_and_never_stale() {
    let (gateway, key, fake, tmp) = setup(Duration::ZERO, 3600).await;
    let other = gateway.tenant_with_key("globex").await.unwrap();
    let docs = tmp.path().join("globex-docs");
    copy_dir(&handbook_dir(), &docs).unwrap();
    gateway.sync("globex", "handbook", &docs).await.unwrap();

    ask_with(&gateway, &key, QUESTION, false).await;
    let theirs = ask_with(&gateway, &other, QUESTION, false).await;
    assert_eq!(
        theirs["cached"], false,
        "another tenant with the same documents never gets our entry"
    );
    assert_eq!(fake.chat_requests().len(), 2);

    // Principals with other groups (document ACLs) do not share entries either.
    let request = |groups: Vec<String>| AskRequest {
        principal: Principal {
            tenant_id: "acme".into(),
            user_id: "u".into(),
            groups,
        },
        question: QUESTION.into(),
        history: Vec::new(),
        top_k: gateway.state.core.config.retrieval.top_k,
        profile: gateway.state.core.profiles.default_profile().clone(),
        options: GenerationOptions::default(),
        use_cache: true,
        language: None,
    };
    let engineers = answer_collect(&gateway.state.core, request(vec!["engineering".into()]))
        .await
        .unwrap();
    assert!(!engineers.cached);
    let again = answer_collect(&gateway.state.core, request(vec!["engineering".into()]))
        .await
        .unwrap();
    assert!(again.cached);
    let hr = answer_collect(&gateway.state.core, request(vec!["hr".into()]))
        .await
        .unwrap();
    assert!(!hr.cached);

    // A sync that changes the index bumps the generation: the old entry is never served.
    std::fs::write(
        docs.join("new-policy.md"),
        "# New policy\nNothing to see.\n",
    )
    .unwrap();
    assert!(
        gateway
            .sync("globex", "handbook", &docs)
            .await
            .unwrap()
            .index_changed()
    );
    let after = ask_with(&gateway, &other, QUESTION, false).await;
    assert_eq!(after["cached"], false);
    let (status, _) = post_ask(
        &gateway.base_url,
        Some(&key),
        &json!({"question": QUESTION}),
    )
    .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn entries_expire() {
    let (gateway, key, fake, _tmp) = setup(Duration::ZERO, 1).await;
    ask_with(&gateway, &key, QUESTION, false).await;
    assert_eq!(
        ask_with(&gateway, &key, QUESTION, false).await["cached"],
        true
    );
    tokio::time::sleep(Duration::from_millis(1300)).await;
    assert_eq!(
        ask_with(&gateway, &key, QUESTION, false).await["cached"],
        false
    );
    assert_eq!(fake.chat_requests().len(), 2);
}

#[tokio::test]
async fn concurrent_identical_misses_call_the_llm_once() {
    let (gateway, key, fake, _tmp) = setup(Duration::from_millis(400), 3600).await;
    let asks = (0..5).map(|_| ask_with(&gateway, &key, QUESTION, false));
    let answers = futures::future::join_all(asks).await;
    assert_eq!(fake.chat_requests().len(), 1, "single flight");
    assert_eq!(answers.iter().filter(|a| a["cached"] == true).count(), 4);
    assert!(answers.iter().all(|a| a["answer"] == answers[0]["answer"]));
}

/// Property: over random tenants, group sets and spellings of questions, a request is served from
/// the cache exactly when the same tenant with the same groups asked the same (normalised)
/// question before — and every source it gets belongs to its own tenant.
#[tokio::test]
async fn random_principals_never_share_entries() {
    use rand::{Rng, SeedableRng};
    use std::collections::{HashMap, HashSet};

    let (gateway, _key, _fake, tmp) = setup(Duration::ZERO, 3600).await;
    let docs = tmp.path().join("globex-docs");
    copy_dir(&handbook_dir(), &docs).unwrap();
    gateway
        .state
        .core
        .catalog
        .ensure_tenant("globex")
        .await
        .unwrap();
    gateway.sync("globex", "handbook", &docs).await.unwrap();
    let mut own_documents: HashMap<&str, HashSet<String>> = HashMap::new();
    for tenant in ["acme", "globex"] {
        let source = gateway
            .state
            .core
            .catalog
            .source_by_name(tenant, "handbook")
            .await
            .unwrap()
            .unwrap();
        let manifest = gateway
            .state
            .core
            .catalog
            .manifest(&source.id)
            .await
            .unwrap();
        own_documents.insert(
            tenant,
            manifest.into_values().map(|d| d.document_id).collect(),
        );
    }

    let seed: u64 = std::env::var("PROPTEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    eprintln!("seed {seed} (rerun with PROPTEST_SEED={seed})");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let questions = [
        QUESTION,
        "How do I connect to the VPN?",
        "Who approves travel expenses?",
        "What is the parental leave policy?",
    ];
    let all_groups = ["engineering", "hr", "finance"];
    let mut seen = HashSet::new();
    for _ in 0..40 {
        let tenant = ["acme", "globex"][rng.random_range(0..2)];
        let mut groups: Vec<String> = all_groups
            .iter()
            .filter(|_| rng.random_bool(0.4))
            .map(|g| (*g).to_owned())
            .collect();
        let question = questions[rng.random_range(0..questions.len())];
        // Another spelling of the same question: case, spacing, trailing punctuation.
        let spelled = match rng.random_range(0..3) {
            0 => question.to_uppercase(),
            1 => format!("  {}  ", question.trim_end_matches('?')),
            _ => question.to_owned(),
        };
        let identity = {
            let mut sorted = groups.clone();
            sorted.sort();
            (
                tenant,
                sorted,
                question.trim_end_matches('?').to_lowercase(),
            )
        };
        groups.reverse(); // order of groups does not matter
        let request = AskRequest {
            principal: Principal {
                tenant_id: tenant.into(),
                user_id: format!("u{}", rng.random_range(0..3)),
                groups,
            },
            question: spelled.clone(),
            history: Vec::new(),
            top_k: gateway.state.core.config.retrieval.top_k,
            profile: gateway.state.core.profiles.default_profile().clone(),
            options: GenerationOptions::default(),
            use_cache: true,
            language: None,
        };
        let answer = answer_collect(&gateway.state.core, request).await.unwrap();
        assert_eq!(
            answer.cached,
            seen.contains(&identity),
            "seed {seed}: {tenant} asking {spelled:?}"
        );
        for citation in &answer.citations {
            assert!(
                own_documents[tenant].contains(&citation.document_id),
                "seed {seed}: {tenant} got a source of another tenant"
            );
        }
        seen.insert(identity);
    }
}
