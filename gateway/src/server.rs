//! The server: the shared [`AppState`] plus the channel runtimes (the Slack and Teams bots, the
//! web widget). Each handler takes only what it needs — the core, the app state, or its channel's
//! own state — through `FromRef`, so no channel knows the whole server.

use std::sync::Arc;

use axum::extract::FromRef;

use crate::channels::bots::{Clock, SecretSource};
use crate::channels::slack::{SlackBot, SlackState};
use crate::channels::teams::{TeamsBot, TeamsState};
use crate::channels::widget::{Widget, WidgetState};
use crate::config::Config;
use crate::context::Core;
use crate::error::GatewayError;
use crate::state::AppState;

#[derive(Debug, Clone)]
pub struct Server {
    pub state: AppState,
    pub bots: Bots,
    /// The web widget: session signing, identity verification, the demo page's key.
    pub widget: Arc<Widget>,
}

impl Server {
    /// The configured channel runtimes (secrets from the environment), then the shared state.
    /// The runtimes come first: a missing secret is reported before the index is opened.
    pub async fn open(config: Config) -> Result<Self, GatewayError> {
        let bots = Bots::from_env(&config)?;
        if config.index.is_shared() && config.widget.session_secret_env.is_none() {
            // A random per-process secret would make every replica refuse the others' sessions.
            return Err(GatewayError::Config(
                "widget.session_secret_env is required with [index] backend = \"qdrant\": replicas \
                 share the index, and a widget session signed by one must verify on the others \
                 (set it to a variable holding at least 32 random characters)"
                    .into(),
            ));
        }
        let widget = Arc::new(Widget::from_env(&config.widget)?);
        let state = AppState::open(config).await?;
        Ok(Self {
            state,
            bots,
            widget,
        })
    }

    pub fn core(&self) -> &Core {
        &self.state.core
    }
}

/// The chat bots' runtime, built once at start-up: Slack when `[slack]` is configured, Teams when
/// `[teams]` is (an absent section turns its channel off and its routes answer 404), and the
/// clock both use.
#[derive(Debug, Clone, Default)]
pub struct Bots {
    pub slack: Option<Arc<SlackBot>>,
    pub teams: Option<Arc<TeamsBot>>,
    pub clock: Clock,
}

impl Bots {
    /// The configured bots with their secrets from the environment and the system clock.
    pub fn from_env(config: &Config) -> Result<Self, GatewayError> {
        Self::new(config, &|name| std::env::var(name).ok(), Clock::system())
    }

    pub fn new(
        config: &Config,
        secrets: SecretSource<'_>,
        clock: Clock,
    ) -> Result<Self, GatewayError> {
        let slack = match &config.slack {
            Some(slack) => Some(Arc::new(SlackBot::new(slack, secrets)?)),
            None => None,
        };
        let teams = match &config.teams {
            Some(teams) => Some(Arc::new(TeamsBot::new(teams, secrets)?)),
            None => None,
        };
        Ok(Self {
            slack,
            teams,
            clock,
        })
    }
}

impl FromRef<Server> for AppState {
    fn from_ref(server: &Server) -> Self {
        server.state.clone()
    }
}

impl FromRef<Server> for Core {
    fn from_ref(server: &Server) -> Self {
        server.state.core.clone()
    }
}

impl FromRef<Server> for SlackState {
    fn from_ref(server: &Server) -> Self {
        Self {
            core: server.state.core.clone(),
            bot: server.bots.slack.clone(),
            clock: server.bots.clock.clone(),
        }
    }
}

impl FromRef<Server> for TeamsState {
    fn from_ref(server: &Server) -> Self {
        Self {
            core: server.state.core.clone(),
            bot: server.bots.teams.clone(),
            clock: server.bots.clock.clone(),
        }
    }
}

impl FromRef<Server> for WidgetState {
    fn from_ref(server: &Server) -> Self {
        Self {
            core: server.state.core.clone(),
            widget: Arc::clone(&server.widget),
            clock: server.bots.clock.clone(),
        }
    }
}
