//! The core context: what the ask lifecycle needs and nothing more — the catalog, the retriever,
//! prompts, profiles, tenant settings, limits, caches, usage and metrics. Channel runtimes (bots,
//! the widget, sync jobs) live beside it in `AppState`, never inside it.

use std::ops::Deref;
use std::sync::Arc;

use ragway_catalog::Catalog;
use ragway_ingest::chunk::Chunker;
use ragway_ingest::lang::Lang;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use crate::cache::AnswerCache;
use crate::config::Config;
use crate::copilot::{Profile, Profiles};
use crate::ground::Prompts;
use crate::identity::touches::KeyTouches;
use crate::limits::{Capacity, Quotas, RateLimiter};
use crate::metrics::Metrics;
use crate::retrieve::Retriever;
use crate::tenants::TenantDirectory;
use crate::usage::UsageRecorder;

/// The core context, shared: cloning it (every request's extractors and middleware do, several
/// times) copies one reference count instead of the dozens its parts hold.
#[derive(Debug, Clone)]
pub struct Core(Arc<CoreParts>);

#[derive(Debug, Clone)]
pub struct CoreParts {
    pub config: Arc<Config>,
    pub catalog: Catalog,
    pub retriever: Retriever,
    /// Counts tokens (prompt budgets, usage estimates) with the index's tokenizer.
    pub chunker: Arc<Chunker>,
    pub prompts: Arc<Prompts>,
    pub profiles: Arc<Profiles>,
    /// Per-tenant settings from the admin API (cached).
    pub tenants: TenantDirectory,
    pub limiter: Arc<dyn RateLimiter>,
    /// The process's bound on answers in progress (`server.max_answers_in_flight`).
    pub capacity: Arc<Capacity>,
    pub cache: Arc<AnswerCache>,
    pub metrics: Arc<Metrics>,
    /// Usage counted in memory until the next flush to the catalog.
    pub usage: Arc<UsageRecorder>,
    /// Background work (key bookkeeping, streams, bot answers) that shutdown waits for.
    pub tasks: TaskTracker,
    /// When each API key's `last_used_at` was last written (written at most once a minute).
    pub key_touches: Arc<KeyTouches>,
}

impl Core {
    pub fn new(parts: CoreParts) -> Self {
        Self(Arc::new(parts))
    }

    /// Replaces the configuration of this copy (a copy shared with others gets parts of its own).
    pub fn set_config(&mut self, config: Arc<Config>) {
        Arc::make_mut(&mut self.0).config = config;
    }

    /// The limits in force for a tenant: defaults, configuration overrides, then its settings.
    pub async fn quotas(&self, tenant_id: &str) -> Quotas {
        let settings = self.tenants.settings(tenant_id).await;
        self.config.limits.quotas_with(tenant_id, &settings.limits)
    }

    /// The copilot profiles a tenant may use, its default first.
    pub async fn tenant_profiles(&self, tenant_id: &str) -> Vec<Arc<Profile>> {
        let settings = self.tenants.settings(tenant_id).await;
        self.profiles
            .for_tenant(tenant_id, settings.copilot.as_ref())
    }

    /// The profile a request names (None: the tenant's default), or why it may not have it.
    pub async fn profile(
        &self,
        tenant_id: &str,
        requested: Option<&str>,
    ) -> Result<Arc<Profile>, String> {
        let settings = self.tenants.settings(tenant_id).await;
        self.profiles
            .resolve(tenant_id, settings.copilot.as_ref(), requested)
    }

    /// The language to speak to someone asking `text`: detected from the text, else the caller's
    /// hint, else the tenant's language, else the configured one. Channels call it for what they
    /// show before (or instead of) an answer, so it matches the answer's.
    pub async fn language(&self, tenant_id: &str, text: &str, hint: Option<Lang>) -> Lang {
        if let Some(lang) = ragway_ingest::lang::detect(text) {
            return lang;
        }
        if let Some(lang) = hint {
            return lang;
        }
        let settings = self.tenants.settings(tenant_id).await;
        settings.language.unwrap_or(self.config.language)
    }

    /// Runs background work a request started (a bot's answer) tracked for shutdown, in a child
    /// span of the request's, so its logs and spans keep the request's trace.
    pub fn spawn_background<F>(&self, channel: &'static str, work: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let span = tracing::info_span!("background", channel);
        self.tasks.spawn(work.instrument(span));
    }

    /// Adds the usage counted so far to the catalog (logged, and kept for later, if it fails).
    pub async fn flush_usage(&self) {
        if let Err(err) = self.usage.flush(&self.catalog).await {
            tracing::warn!(%err, "could not record usage; keeping it for the next flush");
        }
    }
}

impl Deref for Core {
    type Target = CoreParts;

    fn deref(&self) -> &CoreParts {
        &self.0
    }
}
