#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The web widget's API end to end, as a browser on an intranet page would call it: origin-locked
//! sessions (CORS echoes only allowed origins, the server refuses the rest), short-lived session
//! tokens that cannot be tampered with, identity JWTs that carry the employee's groups into
//! document ACLs, the AI SDK UI message stream, feedback, per-session limits, the admin API and
//! the static files. The LLM is the fake OpenAI-compatible server; the clock is manual.

use std::collections::BTreeMap;

use aws_lc_rs::hmac;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ragway_catalog::Rating;
use ragway_gateway::channels::bots::Clock;
use ragway_gateway::channels::widget::{IdentityConfig, WidgetConfig};
use ragway_ingest::source::{AclConfig, AclRule, FolderSourceConfig};
use ragway_tests::fake_openai::{FakeOpenAi, FakeOptions};
use ragway_tests::harness::{Gateway, fake_llm_config, test_config};
use ragway_tests::schema::{response_schema, validate};
use ragway_tests::widget::widget_gateway;
use serde_json::{Value, json};

const T0: i64 = 1_800_000_000;
const PAGE: &str = "https://intranet.acme.com";
const JWT_SECRET: &str = "acme-intranet-shared-secret-0123456789";
const VPN: &str = "How do I connect to the VPN?";
const HR_QUESTION: &str = "How many vacation days do I get after three years?";

struct Setup {
    gateway: Gateway,
    clock: Clock,
    key: String,
    _llm: FakeOpenAi,
    _tmp: tempfile::TempDir,
}

fn identity(required: bool) -> IdentityConfig {
    IdentityConfig {
        algorithm: "HS256".into(),
        secret_env: Some("ACME_WIDGET_JWT_SECRET".into()),
        public_key_pem: None,
        public_key_file: None,
        issuer: "https://intranet.acme.com".into(),
        audience: "ragway-widget".into(),
        max_age_secs: 300,
        leeway_secs: 30,
        user_claim: "sub".into(),
        groups_claim: "groups".into(),
        required,
    }
}

async fn setup(adjust: impl FnOnce(&mut ragway_gateway::Config)) -> Setup {
    let llm = FakeOpenAi::start(FakeOptions::default()).await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let mut config = test_config(&tmp.path().join("data"));
    config.llm = Some(fake_llm_config(&llm.base_url, 0));
    config.widget = WidgetConfig {
        session_secret_env: Some("WIDGET_SESSION_SECRET".into()),
        identity: BTreeMap::from([("acme".to_owned(), identity(false))]),
        ..WidgetConfig::default()
    };
    adjust(&mut config);
    let clock = Clock::manual(T0);
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
    let secrets = [
        (
            "WIDGET_SESSION_SECRET",
            "a-session-secret-for-every-replica-0123",
        ),
        ("ACME_WIDGET_JWT_SECRET", JWT_SECRET),
    ];
    let gateway = widget_gateway(
        config,
        &secrets,
        clock.clone(),
        &tmp.path().join("docs"),
        &hr_only,
    )
    .await
    .unwrap();
    let key = gateway
        .state
        .core
        .catalog
        .create_widget_key("acme", "intranet", &[PAGE.to_owned()])
        .await
        .unwrap()
        .id;
    Setup {
        gateway,
        clock,
        key,
        _llm: llm,
        _tmp: tmp,
    }
}

struct Reply {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: String,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    /// The `data:` payloads of an SSE body, in order.
    fn frames(&self) -> Vec<String> {
        self.body
            .split("\n\n")
            .flat_map(|block| {
                block
                    .lines()
                    .filter_map(|l| l.strip_prefix("data: ").map(str::to_owned))
                    .collect::<Vec<_>>()
            })
            .collect()
    }
}

async fn post(
    setup: &Setup,
    path: &str,
    origin: Option<&str>,
    token: Option<&str>,
    body: Value,
) -> Reply {
    let mut request = reqwest::Client::new()
        .post(format!("{}/widget/v1/{path}", setup.gateway.base_url))
        .json(&body);
    if let Some(origin) = origin {
        request = request.header("origin", origin);
    }
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    Reply {
        status: response.status().as_u16(),
        headers: response.headers().clone(),
        body: response.text().await.unwrap(),
    }
}

async fn session(setup: &Setup, body: Value) -> Reply {
    post(setup, "session", Some(PAGE), None, body).await
}

