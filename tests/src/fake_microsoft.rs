//! A fake Microsoft identity platform on 127.0.0.1: the OAuth 2.0 client-credentials token
//! endpoint (`POST /{tenant}/oauth2/v2.0/token`), the Bot Framework OpenID metadata
//! (`GET /v1/.well-known/openidconfiguration`) and its JWKS (`GET /v1/.well-known/keys`, RSA keys
//! with `kid` and, as the Bot Framework publishes them, `endorsements`), and a tenant's Entra
//! OpenID metadata (`GET /{tenant}/v2.0/.well-known/openid-configuration`) and JWKS
//! (`GET /{tenant}/discovery/v2.0/keys`, RSA keys without endorsements, as Entra publishes them).
//! It mints tokens (RS256 JWTs) with a test RSA key the way the Bot Framework and Entra do, so the
//! gateway's validation runs against real signatures.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{RSA_PKCS1_SHA256, RSA_PKCS1_SHA384, RsaEncoding, RsaKeyPair};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

include!("test_rsa_keys.rs");

/// The client credentials the fake accepts.
#[derive(Debug, Clone)]
pub struct AppCredentials {
    pub client_id: String,
    pub client_secret: String,
}

/// The key id the Entra JWKS publishes (the test key) unless told otherwise.
pub const ENTRA_KEY_ID: &str = "entra-key-1";

/// A key the Bot Framework JWKS publishes: the test key under `kid`, endorsed for
/// `endorsements` (None: the key is published without an `endorsements` property).
#[derive(Debug, Clone)]
pub struct PublishedKey {
    pub kid: String,
    pub endorsements: Option<Vec<String>>,
}

impl PublishedKey {
    pub fn endorsed(kid: &str, channels: &[&str]) -> Self {
        Self {
            kid: kid.to_owned(),
            endorsements: Some(channels.iter().map(|c| (*c).to_owned()).collect()),
        }
    }
}

struct Shared {
    base_url: String,
    credentials: AppCredentials,
    keys: Mutex<Vec<PublishedKey>>,
    entra_keys: Mutex<Vec<String>>,
    issued: Arc<Mutex<HashSet<String>>>,
    token_requests: AtomicUsize,
    jwks_fetches: AtomicUsize,
}

pub struct FakeMicrosoft {
    pub base_url: String,
    shared: Arc<Shared>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for FakeMicrosoft {
    fn drop(&mut self) {
        self.server.abort();
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn der(hex_text: &str) -> Vec<u8> {
    hex::decode(hex_text).unwrap_or_default()
}

/// Signs `claims` as an RS256 (or RS384) JWT with the key whose PKCS#1 DER is given.
fn sign_jwt(key_der: &[u8], alg: &str, kid: &str, claims: &Value) -> String {
    let header = json!({"alg": alg, "typ": "JWT", "kid": kid, "x5t": kid});
    let encoding: &'static dyn RsaEncoding = match alg {
        "RS384" => &RSA_PKCS1_SHA384,
        _ => &RSA_PKCS1_SHA256,
    };
    let signed = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let Ok(pair) = RsaKeyPair::from_der(key_der) else {
        return signed + ".invalid-test-key";
    };
    let mut signature = vec![0; pair.public_modulus_len()];
    if pair
        .sign(
            encoding,
            &SystemRandom::new(),
            signed.as_bytes(),
            &mut signature,
        )
        .is_err()
    {
        return signed + ".signing-failed";
    }
    let token = format!("{signed}.{}", URL_SAFE_NO_PAD.encode(signature));
    crate::log_scan::secret("Bot Framework token", &token);
    token
}

impl FakeMicrosoft {
    pub async fn start(
        credentials: AppCredentials,
        keys: Vec<PublishedKey>,
    ) -> std::io::Result<Self> {
        crate::log_scan::secret("Bot Framework app secret", &credentials.client_secret);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let base_url = format!("http://{addr}");
        let shared = Arc::new(Shared {
            base_url: base_url.clone(),
            credentials,
            keys: Mutex::new(keys),
            entra_keys: Mutex::new(vec![ENTRA_KEY_ID.to_owned()]),
            issued: Arc::new(Mutex::new(HashSet::new())),
            token_requests: AtomicUsize::new(0),
            jwks_fetches: AtomicUsize::new(0),
        });
        let router = Router::new()
            .route("/{tenant}/oauth2/v2.0/token", post(token))
            .route("/v1/.well-known/openidconfiguration", get(metadata))
            .route("/v1/.well-known/keys", get(jwks))
            .route(
                "/{tenant}/v2.0/.well-known/openid-configuration",
                get(entra_metadata),
            )
            .route("/{tenant}/discovery/v2.0/keys", get(entra_jwks))
            .with_state(Arc::clone(&shared));
        let server = tokio::spawn(async move {
            if let Err(err) = axum::serve(listener, router).await {
                tracing::error!(%err, "fake Microsoft identity platform stopped");
            }
        });
        Ok(Self {
            base_url,
            shared,
            server,
        })
    }

    pub fn openid_metadata_url(&self) -> String {
        format!("{}/v1/.well-known/openidconfiguration", self.base_url)
    }

    /// The Entra OpenID metadata of `tenant` (what `teams.entra_openid_metadata_url` names).
    pub fn entra_openid_metadata_url(&self, tenant: &str) -> String {
        format!(
            "{}/{tenant}/v2.0/.well-known/openid-configuration",
            self.base_url
        )
    }

    pub fn token_url(&self, tenant: &str) -> String {
        format!("{}/{tenant}/oauth2/v2.0/token", self.base_url)
    }

    /// The access tokens handed out so far (the fake connector accepts only these).
    pub fn issued_tokens(&self) -> Arc<Mutex<HashSet<String>>> {
        Arc::clone(&self.shared.issued)
    }

    pub fn token_requests(&self) -> usize {
        self.shared.token_requests.load(Ordering::SeqCst)
    }

    /// JWKS downloads, Bot Framework and Entra together.
    pub fn jwks_fetches(&self) -> usize {
        self.shared.jwks_fetches.load(Ordering::SeqCst)
    }

    /// Publishes one more key id (key rotation).
    pub fn publish(&self, key: PublishedKey) {
        lock(&self.shared.keys).push(key);
    }

    /// A token signed (RS256) with the test key the JWKSs publish: a Bot Framework token under a
    /// Bot Framework kid, an Entra token under an Entra kid (`ENTRA_KEY_ID`).
    pub fn mint(&self, kid: &str, claims: &Value) -> String {
        sign_jwt(&der(TEST_KEY_DER_HEX), "RS256", kid, claims)
    }

    /// Like `mint`, but RS384, which neither metadata document lists.
    pub fn mint_rs384(&self, kid: &str, claims: &Value) -> String {
        sign_jwt(&der(TEST_KEY_DER_HEX), "RS384", kid, claims)
    }

    /// A token signed with a key the JWKS does not publish (a forgery under a known kid).
    pub fn mint_forged(&self, kid: &str, claims: &Value) -> String {
        sign_jwt(&der(OTHER_KEY_DER_HEX), "RS256", kid, claims)
    }
}

async fn token(
    State(shared): State<Arc<Shared>>,
    Path(_tenant): Path<String>,
    body: Bytes,
) -> Response {
    shared.token_requests.fetch_add(1, Ordering::SeqCst);
    let error = |status: StatusCode, code: &str, description: &str| {
        (
            status,
            Json(json!({"error": code, "error_description": description})),
        )
            .into_response()
    };
    let Ok(form) = serde_urlencoded::from_bytes::<Vec<(String, String)>>(&body) else {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "AADSTS900144: malformed body",
        );
    };
    let field = |name: &str| {
        form.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    if field("grant_type") != Some("client_credentials") {
        return error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "AADSTS70003",
        );
    }
    if field("client_id") != Some(shared.credentials.client_id.as_str())
        || field("client_secret") != Some(shared.credentials.client_secret.as_str())
    {
        return error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "AADSTS7000215: Invalid client secret provided.",
        );
    }
    if field("scope") != Some("https://api.botframework.com/.default") {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            "AADSTS70011: The provided scope is not valid.",
        );
    }
    let n = shared.token_requests.load(Ordering::SeqCst);
    let access_token = format!("fake-bot-connector-token-{n}");
    lock(&shared.issued).insert(access_token.clone());
    crate::log_scan::secret("Bot Connector access token", &access_token);
    Json(json!({"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": access_token}))
        .into_response()
}

