#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Answers in the language of the question: the prompt templates sent to the LLM, a tenant's
//! per-language templates, the refusal, the extractive answer, and the caller's
//! `Accept-Language` for questions too short to tell (REST and OpenAI-compatible channels).

mod common;

use std::collections::BTreeMap;

use common::post_ask;
use ragway_gateway::tenants::TenantSettings;
use ragway_tests::fake_openai::{FakeOpenAi, FakeOptions};
use ragway_tests::harness::{Gateway, fake_llm_config, test_config};
use serde_json::{Value, json};

const SPANISH: &str = "¿Qué día se presta el telescopio del club de astronomía?";
const ENGLISH: &str = "Which server address does the NorthGate client connect to?";
// Words no handbook page has, in Spanish stemming too (the handbook has Spanish pages).
const NOTHING_ES: &str = "¿Hay jirafas en Mongolia?";

/// The handbook plus a Spanish page, for tenant `acme`; the temp dirs live as long as the test.
async fn gateway(llm: Option<&FakeOpenAi>) -> (Gateway, String, Vec<tempfile::TempDir>) {
    let data = tempfile::tempdir().unwrap();
    let mut config = test_config(data.path());
    config.llm = llm.map(|fake| fake_llm_config(&fake.base_url, 0));
    config.cache.enabled = false;
    let (gateway, key) = Gateway::with_handbook(config).await.unwrap();
    let docs = tempfile::tempdir().unwrap();
    let filler = "El calendario de actividades se publica cada diciembre en el portal. ".repeat(12);
    std::fs::write(
        docs.path().join("astronomia.md"),
        format!(
            "# Club de astronomía\n\n## Préstamos\n\n{filler}El telescopio del club se presta los viernes a \
             quien haya tomado el curso de manejo del equipo. {filler}\n"
        ),
    )
    .unwrap();
    let report = gateway.sync("acme", "es", docs.path()).await.unwrap();
    assert!(report.failures.is_empty(), "{report:?}");
    (gateway, key, vec![data, docs])
}

fn message(request: &Value, i: usize) -> String {
    request["messages"][i]["content"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn the_questions_language_picks_the_prompt_sent_to_the_llm() {
    let fake = FakeOpenAi::start(FakeOptions::default()).await.unwrap();
    let (gateway, key, _dirs) = gateway(Some(&fake)).await;

    let (status, answer) =
        post_ask(&gateway.base_url, Some(&key), &json!({"question": SPANISH})).await;
    assert_eq!(status, 200, "{answer}");
    let (status, _) = post_ask(&gateway.base_url, Some(&key), &json!({"question": ENGLISH})).await;
    assert_eq!(status, 200);

    let requests = fake.chat_requests();
    assert_eq!(requests.len(), 2);
    let (system, user) = (message(&requests[0], 0), message(&requests[0], 1));
    assert!(system.starts_with("Eres el asistente interno"), "{system}");
    assert!(
        system.contains("«No encontré esto en tus documentos.»"),
        "{system}"
    );
    assert!(user.contains(&format!("Pregunta: {SPANISH}")), "{user}");
    let (system, user) = (message(&requests[1], 0), message(&requests[1], 1));
    assert!(
        system.starts_with("You are the company's internal assistant"),
        "{system}"
    );
    assert!(user.contains(&format!("Question: {ENGLISH}")), "{user}");
}

#[tokio::test]
async fn a_tenants_spanish_template_beats_its_template_for_every_language() {
    let fake = FakeOpenAi::start(FakeOptions::default()).await.unwrap();
    let (gateway, key, _dirs) = gateway(Some(&fake)).await;
    let (_, admin) = gateway
        .state
        .core
        .catalog
        .create_admin_key(None, "test")
        .await
        .unwrap();
    let settings = json!({"prompts": {
        "system": "Answer briefly, in the question's language.",
        "es.system": "Responde en español de México, con tú.",
    }});
    let response = reqwest::Client::new()
        .put(format!(
            "{}/api/v1/admin/tenants/acme/settings",
            gateway.base_url
        ))
        .bearer_auth(&admin)
        .json(&settings)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());

    post_ask(&gateway.base_url, Some(&key), &json!({"question": SPANISH})).await;
    post_ask(&gateway.base_url, Some(&key), &json!({"question": ENGLISH})).await;
    let requests = fake.chat_requests();
    assert_eq!(
        message(&requests[0], 0),
        "Responde en español de México, con tú."
    );
    assert_eq!(
        message(&requests[1], 0),
        "Answer briefly, in the question's language."
    );
    assert!(
        message(&requests[0], 1).contains("Pregunta:"),
        "the templates not overridden stay the built-in Spanish ones"
    );

    // Names the gateway does not know are refused when stored.
    let bad = json!({"prompts": {"fr.system": "Répondez en français."}});
    let response = reqwest::Client::new()
        .put(format!(
            "{}/api/v1/admin/tenants/acme/settings",
            gateway.base_url
        ))
        .bearer_auth(&admin)
        .json(&bad)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("es.<name>"),
        "{body}"
    );
}

