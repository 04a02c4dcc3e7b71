#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Randomized tenant and ACL isolation properties (issue 18). From one seed: tenants, documents
//! that each carry a unique codeword (in their title, text and file name) and random ACL groups,
//! users with random groups (the same group names in every tenant, so a group of one tenant
//! opening another's documents would show), and questions — about a topic every tenant has, or
//! naming a random document's codeword (most often one the asker must not see). Each question is
//! asked on one channel in turn: REST, REST streamed, the OpenAI API, the web widget (identity
//! token) and Slack; answers are cached, and questions repeat across principals.
//!
//! Properties, for every answer: every codeword in the response (text, sources, citations,
//! annotations, Slack blocks) and in every prompt sent to the LLM for it belongs to a document of
//! the asker's tenant open to the asker's groups; every REST citation's document too. Afterwards:
//! no conversation can be continued and no answer rated by anyone but its owner; feedback and
//! usage rows of a tenant name only its users, and each tenant's request count is exactly the
//! questions it was asked. Positive controls keep the test honest: a question naming a codeword
//! the asker may see must be answered from that document, and cache hits must occur.
//!
//! `ISOLATION_SEED` and `ISOLATION_QUESTIONS` vary the run (default: seed 20261205, 200 questions).

mod common;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use aws_lc_rs::hmac;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::parse_sse;
use ragway_catalog::NewApiKey;
use ragway_gateway::Server;
use ragway_gateway::channels::bots::Clock;
use ragway_gateway::channels::slack::verify::sign;
use ragway_gateway::channels::widget::Widget;
use ragway_gateway::server::Bots;
use ragway_ingest::source::{AclConfig, AclRule, FolderSourceConfig};
use ragway_tests::bots::settle;
use ragway_tests::fake_openai::{FakeOpenAi, FakeOptions};
use ragway_tests::fake_slack::{FakeSlack, FakeWorkspace};
use ragway_tests::harness::{Gateway, fake_llm_config, test_config};
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

const T0: i64 = 1_800_000_000;
const PAGE: &str = "https://intranet.example.com";
const SLACK_SECRET: &str = "isolation-slack-signing-secret-0123";
const SESSION_SECRET: &str = "isolation-widget-session-secret-0123456";
const TENANTS: usize = 4;
const DOCS_PER_TENANT: usize = 8;
const USERS_PER_TENANT: usize = 4;
const GROUPS: [&str; 4] = ["hr", "finance", "eng", "legal"];
const TOPICS: [&str; 6] = [
    "vacation", "expenses", "laptop", "parking", "badge", "travel",
];

struct Doc {
    tenant: usize,
    codeword: String,
    topic: &'static str,
    /// Empty: open to the whole tenant.
    groups: Vec<&'static str>,
}

impl Doc {
    fn uri(&self) -> String {
        format!("{}.md", self.codeword)
    }
}

struct User {
    tenant: usize,
    /// Also the widget identity's `sub` and the Slack user's email.
    id: String,
    slack_id: String,
    groups: Vec<&'static str>,
    api_key: String,
}

struct World {
    tenants: Vec<String>,
    docs: Vec<Doc>,
    users: Vec<User>,
}

impl World {
    fn generate(rng: &mut StdRng) -> Self {
        let tenants: Vec<String> = (0..TENANTS)
            .map(|t| format!("iso-{}-{}", t, word(rng, 2)))
            .collect();
        let mut seen = BTreeSet::new();
        let mut docs = Vec::new();
        for tenant in 0..TENANTS {
            for _ in 0..DOCS_PER_TENANT {
                let codeword = loop {
                    let w = format!("zq{}", word(rng, 3));
                    if seen.insert(w.clone()) {
                        break w;
                    }
                };
                docs.push(Doc {
                    tenant,
                    codeword,
                    topic: TOPICS.choose(rng).unwrap(),
                    groups: random_groups(rng),
                });
            }
        }
        let mut users = Vec::new();
        for (tenant, slug) in tenants.iter().enumerate() {
            for u in 0..USERS_PER_TENANT {
                users.push(User {
                    tenant,
                    id: format!("user{u}@{slug}.example"),
                    slack_id: format!("U0T{tenant}N{u}"),
                    groups: random_groups(rng),
                    api_key: String::new(),
                });
            }
        }
        Self {
            tenants,
            docs,
            users,
        }
    }

