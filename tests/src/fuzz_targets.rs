//! Every parser of untrusted bytes ragway has, as fuzz targets with valid seed documents: the
//! document formats (each parsed, then chunked), the crawler's robots.txt, sitemap and link
//! parsers, and the chat channels' payloads and tokens (Slack, Teams, the widget). `tests/tests/fuzz.rs` runs them with a small budget in CI, `bench/fuzz.rs` with a
//! large one (docs/RELIABILITY.md).

use ragway_ingest::chunk::{Chunker, ChunkerConfig};
use ragway_ingest::parse::{Format, parse};
use ragway_ingest::source::web::fuzz_targets;

use crate::fuzz::{FuzzReport, fuzz};
use crate::samples::{self, Prose};

/// Seeds of one document format.
fn document_seeds(format: Format) -> Vec<Vec<u8>> {
    (0..3u64)
        .map(|seed| {
            let mut prose = Prose::new(seed + 1);
            let title = prose.title();
            let body = samples::sections(&mut prose, 2 + seed as usize, 2);
            match format {
                Format::Markdown => samples::markdown(&title, &body).into_bytes(),
                Format::Text => samples::text(&title, &body).into_bytes(),
                Format::Html => {
                    samples::html(&title, &body, &["/a".into(), "b.html".into()]).into_bytes()
                }
                Format::Csv => samples::csv(&mut prose, 20).into_bytes(),
                Format::Json => samples::json(&mut prose, 5).into_bytes(),
                Format::Pdf => samples::pdf(&title, &samples::pdf_pages(&mut prose, 2, 8)),
                Format::Docx => samples::docx(&title, &body),
                Format::Pptx => samples::pptx(&body),
                Format::Xlsx => samples::xlsx(&mut prose, 10),
            }
        })
        .collect()
}

const FORMATS: [(&str, Format); 9] = [
    ("markdown", Format::Markdown),
    ("text", Format::Text),
    ("html", Format::Html),
    ("csv", Format::Csv),
    ("json", Format::Json),
    ("pdf", Format::Pdf),
    ("docx", Format::Docx),
    ("pptx", Format::Pptx),
    ("xlsx", Format::Xlsx),
];

/// The Office formats are zips whose CRCs make almost every byte-level mutation a refused
/// container: these targets mutate the XML part that carries the text and zip it again, so the
/// XML readers get the mutations.
const OFFICE_PARTS: [(&str, Format, &str); 3] = [
    ("docx xml", Format::Docx, "word/document.xml"),
    ("pptx xml", Format::Pptx, "ppt/slides/slide1.xml"),
    ("xlsx sheet", Format::Xlsx, "xl/worksheets/sheet1.xml"),
];

/// A zip's entries, in order.
fn zip_entries(bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
    let Ok(mut archive) = zip::ZipArchive::new(std::io::Cursor::new(bytes)) else {
        return Vec::new();
    };
    (0..archive.len())
        .filter_map(|i| {
            let mut entry = archive.by_index(i).ok()?;
            let mut content = Vec::new();
            std::io::Read::read_to_end(&mut entry, &mut content).ok()?;
            let name = entry.name().ok()?.into_owned();
            Some((name, content))
        })
        .collect()
}

const ROBOTS: &str = "User-agent: *\nDisallow: /private/\nAllow: /private/public$\nCrawl-delay: 2\n\n\
                      User-agent: ragway\nDisallow: /*.pdf$\nSitemap: https://intranet.example/sitemap.xml\n";
const SITEMAP: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<urlset xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">\
                       <url><loc>https://intranet.example/a</loc><lastmod>2026-01-01</lastmod></url>\
                       <url><loc>https://intranet.example/b?x=1&amp;y=2</loc></url></urlset>";
const SITEMAP_INDEX: &str = "<sitemapindex xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">\
                             <sitemap><loc>https://intranet.example/s1.xml</loc></sitemap></sitemapindex>";

