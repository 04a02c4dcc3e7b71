//! Retrieval on the Qdrant backend: the same requests the embedded store runs — each arm
//! filtered by tenant and ACL with its relevance cut, fused server-side with RRF. Weighted RRF
//! arrived in Qdrant 1.17; against older servers the two arms are fetched in one batch and fused
//! here with Qdrant's own formula, so the ranking is the same either way.

use std::collections::HashMap;

use qdrant_client::qdrant::{
    Condition, Filter, PrefetchQueryBuilder, Query, QueryBatchPointsBuilder, QueryPoints,
    QueryPointsBuilder, Rrf, ScoredPoint, SearchParams, SearchParamsBuilder, VectorInput,
    point_id::PointIdOptions,
};

use super::{QdrantStore, qdrant_err};
use crate::error::Result;
use crate::store::stored::{ACL, TENANT, from_stored, store_err, visible_groups};
use crate::store::{BM25, DENSE, Hit, SearchMode, SearchQuery};

/// One retriever's request: its vector, the field it searches and its relevance cut.
struct Arm {
    input: VectorInput,
    using: &'static str,
    min_score: f32,
    weight: f32,
    /// The dense arm's HNSW beam width, if set.
    params: Option<SearchParams>,
}

fn visible_filter(query: &SearchQuery) -> Filter {
    Filter::must([
        Condition::matches(TENANT, query.tenant_id.clone()),
        Condition::matches(ACL, visible_groups(&query.groups)),
    ])
}

fn arms(query: &SearchQuery, dense_enabled: bool) -> Vec<Arm> {
    let mut arms = Vec::with_capacity(2);
    if !query.sparse.is_empty() && query.mode != SearchMode::Dense {
        arms.push(Arm {
            input: VectorInput::new_sparse(
                query.sparse.indices.clone(),
                query.sparse.values.clone(),
            ),
            using: BM25,
            min_score: query.min_bm25_score,
            weight: query.bm25_weight,
            params: None,
        });
    }
    if let Some(dense) = query
        .dense
        .clone()
        .filter(|_| dense_enabled && query.mode != SearchMode::Bm25)
    {
        arms.push(Arm {
            input: VectorInput::new_dense(dense),
            using: DENSE,
            min_score: query.min_dense_score,
            weight: query.dense_weight,
            params: query
                .hnsw_ef
                .map(|ef| SearchParamsBuilder::default().hnsw_ef(ef as u64).build()),
        });
    }
    arms
}

fn single(collection: &str, arm: Arm, filter: Filter, limit: usize) -> QueryPoints {
    let mut request = QueryPointsBuilder::new(collection)
        .query(Query::new_nearest(arm.input))
        .using(arm.using)
        .filter(filter)
        .score_threshold(arm.min_score)
        .limit(limit as u64)
        .with_payload(true);
    if let Some(params) = arm.params {
        request = request.params(params);
    }
    request.build()
}

pub(super) async fn search(store: &QdrantStore, query: &SearchQuery) -> Result<Vec<Hit>> {
    let filter = visible_filter(query);
    let mut arms = arms(query, store.dense.is_some());
    let points = match arms.len() {
        0 => return Ok(Vec::new()),
        1 => {
            let arm = arms.remove(0);
            let request = single(store.collection(), arm, filter, query.limit);
            run(store, request).await?
        }
        _ if arms.iter().all(|arm| arm.weight == 1.0) => {
            let mut request = QueryPointsBuilder::new(store.collection())
                .query(Query::new_rrf(Rrf {
                    k: Some(query.rrf_k as u32),
                    ..Rrf::default()
                }))
                // No filter here: Qdrant merges a query's filter into every prefetch, and each
                // prefetch already has it, so every candidate would be checked twice.
                .limit(query.limit as u64)
                .with_payload(true);
            for arm in arms {
                let mut prefetch = PrefetchQueryBuilder::default()
                    .query(Query::new_nearest(arm.input))
                    .using(arm.using)
                    .filter(filter.clone())
                    .score_threshold(arm.min_score)
                    .limit(query.candidates as u64);
                if let Some(params) = arm.params {
                    prefetch = prefetch.params(params);
                }
                request = request.add_prefetch(prefetch);
            }
            run(store, request.build()).await?
        }
        _ => weighted(store, query, arms, filter).await?,
    };
    points.into_iter().map(to_hit).collect()
}

async fn run(store: &QdrantStore, request: QueryPoints) -> Result<Vec<ScoredPoint>> {
    Ok(store
        .client()
        .query(request)
        .await
        .map_err(|e| qdrant_err(&store.url, e))?
        .result)
}

/// Weighted RRF over both arms, fetched in one round trip.
async fn weighted(
    store: &QdrantStore,
    query: &SearchQuery,
    arms: Vec<Arm>,
    filter: Filter,
) -> Result<Vec<ScoredPoint>> {
    let weights: Vec<f32> = arms.iter().map(|arm| arm.weight).collect();
    let requests: Vec<QueryPoints> = arms
        .into_iter()
        .map(|arm| single(store.collection(), arm, filter.clone(), query.candidates))
        .collect();
    let batch = store
        .client()
        .query_batch(QueryBatchPointsBuilder::new(store.collection(), requests))
        .await
        .map_err(|e| qdrant_err(&store.url, e))?;
    let rankings = batch.result.into_iter().map(|r| r.result).collect();
    Ok(fuse(rankings, &weights, query.rrf_k, query.limit))
}

/// Qdrant's weighted reciprocal rank fusion: a point at 0-based `position` in a ranking of
/// weight `w` earns `1 / ((position + 1) / w + k - 1)`; ties keep the first ranking's order.
pub(crate) fn fuse(
    rankings: Vec<Vec<ScoredPoint>>,
    weights: &[f32],
    k: usize,
    limit: usize,
) -> Vec<ScoredPoint> {
    let mut fused: Vec<ScoredPoint> = Vec::new();
    let mut slot: HashMap<String, usize> = HashMap::new();
    for (ranking, weight) in rankings.into_iter().zip(weights.iter().copied()) {
        for (position, mut point) in ranking.into_iter().enumerate() {
            let score = if weight <= 0.0 {
                0.0
            } else {
                1.0 / ((position + 1) as f32 / weight + k as f32 - 1.0)
            };
            let key = format!("{:?}", point.id);
            match slot.get(&key) {
                Some(&at) => fused[at].score += score,
                None => {
                    point.score = score;
                    slot.insert(key, fused.len());
                    fused.push(point);
                }
            }
        }
    }
    fused.sort_by(|a, b| b.score.total_cmp(&a.score));
    fused.truncate(limit);
    fused
}

fn to_hit(point: ScoredPoint) -> Result<Hit> {
    let id = match point.id.and_then(|id| id.point_id_options) {
        Some(PointIdOptions::Uuid(text)) => uuid::Uuid::parse_str(&text).map_err(store_err)?,
        Some(PointIdOptions::Num(n)) => uuid::Uuid::from_u128(u128::from(n)),
        None => return Err(store_err("Qdrant returned a point without an id")),
    };
    let payload: serde_json::Value = qdrant_client::Payload::from(point.payload).into();
    Ok(Hit {
        id,
        score: point.score,
        payload: from_stored(payload)?,
    })
}