async fn metadata(State(shared): State<Arc<Shared>>) -> Response {
    Json(json!({
        "issuer": "https://api.botframework.com",
        "authorization_endpoint": "https://invalid.botframework.com",
        "jwks_uri": format!("{}/v1/.well-known/keys", shared.base_url),
        "id_token_signing_alg_values_supported": ["RS256"],
        "token_endpoint_auth_methods_supported": ["private_key_jwt"],
    }))
    .into_response()
}

async fn jwks(State(shared): State<Arc<Shared>>) -> Response {
    shared.jwks_fetches.fetch_add(1, Ordering::SeqCst);
    let keys: Vec<Value> = lock(&shared.keys)
        .iter()
        .map(|k| {
            let mut key = json!({"kty": "RSA", "use": "sig", "kid": k.kid, "x5t": k.kid,
                "n": TEST_KEY_N, "e": "AQAB"});
            if let Some(endorsements) = &k.endorsements {
                key["endorsements"] = json!(endorsements);
            }
            key
        })
        .collect();
    Json(json!({"keys": keys})).into_response()
}

/// A tenant's Entra v2.0 OpenID configuration (the fields a resource server reads, as Entra
/// serves them).
async fn entra_metadata(State(shared): State<Arc<Shared>>, Path(tenant): Path<String>) -> Response {
    let base = &shared.base_url;
    Json(json!({
        "token_endpoint": format!("{base}/{tenant}/oauth2/v2.0/token"),
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        "jwks_uri": format!("{base}/{tenant}/discovery/v2.0/keys"),
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "issuer": format!("https://login.microsoftonline.com/{tenant}/v2.0"),
        "request_uri_parameter_supported": false,
        "authorization_endpoint": format!("{base}/{tenant}/oauth2/v2.0/authorize"),
        "cloud_instance_name": "microsoftonline.com",
    }))
    .into_response()
}

/// A tenant's Entra signing keys: RSA, `use: sig`, no endorsements.
async fn entra_jwks(State(shared): State<Arc<Shared>>, Path(_tenant): Path<String>) -> Response {
    shared.jwks_fetches.fetch_add(1, Ordering::SeqCst);
    let keys: Vec<Value> = lock(&shared.entra_keys)
        .iter()
        .map(|kid| json!({"kty": "RSA", "use": "sig", "kid": kid, "x5t": kid, "n": TEST_KEY_N, "e": "AQAB"}))
        .collect();
    Json(json!({"keys": keys})).into_response()
}