/// Runs every target with `executions` mutated inputs each (plus its seeds), from `seed`.
pub fn run_all(executions: usize, seed: u64) -> Vec<FuzzReport> {
    let mut reports = Vec::new();
    let chunker = Chunker::new(&ChunkerConfig::default()).ok();
    for (name, format) in FORMATS {
        let seeds = document_seeds(format);
        reports.push(fuzz(name, &seeds, executions, seed, |bytes| {
            let doc = parse(format, "fuzz/input", "input", bytes)?;
            if let Some(chunker) = &chunker {
                let _ = chunker.chunk(&doc);
            }
            Ok::<(), ragway_ingest::IngestError>(())
        }));
    }
    for (name, format, part) in OFFICE_PARTS {
        let container = document_seeds(format).swap_remove(0);
        let entries = zip_entries(&container);
        let seeds: Vec<Vec<u8>> = entries
            .iter()
            .filter(|(entry, _)| entry == part)
            .map(|(_, xml)| xml.clone())
            .collect();
        if seeds.is_empty() {
            continue;
        }
        reports.push(fuzz(name, &seeds, executions, seed, |xml| {
            let zipped: Vec<(&str, Vec<u8>)> = entries
                .iter()
                .map(|(entry, content)| {
                    let content = if entry == part {
                        xml.to_vec()
                    } else {
                        content.clone()
                    };
                    (entry.as_str(), content)
                })
                .collect();
            let doc = parse(format, "fuzz/input", "input", &samples::zip_of(&zipped))?;
            if let Some(chunker) = &chunker {
                let _ = chunker.chunk(&doc);
            }
            Ok::<(), ragway_ingest::IngestError>(())
        }));
    }
    reports.push(fuzz(
        "robots.txt",
        &[ROBOTS.as_bytes().to_vec()],
        executions,
        seed,
        |bytes| {
            fuzz_targets::robots(&String::from_utf8_lossy(bytes));
            Ok::<(), ()>(())
        },
    ));
    reports.push(fuzz(
        "sitemap",
        &[
            SITEMAP.as_bytes().to_vec(),
            SITEMAP_INDEX.as_bytes().to_vec(),
        ],
        executions,
        seed,
        fuzz_targets::sitemap,
    ));
    let page = samples::html(
        "Links",
        &[],
        &["/a".into(), "../b.html".into(), "https://x/".into()],
    );
    reports.push(fuzz(
        "html links",
        &[page.into_bytes()],
        executions,
        seed,
        |bytes| {
            fuzz_targets::links(&String::from_utf8_lossy(bytes));
            Ok::<(), ()>(())
        },
    ));
    reports.extend(run_channels(executions, seed));
    reports
}

// ---------------------------------------------------------------------------------------------
// The chat channels: Slack (signature, Events API JSON, slash-command and interaction forms),
// Teams (OpenID metadata and JWKS, Bot Framework and Entra tokens, activities) and the widget
// (identity JWTs, session tokens). Where a signature would refuse every mutated input before the
// code behind it runs, a second target mutates what is signed and signs it again, as the sender
// would (an authentic sender is not a trusted parser input).

/// The fixed time of the token and signature checks.
const NOW: i64 = 1_800_000_000;
const SLACK_SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
const SLACK_TEAM: &str = "T0001ACME";
const TEAMS_APP_ID: &str = "0b9d6d83-8d2e-4b69-a4f6-3a1c2b7e9f10";
const TEAMS_APP_TENANT: &str = "7a1e2b3c-4d5e-4f60-8a9b-0c1d2e3f4a5b";
const TEAMS_CALLER: &str = "d6d49420-f39b-4df7-a1dc-d59a935871db";
const TEAMS_ORG: &str = "c1d2e3f4-a5b6-4c7d-8e9f-0a1b2c3d4e5f";
const SERVICE_URL: &str = "https://smba.trafficmanager.net/emea/";
const BF_ISSUER: &str = "https://api.botframework.com";
const WIDGET_SECRET: &str = "a-shared-secret-of-at-least-32-characters";
const SESSION_SECRET: &[u8] = b"a-widget-session-secret-of-32-bytes-or-more";
const ORIGIN: &str = "https://intranet.acme.example";

#[allow(dead_code)]
mod rsa_keys {
    include!("test_rsa_keys.rs");

    /// The PKCS#1 DER of the key the fuzzed JWKS publishes.
    pub(super) fn der() -> Vec<u8> {
        hex::decode(TEST_KEY_DER_HEX).unwrap_or_default()
    }

