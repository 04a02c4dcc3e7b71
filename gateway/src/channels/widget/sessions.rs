//! `POST /widget/v1/session`: the page's origin is checked server-side against the widget key's
//! allowed origins (CORS alone is only enforced by browsers); the answer is a session token bound
//! to key and origin, anonymous or — with a valid identity token — the employee's.

use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use ragway_catalog::WidgetKeyRecord;
use ragway_catalog::widget_keys::{is_widget_key, normalize_origin, origin_allowed};
use serde::{Deserialize, Serialize};

use super::WidgetState;
use super::cors::{allow, error_response, origin};
use super::session::{SessionClaims, SessionError};
use crate::http::ApiError;
use crate::http::errors::ErrorBody;
use crate::http::headers::bearer_token;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SessionRequest {
    /// The widget key of the page's script tag (`pk_…`).
    pub key: String,
    /// An identity JWT signed by the host page's backend for the signed-in employee.
    pub identity: Option<String>,
    /// An earlier (possibly expired) anonymous session token of this visitor: the new session
    /// keeps the same anonymous user, so the conversation continues.
    pub resume: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SessionResponse {
    /// `Authorization: Bearer <token>` for `chat` and `feedback`.
    pub token: String,
    /// Unix seconds.
    pub expires_at: i64,
    pub expires_in: i64,
    /// False when an identity token vouched for the user.
    pub anonymous: bool,
    /// The employee's user id (absent for anonymous visitors).
    pub user: Option<String>,
}

fn forbidden(message: String) -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, "origin_not_allowed", message)
}

/// An active widget key, or 401.
async fn active_key(state: &WidgetState, key: &str) -> Result<WidgetKeyRecord, ApiError> {
    let invalid = || ApiError::unauthorized("unknown or revoked widget key");
    if !is_widget_key(key) {
        return Err(invalid());
    }
    state
        .core
        .catalog
        .widget_key(key)
        .await?
        .filter(|k| k.revoked_at.is_none())
        .ok_or_else(invalid)
}

/// Start a widget session for a page (its `Origin` must be one the widget key allows).
#[utoipa::path(post, path = "/widget/v1/session", tag = "widget", request_body = SessionRequest,
    responses(
        (status = 201, description = "A session token bound to the key and the page origin", body = SessionResponse),
        (status = 400, description = "Malformed body, or an identity token for a tenant without identity", body = ErrorBody),
        (status = 401, description = "Unknown or revoked key, a refused identity token (`invalid_identity`, naming \
            the reason) or none where one is required (`identity_required`)", body = ErrorBody),
        (status = 403, description = "No `Origin`, or one the key does not allow (`origin_not_allowed`)", body = ErrorBody),
        (status = 429, description = "Too many sessions for the tenant or key", body = ErrorBody),
    ))]
pub async fn session_handler(
    State(state): State<WidgetState>,
    headers: HeaderMap,
    body: Result<Json<SessionRequest>, JsonRejection>,
) -> Response {
    match create(&state, &headers, body).await {
        Ok((response, origin)) => allow(response, &origin),
        Err(err) => error_response(&state, &headers, err).await,
    }
}

