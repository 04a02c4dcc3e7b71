//! The gateway's shared state, built once at start-up (cheap to clone): the core context plus
//! the index, its sync pipeline and the sync jobs. The admin API, the sync workers and the CLI
//! work on it; channels take only the core and their own runtime (see `server`).

use std::sync::Arc;

use ragway_catalog::{Catalog, TRIGGER_RECOVERY};
use ragway_ingest::embed::{Bm25Encoder, Embedder};
use ragway_ingest::store::VectorStore;
use ragway_ingest::sync::Indexer;
use tokio_util::task::TaskTracker;

use crate::cache::AnswerCache;
use crate::config::Config;
use crate::context::{Core, CoreParts};
use crate::copilot::Profiles;
use crate::error::GatewayError;
use crate::ground::Prompts;
use crate::identity::touches::KeyTouches;
use crate::limits::Capacity;
use crate::metrics::Metrics;
use crate::retrieve::Retriever;
use crate::sync_jobs::SyncJobs;
use crate::tenants::TenantDirectory;
use crate::usage::UsageRecorder;

#[derive(Debug, Clone)]
pub struct AppState {
    pub core: Core,
    pub store: Arc<dyn VectorStore>,
    pub indexer: Indexer,
    /// Live progress of the syncs this process runs; wakes the sync workers.
    pub jobs: SyncJobs,
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
        let store = config
            .index
            .open(
                &config.index_dir(),
                embedder.as_ref().map(|e| e.dimensions()),
            )
            .await?;
        let circuits = crate::metrics::CircuitGauges::default();
        let profiles = Arc::new(Profiles::build_with_circuits(&config, &circuits)?);
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
            write_batch_points: config.ingest.write_batch_points,
            flush_interval: config.ingest.flush_interval(),
            rewrite_all: false,
        };
        let limiter = config.limits.limiter().await?;
        let metrics = Arc::new(Metrics::new(limiter.backend_errors(), circuits));
        let retriever = Retriever::new(
            Arc::clone(&store),
            bm25,
            embedder,
            config.retrieval.clone(),
            &config.cache,
            Arc::clone(&metrics),
        );
        let capacity = Arc::new(Capacity::new(
            config.server.max_answers_in_flight,
            metrics.answers_in_flight.clone(),
            metrics.capacity_refusals.clone(),
        ));
        let core = Core::new(CoreParts {
            limiter,
            capacity,
            tenants: TenantDirectory::new(catalog.clone()),
            cache: Arc::new(AnswerCache::new(&config.cache, &metrics)),
            usage: Arc::new(UsageRecorder::new(Arc::clone(&metrics))),
            metrics,
            config: Arc::new(config),
            catalog,
            chunker,
            retriever,
            profiles,
            prompts,
            tasks: TaskTracker::new(),
            key_touches: Arc::new(KeyTouches::default()),
        });
        Ok(Self {
            core,
            store,
            indexer,
            jobs: SyncJobs::default(),
        })
    }

    /// Fails the sync runs whose process died and queues their sources again (re-running
    /// converges: point ids are deterministic and the manifest records only durable documents).
    /// With the embedded index this process owns the data directory, so every running sync was
    /// interrupted; with a shared index only those whose heartbeat is older than the lease.
    pub async fn recover_interrupted_syncs(&self) -> Result<(), GatewayError> {
        let cutoff = self.core.config.index.is_shared().then(|| {
            let lease = chrono::Duration::seconds(
                i64::try_from(self.core.config.sources.sync_lease_secs).unwrap_or(i64::MAX),
            );
            (chrono::Utc::now() - lease).to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
        });
        let catalog = &self.core.catalog;
        for run in catalog.fail_stale_sync_runs(cutoff.as_deref()).await? {
            tracing::warn!(run = %run.id, source = %run.source_id, "a sync was interrupted by a stopped process; queued again");
            match catalog
                .enqueue_sync(&run.tenant_id, &run.source_id, TRIGGER_RECOVERY)
                .await
            {
                Ok(_) => self.jobs.wake(),
                Err(err) => {
                    tracing::warn!(%err, source = %run.source_id, "cannot queue the interrupted sync again");
                }
            }
        }
        Ok(())
    }
}