    /// Its JWK modulus.
    pub(super) const N: &str = TEST_KEY_N;
}

fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// `header.claims` signed RS256 with the published test key.
fn sign_rs256(key: &aws_lc_rs::signature::RsaKeyPair, header: &[u8], claims: &[u8]) -> String {
    let signed = format!("{}.{}", b64(header), b64(claims));
    let mut signature = vec![0; key.public_modulus_len()];
    let rng = aws_lc_rs::rand::SystemRandom::new();
    if key
        .sign(
            &aws_lc_rs::signature::RSA_PKCS1_SHA256,
            &rng,
            signed.as_bytes(),
            &mut signature,
        )
        .is_err()
    {
        return signed + ".unsigned";
    }
    format!("{signed}.{}", b64(&signature))
}

/// `header.claims` signed HS256 with `secret` (the widget identity tokens a host page signs).
fn sign_hs256(secret: &[u8], header: &[u8], claims: &[u8]) -> String {
    let signed = format!("{}.{}", b64(header), b64(claims));
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret);
    let tag = aws_lc_rs::hmac::sign(&key, signed.as_bytes());
    format!("{signed}.{}", b64(tag.as_ref()))
}

/// Splits an input in two at the first blank line (two documents in one mutated input).
fn two_parts(bytes: &[u8]) -> (&[u8], &[u8]) {
    match bytes.windows(2).position(|w| w == b"\n\n") {
        Some(at) => (&bytes[..at], &bytes[at + 2..]),
        None => (bytes, &[]),
    }
}

fn joined(a: &str, b: &str) -> Vec<u8> {
    format!("{a}\n\n{b}").into_bytes()
}

fn slack_config() -> ragway_gateway::channels::slack::SlackConfig {
    use ragway_gateway::channels::slack::{SlackConfig, SlackWorkspace};
    let workspace = SlackWorkspace {
        tenant: "acme".into(),
        bot_token_env: "SLACK_BOT_TOKEN_ACME".into(),
        lookup_email: false,
        default_groups: vec!["staff".into()],
        user_groups: Default::default(),
        guest_groups: Vec::new(),
    };
    SlackConfig {
        signing_secret_env: "SLACK_SIGNING_SECRET".into(),
        response_url_hosts: vec!["hooks.slack.com".into(), "127.0.0.1".into()],
        workspaces: std::collections::BTreeMap::from([(SLACK_TEAM.into(), workspace)]),
        ..SlackConfig::default()
    }
}

fn slack_event_seeds() -> Vec<Vec<u8>> {
    let team = SLACK_TEAM;
    [
        serde_json::json!({"token": "Jhj5dZrVaK7ZwHHjRyZWjbDl", "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
            "type": "url_verification"}),
        serde_json::json!({"token": "z26uFbvR1xHJEdHE1OQiO6t8", "team_id": team, "api_app_id": "A0RAGWAY",
            "event": {"type": "app_mention", "user": "U0ALICE", "text": "<@U0BOT> How do I connect to the VPN from home?",
                "ts": "1700000000.000100", "channel": "C0GENERAL", "event_ts": "1700000000.000100"},
            "type": "event_callback", "event_id": "Ev0001", "event_time": 1_700_000_000,
            "authorizations": [{"team_id": team, "user_id": "U0BOT", "is_bot": true}]}),
        serde_json::json!({"team_id": team, "event": {"type": "message", "channel_type": "im", "user": "U0ALICE",
            "text": "¿Cuántos días de vacaciones tengo?", "ts": "1700000000.000200", "thread_ts": "1700000000.000100",
            "channel": "D0ALICE"}, "type": "event_callback", "event_id": "Ev0002"}),
        serde_json::json!({"team_id": team, "event": {"type": "assistant_thread_started",
            "assistant_thread": {"user_id": "U0ALICE", "context": {"channel_id": "C0GENERAL"}, "channel_id": "D0ALICE",
                "thread_ts": "1700000000.000300"}, "event_ts": "1700000000.000301"},
            "type": "event_callback", "event_id": "Ev0003"}),
        serde_json::json!({"team_id": team, "event": {"type": "app_mention", "user": "U0GUEST", "user_team": "T0PARTNER",
            "team": "T0PARTNER", "text": "<@U0BOT|ragway> expenses <@U0ANA>?", "ts": "1700000000.000400",
            "channel": "C0SHARED"}, "type": "event_callback", "event_id": "Ev0004"}),
        serde_json::json!({"team_id": team, "event": {"type": "message", "subtype": "message_changed", "channel_type": "im",
            "bot_id": "B0BOT", "ts": "1700000000.000500", "channel": "D0ALICE"}, "type": "event_callback", "event_id": "Ev0005"}),
    ]
    .iter()
    .map(|v| v.to_string().into_bytes())
    .collect()
}

