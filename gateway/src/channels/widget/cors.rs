//! CORS for the widget's API, decided per request rather than by a static list: a response echoes
//! the page's exact `Origin` only once the server has checked it against the widget key (session)
//! or the session token (chat, feedback), never `*`; every response varies on `Origin`. A preflight
//! carries no key, so it is answered for origins that some active widget key allows.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use ragway_catalog::widget_keys::origin_allowed;

use super::WidgetState;
use crate::http::ApiError;

/// How long a browser may cache a preflight answer (seconds).
const PREFLIGHT_MAX_AGE: &str = "600";

/// The request's `Origin` header, or 403: browsers always send it on these cross-origin POSTs,
/// so a request without it is not from a page.
pub fn origin(headers: &HeaderMap) -> Result<String, ApiError> {
    headers
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .filter(|o| !o.is_empty() && *o != "null")
        .map(str::to_owned)
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::FORBIDDEN,
                "origin_not_allowed",
                "the widget API is called from web pages: the `Origin` header is required",
            )
        })
}

/// Lets the page at `origin` read this response (call only for a verified origin).
pub fn allow(mut response: Response, origin: &str) -> Response {
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(origin) {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
    }
    headers.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static(
            "x-request-id, retry-after, ratelimit-limit, ratelimit-remaining, ratelimit-reset",
        ),
    );
    vary(response)
}

/// Marks a response as depending on `Origin` (caches must not share it across pages).
pub fn vary(mut response: Response) -> Response {
    response
        .headers_mut()
        .append(header::VARY, HeaderValue::from_static("origin"));
    response
}

/// `OPTIONS /widget/v1/*`: the CORS preflight.
pub async fn preflight_handler(State(state): State<WidgetState>, headers: HeaderMap) -> Response {
    let Ok(origin) = origin(&headers) else {
        return vary(StatusCode::NO_CONTENT.into_response());
    };
    let allowed = match state.core.catalog.widget_origins().await {
        Ok(origins) => origin_allowed(&origins, &origin),
        Err(err) => {
            tracing::error!(%err, "cannot read the widget origins for a preflight");
            false
        }
    };
    if !allowed {
        // No CORS headers: the browser refuses the request it was about to make.
        return vary(StatusCode::NO_CONTENT.into_response());
    }
    let mut response = allow(StatusCode::NO_CONTENT.into_response(), &origin);
    let headers = response.headers_mut();
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("POST, OPTIONS"),
    );
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("authorization, content-type"),
    );
    headers.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static(PREFLIGHT_MAX_AGE),
    );
    response
}

/// An error response, readable by the page when its origin is one some active widget key
/// allows (the preflight already told it as much), so the widget can show why or renew its
/// session; opaque to every other site.
pub async fn error_response(state: &WidgetState, headers: &HeaderMap, err: ApiError) -> Response {
    let response = err.into_response();
    let Ok(origin) = origin(headers) else {
        return vary(response);
    };
    match state.core.catalog.widget_origins().await {
        Ok(origins) if origin_allowed(&origins, &origin) => allow(response, &origin),
        _ => vary(response),
    }
}
