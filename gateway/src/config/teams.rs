//! `[teams]`: the Azure Bot registration (app id, secret by environment variable, its Entra
//! tenant), every Microsoft endpoint (overridable for tests), the `serviceUrl` allow-list and the
//! Microsoft 365 tenants served (Entra tenant id → ragway tenant and groups).

use std::collections::BTreeMap;

use serde::Deserialize;

pub const BOT_FRAMEWORK_ISSUER: &str = "https://api.botframework.com";

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TeamsConfig {
    /// The bot's Microsoft App ID (the audience of the tokens Teams sends).
    pub app_id: String,
    /// Environment variable holding the app's client secret.
    pub app_password_env: String,
    /// The Entra tenant the app is registered in (single-tenant bots, the default for new
    /// registrations). Unset: the legacy multi-tenant `botframework.com` token tenant.
    pub app_tenant_id: Option<String>,
    /// Client-credentials token endpoint; default
    /// `https://login.microsoftonline.com/{app_tenant_id or botframework.com}/oauth2/v2.0/token`.
    pub token_url: Option<String>,
    pub token_scope: String,
    /// Bot Framework OpenID metadata (issuer `https://api.botframework.com`).
    pub openid_metadata_url: String,
    /// Entra OpenID metadata for tokens issued by the app's tenant; default
    /// `https://login.microsoftonline.com/{app_tenant_id}/v2.0/.well-known/openid-configuration`.
    /// Only fetched when `bot_service_app_id` is set.
    pub entra_openid_metadata_url: Option<String>,
    /// The app id of the Microsoft service whose Entra-issued tokens are accepted: an Entra token
    /// (issuer `sts.windows.net/{app_tenant_id}/` or `login.microsoftonline.com/{app_tenant_id}/v2.0`)
    /// counts only when its caller app (`appid` in v1 tokens, `azp` in v2) is this id. Unset (the
    /// default): Entra-issued tokens are refused, as Microsoft's rules for requests from the Bot
    /// Connector accept only the issuer `https://api.botframework.com` — and Microsoft publishes no
    /// app id for the Bot Connector as an Entra client.
    pub bot_service_app_id: Option<String>,
    /// Clock skew tolerated on a token's `exp` and `nbf` (Microsoft: industry standard 5 minutes).
    pub clock_skew_secs: u64,
    /// Prefixes an activity's `serviceUrl` must start with; replies only ever go there.
    pub service_url_prefixes: Vec<String>,
    /// Signing keys are refetched this often, and on an unknown key id at most every
    /// `unknown_key_refetch_secs`.
    pub keys_refresh_secs: u64,
    pub unknown_key_refetch_secs: u64,
    /// Least time between two streaming updates in 1:1 chats (Teams asks for 1.5–2 s).
    pub stream_interval_ms: u64,
    /// How long an activity id is remembered to drop redeliveries.
    pub dedupe_ttl_secs: u64,
    /// Microsoft 365 organisations served, by Entra tenant id (`channelData.tenant.id`).
    pub tenants: BTreeMap<String, TeamsTenant>,
}

impl Default for TeamsConfig {
    fn default() -> Self {
        Self {
            app_id: String::new(),
            app_password_env: "MICROSOFT_APP_PASSWORD".into(),
            app_tenant_id: None,
            token_url: None,
            token_scope: "https://api.botframework.com/.default".into(),
            openid_metadata_url:
                "https://login.botframework.com/v1/.well-known/openidconfiguration".into(),
            entra_openid_metadata_url: None,
            bot_service_app_id: None,
            clock_skew_secs: 300,
            service_url_prefixes: vec!["https://smba.trafficmanager.net/".into()],
            keys_refresh_secs: 24 * 3600,
            unknown_key_refetch_secs: 300,
            stream_interval_ms: 1500,
            dedupe_ttl_secs: 3600,
            tenants: BTreeMap::new(),
        }
    }
}

