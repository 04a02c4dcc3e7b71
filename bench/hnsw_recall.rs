//! Dense retrieval's recall and cost against the HNSW beam width (`retrieval.hnsw_ef`), on an
//! existing embedded index (by default the serving index `bench/scale` builds: 384-d vectors from
//! the fake embeddings endpoint, ACLs on the Python manual). Queries are the first words of
//! chunks spread over one tenant's shard, embedded the way the fake endpoint embeds them; each is
//! searched as ragway's dense arm does (the caller's ACL filter, `candidates` results), once at
//! a reference width far above any setting and once per width under test. Recall@k is the share
//! of the reference's first k ids the width under test also returns in its first k. The reference
//! may come from a second index of the same documents (e.g. one without int8 quantization, to
//! measure what quantization loses against full-precision vectors).
//!
//! cargo run --release -p ragway-tests --example hnsw_recall -- \
//!   [index dir] [tenant] [queries] [group] [reference index dir]
//! (the index must not be open in a running `ragway serve`: the store takes its lock)
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::collections::HashSet;
use std::path::PathBuf;
use std::time::Instant;

use ragway_ingest::store::{EdgeStore, SearchMode, SearchQuery, Sparse, VectorStore};
use ragway_tests::fake_openai::bow_embedding;

const CANDIDATES: usize = 40;
const REFERENCE_EF: usize = 4096;
const WIDTHS: [usize; 5] = [200, 100, 64, 48, 40];
const QUERY_WORDS: usize = 12;

fn arg(n: usize) -> Option<String> {
    std::env::args().nth(n)
}

/// Every `step`-th chunk's first words: about `wanted` queries spread over the whole shard.
async fn queries(store: &EdgeStore, tenant: &str, wanted: usize) -> Vec<String> {
    let total = store.count(tenant).await.unwrap();
    let step = (total / wanted).max(1);
    let (mut out, mut after, mut seen) = (Vec::new(), None, 0usize);
    loop {
        let (points, next) = store.scroll(tenant, after, 1000).await.unwrap();
        for point in points {
            if seen.is_multiple_of(step) && out.len() < wanted {
                let words: Vec<&str> = point
                    .payload
                    .text
                    .split_whitespace()
                    .take(QUERY_WORDS)
                    .collect();
                if words.len() >= 4 {
                    out.push(words.join(" "));
                }
            }
            seen += 1;
        }
        match next {
            Some(id) => after = Some(id),
            None => return out,
        }
    }
}

async fn search(
    store: &EdgeStore,
    tenant: &str,
    group: &str,
    vector: &[f32],
    ef: usize,
) -> Vec<(String, usize)> {
    let mut query =
        SearchQuery::unfiltered(tenant, Sparse::default(), Some(vector.to_vec()), CANDIDATES);
    query.candidates = CANDIDATES;
    query.mode = SearchMode::Dense;
    query.hnsw_ef = Some(ef);
    query.groups = vec![group.to_owned()];
    store
        .search(query)
        .await
        .unwrap()
        .into_iter()
        // Ids are random per ingest: a chunk is known by its document and place in it, the same
        // in two indexes of the same documents.
        .map(|h| (h.payload.uri, h.payload.chunk_index))
        .collect()
}

fn recall_at(reference: &[(String, usize)], found: &[(String, usize)], k: usize) -> f64 {
    let want: HashSet<_> = reference.iter().take(k).collect();
    if want.is_empty() {
        return 1.0;
    }
    let got = found.iter().take(k).filter(|id| want.contains(id)).count();
    got as f64 / want.len() as f64
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let home = std::env::var("HOME").unwrap();
    let dir = arg(1).map_or_else(
        || PathBuf::from(home).join(".cache/ragway-bench/serving/index"),
        PathBuf::from,
    );
    let tenant = arg(2).unwrap_or_else(|| "tenant-1".into());
    let wanted: usize = arg(3).map_or(300, |n| n.parse().unwrap());
    let group = arg(4).unwrap_or_else(|| "support".into());
    let store = EdgeStore::open(&dir, Some(384)).await.unwrap();
    let reference_dir = arg(5).map(PathBuf::from);
    let reference_store = match &reference_dir {
        Some(other) => Some(EdgeStore::open(other, Some(384)).await.unwrap()),
        None => None,
    };
    let texts = queries(&store, &tenant, wanted).await;
    let vectors: Vec<Vec<f32>> = texts.iter().map(|t| bow_embedding(t, 384)).collect();
    println!(
        "index {} · tenant {tenant} ({} chunks) · {} queries · group {group:?} · {CANDIDATES} candidates · reference ef {REFERENCE_EF} on {}",
        dir.display(),
        store.count(&tenant).await.unwrap(),
        vectors.len(),
        reference_dir.as_ref().unwrap_or(&dir).display()
    );
    let mut reference = Vec::new();
    for v in &vectors {
        let on = reference_store.as_ref().unwrap_or(&store);
        reference.push(search(on, &tenant, &group, v, REFERENCE_EF).await);
    }
    println!("| hnsw_ef | recall@5 | recall@10 | recall@40 | ms per search (one thread) |");
    println!("|---:|---:|---:|---:|---:|");
    for ef in WIDTHS {
        // Twice: the first pass warms the pages this width visits; the second is timed.
        for v in &vectors {
            search(&store, &tenant, &group, v, ef).await;
        }
        let started = Instant::now();
        let (mut r5, mut r10, mut r40) = (0.0, 0.0, 0.0);
        for (v, want) in vectors.iter().zip(&reference) {
            let found = search(&store, &tenant, &group, v, ef).await;
            r5 += recall_at(want, &found, 5);
            r10 += recall_at(want, &found, 10);
            r40 += recall_at(want, &found, CANDIDATES);
        }
        let n = vectors.len() as f64;
        let ms = started.elapsed().as_secs_f64() * 1000.0 / n;
        println!(
            "| {ef} | {:.4} | {:.4} | {:.4} | {ms:.3} |",
            r5 / n,
            r10 / n,
            r40 / n
        );
    }
}
