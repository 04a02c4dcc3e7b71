//! `ragway admin-keys`: bootstrap of the admin API's credentials (only whoever runs the server
//! can create them) and `ragway usage`.

use clap::{Args, Subcommand};

use super::admin::catalog;
use super::{out, output_lang};
use crate::config::Config;
use crate::error::GatewayError;
use crate::i18n::{fill, messages};
use crate::usage::{UsageCounts, UsageReport, period};

#[derive(Debug, Subcommand)]
pub enum AdminKeysCommand {
    /// Create an admin key, global or scoped to one tenant; printed once, never shown again.
    Create {
        /// Scope the key to this tenant (default: every tenant).
        #[arg(long)]
        tenant: Option<String>,
        #[arg(long, default_value = "admin")]
        name: String,
        /// The key stops working after this many days (default: never).
        #[arg(long)]
        expires_in_days: Option<u32>,
    },
    /// List admin keys (ids, scope and names, never the secrets).
    List,
    /// Revoke an admin key by its id (the 8 characters after `rgwadm_`).
    Revoke { id: String },
}

pub async fn admin_keys(config: Config, command: AdminKeysCommand) -> Result<(), GatewayError> {
    let m = messages(output_lang(None, &config));
    let catalog = catalog(&config).await?;
    match command {
        AdminKeysCommand::Create {
            tenant,
            name,
            expires_in_days,
        } => {
            let expires_at = expires_in_days
                .map(crate::identity::expiry::expiry_in_days)
                .transpose()
                .map_err(GatewayError::BadRequest)?;
            let (record, secret) = catalog
                .create_expiring_admin_key(tenant.as_deref(), &name, expires_at.as_deref())
                .await?;
            let scope = record.tenant_id.as_deref().map_or_else(
                || m.admin_key_scope_all.to_owned(),
                |t| fill(m.admin_key_scope_tenant, &[("id", &t)]),
            );
            out(fill(
                m.admin_key_created,
                &[
                    ("id", &record.id),
                    ("name", &record.name),
                    ("scope", &scope),
                ],
            ));
            out(m.key_store_now);
            out(secret);
        }
        AdminKeysCommand::List => {
            let h: Vec<&str> = m.admin_key_list_header.split('|').collect();
            out(format!(
                "{:<10} {:<20} {:<16} {:<26} {}",
                h[0], h[1], h[2], h[3], h[4]
            ));
            for k in catalog.admin_keys().await? {
                let status = if k.revoked_at.is_some() {
                    m.key_revoked_status.to_owned()
                } else if k.is_expired() {
                    m.key_expired_status.to_owned()
                } else if let Some(at) = &k.expires_at {
                    fill(m.key_active_until_status, &[("at", at)])
                } else {
                    m.key_active_status.to_owned()
                };
                out(format!(
                    "{:<10} {:<20} {:<16} {:<26} {status}",
                    k.id,
                    k.name,
                    k.tenant_id.as_deref().unwrap_or(m.admin_key_all_tenants),
                    k.created_at
                ));
            }
        }
        AdminKeysCommand::Revoke { id } => {
            catalog.revoke_admin_key(&id).await?;
            out(fill(m.admin_key_revoked, &[("id", &id)]));
        }
    }
    Ok(())
}

#[derive(Debug, Args)]
pub struct UsageArgs {
    #[arg(long)]
    tenant: String,
    /// First UTC day, YYYY-MM-DD (default: 30 days before --to).
    #[arg(long)]
    from: Option<String>,
    /// Last UTC day, inclusive (default: today).
    #[arg(long)]
    to: Option<String>,
    /// Per user as well as per day.
    #[arg(long)]
    users: bool,
    /// Print the report as JSON (the admin API's shape).
    #[arg(long)]
    json: bool,
}

fn refused(counts: &UsageCounts) -> String {
    if counts.refused.is_empty() {
        return "-".into();
    }
    counts
        .refused
        .iter()
        .map(|(limit, n)| format!("{limit}={n}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn line(label: &str, c: &UsageCounts) -> String {
    format!(
        "{label:<28} {:>9} {:>10} {:>13} {:>17}  {}",
        c.requests,
        c.cache_hits,
        c.prompt_tokens,
        c.completion_tokens,
        refused(c)
    )
}

/// `ragway usage --tenant …`: what the tenant used, per day (and user), from the catalog.
pub async fn usage(config: Config, args: UsageArgs) -> Result<(), GatewayError> {
    let catalog = catalog(&config).await?;
    catalog.require_tenant(&args.tenant).await?;
    let (from, to) =
        period(args.from.as_deref(), args.to.as_deref()).map_err(GatewayError::BadRequest)?;
    let rows = catalog.usage(&args.tenant, &from, &to).await?;
    let report = UsageReport::from_rows(&args.tenant, &from, &to, &rows);
    if args.json {
        let json = serde_json::to_string_pretty(&report)
            .map_err(|e| GatewayError::BadRequest(e.to_string()))?;
        out(json);
        return Ok(());
    }
    let m = messages(output_lang(None, &config));
    out(fill(
        m.usage_title,
        &[("tenant", &args.tenant), ("from", &from), ("to", &to)],
    ));
    let h: Vec<&str> = m.usage_header.split('|').collect();
    out(format!(
        "{:<28} {:>9} {:>10} {:>13} {:>17}  {}",
        h[0], h[1], h[2], h[3], h[4], h[5]
    ));
    for day in &report.days {
        out(line(&day.day, &day.counts));
        if args.users {
            for user in &day.users {
                out(line(&format!("  {}", user.user_id), &user.counts));
            }
        }
    }
    out(line(m.usage_total, &report.totals));
    Ok(())
}
