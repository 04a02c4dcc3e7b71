//! Everything a request needs, built once at start-up and shared (cheap to clone).

use std::sync::Arc;

use ragway_catalog::Catalog;
use ragway_ingest::chunk::Chunker;
use ragway_ingest::embed::{Bm25Encoder, Embedder};
use ragway_ingest::store::{EdgeStore, VectorStore};
use ragway_ingest::sync::Indexer;
use tokio_util::task::TaskTracker;

use crate::ask::cache::AnswerCache;
use crate::ask::{Prompts, Retriever};
use crate::config::Config;
use crate::copilot::{Profile, Profiles};
use crate::error::GatewayError;
use crate::http::touches::KeyTouches;
use crate::limits::Quotas;
use crate::limits::RateLimiter;
use crate::metrics::Metrics;
use crate::tenants::TenantDirectory;
use crate::usage::UsageRecorder;

#[derive(Debug, Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub catalog: Catalog,
    pub store: Arc<dyn VectorStore>,
    pub chunker: Arc<Chunker>,
    pub retriever: Retriever,
    pub indexer: Indexer,
    pub profiles: Arc<Profiles>,
    /// Per-tenant settings from the admin API (cached).
    pub tenants: TenantDirectory,
    pub prompts: Arc<Prompts>,
    pub limiter: Arc<dyn RateLimiter>,
    pub cache: Arc<AnswerCache>,
    pub metrics: Arc<Metrics>,
    /// Usage counted in memory until the next flush to the catalog.
    pub usage: Arc<UsageRecorder>,
    /// When each API key's `last_used_at` was last written (written at most once a minute).
    pub key_touches: Arc<KeyTouches>,
    /// Background work (key bookkeeping, streams) that shutdown waits for.
    pub tasks: TaskTracker,
    /// The Slack and Teams bots (when configured) and their clock.
    pub bots: crate::channels::bots::Bots,
    /// Live progress of the syncs this process runs; wakes the sync workers.
    pub jobs: crate::sources::SyncJobs,
    /// The web widget: session signing, identity verification, the demo page's key.
    pub widget: Arc<crate::channels::widget::Widget>,
}

impl AppState {
    /// Opens the catalog and the index in the data directory and builds the pipeline.
    pub async fn open(config: Config) -> Result<Self, GatewayError> {
        std::fs::create_dir_all(&config.data_dir).map_err(|e| {
            GatewayError::Config(format!(
                "cannot create the data directory {}: {e}",
                config.data_dir.display()
            ))
        })?;
        let catalog = Catalog::connect(&config.database_url()).await?;
        let embedder: Option<Arc<dyn Embedder>> = match &config.embeddings {
            Some(settings) => Some(settings.embedder().await?),
            None => None,
        };
        let store: Arc<dyn VectorStore> = Arc::new(
            EdgeStore::open(
                &config.index_dir(),
                embedder.as_ref().map(|e| e.dimensions()),
            )
            .await?,
        );
        let profiles = Arc::new(Profiles::build(&config)?);
        let chunker = Arc::new(ragway_ingest::chunk::Chunker::new(&config.chunking)?);
        let bm25 = Arc::new(Bm25Encoder::new(&config.bm25)?);
        let prompts = Arc::new(Prompts::load(config.prompts_dir.as_deref())?);
        let indexer = Indexer {
            catalog: catalog.clone(),
            store: Arc::clone(&store),
            chunker: Arc::clone(&chunker),
            bm25: Arc::clone(&bm25),
            embedder: embedder.clone(),
            max_document_bytes: config.ingest.max_document_bytes,
        };
        let limiter = config.limits.limiter().await?;
        let bots = crate::channels::bots::Bots::from_env(&config)?;
        let widget = Arc::new(crate::channels::widget::Widget::from_env(&config.widget)?);
        let metrics = Arc::new(Metrics::new(limiter.backend_errors()));
        let retriever = Retriever::new(
            Arc::clone(&store),
            bm25,
            embedder,
            config.retrieval.clone(),
            &config.cache,
            Arc::clone(&metrics),
        );
        Ok(Self {
            limiter,
            tenants: TenantDirectory::new(catalog.clone()),
            cache: Arc::new(AnswerCache::new(&config.cache, &metrics)),
            usage: Arc::new(UsageRecorder::new(Arc::clone(&metrics))),
            metrics,
            key_touches: Arc::new(KeyTouches::default()),
            config: Arc::new(config),
            catalog,
            store,
            chunker,
            retriever,
            indexer,
            profiles,
            prompts,
            tasks: TaskTracker::new(),
            bots,
            jobs: crate::sources::SyncJobs::default(),
            widget,
        })
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

    /// Adds the usage counted so far to the catalog (logged, and kept for later, if it fails).
    pub async fn flush_usage(&self) {
        if let Err(err) = self.usage.flush(&self.catalog).await {
            tracing::warn!(%err, "could not record usage; keeping it for the next flush");
        }
    }

    /// Marks sync runs left `running` by a process that died as failed. Call it only while holding
    /// the index (this process owns the data directory, so no other sync can be running).
    pub async fn recover_interrupted_syncs(&self) -> Result<(), GatewayError> {
        let interrupted = self.catalog.fail_interrupted_sync_runs().await?;
        if interrupted > 0 {
            tracing::warn!(
                interrupted,
                "marked sync runs left running by a stopped process as failed"
            );
        }
        Ok(())
    }
}
