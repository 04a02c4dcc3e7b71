#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The Teams bot end to end: activities with RS256 tokens minted by a fake Microsoft identity
//! platform (Bot Framework and Entra OpenID metadata + JWKS with a test key), answers sent to a
//! fake Bot Connector that enforces Teams' streaming rules, the LLM a fake OpenAI-compatible
//! server, a manual clock.

use std::collections::BTreeMap;

use ragway_catalog::Rating;
use ragway_gateway::channels::bots::Clock;
use ragway_gateway::channels::teams::{TeamsConfig, TeamsTenant};
use ragway_ingest::source::{AclConfig, AclRule, FolderSourceConfig};
use ragway_tests::bots::{gateway_with_bots, settle};
use ragway_tests::fake_bot_connector::{FakeBotConnector, Posted};
use ragway_tests::fake_microsoft::{AppCredentials, ENTRA_KEY_ID, FakeMicrosoft, PublishedKey};
use ragway_tests::fake_openai::{Failure, FakeOpenAi, FakeOptions};
use ragway_tests::harness::{Gateway, fake_llm_config, handbook_dir, test_config};
use serde_json::{Value, json};

const APP_ID: &str = "9e7c0b1a-5d2f-4c55-8a31-0c2b1f9a7d11";
const APP_TENANT: &str = "4b1e2c3d-aaaa-4bbb-8ccc-0123456789ab";
const ORG: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const T0: i64 = 1_800_000_000;
const QUESTION: &str = "Which server address does the NorthGate client connect to?";
const BF_ISSUER: &str = "https://api.botframework.com";
/// The service allowed to call the bot with Entra-issued tokens (`teams.bot_service_app_id`).
const BOT_SERVICE_APP: &str = "3c5d7e9f-1a2b-4c3d-8e4f-5a6b7c8d9e0f";
/// Another app registered in the bot's home tenant (anyone there can have one).
const OTHER_APP: &str = "d4c3b2a1-9f8e-4d7c-a6b5-0e1f2a3b4c5d";

struct Setup {
    gateway: Gateway,
    microsoft: FakeMicrosoft,
    connector: FakeBotConnector,
    llm: FakeOpenAi,
    _tmp: tempfile::TempDir,
}

async fn setup(adjust: impl FnOnce(&mut TeamsConfig)) -> Setup {
    let credentials = AppCredentials {
        client_id: APP_ID.into(),
        client_secret: "app-secret".into(),
    };
    let key = PublishedKey::endorsed("key-1", &["msteams"]);
    let microsoft = FakeMicrosoft::start(credentials, vec![key]).await.unwrap();
    let connector = FakeBotConnector::start(microsoft.issued_tokens())
        .await
        .unwrap();
    let llm = FakeOpenAi::start(FakeOptions::default()).await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let mut config = test_config(tmp.path());
    config.llm = Some(fake_llm_config(&llm.base_url, 0));
    let org = TeamsTenant {
        tenant: "acme".into(),
        default_groups: vec!["staff".into()],
        user_groups: BTreeMap::from([("aad-alice".into(), vec!["it".into()])]),
        guest_groups: Vec::new(),
    };
    let mut teams = TeamsConfig {
        app_id: APP_ID.into(),
        app_password_env: "MICROSOFT_APP_PASSWORD".into(),
        app_tenant_id: Some(APP_TENANT.into()),
        token_url: Some(microsoft.token_url(APP_TENANT)),
        openid_metadata_url: microsoft.openid_metadata_url(),
        entra_openid_metadata_url: Some(microsoft.entra_openid_metadata_url(APP_TENANT)),
        bot_service_app_id: Some(BOT_SERVICE_APP.into()),
        service_url_prefixes: vec![connector.service_url.clone()],
        stream_interval_ms: 0,
        tenants: BTreeMap::from([(ORG.into(), org)]),
        ..TeamsConfig::default()
    };
    adjust(&mut teams);
    config.teams = Some(teams);
    let secrets = [("MICROSOFT_APP_PASSWORD", "app-secret")];
    let gateway = gateway_with_bots(config, &secrets, Clock::manual(T0))
        .await
        .unwrap();
    Setup {
        gateway,
        microsoft,
        connector,
        llm,
        _tmp: tmp,
    }
}

/// The claims the Bot Framework puts in a channel token for `service_url`.
fn claims(service_url: &str) -> Value {
    json!({"iss": BF_ISSUER, "aud": APP_ID, "exp": T0 + 3600, "nbf": T0 - 60, "iat": T0 - 60,
           "serviceurl": service_url})
}

