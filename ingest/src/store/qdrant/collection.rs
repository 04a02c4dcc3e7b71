//! The collection behind the configured name: created on first use as generation 1 with an alias
//! pointing at it, checked on every start (never silently recreated), and switched atomically to
//! a newer generation when a re-index completes.

use std::time::{Duration, Instant};

use qdrant_client::Qdrant;
use qdrant_client::qdrant::{
    CountPointsBuilder, CreateAliasBuilder, CreateCollectionBuilder,
    CreateFieldIndexCollectionBuilder, DeleteCollectionBuilder, Distance, FieldType,
    GetCollectionInfoResponse, KeywordIndexParamsBuilder, Modifier, ScalarQuantizationBuilder,
    SparseVectorParamsBuilder, SparseVectorsConfigBuilder, VectorParamsBuilder,
    VectorsConfigBuilder, vectors_config,
};

use super::{QdrantSettings, qdrant_err};
use crate::error::{IngestError, Result};
use crate::store::stored::{ACL, DOCUMENT, TENANT};
use crate::store::{BM25, DENSE};

/// How a new collection is sharded, replicated and stored. Applies when a collection is created;
/// an existing one keeps its own (Qdrant changes those through its cluster API).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CollectionLayout {
    /// Shards of a new collection (default 1).
    pub shard_number: Option<u32>,
    pub replication_factor: Option<u32>,
    pub write_consistency_factor: Option<u32>,
    /// Dense vectors and payloads on disk (memory-mapped) instead of in RAM.
    pub on_disk: bool,
    /// Int8 scalar quantization of the dense vectors (kept in RAM; originals rescore).
    pub int8_quantization: bool,
}

/// One physical collection an alias can point at: `<alias>-<number>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Generation {
    pub number: u32,
    pub collection: String,
}

impl Generation {
    pub fn new(alias: &str, number: u32) -> Self {
        Self {
            number,
            collection: format!("{alias}-{number}"),
        }
    }

    /// The generation number of a collection named after `alias`, if it is one.
    fn parse(alias: &str, collection: &str) -> Option<Self> {
        let number = collection
            .strip_prefix(alias)?
            .strip_prefix('-')?
            .parse()
            .ok()?;
        Some(Self::new(alias, number))
    }
}

/// Makes sure the configured name resolves to a usable collection: the alias's target, a plain
/// collection of that name, or else a new generation 1 with the alias. Safe when several
/// replicas start at once: the loser of each race finds the winner's result.
pub(super) async fn ensure(
    client: &Qdrant,
    settings: &QdrantSettings,
    dense: Option<usize>,
) -> Result<()> {
    let url = &settings.url;
    let name = &settings.collection;
    if let Some(target) = alias_target(client, url, name).await? {
        return check(client, url, &target, dense).await;
    }
    if exists(client, url, name).await? {
        return check(client, url, name, dense).await;
    }
    let first = Generation::new(name, 1);
    ensure_physical(client, url, &settings.layout, &first.collection, dense).await?;
    if let Err(err) = client
        .create_alias(CreateAliasBuilder::new(&first.collection, name))
        .await
    {
        // Another replica created it between our look-up and now.
        if alias_target(client, url, name).await?.is_none() {
            return Err(qdrant_err(url, err));
        }
    }
    Ok(())
}

/// Creates the physical collection if it does not exist, then checks it and its indexes.
pub(super) async fn ensure_physical(
    client: &Qdrant,
    url: &str,
    layout: &CollectionLayout,
    collection: &str,
    dense: Option<usize>,
) -> Result<()> {
    if !exists(client, url, collection).await? {
        match client
            .create_collection(create_request(layout, collection, dense))
            .await
        {
            Ok(_) => tracing::info!(collection, "created the Qdrant collection"),
            // Another process created it between our look-up and now.
            Err(_) if exists(client, url, collection).await? => {}
            Err(err) => return Err(qdrant_err(url, err)),
        }
    }
    check(client, url, collection, dense).await?;
    for (field, is_tenant) in [(TENANT, true), (DOCUMENT, false), (ACL, false)] {
        // Idempotent on the server: an existing index of the same kind is kept.
        client
            .create_field_index(
                CreateFieldIndexCollectionBuilder::new(collection, field, FieldType::Keyword)
                    .field_index_params(KeywordIndexParamsBuilder::default().is_tenant(is_tenant))
                    .wait(true),
            )
            .await
            .map_err(|e| qdrant_err(url, e))?;
    }
    Ok(())
}

