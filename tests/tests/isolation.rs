#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Randomized tenant and ACL isolation properties (issue 18). From one seed: tenants, documents
//! that each carry a unique codeword (in their title, text and file name) and random ACL groups,
//! users with random groups (the same group names in every tenant, so a group of one tenant
//! opening another's documents would show), and questions — about a topic every tenant has, or
//! naming a random document's codeword (most often one the asker must not see). Each question is
//! asked on one channel in turn: REST, REST streamed, the OpenAI API, the web widget (identity
//! token), Slack and Microsoft Teams; answers are cached, and questions repeat across principals.
//!
//! Teams: every tenant is one Microsoft 365 organisation (`channelData.tenant.id`) whose users get
//! their groups by Entra object id (`from.aadObjectId`); activities carry RS256 Bot Framework
//! tokens from a fake Microsoft identity platform, and answers are read back from a fake Bot
//! Connector. Adversarially, the k-th user of every organisation has the same object id (so the
//! same 1:1 conversation id), and one group chat id is shared by every user of every
//! organisation: a group lookup, conversation or history not scoped to organisation and user would
//! show. Teams questions alternate between the asker's 1:1 chat (streamed; a conversation that
//! continues, so follow-ups carry history) and the shared group chat; the asker rates each answer.
//!
//! Properties, for every answer: every codeword in the response (text, sources, citations,
//! annotations, Slack blocks, Teams stream updates and citation entities) and in every prompt sent
//! to the LLM for it (minus the asker's own questions in that conversation) belongs to a document
//! of the asker's tenant open to the asker's groups; every REST and Teams citation's document too.
//! Afterwards: no conversation can be continued and no widget answer rated by anyone but its
//! owner; feedback and usage rows of a tenant name only its users (Teams ratings land in the
//! asker's tenant), and each tenant's request count is exactly the questions it was asked.
//! Positive controls keep the test honest: a question naming a codeword the asker may see must be
//! answered from that document, and cache hits must occur.
//!
//! `ISOLATION_SEED` and `ISOLATION_QUESTIONS` vary the run (default: seed 20261205, 200 questions).