#[tokio::test]
async fn nothing_relevant_is_refused_in_the_questions_language_or_the_callers() {
    let fake = FakeOpenAi::start(FakeOptions::default()).await.unwrap();
    let (gateway, key, _dirs) = gateway(Some(&fake)).await;
    let (status, answer) = post_ask(
        &gateway.base_url,
        Some(&key),
        &json!({"question": NOTHING_ES}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(answer["answer"], "No encontré esto en tus documentos.");
    assert_eq!(answer["citations"], json!([]));

    // Too short to tell: `Accept-Language` decides (REST and OpenAI-compatible alike).
    let ask = |accept: &'static str| {
        reqwest::Client::new()
            .post(format!("{}/api/v1/ask", gateway.base_url))
            .bearer_auth(&key)
            .header("accept-language", accept)
            .json(&json!({"question": "Q7?"}))
            .send()
    };
    let answer: Value = ask("es-MX,es;q=0.9,en;q=0.8")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(answer["answer"], "No encontré esto en tus documentos.");
    let answer: Value = ask("en-GB,es;q=0.5").await.unwrap().json().await.unwrap();
    assert_eq!(answer["answer"], "I couldn't find this in your documents.");
    let completion: Value = reqwest::Client::new()
        .post(format!("{}/v1/chat/completions", gateway.base_url))
        .bearer_auth(&key)
        .header("accept-language", "es")
        .json(&json!({"model": "ragway", "messages": [{"role": "user", "content": "Q7?"}]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        completion["choices"][0]["message"]["content"], "No encontré esto en tus documentos.",
        "{completion}"
    );
    assert!(fake.chat_requests().is_empty(), "no LLM call for refusals");

    // Without a hint, the tenant's language.
    let settings = TenantSettings {
        language: Some(ragway_ingest::lang::Lang::Es),
        prompts: BTreeMap::new(),
        ..Default::default()
    };
    gateway
        .state
        .core
        .tenants
        .store("acme", &settings)
        .await
        .unwrap();
    let (_, answer) = post_ask(&gateway.base_url, Some(&key), &json!({"question": "Q7?"})).await;
    assert_eq!(answer["answer"], "No encontré esto en tus documentos.");
}

#[tokio::test]
async fn an_extractive_answer_is_labelled_in_spanish_and_quotes_what_answers() {
    let (gateway, key, _dirs) = gateway(None).await;
    let (status, answer) =
        post_ask(&gateway.base_url, Some(&key), &json!({"question": SPANISH})).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["mode"], "extractive");
    let text = answer["answer"].as_str().unwrap();
    assert!(
        text.starts_with("Respuesta extractiva (no hay un modelo de lenguaje configurado)"),
        "{text}"
    );
    assert!(text.contains("[1] Club de astronomía"), "{text}");
    assert!(
        text.contains("El telescopio del club se presta los viernes"),
        "the answering sentence is quoted, not only the passage's start: {text}"
    );
}
