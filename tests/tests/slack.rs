#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The Slack bot end to end: signed requests from "Slack" to the real gateway, answers streamed
//! to a fake Slack Web API (which checks its methods' rules and Block Kit shapes), the LLM a fake
//! OpenAI-compatible server. Time windows run on a manual clock.

use std::collections::BTreeMap;

use ragway_catalog::Rating;
use ragway_gateway::channels::bots::Clock;
use ragway_gateway::channels::slack::verify::sign;
use ragway_gateway::channels::slack::{SlackConfig, SlackWorkspace};
use ragway_ingest::source::{AclConfig, AclRule, FolderSourceConfig};
use ragway_tests::bots::{gateway_with_bots, settle};
use ragway_tests::fake_openai::{Failure, FakeOpenAi, FakeOptions};
use ragway_tests::fake_slack::{FakeMessage, FakeSlack, FakeWorkspace};
use ragway_tests::harness::{Gateway, fake_llm_config, handbook_dir, test_config};
use serde_json::{Value, json};

const SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
const TOKEN: &str = "xoxb-acme-test-token";
const T0: i64 = 1_800_000_000;
const TEAM: &str = "T0ACME";
const BOT_USER: &str = "U0RAGWAY";
const BOT_ID: &str = "B0RAGWAY";
const QUESTION: &str = "Which server address does the NorthGate client connect to?";

struct Setup {
    gateway: Gateway,
    slack: FakeSlack,
    llm: FakeOpenAi,
    clock: Clock,
    _tmp: tempfile::TempDir,
}

async fn setup(adjust: impl FnOnce(&mut ragway_gateway::Config)) -> Setup {
    let slack = FakeSlack::start(vec![FakeWorkspace {
        team_id: TEAM.into(),
        token: TOKEN.into(),
        bot_user_id: BOT_USER.into(),
        bot_id: BOT_ID.into(),
    }])
    .await
    .unwrap();
    let llm = FakeOpenAi::start(FakeOptions::default()).await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let mut config = test_config(tmp.path());
    config.llm = Some(fake_llm_config(&llm.base_url, 0));
    let workspace = SlackWorkspace {
        tenant: "acme".into(),
        bot_token_env: "SLACK_BOT_TOKEN_ACME".into(),
        lookup_email: true,
        default_groups: vec!["staff".into()],
        user_groups: BTreeMap::from([("alice@acme.example".into(), vec!["it".into()])]),
        guest_groups: Vec::new(),
    };
    config.slack = Some(SlackConfig {
        api_base: slack.api_base.clone(),
        signing_secret_env: "SLACK_SIGNING_SECRET".into(),
        response_url_hosts: vec!["127.0.0.1".into()],
        update_interval_ms: 0,
        workspaces: BTreeMap::from([(TEAM.into(), workspace)]),
        ..SlackConfig::default()
    });
    adjust(&mut config);
    let clock = Clock::manual(T0);
    let secrets = [
        ("SLACK_SIGNING_SECRET", SECRET),
        ("SLACK_BOT_TOKEN_ACME", TOKEN),
    ];
    let gateway = gateway_with_bots(config, &secrets, clock.clone())
        .await
        .unwrap();
    slack.set_email("U0ALICE", "alice@acme.example");
    Setup {
        gateway,
        slack,
        llm,
        clock,
        _tmp: tmp,
    }
}

