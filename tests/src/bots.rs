//! Helpers for the chat-bot tests: a gateway whose bots read their secrets from the test (not
//! the process environment) and run on a manual clock, and a way to wait for the answers the
//! bots compute in the background.

use std::collections::HashMap;
use std::sync::Arc;

use ragway_gateway::channels::bots::Clock;
use ragway_gateway::server::Bots;
use ragway_gateway::{AppState, Config, Server};

use crate::harness::{Gateway, HANDBOOK_TENANT, handbook_dir};

/// Starts a gateway for `config` (with `[slack]`/`[teams]`), its bot secrets taken from
/// `secrets` (env-var name → value) and its clock `clock`, with the handbook indexed for the
/// tenant `acme`.
pub async fn gateway_with_bots(
    config: Config,
    secrets: &[(&str, &str)],
    clock: Clock,
) -> Result<Gateway, Box<dyn std::error::Error>> {
    for (_, value) in secrets {
        crate::log_scan::secret("configured secret", value);
    }
    let secrets: HashMap<String, String> = secrets
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    // Opened without the bots (their secrets are not in the environment), then given them.
    let mut bare = config.clone();
    bare.slack = None;
    bare.teams = None;
    let mut server = Server::open(bare).await?;
    server.bots = Bots::new(&config, &|name| secrets.get(name).cloned(), clock)?;
    server.state.core.set_config(Arc::new(config));
    let gateway = Gateway::serve(server).await?;
    gateway.tenant_with_key(HANDBOOK_TENANT).await?;
    let report = gateway
        .sync(HANDBOOK_TENANT, "handbook", &handbook_dir())
        .await?;
    if !report.failures.is_empty() {
        return Err(format!("the handbook did not ingest cleanly: {:?}", report.failures).into());
    }
    Ok(gateway)
}

/// Waits until every background task (the bots' answers) has finished.
pub async fn settle(state: &AppState) {
    state.core.tasks.close();
    state.core.tasks.wait().await;
    state.core.tasks.reopen();
}
