//! The Teams channel's readers of untrusted bytes, for the fuzzing harness
//! (`tests/src/fuzz_targets.rs`); not an API: the OpenID metadata and JWKS documents the signing
//! keys come from, the bearer token (checked by `jwt::verify` against keys held in memory, never
//! fetched), and the activity with everything the handler reads from it.

use super::activity::Activity;
use super::keys::{IssuerFamily, KeyStore, parse_documents};
use super::{TeamsConfig, TeamsTenant, answer, feedback_of, jwt};
use crate::i18n;

/// Reads an OpenID metadata document and its JWKS as a key refresh does; the number of usable
/// keys.
pub fn documents(metadata: &[u8], jwks: &[u8]) -> Result<usize, serde_json::Error> {
    parse_documents(metadata, jwks, IssuerFamily::BotFramework).map(|keys| keys.len())
}

/// A bot whose token checks use the keys of fixed documents.
pub struct Teams {
    keys: KeyStore,
    config: TeamsConfig,
}

impl std::fmt::Debug for Teams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Teams")
            .field("app_id", &self.config.app_id)
            .finish_non_exhaustive()
    }
}

impl Teams {
    /// `bot_framework` and `entra`: (OpenID metadata, JWKS) of each issuer family.
    pub fn new(
        config: TeamsConfig,
        bot_framework: (&[u8], &[u8]),
        entra: Option<(&[u8], &[u8])>,
    ) -> Result<Self, String> {
        let mut keys =
            parse_documents(bot_framework.0, bot_framework.1, IssuerFamily::BotFramework)
                .map_err(|e| e.to_string())?;
        if let Some((metadata, jwks)) = entra {
            keys.extend(
                parse_documents(metadata, jwks, IssuerFamily::Entra).map_err(|e| e.to_string())?,
            );
        }
        let http = reqwest::Client::builder()
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Self {
            keys: KeyStore::preloaded(http, keys),
            config,
        })
    }

    /// A request as the handler takes it: the token checked at Unix time `now`, the activity
    /// read, the token bound to it, then the activity read as a message or feedback invoke is.
    pub async fn request(&self, token: &str, body: &[u8], now: i64) -> Result<(), String> {
        let verified = jwt::verify(&self.keys, &self.config, token.trim(), now)
            .await
            .map_err(|e| e.to_string())?;
        let activity: Activity = serde_json::from_slice(body).map_err(|e| e.to_string())?;
        verified
            .covers(&activity.service_url, &activity.channel_id)
            .map_err(|e| e.to_string())?;
        read(&activity, &self.config);
        Ok(())
    }

    /// Only the token.
    pub async fn token(&self, token: &str, now: i64) -> Result<(), String> {
        jwt::verify(&self.keys, &self.config, token.trim(), now)
            .await
            .map(drop)
            .map_err(|e| e.to_string())
    }

    /// Only the activity (whose token held).
    pub fn activity(&self, body: &[u8]) -> Result<(), serde_json::Error> {
        let activity: Activity = serde_json::from_slice(body)?;
        read(&activity, &self.config);
        Ok(())
    }
}

/// What the handler and the answer read from an activity.
fn read(activity: &Activity, config: &TeamsConfig) {
    let org_id = activity.m365_tenant().unwrap_or_default().to_owned();
    let question = activity.question();
    let lang = ragway_ingest::lang::detect(&question)
        .or(activity.lang())
        .unwrap_or(ragway_ingest::lang::Lang::En);
    let mut reply = activity.reply("message");
    reply["locale"] = serde_json::json!(i18n::locale_tag(lang, activity.locale.as_deref()));
    let _ = activity.is_personal();
    let _ = feedback_of(&activity.value);
    let fallback = TeamsTenant {
        tenant: "acme".into(),
        default_groups: vec!["staff".into()],
        user_groups: Default::default(),
        guest_groups: Vec::new(),
    };
    let org = config.tenants.get(&org_id).unwrap_or(&fallback);
    let _ = answer::principal(activity, &org_id, org);
}
