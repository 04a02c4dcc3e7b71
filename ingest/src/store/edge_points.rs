//! Points and queries of the embedded index: ragway's chunks to qdrant-edge's points and back,
//! and a search as one qdrant-edge query (BM25 and dense fused with RRF inside the shard).

use qdrant_edge::external::ordered_float::OrderedFloat;
use qdrant_edge::external::uuid::Uuid as EdgeUuid;
use qdrant_edge::{
    Condition, FieldCondition, Filter, Fusion, Match, NamedQuery, PointId, PointInsertOperations,
    PointOperations, PointStruct, Prefetch, QuantizationSearchParams, QueryEnum, QueryRequest,
    Record, ScoredPoint, ScoringQuery, SearchParams, SparseVector, UpdateOperation, Vector,
    VectorInternal, VectorStructInternal, Vectors, WithPayloadInterface, WithVector,
};

use super::edge_shard::json_path;
use super::stored::{ACL, from_stored, store_err, to_stored, visible_groups};
use super::{BM25, ChunkPoint, DENSE, Hit, SearchMode, SearchQuery, Sparse};
use crate::error::Result;

/// ragway's id of a point (ragway writes UUIDs; a numeric id reads as the UUID of its value).
pub(super) fn from_point_id(id: PointId) -> uuid::Uuid {
    match id {
        PointId::Uuid(uuid) => uuid::Uuid::from_bytes(*uuid.as_bytes()),
        PointId::NumId(n) => uuid::Uuid::from_u128(u128::from(n)),
    }
}

/// The index's id of a point.
pub(super) fn to_point_id(id: uuid::Uuid) -> PointId {
    PointId::Uuid(EdgeUuid::from_bytes(*id.as_bytes()))
}

/// A stored point as the index holds it: id, vectors and payload.
pub(super) fn from_record(record: Record) -> Result<ChunkPoint> {
    let id = from_point_id(record.id);
    let payload = record
        .payload
        .ok_or_else(|| store_err(format!("point {id} has no payload")))?;
    let mut point = ChunkPoint {
        id,
        dense: None,
        sparse: Sparse::default(),
        payload: from_stored(serde_json::Value::Object(payload.0))?,
    };
    if let Some(VectorStructInternal::Named(vectors)) = record.vector {
        for (name, vector) in vectors {
            match (name.as_str(), vector) {
                (BM25, VectorInternal::Sparse(sparse)) => {
                    point.sparse = Sparse {
                        indices: sparse.indices,
                        values: sparse.values,
                    };
                }
                (DENSE, VectorInternal::Dense(dense)) => point.dense = Some(dense),
                _ => {}
            }
        }
    }
    Ok(point)
}

pub(super) fn keyword(field: &str, value: &str) -> Result<Condition> {
    Ok(Condition::Field(FieldCondition::new_match(
        json_path(field)?,
        Match::from(value.to_owned()),
    )))
}

/// The chunks of a tenant's shard that `groups` may see: public ones, and those whose ACL shares
/// a group with the caller. (The shard holds one tenant's points: no tenant condition.)
fn visible_filter(groups: &[String]) -> Result<Filter> {
    Ok(Filter::new_must(Condition::Field(
        FieldCondition::new_match(json_path(ACL)?, Match::from(visible_groups(groups))),
    )))
}

/// Writes (or replaces) `points`.
pub(super) fn upsert_op(points: Vec<PointStruct>) -> UpdateOperation {
    let points = points.into_iter().map(Into::into).collect();
    UpdateOperation::PointOperation(PointOperations::UpsertPoints(
        PointInsertOperations::PointsList(points),
    ))
}

fn sparse_vector(sparse: &Sparse) -> SparseVector {
    SparseVector {
        indices: sparse.indices.clone(),
        values: sparse.values.clone(),
    }
}

pub(super) fn to_point(point: ChunkPoint) -> Result<PointStruct> {
    let mut vectors = vec![(
        BM25.to_owned(),
        Vector::new_sparse(point.sparse.indices, point.sparse.values).map_err(store_err)?,
    )];
    if let Some(dense) = point.dense {
        vectors.push((DENSE.to_owned(), Vector::new_dense(dense)));
    }
    let payload = to_stored(&point.payload)?;
    let id = to_point_id(point.id);
    Ok(PointStruct::new(id, Vectors::new_named(vectors), payload))
}

pub(super) fn to_hit(point: ScoredPoint) -> Result<Hit> {
    let id = from_point_id(point.id);
    let payload = point
        .payload
        .ok_or_else(|| store_err(format!("point {id} has no payload")))?;
    Ok(Hit {
        id,
        score: point.score,
        payload: from_stored(serde_json::Value::Object(payload.0))?,
    })
}

fn nearest(vector: VectorInternal, using: &str) -> ScoringQuery {
    ScoringQuery::Vector(QueryEnum::Nearest(NamedQuery::new(vector, using)))
}

/// Candidates the int8 graph search hands to the float32 rescore, per candidate wanted: recall@10
/// 0.836 against 0.845 unquantized at the default beam width (bench/hnsw_recall.rs).
const RESCORE_OVERSAMPLING: f64 = 2.0;