/// An Entra v2.0 access token from the bot's home tenant for the bot's audience, asked for by the
/// app `caller` (client credentials: `azp`), naming `service_url` when given.
fn entra_v2(caller: &str, service_url: Option<&str>) -> Value {
    let mut claims = json!({"aud": APP_ID, "iss": format!("https://login.microsoftonline.com/{APP_TENANT}/v2.0"),
        "iat": T0 - 60, "nbf": T0 - 60, "exp": T0 + 3600, "azp": caller, "azpacr": "1",
        "idtyp": "app", "oid": "6f0e1d2c-3b4a-4958-8776-a5b4c3d2e1f0", "sub": "6f0e1d2c-3b4a-4958-8776-a5b4c3d2e1f0",
        "tid": APP_TENANT, "uti": "x2ViYjQ0YzQtZjQ", "ver": "2.0"});
    if let Some(url) = service_url {
        claims["serviceurl"] = json!(url);
    }
    claims
}

/// The same from the v1.0 endpoint: issuer `sts.windows.net/{tid}/`, the caller in `appid`.
fn entra_v1(caller: &str, service_url: Option<&str>) -> Value {
    let mut claims = json!({"aud": APP_ID, "iss": format!("https://sts.windows.net/{APP_TENANT}/"),
        "iat": T0 - 60, "nbf": T0 - 60, "exp": T0 + 3600, "appid": caller, "appidacr": "1",
        "idp": format!("https://sts.windows.net/{APP_TENANT}/"), "idtyp": "app",
        "oid": "6f0e1d2c-3b4a-4958-8776-a5b4c3d2e1f0", "sub": "6f0e1d2c-3b4a-4958-8776-a5b4c3d2e1f0",
        "tid": APP_TENANT, "uti": "x2ViYjQ0YzQtZjQ", "ver": "1.0"});
    if let Some(url) = service_url {
        claims["serviceurl"] = json!(url);
    }
    claims
}

/// Sets (or, with null, removes) claims.
fn with(mut claims: Value, change: Value) -> Value {
    for (name, value) in change.as_object().unwrap() {
        if value.is_null() {
            claims.as_object_mut().unwrap().remove(name);
        } else {
            claims[name] = value.clone();
        }
    }
    claims
}

/// Nothing reached the user, the LLM or Microsoft's token endpoint.
async fn nothing_was_answered(setup: &Setup) {
    settle(&setup.gateway.state).await;
    assert!(
        setup.connector.posts().is_empty(),
        "{:#?}",
        setup.connector.posts()
    );
    assert!(setup.llm.chat_requests().is_empty());
    assert_eq!(setup.microsoft.token_requests(), 0);
}

fn activity(setup: &Setup, id: &str, conversation: &str, kind: &str, text: &str) -> Value {
    json!({
        "type": "message", "id": id, "timestamp": "2027-01-15T08:00:00.000Z", "channelId": "msteams",
        "serviceUrl": setup.connector.service_url,
        "from": {"id": "29:1alice", "name": "Alice", "aadObjectId": "aad-alice"},
        "conversation": {"id": conversation, "conversationType": kind, "tenantId": ORG},
        "recipient": {"id": format!("28:{APP_ID}"), "name": "Ragway"},
        "text": text, "textFormat": "plain", "locale": "en-US", "entities": [],
        "channelData": {"tenant": {"id": ORG}},
    })
}

fn personal(setup: &Setup, id: &str, text: &str) -> Value {
    activity(setup, id, "a:1alice-and-ragway", "personal", text)
}