fn create_request(
    layout: &CollectionLayout,
    collection: &str,
    dense: Option<usize>,
) -> CreateCollectionBuilder {
    let mut sparse = SparseVectorsConfigBuilder::default();
    sparse.add_named_vector_params(
        BM25,
        SparseVectorParamsBuilder::default().modifier(Modifier::Idf),
    );
    let mut request = CreateCollectionBuilder::new(collection)
        .sparse_vectors_config(sparse)
        .on_disk_payload(layout.on_disk);
    if let Some(size) = dense {
        let mut params =
            VectorParamsBuilder::new(size as u64, Distance::Cosine).on_disk(layout.on_disk);
        if layout.int8_quantization {
            params =
                params.quantization_config(ScalarQuantizationBuilder::default().always_ram(true));
        }
        let mut vectors = VectorsConfigBuilder::default();
        vectors.add_named_vector_params(DENSE, params);
        request = request.vectors_config(vectors);
    }
    // One shard unless configured: Qdrant computes BM25's IDF per shard, so a single shard ranks
    // exactly as the embedded index does (docs/BENCHMARKS.md); replicas give availability.
    request = request.shard_number(layout.shard_number.unwrap_or(1));
    if let Some(n) = layout.replication_factor {
        request = request.replication_factor(n);
    }
    if let Some(n) = layout.write_consistency_factor {
        request = request.write_consistency_factor(n);
    }
    request
}

/// How long a collection another process just created may take to become readable on every
/// shard (cluster consensus, shard activation).
const READY_WITHIN: Duration = Duration::from_secs(60);