    /// The codewords `user` may read.
    fn visible(&self, user: &User) -> BTreeSet<&str> {
        self.docs
            .iter()
            .filter(|d| d.tenant == user.tenant)
            .filter(|d| d.groups.is_empty() || d.groups.iter().any(|g| user.groups.contains(g)))
            .map(|d| d.codeword.as_str())
            .collect()
    }

    /// Every codeword in `text`.
    fn codewords_in<'a>(&'a self, text: &str) -> BTreeSet<&'a str> {
        let text = text.to_lowercase();
        self.docs
            .iter()
            .map(|d| d.codeword.as_str())
            .filter(|c| text.contains(c))
            .collect()
    }

    fn team(&self, tenant: usize) -> String {
        format!("T0ISO{tenant}")
    }
}

/// A pronounceable nonsense word of `syllables` consonant-vowel pairs (never a real word's stem).
fn word(rng: &mut StdRng, syllables: usize) -> String {
    const CONSONANTS: &[u8] = b"bdfgklmnprstvz";
    const VOWELS: &[u8] = b"aeiou";
    (0..syllables)
        .flat_map(|_| {
            [
                *CONSONANTS.choose(rng).unwrap() as char,
                *VOWELS.choose(rng).unwrap() as char,
            ]
        })
        .collect()
}

/// No group (half the time: open to the tenant / a user in no group), else one or two groups.
fn random_groups(rng: &mut StdRng) -> Vec<&'static str> {
    if rng.random_bool(0.4) {
        return Vec::new();
    }
    let count = rng.random_range(1..=2);
    let mut groups: Vec<&'static str> = GROUPS.choose_multiple(rng, count).copied().collect();
    groups.sort_unstable();
    groups
}

fn document_text(doc: &Doc, tenant: &str) -> String {
    let topic = doc.topic;
    let code = &doc.codeword;
    format!(
        "# {topic} policy {code}\n\n\
         The {code} {topic} policy applies to {topic} requests at {tenant}. \
         Under {code}, {topic} requests are approved by the {code} desk within two days.\n\n\
         ## {topic} details\n\n\
         Ask the {code} desk about {topic} questions; the {topic} policy {code} is reviewed yearly.\n"
    )
}

fn jwt(claims: &Value, secret: &str) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    let header = URL_SAFE_NO_PAD.encode(json!({"alg": "HS256", "typ": "JWT"}).to_string());
    let body = URL_SAFE_NO_PAD.encode(claims.to_string());
    let signed = format!("{header}.{body}");
    let tag = hmac::sign(&key, signed.as_bytes());
    format!("{signed}.{}", URL_SAFE_NO_PAD.encode(tag.as_ref()))
}

fn identity_secret(tenant: usize) -> String {
    format!("isolation-identity-secret-of-tenant-{tenant}-0123456789")
}

struct Setup {
    world: World,
    gateway: Gateway,
    llm: FakeOpenAi,
    slack: FakeSlack,
    widget_keys: Vec<String>,
    clock: Clock,
    _tmp: tempfile::TempDir,
}

