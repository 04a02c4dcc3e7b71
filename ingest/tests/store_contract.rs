#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The `VectorStore` contract. Every implementation must pass `contract`: the embedded
//! `EdgeStore` and `QdrantStore` on a real Qdrant cluster (`QDRANT_GRPC_URL`, as printed by
//! `../shared/tools/qdrant/cluster start`; without it those tests say so and skip, except in CI).

use ragway_ingest::embed::{Bm25Config, Bm25Encoder};
use ragway_ingest::ids::point_id;
use ragway_ingest::lang::Lang;
use std::time::Duration;

use ragway_ingest::store::{
    ChunkPayload, ChunkPoint, CollectionLayout, EdgeStore, Generations, Hit, QdrantSettings,
    QdrantStore, SearchMode, SearchQuery, Sparse, VectorStore,
};

fn point(
    bm25: &Bm25Encoder,
    tenant: &str,
    doc: &str,
    index: usize,
    text: &str,
    dense: Option<Vec<f32>>,
) -> ChunkPoint {
    let sparse = bm25.embed_document(text, Lang::En);
    ChunkPoint {
        id: point_id(tenant, doc, index),
        dense,
        sparse: Sparse {
            indices: sparse.indices,
            values: sparse.values,
        },
        payload: ChunkPayload {
            tenant_id: tenant.into(),
            source_id: "s".into(),
            document_id: doc.into(),
            uri: format!("{doc}.md"),
            title: doc.into(),
            heading_path: vec!["H".into()],
            chunk_index: index,
            text: text.into(),
            page: None,
            acl: Vec::new(),
            lang: None,
            text_tokens: None,
        },
    }
}

fn query(bm25: &Bm25Encoder, tenant: &str, text: &str, dense: Option<Vec<f32>>) -> SearchQuery {
    let sparse = bm25.embed_query(text, Lang::En);
    let sparse = Sparse {
        indices: sparse.indices,
        values: sparse.values,
    };
    SearchQuery::unfiltered(tenant, sparse, dense, 10)
}

fn unit(v: [f32; 4]) -> Vec<f32> {
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.iter().map(|x| x / n).collect()
}