/// A request signed with `secret` at `ts` (the headers Slack sends), optionally for another body.
async fn send_signed(
    setup: &Setup,
    path: &str,
    content_type: &str,
    body: &str,
    ts: i64,
    secret: &str,
    extra: &[(&str, &str)],
) -> (u16, String) {
    let signature = sign(secret, &ts.to_string(), body.as_bytes());
    let mut request = reqwest::Client::new()
        .post(format!("{}{path}", setup.gateway.base_url))
        .header("content-type", content_type)
        .header("x-slack-request-timestamp", ts.to_string())
        .header("x-slack-signature", signature)
        .body(body.to_owned());
    for (name, value) in extra {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

async fn post_event(setup: &Setup, envelope: &Value, extra: &[(&str, &str)]) -> u16 {
    let now = setup.clock.now();
    send_signed(
        setup,
        "/slack/events",
        "application/json",
        &envelope.to_string(),
        now,
        SECRET,
        extra,
    )
    .await
    .0
}

fn envelope(event_id: &str, event: Value) -> Value {
    json!({"token": "legacy", "team_id": TEAM, "api_app_id": "A0RAGWAY", "type": "event_callback",
           "event_id": event_id, "event_time": T0, "event": event,
           "authorizations": [{"team_id": TEAM, "user_id": BOT_USER, "is_bot": true}]})
}

fn mention(event_id: &str, ts: &str, thread_ts: Option<&str>, text: &str) -> Value {
    let mut event = json!({"type": "app_mention", "user": "U0ALICE", "text": format!("<@{BOT_USER}> {text}"),
                           "ts": ts, "channel": "C0GENERAL", "event_ts": ts});
    if let Some(thread_ts) = thread_ts {
        event["thread_ts"] = json!(thread_ts);
    }
    envelope(event_id, event)
}

fn only_message(slack: &FakeSlack) -> FakeMessage {
    let messages = slack.messages();
    assert_eq!(messages.len(), 1, "{messages:#?}");
    messages.into_iter().next().unwrap()
}

fn block<'a>(message: &'a FakeMessage, kind: &str) -> &'a Value {
    message
        .blocks
        .iter()
        .find(|b| b["type"] == kind)
        .unwrap_or_else(|| panic!("no {kind} block in {:#?}", message.blocks))
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
async fn a_mention_is_answered_in_its_thread_streamed_with_sources_and_feedback() {
    let setup = setup(|_| {}).await;
    let ts = "1800000000.000100";
    let status = post_event(&setup, &mention("Ev1", ts, None, QUESTION), &[]).await;
    assert_eq!(status, 200);
    settle(&setup.gateway.state).await;

    let status_calls = setup.slack.calls_to("assistant.threads.setStatus");
    assert_eq!(
        status_calls[0].body["thread_ts"], ts,
        "status shown in the question's thread"
    );
    let start = &setup.slack.calls_to("chat.startStream")[0].body;
    assert_eq!(
        (
            start["thread_ts"].as_str(),
            start["recipient_user_id"].as_str()
        ),
        (Some(ts), Some("U0ALICE"))
    );
    assert!(
        !setup.slack.calls_to("chat.appendStream").is_empty(),
        "the answer is streamed in pieces"
    );
    let answer = only_message(&setup.slack);
    assert!(
        answer.streamed && !answer.streaming,
        "the stream was stopped: {answer:?}"
    );
    assert_eq!(answer.thread_ts.as_deref(), Some(ts));
    assert!(
        answer.text.starts_with("According to your documents:") && answer.text.contains("[1]"),
        "{}",
        answer.text
    );
    let context = &block(&answer, "context")["elements"];
    assert_eq!(context[0]["text"], "*Sources:*");
    let sources = context[1]["text"].as_str().unwrap().to_owned();
    assert!(
        sources.starts_with("*[1]*") && sources.contains("it/northgate-vpn-setup.md"),
        "{sources}"
    );
    let feedback = &block(&answer, "context_actions")["elements"][0];
    assert_eq!(feedback["type"], "feedback_buttons");
    // The LLM got the question without the mention; the asker's email was looked up once.
    let asked = setup.llm.chat_requests()[0]["messages"].to_string();
    assert!(
        asked.contains(QUESTION) && !asked.contains(BOT_USER),
        "{asked}"
    );
    assert_eq!(setup.slack.calls_to("users.info").len(), 1);

    // A follow-up in the thread continues the same conversation.
    let follow_up = mention("Ev2", "1800000000.000200", Some(ts), "And on which port?");
    assert_eq!(post_event(&setup, &follow_up, &[]).await, 200);
    settle(&setup.gateway.state).await;
    let requests = setup.llm.chat_requests();
    assert_eq!(requests.len(), 3, "rewrite + answer");
    assert_eq!(roles(&requests[2]), ["system", "user", "assistant", "user"]);
    assert_eq!(
        setup.slack.calls_to("users.info").len(),
        1,
        "emails are cached"
    );
    let second = &setup.slack.calls_to("chat.startStream")[1].body;
    assert_eq!(second["thread_ts"], ts, "answered in the same thread");
}

#[tokio::test]
async fn without_streaming_the_answer_is_edited_in_place() {
    let setup = setup(|_| {}).await;
    setup.slack.disable_streaming();
    assert_eq!(
        post_event(
            &setup,
            &mention("Ev1", "1800000000.000100", None, QUESTION),
            &[]
        )
        .await,
        200
    );
    settle(&setup.gateway.state).await;
    let answer = only_message(&setup.slack);
    assert!(!answer.streamed && answer.updates >= 1, "{answer:?}");
    assert_eq!(answer.thread_ts.as_deref(), Some("1800000000.000100"));
    let section = block(&answer, "section")["text"]["text"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(section.contains("[1]"), "{section}");
    assert!(
        answer.text.contains("[1]"),
        "the plain-text fallback holds the answer too"
    );
    block(&answer, "context");
    block(&answer, "context_actions");
}

#[tokio::test]
async fn forged_tampered_and_stale_requests_are_refused_and_nothing_is_posted() {
    let setup = setup(|_| {}).await;
    let body = mention("Ev1", "1800000000.000100", None, QUESTION).to_string();
    let json = "application/json";
    let refused = [
        send_signed(
            &setup,
            "/slack/events",
            json,
            &body,
            T0,
            "not-the-secret",
            &[],
        )
        .await,
        send_signed(&setup, "/slack/events", json, &body, T0 - 301, SECRET, &[]).await,
        send_signed(&setup, "/slack/events", json, &body, T0 + 301, SECRET, &[]).await,
        send_signed(
            &setup,
            "/slack/commands",
            "application/x-www-form-urlencoded",
            "text=x",
            T0 - 301,
            SECRET,
            &[],
        )
        .await,
    ];
    for (status, text) in &refused {
        assert_eq!(*status, 401, "{text}");
        let error: Value = serde_json::from_str(text).unwrap();
        assert_eq!(error["error"]["code"], "unauthorized");
    }
    // The signature covers the raw body: one changed byte and it no longer matches.
    let signature = sign(SECRET, &T0.to_string(), body.as_bytes());
    let tampered = body.replace("NorthGate", "NorthGatf");
    let response = reqwest::Client::new()
        .post(format!("{}/slack/events", setup.gateway.base_url))
        .header("x-slack-request-timestamp", T0.to_string())
        .header("x-slack-signature", signature)
        .body(tampered)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let unsigned = reqwest::Client::new()
        .post(format!("{}/slack/events", setup.gateway.base_url))
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(unsigned.status(), 401);
    // 300 s is still inside the window; the clock moving on takes a request out of it.
    let check = json!({"token": "t", "challenge": "c", "type": "url_verification"}).to_string();
    assert_eq!(
        send_signed(&setup, "/slack/events", json, &check, T0 - 300, SECRET, &[])
            .await
            .0,
        200
    );
    setup.clock.set(T0 + 600);
    assert_eq!(
        send_signed(&setup, "/slack/events", json, &check, T0 + 300, SECRET, &[])
            .await
            .0,
        200
    );
    assert_eq!(
        send_signed(&setup, "/slack/events", json, &check, T0, SECRET, &[])
            .await
            .0,
        401
    );

    settle(&setup.gateway.state).await;
    assert!(setup.slack.calls().is_empty(), "{:#?}", setup.slack.calls());
    assert!(setup.llm.chat_requests().is_empty());
}

#[tokio::test]
async fn the_url_check_echoes_its_challenge() {
    let setup = setup(|_| {}).await;
    let body = json!({"token": "t", "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P", "type": "url_verification"});
    let response = reqwest::Client::new()
        .post(format!("{}/slack/events", setup.gateway.base_url))
        .header("x-slack-request-timestamp", T0.to_string())
        .header(
            "x-slack-signature",
            sign(SECRET, &T0.to_string(), body.to_string().as_bytes()),
        )
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    assert_eq!(
        response.text().await.unwrap(),
        body["challenge"].as_str().unwrap()
    );
}

#[tokio::test]
async fn a_retried_event_is_answered_once() {
    let setup = setup(|_| {}).await;
    let event = mention("Ev1", "1800000000.000100", None, QUESTION);
    assert_eq!(post_event(&setup, &event, &[]).await, 200);
    let retry = [
        ("x-slack-retry-num", "1"),
        ("x-slack-retry-reason", "http_timeout"),
    ];
    assert_eq!(post_event(&setup, &event, &retry).await, 200);
    settle(&setup.gateway.state).await;
    assert_eq!(setup.slack.calls_to("chat.startStream").len(), 1);
    assert_eq!(setup.llm.chat_requests().len(), 1);
    assert_eq!(setup.slack.messages().len(), 1);
}

#[tokio::test]
async fn the_bots_own_messages_and_message_subtypes_are_ignored() {
    let setup = setup(|_| {}).await;
    let dm = |event_id: &str, extra: Value| {
        let mut event = json!({"type": "message", "channel_type": "im", "channel": "D0ALICE",
                               "user": "U0ALICE", "text": QUESTION, "ts": "1800000000.000300"});
        event
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        envelope(event_id, event)
    };
    let ignored = [
        dm("Ev1", json!({"user": BOT_USER})),
        dm("Ev2", json!({"bot_id": BOT_ID})),
        dm("Ev3", json!({"subtype": "message_changed"})),
        dm("Ev4", json!({"subtype": "bot_message", "user": null})),
        envelope(
            "Ev5",
            json!({"type": "reaction_added", "user": "U0ALICE", "reaction": "thumbsup"}),
        ),
    ];
    for event in &ignored {
        assert_eq!(post_event(&setup, event, &[]).await, 200);
    }
    settle(&setup.gateway.state).await;
    let posted: Vec<_> = setup
        .slack
        .calls()
        .into_iter()
        .filter(|c| c.method.starts_with("chat."))
        .collect();
    assert!(posted.is_empty(), "{posted:#?}");
    assert!(setup.llm.chat_requests().is_empty());

    // A person's direct message is answered, in a thread of the DM.
    assert_eq!(post_event(&setup, &dm("Ev6", json!({})), &[]).await, 200);
    settle(&setup.gateway.state).await;
    let answer = only_message(&setup.slack);
    assert_eq!(
        (answer.channel.as_str(), answer.thread_ts.as_deref()),
        ("D0ALICE", Some("1800000000.000300"))
    );
    assert!(answer.text.contains("[1]"));
}

#[tokio::test]
async fn an_assistant_thread_offers_prompts_and_answers_in_the_thread() {
    let setup = setup(|config| {
        config.slack.as_mut().unwrap().suggested_prompts =
            vec!["How do I connect to the VPN?".into()];
    })
    .await;
    let thread = json!({"user_id": "U0ALICE", "channel_id": "D0ALICE", "thread_ts": "1800000000.000500",
                        "context": {"channel_id": "C0GENERAL", "team_id": TEAM}});
    let started = envelope(
        "Ev1",
        json!({"type": "assistant_thread_started", "assistant_thread": thread,
                                         "event_ts": "1800000000.000501"}),
    );
    assert_eq!(post_event(&setup, &started, &[]).await, 200);
    settle(&setup.gateway.state).await;
    let prompts = &setup
        .slack
        .calls_to("assistant.threads.setSuggestedPrompts")[0]
        .body;
    assert_eq!(prompts["thread_ts"], "1800000000.000500");
    assert_eq!(
        prompts["prompts"][0]["message"],
        "How do I connect to the VPN?"
    );

    let turn = envelope(
        "Ev2",
        json!({"type": "message", "channel_type": "im", "channel": "D0ALICE",
        "user": "U0ALICE", "text": QUESTION, "ts": "1800000000.000600", "thread_ts": "1800000000.000500"}),
    );
    assert_eq!(post_event(&setup, &turn, &[]).await, 200);
    settle(&setup.gateway.state).await;
    let status = &setup.slack.calls_to("assistant.threads.setStatus")[0].body;
    assert_eq!(status["thread_ts"], "1800000000.000500");
    let answer = only_message(&setup.slack);
    assert_eq!(answer.thread_ts.as_deref(), Some("1800000000.000500"));
    assert!(answer.text.contains("[1]"));
}

#[tokio::test]
async fn the_ask_command_answers_through_its_response_url() {
    let setup = setup(|_| {}).await;
    let command = |response_url: &str| {
        serde_urlencoded::to_string([
            ("token", "legacy"),
            ("team_id", TEAM),
            ("team_domain", "acme"),
            ("channel_id", "C0GENERAL"),
            ("channel_name", "general"),
            ("user_id", "U0ALICE"),
            ("user_name", "alice"),
            ("command", "/ask"),
            ("text", QUESTION),
            ("api_app_id", "A0RAGWAY"),
            ("response_url", response_url),
            ("trigger_id", "13345.7"),
        ])
        .unwrap()
    };
    let form = "application/x-www-form-urlencoded";
    let response_url = format!("{}/response/cmd-1", setup.slack.root);
    let (status, ack) = send_signed(
        &setup,
        "/slack/commands",
        form,
        &command(&response_url),
        T0,
        SECRET,
        &[],
    )
    .await;
    assert_eq!(status, 200);
    let ack: Value = serde_json::from_str(&ack).unwrap();
    assert_eq!(ack["response_type"], "ephemeral");
    settle(&setup.gateway.state).await;
    let responses = setup.slack.responses();
    assert_eq!(responses.len(), 1, "{responses:#?}");
    let (path, reply) = &responses[0];
    assert_eq!(path, "/response/cmd-1");
    assert_eq!(
        reply["response_type"], "ephemeral",
        "answers to /ask are private by default"
    );
    assert!(reply["text"].as_str().unwrap().contains("[1]"), "{reply}");
    let kinds: Vec<&str> = reply["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["type"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["context", "section", "context", "context_actions"]);

    // A response_url on a host that is not allowed is never called.
    let (status, refusal) = send_signed(
        &setup,
        "/slack/commands",
        form,
        &command("https://evil.example/hook"),
        T0,
        SECRET,
        &[],
    )
    .await;
    assert_eq!(status, 200);
    assert!(refusal.contains("not allowed"), "{refusal}");
    settle(&setup.gateway.state).await;
    assert_eq!(setup.slack.responses().len(), 1);
    assert_eq!(setup.llm.chat_requests().len(), 1);
}

#[tokio::test]
async fn a_feedback_click_is_stored_for_the_answer_and_user() {
    let setup = setup(|_| {}).await;
    let click = |value: &str| {
        let payload = json!({"type": "block_actions", "team": {"id": TEAM, "domain": "acme"},
            "user": {"id": "U0ALICE", "team_id": TEAM},
            "container": {"type": "message", "message_ts": "1700000000.000003", "channel_id": "C0GENERAL", "is_ephemeral": false},
            "channel": {"id": "C0GENERAL"}, "message": {"ts": "1700000000.000003"},
            "response_url": format!("{}/response/click", setup.slack.root),
            "actions": [{"type": "feedback_buttons", "action_id": "ragway_feedback", "block_id": "b1",
                         "value": value, "action_ts": "1800000000.1"}]});
        serde_urlencoded::to_string([("payload", payload.to_string())]).unwrap()
    };
    let form = "application/x-www-form-urlencoded";
    assert_eq!(
        send_signed(
            &setup,
            "/slack/interactivity",
            form,
            &click("down"),
            T0,
            SECRET,
            &[]
        )
        .await
        .0,
        200
    );
    let stored = setup
        .gateway
        .state
        .core
        .catalog
        .feedback("acme", 10)
        .await
        .unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].rating, Rating::Down);
    assert_eq!(stored[0].message_id, "C0GENERAL:1700000000.000003");
    assert_eq!(stored[0].user_id, "slack:T0ACME:U0ALICE");
    assert_eq!(stored[0].channel, "slack");
    // Clicking the other button changes the rating.
    assert_eq!(
        send_signed(
            &setup,
            "/slack/interactivity",
            form,
            &click("up"),
            T0,
            SECRET,
            &[]
        )
        .await
        .0,
        200
    );
    let stored = setup
        .gateway
        .state
        .core
        .catalog
        .feedback("acme", 10)
        .await
        .unwrap();
    assert_eq!((stored.len(), stored[0].rating), (1, Rating::Up));
    // Unsigned clicks are refused.
    let forged = send_signed(
        &setup,
        "/slack/interactivity",
        form,
        &click("down"),
        T0,
        "wrong",
        &[],
    )
    .await;
    assert_eq!(forged.0, 401);
    assert_eq!(
        setup
            .gateway
            .state
            .core
            .catalog
            .feedback("acme", 10)
            .await
            .unwrap()[0]
            .rating,
        Rating::Up
    );
}

#[tokio::test]
async fn when_the_llm_fails_the_user_is_told_in_the_thread() {
    let setup = setup(|_| {}).await;
    setup.llm.fail_chat(
        Failure {
            status: 500,
            retry_after_secs: None,
        },
        10,
    );
    assert_eq!(
        post_event(
            &setup,
            &mention("Ev1", "1800000000.000100", None, QUESTION),
            &[]
        )
        .await,
        200
    );
    settle(&setup.gateway.state).await;
    let answer = only_message(&setup.slack);
    assert!(!answer.streaming, "the stream is closed");
    assert!(
        answer.text.contains("⚠️") && answer.text.contains("language model is unavailable"),
        "{}",
        answer.text
    );
    let metrics = setup.gateway.state.core.metrics.encode().unwrap();
    assert!(
        metrics.contains("ragway_bot_events_total{channel=\"slack\",outcome=\"failed\"} 1"),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_rate_limited_user_is_told_so() {
    let setup = setup(|config| {
        config.limits.user_requests_per_minute = 1;
        config.limits.user_burst = 1;
    })
    .await;
    assert_eq!(
        post_event(
            &setup,
            &mention("Ev1", "1800000000.000100", None, QUESTION),
            &[]
        )
        .await,
        200
    );
    settle(&setup.gateway.state).await;
    assert_eq!(
        post_event(
            &setup,
            &mention("Ev2", "1800000000.000200", None, QUESTION),
            &[]
        )
        .await,
        200
    );
    settle(&setup.gateway.state).await;
    let refusal = setup
        .slack
        .messages()
        .into_iter()
        .find(|m| m.thread_ts.as_deref() == Some("1800000000.000200"))
        .expect("the second asker is told");
    assert!(
        refusal.text.contains("can't answer right now") && refusal.text.contains("user_requests"),
        "{}",
        refusal.text
    );
    assert_eq!(setup.llm.chat_requests().len(), 1);
}

/// A Spanish document for the tenant (its own source, beside the English handbook).
async fn spanish_document(setup: &Setup) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("vacaciones.md"),
        "# Vacaciones\n\n## Días por año\n\nEn el primer año de servicio tienes doce días de vacaciones \
         pagadas. Las solicitudes de vacaciones se registran en el portal de Recursos Humanos con dos \
         semanas de anticipación.\n",
    )
    .unwrap();
    let report = setup.gateway.sync("acme", "es", dir.path()).await.unwrap();
    assert!(report.failures.is_empty(), "{report:?}");
    dir
}

#[tokio::test]
async fn a_spanish_question_gets_spanish_status_labels_and_buttons() {
    let setup = setup(|config| {
        config.slack.as_mut().unwrap().streaming = false;
    })
    .await;
    let _docs = spanish_document(&setup).await;
    let ts = "1800000000.000100";
    let question = "¿Cuántos días de vacaciones tengo en el primer año?";
    assert_eq!(
        post_event(&setup, &mention("Ev1", ts, None, question), &[]).await,
        200
    );
    settle(&setup.gateway.state).await;

    let status = &setup.slack.calls_to("assistant.threads.setStatus")[0].body;
    assert_eq!(status["status"], "está buscando en tus documentos…");
    let placeholder = &setup.slack.calls_to("chat.postMessage")[0].body;
    assert_eq!(placeholder["text"], "_Buscando en tus documentos…_");
    let answer = only_message(&setup.slack);
    let context = &block(&answer, "context")["elements"];
    assert_eq!(context[0]["text"], "*Fuentes:*");
    assert!(context.to_string().contains("vacaciones.md"), "{context}");
    let buttons = &block(&answer, "context_actions")["elements"][0];
    assert_eq!(
        buttons["positive_button"]["accessibility_label"],
        "Esta respuesta fue útil"
    );
    assert_eq!(
        buttons["negative_button"]["accessibility_label"],
        "Esta respuesta no fue útil"
    );
    let system = setup.llm.chat_requests()[0]["messages"][0]["content"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(system.starts_with("Eres el asistente"), "{system}");
}

#[tokio::test]
async fn spanish_askers_get_spanish_refusals_and_errors() {
    let setup = setup(|_| {}).await;
    let nothing = "¿Hay jirafas en Mongolia?";
    let ts = "1800000000.000100";
    assert_eq!(
        post_event(&setup, &mention("Ev1", ts, None, nothing), &[]).await,
        200
    );
    settle(&setup.gateway.state).await;
    let refusal = only_message(&setup.slack);
    assert_eq!(refusal.text.trim(), "No encontré esto en tus documentos.");
    assert!(setup.llm.chat_requests().is_empty(), "no LLM call");

    let _docs = spanish_document(&setup).await;
    setup.llm.fail_chat(
        Failure {
            status: 500,
            retry_after_secs: None,
        },
        10,
    );
    let question = "¿Cuántos días de vacaciones tengo en el primer año?";
    let ts = "1800000000.000200";
    assert_eq!(
        post_event(&setup, &mention("Ev2", ts, None, question), &[]).await,
        200
    );
    settle(&setup.gateway.state).await;
    let failed = setup
        .slack
        .messages()
        .into_iter()
        .find(|m| m.thread_ts.as_deref() == Some(ts))
        .unwrap();
    assert!(
        failed
            .text
            .contains("⚠️ Lo siento, el modelo de lenguaje no está disponible"),
        "{}",
        failed.text
    );

    // `/ask` with nothing to ask explains itself in the tenant's language.
    let settings = ragway_gateway::tenants::TenantSettings {
        language: Some(ragway_ingest::lang::Lang::Es),
        ..Default::default()
    };
    setup
        .gateway
        .state
        .core
        .tenants
        .store("acme", &settings)
        .await
        .unwrap();
    let form = serde_urlencoded::to_string([
        ("team_id", TEAM),
        ("channel_id", "C0GENERAL"),
        ("user_id", "U0ALICE"),
        ("command", "/ask"),
        ("text", ""),
        (
            "response_url",
            &format!("{}/response/cmd-1", setup.slack.root),
        ),
    ])
    .unwrap();
    let form_type = "application/x-www-form-urlencoded";
    let (status, usage) =
        send_signed(&setup, "/slack/commands", form_type, &form, T0, SECRET, &[]).await;
    assert_eq!(status, 200);
    assert!(usage.contains("Uso: `/ask <tu pregunta>`"), "{usage}");
}

/// Documents under `hr/` restricted to the `hr` group (the handbook re-synced with an ACL rule).
async fn restrict_hr(gateway: &Gateway) {
    let hr_only = FolderSourceConfig {
        acl: AclConfig {
            groups: Vec::new(),
            rules: vec![AclRule {
                pattern: "hr/**".into(),
                groups: vec!["hr".into()],
            }],
        },
        ..FolderSourceConfig::default()
    };
    let indexer = &gateway.state.indexer;
    indexer
        .sync_folder("acme", "handbook", &handbook_dir(), &hr_only, &|_| {})
        .await
        .unwrap();
}

#[tokio::test]
async fn document_acls_follow_the_groups_slack_users_are_given() {
    let setup = setup(|config| {
        let workspace = config
            .slack
            .as_mut()
            .unwrap()
            .workspaces
            .get_mut(TEAM)
            .unwrap();
        workspace
            .user_groups
            .insert("alice@acme.example".into(), vec!["hr".into()]);
    })
    .await;
    restrict_hr(&setup.gateway).await;
    let hr_question = "How many vacation days do I get after three years?";
    let ask = |event_id: &str, user: &str, ts: &str| {
        let mut event = mention(event_id, ts, None, hr_question);
        event["event"]["user"] = json!(user);
        event
    };
    assert_eq!(
        post_event(&setup, &ask("Ev1", "U0ALICE", "1800000000.000100"), &[]).await,
        200
    );
    assert_eq!(
        post_event(&setup, &ask("Ev2", "U0BOB", "1800000000.000200"), &[]).await,
        200
    );
    settle(&setup.gateway.state).await;
    let sources_in = |thread: &str| {
        let message = setup
            .slack
            .messages()
            .into_iter()
            .find(|m| m.thread_ts.as_deref() == Some(thread))
            .unwrap();
        message
            .blocks
            .iter()
            .filter(|b| b["type"] == "context")
            .map(|b| b.to_string())
            .collect::<String>()
    };
    assert!(
        sources_in("1800000000.000100").contains("hr/"),
        "alice (hr, by email) sees HR documents"
    );
    assert!(
        !sources_in("1800000000.000200").contains("hr/"),
        "bob does not"
    );
}

/// Issue 18: a Slack Connect user of another organisation (`user_team` is not the workspace)
/// gets neither the workspace's `default_groups` nor an email mapping — only `guest_groups`
/// (none by default): a member reads the restricted HR documents, the guest does not.
#[tokio::test]
async fn guests_from_other_organisations_do_not_get_the_workspaces_groups() {
    let setup = setup(|config| {
        let workspace = config
            .slack
            .as_mut()
            .unwrap()
            .workspaces
            .get_mut(TEAM)
            .unwrap();
        workspace.default_groups.push("hr".into());
        // Another organisation decides its users' emails: this one claims an HR address.
        workspace
            .user_groups
            .insert("payroll@acme.example".into(), vec!["hr".into()]);
    })
    .await;
    setup.slack.set_email("U0EXTERNAL", "payroll@acme.example");
    restrict_hr(&setup.gateway).await;
    let hr_question = "How many vacation days do I get after three years?";
    let ask = |event_id: &str, user: &str, user_team: &str, ts: &str| {
        let mut event = mention(event_id, ts, None, hr_question);
        event["event"]["user"] = json!(user);
        event["event"]["user_team"] = json!(user_team);
        event["event"]["team"] = json!(user_team);
        event
    };
    let member = ask("Ev1", "U0BOB", TEAM, "1800000000.000100");
    let guest = ask("Ev2", "U0EXTERNAL", "T0PARTNER", "1800000000.000200");
    for event in [&member, &guest] {
        assert_eq!(post_event(&setup, event, &[]).await, 200);
    }
    settle(&setup.gateway.state).await;
    let sources_in = |thread: &str| {
        let message = setup
            .slack
            .messages()
            .into_iter()
            .find(|m| m.thread_ts.as_deref() == Some(thread))
            .unwrap_or_else(|| panic!("no answer in {thread}: {:#?}", setup.slack.messages()));
        message
            .blocks
            .iter()
            .filter(|b| b["type"] == "context")
            .map(|b| b.to_string())
            .collect::<String>()
    };
    assert!(
        sources_in("1800000000.000100").contains("hr/"),
        "a member gets the workspace's default groups"
    );
    assert!(
        !sources_in("1800000000.000200").contains("hr/"),
        "the guest does not"
    );
}

#[tokio::test]
async fn slack_routes_answer_404_when_slack_is_not_configured() {
    let tmp = tempfile::tempdir().unwrap();
    let gateway = Gateway::start(test_config(tmp.path())).await.unwrap();
    for path in ["/slack/events", "/slack/commands", "/slack/interactivity"] {
        let response = reqwest::Client::new()
            .post(format!("{}{path}", gateway.base_url))
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 404, "{path}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "not_found");
    }
}