async fn create(
    state: &WidgetState,
    headers: &HeaderMap,
    body: Result<Json<SessionRequest>, JsonRejection>,
) -> Result<(Response, String), ApiError> {
    let origin = origin(headers)?;
    let Json(body) = body.map_err(|e| {
        ApiError::bad_request(format!("malformed session request: {}", e.body_text()))
    })?;
    let key = active_key(state, body.key.trim()).await?;
    if !origin_allowed(&key.allowed_origins, &origin) {
        tracing::warn!(tenant = %key.tenant_id, key = %key.id, %origin, "widget session refused: origin not allowed");
        return Err(forbidden(format!(
            "the origin {origin} is not allowed for this widget key"
        )));
    }
    let origin_norm = normalize_origin(&origin).map_err(forbidden)?;
    let widget = &state.widget;
    let now = state.clock.now();
    let verifier = widget.identities.get(&key.tenant_id);
    let (user, groups, anonymous) = match (body.identity.as_deref(), verifier) {
        (Some(_), None) => {
            return Err(ApiError::bad_request(
                "identity tokens are not configured for this widget's tenant",
            ));
        }
        (Some(token), Some(verifier)) => {
            let employee = verifier.verify(token, now).map_err(|err| {
                tracing::warn!(tenant = %key.tenant_id, %err, "widget identity token refused");
                ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "invalid_identity",
                    err.to_string(),
                )
            })?;
            (employee.user_id, employee.groups, false)
        }
        (None, Some(verifier)) if verifier.required() => {
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "identity_required",
                "this widget answers signed-in employees only: an identity token is required",
            ));
        }
        (None, _) => {
            let resumed = body
                .resume
                .as_deref()
                .and_then(|token| resumable(state, token, &key, &origin_norm, now));
            let user =
                resumed.unwrap_or_else(|| format!("anonymous:{}", uuid::Uuid::new_v4().simple()));
            (user, Vec::new(), true)
        }
    };
    let ttl = i64::try_from(widget.config.session_ttl_secs).unwrap_or(900);
    let claims = SessionClaims {
        key: key.id.clone(),
        origin: origin_norm,
        tenant: key.tenant_id.clone(),
        user,
        groups,
        anonymous,
        iat: now,
        exp: now + ttl,
    };
    // Minting sessions counts against the tenant's request rate, and against a per-key "user"
    // (`limits.user_requests_per_minute`), so one page cannot mint sessions without bound.
    let principal = crate::identity::Principal {
        tenant_id: key.tenant_id.clone(),
        user_id: format!("widget-sessions:{}", key.id),
        groups: Vec::new(),
    };
    let quotas = state.core.quotas(&principal.tenant_id).await;
    if let Err(refused) = state.core.limiter.check_request(&principal, &quotas).await {
        return Err(ApiError::rate_limited(&refused));
    }
    let body = SessionResponse {
        token: widget.signer.sign(&claims),
        expires_at: claims.exp,
        expires_in: ttl,
        anonymous,
        user: (!anonymous).then(|| claims.user.clone()),
    };
    Ok(((StatusCode::CREATED, Json(body)).into_response(), origin))
}

/// The anonymous user of an earlier session of the same key and origin, when it may be resumed.
fn resumable(
    state: &WidgetState,
    token: &str,
    key: &WidgetKeyRecord,
    origin: &str,
    now: i64,
) -> Option<String> {
    let window = i64::try_from(state.widget.config.resume_window_secs).unwrap_or(0);
    let old = state.widget.signer.open(token).ok()?;
    let fits = old.anonymous
        && old.key == key.id
        && old.tenant == key.tenant_id
        && old.origin == origin
        && now - old.exp <= window;
    fits.then_some(old.user)
}

/// The session of a `chat` or `feedback` request: a current token, used from the origin it was
/// issued to, whose key is still active and still allows that origin (revoking a key or removing
/// an origin takes effect at once). Returns the verified origin for the CORS headers.
pub async fn authenticate(
    state: &WidgetState,
    headers: &HeaderMap,
) -> Result<(SessionClaims, String), ApiError> {
    let origin = origin(headers)?;
    let token = bearer_token(headers).map_err(|_| {
        ApiError::unauthorized("missing `Authorization: Bearer <session token>` header")
    })?;
    let now = state.clock.now();
    let claims = state
        .widget
        .signer
        .verify(token, &origin, now)
        .map_err(|err| {
            let code = match err {
                SessionError::Expired => "session_expired",
                _ => "unauthorized",
            };
            ApiError::new(StatusCode::UNAUTHORIZED, code, err.to_string())
        })?;
    let key = active_key(state, &claims.key).await?;
    if key.tenant_id != claims.tenant || !origin_allowed(&key.allowed_origins, &origin) {
        return Err(forbidden(format!(
            "the origin {origin} is no longer allowed for this widget key"
        )));
    }
    Ok((claims, origin))
}
