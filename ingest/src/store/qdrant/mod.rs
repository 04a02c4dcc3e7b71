//! [`VectorStore`] on a Qdrant server or cluster over gRPC (qdrant-client): the same data model
//! as the embedded store (one collection for all tenants, `dense` + `bm25` named vectors, the
//! tenant and ACL keyword indexes, the same point ids and payloads), so a question scores the
//! same on both. Writes wait until applied, so a sync records a document only once it is durable.

mod collection;
mod query;

use std::collections::HashMap;
use std::time::Duration;

use qdrant_client::qdrant::{
    Condition, CountPointsBuilder, DeletePointsBuilder, Filter, NamedVectors, PointStruct, Range,
    SetPayloadPointsBuilder, UpsertPointsBuilder, Vector,
};
use qdrant_client::{Payload, Qdrant};

pub use collection::{CollectionLayout, Generation, Generations};

use super::stored::{ACL, CHUNK_INDEX, DOCUMENT, TENANT, store_err, stored_acl, to_stored};
use super::{BM25, ChunkPoint, DENSE, Hit, SearchQuery, VectorStore};
use crate::error::{IngestError, Result};

/// Points per upsert request: well under gRPC's message limit with 1,536-dimensional vectors.
const UPSERT_BATCH: usize = 256;

/// How ragway reaches and lays out its collection (`[index]` with `backend = "qdrant"`).
#[derive(Debug, Clone, PartialEq)]
pub struct QdrantSettings {
    /// The gRPC endpoint, e.g. `http://qdrant:6334`.
    pub url: String,
    pub api_key: Option<String>,
    /// The name questions are answered from: an alias to the current generation's collection.
    pub collection: String,
    pub layout: CollectionLayout,
    pub timeout: Duration,
}

pub struct QdrantStore {
    client: Qdrant,
    /// What every operation addresses: the alias (or a plain collection of that name).
    target: String,
    dense: Option<usize>,
    url: String,
}

impl std::fmt::Debug for QdrantStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QdrantStore")
            .field("url", &self.url)
            .field("collection", &self.target)
            .field("dense", &self.dense)
            .finish()
    }
}

impl QdrantStore {
    /// Connects, creates the collection (and its alias) if there is none, and refuses one whose
    /// vectors disagree with the configuration. `dense` is the embedder's dimension, if any.
    pub async fn connect(settings: &QdrantSettings, dense: Option<usize>) -> Result<Self> {
        let client = client(settings)?;
        collection::ensure(&client, settings, dense).await?;
        Ok(Self {
            client,
            target: settings.collection.clone(),
            dense,
            url: settings.url.clone(),
        })
    }

    /// A store writing into one generation's collection directly (a re-index being built or a
    /// migration target), not through the alias.
    pub async fn for_generation(
        settings: &QdrantSettings,
        generation: &Generation,
        dense: Option<usize>,
    ) -> Result<Self> {
        let client = client(settings)?;
        collection::ensure_physical(
            &client,
            &settings.url,
            &settings.layout,
            &generation.collection,
            dense,
        )
        .await?;
        Ok(Self {
            client,
            target: generation.collection.clone(),
            dense,
            url: settings.url.clone(),
        })
    }

    /// The collection name this store reads and writes.
    pub fn collection(&self) -> &str {
        &self.target
    }

    pub(crate) fn client(&self) -> &Qdrant {
        &self.client
    }

    async fn delete_matching(&self, filter: Filter) -> Result<()> {
        self.client
            .delete_points(
                DeletePointsBuilder::new(&self.target)
                    .points(filter)
                    .wait(true),
            )
            .await
            .map_err(|e| qdrant_err(&self.url, e))?;
        Ok(())
    }
}

fn client(settings: &QdrantSettings) -> Result<Qdrant> {
    Qdrant::from_url(&settings.url)
        .api_key(settings.api_key.clone())
        .timeout(settings.timeout)
        .connect_timeout(Duration::from_secs(5))
        // The server's version is checked by what it answers, not by a start-up probe that
        // only logs.
        .skip_compatibility_check()
        .build()
        .map_err(|e| IngestError::Config(format!("invalid Qdrant URL {}: {e}", settings.url)))
}