async fn anonymous_token(setup: &Setup) -> String {
    let reply = session(setup, json!({"key": setup.key})).await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    reply.json()["token"].as_str().unwrap().to_owned()
}

async fn chat(setup: &Setup, token: &str, message: &str, conversation: Option<&str>) -> Reply {
    let body = json!({"message": message, "conversation_id": conversation});
    post(setup, "chat", Some(PAGE), Some(token), body).await
}

fn jwt(claims: &Value, secret: &str) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    let header = URL_SAFE_NO_PAD.encode(json!({"alg": "HS256", "typ": "JWT"}).to_string());
    let body = URL_SAFE_NO_PAD.encode(claims.to_string());
    let signed = format!("{header}.{body}");
    let tag = hmac::sign(&key, signed.as_bytes());
    format!("{signed}.{}", URL_SAFE_NO_PAD.encode(tag.as_ref()))
}

fn employee(sub: &str, groups: &[&str], iat: i64) -> Value {
    json!({"iss": "https://intranet.acme.com", "aud": "ragway-widget", "sub": sub,
           "groups": groups, "iat": iat, "exp": iat + 300})
}

/// The parsed chunks of a chat stream, which must end with `[DONE]`.
fn chunks(reply: &Reply) -> Vec<Value> {
    let frames = reply.frames();
    assert_eq!(
        frames.last().map(String::as_str),
        Some("[DONE]"),
        "{}",
        reply.body
    );
    frames[..frames.len() - 1]
        .iter()
        .map(|f| serde_json::from_str(f).unwrap())
        .collect()
}