/// Waits until the collection answers reads on every shard, then returns its description.
async fn ready(client: &Qdrant, url: &str, collection: &str) -> Result<GetCollectionInfoResponse> {
    let started = Instant::now();
    loop {
        let attempt = async {
            let info = client.collection_info(collection).await?;
            client
                .count(CountPointsBuilder::new(collection).exact(false))
                .await?;
            Ok::<_, qdrant_client::QdrantError>(info)
        };
        match attempt.await {
            Ok(info) => return Ok(info),
            Err(err) if started.elapsed() < READY_WITHIN => {
                tracing::debug!(%err, collection, "waiting for the Qdrant collection to be ready");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(err) => return Err(qdrant_err(url, err)),
        }
    }
}

/// Refuses a collection whose vectors disagree with the configuration, saying what differs.
async fn check(client: &Qdrant, url: &str, collection: &str, dense: Option<usize>) -> Result<()> {
    let info = ready(client, url, collection).await?;
    let params = info
        .result
        .and_then(|i| i.config)
        .and_then(|c| c.params)
        .ok_or_else(|| {
            IngestError::Store(format!("Qdrant did not describe collection {collection}"))
        })?;
    let mut problems = Vec::new();
    let bm25 = params
        .sparse_vectors_config
        .as_ref()
        .and_then(|s| s.map.get(BM25));
    match bm25 {
        None => problems.push(format!("it has no `{BM25}` sparse vector")),
        Some(p) if p.modifier != Some(Modifier::Idf as i32) => {
            problems.push(format!("its `{BM25}` sparse vector has no IDF modifier"))
        }
        Some(_) => {}
    }
    let stored = match params.vectors_config.and_then(|v| v.config) {
        Some(vectors_config::Config::ParamsMap(map)) => map.map.get(DENSE).cloned(),
        Some(vectors_config::Config::Params(_)) => {
            problems.push(format!(
                "its dense vector is unnamed (ragway names it `{DENSE}`)"
            ));
            None
        }
        None => None,
    };
    match (dense, stored) {
        (Some(wanted), Some(stored)) => {
            if stored.size != wanted as u64 {
                problems.push(format!(
                    "its `{DENSE}` vectors have {} dimensions but the embedder gives {wanted}",
                    stored.size
                ));
            }
            if stored.distance != Distance::Cosine as i32 {
                problems.push(format!("its `{DENSE}` vectors do not use cosine distance"));
            }
        }
        (Some(wanted), None) => problems.push(format!(
            "it has no `{DENSE}` vector but the embedder gives {wanted}-dimensional vectors"
        )),
        (None, Some(stored)) => problems.push(format!(
            "it holds {}-dimensional `{DENSE}` vectors but no embedder is configured",
            stored.size
        )),
        (None, None) => {}
    }
    if problems.is_empty() {
        return Ok(());
    }
    Err(IngestError::Config(format!(
        "the Qdrant collection {collection} at {url} does not match the configuration: {}; \
         point [index] collection at another name, or re-index into a new generation \
         (`ragway index rebuild`)",
        problems.join("; ")
    )))
}

async fn exists(client: &Qdrant, url: &str, collection: &str) -> Result<bool> {
    client
        .collection_exists(collection)
        .await
        .map_err(|e| qdrant_err(url, e))
}

/// The collection `alias` points at, if it is an alias.
pub(super) async fn alias_target(
    client: &Qdrant,
    url: &str,
    alias: &str,
) -> Result<Option<String>> {
    let aliases = client
        .list_aliases()
        .await
        .map_err(|e| qdrant_err(url, e))?;
    Ok(aliases
        .aliases
        .into_iter()
        .find(|a| a.alias_name == alias)
        .map(|a| a.collection_name))
}

/// The generation the alias points at now (None: a plain collection, or nothing yet).
pub(super) async fn current_generation(
    client: &Qdrant,
    url: &str,
    alias: &str,
) -> Result<Option<Generation>> {
    Ok(alias_target(client, url, alias)
        .await?
        .and_then(|target| Generation::parse(alias, &target)))
}

/// Points the alias at `generation` in one operation (Qdrant re-points an existing alias
/// atomically): questions move from the old collection to the new one with none in between.
pub(super) async fn switch_alias(
    client: &Qdrant,
    url: &str,
    alias: &str,
    generation: &Generation,
) -> Result<()> {
    client
        .create_alias(CreateAliasBuilder::new(&generation.collection, alias))
        .await
        .map_err(|e| qdrant_err(url, e))?;
    Ok(())
}

pub(super) async fn drop_collection(client: &Qdrant, url: &str, collection: &str) -> Result<()> {
    client
        .delete_collection(DeleteCollectionBuilder::new(collection))
        .await
        .map_err(|e| qdrant_err(url, e))?;
    Ok(())
}

/// The generations behind one alias: what a re-index or a migration builds and switches.
pub struct Generations {
    client: Qdrant,
    settings: QdrantSettings,
}

impl Generations {
    pub fn new(settings: &QdrantSettings) -> Result<Self> {
        Ok(Self {
            client: super::client(settings)?,
            settings: settings.clone(),
        })
    }

    fn url(&self) -> &str {
        &self.settings.url
    }

    fn alias(&self) -> &str {
        &self.settings.collection
    }

    /// The generation questions are answered from now, if the alias points at one.
    pub async fn current(&self) -> Result<Option<Generation>> {
        current_generation(&self.client, self.url(), self.alias()).await
    }

    /// Every generation collection of the alias, oldest first.
    pub async fn all(&self) -> Result<Vec<Generation>> {
        let listed = self
            .client
            .list_collections()
            .await
            .map_err(|e| qdrant_err(self.url(), e))?;
        let mut generations: Vec<Generation> = listed
            .collections
            .into_iter()
            .filter_map(|c| Generation::parse(self.alias(), &c.name))
            .collect();
        generations.sort_by_key(|g| g.number);
        Ok(generations)
    }

    /// The number after every existing generation (a half-built one from an interrupted
    /// re-index included, so it is never reused).
    pub async fn next(&self) -> Result<Generation> {
        let last = self.all().await?.last().map_or(0, |g| g.number);
        Ok(Generation::new(self.alias(), last + 1))
    }

    /// Points the alias at `generation` atomically; the previous generation is returned (not
    /// dropped: the caller drops it once nothing reads it).
    pub async fn switch_to(&self, generation: &Generation) -> Result<Option<Generation>> {
        let previous = self.current().await?;
        if alias_target(&self.client, self.url(), self.alias())
            .await?
            .is_none()
            && exists(&self.client, self.url(), self.alias()).await?
        {
            return Err(IngestError::Config(format!(
                "{} is a plain collection, not an alias, so it cannot be switched; migrate it into a \
                 generation first (`ragway index migrate`)",
                self.alias()
            )));
        }
        switch_alias(&self.client, self.url(), self.alias(), generation).await?;
        Ok(previous)
    }

    pub async fn drop(&self, generation: &Generation) -> Result<()> {
        drop_collection(&self.client, self.url(), &generation.collection).await
    }

    /// Removes the alias and every generation (tests and `ragway index drop`).
    pub async fn drop_all(&self) -> Result<()> {
        if alias_target(&self.client, self.url(), self.alias())
            .await?
            .is_some()
        {
            self.client
                .delete_alias(self.alias())
                .await
                .map_err(|e| qdrant_err(self.url(), e))?;
        }
        for generation in self.all().await? {
            self.drop(&generation).await?;
        }
        Ok(())
    }
}
