//! The Slack channel: `/slack/events` (mentions, DMs, assistant threads), `/slack/commands`
//! (`/ask`) and `/slack/interactivity` (feedback buttons). Every request's signature is checked on
//! the raw body first; Slack gets its acknowledgement at once and the answer follows on a tracked
//! background task. Wire contract: shared/specs/channels.md §1.

mod answer;
mod api;
mod blocks;
mod commands;
mod events;
mod identity;
mod interactivity;
pub mod verify;

pub use crate::config::slack::{SlackConfig, SlackWorkspace};
pub use commands::commands_handler;
pub use events::events_handler;
pub use interactivity::interactivity_handler;

use std::sync::Arc;
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};

use self::api::SlackApi;
use super::bots::{Clock, SecretSource, count, secret};
use crate::context::Core;
use crate::error::GatewayError;
use crate::http::ApiError;

pub const CHANNEL: &str = "slack";

/// What the Slack handlers work with: the core and the bot (None: `[slack]` is not configured,
/// and the routes answer 404).
#[derive(Debug, Clone)]
pub struct SlackState {
    pub core: Core,
    pub bot: Option<Arc<SlackBot>>,
    pub clock: Clock,
}

/// The app's own identity in a workspace (from `auth.test`), to ignore its own messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BotIdentity {
    pub user_id: String,
    pub bot_id: Option<String>,
}

pub struct SlackBot {
    config: SlackConfig,
    signing_secret: String,
    api: SlackApi,
    /// Bot tokens by team id.
    tokens: std::collections::BTreeMap<String, String>,
    /// `event_id`s already taken (Slack retries an event it thinks was not received).
    pub(super) seen_events: moka::future::Cache<String, ()>,
    identities: moka::future::Cache<String, BotIdentity>,
    /// Emails from `users.info` by `team:user` (None: the user has none visible).
    emails: moka::future::Cache<String, Option<String>>,
}

impl std::fmt::Debug for SlackBot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlackBot")
            .field("api_base", &self.config.api_base)
            .field("workspaces", &self.tokens.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl SlackBot {
    pub fn new(config: &SlackConfig, secrets: SecretSource<'_>) -> Result<Self, GatewayError> {
        let signing_secret = secret(
            secrets,
            "slack.signing_secret_env",
            &config.signing_secret_env,
        )?;
        let mut tokens = std::collections::BTreeMap::new();
        for (team, workspace) in &config.workspaces {
            let setting = format!("slack.workspaces.{team}.bot_token_env");
            tokens.insert(
                team.to_ascii_uppercase(),
                secret(secrets, &setting, &workspace.bot_token_env)?,
            );
        }
        if !matches!(
            config.command_response_type.as_str(),
            "ephemeral" | "in_channel"
        ) {
            return Err(GatewayError::Config(
                "slack.command_response_type must be \"ephemeral\" or \"in_channel\"".into(),
            ));
        }
        let api = SlackApi::new(&config.api_base).map_err(|e| {
            GatewayError::Config(format!("slack: cannot build the HTTP client: {e}"))
        })?;
        let hour = Duration::from_secs(3600);
        Ok(Self {
            config: config.clone(),
            signing_secret,
            api,
            tokens,
            seen_events: moka::future::Cache::builder()
                .max_capacity(100_000)
                .time_to_live(Duration::from_secs(config.dedupe_ttl_secs.max(1)))
                .build(),
            identities: moka::future::Cache::builder().time_to_live(hour).build(),
            emails: moka::future::Cache::builder()
                .max_capacity(100_000)
                .time_to_live(hour)
                .build(),
        })
    }

    /// The workspace of a team id and its bot token.
    fn workspace(&self, team: &str) -> Option<(&SlackWorkspace, &str)> {
        let (configured, workspace) = self
            .config
            .workspaces
            .iter()
            .find(|(id, _)| id.eq_ignore_ascii_case(team))?;
        let token = self.tokens.get(&configured.to_ascii_uppercase())?;
        Some((workspace, token.as_str()))
    }

    /// The app's identity in a workspace (`auth.test`, cached).
    async fn identity(&self, team: &str, token: &str) -> Option<BotIdentity> {
        if let Some(identity) = self.identities.get(team).await {
            return Some(identity);
        }
        match self.api.call_form(token, "auth.test", &[]).await {
            Ok(body) => {
                let identity = BotIdentity {
                    user_id: body["user_id"].as_str()?.to_owned(),
                    bot_id: body["bot_id"].as_str().map(str::to_owned),
                };
                self.identities
                    .insert(team.to_owned(), identity.clone())
                    .await;
                Some(identity)
            }
            Err(err) => {
                tracing::error!(%err, team, "auth.test failed; cannot tell the bot's own messages apart");
                None
            }
        }
    }

    /// Whether a `response_url` may be called: https on an allowed host (plain http only for a
    /// loopback host, for local tests), so a forged URL cannot make ragway call anywhere else.
    fn response_url_allowed(&self, url: &str) -> bool {
        let Ok(parsed) = reqwest::Url::parse(url) else {
            return false;
        };
        let Some(host) = parsed.host_str() else {
            return false;
        };
        let loopback = host == "localhost"
            || host
                .trim_matches(['[', ']'])
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback());
        let scheme_ok = parsed.scheme() == "https" || (parsed.scheme() == "http" && loopback);
        let with_port = parsed.port().map(|p| format!("{host}:{p}"));
        scheme_ok
            && self.config.response_url_hosts.iter().any(|allowed| {
                allowed.eq_ignore_ascii_case(host)
                    || with_port
                        .as_deref()
                        .is_some_and(|h| allowed.eq_ignore_ascii_case(h))
            })
    }
}