pub(super) fn build_query(
    query: &SearchQuery,
    dense_enabled: bool,
) -> Result<Option<QueryRequest>> {
    let filter = visible_filter(&query.groups)?;
    let bm25 = (!query.sparse.is_empty() && query.mode != SearchMode::Dense)
        .then(|| nearest(VectorInternal::Sparse(sparse_vector(&query.sparse)), BM25));
    let dense = query
        .dense
        .clone()
        .filter(|_| dense_enabled && query.mode != SearchMode::Bm25)
        .map(|v| nearest(VectorInternal::Dense(v), DENSE));
    // Only the dense search walks a graph; BM25 ignores the parameters. On shards with int8
    // copies of the vectors the walk scores those and the originals rescore twice the candidates
    // asked for, so results, scores and the score threshold stay the float32 ones (without the
    // rescore qdrant-edge returns int8 scores); shards without copies ignore this.
    let dense_params = Some(SearchParams {
        hnsw_ef: query.hnsw_ef,
        quantization: Some(QuantizationSearchParams {
            ignore: false,
            rescore: Some(true),
            oversampling: Some(RESCORE_OVERSAMPLING),
        }),
        ..SearchParams::default()
    });
    let (prefetches, scoring, threshold, filter, params) = match (bm25, dense) {
        (None, None) => return Ok(None),
        (Some(bm25), None) => (
            Vec::new(),
            bm25,
            Some(query.min_bm25_score),
            Some(filter),
            None,
        ),
        (None, Some(dense)) => (
            Vec::new(),
            dense,
            Some(query.min_dense_score),
            Some(filter),
            dense_params,
        ),
        (Some(bm25), Some(dense)) => {
            let prefetch =
                |scoring: ScoringQuery, min: f32, params: Option<SearchParams>| Prefetch {
                    prefetches: Vec::new(),
                    query: Some(scoring),
                    limit: query.candidates,
                    params,
                    filter: Some(filter.clone()),
                    score_threshold: Some(OrderedFloat(min)),
                };
            // Equal weights are plain RRF; sent as None so the index takes its unweighted path.
            let weighted = query.bm25_weight != 1.0 || query.dense_weight != 1.0;
            let fusion = ScoringQuery::Fusion(Fusion::Rrf {
                k: query.rrf_k,
                weights: weighted.then(|| {
                    vec![
                        OrderedFloat(query.bm25_weight),
                        OrderedFloat(query.dense_weight),
                    ]
                }),
            });
            (
                vec![
                    prefetch(bm25, query.min_bm25_score, None),
                    prefetch(dense, query.min_dense_score, dense_params),
                ],
                fusion,
                None,
                // The prefetches carry the filter; one on the query too would be merged into
                // each of them and every candidate checked twice.
                None,
                None,
            )
        }
    };
    Ok(Some(QueryRequest {
        prefetches,
        query: Some(scoring),
        filter,
        score_threshold: threshold.map(OrderedFloat),
        limit: query.limit,
        offset: 0,
        params,
        with_vector: WithVector::Bool(false),
        with_payload: WithPayloadInterface::Bool(true),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fused_query_filters_each_candidate_once() {
        let sparse = Sparse {
            indices: vec![1, 2],
            values: vec![0.5, 0.5],
        };
        let mut query = SearchQuery::unfiltered("acme", sparse, Some(vec![0.1; 4]), 5);
        query.groups = vec!["hr".into()];
        let request = build_query(&query, true).unwrap().unwrap();
        // Qdrant merges the query's filter into every prefetch: it must be on one side only.
        assert!(request.filter.is_none());
        assert_eq!(request.prefetches.len(), 2);
        for prefetch in &request.prefetches {
            let filter = prefetch.filter.as_ref().unwrap();
            assert_eq!(filter.must.as_ref().map(Vec::len), Some(1), "{filter:?}");
        }

        query.mode = SearchMode::Bm25;
        let single = build_query(&query, true).unwrap().unwrap();
        assert!(single.prefetches.is_empty());
        let filter = single.filter.unwrap();
        assert_eq!(filter.must.map(|m| m.len()), Some(1), "the ACL");
    }

    #[test]
    fn the_beam_width_goes_to_the_dense_search_only() {
        let sparse = Sparse {
            indices: vec![1],
            values: vec![1.0],
        };
        let mut query = SearchQuery::unfiltered("acme", sparse, Some(vec![0.5; 4]), 5);
        query.hnsw_ef = Some(128);
        let fused = build_query(&query, true).unwrap().unwrap();
        let widths: Vec<Option<usize>> = fused
            .prefetches
            .iter()
            .map(|p| p.params.and_then(|p| p.hnsw_ef))
            .collect();
        assert_eq!(widths, [None, Some(128)], "BM25 first, then dense");
        assert!(fused.params.is_none());

        query.mode = SearchMode::Dense;
        let dense = build_query(&query, true).unwrap().unwrap();
        assert_eq!(dense.params.and_then(|p| p.hnsw_ef), Some(128));
        query.mode = SearchMode::Bm25;
        let bm25 = build_query(&query, true).unwrap().unwrap();
        assert!(bm25.params.is_none());
        query.hnsw_ef = None;
        query.mode = SearchMode::Dense;
        let params = build_query(&query, true).unwrap().unwrap().params.unwrap();
        assert_eq!(params.hnsw_ef, None, "the index's own width");
        let rescore = params.quantization.and_then(|q| q.rescore);
        assert_eq!(
            rescore,
            Some(true),
            "int8 candidates rescored with the originals"
        );
    }
}