fn slack_command_seeds() -> Vec<Vec<u8>> {
    vec![
        format!("token=xyzz0WbapA4vBCDEFasx0q6G&team_id={SLACK_TEAM}&team_domain=acme&channel_id=C0GENERAL&channel_name=general\
                 &user_id=U0ALICE&user_name=alice&command=%2Fask&text=How+do+I+connect+to+the+VPN%3F\
                 &api_app_id=A0RAGWAY&is_enterprise_install=false\
                 &response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT0001ACME%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN\
                 &trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c").into_bytes(),
        format!("team_id={SLACK_TEAM}&channel_id=D0ALICE&user_id=U0ALICE&command=%2Fask&text=%C2%BFvacaciones%3F+%3C%40U0BOT%3E\
                 &response_url=http%3A%2F%2F127.0.0.1%3A4000%2Fresponse%2F1&trigger_id=1.2.3").into_bytes(),
        b"team_id=T0OTHER&channel_id=C1&user_id=U1&text=&response_url=https%3A%2F%2Fevil.example%2Fx".to_vec(),
    ]
}

fn slack_interaction_payloads() -> Vec<String> {
    let click = |value: &str, url: &str| {
        serde_json::json!({"type": "block_actions", "team": {"id": SLACK_TEAM, "domain": "acme"},
            "user": {"id": "U0ALICE", "team_id": SLACK_TEAM},
            "container": {"type": "message", "message_ts": "1700000000.000003", "channel_id": "C0GENERAL", "is_ephemeral": false},
            "channel": {"id": "C0GENERAL"}, "message": {"ts": "1700000000.000003", "text": "The VPN client is…"},
            "response_url": url,
            "actions": [{"type": "feedback_buttons", "action_id": "ragway_feedback", "block_id": "b1",
                         "value": value, "action_ts": "1800000000.1"}]})
        .to_string()
    };
    vec![
        click("up", "https://hooks.slack.com/actions/T0001ACME/1/abc"),
        click("down", "http://[::1]:99999/x"),
        serde_json::json!({"type": "view_submission", "team": null, "actions": []}).to_string(),
    ]
}

fn form(payload: &[u8]) -> Vec<u8> {
    serde_urlencoded::to_string([("payload", String::from_utf8_lossy(payload).as_ref())])
        .unwrap_or_default()
        .into_bytes()
}

/// `timestamp\nsignature\nbody`; the signature `auto` is computed over the (mutated) timestamp
/// and body, as an authentic sender would.
fn slack_signed_seeds() -> Vec<Vec<u8>> {
    use ragway_gateway::channels::slack::verify::sign;
    let ts = NOW.to_string();
    let mut seeds = Vec::new();
    for body in slack_event_seeds()
        .into_iter()
        .take(2)
        .chain(slack_command_seeds().into_iter().take(1))
    {
        let mut real = format!("{ts}\n{}\n", sign(SLACK_SECRET, &ts, &body)).into_bytes();
        real.extend_from_slice(&body);
        seeds.push(real);
        let mut auto = format!("{ts}\nauto\n").into_bytes();
        auto.extend_from_slice(&body);
        seeds.push(auto);
    }
    seeds.push(format!("{}\nauto\n{{}}", NOW - 299).into_bytes());
    seeds
}