mod common;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use aws_lc_rs::hmac;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::{parse_sse, post_ask};
use ragway_catalog::NewApiKey;
use ragway_gateway::Server;
use ragway_gateway::channels::bots::Clock;
use ragway_gateway::channels::slack::verify::sign;
use ragway_gateway::channels::teams::{TeamsConfig, TeamsTenant};
use ragway_gateway::channels::widget::Widget;
use ragway_gateway::server::Bots;
use ragway_ingest::source::{AclConfig, AclRule, FolderSourceConfig};
use ragway_tests::bots::settle;
use ragway_tests::fake_bot_connector::FakeBotConnector;
use ragway_tests::fake_microsoft::{AppCredentials, FakeMicrosoft, PublishedKey};
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
const TEAMS_APP_ID: &str = "5d1c0e7a-2b3f-4a69-9c1d-7e0f2a4b6c8d";
const TEAMS_APP_TENANT: &str = "0b5e9d3c-1f2a-4e6b-8d7c-9a0b1c2d3e4f";
const TEAMS_APP_SECRET: &str = "isolation-teams-app-secret-0123";
const TEAMS_KEY_ID: &str = "isolation-key-1";
/// One group chat every Teams user of every organisation asks in.
const SHARED_GROUP_CHAT: &str = "19:isolation-everyone@thread.v2";
const TENANTS: usize = 4;
/// Each tenant's BM25 statistics are its own (a shard per tenant): 16 documents give its topic
/// words the weight that the relevance cut lets through often enough for the positive controls.
const DOCS_PER_TENANT: usize = 16;
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
    /// The Entra object id (`from.aadObjectId`): the same for the k-th user of every tenant.
    aad_id: String,
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
                    aad_id: format!("0000000{u}-a1a1-4b2b-8c3c-d4d4e5e5f6f6"),
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

    /// The Microsoft 365 organisation (Entra tenant id) of `tenant`.
    fn org(&self, tenant: usize) -> String {
        format!("0000150{tenant}-7e7e-4a4a-9b9b-0123456789ab")
    }

    /// Every user id rows of `tenant` may name: API key and widget user, Slack and Teams user.
    fn user_ids(&self, tenant: usize) -> BTreeSet<String> {
        self.users
            .iter()
            .filter(|u| u.tenant == tenant)
            .flat_map(|u| {
                [
                    u.id.clone(),
                    format!("slack:{}:{}", self.team(tenant), u.slack_id),
                    format!("teams:{}:{}", self.org(tenant), u.aad_id),
                ]
            })
            .collect()
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
    microsoft: FakeMicrosoft,
    connector: FakeBotConnector,
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
    let credentials = AppCredentials {
        client_id: TEAMS_APP_ID.into(),
        client_secret: TEAMS_APP_SECRET.into(),
    };
    let key = PublishedKey::endorsed(TEAMS_KEY_ID, &["msteams"]);
    let microsoft = FakeMicrosoft::start(credentials, vec![key]).await.unwrap();
    let connector = FakeBotConnector::start(microsoft.issued_tokens())
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
    secrets.insert("ISOLATION_TEAMS_PASSWORD".into(), TEAMS_APP_SECRET.into());
    let mut identity = serde_json::Map::new();
    let mut workspaces = serde_json::Map::new();
    let mut organisations = BTreeMap::new();
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
        // Groups by Entra object id only: no default groups, guests get none.
        let user_groups = world
            .users
            .iter()
            .filter(|u| u.tenant == t)
            .map(|u| {
                let groups = u.groups.iter().map(|g| (*g).to_owned()).collect();
                (u.aad_id.clone(), groups)
            })
            .collect();
        organisations.insert(
            world.org(t),
            TeamsTenant {
                tenant: tenant.clone(),
                default_groups: Vec::new(),
                user_groups,
                guest_groups: Vec::new(),
            },
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
    config.teams = Some(TeamsConfig {
        app_id: TEAMS_APP_ID.into(),
        app_password_env: "ISOLATION_TEAMS_PASSWORD".into(),
        app_tenant_id: Some(TEAMS_APP_TENANT.into()),
        token_url: Some(microsoft.token_url(TEAMS_APP_TENANT)),
        openid_metadata_url: microsoft.openid_metadata_url(),
        service_url_prefixes: vec![connector.service_url.clone()],
        // An update per streamed word: every partial text is checked too.
        stream_interval_ms: 0,
        tenants: organisations,
        ..TeamsConfig::default()
    });
    let clock = Clock::manual(T0);
    let lookup = |name: &str| secrets.get(name).cloned();
    let mut bare = config.clone();
    bare.widget = Default::default();
    bare.slack = None;
    bare.teams = None;
    let mut server = Server::open(bare).await.unwrap();
    server.widget = Arc::new(Widget::new(&config.widget, &lookup).unwrap());
    server.bots = Bots::new(&config, &lookup, clock.clone()).unwrap();
    server.state.core.set_config(Arc::new(config));
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
        microsoft,
        connector,
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
    Teams,
}

const CHANNELS: [Channel; 6] = [
    Channel::Rest,
    Channel::RestStream,
    Channel::OpenAi,
    Channel::Widget,
    Channel::Slack,
    Channel::Teams,
];

/// What one channel was asked, and how often the answer came from documents.
#[derive(Debug, Default)]
struct Tally {
    asked: usize,
    from_documents: usize,
    /// Questions naming a codeword the asker may see (the answer must come from it).
    positive_controls: usize,
    cache_hits: usize,
}

impl std::fmt::Display for Tally {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} asked, {} from documents, {} positive controls, {} cache hits",
            self.asked, self.from_documents, self.positive_controls, self.cache_hits
        )
    }
}

