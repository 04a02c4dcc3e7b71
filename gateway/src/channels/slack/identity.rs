//! Who asks on Slack: the workspace's tenant, `slack:{team}:{user}`, and the groups the
//! workspace's configuration gives the user (by user id, or by email when `lookup_email` is on),
//! so document ACLs apply to Slack askers as to any other caller. A guest from another
//! organisation (Slack Connect) gets only the workspace's `guest_groups`.

use super::SlackBot;
use crate::config::slack::SlackWorkspace;
use crate::identity::Principal;

/// Whether the asker belongs to the workspace or is a guest from another organisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Membership {
    Member,
    /// A user of another Slack organisation in a shared (Slack Connect) channel or DM.
    Guest,
}

impl Membership {
    /// From an event: a guest when the user's team (`user_team`, else `team`) is given and is
    /// not the workspace the event was delivered for.
    pub fn of(workspace_team: &str, user_team: Option<&str>) -> Self {
        match user_team {
            Some(theirs) if theirs != workspace_team => Self::Guest,
            _ => Self::Member,
        }
    }
}

/// The principal for Slack user `user` of team `team` asking in a workspace configured as
/// `workspace`.
pub async fn principal(
    bot: &SlackBot,
    workspace: &SlackWorkspace,
    token: &str,
    team: &str,
    user: &str,
    membership: Membership,
) -> Principal {
    if membership == Membership::Guest {
        // Nothing about a guest is the workspace's to vouch for: not its defaults, not a
        // user-id or email mapping (another organisation decides its users' emails).
        let mut groups = workspace.guest_groups.clone();
        groups.sort();
        groups.dedup();
        return Principal {
            tenant_id: workspace.tenant.clone(),
            user_id: format!("slack:{team}:{user}"),
            groups,
        };
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_of_another_team_are_guests() {
        assert_eq!(Membership::of("T0ACME", None), Membership::Member);
        assert_eq!(Membership::of("T0ACME", Some("T0ACME")), Membership::Member);
        assert_eq!(
            Membership::of("T0ACME", Some("T0PARTNER")),
            Membership::Guest
        );
    }
}