fn slack_signed(
    slack: &ragway_gateway::channels::slack::fuzz_targets::Slack,
    input: &[u8],
) -> Result<(), String> {
    use axum::http::{HeaderMap, HeaderValue};
    let mut lines = input.splitn(3, |b| *b == b'\n');
    let (ts, signature, body) = (
        lines.next().unwrap_or_default(),
        lines.next().unwrap_or_default(),
        lines.next().unwrap_or_default(),
    );
    let signature = if signature == b"auto" {
        ragway_gateway::channels::slack::verify::sign(
            SLACK_SECRET,
            String::from_utf8_lossy(ts).trim(),
            body,
        )
        .into_bytes()
    } else {
        signature.to_vec()
    };
    let mut headers = HeaderMap::new();
    for (name, value) in [
        ("x-slack-request-timestamp", ts),
        ("x-slack-signature", signature.as_slice()),
    ] {
        if let Ok(value) = HeaderValue::from_bytes(value) {
            headers.insert(name, value);
        }
    }
    slack
        .signed(&headers, body, NOW)
        .map_err(|e| e.to_string())?;
    // Past the signature, the body goes to the parser of its route.
    if body.first() == Some(&b'{') {
        slack.events(body).map_err(|e| e.to_string())
    } else {
        slack.command(body).map_err(|e| e.to_string())
    }
}

fn teams_config() -> ragway_gateway::channels::teams::TeamsConfig {
    use ragway_gateway::channels::teams::{TeamsConfig, TeamsTenant};
    TeamsConfig {
        app_id: TEAMS_APP_ID.into(),
        app_tenant_id: Some(TEAMS_APP_TENANT.into()),
        bot_service_app_id: Some(TEAMS_CALLER.into()),
        tenants: std::collections::BTreeMap::from([(
            TEAMS_ORG.into(),
            TeamsTenant {
                tenant: "acme".into(),
                default_groups: vec!["staff".into()],
                user_groups: std::collections::BTreeMap::from([(
                    "aad-alice".into(),
                    vec!["hr".into()],
                )]),
                guest_groups: Vec::new(),
            },
        )]),
        ..TeamsConfig::default()
    }
}

fn teams_metadata() -> String {
    serde_json::json!({"issuer": BF_ISSUER, "authorization_endpoint": "https://invalid.botframework.com",
        "jwks_uri": "https://login.botframework.com/v1/.well-known/keys",
        "id_token_signing_alg_values_supported": ["RS256"],
        "token_endpoint_auth_methods_supported": ["private_key_jwt"]})
    .to_string()
}

fn teams_jwks(endorsed: bool) -> String {
    let mut key = serde_json::json!({"kty": "RSA", "use": "sig", "kid": "key-1", "x5t": "key-1",
        "n": rsa_keys::N, "e": "AQAB"});
    if endorsed {
        key["endorsements"] = serde_json::json!(["msteams", "webchat"]);
    }
    serde_json::json!({"keys": [key, {"kty": "EC", "kid": "ec-1", "crv": "P-256", "x": "f83OJ3D2", "y": "x_FEzRu9"},
        {"kty": "RSA", "kid": "no-modulus", "e": "AQAB"}]})
    .to_string()
}

fn entra_metadata() -> String {
    serde_json::json!({"token_endpoint": format!("https://login.microsoftonline.com/{TEAMS_APP_TENANT}/oauth2/v2.0/token"),
        "jwks_uri": format!("https://login.microsoftonline.com/{TEAMS_APP_TENANT}/discovery/v2.0/keys"),
        "issuer": format!("https://login.microsoftonline.com/{TEAMS_APP_TENANT}/v2.0"),
        "id_token_signing_alg_values_supported": ["RS256"]})
    .to_string()
}

fn entra_jwks() -> String {
    serde_json::json!({"keys": [{"kty": "RSA", "use": "sig", "kid": "entra-key-1", "n": rsa_keys::N, "e": "AQAB",
        "x5c": ["MIIC"], "issuer": format!("https://login.microsoftonline.com/{TEAMS_APP_TENANT}/v2.0")}]})
    .to_string()
}

