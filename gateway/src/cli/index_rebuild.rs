//! `ragway index rebuild`: re-indexes every source into a new generation of the Qdrant collection
//! with the current analysis settings (a new embedding model, new chunking, new BM25 analysis),
//! while questions keep being answered from the current generation; then points the alias at the
//! new one in one atomic step. `ragway index switch N` points it back (the previous generation is
//! kept until `--drop-previous` or `ragway index drop N`).

use std::sync::Arc;

use ragway_catalog::{Catalog, SourceRecord};
use ragway_ingest::chunk::Chunker;
use ragway_ingest::embed::{Bm25Encoder, Embedder};
use ragway_ingest::store::{Generation, Generations, QdrantSettings, QdrantStore, VectorStore};
use ragway_ingest::sync::Indexer;

use super::out;
use crate::config::{Config, IndexBackend};
use crate::error::GatewayError;
use crate::sources::{SourceKind, plan::sync_plan, upload_copy, upload_dir};
use crate::tenants::TenantDirectory;

/// What a rebuild produced.
#[derive(Debug, Clone, PartialEq)]
pub struct RebuildReport {
    pub generation: Generation,
    pub previous: Option<Generation>,
    /// Points per tenant in the new generation.
    pub tenants: Vec<(String, usize)>,
    /// Documents that could not be read (`uri: reason`); they are missing from the new generation.
    pub failures: Vec<String>,
}

fn qdrant_settings(config: &Config) -> Result<QdrantSettings, GatewayError> {
    if config.index.backend != IndexBackend::Qdrant {
        return Err(GatewayError::Config(
            "`ragway index rebuild` needs [index] backend = \"qdrant\" (generations behind an alias); \
             the embedded index re-indexes in place on the next sync when the analysis changes"
                .into(),
        ));
    }
    config
        .index
        .qdrant_settings(&|name| std::env::var(name).ok())
}

/// Builds the next generation from every source of every tenant, switches the alias to it, and
/// drops the previous generation when `drop_previous`. Every folder source is checked first, as
/// each sync checks it (the rules it was registered under, `[sources] folder_roots` as configured
/// now): one refused stops the rebuild before anything is built, since a generation without its
/// documents would lose them once switched to.
pub async fn rebuild(config: &Config, drop_previous: bool) -> Result<RebuildReport, GatewayError> {
    let settings = qdrant_settings(config)?;
    let generations = Generations::new(&settings)?;
    let catalog = Catalog::connect(&config.database_url()).await?;
    check_folders(config, &catalog).await?;
    let embedder: Option<Arc<dyn Embedder>> = match &config.embeddings {
        Some(embeddings) => Some(embeddings.embedder().await?),
        None => None,
    };
    let next = generations.next().await?;
    let store = Arc::new(
        QdrantStore::for_generation(&settings, &next, embedder.as_ref().map(|e| e.dimensions()))
            .await?,
    );
    let indexer = Indexer {
        catalog: catalog.clone(),
        store: Arc::clone(&store) as Arc<dyn VectorStore>,
        chunker: Arc::new(Chunker::new(&config.chunking)?),
        bm25: Arc::new(Bm25Encoder::new(&config.bm25)?),
        embedder,
        max_document_bytes: config.ingest.max_document_bytes,
        write_batch_points: config.ingest.write_batch_points,
        flush_interval: config.ingest.flush_interval(),
        rewrite_all: true,
    };
    let tenants = TenantDirectory::new(catalog.clone());
    let mut failures = Vec::new();
    for tenant in catalog.tenants().await? {
        let language = tenants.settings(&tenant.id).await.language;
        for source in catalog.sources(&tenant.id).await? {
            out(format!(
                "{}: re-indexing {} into {}",
                tenant.id, source.name, next.collection
            ));
            let report = reindex(config, &catalog, &indexer, &source, language).await?;
            failures.extend(
                report
                    .failures
                    .into_iter()
                    .map(|f| format!("{}: {}", f.uri, f.reason)),
            );
        }
    }
    let mut counts = Vec::new();
    for tenant in catalog.tenants().await? {
        let points = store.count(&tenant.id).await?;
        counts.push((tenant.id, points));
    }
    let previous = generations.switch_to(&next).await?;
    // Cached answers and retrievals were computed from the previous generation.
    for (tenant, _) in &counts {
        catalog.bump_generation(tenant).await?;
    }
    if drop_previous && let Some(previous) = &previous {
        generations.drop(previous).await?;
    }
    Ok(RebuildReport {
        generation: next,
        previous,
        tenants: counts,
        failures,
    })
}

