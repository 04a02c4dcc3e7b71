//! Request and response headers every HTTP channel reads or writes the same way.

use axum::http::HeaderMap;
use axum::http::header::{ACCEPT_LANGUAGE, CACHE_CONTROL};
use axum::response::Response;
use ragway_ingest::lang::Lang;

use crate::limits::{RateStatus, rate_headers};

/// Adds the caller's `RateLimit-*` headers to a successful response.
pub fn with_rate(mut response: Response, rate: Option<RateStatus>) -> Response {
    for (name, value) in rate.as_ref().map(rate_headers).unwrap_or_default() {
        response.headers_mut().insert(name, value);
    }
    response
}

/// `Cache-Control: no-cache` (or `no-store`) asks for a fresh answer.
pub fn wants_cache(headers: &HeaderMap) -> bool {
    !headers
        .get_all(CACHE_CONTROL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("no-cache") || v.contains("no-store"))
}

/// The caller's language from `Accept-Language` (browsers send it; API clients may): a hint
/// for questions too short to tell their own language.
pub fn accept_language(headers: &HeaderMap) -> Option<Lang> {
    headers
        .get_all(ACCEPT_LANGUAGE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(Lang::from_accept_language)
}