/// Where a Teams question is asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum TeamsChat {
    /// The asker's 1:1 chat with the bot (the answer streams).
    Personal,
    /// [`SHARED_GROUP_CHAT`], with an @mention of the bot (one final message).
    Group,
}

/// What one answer showed the asker.
struct Seen {
    /// The whole response as the asker received it (JSON, SSE body, Slack message or every
    /// activity the bot sent to Teams for it).
    raw: String,
    /// The cited documents' uris (REST citations and sources, OpenAI annotations, Teams
    /// citations; the other channels are covered by `raw`).
    cited_uris: Vec<String>,
    cached: Option<bool>,
    /// A REST conversation or a widget answer's message id, for the ownership checks.
    handle: Option<String>,
}

async fn ask_rest(setup: &Setup, user: &User, question: &str) -> Seen {
    let (status, body) = post_ask(
        &setup.gateway.base_url,
        Some(&user.api_key),
        &json!({"question": question}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let raw = body.to_string();
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

/// `POST {path}` with a bearer token (from the intranet page: `Origin`); the body of its 200.
async fn post_ok(
    setup: &Setup,
    path: &str,
    token: &str,
    origin: Option<&str>,
    body: &Value,
) -> String {
    let mut request = reqwest::Client::new()
        .post(format!("{}{path}", setup.gateway.base_url))
        .bearer_auth(token)
        .json(body);
    if let Some(origin) = origin {
        request = request.header("origin", origin);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    assert_eq!(status, 200, "{path}: {text}");
    text
}

async fn ask_rest_stream(setup: &Setup, user: &User, question: &str) -> Seen {
    let body = json!({"question": question, "stream": true});
    let raw = post_ok(setup, "/api/v1/ask", &user.api_key, None, &body).await;
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
    let body = json!({"model": "ragway", "messages": [{"role": "user", "content": question}]});
    let raw = post_ok(setup, "/v1/chat/completions", &user.api_key, None, &body).await;
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
    let body = json!({"message": question});
    let raw = post_ok(setup, "/widget/v1/chat", token, Some(PAGE), &body).await;
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

/// A Teams activity of `kind` from `user` in `chat`, as the Bot Connector delivers it.
fn teams_activity(setup: &Setup, user: &User, chat: TeamsChat, kind: &str, id: &str) -> Value {
    let org = setup.world.org(user.tenant);
    let (conversation, conversation_type) = match chat {
        TeamsChat::Personal => (format!("a:1{}-and-ragway", user.aad_id), "personal"),
        TeamsChat::Group => (SHARED_GROUP_CHAT.to_owned(), "groupChat"),
    };
    json!({
        "type": kind, "id": id, "timestamp": "2027-01-15T08:00:00.000Z", "channelId": "msteams",
        "serviceUrl": setup.connector.service_url,
        "from": {"id": format!("29:1{}", user.aad_id), "name": user.id, "aadObjectId": user.aad_id},
        "conversation": {"id": conversation, "conversationType": conversation_type, "tenantId": org},
        "recipient": {"id": format!("28:{TEAMS_APP_ID}"), "name": "Ragway"},
        "locale": "en-US", "entities": [], "channelData": {"tenant": {"id": org}},
    })
}

/// Posts `activity` to `/api/messages` with a Bot Framework token, as the Bot Connector does.
async fn post_teams(setup: &Setup, activity: &Value) -> u16 {
    let claims = json!({"iss": "https://api.botframework.com", "aud": TEAMS_APP_ID,
        "iat": T0 - 60, "nbf": T0 - 60, "exp": T0 + 3600, "serviceurl": setup.connector.service_url});
    reqwest::Client::new()
        .post(format!("{}/api/messages", setup.gateway.base_url))
        .bearer_auth(setup.microsoft.mint(TEAMS_KEY_ID, &claims))
        .json(activity)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn ask_teams(setup: &Setup, user: &User, question: &str, n: usize, chat: TeamsChat) -> Seen {
    let id = format!("iso-{n}");
    let mut activity = teams_activity(setup, user, chat, "message", &id);
    activity["textFormat"] = json!("plain");
    match chat {
        TeamsChat::Personal => activity["text"] = json!(question),
        TeamsChat::Group => {
            activity["text"] = json!(format!("<at>Ragway</at> {question}"));
            activity["entities"] = json!([{"type": "mention", "text": "<at>Ragway</at>",
                "mentioned": {"id": format!("28:{TEAMS_APP_ID}"), "name": "Ragway"}}]);
        }
    }
    let before = setup.connector.posts().len();
    assert_eq!(post_teams(setup, &activity).await, 202);
    settle(&setup.gateway.state).await;
    assert_eq!(setup.connector.violations(), Vec::<String>::new());
    let posts = setup.connector.posts().split_off(before);
    let conversation = &activity["conversation"]["id"];
    assert!(
        posts.iter().all(|p| p.conversation == *conversation),
        "{posts:#?}"
    );
    let answers: Vec<_> = posts
        .iter()
        .filter(|p| p.activity["type"] == "message")
        .collect();
    assert_eq!(answers.len(), 1, "one answer per message: {posts:#?}");
    let answer = &answers[0].activity;
    let text = answer["text"].as_str().unwrap();
    assert!(!text.contains("⚠️"), "{text}");
    if chat == TeamsChat::Group {
        assert_eq!(answers[0].reply_to.as_deref(), Some(id.as_str()));
    }
    // Each citation names its document by title, which carries the codeword.
    let mut cited_uris = Vec::new();
    let entities = answer["entities"].as_array().cloned().unwrap_or_default();
    for entity in entities.iter().filter(|e| e["@type"] == "Message") {
        for claim in entity["citation"].as_array().unwrap() {
            let name = claim["appearance"]["name"].as_str().unwrap();
            let named: Vec<&str> = setup.world.codewords_in(name).into_iter().collect();
            assert_eq!(named.len(), 1, "citation {name}");
            cited_uris.push(format!("{}.md", named[0]));
        }
    }
    Seen {
        raw: posts
            .iter()
            .map(|p| p.activity.to_string())
            .collect::<Vec<_>>()
            .join("\n"),
        cited_uris,
        cached: None,
        handle: None,
    }
}

/// The asker rates a Teams answer 👍 (Teams' feedback loop: a `message/submitAction` invoke).
async fn rate_teams(setup: &Setup, user: &User, chat: TeamsChat, n: usize) {
    let mut invoke = teams_activity(setup, user, chat, "invoke", &format!("iso-rating-{n}"));
    invoke["name"] = json!("message/submitAction");
    invoke["replyToId"] = json!(format!("answer-to-iso-{n}"));
    invoke["value"] = json!({"actionName": "feedback", "actionValue": {"reaction": "like",
        "feedback": "{\"feedbackText\":\"\"}"}});
    assert_eq!(post_teams(setup, &invoke).await, 200);
}

/// `user` tries to continue the REST conversation `id`: the response status.
async fn continue_conversation(setup: &Setup, user: &User, id: &str) -> u16 {
    let body = json!({"question": "And the parking policy?", "conversation_id": id});
    post_ask(&setup.gateway.base_url, Some(&user.api_key), &body)
        .await
        .0
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
    // The questions each user asked in each Teams chat (its conversation's history).
    let mut teams_threads: HashMap<(usize, TeamsChat), Vec<String>> = HashMap::new();
    let mut teams_ratings = [0usize; TENANTS];
    let mut per_channel: BTreeMap<Channel, Tally> = BTreeMap::new();

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
        let tally = per_channel.entry(channel).or_default();
        tally.asked += 1;
        // Teams questions alternate between the asker's 1:1 chat and the shared group chat.
        let chat = if (n / CHANNELS.len()).is_multiple_of(2) {
            TeamsChat::Personal
        } else {
            TeamsChat::Group
        };
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
            Channel::Teams => ask_teams(&setup, user, &question, n, chat).await,
        };
        asked[user.tenant] += 1;
        // The asker's own questions may reach the LLM (this one, and in a continuing Teams
        // conversation the earlier ones as history); nothing else that names a codeword may.
        let mut own_questions = vec![question.clone()];
        if channel == Channel::Teams {
            let thread = teams_threads.entry((u, chat)).or_default();
            own_questions.extend(thread.iter().cloned());
            thread.push(question.clone());
            rate_teams(&setup, user, chat, n).await;
            teams_ratings[user.tenant] += 1;
        }
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
        let prompts = setup.llm.chat_requests().split_off(prompts_before);
        for prompt in &prompts {
            let mut sent = prompt.to_string();
            for own in &own_questions {
                sent = sent.replace(own.as_str(), "");
            }
            let sent = world.codewords_in(&sent);
            let leaked: Vec<&&str> = sent.difference(&visible).collect();
            assert!(leaked.is_empty(), "{case}: {leaked:?} reached the LLM");
        }

        if !shown.is_empty() {
            tally.from_documents += 1;
        }
        if let Some(doc) = probe.filter(|d| visible.contains(d.codeword.as_str())) {
            tally.positive_controls += 1;
            assert!(
                shown.contains(doc.codeword.as_str()),
                "{case}: a visible document named by its codeword is answered from: {}",
                seen.raw
            );
        }
        // Channels that do not say so still show a cache hit: an answer from documents that
        // took no LLM call.
        if seen.cached == Some(true) || (!shown.is_empty() && prompts.is_empty()) {
            tally.cache_hits += 1;
        }
        match (channel, seen.handle) {
            (Channel::Rest, Some(id)) => conversations.push((u, id)),
            (Channel::Widget, Some(id)) => widget_answers.push((u, id)),
            _ => {}
        }
    }
    let answered_from_documents: usize = per_channel.values().map(|t| t.from_documents).sum();
    let positive_controls: usize = per_channel.values().map(|t| t.positive_controls).sum();
    let cache_hits: usize = per_channel.values().map(|t| t.cache_hits).sum();
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

    // Conversations: only their owner may continue them. Tried by the owner, about half the
    // other users of its tenant, and the first user of every other tenant.
    let client = reqwest::Client::new();
    let mut conversation_checks = 0;
    for (owner, id) in &conversations {
        let owner_tenant = world.users[*owner].tenant;
        for (u, user) in world.users.iter().enumerate() {
            let tries = if user.tenant == owner_tenant {
                u == *owner || rng.random_bool(0.5)
            } else {
                u.is_multiple_of(USERS_PER_TENANT)
            };
            if !tries {
                continue;
            }
            let status = continue_conversation(&setup, user, id).await;
            asked[user.tenant] += 1;
            conversation_checks += 1;
            let expected = if u == *owner { 200 } else { 404 };
            assert_eq!(status, expected, "{} continuing {id} of {owner}", user.id);
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
        let own = world.user_ids(t);
        let feedback = catalog.feedback(tenant, 10_000).await.unwrap();
        for row in &feedback {
            assert!(own.contains(&row.user_id), "{tenant}: {row:?}");
        }
        let from_teams = feedback.iter().filter(|f| f.channel == "teams").count();
        assert_eq!(
            from_teams, teams_ratings[t],
            "{tenant}: Teams ratings stored"
        );
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
         ({} documents, {} users); {answered_from_documents} answered from documents, \
         {cache_hits} cache hits, {positive_controls} positive controls, {conversation_checks} \
         conversation and {feedback_checks} feedback ownership checks, {} Teams ratings",
        world.docs.len(),
        world.users.len(),
        teams_ratings.iter().sum::<usize>()
    );
    for (channel, tally) in &per_channel {
        eprintln!("  {channel:?}: {tally}");
    }
    setup.gateway.shutdown().await;
}
