//! Who asks on Slack: the workspace's tenant, `slack:{team}:{user}`, and the groups the
//! workspace's configuration gives the user (by user id, or by email when `lookup_email` is on),
//! so document ACLs apply to Slack askers as to any other caller.

use super::SlackBot;
use crate::config::slack::SlackWorkspace;
use crate::identity::Principal;

/// The principal for Slack user `user` of workspace `team`.
pub async fn principal(
    bot: &SlackBot,
    workspace: &SlackWorkspace,
    token: &str,
    team: &str,
    user: &str,
) -> Principal {
    let mut groups = workspace.default_groups.clone();
    groups.extend(workspace.user_groups.get(user).cloned().unwrap_or_default());
    if workspace.lookup_email
        && let Some(email) = email(bot, token, team, user).await
    {
        let by_email = workspace
            .user_groups
            .iter()
            .filter(|(key, _)| key.eq_ignore_ascii_case(&email))
            .flat_map(|(_, groups)| groups.iter().cloned());
        groups.extend(by_email);
    }
    groups.sort();
    groups.dedup();
    Principal {
        tenant_id: workspace.tenant.clone(),
        user_id: format!("slack:{team}:{user}"),
        groups,
    }
}

/// The user's email from `users.info` (cached). A failed lookup is logged and leaves the user
/// with the groups given by id: fewer documents, never more.
async fn email(bot: &SlackBot, token: &str, team: &str, user: &str) -> Option<String> {
    let key = format!("{team}:{user}");
    if let Some(cached) = bot.emails.get(&key).await {
        return cached;
    }
    let found = match bot
        .api
        .call_form(token, "users.info", &[("user", user)])
        .await
    {
        Ok(body) => body["user"]["profile"]["email"].as_str().map(str::to_owned),
        Err(err) => {
            tracing::warn!(%err, team, user, "cannot look up the Slack user's email");
            return None;
        }
    };
    bot.emails.insert(key, found.clone()).await;
    found
}