/// Header and claims of valid tokens: a Bot Framework channel token, Entra v2 and v1 tokens of
/// the configured caller app.
fn teams_token_parts() -> Vec<(String, String)> {
    let header = |kid: &str| {
        serde_json::json!({"alg": "RS256", "typ": "JWT", "kid": kid, "x5t": kid}).to_string()
    };
    let entra = |iss: String, caller: (&str, &str), ver: &str| {
        let mut claims = serde_json::json!({"aud": TEAMS_APP_ID, "iss": iss, "iat": NOW - 60, "nbf": NOW - 60,
            "exp": NOW + 3600, "idtyp": "app", "oid": "6f0e1d2c-3b4a-4958-8776-a5b4c3d2e1f0",
            "tid": TEAMS_APP_TENANT, "ver": ver, "serviceurl": SERVICE_URL});
        claims[caller.0] = serde_json::json!(caller.1);
        claims.to_string()
    };
    vec![
        (
            header("key-1"),
            serde_json::json!({"iss": BF_ISSUER, "aud": TEAMS_APP_ID, "exp": NOW + 3600, "nbf": NOW - 60,
                "iat": NOW - 60, "serviceurl": SERVICE_URL})
            .to_string(),
        ),
        (
            header("entra-key-1"),
            entra(
                format!("https://login.microsoftonline.com/{TEAMS_APP_TENANT}/v2.0"),
                ("azp", TEAMS_CALLER),
                "2.0",
            ),
        ),
        (
            header("entra-key-1"),
            entra(
                format!("https://sts.windows.net/{TEAMS_APP_TENANT}/"),
                ("appid", TEAMS_CALLER),
                "1.0",
            ),
        ),
    ]
}

fn teams_activity_seeds() -> Vec<Vec<u8>> {
    let base = |id: &str, conversation: serde_json::Value, text: &str| {
        serde_json::json!({
            "type": "message", "id": id, "timestamp": "2027-01-15T08:00:00.000Z", "channelId": "msteams",
            "serviceUrl": SERVICE_URL,
            "from": {"id": "29:1alice", "name": "Alice", "aadObjectId": "aad-alice"},
            "conversation": conversation,
            "recipient": {"id": format!("28:{TEAMS_APP_ID}"), "name": "Ragway"},
            "text": text, "textFormat": "plain", "locale": "en-US", "entities": [],
            "channelData": {"tenant": {"id": TEAMS_ORG}},
        })
    };
    let personal = serde_json::json!({"id": "a:1alice-and-ragway", "conversationType": "personal", "tenantId": TEAMS_ORG});
    let mut channel = base(
        "2",
        serde_json::json!({"id": "19:abc@thread.tacv2;messageid=1700000000000", "conversationType": "channel",
            "isGroup": true, "tenantId": TEAMS_ORG}),
        "<at>Ragway</at> How do I reach <at>Ana</at>?",
    );
    channel["entities"] = serde_json::json!([
        {"type": "mention", "text": "<at>Ragway</at>", "mentioned": {"id": format!("28:{TEAMS_APP_ID}"), "name": "Ragway"}},
        {"type": "mention", "text": "<at>Ana</at>", "mentioned": {"id": "29:ana", "name": "Ana"}},
        {"type": "clientInfo", "locale": "es-ES", "country": "ES", "platform": "Web"}
    ]);
    channel["locale"] = serde_json::json!("es-ES");
    let mut feedback = base("3", personal.clone(), "");
    feedback["type"] = serde_json::json!("invoke");
    feedback["name"] = serde_json::json!("message/submitAction");
    feedback["replyToId"] = serde_json::json!("1700000000001");
    feedback["value"] = serde_json::json!({"actionName": "feedback",
        "actionValue": {"reaction": "dislike", "feedback": "{\"feedbackText\":\"outdated\"}"}});
    let mut guest = base("4", personal.clone(), "vacation days?");
    guest["from"] =
        serde_json::json!({"id": "29:guest", "tenantId": "partner-org", "userRole": "guest"});
    [
        base("1", personal, "How do I connect to the VPN?"),
        channel,
        feedback,
        guest,
    ]
    .iter()
    .map(|v| v.to_string().into_bytes())
    .collect()
}

fn widget_identity_config() -> ragway_gateway::channels::widget::IdentityConfig {
    ragway_gateway::channels::widget::IdentityConfig {
        algorithm: "HS256".into(),
        secret_env: Some("ACME_WIDGET_SECRET".into()),
        public_key_pem: None,
        public_key_file: None,
        issuer: "https://intranet.acme.example".into(),
        audience: "ragway-widget".into(),
        max_age_secs: 600,
        leeway_secs: 60,
        user_claim: "sub".into(),
        groups_claim: "groups".into(),
        required: false,
    }
}

