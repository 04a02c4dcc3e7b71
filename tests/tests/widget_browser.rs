#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The widget in a real browser: Debian's Chromium, headless, driven by playwright-core
//! (`tests/browser/widget.mjs`) against a gateway with the fake LLM, on an intranet page served
//! from its own origin. Opens the widget, watches an answer stream, follows a citation, rates it,
//! reloads, asks a hostile question, goes keyboard-only and 320 px wide, signs an employee in with
//! an identity JWT (their groups open HR documents), checks the UI's language (`data-lang`, else
//! the browser's locale), and tries a page whose origin the key does not allow. Screenshots go to `<target>/widget-screenshots/`.
//! `scripts/test` installs Chromium and playwright-core; without them this test fails and says so.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use aws_lc_rs::hmac;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use ragway_catalog::Rating;
use ragway_gateway::channels::bots::Clock;
use ragway_gateway::channels::widget::{IdentityConfig, WidgetConfig};
use ragway_ingest::source::{AclConfig, AclRule, FolderSourceConfig};
use ragway_tests::fake_openai::{FakeOpenAi, FakeOptions};
use ragway_tests::harness::{fake_llm_config, test_config};
use ragway_tests::widget::{HostPage, widget_gateway};
use serde_json::{Value, json};

const JWT_SECRET: &str = "acme-intranet-shared-secret-0123456789";

/// What the intranet's backend would sign for its signed-in employee.
fn hs256_jwt(claims: &Value) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, JWT_SECRET.as_bytes());
    let header = URL_SAFE_NO_PAD.encode(json!({"alg": "HS256", "typ": "JWT"}).to_string());
    let signed = format!("{header}.{}", URL_SAFE_NO_PAD.encode(claims.to_string()));
    let tag = hmac::sign(&key, signed.as_bytes());
    format!("{signed}.{}", URL_SAFE_NO_PAD.encode(tag.as_ref()))
}

fn browser_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("browser")
}

