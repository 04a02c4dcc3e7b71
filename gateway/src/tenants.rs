//! Per-tenant settings set through the admin API — limits and copilot profiles — applied on top
//! of `ragway.toml`. Read on the request path through a short-lived cache: the replica that
//! changes them applies the change at once, the others within `SETTINGS_TTL`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use std::path::Path;

use ragway_catalog::Catalog;
use ragway_ingest::lang::Lang;
use serde::{Deserialize, Serialize};

use crate::config::TenantCopilotConfig;
use crate::ground::Prompts;
use crate::limits::TenantLimitOverrides;

const SETTINGS_TTL: Duration = Duration::from_secs(10);

/// What an administrator may set for one tenant; unset parts keep the configuration's.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TenantSettings {
    /// Limit overrides (requests, tokens, concurrent answers); a missing field keeps the default.
    #[serde(default)]
    pub limits: TenantLimitOverrides,
    /// The copilot profiles the tenant may use and its default (default: the configuration's).
    #[serde(default)]
    pub copilot: Option<TenantCopilotConfig>,
    /// The tenant's own prompt templates (minijinja, same variables as `prompts/`), by name:
    /// `system`, `answer`, `rewrite_system`, `rewrite` for every language, or `es.system`,
    /// `en.answer`, … for one (which wins over the general one); the others stay the
    /// configuration's.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub prompts: BTreeMap<String, String>,
    /// The tenant's language (`es` or `en`): answers to questions too short to tell which
    /// language they are in, and messages sent before any question. Default: `[i18n] language`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, example = "es")]
    pub language: Option<Lang>,
}

/// The largest prompt template a tenant may set.
pub const MAX_TEMPLATE_BYTES: usize = 16 * 1024;

#[derive(Clone)]
pub struct TenantDirectory {
    catalog: Catalog,
    cache: moka::future::Cache<String, Arc<TenantSettings>>,
    /// Prompt sets compiled with tenants' own templates, by the digest of those templates.
    prompts: moka::future::Cache<String, Arc<Prompts>>,
}

impl std::fmt::Debug for TenantDirectory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TenantDirectory").finish_non_exhaustive()
    }
}

impl TenantDirectory {
    pub fn new(catalog: Catalog) -> Self {
        Self {
            catalog,
            cache: moka::future::Cache::builder()
                .max_capacity(100_000)
                .time_to_live(SETTINGS_TTL)
                .build(),
            prompts: moka::future::Cache::builder().max_capacity(1_000).build(),
        }
    }

    /// The prompts a tenant's answers use: `base` unless the tenant set its own templates.
    /// Templates are checked when stored, so a failure here (only a changed `prompts_dir`) is
    /// logged and answered with `base`.
    pub async fn prompts(
        &self,
        tenant_id: &str,
        base: &Arc<Prompts>,
        dir: Option<&Path>,
    ) -> Arc<Prompts> {
        let settings = self.settings(tenant_id).await;
        if settings.prompts.is_empty() {
            return Arc::clone(base);
        }
        let key = serde_json::to_string(&settings.prompts).unwrap_or_default();
        let key = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(key.as_bytes()));
        let compiled = self
            .prompts
            .try_get_with(key, async {
                Prompts::with_overrides(dir, &settings.prompts).map(Arc::new)
            })
            .await;
        compiled.unwrap_or_else(|err| {
            tracing::error!(tenant = %tenant_id, %err, "the tenant's prompt templates fail; using the configured ones");
            Arc::clone(base)
        })
    }

    /// The tenant's settings. If the catalog cannot be read they are taken as unset (the
    /// configuration applies) and the failure is logged: a settings read never fails a request.
    pub async fn settings(&self, tenant_id: &str) -> Arc<TenantSettings> {
        if let Some(settings) = self.cache.get(tenant_id).await {
            return settings;
        }
        let settings = match self.catalog.tenant_settings(tenant_id).await {
            Ok(Some(text)) => serde_json::from_str(&text).unwrap_or_else(|err| {
                tracing::error!(tenant = %tenant_id, %err, "unreadable tenant settings; using the configuration");
                TenantSettings::default()
            }),
            Ok(None) => TenantSettings::default(),
            Err(err) => {
                tracing::warn!(tenant = %tenant_id, %err, "cannot read tenant settings; using the configuration");
                return Arc::new(TenantSettings::default());
            }
        };
        let settings = Arc::new(settings);
        self.cache
            .insert(tenant_id.to_owned(), Arc::clone(&settings))
            .await;
        settings
    }

    /// Stores new settings (validated by the caller) and applies them on this replica at once.
    pub async fn store(
        &self,
        tenant_id: &str,
        settings: &TenantSettings,
    ) -> Result<(), crate::error::GatewayError> {
        let text = serde_json::to_string(settings)
            .map_err(|e| crate::error::GatewayError::BadRequest(e.to_string()))?;
        self.catalog.set_tenant_settings(tenant_id, &text).await?;
        self.cache.invalidate(tenant_id).await;
        Ok(())
    }
}