/// Refuses the rebuild, naming each, when a folder source's folder is no longer allowed (or
/// cannot be read): the operator allows it, removes the source or adopts it, then rebuilds.
async fn check_folders(config: &Config, catalog: &Catalog) -> Result<(), GatewayError> {
    let mut refused = Vec::new();
    for tenant in catalog.tenants().await? {
        for source in catalog.sources(&tenant.id).await? {
            if source.kind != SourceKind::Folder.as_str() {
                continue;
            }
            if let Err(err) = sync_plan(config, &source, None) {
                refused.push(format!("{} / {}: {err}", tenant.id, source.name));
            }
        }
    }
    if refused.is_empty() {
        return Ok(());
    }
    Err(GatewayError::Config(format!(
        "not rebuilding: {} folder source(s) cannot be synced; questions are still answered from \
         the current generation. {}",
        refused.len(),
        refused.join("; ")
    )))
}

/// One source into the new generation, recorded as a sync run like any other.
async fn reindex(
    config: &Config,
    catalog: &Catalog,
    indexer: &Indexer,
    source: &SourceRecord,
    language: Option<ragway_ingest::lang::Lang>,
) -> Result<ragway_ingest::SyncReport, GatewayError> {
    if source.kind == SourceKind::Upload.as_str() {
        let dir = upload_dir(&config.data_dir, &source.id);
        upload_copy::check_out(catalog, &source.id, &dir)
            .await
            .map_err(|e| GatewayError::Config(e.to_string()))?;
    }
    let plan = sync_plan(config, source, language).map_err(|e| {
        GatewayError::Config(format!(
            "source {} of {}: {e}; questions are still answered from the current generation",
            source.name, source.tenant_id
        ))
    })?;
    let run = catalog
        .start_sync_run(&source.tenant_id, &source.id)
        .await
        .map_err(|e| {
            GatewayError::Config(format!(
                "source {} of {}: {e}; run the rebuild while no sync runs (sync_workers = 0 on the \
                 gateways, no `ragway sync`)",
                source.name, source.tenant_id
            ))
        })?;
    Ok(indexer.sync(source, &run, plan, &|_| {}).await?)
}

async fn find(
    generations: &Generations,
    settings: &QdrantSettings,
    number: u32,
) -> Result<Generation, GatewayError> {
    generations
        .all()
        .await?
        .into_iter()
        .find(|g| g.number == number)
        .ok_or_else(|| {
            GatewayError::Config(format!(
                "there is no generation {number} of {}",
                settings.collection
            ))
        })
}

/// Points the alias at generation `number` (a rollback after a rebuild).
pub async fn switch(config: &Config, number: u32) -> Result<Option<Generation>, GatewayError> {
    let settings = qdrant_settings(config)?;
    let generations = Generations::new(&settings)?;
    let target = find(&generations, &settings, number).await?;
    Ok(generations.switch_to(&target).await?)
}

/// Drops generation `number`, unless questions are answered from it.
pub async fn drop_generation(config: &Config, number: u32) -> Result<Generation, GatewayError> {
    let settings = qdrant_settings(config)?;
    let generations = Generations::new(&settings)?;
    if generations
        .current()
        .await?
        .is_some_and(|g| g.number == number)
    {
        return Err(GatewayError::Config(format!(
            "generation {number} is the one questions are answered from; switch to another first"
        )));
    }
    let target = find(&generations, &settings, number).await?;
    generations.drop(&target).await?;
    Ok(target)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// A folder source its rules no longer allow stops the rebuild before a generation is built
    /// (the check needs no index); the operator's folders anywhere do not.
    #[tokio::test]
    async fn a_refused_folder_stops_the_rebuild_before_anything_is_built() {
        let data = tempfile::tempdir().unwrap();
        let docs = tempfile::tempdir().unwrap();
        let config = Config {
            data_dir: data.path().to_path_buf(),
            ..Config::default()
        };
        let catalog = Catalog::connect(&config.database_url()).await.unwrap();
        catalog.ensure_tenant("acme").await.unwrap();
        let path = docs.path().canonicalize().unwrap();
        let folder = |by: &str| json!({"path": path, "registered_by": by});
        catalog
            .create_source("acme", "cli", "folder", &folder("operator"), None)
            .await
            .unwrap();
        catalog
            .create_source("acme", "files", "upload", &json!({}), None)
            .await
            .unwrap();
        check_folders(&config, &catalog).await.unwrap();
        catalog
            .create_source("acme", "api", "folder", &folder("tenant_admin"), None)
            .await
            .unwrap();
        let err = check_folders(&config, &catalog)
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("not rebuilding: 1 folder source(s) cannot be synced"),
            "{err}"
        );
        assert!(
            err.contains(&format!(
                "acme / api: folder `{}` is no longer inside the allowed folders",
                path.display()
            )),
            "{err}"
        );
    }
}