impl TeamsConfig {
    pub fn token_url(&self) -> String {
        self.token_url.clone().unwrap_or_else(|| {
            let tenant = self.app_tenant_id.as_deref().unwrap_or("botframework.com");
            format!("https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token")
        })
    }

    /// The Entra metadata to fetch keys from; None unless Entra-issued tokens can be accepted
    /// (an app tenant and `bot_service_app_id` are both set).
    pub fn entra_openid_metadata_url(&self) -> Option<String> {
        if self.entra_issuers().is_empty() {
            return None;
        }
        self.entra_openid_metadata_url.clone().or_else(|| {
            self.app_tenant_id.as_ref().map(|tenant| {
                format!("https://login.microsoftonline.com/{tenant}/v2.0/.well-known/openid-configuration")
            })
        })
    }

    /// The issuers accepted from Entra-signed tokens (v1 and v2 forms of the app's tenant); none
    /// unless `bot_service_app_id` names the caller they must come from.
    pub fn entra_issuers(&self) -> Vec<String> {
        if self
            .bot_service_app_id
            .as_deref()
            .is_none_or(|id| id.trim().is_empty())
        {
            return Vec::new();
        }
        self.app_tenant_id
            .iter()
            .flat_map(|t| {
                [
                    format!("https://sts.windows.net/{t}/"),
                    format!("https://login.microsoftonline.com/{t}/v2.0"),
                ]
            })
            .collect()
    }
}

/// One Microsoft 365 organisation the bot answers in.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TeamsTenant {
    /// The ragway tenant whose documents its people ask about.
    pub tenant: String,
    /// Groups every asker from this organisation belongs to.
    #[serde(default)]
    pub default_groups: Vec<String>,
    /// Groups by Entra object id (`from.aadObjectId`); they drive document ACLs.
    #[serde(default)]
    pub user_groups: BTreeMap<String, Vec<String>>,
    /// Groups of askers who are not the organisation's own people — B2B guests, anonymous
    /// meeting participants, users of another organisation in a shared channel. They never get
    /// `default_groups` or `user_groups`; by default none, so they read only the documents open
    /// to everyone in the tenant.
    #[serde(default)]
    pub guest_groups: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    #[test]
    fn single_tenant_endpoints_follow_the_app_tenant() {
        let text = "[teams]\napp_id = \"app\"\napp_tenant_id = \"tid\"\n[teams.tenants.org-1]\ntenant = \"acme\"\n";
        let teams = Config::from_toml_and_env(text, []).unwrap().teams.unwrap();
        assert_eq!(
            teams.token_url(),
            "https://login.microsoftonline.com/tid/oauth2/v2.0/token"
        );
        // Microsoft's Bot Connector rules accept only the Bot Framework issuer: no Entra issuer
        // (and no Entra keys) until the calling service's app id is configured.
        assert!(teams.bot_service_app_id.is_none() && teams.clock_skew_secs == 300);
        assert!(teams.entra_issuers().is_empty() && teams.entra_openid_metadata_url().is_none());
        let text = text.replace(
            "app_tenant_id",
            "bot_service_app_id = \"service-app\"\napp_tenant_id",
        );
        let teams = Config::from_toml_and_env(&text, []).unwrap().teams.unwrap();
        assert_eq!(
            teams.entra_openid_metadata_url().as_deref(),
            Some("https://login.microsoftonline.com/tid/v2.0/.well-known/openid-configuration")
        );
        assert_eq!(
            teams.entra_issuers(),
            [
                "https://sts.windows.net/tid/",
                "https://login.microsoftonline.com/tid/v2.0"
            ]
        );
        assert_eq!(teams.tenants["org-1"].tenant, "acme");
        let legacy = TeamsConfig::default();
        assert_eq!(
            legacy.token_url(),
            "https://login.microsoftonline.com/botframework.com/oauth2/v2.0/token"
        );
        assert!(legacy.entra_openid_metadata_url().is_none() && legacy.entra_issuers().is_empty());
    }
}
