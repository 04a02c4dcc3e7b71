//! `ragway widget-keys …`: a tenant's public web widget keys and the page origins they allow.

use clap::Subcommand;

use super::admin::catalog;
use super::out;
use crate::config::Config;
use crate::error::GatewayError;

#[derive(Debug, Subcommand)]
pub enum WidgetKeysCommand {
    /// Create a widget key usable from the given page origins; prints the embed tag.
    Create {
        #[arg(long)]
        tenant: String,
        #[arg(long, default_value = "intranet")]
        name: String,
        /// A page origin allowed to use the key (`https://intranet.acme.com`,
        /// `https://*.acme.com`); repeat for several.
        #[arg(long = "origin", required = true)]
        origins: Vec<String>,
    },
    /// List a tenant's widget keys with their origins.
    List {
        #[arg(long)]
        tenant: String,
    },
    /// Replace a key's allowed origins.
    SetOrigins {
        key: String,
        #[arg(long = "origin", required = true)]
        origins: Vec<String>,
    },
    /// Revoke a key: pages using it stop getting answers at once.
    Revoke { key: String },
}

pub async fn widget_keys(config: Config, command: WidgetKeysCommand) -> Result<(), GatewayError> {
    let catalog = catalog(&config).await?;
    match command {
        WidgetKeysCommand::Create {
            tenant,
            name,
            origins,
        } => {
            let key = catalog.create_widget_key(&tenant, &name, &origins).await?;
            out(format!(
                "created widget key {} ({}) for tenant {tenant}, allowed on {}",
                key.id,
                key.name,
                key.allowed_origins.join(", ")
            ));
            out("embed it in the intranet page (replace <gateway> with this server's address):");
            out(format!(
                "  <script src=\"https://<gateway>/widget/v1/loader.js\" data-widget-key=\"{}\" async></script>",
                key.id
            ));
        }
        WidgetKeysCommand::List { tenant } => {
            catalog.require_tenant(&tenant).await?;
            out(format!(
                "{:<28} {:<16} {:<8} origins",
                "key", "name", "status"
            ));
            for k in catalog.widget_keys(&tenant).await? {
                let status = if k.revoked_at.is_some() {
                    "revoked"
                } else {
                    "active"
                };
                out(format!(
                    "{:<28} {:<16} {:<8} {}",
                    k.id,
                    k.name,
                    status,
                    k.allowed_origins.join(", ")
                ));
            }
        }
        WidgetKeysCommand::SetOrigins { key, origins } => {
            let key = catalog
                .update_widget_key(&key, None, Some(&origins))
                .await?;
            out(format!(
                "widget key {} is now allowed on {}",
                key.id,
                key.allowed_origins.join(", ")
            ));
        }
        WidgetKeysCommand::Revoke { key } => {
            catalog.revoke_widget_key(&key).await?;
            out(format!("revoked widget key {key}"));
        }
    }
    Ok(())
}