async fn contract(store: &dyn VectorStore) {
    let bm25 = Bm25Encoder::new(&Bm25Config::default()).unwrap();
    let dense = store.dense_dimensions().is_some();
    let vec = |v: [f32; 4]| dense.then(|| unit(v));
    store
        .upsert(vec![
            point(
                &bm25,
                "a",
                "crane",
                0,
                "Overhead crane hooks are inspected monthly.",
                vec([1.0, 0.0, 0.0, 0.0]),
            ),
            point(
                &bm25,
                "a",
                "crane",
                1,
                "Crane wire ropes are replaced every two years.",
                vec([0.9, 0.1, 0.0, 0.0]),
            ),
            point(
                &bm25,
                "a",
                "lathe",
                0,
                "The lathe spindle is greased weekly.",
                vec([0.0, 1.0, 0.0, 0.0]),
            ),
            point(
                &bm25,
                "b",
                "crane",
                0,
                "Tenant B crane manual.",
                vec([1.0, 0.0, 0.0, 0.0]),
            ),
        ])
        .await
        .unwrap();
    assert_eq!(store.count("a").await.unwrap(), 3);
    assert_eq!(store.count("b").await.unwrap(), 1);

    // Keyword search ranks by BM25 and never crosses tenants.
    let hits = store
        .search(query(
            &bm25,
            "a",
            "crane inspection",
            vec([1.0, 0.0, 0.0, 0.0]),
        ))
        .await
        .unwrap();
    assert_eq!(hits[0].payload.document_id, "crane");
    assert_eq!(hits[0].payload.chunk_index, 0);
    assert!(hits.iter().all(|h| h.payload.tenant_id == "a"));
    let hits = store
        .search(query(&bm25, "b", "lathe spindle", None))
        .await
        .unwrap();
    assert!(hits.is_empty(), "tenant b has no lathe: {hits:?}");

    // The relevance cut removes weak matches; a query of stopwords finds nothing.
    let mut strict = query(&bm25, "a", "crane", None);
    strict.min_bm25_score = 1000.0;
    assert!(store.search(strict).await.unwrap().is_empty());
    assert!(
        store
            .search(query(&bm25, "a", "the of and", None))
            .await
            .unwrap()
            .is_empty()
    );

    // Modes: BM25 alone ignores the dense vector, dense alone the keywords; hybrid fuses both, and
    // weighted fusion lets one ranking dominate.
    let mixed = |mode: SearchMode| {
        // Keywords point at the lathe, the dense vector at the crane (and away from the lathe,
        // below the cut of 0).
        let mut q = query(&bm25, "a", "lathe spindle", vec([1.0, -0.5, 0.0, 0.0]));
        q.mode = mode;
        q
    };
    let top = |hits: Vec<ragway_ingest::store::Hit>| hits[0].payload.document_id.clone();
    assert_eq!(
        top(store.search(mixed(SearchMode::Bm25)).await.unwrap()),
        "lathe"
    );
    if dense {
        let hits = store.search(mixed(SearchMode::Dense)).await.unwrap();
        assert_eq!(top(hits.clone()), "crane");
        assert!(
            hits.iter().all(|h| h.payload.document_id == "crane"),
            "{hits:?}"
        );
        let hybrid = store.search(mixed(SearchMode::Hybrid)).await.unwrap();
        assert!(hybrid.iter().any(|h| h.payload.document_id == "lathe"));
        assert!(hybrid.iter().any(|h| h.payload.document_id == "crane"));
        for (bm25_weight, dense_weight, expected) in [(3.0, 1.0, "lathe"), (1.0, 3.0, "crane")] {
            let mut weighted = mixed(SearchMode::Hybrid);
            weighted.bm25_weight = bm25_weight;
            weighted.dense_weight = dense_weight;
            assert_eq!(top(store.search(weighted).await.unwrap()), expected);
        }
        // A beam width for the dense search is accepted on every path (one arm, fused, weighted)
        // and, over a handful of points, finds the same points (fused ties may swap places).
        for mode in [SearchMode::Dense, SearchMode::Hybrid] {
            let plain = store.search(mixed(mode)).await.unwrap();
            let mut wide = mixed(mode);
            wide.hnsw_ef = Some(256);
            let found = store.search(wide.clone()).await.unwrap();
            let ids = |hits: &[Hit]| {
                let mut ids: Vec<_> = hits.iter().map(|h| h.id).collect();
                ids.sort();
                ids
            };
            assert_eq!(ids(&found), ids(&plain), "{mode:?}");
            wide.dense_weight = 2.0;
            assert!(!store.search(wide).await.unwrap().is_empty());
        }
    } else {
        // Without dense vectors in the index, dense mode has nothing to search with.
        assert!(
            store
                .search(mixed(SearchMode::Dense))
                .await
                .unwrap()
                .is_empty()
        );
    }

    // Document ACLs: a restricted document is found only by callers sharing one of its groups;
    // changing the ACL updates the payload in place.
    let lathe = |groups: &[&str]| {
        let mut q = query(&bm25, "a", "lathe spindle", vec([0.0, 1.0, 0.0, 0.0]));
        q.groups = groups.iter().map(|g| (*g).to_owned()).collect();
        q
    };
    store
        .set_document_acl("a", "lathe", &["shop-floor".into()])
        .await
        .unwrap();
    let found = |hits: Vec<ragway_ingest::store::Hit>| {
        hits.iter().any(|h| h.payload.document_id == "lathe")
    };
    assert!(
        !found(store.search(lathe(&[])).await.unwrap()),
        "no groups: public documents only"
    );
    assert!(!found(store.search(lathe(&["hr"])).await.unwrap()));
    let hits = store.search(lathe(&["hr", "shop-floor"])).await.unwrap();
    assert!(found(hits.clone()));
    assert_eq!(hits[0].payload.acl, ["shop-floor"]);
    assert!(
        store
            .search(lathe(&["hr"]))
            .await
            .unwrap()
            .iter()
            .all(|h| h.payload.acl.is_empty()),
        "public documents stay visible to every group"
    );
    store.set_document_acl("a", "lathe", &[]).await.unwrap();
    assert!(
        found(store.search(lathe(&[])).await.unwrap()),
        "public again"
    );
    assert_eq!(store.count("a").await.unwrap(), 3, "nothing re-written");

    // Upserting the same ids replaces; deleting a document's tail keeps its head.
    store
        .upsert(vec![point(
            &bm25,
            "a",
            "crane",
            1,
            "Crane ropes: replace every 18 months.",
            vec([0.9, 0.1, 0.0, 0.0]),
        )])
        .await
        .unwrap();
    assert_eq!(store.count("a").await.unwrap(), 3);
    let hits = store
        .search(query(&bm25, "a", "ropes months", None))
        .await
        .unwrap();
    assert!(hits[0].payload.text.contains("18 months"));
    store.delete_document_chunks("a", "crane", 1).await.unwrap();
    assert_eq!(store.count("a").await.unwrap(), 2);
    store.delete_document_chunks("a", "crane", 0).await.unwrap();
    assert_eq!(store.count("a").await.unwrap(), 1);
    assert_eq!(
        store.count("b").await.unwrap(),
        1,
        "deletes stay inside the tenant"
    );

    store.delete_tenant("b").await.unwrap();
    assert_eq!(store.count("b").await.unwrap(), 0);
    assert_eq!(store.count("a").await.unwrap(), 1);
}

