//! The embedded index's layout: an index of one shared shard split into a shard per tenant,
//! and tenant ids that cannot name a directory refused.

use std::path::Path;

use super::edge_legacy::FILES;
use super::edge_points::{to_point, upsert_op};
use super::edge_shard::{ShardSettings, TenantShard};
use super::{ChunkPayload, ChunkPoint, EdgeStore, SearchMode, SearchQuery, Sparse, VectorStore};
use crate::embed::{Bm25Config, Bm25Encoder};
use crate::lang::Lang;

fn point(bm25: &Bm25Encoder, tenant: &str, doc: &str, text: &str, dense: f32) -> ChunkPoint {
    let sparse = bm25.embed_document(text, Lang::En);
    ChunkPoint {
        id: crate::ids::point_id(tenant, doc, 0),
        dense: Some(vec![dense, 1.0 - dense]),
        sparse: Sparse {
            indices: sparse.indices,
            values: sparse.values,
        },
        payload: ChunkPayload {
            tenant_id: tenant.into(),
            document_id: doc.into(),
            uri: format!("{doc}.md"),
            text: text.into(),
            acl: if doc == "secret" {
                vec!["hr".into()]
            } else {
                Vec::new()
            },
            ..ChunkPayload::default()
        },
    }
}

/// An index written before shards per tenant: every tenant in one shard at the root.
fn shared_index(dir: &Path, bm25: &Bm25Encoder) {
    let shared = TenantShard::create(dir, two_dims()).unwrap();
    let points = [
        point(
            bm25,
            "a",
            "crane",
            "Overhead crane hooks are inspected monthly.",
            0.9,
        ),
        point(bm25, "a", "secret", "Crane operators' salaries.", 0.8),
        point(bm25, "b", "crane", "Crane rental rates for the port.", 0.7),
    ];
    let points = points.into_iter().map(|p| to_point(p).unwrap()).collect();
    shared.write(upsert_op(points)).unwrap();
}

async fn ask(store: &EdgeStore, tenant: &str, groups: &[&str]) -> Vec<String> {
    let bm25 = Bm25Encoder::new(&Bm25Config::default()).unwrap();
    let sparse = bm25.embed_query("crane", Lang::En);
    let sparse = Sparse {
        indices: sparse.indices,
        values: sparse.values,
    };
    let mut query = SearchQuery::unfiltered(tenant, sparse, Some(vec![1.0, 0.0]), 10);
    query.groups = groups.iter().map(|g| g.to_string()).collect();
    let mut texts: Vec<String> = (store.search(query).await.unwrap().into_iter())
        .map(|hit| hit.payload.text)
        .collect();
    texts.sort();
    texts
}

#[tokio::test]
async fn an_index_with_one_shared_shard_is_split_into_one_shard_per_tenant() {
    let dir = tempfile::tempdir().unwrap();
    let bm25 = Bm25Encoder::new(&Bm25Config::default()).unwrap();
    shared_index(dir.path(), &bm25);
    // A split that crashed before: its side directory is started over.
    std::fs::create_dir_all(dir.path().join("shards.partial/a")).unwrap();
    std::fs::write(dir.path().join("shards.partial/a/junk"), "x").unwrap();

    let store = EdgeStore::open(dir.path(), Some(2)).await.unwrap();
    assert_eq!(store.tenants().unwrap(), ["a", "b"]);
    assert_eq!(store.stored_dense_dimensions(), Some(2));
    assert_eq!(store.count("a").await.unwrap(), 2);
    assert_eq!(store.count("b").await.unwrap(), 1);
    for name in FILES.iter().chain(&["shards.partial"]) {
        assert!(!dir.path().join(name).exists(), "{name} is left");
    }
    // Vectors, payloads and ACLs came along: hybrid search, each tenant its own points.
    assert_eq!(
        ask(&store, "a", &[]).await,
        ["Overhead crane hooks are inspected monthly."]
    );
    assert_eq!(ask(&store, "a", &["hr"]).await.len(), 2);
    assert_eq!(
        ask(&store, "b", &[]).await,
        ["Crane rental rates for the port."]
    );

    // Reopened: the new layout as it is, the tenant's deletion removes its shard.
    drop(store);
    let store = EdgeStore::open(dir.path(), Some(2)).await.unwrap();
    assert_eq!(store.count("a").await.unwrap(), 2);
    store.delete_tenant("a").await.unwrap();
    assert!(!dir.path().join("shards/a").exists());
    assert_eq!(store.tenants().unwrap(), ["b"]);
    assert!(ask(&store, "a", &["hr"]).await.is_empty());
    assert_eq!(store.count("b").await.unwrap(), 1);
}

#[tokio::test]
async fn a_tenant_id_that_is_not_a_plain_name_gets_no_shard() {
    let dir = tempfile::tempdir().unwrap();
    let bm25 = Bm25Encoder::new(&Bm25Config::default()).unwrap();
    let store = EdgeStore::open(dir.path(), None).await.unwrap();
    for tenant in ["../escape", ".hidden", "a/b", ""] {
        let mut p = point(&bm25, tenant, "doc", "text", 0.5);
        p.dense = None;
        let err = store.upsert(vec![p]).await.unwrap_err();
        assert!(err.to_string().contains("cannot name a shard"), "{err}");
    }
    assert!(store.tenants().unwrap().is_empty());
}

