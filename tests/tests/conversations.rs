#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Multi-turn conversations: stored threads on the native API, history on the OpenAI API, and
//! follow-up questions rewritten by the LLM into standalone search queries.

mod common;

use common::{parse_sse, post_ask};
use ragway_tests::fake_openai::{FakeOpenAi, FakeOptions};
use ragway_tests::harness::{Gateway, fake_llm_config, test_config};
use serde_json::{Value, json};

const FIRST: &str = "Which server address does the NorthGate client connect to?";
const FOLLOW_UP: &str = "And on which port?";

async fn setup() -> (Gateway, String, FakeOpenAi, tempfile::TempDir) {
    let fake = FakeOpenAi::start(FakeOptions::default()).await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let mut config = test_config(tmp.path());
    config.llm = Some(fake_llm_config(&fake.base_url, 1));
    let (gateway, key) = Gateway::with_handbook(config).await.unwrap();
    (gateway, key, fake, tmp)
}

fn roles(request: &Value) -> Vec<String> {
    request["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["role"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn native_conversations_continue_with_history_and_a_rewritten_query() {
    let (gateway, key, fake, _tmp) = setup().await;
    let (status, first) =
        post_ask(&gateway.base_url, Some(&key), &json!({"question": FIRST})).await;
    assert_eq!(status, 200, "{first}");
    let conversation = first["conversation_id"].as_str().unwrap().to_owned();
    assert_eq!(
        fake.chat_requests().len(),
        1,
        "a first question is not rewritten"
    );

    let (status, second) = post_ask(
        &gateway.base_url,
        Some(&key),
        &json!({"question": FOLLOW_UP, "conversation_id": conversation}),
    )
    .await;
    assert_eq!(status, 200, "{second}");
    assert_eq!(second["conversation_id"], conversation.as_str());
    let requests = fake.chat_requests();
    assert_eq!(requests.len(), 3, "rewrite + answer");
    let rewrite = requests[1]["messages"][1]["content"].as_str().unwrap();
    assert!(
        rewrite.contains(&format!("User: {FIRST}"))
            && rewrite.contains(&format!("Follow-up question: {FOLLOW_UP}")),
        "{rewrite}"
    );
    // The answer request carries the earlier turns before the grounded question.
    assert_eq!(roles(&requests[2]), ["system", "user", "assistant", "user"]);
    assert_eq!(requests[2]["messages"][1]["content"], FIRST);
    assert_eq!(requests[2]["messages"][2]["content"], first["answer"]);
    // Retrieval used the standalone query, so the VPN guide is still the first source.
    assert_eq!(second["citations"][0]["uri"], "it/northgate-vpn-setup.md");

    // A conversation is private to its tenant and user.
    let other_key = gateway
        .state
        .core
        .catalog
        .create_api_key("acme", "someone-else")
        .await
        .unwrap()
        .secret;
    let (status, body) = post_ask(
        &gateway.base_url,
        Some(&other_key),
        &json!({"question": FOLLOW_UP, "conversation_id": conversation}),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("not_found"))
    );
    let (status, _) = post_ask(
        &gateway.base_url,
        Some(&key),
        &json!({"question": FOLLOW_UP, "conversation_id": "nope"}),
    )
    .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn streamed_answers_announce_and_extend_the_conversation() {
    let (gateway, key, fake, _tmp) = setup().await;
    let response = reqwest::Client::new()
        .post(format!("{}/api/v1/ask", gateway.base_url))
        .bearer_auth(&key)
        .json(&json!({"question": FIRST, "stream": true}))
        .send()
        .await
        .unwrap();
    let events = parse_sse(&response.text().await.unwrap());
    assert_eq!(events[0].0, "conversation");
    let conversation = events[0].1["conversation_id"].as_str().unwrap().to_owned();
    assert_eq!(events.last().unwrap().0, "done");

    let (status, _) = post_ask(
        &gateway.base_url,
        Some(&key),
        &json!({"question": FOLLOW_UP, "conversation_id": conversation}),
    )
    .await;
    assert_eq!(status, 200);
    let answer_request = fake.chat_requests().last().cloned().unwrap();
    assert_eq!(
        roles(&answer_request),
        ["system", "user", "assistant", "user"]
    );
}

#[tokio::test]
async fn openai_messages_are_history_and_follow_ups_are_rewritten() {
    let (gateway, key, fake, _tmp) = setup().await;
    let body = json!({"model": "ragway", "messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": FIRST},
        {"role": "assistant", "content": "It is vpn.aceronorte.example [1]."},
        {"role": "user", "content": FOLLOW_UP},
    ]});
    let response = reqwest::Client::new()
        .post(format!("{}/v1/chat/completions", gateway.base_url))
        .bearer_auth(&key)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let completion: Value = response.json().await.unwrap();
    let requests = fake.chat_requests();
    assert_eq!(requests.len(), 2, "rewrite + answer");
    assert!(
        requests[0]["messages"][1]["content"]
            .as_str()
            .unwrap()
            .contains("Follow-up question: And on which port?")
    );
    assert_eq!(roles(&requests[1]), ["system", "user", "assistant", "user"]);
    assert_eq!(
        completion["choices"][0]["message"]["annotations"][0]["url_citation"]["url"],
        "it/northgate-vpn-setup.md"
    );
}
