//! `[slack]`: the Slack app (signing secret), its workspaces (team id → tenant, bot token, groups)
//! and the Web API base URL. Secrets are named by environment variable, never written here.

use std::collections::BTreeMap;

use serde::Deserialize;

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SlackConfig {
    /// Slack Web API base (tests point it at a local fake).
    pub api_base: String,
    /// Environment variable holding the app's signing secret.
    pub signing_secret_env: String,
    /// Hosts a slash command's or button's `response_url` may point to (anything else is refused).
    pub response_url_hosts: Vec<String>,
    /// Stream answers with `chat.startStream`/`appendStream`/`stopStream`; when false (or when
    /// Slack refuses streaming) the answer is edited in place with `chat.update`.
    pub streaming: bool,
    /// Least time between two updates of an answer in progress (`chat.update` allows ~1/s).
    pub update_interval_ms: u64,
    /// How long an `event_id` is remembered to drop Slack's retries of it.
    pub dedupe_ttl_secs: u64,
    /// `/ask` answers are visible to the asker only (`ephemeral`) or to the channel (`in_channel`).
    pub command_response_type: String,
    /// Prompts offered when someone opens the app's assistant thread (`assistant_thread_started`).
    pub suggested_prompts: Vec<String>,
    /// Workspaces by Slack team id (`T…`).
    pub workspaces: BTreeMap<String, SlackWorkspace>,
}

impl Default for SlackConfig {
    fn default() -> Self {
        Self {
            api_base: "https://slack.com/api".into(),
            signing_secret_env: "SLACK_SIGNING_SECRET".into(),
            response_url_hosts: vec!["hooks.slack.com".into()],
            streaming: true,
            update_interval_ms: 1000,
            dedupe_ttl_secs: 3600,
            command_response_type: "ephemeral".into(),
            suggested_prompts: Vec::new(),
            workspaces: BTreeMap::new(),
        }
    }
}

/// One Slack workspace the app is installed in.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlackWorkspace {
    /// The ragway tenant whose documents this workspace asks about.
    pub tenant: String,
    /// Environment variable holding the workspace's bot token (`xoxb-…`).
    pub bot_token_env: String,
    /// Look up each asker's email with `users.info` (scope `users:read.email`) so that
    /// `user_groups` may name people by email.
    #[serde(default)]
    pub lookup_email: bool,
    /// Groups every asker from this workspace belongs to.
    #[serde(default)]
    pub default_groups: Vec<String>,
    /// Groups by Slack user id (`U…`) or email; they drive document ACLs.
    #[serde(default)]
    pub user_groups: BTreeMap<String, Vec<String>>,
    /// Groups of askers from other organisations — Slack Connect users in shared channels and
    /// DMs, whose `user_team` is not this workspace. They never get `default_groups`,
    /// `user_groups` or email lookups (their email is their own organisation's word); by default
    /// none, so they read only the documents open to everyone in the tenant.
    #[serde(default)]
    pub guest_groups: Vec<String>,
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    #[test]
    fn slack_is_configured_from_the_file_and_the_environment() {
        let text = "[slack]\n[slack.workspaces.T0ACME]\ntenant = \"acme\"\nbot_token_env = \"SLACK_BOT_TOKEN\"\n";
        let env = [(
            "RAGWAY_SLACK__API_BASE".to_owned(),
            "http://127.0.0.1:9/api".to_owned(),
        )];
        let config = Config::from_toml_and_env(text, env).unwrap();
        let slack = config.slack.unwrap();
        assert_eq!(slack.api_base, "http://127.0.0.1:9/api");
        assert_eq!(slack.workspaces["T0ACME"].tenant, "acme");
        assert_eq!(slack.signing_secret_env, "SLACK_SIGNING_SECRET");
        let err = Config::from_toml_and_env("[slack]\nsigning_secret = \"x\"\n", []).unwrap_err();
        assert!(
            err.to_string().contains("signing_secret"),
            "secrets are never keys: {err}"
        );
        assert!(
            Config::from_toml_and_env("", []).unwrap().slack.is_none(),
            "off by default"
        );
    }
}
