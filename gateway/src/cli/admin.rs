use clap::Subcommand;
use ragway_catalog::Catalog;

use super::{out, output_lang};
use crate::config::Config;
use crate::error::GatewayError;
use crate::i18n::{fill, messages};

#[derive(Debug, Subcommand)]
pub enum TenantsCommand {
    /// Create a tenant (id: lowercase letters, digits, '-' or '_').
    Create {
        id: String,
        /// Display name (default: the id).
        #[arg(long)]
        name: Option<String>,
    },
    /// List tenants.
    List,
    /// Show a tenant: documents, passages, sources and active keys.
    Show { id: String },
    /// Change a tenant's display name.
    Rename {
        id: String,
        #[arg(long)]
        name: String,
    },
    /// Delete a tenant with its index passages, documents, sources, keys and conversations.
    /// Stop `ragway serve` first (the embedded index is single-process).
    Delete {
        id: String,
        /// Confirm: this cannot be undone.
        #[arg(long)]
        yes: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create an API key for a tenant; the key is printed once and cannot be shown again.
    Create {
        #[arg(long)]
        tenant: String,
        #[arg(long, default_value = "default")]
        name: String,
        /// The key stops working after this many days (default: never).
        #[arg(long)]
        expires_in_days: Option<u32>,
        /// Bind the key to a user id (its usage and conversations are that user's).
        #[arg(long)]
        user: Option<String>,
        /// A group the key's caller belongs to, for document ACLs (repeat for several).
        #[arg(long = "group")]
        groups: Vec<String>,
    },
    /// List a tenant's keys (ids and names, never the secrets).
    List {
        #[arg(long)]
        tenant: String,
    },
    /// Revoke a key by its id (the 8 characters after `rgw_`).
    Revoke { id: String },
}

pub(super) async fn catalog(config: &Config) -> Result<Catalog, GatewayError> {
    std::fs::create_dir_all(&config.data_dir)?;
    Ok(Catalog::connect(&config.database_url()).await?)
}

pub async fn tenants(config: Config, command: TenantsCommand) -> Result<(), GatewayError> {
    let m = messages(output_lang(None, &config));
    if let TenantsCommand::Show { id } = &command {
        return show_tenant(config, id).await;
    }
    if let TenantsCommand::Delete { id, yes } = &command {
        return delete_tenant(config, id, *yes).await;
    }
    let catalog = catalog(&config).await?;
    match command {
        TenantsCommand::Create { id, name } => {
            let tenant = catalog
                .create_tenant(&id, name.as_deref().unwrap_or(&id))
                .await?;
            out(fill(m.tenant_created, &[("id", &tenant.id)]));
        }
        TenantsCommand::List => {
            let h: Vec<&str> = m.tenant_list_header.split('|').collect();
            out(format!("{:<24} {:<32} {:>10}  {}", h[0], h[1], h[2], h[3]));
            for t in catalog.tenants().await? {
                out(format!(
                    "{:<24} {:<32} {:>10}  {}",
                    t.id, t.display_name, t.generation, t.created_at
                ));
            }
        }
        TenantsCommand::Rename { id, name } => {
            let tenant = catalog.rename_tenant(&id, name.trim()).await?;
            out(fill(
                m.tenant_renamed,
                &[("id", &tenant.id), ("name", &tenant.display_name)],
            ));
        }
        TenantsCommand::Show { .. } | TenantsCommand::Delete { .. } => {}
    }
    Ok(())
}

/// `tenants show`: opens the index too, for the passage count.
async fn show_tenant(config: Config, id: &str) -> Result<(), GatewayError> {
    let m = messages(output_lang(None, &config));
    let state = crate::state::AppState::open(config).await?;
    let tenant = state.core.catalog.require_tenant(id).await?;
    let keys = state.core.catalog.api_keys(id).await?;
    let active = keys.iter().filter(|k| k.revoked_at.is_none()).count();
    let l: Vec<&str> = m.tenant_show_labels.split('|').collect();
    out(format!(
        "{:<12}{} ({})",
        l[0], tenant.id, tenant.display_name
    ));
    out(format!("{:<12}{}", l[1], tenant.created_at));
    out(format!("{:<12}{}", l[2], tenant.generation));
    out(format!(
        "{:<12}{}",
        l[3],
        state.core.catalog.document_count(id).await?
    ));
    out(format!("{:<12}{}", l[4], state.store.count(id).await?));
    let sources: Vec<String> = state
        .core
        .catalog
        .sources(id)
        .await?
        .into_iter()
        .map(|s| s.name)
        .collect();
    out(format!(
        "{:<12}{}",
        l[5],
        if sources.is_empty() {
            "-".into()
        } else {
            sources.join(", ")
        }
    ));
    let revoked = keys.len() - active;
    out(format!(
        "{:<12}{}",
        l[6],
        fill(
            m.tenant_keys_summary,
            &[("active", &active), ("revoked", &revoked)]
        )
    ));
    Ok(())
}

/// `tenants delete`: the index passages first, then the catalog (a crash in between leaves the
/// tenant listed, so the deletion can simply be repeated).
async fn delete_tenant(config: Config, id: &str, yes: bool) -> Result<(), GatewayError> {
    let m = messages(output_lang(None, &config));
    if !yes {
        return Err(GatewayError::BadRequest(format!(
            "deleting tenant {id} removes its passages, documents, sources, keys and conversations and cannot be undone; add --yes"
        )));
    }
    let state = crate::state::AppState::open(config).await?;
    state.core.catalog.require_tenant(id).await?;
    let crate::tenant_removal::Removed {
        chunks: passages,
        catalog: removed,
        ..
    } = crate::tenant_removal::delete_tenant(&state, id).await?;
    out(fill(
        m.tenant_deleted,
        &[
            ("id", &id),
            ("passages", &passages),
            ("documents", &removed.documents),
            ("sources", &removed.sources),
            ("keys", &removed.api_keys),
            ("admin_keys", &removed.admin_keys),
            ("conversations", &removed.conversations),
        ],
    ));
    Ok(())
}

pub async fn keys(config: Config, command: KeysCommand) -> Result<(), GatewayError> {
    let m = messages(output_lang(None, &config));
    let catalog = catalog(&config).await?;
    match command {
        KeysCommand::Create {
            tenant,
            name,
            expires_in_days,
            user,
            groups,
        } => {
            let expires_at = expires_in_days
                .map(crate::identity::expiry::expiry_in_days)
                .transpose()
                .map_err(GatewayError::BadRequest)?;
            let new = ragway_catalog::NewApiKey {
                name: &name,
                expires_at: expires_at.as_deref(),
                user_id: user.as_deref(),
                groups: &groups,
            };
            let key = catalog.create_api_key_with(&tenant, &new).await?;
            out(fill(
                m.key_created,
                &[
                    ("id", &key.record.id),
                    ("name", &key.record.name),
                    ("tenant", &tenant),
                ],
            ));
            out(m.key_store_now);
            out(key.secret);
        }
        KeysCommand::List { tenant } => {
            catalog.require_tenant(&tenant).await?;
            let h: Vec<&str> = m.key_list_header.split('|').collect();
            out(format!(
                "{:<10} {:<20} {:<26} {:<26} {}",
                h[0], h[1], h[2], h[3], h[4]
            ));
            for k in catalog.api_keys(&tenant).await? {
                let status = if k.revoked_at.is_some() {
                    m.key_revoked_status
                } else {
                    m.key_active_status
                };
                out(format!(
                    "{:<10} {:<20} {:<26} {:<26} {status}",
                    k.id,
                    k.name,
                    k.created_at,
                    k.last_used_at.as_deref().unwrap_or(m.key_never_used)
                ));
            }
        }
        KeysCommand::Revoke { id } => {
            catalog.revoke_api_key(&id).await?;
            out(fill(m.key_revoked, &[("id", &id)]));
        }
    }
    Ok(())
}