/// The contract on a store with dense vectors, plus dense-only relevance: a query vector close to
/// the lathe finds it even without shared words.
async fn hybrid_contract(store: &dyn VectorStore) {
    contract(store).await;
    let bm25 = Bm25Encoder::new(&Bm25Config::default()).unwrap();
    let hits = store
        .search(query(&bm25, "a", "zzz", Some(unit([0.0, 1.0, 0.0, 0.0]))))
        .await
        .unwrap();
    assert_eq!(hits[0].payload.document_id, "lathe");
}

#[tokio::test]
async fn edge_store_bm25_only() {
    let dir = tempfile::tempdir().unwrap();
    let store = EdgeStore::open(dir.path(), None).await.unwrap();
    assert_eq!(store.dense_dimensions(), None);
    contract(&store).await;
}

#[tokio::test]
async fn edge_store_hybrid() {
    let dir = tempfile::tempdir().unwrap();
    let store = EdgeStore::open(dir.path(), Some(4)).await.unwrap();
    hybrid_contract(&store).await;
}

#[tokio::test]
async fn edge_store_is_single_process_and_reopens_with_its_data() {
    let dir = tempfile::tempdir().unwrap();
    let store = EdgeStore::open(dir.path(), None).await.unwrap();
    let err = EdgeStore::open(dir.path(), None).await.unwrap_err();
    assert!(
        err.to_string().contains("in use by another ragway process"),
        "{err}"
    );
    let bm25 = Bm25Encoder::new(&Bm25Config::default()).unwrap();
    store
        .upsert(vec![point(&bm25, "a", "d", 0, "persisted text", None)])
        .await
        .unwrap();
    drop(store);
    let reopened = EdgeStore::open(dir.path(), None).await.unwrap();
    assert_eq!(reopened.count("a").await.unwrap(), 1);
    drop(reopened);
    let err = EdgeStore::open(dir.path(), Some(384)).await.unwrap_err();
    assert!(
        err.to_string().contains("built without dense vectors"),
        "{err}"
    );
}

/// Settings for a collection of its own on the test cluster, or None (skip) without one.
fn qdrant(test: &str) -> Option<QdrantSettings> {
    let Some(url) = std::env::var("QDRANT_GRPC_URL")
        .ok()
        .filter(|u| !u.is_empty())
    else {
        assert!(
            std::env::var_os("CI").is_none(),
            "{test}: CI must run with a Qdrant cluster (QDRANT_GRPC_URL); see .ci/run"
        );
        eprintln!(
            "skipped {test}: QDRANT_GRPC_URL is not set (../shared/tools/qdrant/cluster start DIR)"
        );
        return None;
    };
    Some(QdrantSettings {
        url,
        api_key: None,
        collection: format!("contract-{}", uuid::Uuid::new_v4().simple()),
        // Sharded and replicated, as a production cluster is.
        layout: CollectionLayout {
            shard_number: Some(2),
            replication_factor: Some(2),
            ..CollectionLayout::default()
        },
        timeout: Duration::from_secs(30),
    })
}

#[tokio::test]
async fn qdrant_store_bm25_only() {
    let Some(settings) = qdrant("qdrant_store_bm25_only") else {
        return;
    };
    let store = QdrantStore::connect(&settings, None).await.unwrap();
    assert_eq!(store.backend(), "qdrant");
    assert_eq!(store.dense_dimensions(), None);
    contract(&store).await;
    Generations::new(&settings)
        .unwrap()
        .drop_all()
        .await
        .unwrap();
}

#[tokio::test]
async fn qdrant_store_hybrid() {
    let Some(settings) = qdrant("qdrant_store_hybrid") else {
        return;
    };
    let store = QdrantStore::connect(&settings, Some(4)).await.unwrap();
    hybrid_contract(&store).await;
    Generations::new(&settings)
        .unwrap()
        .drop_all()
        .await
        .unwrap();
}