/// The Slack channel's readers of untrusted bytes — the signature check on the raw request, the
/// Events API JSON, the slash command and interaction form bodies — for the fuzzing harness
/// (`tests/src/fuzz_targets.rs`); not an API.
#[doc(hidden)]
pub mod fuzz_targets {
    use axum::http::HeaderMap;

    use super::verify::SignatureError;
    use super::{SlackBot, SlackConfig, commands, events, interactivity, verify};
    use crate::error::GatewayError;

    /// A bot of `config` whose signing secret and bot tokens are all `secret`.
    #[derive(Debug)]
    pub struct Slack(SlackBot);

    impl Slack {
        pub fn new(config: &SlackConfig, secret: &str) -> Result<Self, GatewayError> {
            SlackBot::new(config, &|_| Some(secret.to_owned())).map(Self)
        }

        /// The signature check every Slack route starts with, at Unix time `now`.
        pub fn signed(
            &self,
            headers: &HeaderMap,
            body: &[u8],
            now: i64,
        ) -> Result<(), SignatureError> {
            verify::verify(&self.0.signing_secret, headers, body, now)
        }

        pub fn events(&self, body: &[u8]) -> Result<(), serde_json::Error> {
            events::fuzz_read(body)
        }

        pub fn command(&self, body: &[u8]) -> Result<(), serde_urlencoded::de::Error> {
            commands::fuzz_read(&self.0, body)
        }

        pub fn interaction(&self, body: &[u8]) -> Result<(), String> {
            interactivity::fuzz_read(&self.0, body)
        }
    }
}

/// The Slack bot, or 404 when `[slack]` is not configured.
fn slack_bot(state: &SlackState) -> Result<Arc<SlackBot>, ApiError> {
    state.bot.clone().ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "the Slack channel is not configured",
        )
    })
}

/// Checks the request's signature (401 otherwise, logged and counted).
fn authenticate(
    state: &SlackState,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Arc<SlackBot>, ApiError> {
    let bot = slack_bot(state)?;
    let now = state.clock.now();
    verify::verify(&bot.signing_secret, headers, body, now).map_err(|err| {
        tracing::warn!(%err, "refused a Slack request");
        count(&state.core.metrics, CHANNEL, "rejected");
        ApiError::unauthorized(format!("invalid Slack request signature: {err}"))
    })?;
    Ok(bot)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bot(hosts: &[&str]) -> SlackBot {
        let config = SlackConfig {
            response_url_hosts: hosts.iter().map(|h| (*h).to_owned()).collect(),
            ..SlackConfig::default()
        };
        SlackBot::new(&config, &|_| Some("secret".into())).unwrap()
    }

    #[test]
    fn response_urls_are_allow_listed() {
        let bot = bot(&["hooks.slack.com", "127.0.0.1"]);
        assert!(bot.response_url_allowed("https://hooks.slack.com/commands/T1/2/x"));
        assert!(bot.response_url_allowed("http://127.0.0.1:4000/response/1"));
        assert!(!bot.response_url_allowed("http://hooks.slack.com/commands/T1/2/x"));
        assert!(!bot.response_url_allowed("https://hooks.slack.com.evil.example/x"));
        assert!(!bot.response_url_allowed("https://169.254.169.254/latest"));
        assert!(!bot.response_url_allowed("not a url"));
    }

    #[test]
    fn missing_secrets_are_configuration_errors() {
        let err = SlackBot::new(&SlackConfig::default(), &|_| None).unwrap_err();
        assert!(err.to_string().contains("SLACK_SIGNING_SECRET"), "{err}");
    }
}
