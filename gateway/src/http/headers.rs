//! Request and response headers every HTTP channel reads or writes the same way.

use axum::http::HeaderMap;
use axum::http::header::{ACCEPT_LANGUAGE, AUTHORIZATION, CACHE_CONTROL};
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

/// What is wrong with an `Authorization` header that should carry a bearer credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BearerError {
    Missing,
    /// Present, but not `Bearer <credential>`.
    NotBearer,
}

/// The credential of `Authorization: Bearer <credential>` (the scheme case-insensitive as
/// clients send it, surrounding spaces trimmed): API keys, admin keys, widget sessions and Bot
/// Framework tokens all arrive this way.
pub fn bearer_token(headers: &HeaderMap) -> Result<&str, BearerError> {
    let value = headers.get(AUTHORIZATION).ok_or(BearerError::Missing)?;
    value
        .to_str()
        .ok()
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .ok_or(BearerError::NotBearer)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, value.parse().unwrap());
        headers
    }

    #[test]
    fn bearer_credentials_are_read_once_for_every_caller() {
        assert_eq!(bearer_token(&with("Bearer  rgw_x ")), Ok("rgw_x"));
        assert_eq!(bearer_token(&with("bearer rgw_x")), Ok("rgw_x"));
        assert_eq!(
            bearer_token(&with("Basic dXNlcg==")),
            Err(BearerError::NotBearer)
        );
        assert_eq!(bearer_token(&HeaderMap::new()), Err(BearerError::Missing));
    }
}