#[tokio::test]
async fn qdrant_collection_is_created_once_and_checked_on_every_start() {
    let Some(settings) = qdrant("qdrant_collection_is_created_once_and_checked_on_every_start")
    else {
        return;
    };
    // Three replicas starting at once agree on one collection behind the alias.
    let (a, b, c) = tokio::join!(
        QdrantStore::connect(&settings, Some(4)),
        QdrantStore::connect(&settings, Some(4)),
        QdrantStore::connect(&settings, Some(4)),
    );
    let (a, b, _c) = (a.unwrap(), b.unwrap(), c.unwrap());
    let generations = Generations::new(&settings).unwrap();
    let current = generations.current().await.unwrap().unwrap();
    assert_eq!(current.number, 1);
    assert_eq!(
        generations.all().await.unwrap(),
        std::slice::from_ref(&current)
    );
    let bm25 = Bm25Encoder::new(&Bm25Config::default()).unwrap();
    a.upsert(vec![point(
        &bm25,
        "t",
        "d",
        0,
        "shared text",
        Some(unit([1.0, 0.0, 0.0, 0.0])),
    )])
    .await
    .unwrap();
    assert_eq!(
        b.count("t").await.unwrap(),
        1,
        "one truth for every replica"
    );

    // A configuration that disagrees is refused, saying what differs; nothing is recreated.
    let err = QdrantStore::connect(&settings, Some(8)).await.unwrap_err();
    assert!(
        err.to_string()
            .contains("4 dimensions but the embedder gives 8"),
        "{err}"
    );
    let err = QdrantStore::connect(&settings, None).await.unwrap_err();
    assert!(
        err.to_string().contains("no embedder is configured"),
        "{err}"
    );
    assert_eq!(a.count("t").await.unwrap(), 1, "the data survived");
    generations.drop_all().await.unwrap();
}

#[tokio::test]
async fn qdrant_alias_switch_moves_questions_to_the_new_generation_at_once() {
    let Some(settings) =
        qdrant("qdrant_alias_switch_moves_questions_to_the_new_generation_at_once")
    else {
        return;
    };
    let bm25 = Bm25Encoder::new(&Bm25Config::default()).unwrap();
    let serving = QdrantStore::connect(&settings, None).await.unwrap();
    serving
        .upsert(vec![point(
            &bm25,
            "t",
            "old",
            0,
            "crane inspection monthly",
            None,
        )])
        .await
        .unwrap();
    let generations = Generations::new(&settings).unwrap();
    let next = generations.next().await.unwrap();
    assert_eq!(next.number, 2);
    let building = QdrantStore::for_generation(&settings, &next, None)
        .await
        .unwrap();
    building
        .upsert(vec![point(
            &bm25,
            "t",
            "new",
            0,
            "crane inspection weekly",
            None,
        )])
        .await
        .unwrap();
    let top = |hits: Vec<ragway_ingest::store::Hit>| hits[0].payload.document_id.clone();
    // Until the switch, questions see the old generation only.
    let ask = || serving.search(query(&bm25, "t", "crane inspection", None));
    assert_eq!(top(ask().await.unwrap()), "old");
    let previous = generations.switch_to(&next).await.unwrap().unwrap();
    assert_eq!(previous.number, 1);
    assert_eq!(
        top(ask().await.unwrap()),
        "new",
        "the same store reads through the alias"
    );
    generations.drop(&previous).await.unwrap();
    assert_eq!(top(ask().await.unwrap()), "new");
    assert_eq!(generations.all().await.unwrap(), [next]);
    generations.drop_all().await.unwrap();
}

/// The embedded index drops the WAL segments it no longer needs when it opens (qdrant-edge maps
/// them all and never truncates), and writes after that still replace what they should.
#[tokio::test]
async fn reopening_the_embedded_index_drops_old_wal_segments_and_writes_go_on() {
    let bm25 = Bm25Encoder::new(&Bm25Config::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let wal = dir.path().join("shards").join("a").join("wal");
    let closed = || {
        std::fs::read_dir(&wal)
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .starts_with("closed-")
            })
            .count()
    };
    // About 3 MB of payload a write, each in a segment of its own (larger than their 1 MB capacity).
    let filler = "gantry crane inspection log entry ".repeat(90_000);
    {
        let store = EdgeStore::open(dir.path(), None).await.unwrap();
        for doc in 0..8 {
            let text = format!("document {doc}: {filler}");
            let p = point(&bm25, "a", &format!("d{doc}"), 0, &text, None);
            store.upsert(vec![p]).await.unwrap();
        }
    }
    assert!(closed() >= 2, "{} closed WAL segments", closed());
    let store = EdgeStore::open(dir.path(), None).await.unwrap();
    assert_eq!(closed(), 1, "only the newest closed segment is kept");
    assert_eq!(
        store.count("a").await.unwrap(),
        8,
        "nothing indexed was lost"
    );
    // An existing point rewritten after the prune replaces the old one: operation numbers went
    // on from where they were (a lower number would be ignored by the segment).
    let p = point(
        &bm25,
        "a",
        "d0",
        0,
        "Forklift brakes are tested weekly.",
        None,
    );
    store.upsert(vec![p]).await.unwrap();
    let hits = store
        .search(query(&bm25, "a", "forklift brakes", None))
        .await
        .unwrap();
    assert_eq!(hits.len(), 1, "{hits:?}");
    assert_eq!(hits[0].payload.text, "Forklift brakes are tested weekly.");
    drop(store);
    let store = EdgeStore::open(dir.path(), None).await.unwrap();
    assert_eq!(store.count("a").await.unwrap(), 8);
}
