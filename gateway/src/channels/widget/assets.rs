//! The widget's static files, compiled into the binary (no CDN): `loader.js` (small, stable URL,
//! revalidated every 5 minutes) loads `widget.<content hash>.js` (the UI with its CSS, cached
//! for a year: a new build has a new name). Both carry an ETag of their content; the demo page
//! at `/` embeds the demo tenant's widget.

use std::sync::LazyLock;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use sha2::{Digest, Sha256};

use super::WidgetState;

const LOADER: &str = include_str!("../../../widget/loader.js");
const WIDGET: &str = include_str!("../../../widget/widget.js");
const CSS: &str = include_str!("../../../widget/widget.css");
const DEMO: &str = include_str!("../../../widget/demo.html");

struct Asset {
    name: String,
    body: String,
    etag: String,
}

fn hash(body: &str) -> String {
    hex::encode(&Sha256::digest(body.as_bytes())[..8])
}

fn asset(name: impl Into<String>, body: String) -> Asset {
    let etag = format!("\"{}\"", hash(&body));
    Asset {
        name: name.into(),
        body,
        etag,
    }
}

/// JavaScript source with every non-ASCII character as a `\\uXXXX` escape, so the script reads
/// the same whatever charset the host page declares (the sources use them only in strings and
/// comments, where the escape means the same character).
fn ascii_only(source: &str) -> String {
    let mut out = String::with_capacity(source.len());
    for c in source.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        }
    }
    out
}

/// The UI bundle: the script with its stylesheet inlined (one request, no flash of unstyled UI).
static BUNDLE: LazyLock<Asset> = LazyLock::new(|| {
    let css = serde_json::to_string(CSS).unwrap_or_else(|_| "\"\"".into());
    let body = ascii_only(&WIDGET.replace("\"__RAGWAY_CSS__\"", &css));
    asset(format!("widget.{}.js", hash(&body)), body)
});

static LOADER_ASSET: LazyLock<Asset> = LazyLock::new(|| {
    asset(
        "loader.js",
        ascii_only(&LOADER.replace("__RAGWAY_BUNDLE__", &BUNDLE.name)),
    )
});

fn serve(asset: &Asset, headers: &HeaderMap, cache_control: &'static str) -> Response {
    let etag = HeaderValue::from_str(&asset.etag).unwrap_or(HeaderValue::from_static("\"0\""));
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|tag| tag.trim() == asset.etag));
    let mut response = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        asset.body.clone().into_response()
    };
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/javascript; charset=utf-8"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(cache_control),
    );
    h.insert(header::ETAG, etag);
    // Any page may load the script (it does nothing without an allowed widget key).
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// `GET /widget/v1/{file}`: the loader and the current bundle.
pub async fn asset_handler(Path(file): Path<String>, headers: HeaderMap) -> Response {
    if file == LOADER_ASSET.name {
        return serve(
            &LOADER_ASSET,
            &headers,
            "public, max-age=300, must-revalidate",
        );
    }
    if file == BUNDLE.name {
        return serve(&BUNDLE, &headers, "public, max-age=31536000, immutable");
    }
    crate::http::ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        format!("no widget file `{file}` (the loader is /widget/v1/loader.js)"),
    )
    .into_response()
}

/// `GET /`: the demo intranet page embedding the demo tenant's widget (404 when no demo key).
pub async fn demo_page(State(state): State<WidgetState>) -> Response {
    let Some(key) = state.widget.demo_key() else {
        return crate::http::ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "no demo page: start with `ragway serve --demo` or set widget.demo_key",
        )
        .into_response();
    };
    // Keys are `pk_` + alphanumerics, so nothing in them needs escaping; checked anyway.
    if !ragway_catalog::widget_keys::is_widget_key(&key) {
        return StatusCode::NOT_FOUND.into_response();
    }
    let mut response = Html(DEMO.replace("__RAGWAY_WIDGET_KEY__", &key)).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_loader_names_the_hashed_bundle_with_its_css() {
        assert!(LOADER_ASSET.body.contains(&BUNDLE.name));
        assert!(!BUNDLE.body.contains("__RAGWAY_CSS__"));
        assert!(BUNDLE.body.contains("--ragway-primary"));
        assert!(BUNDLE.name.starts_with("widget.") && BUNDLE.name.len() == "widget..js".len() + 16);
        assert!(BUNDLE.body.is_ascii() && LOADER_ASSET.body.is_ascii());
    }

    /// The keys of one language's table in widget.js's `STRINGS` (`  <lang>: {` … `  }`).
    fn string_keys(lang: &str) -> Vec<String> {
        let start = WIDGET
            .find(&format!("\n    {lang}: {{\n"))
            .unwrap_or_else(|| panic!("no `{lang}` table in widget.js"));
        let table = &WIDGET[start..];
        let end = table.find("\n    }").unwrap();
        let mut keys: Vec<String> = table[..end]
            .lines()
            .skip(2)
            .filter_map(|line| line.trim().split_once(':'))
            .map(|(key, _)| key.to_owned())
            .collect();
        keys.sort();
        keys
    }

    #[test]
    fn every_ui_string_exists_in_english_and_spanish() {
        let en = string_keys("en");
        assert!(en.len() >= 30, "{en:?}");
        for key in [
            "placeholder",
            "send",
            "sources",
            "thinking",
            "rateLimited",
            "offline",
        ] {
            assert!(en.iter().any(|k| k == key), "{key} missing: {en:?}");
        }
        assert_eq!(string_keys("es"), en);
        // The bundle carries the Spanish strings, escaped to ASCII.
        assert!(BUNDLE.body.contains("Escribe tu pregunta\\u2026"));
    }

    #[test]
    fn non_ascii_becomes_escapes() {
        assert_eq!(ascii_only("a…b 👍"), "a\\u2026b \\ud83d\\udc4d");
    }
}