/// Where screenshots are kept: next to the build's other outputs (CARGO_TARGET_DIR or ./target).
fn artifacts_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    target.join("widget-screenshots")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_widget_works_in_chromium() {
    // Answers stream slowly enough for the browser to see them arrive.
    let llm = FakeOpenAi::start(FakeOptions {
        chunk_delay: Duration::from_millis(40),
        ..FakeOptions::default()
    })
    .await
    .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let mut config = test_config(&tmp.path().join("data"));
    config.llm = Some(fake_llm_config(&llm.base_url, 0));
    // Employees identified by an HS256 JWT from the intranet; HR documents are for group `hr`.
    config.widget = WidgetConfig {
        identity: BTreeMap::from([(
            "acme".to_owned(),
            IdentityConfig {
                algorithm: "HS256".into(),
                secret_env: Some("ACME_WIDGET_JWT_SECRET".into()),
                public_key_pem: None,
                public_key_file: None,
                issuer: "https://intranet.acme.com".into(),
                audience: "ragway-widget".into(),
                max_age_secs: 600,
                leeway_secs: 60,
                user_claim: "sub".into(),
                groups_claim: "groups".into(),
                required: false,
            },
        )]),
        ..WidgetConfig::default()
    };
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
    let gateway = widget_gateway(
        config,
        &[("ACME_WIDGET_JWT_SECRET", JWT_SECRET)],
        Clock::system(),
        &tmp.path().join("docs"),
        &hr_only,
    )
    .await
    .unwrap();
    // The key is allowed on the page's origin once the page has its port.
    let key = gateway
        .state
        .core
        .catalog
        .create_widget_key("acme", "intranet", &["http://127.0.0.1:1".to_owned()])
        .await
        .unwrap()
        .id;
    let page = HostPage::start(&gateway.base_url, &key).await.unwrap();
    gateway
        .state
        .core
        .catalog
        .update_widget_key(&key, None, Some(std::slice::from_ref(&page.url)))
        .await
        .unwrap();
    // The same page on another origin (localhost instead of 127.0.0.1) is not allowed.
    let blocked = format!("http://localhost:{}/", page.port);

    let now = Clock::system().now();
    let identity = hs256_jwt(
        &json!({"iss": "https://intranet.acme.com", "aud": "ragway-widget",
        "sub": "ana@acme.com", "groups": ["hr"], "iat": now, "exp": now + 300}),
    );

    let artifacts = artifacts_dir();
    let output = tokio::process::Command::new("node")
        .arg(browser_dir().join("widget.mjs"))
        .current_dir(browser_dir())
        .env("PAGE_URL", format!("{}/", page.url))
        .env("BLOCKED_URL", &blocked)
        .env("ARTIFACTS", &artifacts)
        .env("IDENTITY_JWT", &identity)
        .output()
        .await
        .expect("node must be installed to run the browser test");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let result: Value = stdout
        .lines()
        .rev()
        .find_map(|l| serde_json::from_str(l).ok())
        .unwrap_or_else(|| {
            panic!("no result from the browser script\nstdout: {stdout}\nstderr: {stderr}")
        });
    assert!(
        result["fatal"].is_null(),
        "the browser run failed: {}\n{stderr}",
        result["fatal"]
    );
    let c = &result["checks"];
    let text = |name: &str| c[name].as_str().unwrap_or_default().to_owned();

    // Opening: the launcher is a real button, the host page's CSS does not reach it.
    assert_eq!(c["host_css_does_not_leak"], true);
    assert_eq!(text("opened"), "true");
    assert_eq!(text("focus_after_open"), "ragway-input");
    assert_eq!(text("log_role"), "log");
    // Streaming: partial text showed outside the log, which held no answer until it finished.
    assert_eq!(c["streamed_partial_text"], true);
    assert_eq!(c["log_answers_while_streaming"], 0);
    assert_eq!(text("log_busy_while_streaming"), "true");
    assert_eq!(c["draft_empty_after"], 0);
    let answer = text("answer_text");
    assert!(answer.contains("According to your documents"), "{answer}");
    assert!(answer.to_lowercase().contains("vpn"), "{answer}");
    // Citations: numbered links to a sources list with titles; following one focuses it.
    assert!(c["citation_links"].as_u64().unwrap() >= 1, "{c}");
    let sources: Vec<String> = serde_json::from_value(c["sources_listed"].clone()).unwrap();
    assert!(
        sources.iter().any(|s| s.to_lowercase().contains("vpn")),
        "{sources:?}"
    );
    let target = text("citation_target_expected");
    assert_eq!(format!("#{}", text("citation_target_focused")), target);
    // Feedback reached the catalog, for this answer.
    assert_eq!(c["rated_up"], true);
    let feedback = gateway
        .state
        .core
        .catalog
        .feedback("acme", 10)
        .await
        .unwrap();
    assert!(
        feedback.iter().any(|f| f.channel == "widget"
            && f.rating == Rating::Up
            && f.message_id == text("message_id")),
        "{feedback:?}"
    );
    // Reload: the conversation (and the rating) is still there and continues.
    assert_eq!(c["after_reload_messages"], 2);
    assert_eq!(text("after_reload_answer"), answer);
    assert_eq!(text("after_reload_rating_kept"), "true");
    assert_eq!(c["follow_up_answered"], true);
    // Hostile markup is shown as text and never runs.
    let hostile = text("xss_answer_text");
    assert!(
        hostile.contains("<script>window.__xss=1</script>"),
        "{hostile}"
    );
    let titles: Vec<String> = serde_json::from_value(c["xss_source_titles"].clone()).unwrap();
    assert!(
        titles
            .iter()
            .any(|t| t.contains("<img src=x onerror=window.__xss=2>")),
        "{titles:?}"
    );
    assert_eq!(c["xss_elements_in_widget"], 0);
    assert!(c["xss_flag"].is_null(), "a script ran: {}", c["xss_flag"]);
    assert!(result["dialogs"].as_array().unwrap().is_empty());
    // Keyboard only.
    assert_eq!(c["kbd_reached_launcher"], true);
    assert_ne!(text("kbd_focus_visible"), "none", "focus is visible");
    assert_eq!(text("kbd_focus_in_input"), "ragway-input");
    assert_eq!(c["kbd_answered"], true);
    assert_eq!(text("kbd_closed"), "false");
    assert_eq!(text("kbd_focus_returned"), "launcher");
    // Identity: the anonymous visitor got no HR document; the identified HR employee does.
    let anonymous: Vec<String> = serde_json::from_value(c["anonymous_hr_sources"].clone()).unwrap();
    assert!(
        !anonymous.iter().any(|s| s.contains("Vacation, Holidays")),
        "{anonymous:?}"
    );
    let identified: Vec<String> = serde_json::from_value(c["identified_sources"].clone()).unwrap();
    assert!(
        identified.iter().any(|s| s.contains("Vacation, Holidays")),
        "{identified:?}"
    );
    // 320 px: full screen, no sideways scrolling, 16 px input (no iOS zoom).
    let panel = &c["small_panel_box"];
    assert_eq!(panel["x"].as_f64(), Some(0.0), "{panel}");
    assert_eq!(panel["width"].as_f64(), Some(320.0), "{panel}");
    assert_eq!(c["small_no_horizontal_overflow"], true);
    assert_eq!(text("small_input_font_px"), "16px");
    // Languages. `data-lang="es-MX"` on the tag: Spanish whatever the browser's locale, and the
    // chat requests ask the server for Spanish too.
    let es = &c["es_data_lang"];
    let field = |v: &Value, name: &str| v[name].as_str().unwrap_or_default().to_owned();
    assert_eq!(field(es, "lang"), "es-MX", "{es}");
    assert_eq!(field(es, "panel_lang"), "es-MX", "{es}");
    assert_eq!(field(es, "placeholder"), "Escribe tu pregunta…", "{es}");
    assert_eq!(field(es, "send"), "Enviar", "{es}");
    assert_eq!(field(es, "reset"), "Nueva conversación", "{es}");
    assert_eq!(field(es, "launcher"), "Abrir chat: Ask Acme", "{es}");
    assert_eq!(
        field(es, "greeting"),
        "¡Hola! Pregúntame lo que quieras sobre nuestros documentos internos.",
        "{es}"
    );
    assert!(
        field(es, "notice").starts_with("Las respuestas provienen"),
        "{es}"
    );
    assert_eq!(field(es, "sources_heading"), "Fuentes", "{es}");
    assert_eq!(field(es, "copy"), "Copiar respuesta", "{es}");
    assert!(field(es, "accept_language").starts_with("es-MX"), "{es}");
    // No data-lang: the browser's locale decides (es-MX → Spanish, en-US → English).
    let es = &c["es_locale"];
    assert_eq!(field(es, "lang"), "es-MX", "{es}");
    assert_eq!(field(es, "placeholder"), "Escribe tu pregunta…", "{es}");
    assert_eq!(field(es, "send"), "Enviar", "{es}");
    assert_eq!(field(es, "sources_heading"), "Fuentes", "{es}");
    assert!(field(es, "accept_language").starts_with("es-MX"), "{es}");
    assert_eq!(
        field(es, "offline_error"),
        "Parece que no tienes conexión. Revisa tu conexión e intenta de nuevo.",
        "{es}"
    );
    for name in ["en_locale", "en_data_lang"] {
        let en = &c[name];
        assert_eq!(field(en, "lang"), "en", "{name}: {en}");
        assert_eq!(field(en, "placeholder"), "Ask a question…", "{name}: {en}");
        assert_eq!(field(en, "send"), "Send", "{name}: {en}");
        assert_eq!(field(en, "reset"), "New conversation", "{name}: {en}");
        assert_eq!(field(en, "launcher"), "Open chat: Ask Acme", "{name}: {en}");
        assert_eq!(field(en, "sources_heading"), "Sources", "{name}: {en}");
        assert_eq!(field(en, "copy"), "Copy answer", "{name}: {en}");
    }
    // `data-lang="en"` on a Spanish browser: English, and asked of the server in English.
    assert!(
        field(&c["en_data_lang"], "accept_language").starts_with("en"),
        "{}",
        c["en_data_lang"]
    );
    // A page on an origin the key does not allow gets no answer.
    assert_eq!(c["blocked_answers"], 0);
    assert_eq!(
        text("blocked_error_shown"),
        "The assistant cannot be reached from this page."
    );
    // The only console errors are the blocked page's refused requests.
    let errors: Vec<String> = serde_json::from_value(result["console_errors"].clone()).unwrap();
    assert!(
        errors.iter().all(|e| e.contains("CORS")
            || e.contains("Failed to load resource")
            || e.contains("net::ERR_FAILED")),
        "{errors:?}"
    );
    for shot in [
        "widget-desktop.png",
        "widget-xss.png",
        "widget-320.png",
        "widget-es.png",
    ] {
        assert!(artifacts.join(shot).is_file(), "screenshot {shot}");
    }
    gateway.shutdown().await;
}