/// `[index] on_disk` on the embedded index: shards created from then on are configured to map
/// their BM25 inverted index (qdrant-edge then builds the mapped variant when it optimizes a
/// segment; bench/scale's index shows it at scale), and answer the same as shards that keep it in
/// RAM.
#[tokio::test]
async fn a_store_set_to_map_bm25_creates_shards_that_answer_the_same() {
    let bm25 = Bm25Encoder::new(&Bm25Config::default()).unwrap();
    let points = || {
        vec![
            point(
                &bm25,
                "a",
                "crane",
                "Overhead crane hooks are inspected monthly.",
                0.9,
            ),
            point(&bm25, "a", "secret", "Crane operators' salaries.", 0.8),
            point(&bm25, "a", "dock", "The dock opens at six.", 0.1),
        ]
    };
    let mut answers = Vec::new();
    for on_disk in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let store = EdgeStore::open(dir.path(), Some(2))
            .await
            .unwrap()
            .with_bm25_on_disk(on_disk);
        store.upsert(points()).await.unwrap();
        let config: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(dir.path().join("shards/a/edge_config.json")).unwrap(),
        )
        .unwrap();
        let mapped = config["sparse_vectors"]["bm25"]["on_disk"] == serde_json::json!(true);
        assert_eq!(mapped, on_disk, "{config}");
        answers.push((ask(&store, "a", &[]).await, ask(&store, "a", &["hr"]).await));
    }
    assert_eq!(answers[0], answers[1]);
    let (everyone, hr) = &answers[1];
    assert!(everyone.contains(&"Overhead crane hooks are inspected monthly.".to_owned()));
    assert!(!everyone.contains(&"Crane operators' salaries.".to_owned()));
    assert!(
        hr.contains(&"Crane operators' salaries.".to_owned()),
        "{hr:?}"
    );
}

fn segments(dir: &Path, tenant: &str) -> usize {
    std::fs::read_dir(dir.join("shards").join(tenant).join("segments"))
        .unwrap()
        .filter(|entry| entry.as_ref().unwrap().path().is_dir())
        .count()
}

/// A long write indexes its appendable segment every few thousand points (qdrant-edge 0.7's
/// posting-list inserts grow with the segment), every point stays searchable meanwhile, and the
/// optimize at the end of the sync merges the segments again.
#[tokio::test]
async fn a_long_write_is_indexed_as_it_goes_and_merged_at_the_end() {
    let dir = tempfile::tempdir().unwrap();
    let bm25 = Bm25Encoder::new(&Bm25Config::default()).unwrap();
    let store = EdgeStore::open(dir.path(), Some(2)).await.unwrap();
    let total = 12_000;
    let points: Vec<ChunkPoint> = (0..total)
        .map(|i| {
            let text = match i {
                0 => "Overhead crane hooks are inspected monthly.".to_owned(),
                i if i == total - 1 => "Crane rental rates for the port.".to_owned(),
                i => format!("Forklift log entry {i}: battery swapped, tyres checked."),
            };
            point(&bm25, "a", &format!("doc-{i}"), &text, 0.5)
        })
        .collect();
    let mut points = points.into_iter();
    loop {
        let batch: Vec<ChunkPoint> = points.by_ref().take(256).collect();
        if batch.is_empty() {
            break;
        }
        store.upsert(batch).await.unwrap();
    }
    assert!(
        segments(dir.path(), "a") >= 3,
        "two indexed, one appendable"
    );
    assert_eq!(store.count("a").await.unwrap(), total);
    let both = [
        "Crane rental rates for the port.",
        "Overhead crane hooks are inspected monthly.",
    ];
    // The dense half of the query ranks the (equal) forklift vectors too: BM25 finds these.
    let cranes = |texts: Vec<String>| -> Vec<String> {
        texts.into_iter().filter(|t| t.contains("rane")).collect()
    };
    assert_eq!(cranes(ask(&store, "a", &[]).await), both);

    assert!(store.optimize().await.unwrap());
    assert!(segments(dir.path(), "a") <= 2, "merged");
    assert_eq!(store.count("a").await.unwrap(), total);
    assert_eq!(cranes(ask(&store, "a", &[]).await), both);
    let config = std::fs::read_to_string(dir.path().join("shards/a/edge_config.json")).unwrap();
    let config: serde_json::Value = serde_json::from_str(&config).unwrap();
    assert!(
        config["optimizers"]["default_segment_number"].is_null(),
        "the merge settings are back: {config}"
    );
}

