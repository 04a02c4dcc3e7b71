//! `[widget]`: session lifetime, the key that signs session tokens (by environment variable, so
//! every replica can verify every other's), the demo page, and per-tenant employee identity
//! (JWTs the host page's backend signs: HS256 with a shared secret, or RS256/ES256 with a public key).

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

/// The longest a session token may live (seconds): a leaked token is short-lived.
pub const MAX_SESSION_TTL_SECS: u64 = 900;

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WidgetConfig {
    /// Lifetime of a session token (seconds, at most 900).
    pub session_ttl_secs: u64,
    /// Environment variable holding the session-signing secret (≥ 32 characters). Unset: a random
    /// secret per process (sessions then do not survive a restart or move between replicas).
    pub session_secret_env: Option<String>,
    /// How long after it expired an anonymous session may still be renewed as the same visitor
    /// (so their conversation continues after a page load); 0 turns renewal off.
    pub resume_window_secs: u64,
    /// Serve the demo page at `/` embedding this widget key (`serve --demo` sets it itself).
    pub demo_key: Option<String>,
    /// Employee identity per tenant id (absent: the tenant's widget sessions are anonymous).
    pub identity: BTreeMap<String, IdentityConfig>,
    /// Answers anonymous visitors of one widget key may have in progress at once, in this
    /// process (0: no cap beyond the tenant's `limits.max_concurrent_streams`). All anonymous
    /// visitors of a key also share one `limits.user_requests_per_minute` budget.
    pub anonymous_streams_per_key: u32,
    /// The longest an anonymous answer holds its slot (seconds): one nobody reads gives it up
    /// then, and ends at its next event.
    pub anonymous_stream_max_secs: u64,
}

impl Default for WidgetConfig {
    fn default() -> Self {
        Self {
            session_ttl_secs: MAX_SESSION_TTL_SECS,
            session_secret_env: None,
            resume_window_secs: 24 * 3600,
            demo_key: None,
            identity: BTreeMap::new(),
            anonymous_streams_per_key: 8,
            anonymous_stream_max_secs: 300,
        }
    }
}

/// How a tenant's host pages prove who the employee is.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentityConfig {
    /// `HS256` (shared secret), `RS256` or `ES256` (public key).
    pub algorithm: String,
    /// HS256: environment variable holding the shared secret (≥ 32 characters).
    #[serde(default)]
    pub secret_env: Option<String>,
    /// RS256/ES256: the public key as PEM (`-----BEGIN PUBLIC KEY-----`), inline …
    #[serde(default)]
    pub public_key_pem: Option<String>,
    /// … or in a file.
    #[serde(default)]
    pub public_key_file: Option<PathBuf>,
    /// Required `iss` claim.
    pub issuer: String,
    /// Required `aud` claim.
    pub audience: String,
    /// A token older than this (from `iat`, which is required) is refused, whatever its `exp`.
    #[serde(default = "default_max_age_secs")]
    pub max_age_secs: u64,
    /// Clock skew tolerated on `exp`, `nbf` and `iat` (seconds).
    #[serde(default = "default_leeway_secs")]
    pub leeway_secs: u64,
    /// Claim holding the user id.
    #[serde(default = "default_user_claim")]
    pub user_claim: String,
    /// Claim holding the user's groups (an array of strings; document ACLs).
    #[serde(default = "default_groups_claim")]
    pub groups_claim: String,
    /// Refuse anonymous sessions: every visitor must be identified.
    #[serde(default)]
    pub required: bool,
}

fn default_max_age_secs() -> u64 {
    600
}
fn default_leeway_secs() -> u64 {
    60
}
fn default_user_claim() -> String {
    "sub".into()
}
fn default_groups_claim() -> String {
    "groups".into()
}