async fn post(setup: &Setup, token: Option<&str>, activity: &Value) -> (u16, Value) {
    let mut request = reqwest::Client::new()
        .post(format!("{}/api/messages", setup.gateway.base_url))
        .json(activity);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn stream_type(posted: &Posted) -> Option<String> {
    posted.activity["entities"]
        .as_array()?
        .iter()
        .find(|e| e["type"] == "streaminfo")
        .and_then(|e| e["streamType"].as_str().map(str::to_owned))
}

fn ai_entity(message: &Value) -> &Value {
    message["entities"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["@type"] == "Message")
        .unwrap_or_else(|| panic!("no AI entity in {message:#}"))
}

#[tokio::test]
async fn a_personal_chat_streams_the_answer_and_ends_with_citations() {
    let setup = setup(|_| {}).await;
    let token = setup
        .microsoft
        .mint("key-1", &claims(&setup.connector.service_url));
    let (status, _) = post(&setup, Some(&token), &personal(&setup, "m1", QUESTION)).await;
    assert_eq!(status, 202);
    settle(&setup.gateway.state).await;

    assert_eq!(setup.connector.violations(), Vec::<String>::new());
    let posts = setup.connector.posts();
    let kinds: Vec<Option<String>> = posts.iter().map(stream_type).collect();
    assert_eq!(
        kinds.first().cloned().flatten().as_deref(),
        Some("informative"),
        "{posts:#?}"
    );
    assert!(
        kinds.iter().any(|k| k.as_deref() == Some("streaming")),
        "the answer streamed: {kinds:?}"
    );
    assert_eq!(kinds.last().cloned().flatten().as_deref(), Some("final"));
    let last = &posts.last().unwrap().activity;
    assert_eq!(last["type"], "message");
    let text = last["text"].as_str().unwrap();
    assert!(
        text.starts_with("According to your documents:") && text.contains("[1]"),
        "{text}"
    );
    let entity = ai_entity(last);
    assert_eq!(entity["additionalType"][0], "AIGeneratedContent");
    assert_eq!(entity["citation"][0]["position"], 1);
    let name = entity["citation"][0]["appearance"]["name"]
        .as_str()
        .unwrap();
    assert!(name.starts_with("NorthGate VPN"), "{name}");
    assert_eq!(last["channelData"]["feedbackLoop"]["type"], "default");
    assert_eq!(last["recipient"]["id"], "29:1alice");
    assert_eq!(setup.microsoft.token_requests(), 1);

    // The next message continues the conversation, with the cached connector token.
    let token = setup
        .microsoft
        .mint("key-1", &claims(&setup.connector.service_url));
    let (status, _) = post(
        &setup,
        Some(&token),
        &personal(&setup, "m2", "And on which port?"),
    )
    .await;
    assert_eq!(status, 202);
    settle(&setup.gateway.state).await;
    assert_eq!(setup.connector.violations(), Vec::<String>::new());
    assert_eq!(
        setup.microsoft.token_requests(),
        1,
        "the connector token is cached"
    );
    let answer_request = setup.llm.chat_requests().last().cloned().unwrap();
    assert_eq!(
        answer_request["messages"].as_array().unwrap().len(),
        4,
        "history was sent"
    );
}

#[tokio::test]
async fn a_group_chat_gets_one_final_message_without_the_mention() {
    let setup = setup(|_| {}).await;
    let mut message = activity(
        &setup,
        "g1",
        "19:meeting-group@thread.v2",
        "groupChat",
        &format!("<at>Ragway</at> {QUESTION}"),
    );
    message["entities"] = json!([{"type": "mention", "text": "<at>Ragway</at>",
        "mentioned": {"id": format!("28:{APP_ID}"), "name": "Ragway"}}]);
    let token = setup
        .microsoft
        .mint("key-1", &claims(&setup.connector.service_url));
    assert_eq!(post(&setup, Some(&token), &message).await.0, 202);
    settle(&setup.gateway.state).await;

    assert_eq!(setup.connector.violations(), Vec::<String>::new());
    let posts = setup.connector.posts();
    assert!(
        posts.iter().all(|p| stream_type(p).is_none()),
        "no streaming in group chats: {posts:#?}"
    );
    assert_eq!(posts[0].activity["type"], "typing");
    let messages = setup.connector.messages();
    assert_eq!(messages.len(), 1, "{messages:#?}");
    assert_eq!(
        messages[0].reply_to.as_deref(),
        Some("g1"),
        "a reply to the question"
    );
    assert_eq!(messages[0].conversation, "19:meeting-group@thread.v2");
    assert!(
        messages[0].activity["text"]
            .as_str()
            .unwrap()
            .contains("[1]")
    );
    assert_eq!(
        ai_entity(&messages[0].activity)["citation"][0]["position"],
        1
    );
    let asked = setup.llm.chat_requests()[0]["messages"].to_string();
    assert!(
        asked.contains(QUESTION) && !asked.contains("<at>"),
        "{asked}"
    );
}

#[tokio::test]
async fn bad_tokens_are_refused_and_nothing_is_sent() {
    let setup = setup(|_| {}).await;
    let service_url = setup.connector.service_url.clone();
    let message = personal(&setup, "m1", QUESTION);
    let with = |change: Value| {
        let mut claims = claims(&service_url);
        claims
            .as_object_mut()
            .unwrap()
            .extend(change.as_object().unwrap().clone());
        claims
    };
    let ms = &setup.microsoft;
    let cases = [
        ("no token", None, 401),
        ("not a JWT", Some("abc.def".to_owned()), 401),
        (
            "wrong audience",
            Some(ms.mint("key-1", &with(json!({"aud": "someone-else"})))),
            401,
        ),
        (
            "wrong issuer",
            Some(ms.mint("key-1", &with(json!({"iss": "https://sts.evil.example/"})))),
            401,
        ),
        (
            "expired beyond the skew",
            Some(ms.mint("key-1", &with(json!({"exp": T0 - 301})))),
            401,
        ),
        (
            "not valid yet",
            Some(ms.mint("key-1", &with(json!({"nbf": T0 + 301})))),
            401,
        ),
        (
            "unknown key id",
            Some(ms.mint("key-9", &claims(&service_url))),
            401,
        ),
        (
            "forged signature",
            Some(ms.mint_forged("key-1", &claims(&service_url))),
            401,
        ),
        (
            "an algorithm the metadata does not list",
            Some(ms.mint_rs384("key-1", &claims(&service_url))),
            401,
        ),
        (
            "serviceurl mismatch",
            Some(ms.mint(
                "key-1",
                &with(json!({"serviceurl": "https://smba.evil.example/"})),
            )),
            403,
        ),
        (
            "no serviceurl claim",
            Some(ms.mint("key-1", &with(json!({"serviceurl": null})))),
            403,
        ),
    ];
    for (case, token, expected) in &cases {
        let (status, body) = post(&setup, token.as_deref(), &message).await;
        assert_eq!(status, *expected, "{case}: {body}");
        assert!(body["error"]["message"].is_string(), "{case}: {body}");
    }
    // A key endorsed only for Teams does not cover another channel.
    let mut webchat = message.clone();
    webchat["channelId"] = json!("webchat");
    assert_eq!(
        post(
            &setup,
            Some(&ms.mint("key-1", &claims(&service_url))),
            &webchat
        )
        .await
        .0,
        403
    );
    // A service URL outside the allow-list, even when the token names it.
    let mut elsewhere = message.clone();
    elsewhere["serviceUrl"] = json!("https://smba.evil.example/");
    assert_eq!(
        post(
            &setup,
            Some(&ms.mint("key-1", &claims("https://smba.evil.example/"))),
            &elsewhere
        )
        .await
        .0,
        403
    );

    settle(&setup.gateway.state).await;
    assert!(
        setup.connector.posts().is_empty(),
        "{:#?}",
        setup.connector.posts()
    );
    assert_eq!(setup.microsoft.token_requests(), 0);
    assert!(setup.llm.chat_requests().is_empty());
    // Keys were fetched once (both issuer families) and not again for the unknown key id.
    assert_eq!(setup.microsoft.jwks_fetches(), 2);
}

#[tokio::test]
async fn expiry_has_five_minutes_of_skew_and_entra_issued_tokens_are_accepted() {
    let setup = setup(|_| {}).await;
    let service_url = setup.connector.service_url.clone();
    let mut update = personal(&setup, "u1", "");
    update["type"] = json!("conversationUpdate");
    let mut late = claims(&service_url);
    late["exp"] = json!(T0 - 299);
    assert_eq!(
        post(&setup, Some(&setup.microsoft.mint("key-1", &late)), &update)
            .await
            .0,
        200
    );
    // Entra-issued, v2 and v1, when the configured Bot Framework service asked for them.
    let ms = &setup.microsoft;
    for entra in [
        entra_v2(BOT_SERVICE_APP, Some(&service_url)),
        entra_v1(BOT_SERVICE_APP, Some(&service_url)),
        // App ids are GUIDs, compared without regard to case.
        entra_v2(&BOT_SERVICE_APP.to_uppercase(), Some(&service_url)),
    ] {
        let (status, body) = post(&setup, Some(&ms.mint(ENTRA_KEY_ID, &entra)), &update).await;
        assert_eq!(status, 200, "{entra}: {body}");
    }
    let mut entra = entra_v2(BOT_SERVICE_APP, Some(&service_url));
    entra["iss"] = json!("https://login.microsoftonline.com/another-tenant/v2.0");
    assert_eq!(
        post(&setup, Some(&ms.mint(ENTRA_KEY_ID, &entra)), &update)
            .await
            .0,
        401
    );
    // An Entra-issued token under a Bot Framework key id (and the reverse) is unknown.
    let entra = entra_v2(BOT_SERVICE_APP, Some(&service_url));
    assert_eq!(
        post(&setup, Some(&ms.mint("key-1", &entra)), &update)
            .await
            .0,
        401
    );
    assert_eq!(
        post(
            &setup,
            Some(&ms.mint(ENTRA_KEY_ID, &claims(&service_url))),
            &update
        )
        .await
        .0,
        401
    );
    settle(&setup.gateway.state).await;
    assert!(
        setup.connector.posts().is_empty(),
        "conversation updates are not answered"
    );
}

#[tokio::test]
async fn an_entra_issued_token_counts_only_when_the_bot_framework_service_asked_for_it() {
    let setup = setup(|_| {}).await;
    let service_url = setup.connector.service_url.clone();
    let url = Some(service_url.as_str());
    let message = personal(&setup, "m1", QUESTION);
    let cases = [
        ("v2, another app in azp", entra_v2(OTHER_APP, url)),
        (
            "v2, no azp",
            with(entra_v2(BOT_SERVICE_APP, url), json!({"azp": null})),
        ),
        ("v2, empty azp", entra_v2("", url)),
        (
            "v2, the service in appid but another app in azp",
            with(entra_v2(OTHER_APP, url), json!({"appid": BOT_SERVICE_APP})),
        ),
        (
            "v2, the service in appid and no azp",
            with(
                entra_v2(BOT_SERVICE_APP, url),
                json!({"azp": null, "appid": BOT_SERVICE_APP}),
            ),
        ),
        ("v1, another app in appid", entra_v1(OTHER_APP, url)),
        (
            "v1, no appid",
            with(entra_v1(BOT_SERVICE_APP, url), json!({"appid": null})),
        ),
        (
            "v1, the service in azp but another app in appid",
            with(entra_v1(OTHER_APP, url), json!({"azp": BOT_SERVICE_APP})),
        ),
        (
            "an unknown token version",
            with(entra_v2(BOT_SERVICE_APP, url), json!({"ver": "3.0"})),
        ),
        (
            "the bot itself (its own app id as the caller)",
            entra_v2(APP_ID, url),
        ),
    ];
    for (case, claims) in &cases {
        let token = setup.microsoft.mint(ENTRA_KEY_ID, claims);
        let (status, body) = post(&setup, Some(&token), &message).await;
        assert_eq!(status, 401, "{case}: {body}");
        assert_eq!(body["error"]["code"], "unauthorized", "{case}: {body}");
    }
    nothing_was_answered(&setup).await;
}

#[tokio::test]
async fn entra_issued_tokens_are_refused_unless_the_bot_framework_service_is_configured() {
    // The default: Microsoft's rules for the Bot Connector accept only the Bot Framework issuer.
    let setup = setup(|teams| teams.bot_service_app_id = None).await;
    let service_url = setup.connector.service_url.clone();
    let message = personal(&setup, "m1", QUESTION);
    for claims in [
        entra_v2(BOT_SERVICE_APP, Some(&service_url)),
        entra_v1(BOT_SERVICE_APP, Some(&service_url)),
    ] {
        let token = setup.microsoft.mint(ENTRA_KEY_ID, &claims);
        let (status, body) = post(&setup, Some(&token), &message).await;
        assert_eq!(status, 401, "{claims}: {body}");
    }
    assert_eq!(
        setup.microsoft.jwks_fetches(),
        0,
        "refused by issuer, no keys fetched"
    );
    nothing_was_answered(&setup).await;
    // Bot Framework tokens are what the Bot Connector sends: the only keys fetched are its own.
    let mut update = personal(&setup, "u1", "");
    update["type"] = json!("conversationUpdate");
    let token = setup.microsoft.mint("key-1", &claims(&service_url));
    assert_eq!(post(&setup, Some(&token), &update).await.0, 200);
    assert_eq!(setup.microsoft.jwks_fetches(), 1);
}

#[tokio::test]
async fn the_serviceurl_claim_must_name_the_activitys_service_url_whoever_issued_the_token() {
    let setup = setup(|_| {}).await;
    let service_url = setup.connector.service_url.clone();
    let message = personal(&setup, "m1", QUESTION);
    let elsewhere = "https://smba.trafficmanager.net/emea/";
    let ms = &setup.microsoft;
    let cases = [
        (
            "Entra v2 without serviceurl",
            ms.mint(ENTRA_KEY_ID, &entra_v2(BOT_SERVICE_APP, None)),
        ),
        (
            "Entra v1 without serviceurl",
            ms.mint(ENTRA_KEY_ID, &entra_v1(BOT_SERVICE_APP, None)),
        ),
        (
            "Entra, serviceurl null",
            ms.mint(
                ENTRA_KEY_ID,
                &with(
                    entra_v2(BOT_SERVICE_APP, None),
                    json!({"serviceurl": Value::Null}),
                ),
            ),
        ),
        (
            "Entra, another serviceurl",
            ms.mint(ENTRA_KEY_ID, &entra_v2(BOT_SERVICE_APP, Some(elsewhere))),
        ),
        (
            "Entra, serviceurl differing by a trailing slash",
            ms.mint(
                ENTRA_KEY_ID,
                &entra_v2(BOT_SERVICE_APP, Some(service_url.trim_end_matches('/'))),
            ),
        ),
        (
            "Bot Framework, another serviceurl",
            ms.mint("key-1", &claims(elsewhere)),
        ),
        (
            "Bot Framework, no serviceurl",
            ms.mint(
                "key-1",
                &with(claims(&service_url), json!({"serviceurl": null})),
            ),
        ),
    ];
    for (case, token) in &cases {
        let (status, body) = post(&setup, Some(token), &message).await;
        assert_eq!(status, 403, "{case}: {body}");
        assert_eq!(body["error"]["code"], "forbidden", "{case}: {body}");
    }
    nothing_was_answered(&setup).await;
}

#[tokio::test]
async fn the_signing_key_must_be_endorsed_for_the_activitys_channel() {
    let setup = setup(|_| {}).await;
    let ms = &setup.microsoft;
    // Published before the first request, so one fetch brings them all.
    ms.publish(PublishedKey {
        kid: "key-unendorsed".into(),
        endorsements: None,
    });
    ms.publish(PublishedKey::endorsed("key-empty", &[]));
    ms.publish(PublishedKey::endorsed(
        "key-webchat",
        &["webchat", "directline"],
    ));
    let service_url = setup.connector.service_url.clone();
    let message = personal(&setup, "m1", QUESTION);
    let mut shouting = message.clone();
    shouting["channelId"] = json!("MSTEAMS");
    let mut webchat = message.clone();
    webchat["channelId"] = json!("webchat");
    let token = |kid: &str| ms.mint(kid, &claims(&service_url));
    let cases = [
        (
            "a Bot Framework key without endorsements",
            token("key-unendorsed"),
            &message,
        ),
        (
            "a key endorsed for no channel",
            token("key-empty"),
            &message,
        ),
        (
            "a key endorsed for other channels",
            token("key-webchat"),
            &message,
        ),
        (
            "a msteams key for a webchat activity",
            token("key-1"),
            &webchat,
        ),
        ("a channel id in other case", token("key-1"), &shouting),
    ];
    for (case, token, activity) in &cases {
        let (status, body) = post(&setup, Some(token), activity).await;
        assert_eq!(status, 403, "{case}: {body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("not endorsed"),
            "{case}: {body}"
        );
    }
    nothing_was_answered(&setup).await;
    // The same activity with a key endorsed for Teams is answered.
    let mut update = personal(&setup, "u1", "");
    update["type"] = json!("conversationUpdate");
    assert_eq!(post(&setup, Some(&token("key-1")), &update).await.0, 200);
}

/// The finding: a token from the bot's home tenant for the bot's audience, but not from the Bot
/// Framework service, picks a configured organisation (`channelData.tenant.id`) and a user with
/// access to restricted documents (`from.aadObjectId`), and asks for the answer in a conversation
/// the attacker reads. It is refused and nothing is answered.
#[tokio::test]
async fn a_home_tenant_token_not_from_the_bot_framework_cannot_impersonate_a_teams_user() {
    let setup = setup(|teams| {
        let org = teams.tenants.get_mut(ORG).unwrap();
        org.user_groups
            .insert("aad-alice".into(), vec!["hr".into()]);
    })
    .await;
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
    setup
        .gateway
        .state
        .indexer
        .sync_folder("acme", "handbook", &handbook_dir(), &hr_only, &|_| {})
        .await
        .unwrap();
    let service_url = setup.connector.service_url.clone();
    let question = "How many vacation days do I get after three years?";
    // Alice is the user picked; the conversation is the attacker's.
    let mut forged = activity(&setup, "x1", "a:1mallory-and-ragway", "personal", question);
    forged["from"] = json!({"id": "29:1alice", "name": "Alice", "aadObjectId": "aad-alice"});
    forged["channelData"] = json!({"tenant": {"id": ORG}});
    let ms = &setup.microsoft;
    let tokens = [
        // What Entra hands any app of the tenant that asks for the bot's audience.
        (
            "v2 client credentials",
            ms.mint(ENTRA_KEY_ID, &entra_v2(OTHER_APP, None)),
        ),
        (
            "v1 client credentials",
            ms.mint(ENTRA_KEY_ID, &entra_v1(OTHER_APP, None)),
        ),
        // Even naming the activity's serviceUrl (were such a claim to be had) does not help.
        (
            "v2 with a serviceurl",
            ms.mint(ENTRA_KEY_ID, &entra_v2(OTHER_APP, Some(&service_url))),
        ),
    ];
    for (case, token) in &tokens {
        let (status, body) = post(&setup, Some(token), &forged).await;
        assert!(status == 401 || status == 403, "{case}: {status} {body}");
    }
    nothing_was_answered(&setup).await;
}

#[tokio::test]
async fn a_rotated_key_is_fetched_when_a_token_names_it() {
    let setup = setup(|teams| teams.unknown_key_refetch_secs = 0).await;
    let service_url = setup.connector.service_url.clone();
    let mut update = personal(&setup, "u1", "");
    update["type"] = json!("conversationUpdate");
    assert_eq!(
        post(
            &setup,
            Some(&setup.microsoft.mint("key-1", &claims(&service_url))),
            &update
        )
        .await
        .0,
        200
    );
    let before = setup.microsoft.jwks_fetches();
    setup
        .microsoft
        .publish(PublishedKey::endorsed("key-2", &["msteams"]));
    assert_eq!(
        post(
            &setup,
            Some(&setup.microsoft.mint("key-2", &claims(&service_url))),
            &update
        )
        .await
        .0,
        200
    );
    assert!(
        setup.microsoft.jwks_fetches() > before,
        "refetched for the new key id"
    );
}

#[tokio::test]
async fn feedback_invokes_are_stored() {
    let setup = setup(|_| {}).await;
    let mut invoke = personal(&setup, "f1", "");
    invoke["type"] = json!("invoke");
    invoke["name"] = json!("message/submitAction");
    invoke["replyToId"] = json!("activity-7");
    invoke["value"] = json!({"actionName": "feedback", "actionValue": {"reaction": "dislike",
        "feedback": "{\"feedbackText\":\"The port is outdated\"}"}});
    let token = setup
        .microsoft
        .mint("key-1", &claims(&setup.connector.service_url));
    let (status, body) = post(&setup, Some(&token), &invoke).await;
    assert_eq!((status, body), (200, json!({})));
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
    assert_eq!(stored[0].comment.as_deref(), Some("The port is outdated"));
    assert_eq!(stored[0].message_id, "activity-7");
    assert_eq!(stored[0].user_id, format!("teams:{ORG}:aad-alice"));
    assert_eq!(stored[0].channel, "teams");
}

#[tokio::test]
async fn when_the_llm_fails_the_user_is_told_and_the_stream_is_closed() {
    let setup = setup(|_| {}).await;
    setup.llm.fail_chat(
        Failure {
            status: 503,
            retry_after_secs: None,
        },
        10,
    );
    let token = setup
        .microsoft
        .mint("key-1", &claims(&setup.connector.service_url));
    assert_eq!(
        post(&setup, Some(&token), &personal(&setup, "m1", QUESTION))
            .await
            .0,
        202
    );
    settle(&setup.gateway.state).await;
    assert_eq!(setup.connector.violations(), Vec::<String>::new());
    let last = setup.connector.posts().last().cloned().unwrap();
    assert_eq!(stream_type(&last).as_deref(), Some("final"));
    let text = last.activity["text"].as_str().unwrap();
    assert!(
        text.contains("⚠️") && text.contains("language model is unavailable"),
        "{text}"
    );
}

#[tokio::test]
async fn a_spanish_question_gets_spanish_messages_and_a_spanish_locale() {
    let setup = setup(|_| {}).await;
    let docs = tempfile::tempdir().unwrap();
    std::fs::write(
        docs.path().join("vacaciones.md"),
        "# Vacaciones\n\nEn el primer año de servicio tienes doce días de vacaciones pagadas; \
         se solicitan en el portal de Recursos Humanos.\n",
    )
    .unwrap();
    setup.gateway.sync("acme", "es", docs.path()).await.unwrap();
    let token = || {
        setup
            .microsoft
            .mint("key-1", &claims(&setup.connector.service_url))
    };
    // The client says en-US, the question is Spanish: the question wins.
    let question = "¿Cuántos días de vacaciones tengo en el primer año?";
    let (status, _) = post(&setup, Some(&token()), &personal(&setup, "m1", question)).await;
    assert_eq!(status, 202);
    settle(&setup.gateway.state).await;
    assert_eq!(setup.connector.violations(), Vec::<String>::new());
    let posts = setup.connector.posts();
    assert_eq!(posts[0].activity["text"], "Buscando en tus documentos…");
    for post in &posts {
        assert_eq!(post.activity["locale"], "es-MX", "{:#}", post.activity);
    }
    let system = setup.llm.chat_requests()[0]["messages"][0]["content"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(system.starts_with("Eres el asistente"), "{system}");

    // Nothing relevant: the refusal in Spanish, without an LLM call.
    let nothing = "¿Hay jirafas en Mongolia?";
    let elsewhere =
        |id: &str, text: &str| activity(&setup, id, &format!("a:{id}"), "personal", text);
    let (status, _) = post(&setup, Some(&token()), &elsewhere("m2", nothing)).await;
    assert_eq!(status, 202);
    settle(&setup.gateway.state).await;
    let last = setup.connector.posts().last().cloned().unwrap();
    assert_eq!(last.activity["text"], "No encontré esto en tus documentos.");
    assert_eq!(setup.llm.chat_requests().len(), 1);

    // No words to tell by: the client's locale decides.
    let mut empty = personal(&setup, "m3", " ");
    empty["locale"] = json!("es-MX");
    let (status, _) = post(&setup, Some(&token()), &empty).await;
    assert_eq!(status, 202);
    settle(&setup.gateway.state).await;
    let hint = setup.connector.posts().last().cloned().unwrap();
    assert_eq!(
        hint.activity["text"],
        "Hazme una pregunta sobre los documentos de tu organización."
    );
    assert_eq!(hint.activity["locale"], "es-MX");

    // An LLM failure is explained in Spanish too.
    setup.llm.fail_chat(
        Failure {
            status: 503,
            retry_after_secs: None,
        },
        10,
    );
    let uncached = "¿Cuántas vacaciones pagadas tengo en el primer año?";
    let (status, _) = post(&setup, Some(&token()), &elsewhere("m4", uncached)).await;
    assert_eq!(status, 202);
    settle(&setup.gateway.state).await;
    let failed = setup.connector.posts().last().cloned().unwrap();
    let text = failed.activity["text"].as_str().unwrap();
    assert!(
        text.contains("⚠️ Lo siento, el modelo de lenguaje no está disponible"),
        "{text}"
    );
}

#[tokio::test]
async fn an_organisation_that_is_not_configured_is_told_so() {
    let setup = setup(|teams| teams.tenants.clear()).await;
    let token = setup
        .microsoft
        .mint("key-1", &claims(&setup.connector.service_url));
    assert_eq!(
        post(&setup, Some(&token), &personal(&setup, "m1", QUESTION))
            .await
            .0,
        202
    );
    settle(&setup.gateway.state).await;
    let messages = setup.connector.messages();
    assert_eq!(messages.len(), 1);
    assert!(
        messages[0].activity["text"]
            .as_str()
            .unwrap()
            .contains("not connected")
    );
    assert!(setup.llm.chat_requests().is_empty());
}

#[tokio::test]
async fn document_acls_follow_the_groups_teams_users_are_given() {
    let setup = setup(|teams| {
        let org = teams.tenants.get_mut(ORG).unwrap();
        org.user_groups
            .insert("aad-alice".into(), vec!["hr".into()]);
    })
    .await;
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
    let indexer = &setup.gateway.state.indexer;
    indexer
        .sync_folder("acme", "handbook", &handbook_dir(), &hr_only, &|_| {})
        .await
        .unwrap();
    let hr_question = "How many vacation days do I get after three years?";
    let alice = activity(&setup, "m1", "a:1alice", "personal", hr_question);
    let mut bob = activity(&setup, "m2", "a:1bob", "personal", hr_question);
    bob["from"] = json!({"id": "29:1bob", "name": "Bob", "aadObjectId": "aad-bob"});
    for message in [&alice, &bob] {
        let token = setup
            .microsoft
            .mint("key-1", &claims(&setup.connector.service_url));
        assert_eq!(post(&setup, Some(&token), message).await.0, 202);
    }
    settle(&setup.gateway.state).await;
    assert_eq!(setup.connector.violations(), Vec::<String>::new());
    let cites_hr = |conversation: &str| {
        let messages = setup.connector.messages();
        let last = messages
            .iter()
            .rev()
            .find(|m| m.conversation == conversation)
            .unwrap();
        last.activity["text"].as_str().unwrap().contains("[1]")
            && ai_entity(&last.activity)["citation"]
                .to_string()
                .to_lowercase()
                .contains("vacation")
    };
    assert!(
        cites_hr("a:1alice"),
        "alice (hr by object id) is answered from the HR policy"
    );
    assert!(!cites_hr("a:1bob"), "bob is not");
}

/// Issue 18: B2B guests, anonymous participants and users of another organisation do not get
/// the organisation's `default_groups` (only `guest_groups`, none by default): a member reads
/// the restricted HR documents, they do not.
#[tokio::test]
async fn guests_do_not_get_the_organisations_groups() {
    let setup = setup(|teams| {
        let org = teams.tenants.get_mut(ORG).unwrap();
        org.default_groups.push("hr".into());
    })
    .await;
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
    setup
        .gateway
        .state
        .indexer
        .sync_folder("acme", "handbook", &handbook_dir(), &hr_only, &|_| {})
        .await
        .unwrap();
    let hr_question = "How many vacation days do I get after three years?";
    let from = [
        (
            "a:1bob",
            json!({"id": "29:1bob", "name": "Bob", "aadObjectId": "aad-bob"}),
        ),
        (
            "a:1guest",
            json!({"id": "29:1guest", "name": "Guest", "aadObjectId": "aad-guest", "userRole": "guest"}),
        ),
        (
            "a:1partner",
            json!({"id": "29:1partner", "name": "Partner", "aadObjectId": "aad-partner",
                   "tenantId": "0f0f0f0f-1111-4222-8333-444455556666"}),
        ),
        (
            "a:1anonymous",
            json!({"id": "29:1anonymous", "name": "Visitor"}),
        ),
    ];
    for (n, (conversation, sender)) in from.iter().enumerate() {
        let mut message = activity(
            &setup,
            &format!("m{n}"),
            conversation,
            "personal",
            hr_question,
        );
        message["from"] = sender.clone();
        let token = setup
            .microsoft
            .mint("key-1", &claims(&setup.connector.service_url));
        assert_eq!(post(&setup, Some(&token), &message).await.0, 202);
    }
    settle(&setup.gateway.state).await;
    assert_eq!(setup.connector.violations(), Vec::<String>::new());
    let cites_hr = |conversation: &str| {
        let messages = setup.connector.messages();
        let last = messages
            .iter()
            .rev()
            .find(|m| m.conversation == conversation)
            .unwrap_or_else(|| panic!("no answer in {conversation}"));
        last.activity["text"].as_str().unwrap().contains("[1]")
            && ai_entity(&last.activity)["citation"]
                .to_string()
                .to_lowercase()
                .contains("vacation")
    };
    assert!(cites_hr("a:1bob"), "a member gets the default groups");
    for (conversation, _) in &from[1..] {
        assert!(!cites_hr(conversation), "{conversation} is a guest");
    }
}

#[tokio::test]
async fn the_teams_route_answers_404_when_teams_is_not_configured() {
    let tmp = tempfile::tempdir().unwrap();
    let gateway = Gateway::start(test_config(tmp.path())).await.unwrap();
    let response = reqwest::Client::new()
        .post(format!("{}/api/messages", gateway.base_url))
        .json(&json!({"type": "message"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
}