fn answer_text(chunks: &[Value]) -> String {
    chunks
        .iter()
        .filter(|c| c["type"] == "text-delta")
        .map(|c| c["delta"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn sessions_are_locked_to_allowed_origins() {
    let setup = setup(|_| {}).await;
    let key = setup.key.clone();

    let no_origin = post(&setup, "session", None, None, json!({"key": key})).await;
    assert_eq!(no_origin.status, 403, "{}", no_origin.body);
    assert_eq!(no_origin.json()["error"]["code"], "origin_not_allowed");

    let evil = post(
        &setup,
        "session",
        Some("https://evil.example"),
        None,
        json!({"key": key}),
    )
    .await;
    assert_eq!(evil.status, 403, "{}", evil.body);
    assert_eq!(
        evil.header("access-control-allow-origin"),
        None,
        "no CORS for other sites"
    );
    assert_eq!(evil.header("vary"), Some("origin"));
    // Near misses of the allowed origin are other origins.
    for near in [
        "http://intranet.acme.com",
        "https://intranet.acme.com:8443",
        "https://intranet.acme.com.evil.io",
    ] {
        let reply = post(&setup, "session", Some(near), None, json!({"key": key})).await;
        assert_eq!(reply.status, 403, "{near}: {}", reply.body);
    }

    let unknown = session(&setup, json!({"key": "pk_000000000000000000000000"})).await;
    assert_eq!(unknown.status, 401, "{}", unknown.body);
    let malformed = session(&setup, json!({"kee": key})).await;
    assert_eq!(malformed.status, 400, "{}", malformed.body);
    assert!(
        malformed.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("malformed")
    );

    let ok = session(&setup, json!({"key": key})).await;
    assert_eq!(ok.status, 201, "{}", ok.body);
    assert_eq!(ok.header("access-control-allow-origin"), Some(PAGE));
    assert_eq!(ok.header("vary"), Some("origin"));
    let body = ok.json();
    assert_eq!(body["anonymous"], true);
    assert_eq!(body["user"], Value::Null);
    assert!(body["expires_in"].as_i64().unwrap() <= 900);
    assert_eq!(body["expires_at"].as_i64().unwrap(), T0 + 900);
    // As the OpenAPI document says.
    let doc: Value = reqwest::get(format!("{}/openapi.json", setup.gateway.base_url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let path = "/widget/v1/session";
    validate(
        &doc,
        response_schema(&doc, path, "post", 201),
        &body,
        "session",
    )
    .unwrap();
    validate(
        &doc,
        response_schema(&doc, path, "post", 403),
        &evil.json(),
        "403",
    )
    .unwrap();
    validate(
        &doc,
        response_schema(&doc, path, "post", 401),
        &unknown.json(),
        "401",
    )
    .unwrap();

    // Preflights: echoed for an origin some key allows, silent for any other.
    let client = reqwest::Client::new();
    let preflight = |origin: &'static str| {
        client
            .request(
                reqwest::Method::OPTIONS,
                format!("{}/widget/v1/chat", setup.gateway.base_url),
            )
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization, content-type",
            )
            .send()
    };
    let allowed = preflight(PAGE).await.unwrap();
    assert_eq!(allowed.status(), 204);
    assert_eq!(allowed.headers()["access-control-allow-origin"], PAGE);
    assert!(
        allowed.headers()["access-control-allow-headers"]
            .to_str()
            .unwrap()
            .contains("authorization")
    );
    let refused = preflight("https://evil.example").await.unwrap();
    assert!(
        refused
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
}

#[tokio::test]
async fn session_tokens_expire_and_cannot_be_tampered_with() {
    let setup = setup(|_| {}).await;
    let token = anonymous_token(&setup).await;
    let first = chat(&setup, &token, VPN, None).await;
    assert_eq!(first.status, 200, "{}", first.body);
    let conversation = chunks(&first)[0]["messageMetadata"]["conversationId"]
        .as_str()
        .unwrap()
        .to_owned();

    // Used from another origin: refused.
    let elsewhere = post(
        &setup,
        "chat",
        Some("https://evil.example"),
        Some(&token),
        json!({"message": VPN}),
    )
    .await;
    assert_eq!(elsewhere.status, 401, "{}", elsewhere.body);
    assert_eq!(elsewhere.header("access-control-allow-origin"), None);

    // Tampered: claims changed (groups added) under the old signature.
    let (version_and_claims, signature) = token.rsplit_once('.').unwrap();
    let (_, claims) = version_and_claims.split_once('.').unwrap();
    let mut forged: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(claims).unwrap()).unwrap();
    forged["groups"] = json!(["hr"]);
    let forged = format!(
        "v1.{}.{signature}",
        URL_SAFE_NO_PAD.encode(forged.to_string())
    );
    let tampered = chat(&setup, &forged, VPN, None).await;
    assert_eq!(tampered.status, 401, "{}", tampered.body);
    assert!(
        tampered.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("signature")
    );
    // A readable error for the page (its origin is allowed), so the widget can renew.
    assert_eq!(tampered.header("access-control-allow-origin"), Some(PAGE));

    // Expired after 15 minutes.
    setup.clock.set(T0 + 900);
    let expired = chat(&setup, &token, VPN, None).await;
    assert_eq!(expired.status, 401, "{}", expired.body);
    assert_eq!(expired.json()["error"]["code"], "session_expired");

    // Renewed with the old token: the same anonymous visitor, so the conversation continues.
    let renewed = session(&setup, json!({"key": setup.key, "resume": token})).await;
    assert_eq!(renewed.status, 201, "{}", renewed.body);
    let renewed = renewed.json()["token"].as_str().unwrap().to_owned();
    let follow_up = chat(&setup, &renewed, "and on which port?", Some(&conversation)).await;
    assert_eq!(follow_up.status, 200, "{}", follow_up.body);
    // A new visitor cannot continue it.
    let stranger = anonymous_token(&setup).await;
    let hijack = chat(&setup, &stranger, "and on which port?", Some(&conversation)).await;
    assert_eq!(hijack.status, 404, "{}", hijack.body);

    // Revoking the key stops every session at once.
    setup
        .gateway
        .state
        .core
        .catalog
        .revoke_widget_key(&setup.key)
        .await
        .unwrap();
    let revoked = chat(&setup, &renewed, VPN, None).await;
    assert_eq!(revoked.status, 401, "{}", revoked.body);
}

#[tokio::test]
async fn chat_streams_the_ai_sdk_ui_message_stream_and_takes_feedback() {
    let setup = setup(|_| {}).await;
    let token = anonymous_token(&setup).await;
    let reply = chat(&setup, &token, VPN, None).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert!(
        reply
            .header("content-type")
            .unwrap()
            .starts_with("text/event-stream")
    );
    assert_eq!(reply.header("x-vercel-ai-ui-message-stream"), Some("v1"));
    assert_eq!(reply.header("access-control-allow-origin"), Some(PAGE));
    let chunks = chunks(&reply);
    let kinds: Vec<&str> = chunks.iter().map(|c| c["type"].as_str().unwrap()).collect();
    assert_eq!(kinds[0], "start");
    assert_eq!(kinds[1], "text-start");
    assert_eq!(*kinds.last().unwrap(), "finish");
    let text_end = kinds.iter().position(|k| *k == "text-end").unwrap();
    assert!(
        kinds[2..text_end].iter().all(|k| *k == "text-delta"),
        "{kinds:?}"
    );
    let sources = &chunks[text_end + 1..chunks.len() - 1];
    assert!(!sources.is_empty(), "{kinds:?}");
    // Exactly the fields the AI SDK's strict chunk schemas allow.
    let keys = |c: &Value| {
        let mut k: Vec<String> = c.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    assert_eq!(keys(&chunks[0]), ["messageId", "messageMetadata", "type"]);
    assert_eq!(keys(&chunks[1]), ["id", "type"]);
    assert_eq!(keys(&chunks[2]), ["delta", "id", "type"]);
    for source in sources {
        assert_eq!(source["type"], "source-document", "{source}");
        assert_eq!(
            keys(source),
            [
                "filename",
                "mediaType",
                "providerMetadata",
                "sourceId",
                "title",
                "type"
            ]
        );
        let n = source["providerMetadata"]["ragway"]["n"].as_u64().unwrap();
        assert_eq!(source["sourceId"], n.to_string());
    }
    let text = answer_text(&chunks);
    let first = &sources[0];
    assert!(
        text.contains(&format!("[{}]", first["sourceId"].as_str().unwrap())),
        "the answer cites its sources: {text}"
    );
    assert!(
        first["title"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("vpn"),
        "{first}"
    );
    assert_eq!(keys(chunks.last().unwrap()), ["messageMetadata", "type"]);

    // Feedback on the answer, as the session's user.
    let message_id = chunks[0]["messageId"].as_str().unwrap().to_owned();
    let rate = |rating: &'static str, id: String| {
        let token = token.clone();
        let setup = &setup;
        async move {
            post(
                setup,
                "feedback",
                Some(PAGE),
                Some(&token),
                json!({"message_id": id, "rating": rating, "comment": "clear steps"}),
            )
            .await
        }
    };
    let stored = rate("up", message_id.clone()).await;
    assert_eq!(stored.status, 204, "{}", stored.body);
    assert_eq!(stored.header("access-control-allow-origin"), Some(PAGE));
    let again = rate("down", message_id.clone()).await;
    assert_eq!(again.status, 204);
    let feedback = setup
        .gateway
        .state
        .core
        .catalog
        .feedback("acme", 10)
        .await
        .unwrap();
    assert_eq!(
        feedback.len(),
        1,
        "one rating per answer and user: {feedback:?}"
    );
    assert_eq!(feedback[0].channel, "widget");
    assert_eq!(feedback[0].message_id, message_id);
    assert_eq!(feedback[0].rating, Rating::Down);
    assert!(feedback[0].user_id.starts_with("anonymous:"));
    assert_eq!(rate("meh", message_id.clone()).await.status, 400);
    // Another visitor cannot rate answers of a conversation that is not theirs.
    let stranger = anonymous_token(&setup).await;
    let foreign = post(
        &setup,
        "feedback",
        Some(PAGE),
        Some(&stranger),
        json!({"message_id": message_id, "rating": "up"}),
    )
    .await;
    assert_eq!(foreign.status, 404, "{}", foreign.body);
    assert_eq!(rate("up", "made-up".into()).await.status, 404);

    // Malformed and empty questions are 400s with a message.
    let empty = chat(&setup, &token, "   ", None).await;
    assert_eq!(empty.status, 400);
    let bad = post(
        &setup,
        "chat",
        Some(PAGE),
        Some(&token),
        json!({"question": VPN}),
    )
    .await;
    assert_eq!(bad.status, 400, "{}", bad.body);
}

#[tokio::test]
async fn identity_tokens_bring_the_employee_and_their_groups() {
    let setup = setup(|_| {}).await;
    let hr_in_sources = |reply: &Reply| {
        chunks(reply).iter().any(|c| {
            c["providerMetadata"]["ragway"]["uri"]
                .as_str()
                .is_some_and(|u| u.starts_with("hr/"))
        })
    };
    // Anonymous: tenant-public documents only.
    let anonymous = anonymous_token(&setup).await;
    let reply = chat(&setup, &anonymous, HR_QUESTION, None).await;
    assert_eq!(reply.status, 200);
    assert!(
        !hr_in_sources(&reply),
        "an anonymous visitor sees no HR document"
    );

    let ana = jwt(&employee("ana@acme.com", &["hr"], T0 - 10), JWT_SECRET);
    let created = session(&setup, json!({"key": setup.key, "identity": ana})).await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(created.json()["anonymous"], false);
    assert_eq!(created.json()["user"], "ana@acme.com");
    let token = created.json()["token"].as_str().unwrap().to_owned();
    let reply = chat(&setup, &token, HR_QUESTION, None).await;
    assert!(hr_in_sources(&reply), "{}", reply.body);

    // Refused identity tokens, each with its reason.
    let cases = [
        (
            "signature",
            jwt(
                &employee("ana@acme.com", &["hr"], T0),
                "not-the-shared-secret-not-the-shared",
            ),
        ),
        (
            "audience",
            jwt(
                &{
                    let mut c = employee("ana@acme.com", &[], T0);
                    c["aud"] = json!("other-app");
                    c
                },
                JWT_SECRET,
            ),
        ),
        (
            "expired",
            jwt(&employee("ana@acme.com", &[], T0 - 1_000), JWT_SECRET),
        ),
        (
            "issuer",
            jwt(
                &{
                    let mut c = employee("ana@acme.com", &[], T0);
                    c["iss"] = json!("https://evil.example");
                    c
                },
                JWT_SECRET,
            ),
        ),
    ];
    for (reason, token) in cases {
        let refused = session(&setup, json!({"key": setup.key, "identity": token})).await;
        assert_eq!(refused.status, 401, "{reason}: {}", refused.body);
        assert_eq!(refused.json()["error"]["code"], "invalid_identity");
        assert!(
            refused.json()["error"]["message"]
                .as_str()
                .unwrap()
                .contains(reason),
            "{reason}: {}",
            refused.body
        );
    }
}

#[tokio::test]
async fn a_tenant_can_require_identified_employees() {
    let setup = setup(|config| {
        config.widget.identity = BTreeMap::from([("acme".to_owned(), identity(true))]);
    })
    .await;
    let anonymous = session(&setup, json!({"key": setup.key})).await;
    assert_eq!(anonymous.status, 401, "{}", anonymous.body);
    assert_eq!(anonymous.json()["error"]["code"], "identity_required");
    let ana = jwt(&employee("ana@acme.com", &[], T0), JWT_SECRET);
    let ok = session(&setup, json!({"key": setup.key, "identity": ana})).await;
    assert_eq!(ok.status, 201, "{}", ok.body);
}

/// Issue 18: a new anonymous session is not a new budget — every anonymous visitor of a widget
/// key spends the key's one per-user allowance; an identified employee keeps their own.
#[tokio::test]
async fn anonymous_visitors_share_their_keys_budget() {
    let setup = setup(|config| {
        config.limits.user_requests_per_minute = 3;
        config.limits.user_burst = 3;
    })
    .await;
    let first = anonymous_token(&setup).await;
    for _ in 0..3 {
        assert_eq!(chat(&setup, &first, VPN, None).await.status, 200);
    }
    let limited = chat(&setup, &first, VPN, None).await;
    assert_eq!(limited.status, 429, "{}", limited.body);
    assert!(limited.header("retry-after").is_some());
    assert_eq!(limited.header("access-control-allow-origin"), Some(PAGE));
    // Another anonymous visitor (session) of the same key shares the spent budget.
    let second = anonymous_token(&setup).await;
    let limited = chat(&setup, &second, VPN, None).await;
    assert_eq!(limited.status, 429, "{}", limited.body);
    // Feedback spends the same allowance: a session cannot write feedback rows without end.
    let feedback = json!({"message_id": "c0ffee:ab12", "rating": "up"});
    let limited = post(&setup, "feedback", Some(PAGE), Some(&second), feedback).await;
    assert_eq!(limited.status, 429, "{}", limited.body);
    // An identified employee has their own.
    let ana = jwt(&employee("ana@acme.com", &[], T0), JWT_SECRET);
    let reply = session(&setup, json!({"key": setup.key, "identity": ana})).await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let token = reply.json()["token"].as_str().unwrap().to_owned();
    assert_eq!(chat(&setup, &token, VPN, None).await.status, 200);
}

/// Waits (bounded) until the LLM has been asked `n` questions.
async fn until_asked(llm: &FakeOpenAi, n: usize) {
    let asked = async {
        while llm.chat_requests().len() < n {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(60), asked)
        .await
        .expect("the LLM is asked");
}

/// Issue 18: anonymous answers in progress are capped per widget key, and one nobody reads
/// gives its slot up `widget.anonymous_stream_max_secs` after it started (the widget's clock).
#[tokio::test]
async fn anonymous_answers_in_progress_are_capped_and_an_unread_one_lets_go() {
    // An LLM that never answers in time: the answers stay in progress.
    let slow = FakeOpenAi::start(FakeOptions {
        latency: std::time::Duration::from_secs(600),
        ..FakeOptions::default()
    })
    .await
    .unwrap();
    let slow_url = slow.base_url.clone();
    let setup = setup(move |config| {
        let mut llm = fake_llm_config(&slow_url, 0);
        llm.first_token_timeout_secs = 900;
        llm.timeout_secs = 900;
        config.llm = Some(llm);
        config.widget.anonymous_streams_per_key = 1;
        config.widget.anonymous_stream_max_secs = 60;
    })
    .await;
    let (first, second) = (anonymous_token(&setup).await, anonymous_token(&setup).await);
    let unread = chat(&setup, &first, VPN, None);
    tokio::pin!(unread);
    tokio::select! {
        reply = &mut unread => panic!("answered: {} {}", reply.status, reply.body),
        () = until_asked(&slow, 1) => {}
    }
    // Another question (the same one would wait for the unread answer, which the cache shares).
    let other = "Which server address does the NorthGate client connect to?";
    let refused = chat(&setup, &second, other, None);
    tokio::pin!(refused);
    let refused = tokio::select! {
        reply = &mut refused => reply,
        () = until_asked(&slow, 2) => panic!("a second anonymous answer of the key was admitted"),
    };
    assert_eq!(refused.status, 429, "{}", refused.body);
    assert!(
        refused.body.contains("concurrent_streams"),
        "{}",
        refused.body
    );
    // A minute on, the unread answer's slot is taken back.
    setup.clock.set(T0 + 61);
    let admitted = chat(&setup, &second, other, None);
    tokio::pin!(admitted);
    tokio::select! {
        reply = &mut admitted => panic!("not admitted: {} {}", reply.status, reply.body),
        () = until_asked(&slow, 2) => {}
    }
}

#[tokio::test]
async fn widget_keys_through_the_admin_api() {
    let setup = setup(|_| {}).await;
    let base = &setup.gateway.base_url;
    let doc: Value = reqwest::get(format!("{base}/openapi.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let catalog = &setup.gateway.state.core.catalog;
    let (_, admin) = catalog.create_admin_key(None, "ops").await.unwrap();
    catalog.ensure_tenant("globex").await.unwrap();
    let (_, globex_admin) = catalog
        .create_admin_key(Some("globex"), "globex")
        .await
        .unwrap();
    let call = |method: &'static str, path: String, body: Option<Value>, key: String| {
        let doc = doc.clone();
        async move {
            let client = reqwest::Client::new();
            let url = format!("{base}{path}");
            let request = match method {
                "get" => client.get(url),
                "post" => client.post(url),
                "patch" => client.patch(url),
                _ => client.delete(url),
            };
            let request = match body {
                Some(body) => request.json(&body),
                None => request,
            };
            let response = request.bearer_auth(key).send().await.unwrap();
            let status = response.status().as_u16();
            let json: Value = response.json().await.unwrap();
            let doc_path = if path.matches('/').count() > 6 {
                "/api/v1/admin/tenants/{id}/widget-keys/{key}"
            } else {
                "/api/v1/admin/tenants/{id}/widget-keys"
            };
            let schema = response_schema(&doc, doc_path, method, status);
            validate(&doc, schema, &json, &format!("{method} {path} {status}")).unwrap();
            (status, json)
        }
    };
    let keys = "/api/v1/admin/tenants/acme/widget-keys".to_owned();
    let (status, created) = call("post", keys.clone(),
        Some(json!({"name": "portal", "allowed_origins": ["https://portal.acme.com/", "https://*.acme.net"]})),
        admin.clone()).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(
        created["allowed_origins"],
        json!(["https://*.acme.net", "https://portal.acme.com"])
    );
    assert!(
        created["embed"]
            .as_str()
            .unwrap()
            .contains(created["key"].as_str().unwrap())
    );
    let (status, bad) = call(
        "post",
        keys.clone(),
        Some(json!({"name": "x", "allowed_origins": ["portal.acme.com"]})),
        admin.clone(),
    )
    .await;
    assert_eq!(status, 400, "{bad}");
    assert!(
        bad["error"]["message"]
            .as_str()
            .unwrap()
            .contains("portal.acme.com")
    );
    let (status, _) = call(
        "post",
        keys.clone(),
        Some(json!({"name": "x", "allowed_origins": []})),
        admin.clone(),
    )
    .await;
    assert_eq!(status, 400);
    let (status, listed) = call("get", keys.clone(), None, admin.clone()).await;
    assert_eq!(status, 200);
    assert_eq!(listed.as_array().unwrap().len(), 2);
    let one = format!("{keys}/{}", created["key"].as_str().unwrap());
    let (status, changed) = call(
        "patch",
        one.clone(),
        Some(json!({"allowed_origins": ["https://new.acme.com"]})),
        admin.clone(),
    )
    .await;
    assert_eq!(status, 200, "{changed}");
    assert_eq!(changed["allowed_origins"], json!(["https://new.acme.com"]));
    let (status, _) = call("get", keys.clone(), None, globex_admin.clone()).await;
    assert_eq!(status, 403, "a key scoped to another tenant");
    let (status, revoked) = call("delete", one.clone(), None, admin.clone()).await;
    assert_eq!(status, 200);
    assert_eq!(revoked["status"], "revoked");
    let (status, _) = call("delete", one, None, admin.clone()).await;
    assert_eq!(status, 404);
}

/// Issue 18: CORS preflights and widget errors (unauthenticated, from anyone) are answered from
/// memory rather than by reading every widget key; a key created, changed or revoked on this
/// process applies to them at once.
#[tokio::test]
async fn preflights_do_not_read_the_catalog_and_key_changes_here_apply_at_once() {
    let setup = setup(|_| {}).await;
    let base = &setup.gateway.base_url;
    let catalog = &setup.gateway.state.core.catalog;
    let client = reqwest::Client::new();
    let preflight = |origin: &str| {
        let request = client
            .request(reqwest::Method::OPTIONS, format!("{base}/widget/v1/chat"))
            .header("origin", origin)
            .header("access-control-request-method", "POST");
        async move {
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), 204);
            response
                .headers()
                .get("access-control-allow-origin")
                .map(|v| v.to_str().unwrap().to_owned())
        }
    };
    assert_eq!(preflight(PAGE).await.as_deref(), Some(PAGE));
    let loads = catalog.widget_origin_loads();
    for _ in 0..20 {
        assert_eq!(preflight(PAGE).await.as_deref(), Some(PAGE));
        assert_eq!(preflight("https://evil.example").await, None);
        let refused = post(
            &setup,
            "chat",
            Some(PAGE),
            Some("forged"),
            json!({"message": VPN}),
        )
        .await;
        assert_eq!(refused.status, 401, "{}", refused.body);
        assert_eq!(refused.header("access-control-allow-origin"), Some(PAGE));
    }
    assert_eq!(catalog.widget_origin_loads(), loads, "served from memory");

    // A change made behind this process's back (another replica, a CLI run) is not seen until
    // the list expires...
    sqlx::query("UPDATE widget_keys SET revoked_at = 'elsewhere'")
        .execute(catalog.pool())
        .await
        .unwrap();
    assert_eq!(preflight(PAGE).await.as_deref(), Some(PAGE));
    // ...but one made here applies at once: a new key's origin, then its revocation.
    let (_, admin) = catalog.create_admin_key(None, "ops").await.unwrap();
    let portal = "https://portal.acme.com";
    let keys = format!("{base}/api/v1/admin/tenants/acme/widget-keys");
    let created: Value = client
        .post(&keys)
        .bearer_auth(&admin)
        .json(&json!({"name": "portal", "allowed_origins": [portal]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(preflight(portal).await.as_deref(), Some(portal));
    assert_eq!(
        preflight(PAGE).await,
        None,
        "the reload saw the other change"
    );
    let revoked = client
        .delete(format!("{keys}/{}", created["key"].as_str().unwrap()))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 200);
    assert_eq!(preflight(portal).await, None);
}

#[tokio::test]
async fn the_loader_and_bundle_are_cached_by_content() {
    let setup = setup(|_| {}).await;
    let base = &setup.gateway.base_url;
    let loader = reqwest::get(format!("{base}/widget/v1/loader.js"))
        .await
        .unwrap();
    assert_eq!(loader.status(), 200);
    assert!(
        loader.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );
    assert!(
        loader.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("max-age=300")
    );
    let etag = loader.headers()["etag"].to_str().unwrap().to_owned();
    let loader = loader.text().await.unwrap();
    assert!(
        loader.len() < 2048,
        "the loader stays small: {} bytes",
        loader.len()
    );
    let bundle = loader
        .split('\'')
        .find(|s| s.starts_with("widget.") && s.ends_with(".js"))
        .expect("the loader names the hashed bundle")
        .to_owned();
    let again = reqwest::Client::new()
        .get(format!("{base}/widget/v1/loader.js"))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
    let bundle = reqwest::get(format!("{base}/widget/v1/{bundle}"))
        .await
        .unwrap();
    assert_eq!(bundle.status(), 200);
    assert!(
        bundle.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("immutable")
    );
    let bundle = bundle.text().await.unwrap();
    assert!(bundle.contains("attachShadow") && bundle.contains("--ragway-primary"));
    assert!(
        !bundle.contains("innerHTML"),
        "the widget never parses HTML"
    );
    let stale = reqwest::get(format!("{base}/widget/v1/widget.0000000000000000.js"))
        .await
        .unwrap();
    assert_eq!(stale.status(), 404);

    // The demo page exists only with a demo key.
    assert_eq!(
        reqwest::get(format!("{base}/")).await.unwrap().status(),
        404
    );
    setup.gateway.server.widget.set_demo_key(&setup.key);
    let demo = reqwest::get(format!("{base}/")).await.unwrap();
    assert_eq!(demo.status(), 200);
    let demo = demo.text().await.unwrap();
    assert!(demo.contains(&format!("data-widget-key=\"{}\"", setup.key)));
    assert!(demo.contains("/widget/v1/loader.js"));
}

/// The AI SDK itself (npm `ai`: its SSE parser, chunk schema and `readUIMessageStream`) reads the
/// stream into the message ragway meant: the text, the cited sources and the metadata.
#[tokio::test]
async fn the_ai_sdk_reads_the_stream_as_a_ui_message() {
    let setup = setup(|_| {}).await;
    let token = anonymous_token(&setup).await;
    let reply = chat(&setup, &token, VPN, None).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let ours = chunks(&reply);
    let saved = setup._tmp.path().join("stream.txt");
    std::fs::write(&saved, &reply.body).unwrap();
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("browser/ui_stream.mjs");
    let output = tokio::process::Command::new("node")
        .arg(&script)
        .arg(&saved)
        .current_dir(script.parent().unwrap())
        .output()
        .await
        .expect("node must be installed (scripts/test checks the test tools)");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let read: Value = serde_json::from_str(stdout.trim()).unwrap_or_else(|_| {
        panic!(
            "no result from the AI SDK script\nstdout: {stdout}\nstderr: {}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    assert!(read["fatal"].is_null(), "{}", read["fatal"]);
    assert_eq!(read["errors"], json!([]), "the AI SDK refused chunks");
    let types: Vec<&str> = ours.iter().map(|c| c["type"].as_str().unwrap()).collect();
    assert_eq!(read["types"], json!(types));
    let message = &read["message"];
    assert_eq!(message["id"], ours[0]["messageId"]);
    assert_eq!(message["role"], "assistant");
    assert_eq!(
        message["metadata"]["conversationId"],
        ours[0]["messageMetadata"]["conversationId"]
    );
    let parts = message["parts"].as_array().unwrap();
    assert_eq!(parts[0]["type"], "text");
    assert_eq!(parts[0]["text"], answer_text(&ours));
    assert_eq!(parts[0]["state"], "done");
    let sources: Vec<&Value> = parts
        .iter()
        .filter(|p| p["type"] == "source-document")
        .collect();
    let sent = ours
        .iter()
        .filter(|c| c["type"] == "source-document")
        .count();
    assert!(sent > 0);
    assert_eq!(sources.len(), sent);
    assert_eq!(sources[0]["providerMetadata"]["ragway"]["n"], 1);
}