fn widget_identity_parts() -> Vec<(String, String)> {
    let header = serde_json::json!({"alg": "HS256", "typ": "JWT"}).to_string();
    vec![
        (
            header.clone(),
            serde_json::json!({"iss": "https://intranet.acme.example", "aud": "ragway-widget", "sub": "ana@acme.example",
                "groups": ["hr", "staff"], "iat": NOW - 10, "exp": NOW + 300})
            .to_string(),
        ),
        (
            header,
            serde_json::json!({"iss": "https://intranet.acme.example", "aud": ["other", "ragway-widget"],
                "sub": "  bob  ", "iat": NOW - 10, "nbf": NOW - 5, "exp": NOW + 300})
            .to_string(),
        ),
    ]
}

fn session_claims() -> Vec<String> {
    vec![
        serde_json::json!({"key": "pk_abcdefghijklmnopqrstuvwx", "origin": ORIGIN, "tenant": "acme",
            "user": "ana@acme.example", "groups": ["hr"], "anonymous": false, "iat": NOW - 10, "exp": NOW + 890})
        .to_string(),
        serde_json::json!({"key": "pk_abcdefghijklmnopqrstuvwx", "origin": "http://127.0.0.1:8081", "tenant": "acme",
            "user": "anonymous:0c8f", "groups": [], "anonymous": true, "iat": NOW - 10, "exp": NOW + 890})
        .to_string(),
    ]
}

/// A session token over `claims` (base64url JSON) signed with the session secret.
fn session_token(claims: &[u8]) -> String {
    let signed = format!("v1.{}", b64(claims));
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, SESSION_SECRET);
    let tag = aws_lc_rs::hmac::sign(&key, signed.as_bytes());
    format!("{signed}.{}", b64(tag.as_ref()))
}

