//! The employee web chat widget: one script tag (`/widget/v1/loader.js`) puts a chat bubble on an
//! intranet page. The page's origin must be one its public widget key (`pk_…`) allows; a short
//! session token bound to key and origin (and, with a host-signed identity JWT, to the employee
//! and their groups) then authorises `chat` (AI SDK UI message stream over SSE) and `feedback`.
//! Wire contract: shared/specs/channels.md §3.

pub mod anonymous;
mod assets;
pub mod chat;
mod cors;
pub mod feedback;
pub mod identity;
pub mod session;
pub mod sessions;

pub use crate::config::widget::{IdentityConfig, WidgetConfig};
pub use assets::{asset_handler, demo_page};
pub use chat::chat_handler;
pub use cors::preflight_handler;
pub use feedback::feedback_handler;
pub use sessions::session_handler;

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use self::identity::IdentityVerifier;
use self::session::SessionSigner;
use super::bots::{Clock, SecretSource, secret};
use crate::config::widget::MAX_SESSION_TTL_SECS;
use crate::context::Core;
use crate::error::GatewayError;

pub const CHANNEL: &str = "widget";

/// What the widget's handlers work with: the core and the widget's runtime.
#[derive(Debug, Clone)]
pub struct WidgetState {
    pub core: Core,
    pub widget: Arc<Widget>,
    /// The bots' clock: session expiry in tests moves with it.
    pub clock: Clock,
}

/// The widget's runtime, built once at start-up from `[widget]`.
#[derive(Debug)]
pub struct Widget {
    pub config: WidgetConfig,
    signer: SessionSigner,
    /// Identity token verifiers by tenant id.
    identities: BTreeMap<String, IdentityVerifier>,
    /// The key the demo page at `/` embeds (config, or set by `serve --demo`).
    demo_key: RwLock<Option<String>>,
    /// Anonymous answers in progress, per widget key.
    pub anonymous_streams: anonymous::AnonymousStreams,
}

impl Widget {
    /// The widget with its secrets from the environment.
    pub fn from_env(config: &WidgetConfig) -> Result<Self, GatewayError> {
        Self::new(config, &|name| std::env::var(name).ok())
    }

    pub fn new(config: &WidgetConfig, secrets: SecretSource<'_>) -> Result<Self, GatewayError> {
        if config.session_ttl_secs == 0 || config.session_ttl_secs > MAX_SESSION_TTL_SECS {
            return Err(GatewayError::Config(format!(
                "widget.session_ttl_secs must be between 1 and {MAX_SESSION_TTL_SECS}"
            )));
        }
        let session_secret = match &config.session_secret_env {
            Some(env) => {
                let value = secret(secrets, "widget.session_secret_env", env)?;
                if value.len() < 32 {
                    return Err(GatewayError::Config(format!(
                        "the widget session secret in `{env}` must have at least 32 characters"
                    )));
                }
                value.into_bytes()
            }
            None => {
                let mut random = [0u8; 32];
                aws_lc_rs::rand::fill(&mut random).map_err(|_| {
                    GatewayError::Config("cannot generate a widget session secret".into())
                })?;
                random.to_vec()
            }
        };
        let mut identities = BTreeMap::new();
        for (tenant, identity) in &config.identity {
            identities.insert(
                tenant.clone(),
                IdentityVerifier::new(tenant, identity, secrets)?,
            );
        }
        Ok(Self {
            config: config.clone(),
            signer: SessionSigner::new(&session_secret),
            identities,
            demo_key: RwLock::new(config.demo_key.clone()),
            anonymous_streams: anonymous::AnonymousStreams::default(),
        })
    }

    /// Serves the demo page at `/` with this widget key.
    pub fn set_demo_key(&self, key: &str) {
        if let Ok(mut demo) = self.demo_key.write() {
            *demo = Some(key.to_owned());
        }
    }

    fn demo_key(&self) -> Option<String> {
        self.demo_key.read().ok().and_then(|k| k.clone())
    }

    pub fn signer(&self) -> &SessionSigner {
        &self.signer
    }
}