async fn setup(seed: u64) -> Setup {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut world = World::generate(&mut rng);
    let llm = FakeOpenAi::start(FakeOptions::default()).await.unwrap();
    let slack = FakeSlack::start(
        (0..TENANTS)
            .map(|t| FakeWorkspace {
                team_id: world.team(t),
                token: format!("xoxb-isolation-{t}"),
                bot_user_id: format!("U0BOT{t}"),
                bot_id: format!("B0BOT{t}"),
            })
            .collect(),
    )
    .await
    .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let mut config = test_config(&tmp.path().join("data"));
    config.llm = Some(fake_llm_config(&llm.base_url, 0));
    config.cache.enabled = true;
    // The ownership checks send many requests per user; limits are not under test here.
    config.limits.user_burst = 100_000;
    config.limits.user_requests_per_minute = 100_000;
    config.limits.burst = 100_000;
    config.limits.requests_per_minute = 100_000;
    let mut secrets: HashMap<String, String> = HashMap::new();
    secrets.insert("ISOLATION_SESSION_SECRET".into(), SESSION_SECRET.into());
    secrets.insert("ISOLATION_SLACK_SECRET".into(), SLACK_SECRET.into());
    let mut identity = serde_json::Map::new();
    let mut workspaces = serde_json::Map::new();
    for (t, tenant) in world.tenants.iter().enumerate() {
        secrets.insert(format!("ISOLATION_JWT_{t}"), identity_secret(t));
        secrets.insert(
            format!("ISOLATION_SLACK_TOKEN_{t}"),
            format!("xoxb-isolation-{t}"),
        );
        identity.insert(
            tenant.clone(),
            json!({"algorithm": "HS256", "secret_env": format!("ISOLATION_JWT_{t}"),
                   "issuer": PAGE, "audience": "ragway-widget", "required": true}),
        );
        let user_groups: BTreeMap<String, Vec<&str>> = world
            .users
            .iter()
            .filter(|u| u.tenant == t)
            .map(|u| (u.slack_id.clone(), u.groups.clone()))
            .collect();
        workspaces.insert(
            world.team(t),
            json!({"tenant": tenant, "bot_token_env": format!("ISOLATION_SLACK_TOKEN_{t}"),
                   "user_groups": user_groups}),
        );
    }
    config.widget = serde_json::from_value(
        json!({"session_secret_env": "ISOLATION_SESSION_SECRET", "identity": identity}),
    )
    .unwrap();
    config.slack = Some(
        serde_json::from_value(json!({
            "api_base": slack.api_base, "signing_secret_env": "ISOLATION_SLACK_SECRET",
            "response_url_hosts": ["127.0.0.1"], "update_interval_ms": 0,
            "workspaces": workspaces,
        }))
        .unwrap(),
    );
    let clock = Clock::manual(T0);
    let lookup = |name: &str| secrets.get(name).cloned();
    let mut bare = config.clone();
    bare.widget = Default::default();
    bare.slack = None;
    let mut server = Server::open(bare).await.unwrap();
    server.widget = Arc::new(Widget::new(&config.widget, &lookup).unwrap());
    server.bots = Bots::new(&config, &lookup, clock.clone()).unwrap();
    server.state.core.config = Arc::new(config);
    let gateway = Gateway::serve(server).await.unwrap();

    let catalog = &gateway.state.core.catalog;
    let mut widget_keys = Vec::new();
    for (t, tenant) in world.tenants.iter().enumerate() {
        catalog.ensure_tenant(tenant).await.unwrap();
        let dir = tmp.path().join("docs").join(tenant);
        std::fs::create_dir_all(&dir).unwrap();
        let mut rules = Vec::new();
        for doc in world.docs.iter().filter(|d| d.tenant == t) {
            std::fs::write(dir.join(doc.uri()), document_text(doc, tenant)).unwrap();
            if !doc.groups.is_empty() {
                rules.push(AclRule {
                    pattern: doc.uri(),
                    groups: doc.groups.iter().map(|g| (*g).to_owned()).collect(),
                });
            }
        }
        let source = FolderSourceConfig {
            acl: AclConfig {
                groups: Vec::new(),
                rules,
            },
            ..FolderSourceConfig::default()
        };
        let report = gateway
            .state
            .indexer
            .sync_folder(tenant, "policies", &dir, &source, &|_| {})
            .await
            .unwrap();
        assert!(report.failures.is_empty(), "{report:?}");
        assert_eq!(report.added, DOCS_PER_TENANT, "{report:?}");
        widget_keys.push(
            catalog
                .create_widget_key(tenant, "intranet", &[PAGE.to_owned()])
                .await
                .unwrap()
                .id,
        );
    }
    for user in &mut world.users {
        let groups: Vec<String> = user.groups.iter().map(|g| (*g).to_owned()).collect();
        let new = NewApiKey {
            name: &user.id,
            user_id: Some(&user.id),
            groups: &groups,
            ..NewApiKey::default()
        };
        user.api_key = catalog
            .create_api_key_with(&world.tenants[user.tenant], &new)
            .await
            .unwrap()
            .secret;
    }
    Setup {
        world,
        gateway,
        llm,
        slack,
        widget_keys,
        clock,
        _tmp: tmp,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Channel {
    Rest,
    RestStream,
    OpenAi,
    Widget,
    Slack,
}

const CHANNELS: [Channel; 5] = [
    Channel::Rest,
    Channel::RestStream,
    Channel::OpenAi,
    Channel::Widget,
    Channel::Slack,
];

/// What one answer showed the asker.
struct Seen {
    /// The whole response as the asker received it (JSON, SSE body or Slack message).
    raw: String,
    /// REST citations' uris (the other channels are covered by `raw`).
    cited_uris: Vec<String>,
    cached: Option<bool>,
    /// A REST conversation or a widget answer's message id, for the ownership checks.
    handle: Option<String>,
}

async fn ask_rest(setup: &Setup, user: &User, question: &str) -> Seen {
    let response = reqwest::Client::new()
        .post(format!("{}/api/v1/ask", setup.gateway.base_url))
        .bearer_auth(&user.api_key)
        .json(&json!({"question": question}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let raw = response.text().await.unwrap();
    let body: Value = serde_json::from_str(&raw).unwrap();
    Seen {
        cited_uris: body["citations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["uri"].as_str().unwrap().to_owned())
            .collect(),
        cached: body["cached"].as_bool(),
        handle: body["conversation_id"].as_str().map(str::to_owned),
        raw,
    }
}

async fn ask_rest_stream(setup: &Setup, user: &User, question: &str) -> Seen {
    let response = reqwest::Client::new()
        .post(format!("{}/api/v1/ask", setup.gateway.base_url))
        .bearer_auth(&user.api_key)
        .json(&json!({"question": question, "stream": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let raw = response.text().await.unwrap();
    let events = parse_sse(&raw);
    let mut cited_uris = Vec::new();
    let mut cached = None;
    for (name, data) in &events {
        let list = match name.as_str() {
            "sources" => &data["sources"],
            "done" => {
                cached = data["cached"].as_bool();
                &data["citations"]
            }
            _ => continue,
        };
        for c in list.as_array().unwrap() {
            cited_uris.push(c["uri"].as_str().unwrap().to_owned());
        }
    }
    assert_eq!(
        events.last().map(|(n, _)| n.as_str()),
        Some("done"),
        "{raw}"
    );
    Seen {
        raw,
        cited_uris,
        cached,
        handle: None,
    }
}

async fn ask_openai(setup: &Setup, user: &User, question: &str) -> Seen {
    let response = reqwest::Client::new()
        .post(format!("{}/v1/chat/completions", setup.gateway.base_url))
        .bearer_auth(&user.api_key)
        .json(&json!({"model": "ragway", "messages": [{"role": "user", "content": question}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let raw = response.text().await.unwrap();
    let body: Value = serde_json::from_str(&raw).unwrap();
    let cited_uris = body["choices"][0]["message"]["annotations"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a["url_citation"]["url"].as_str().map(str::to_owned))
        .collect();
    Seen {
        raw,
        cited_uris,
        cached: None,
        handle: None,
    }
}

/// A widget session for `user` (an identity token with its groups).
async fn widget_session(setup: &Setup, user: &User) -> String {
    let t = user.tenant;
    let claims = json!({"iss": PAGE, "aud": "ragway-widget", "sub": user.id, "groups": user.groups,
                        "iat": T0 - 5, "exp": T0 + 300});
    let response = reqwest::Client::new()
        .post(format!("{}/widget/v1/session", setup.gateway.base_url))
        .header("origin", PAGE)
        .json(&json!({"key": setup.widget_keys[t], "identity": jwt(&claims, &identity_secret(t))}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["user"], user.id.as_str(), "{body}");
    body["token"].as_str().unwrap().to_owned()
}

async fn ask_widget(setup: &Setup, token: &str, question: &str) -> Seen {
    let response = reqwest::Client::new()
        .post(format!("{}/widget/v1/chat", setup.gateway.base_url))
        .header("origin", PAGE)
        .bearer_auth(token)
        .json(&json!({"message": question}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let raw = response.text().await.unwrap();
    let message_id = raw
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .filter_map(|d| serde_json::from_str::<Value>(d).ok())
        .find(|c| c["type"] == "start")
        .and_then(|c| c["messageId"].as_str().map(str::to_owned));
    assert!(raw.contains("\"type\":\"finish\""), "{raw}");
    Seen {
        raw,
        cited_uris: Vec::new(),
        cached: None,
        handle: message_id,
    }
}

async fn ask_slack(setup: &Setup, user: &User, question: &str, n: usize) -> Seen {
    let team = setup.world.team(user.tenant);
    let bot = format!("U0BOT{}", user.tenant);
    let ts = format!("{T0}.{n:06}");
    let envelope = json!({"token": "legacy", "team_id": team, "api_app_id": "A0RAGWAY",
        "type": "event_callback", "event_id": format!("Ev{n}"), "event_time": T0,
        "event": {"type": "app_mention", "user": user.slack_id, "text": format!("<@{bot}> {question}"),
                  "ts": ts, "channel": "C0GENERAL", "event_ts": ts},
        "authorizations": [{"team_id": team, "user_id": bot, "is_bot": true}]})
    .to_string();
    let now = setup.clock.now();
    let before = setup.slack.messages().len();
    let response = reqwest::Client::new()
        .post(format!("{}/slack/events", setup.gateway.base_url))
        .header("content-type", "application/json")
        .header("x-slack-request-timestamp", now.to_string())
        .header(
            "x-slack-signature",
            sign(SLACK_SECRET, &now.to_string(), envelope.as_bytes()),
        )
        .body(envelope)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    settle(&setup.gateway.state).await;
    let messages = setup.slack.messages();
    let new: Vec<_> = messages[before..].iter().collect();
    assert_eq!(new.len(), 1, "one answer per mention: {new:#?}");
    assert_eq!(new[0].thread_ts.as_deref(), Some(ts.as_str()));
    Seen {
        raw: format!(
            "{}\n{}",
            new[0].text,
            serde_json::to_string(&new[0].blocks).unwrap()
        ),
        cited_uris: Vec::new(),
        cached: None,
        handle: None,
    }
}

#[tokio::test]
async fn no_answer_crosses_a_tenant_or_acl_boundary_on_any_channel() {
    let seed: u64 = std::env::var("ISOLATION_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_261_205);
    let questions: usize = std::env::var("ISOLATION_QUESTIONS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200);
    let setup = setup(seed).await;
    let world = &setup.world;
    let mut rng = StdRng::seed_from_u64(seed ^ 0x5eed);
    let mut sessions: HashMap<usize, String> = HashMap::new();
    let mut asked = [0i64; TENANTS];
    let mut conversations: Vec<(usize, String)> = Vec::new();
    let mut widget_answers: Vec<(usize, String)> = Vec::new();
    let (mut cache_hits, mut answered_from_documents, mut positive_controls) = (0, 0, 0);
    let mut per_channel: BTreeMap<Channel, usize> = BTreeMap::new();

    for n in 0..questions {
        let u = rng.random_range(0..world.users.len());
        let user = &world.users[u];
        // Half the questions name a random document's codeword (usually one the asker must not
        // see); the others ask about a topic every tenant has documents on.
        let probe = rng
            .random_bool(0.5)
            .then(|| world.docs.choose(&mut rng).unwrap());
        let question = match probe {
            Some(doc) => format!(
                "What does the {} desk say about {}?",
                doc.codeword, doc.topic
            ),
            None => format!("What is the {} policy?", TOPICS.choose(&mut rng).unwrap()),
        };
        let channel = CHANNELS[n % CHANNELS.len()];
        *per_channel.entry(channel).or_default() += 1;
        let prompts_before = setup.llm.chat_requests().len();
        let seen = match channel {
            Channel::Rest => ask_rest(&setup, user, &question).await,
            Channel::RestStream => ask_rest_stream(&setup, user, &question).await,
            Channel::OpenAi => ask_openai(&setup, user, &question).await,
            Channel::Widget => {
                if let std::collections::hash_map::Entry::Vacant(slot) = sessions.entry(u) {
                    slot.insert(widget_session(&setup, user).await);
                }
                ask_widget(&setup, &sessions[&u], &question).await
            }
            Channel::Slack => ask_slack(&setup, user, &question, n).await,
        };
        asked[user.tenant] += 1;
        let case = format!(
            "seed {seed}, question {n} ({channel:?}) by {} of {} in {:?}: {question}",
            user.id, world.tenants[user.tenant], user.groups
        );

        let visible = world.visible(user);
        let shown = world.codewords_in(&seen.raw);
        let leaked: Vec<&&str> = shown.difference(&visible).collect();
        assert!(
            leaked.is_empty(),
            "{case}: leaked {leaked:?} in {}",
            seen.raw
        );
        for uri in &seen.cited_uris {
            let code = uri.trim_end_matches(".md");
            assert!(visible.contains(code), "{case}: cited {uri}");
        }
        for prompt in &setup.llm.chat_requests()[prompts_before..] {
            // The question itself may name any codeword; what the gateway added may not.
            let sent = world.codewords_in(&prompt.to_string().replace(&question, ""));
            let leaked: Vec<&&str> = sent.difference(&visible).collect();
            assert!(leaked.is_empty(), "{case}: {leaked:?} reached the LLM");
        }

        if !shown.is_empty() {
            answered_from_documents += 1;
        }
        if let Some(doc) = probe.filter(|d| visible.contains(d.codeword.as_str())) {
            positive_controls += 1;
            assert!(
                shown.contains(doc.codeword.as_str()),
                "{case}: a visible document named by its codeword is answered from: {}",
                seen.raw
            );
        }
        if seen.cached == Some(true) {
            cache_hits += 1;
        }
        match (channel, seen.handle) {
            (Channel::Rest, Some(id)) => conversations.push((u, id)),
            (Channel::Widget, Some(id)) => widget_answers.push((u, id)),
            _ => {}
        }
    }
    // Many questions have no visible document on their topic (a refusal, which proves little);
    // enough must be answered from documents for the leak checks to mean something.
    assert!(
        answered_from_documents * 5 > questions,
        "answered from documents: {answered_from_documents} of {questions}"
    );
    assert!(
        positive_controls >= 10 && cache_hits > 0,
        "{positive_controls} {cache_hits}"
    );

    // Conversations: only their owner may continue them.
    let client = reqwest::Client::new();
    let mut conversation_checks = 0;
    for (owner, id) in &conversations {
        for (u, user) in world.users.iter().enumerate() {
            if u != *owner && (user.tenant != world.users[*owner].tenant || rng.random_bool(0.5)) {
                continue;
            }
            let status = client
                .post(format!("{}/api/v1/ask", setup.gateway.base_url))
                .bearer_auth(&user.api_key)
                .json(&json!({"question": "And the parking policy?", "conversation_id": id}))
                .send()
                .await
                .unwrap()
                .status();
            asked[user.tenant] += 1;
            conversation_checks += 1;
            let expected = if u == *owner { 200 } else { 404 };
            assert_eq!(status, expected, "{} continuing {id} of {owner}", user.id);
        }
    }
    // Also from other tenants: one key per tenant tries every conversation.
    for (t, count) in asked.iter_mut().enumerate() {
        let user = world.users.iter().find(|u| u.tenant == t).unwrap();
        for (owner, id) in &conversations {
            if world.users[*owner].tenant == t {
                continue;
            }
            let status = client
                .post(format!("{}/api/v1/ask", setup.gateway.base_url))
                .bearer_auth(&user.api_key)
                .json(&json!({"question": "And the parking policy?", "conversation_id": id}))
                .send()
                .await
                .unwrap()
                .status();
            *count += 1;
            conversation_checks += 1;
            assert_eq!(status, 404, "{} continuing {id} of another tenant", user.id);
        }
    }

    // Feedback: only the answer's owner may rate it.
    let mut feedback_checks = 0;
    for (owner, message_id) in &widget_answers {
        for (u, token) in &sessions {
            let status = client
                .post(format!("{}/widget/v1/feedback", setup.gateway.base_url))
                .header("origin", PAGE)
                .bearer_auth(token)
                .json(&json!({"message_id": message_id, "rating": "up"}))
                .send()
                .await
                .unwrap()
                .status();
            feedback_checks += 1;
            let expected = if u == owner { 204 } else { 404 };
            assert_eq!(
                status, expected,
                "{} rating {message_id}",
                world.users[*u].id
            );
        }
    }

    // Feedback and usage rows of a tenant name only its users; its request count is its own.
    let catalog = &setup.gateway.state.core.catalog;
    setup.gateway.state.core.flush_usage().await;
    for (t, tenant) in world.tenants.iter().enumerate() {
        let own: BTreeSet<String> = world
            .users
            .iter()
            .filter(|u| u.tenant == t)
            .flat_map(|u| {
                [
                    u.id.clone(),
                    format!("slack:{}:{}", world.team(t), u.slack_id),
                ]
            })
            .collect();
        for feedback in catalog.feedback(tenant, 10_000).await.unwrap() {
            assert!(own.contains(&feedback.user_id), "{feedback:?}");
        }
        let rows = catalog
            .usage(tenant, "2000-01-01", "2999-12-31")
            .await
            .unwrap();
        for row in &rows {
            assert!(own.contains(&row.user_id), "{tenant}: {row:?}");
        }
        let requests: i64 = rows
            .iter()
            .filter(|r| r.metric == "requests")
            .map(|r| r.value)
            .sum();
        assert_eq!(requests, asked[t], "{tenant}: requests counted");
    }
    eprintln!(
        "isolation: seed {seed}, {questions} questions over {TENANTS} tenants \
         ({} documents, {} users), {per_channel:?}; {answered_from_documents} answered from documents, {cache_hits} cache hits, \
         {positive_controls} positive controls, {conversation_checks} conversation and \
         {feedback_checks} feedback ownership checks",
        world.docs.len(),
        world.users.len()
    );
    setup.gateway.shutdown().await;
}