/// The channel targets (see above), `executions` mutated inputs each.
pub fn run_channels(executions: usize, seed: u64) -> Vec<FuzzReport> {
    use ragway_gateway::channels::slack::fuzz_targets::Slack;
    use ragway_gateway::channels::teams::fuzz_targets::{self as teams, Teams};
    use ragway_gateway::channels::widget::identity::IdentityVerifier;
    use ragway_gateway::channels::widget::session::SessionSigner;

    let mut reports = Vec::new();
    let unavailable = |target: &'static str, why: String| FuzzReport {
        target,
        executions: 0,
        errors: 0,
        panics: vec![(format!("could not set the target up: {why}"), Vec::new())],
        slowest: std::time::Duration::ZERO,
    };

    // Slack.
    match Slack::new(&slack_config(), SLACK_SECRET) {
        Ok(slack) => {
            reports.push(fuzz(
                "slack signature",
                &slack_signed_seeds(),
                executions,
                seed,
                |input| slack_signed(&slack, input),
            ));
            reports.push(fuzz(
                "slack events",
                &slack_event_seeds(),
                executions,
                seed,
                |body| slack.events(body),
            ));
            reports.push(fuzz(
                "slack command",
                &slack_command_seeds(),
                executions,
                seed,
                |body| slack.command(body),
            ));
            let payloads = slack_interaction_payloads();
            let forms: Vec<Vec<u8>> = payloads.iter().map(|p| form(p.as_bytes())).collect();
            reports.push(fuzz(
                "slack interaction form",
                &forms,
                executions,
                seed,
                |body| slack.interaction(body),
            ));
            let payloads: Vec<Vec<u8>> = payloads.into_iter().map(String::into_bytes).collect();
            reports.push(fuzz(
                "slack interaction payload",
                &payloads,
                executions,
                seed,
                |payload| slack.interaction(&form(payload)),
            ));
        }
        Err(err) => reports.push(unavailable("slack", err.to_string())),
    }

    // Teams.
    let bf = (teams_metadata(), teams_jwks(true));
    let metadata_seeds = vec![
        joined(&bf.0, &bf.1),
        joined(&entra_metadata(), &entra_jwks()),
        joined(&bf.0, &teams_jwks(false)),
    ];
    reports.push(fuzz(
        "openid metadata + jwks",
        &metadata_seeds,
        executions,
        seed,
        |input| {
            let (metadata, jwks) = two_parts(input);
            teams::documents(metadata, jwks).map(drop)
        },
    ));
    let (entra_meta, entra_keys) = (entra_metadata(), entra_jwks());
    let bot = Teams::new(
        teams_config(),
        (bf.0.as_bytes(), bf.1.as_bytes()),
        Some((entra_meta.as_bytes(), entra_keys.as_bytes())),
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build();
    let key = aws_lc_rs::signature::RsaKeyPair::from_der(&rsa_keys::der());
    match (bot, runtime, key) {
        (Ok(bot), Ok(runtime), Ok(key)) => {
            let parts = teams_token_parts();
            let tokens: Vec<Vec<u8>> = parts
                .iter()
                .map(|(h, c)| sign_rs256(&key, h.as_bytes(), c.as_bytes()).into_bytes())
                .collect();
            reports.push(fuzz("teams token", &tokens, executions, seed, |token| {
                runtime.block_on(bot.token(&String::from_utf8_lossy(token), NOW))
            }));
            let signed_parts: Vec<Vec<u8>> = parts.iter().map(|(h, c)| joined(h, c)).collect();
            reports.push(fuzz(
                "teams token claims (re-signed)",
                &signed_parts,
                executions,
                seed,
                |input| {
                    let (header, claims) = two_parts(input);
                    let token = sign_rs256(&key, header, claims);
                    runtime.block_on(bot.token(&token, NOW))
                },
            ));
            let channel_token = String::from_utf8_lossy(&tokens[0]).into_owned();
            reports.push(fuzz(
                "teams activity",
                &teams_activity_seeds(),
                executions,
                seed,
                |body| runtime.block_on(bot.request(&channel_token, body, NOW)),
            ));
        }
        (bot, runtime, key) => {
            let why = format!(
                "{:?} {:?} {:?}",
                bot.err(),
                runtime.err().map(|e| e.to_string()),
                key.err().map(|e| e.to_string())
            );
            reports.push(unavailable("teams", why));
        }
    }

    // Widget.
    let secrets = |_: &str| Some(WIDGET_SECRET.to_owned());
    match IdentityVerifier::new("acme", &widget_identity_config(), &secrets) {
        Ok(verifier) => {
            let parts = widget_identity_parts();
            let tokens: Vec<Vec<u8>> = parts
                .iter()
                .map(|(h, c)| sign_hs256(WIDGET_SECRET.as_bytes(), h.as_bytes(), c.as_bytes()))
                .map(String::into_bytes)
                .collect();
            reports.push(fuzz(
                "widget identity token",
                &tokens,
                executions,
                seed,
                |token| {
                    verifier
                        .verify(&String::from_utf8_lossy(token), NOW)
                        .map(drop)
                },
            ));
            let signed_parts: Vec<Vec<u8>> = parts.iter().map(|(h, c)| joined(h, c)).collect();
            reports.push(fuzz(
                "widget identity claims (re-signed)",
                &signed_parts,
                executions,
                seed,
                |input| {
                    let (header, claims) = two_parts(input);
                    let token = sign_hs256(WIDGET_SECRET.as_bytes(), header, claims);
                    verifier.verify(&token, NOW).map(drop)
                },
            ));
        }
        Err(err) => reports.push(unavailable("widget identity", err.to_string())),
    }
    let signer = SessionSigner::new(SESSION_SECRET);
    let claims = session_claims();
    let tokens: Vec<Vec<u8>> = claims
        .iter()
        .map(|c| session_token(c.as_bytes()).into_bytes())
        .collect();
    reports.push(fuzz(
        "widget session token",
        &tokens,
        executions,
        seed,
        |token| {
            signer
                .verify(&String::from_utf8_lossy(token), ORIGIN, NOW)
                .map(drop)
        },
    ));
    let claims: Vec<Vec<u8>> = claims.into_iter().map(String::into_bytes).collect();
    reports.push(fuzz(
        "widget session claims (re-signed)",
        &claims,
        executions,
        seed,
        |claims| signer.verify(&session_token(claims), ORIGIN, NOW).map(drop),
    ));
    reports
}