/// A Qdrant failure as ragway reports it: which server, and the server's own message (never the
/// API key, which travels in a header).
pub(crate) fn qdrant_err(url: &str, err: qdrant_client::QdrantError) -> IngestError {
    match err {
        qdrant_client::QdrantError::ResponseError { status } => IngestError::Store(format!(
            "Qdrant at {url}: {} ({:?})",
            status.message(),
            status.code()
        )),
        other => IngestError::Store(format!("Qdrant at {url}: {other}")),
    }
}

pub(crate) fn tenant_filter(tenant_id: &str) -> Filter {
    Filter::must([Condition::matches(TENANT, tenant_id.to_owned())])
}

fn document_filter(tenant_id: &str, document_id: &str) -> Filter {
    Filter::must([
        Condition::matches(TENANT, tenant_id.to_owned()),
        Condition::matches(DOCUMENT, document_id.to_owned()),
    ])
}

fn to_point(point: ChunkPoint) -> Result<PointStruct> {
    let mut vectors = NamedVectors::default().add_vector(
        BM25,
        Vector::new_sparse(point.sparse.indices, point.sparse.values),
    );
    if let Some(dense) = point.dense {
        vectors = vectors.add_vector(DENSE, Vector::new_dense(dense));
    }
    let payload = Payload::try_from(to_stored(&point.payload)?).map_err(store_err)?;
    Ok(PointStruct::new(point.id.to_string(), vectors, payload))
}

#[async_trait::async_trait]
impl VectorStore for QdrantStore {
    fn backend(&self) -> &'static str {
        "qdrant"
    }

    fn dense_dimensions(&self) -> Option<usize> {
        self.dense
    }

    async fn upsert(&self, points: Vec<ChunkPoint>) -> Result<()> {
        let points = points
            .into_iter()
            .map(to_point)
            .collect::<Result<Vec<_>>>()?;
        for batch in points.chunks(UPSERT_BATCH) {
            self.client
                .upsert_points(UpsertPointsBuilder::new(&self.target, batch.to_vec()).wait(true))
                .await
                .map_err(|e| qdrant_err(&self.url, e))?;
        }
        Ok(())
    }

    async fn delete_document_chunks(
        &self,
        tenant_id: &str,
        document_id: &str,
        from_index: usize,
    ) -> Result<()> {
        let mut filter = document_filter(tenant_id, document_id);
        if from_index > 0 {
            filter.must.push(Condition::range(
                CHUNK_INDEX,
                Range {
                    gte: Some(from_index as f64),
                    ..Range::default()
                },
            ));
        }
        self.delete_matching(filter).await
    }

    async fn delete_tenant(&self, tenant_id: &str) -> Result<()> {
        self.delete_matching(tenant_filter(tenant_id)).await
    }

    async fn set_document_acl(
        &self,
        tenant_id: &str,
        document_id: &str,
        acl: &[String],
    ) -> Result<()> {
        let payload: HashMap<String, qdrant_client::qdrant::Value> =
            HashMap::from([(ACL.to_owned(), stored_acl(acl).into())]);
        self.client
            .set_payload(
                SetPayloadPointsBuilder::new(&self.target, payload)
                    .points_selector(document_filter(tenant_id, document_id))
                    .wait(true),
            )
            .await
            .map_err(|e| qdrant_err(&self.url, e))?;
        Ok(())
    }

    async fn search(&self, query: SearchQuery) -> Result<Vec<Hit>> {
        query::search(self, &query).await
    }

    async fn count(&self, tenant_id: &str) -> Result<usize> {
        let counted = self
            .client
            .count(
                CountPointsBuilder::new(&self.target)
                    .filter(tenant_filter(tenant_id))
                    .exact(true),
            )
            .await
            .map_err(|e| qdrant_err(&self.url, e))?;
        Ok(counted.result.map_or(0, |r| r.count) as usize)
    }
}