/// A process stopped while indexing mid-write leaves the indexing-only optimizer settings in the
/// shard's config; the next open puts the merging ones back.
#[tokio::test]
async fn a_shard_left_with_indexing_only_settings_merges_again_once_reopened() {
    let dir = tempfile::tempdir().unwrap();
    let bm25 = Bm25Encoder::new(&Bm25Config::default()).unwrap();
    let store = EdgeStore::open(dir.path(), Some(2)).await.unwrap();
    let mut p = point(&bm25, "a", "crane", "Crane rental rates.", 0.5);
    p.dense = Some(vec![0.5, 0.5]);
    store.upsert(vec![p]).await.unwrap();
    drop(store);
    let path = dir.path().join("shards/a/edge_config.json");
    let mut config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    config["optimizers"]["default_segment_number"] = serde_json::json!(4096);
    config["optimizers"]["indexing_threshold"] = serde_json::json!(1);
    std::fs::write(&path, config.to_string()).unwrap();

    let store = EdgeStore::open(dir.path(), Some(2)).await.unwrap();
    assert_eq!(store.count("a").await.unwrap(), 1);
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert!(
        config["optimizers"]["default_segment_number"].is_null(),
        "{config}"
    );
    assert!(
        config["optimizers"]["indexing_threshold"].is_null(),
        "{config}"
    );
}

/// A sync writes batches without flushing each and flushes them once before recording their
/// documents: what `persist` flushed is on disk even if the process then dies without closing
/// the shard (a child process writes, persists and exits at once; no destructor runs).
#[test]
fn buffered_points_are_durable_once_persisted() {
    const CHILD_DIR: &str = "EDGE_TEST_PERSIST_DIR";
    if let Some(dir) = std::env::var_os(CHILD_DIR) {
        let bm25 = Bm25Encoder::new(&Bm25Config::default()).unwrap();
        let shard = TenantShard::create(Path::new(&dir), two_dims()).unwrap();
        for batch in 0..3 {
            let points = (0..50)
                .map(|i| {
                    let doc = format!("doc-{batch}-{i}");
                    to_point(point(&bm25, "a", &doc, "Crane rental rates.", 0.5)).unwrap()
                })
                .collect();
            shard.upsert(upsert_op(points), 50, false).unwrap();
        }
        shard.persist().unwrap();
        std::process::exit(0);
    }
    let dir = tempfile::tempdir().unwrap();
    let status = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "store::edge_tests::buffered_points_are_durable_once_persisted",
        ])
        .env(CHILD_DIR, dir.path())
        .status()
        .unwrap();
    assert!(status.success());

    let reopened = TenantShard::load(dir.path()).unwrap();
    let count = reopened
        .get()
        .unwrap()
        .count(qdrant_edge::CountRequest {
            filter: None,
            exact: true,
        })
        .unwrap();
    assert_eq!(count, 150);
}

fn two_dims() -> ShardSettings {
    ShardSettings {
        dense: Some(2),
        ..ShardSettings::default()
    }
}

/// A deterministic pseudo-random 16-d vector per point (splitmix64): far apart from each other,
/// so a stored vector's only near neighbour is itself.
fn spread(i: usize) -> Vec<f32> {
    (0..16u64)
        .map(|j| {
            let mut z = (i as u64 * 16 + j).wrapping_add(0x9e37_79b9_7f4a_7c15);
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^= z >> 31;
            (z >> 40) as f32 / (1u64 << 23) as f32 - 1.0
        })
        .collect()
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
    dot / (norm(a) * norm(b))
}

/// `[index] quantization = "int8"` on the embedded index: an indexed segment keeps int8 copies
/// of the vectors, the graph search scores them, and the float32 originals rescore what it found —
/// the scores are exact cosines, not int8 approximations (which are off by ≈ 1e-3).
#[tokio::test]
async fn int8_copies_are_searched_and_the_originals_rescore_them() {
    let dir = tempfile::tempdir().unwrap();
    let bm25 = Bm25Encoder::new(&Bm25Config::default()).unwrap();
    let store = EdgeStore::open(dir.path(), Some(16))
        .await
        .unwrap()
        .with_int8_quantization(true);
    let total = 6_000;
    for start in (0..total).step_by(1_000) {
        let batch = (start..start + 1_000)
            .map(|i| {
                let mut p = point(&bm25, "a", &format!("doc-{i}"), "Forklift log.", 0.5);
                p.dense = Some(spread(i));
                p
            })
            .collect();
        store.upsert(batch).await.unwrap();
    }
    store.optimize().await.unwrap();
    let quantized = std::fs::read_dir(dir.path().join("shards/a/segments"))
        .unwrap()
        .map(|e| {
            e.unwrap()
                .path()
                .join("vector_storage-dense/quantized.data")
        })
        .filter(|p| p.exists())
        .count();
    assert!(quantized >= 1, "an indexed segment has int8 copies");
    for probe in [17, 2_500, 5_999] {
        let wanted = spread(probe);
        let mut query = SearchQuery::unfiltered("a", Sparse::default(), Some(wanted.clone()), 5);
        query.mode = SearchMode::Dense;
        query.min_dense_score = -1.0;
        let hits = store.search(query).await.unwrap();
        assert_eq!(hits[0].payload.document_id, format!("doc-{probe}"));
        for hit in &hits {
            let i: usize = hit.payload.document_id[4..].parse().unwrap();
            let exact = cosine(&wanted, &spread(i));
            assert!((hit.score - exact).abs() < 1e-5, "{} vs {exact}", hit.score);
        }
    }
}
