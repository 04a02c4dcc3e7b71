use clap::Subcommand;
use ragway_ingest::Catalog;

use super::out;
use crate::config::Config;
use crate::error::GatewayError;

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
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create an API key for a tenant; the key is printed once and cannot be shown again.
    Create {
        #[arg(long)]
        tenant: String,
        #[arg(long, default_value = "default")]
        name: String,
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
    let catalog = catalog(&config).await?;
    match command {
        TenantsCommand::Create { id, name } => {
            let tenant = catalog
                .create_tenant(&id, name.as_deref().unwrap_or(&id))
                .await?;
            out(format!("created tenant {}", tenant.id));
        }
        TenantsCommand::List => {
            out(format!(
                "{:<24} {:<32} {:>10}  created",
                "id", "name", "generation"
            ));
            for t in catalog.tenants().await? {
                out(format!(
                    "{:<24} {:<32} {:>10}  {}",
                    t.id, t.display_name, t.generation, t.created_at
                ));
            }
        }
    }
    Ok(())
}

pub async fn keys(config: Config, command: KeysCommand) -> Result<(), GatewayError> {
    let catalog = catalog(&config).await?;
    match command {
        KeysCommand::Create { tenant, name } => {
            let key = catalog.create_api_key(&tenant, &name).await?;
            out(format!(
                "created API key {} ({}) for tenant {}",
                key.record.id, key.record.name, tenant
            ));
            out("store it now: it is shown only once");
            out(key.secret);
        }
        KeysCommand::List { tenant } => {
            catalog.require_tenant(&tenant).await?;
            out(format!(
                "{:<10} {:<20} {:<26} {:<26} status",
                "id", "name", "created", "last used"
            ));
            for k in catalog.api_keys(&tenant).await? {
                let status = if k.revoked_at.is_some() {
                    "revoked"
                } else {
                    "active"
                };
                out(format!(
                    "{:<10} {:<20} {:<26} {:<26} {status}",
                    k.id,
                    k.name,
                    k.created_at,
                    k.last_used_at.as_deref().unwrap_or("never")
                ));
            }
        }
        KeysCommand::Revoke { id } => {
            catalog.revoke_api_key(&id).await?;
            out(format!("revoked API key {id}"));
        }
    }
    Ok(())
}
