//! `ragway widget-keys …`: a tenant's public web widget keys and the page origins they allow.

use clap::Subcommand;

use super::admin::catalog;
use super::{out, output_lang};
use crate::config::Config;
use crate::error::GatewayError;
use crate::i18n::{fill, messages};

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
    let m = messages(output_lang(None, &config));
    let catalog = catalog(&config).await?;
    match command {
        WidgetKeysCommand::Create {
            tenant,
            name,
            origins,
        } => {
            let key = catalog.create_widget_key(&tenant, &name, &origins).await?;
            let origins = key.allowed_origins.join(", ");
            out(fill(
                m.widget_key_created,
                &[
                    ("id", &key.id),
                    ("name", &key.name),
                    ("tenant", &tenant),
                    ("origins", &origins),
                ],
            ));
            out(m.widget_key_embed);
            out(format!(
                "  <script src=\"https://<gateway>/widget/v1/loader.js\" data-widget-key=\"{}\" async></script>",
                key.id
            ));
        }
        WidgetKeysCommand::List { tenant } => {
            catalog.require_tenant(&tenant).await?;
            let h: Vec<&str> = m.widget_key_list_header.split('|').collect();
            out(format!("{:<28} {:<16} {:<8} {}", h[0], h[1], h[2], h[3]));
            for k in catalog.widget_keys(&tenant).await? {
                let status = if k.revoked_at.is_some() {
                    m.key_revoked_status
                } else {
                    m.key_active_status
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
            let origins = key.allowed_origins.join(", ");
            out(fill(
                m.widget_key_origins,
                &[("id", &key.id), ("origins", &origins)],
            ));
        }
        WidgetKeysCommand::Revoke { key } => {
            catalog.revoke_widget_key(&key).await?;
            out(fill(m.widget_key_revoked, &[("id", &key)]));
        }
    }
    Ok(())
}
