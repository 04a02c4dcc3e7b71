//! Embedding throughput of the in-process all-MiniLM-L6-v2: SciFact abstracts (title + text, as
//! they are indexed) embedded in batches, chunks/s. Run it pinned to two cores to measure the
//! figure for a 2-core machine:
//!
//! taskset -c 0,1 cargo run -p ragway-tests --example embed_throughput -- [N] [BATCH] [truncate|windows]
//!
//! `truncate` cuts every text at the model's 256 word pieces (what sentence-transformers does, and
//! what this figure measured before windows existed); `windows` (the default) embeds all of it.
//!
//! taskset -c 0,1 cargo run -p ragway-tests --example embed_throughput -- compare [N]
//!
//! embeds the same N abstracts (default 300) three ways in one process: the embedder as first
//! written (`embed_baseline.rs`, today's figure of issue 17), this one truncating, this one in
//! windows; chunks/s and CPU seconds of each, and the cosine between the baseline's vectors and
//! this one's (the same model: ≈ 1).
//!
//! taskset -c 0,1 cargo run -p ragway-tests --example embed_throughput -- scifact [QUERIES] [DISTRACTORS]
//!
//! measures what truncation costs dense retrieval: every SciFact abstract embedded both ways, the
//! 809 train claims searched by exact cosine, nDCG@10 / Recall@10 / Recall@100 / MRR@10 of each
//! (QUERIES / DISTRACTORS make a smaller run: see `truncation`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout
)]

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Instant;

#[path = "embed_baseline.rs"]
mod embed_baseline;

use ragway_ingest::embed::local::LongTexts;
use ragway_ingest::embed::{Embedder, LocalEmbedder, LocalEmbedderConfig};

fn scifact() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/scifact")
}

fn read(name: &str) -> String {
    let path = scifact().join(name);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (needs ../shared/data/scifact)", path.display()))
}

/// (id, title + "\n\n" + text) of the first `n` abstracts, as they are indexed.
fn corpus(n: usize) -> Vec<(String, String)> {
    read("corpus.jsonl")
        .lines()
        .take(n)
        .map(|line| {
            let doc: serde_json::Value = serde_json::from_str(line).unwrap();
            (
                doc["_id"].as_str().unwrap_or("").to_owned(),
                format!(
                    "{}\n\n{}",
                    doc["title"].as_str().unwrap_or(""),
                    doc["text"].as_str().unwrap_or("")
                ),
            )
        })
        .collect()
}

async fn embedder(batch: usize, long_texts: LongTexts) -> LocalEmbedder {
    LocalEmbedder::open(LocalEmbedderConfig {
        batch_size: batch,
        long_texts,
        ..LocalEmbedderConfig::default()
    })
    .await
    .unwrap()
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("scifact") {
        let number = |i: usize| args.get(i).map(|a| a.parse::<usize>().expect("a number"));
        return truncation(number(1), number(2)).await;
    }
    if args.first().map(String::as_str) == Some("compare") {
        let n = args.get(1).map_or(300, |a| a.parse().expect("N: a number"));
        return compare(n).await;
    }
    let n: usize = args
        .first()
        .map_or(1000, |a| a.parse().expect("N: a number"));
    let batch: usize = args
        .get(1)
        .map_or(32, |a| a.parse().expect("BATCH: a number"));
    let long_texts = match args.get(2).map(String::as_str) {
        None | Some("windows") => LongTexts::Windows,
        Some("truncate") => LongTexts::Truncate,
        Some(other) => panic!("{other}: truncate or windows"),
    };
    let texts: Vec<String> = corpus(n).into_iter().map(|(_, text)| text).collect();
    let started = Instant::now();
    let embedder = embedder(batch, long_texts).await;
    println!("model load: {:.2} s", started.elapsed().as_secs_f64());
    let pieces = embedder.word_pieces(texts.clone()).await.unwrap();
    let total: usize = pieces.iter().sum();
    let over = pieces.iter().filter(|&&p| p > 254).count();
    println!(
        "{} texts: {total} word pieces (mean {:.0}), {over} over 254 (the model's 256 minus [CLS]/[SEP])",
        texts.len(),
        total as f64 / texts.len() as f64
    );

    // Warm-up (first-call allocations), not counted.
    embedder
        .embed(texts[..batch.min(texts.len())].to_vec())
        .await
        .unwrap();
    let started = Instant::now();
    let vectors = embedder.embed(texts.clone()).await.unwrap();
    let secs = started.elapsed().as_secs_f64();
    assert_eq!(vectors.len(), texts.len());
    let threads = std::thread::available_parallelism().map_or(0, usize::from);
    println!(
        "{} SciFact abstracts ({long_texts:?}), batch {batch}, {threads} threads: {:.1} s → {:.1} chunks/s",
        texts.len(),
        secs,
        texts.len() as f64 / secs
    );

    let query = vec!["Vitamin D deficiency is associated with fractures.".to_owned()];
    let mut latencies = Vec::new();
    for _ in 0..50 {
        let t = Instant::now();
        embedder.embed(query.clone()).await.unwrap();
        latencies.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    latencies.sort_by(f64::total_cmp);
    println!(
        "one query: p50 {:.2} ms, p99 {:.2} ms",
        latencies[latencies.len() / 2],
        latencies[latencies.len() * 99 / 100]
    );
}

/// Process CPU seconds (user + system) so far.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    // Fields after the parenthesised command name: utime and stime are the 12th and 13th.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .collect();
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    ticks / 100.0
}

/// Wall and CPU seconds of `work`.
async fn timed<T>(work: impl std::future::Future<Output = T>) -> (T, f64, f64) {
    let (wall, cpu) = (Instant::now(), cpu_seconds());
    let out = work.await;
    (out, wall.elapsed().as_secs_f64(), cpu_seconds() - cpu)
}

/// The baseline and this embedder (truncating, then in windows) on the same texts.
async fn compare(n: usize) {
    let texts: Vec<String> = corpus(n).into_iter().map(|(_, text)| text).collect();
    let dir = LocalEmbedderConfig::default().resolved_model_dir();
    let baseline = embed_baseline::Baseline::load(&dir);
    let warm = texts[..8.min(texts.len())].to_vec();
    baseline.embed(&warm, 32);
    let (before, base_wall, base_cpu) = timed(async { baseline.embed(&texts, 32) }).await;
    println!("| embedder | texts | wall s | chunks/s | CPU s | CPU s per chunk | × baseline |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    let row = |name: &str, wall: f64, cpu: f64| {
        println!(
            "| {name} | {} | {wall:.1} | {:.1} | {cpu:.1} | {:.3} | {:.2}× |",
            texts.len(),
            texts.len() as f64 / wall,
            cpu / texts.len() as f64,
            base_wall / wall
        )
    };
    row(
        "first written (4b75f7e): candle BertModel, truncate at 256, 32 per batch",
        base_wall,
        base_cpu,
    );
    for long_texts in [LongTexts::Truncate, LongTexts::Windows] {
        let embedder = embedder(32, long_texts).await;
        embedder.embed(warm.clone()).await.unwrap();
        let (after, wall, cpu) = timed(embedder.embed(texts.clone())).await;
        let after = after.unwrap();
        row(&format!("now, {long_texts:?}"), wall, cpu);
        if long_texts == LongTexts::Truncate {
            let worst = before
                .iter()
                .zip(&after)
                .map(|(a, b)| a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>())
                .fold(f32::INFINITY, f32::min);
            println!("lowest cosine, baseline vs now (both truncating): {worst:.5}");
        }
    }
}

/// Dense-only retrieval on SciFact train with each abstract truncated at 256 word pieces vs.
/// embedded whole in windows. Abstracts that fit get the same vector either way, so only the
/// longer ones are embedded twice. `queries`/`distractors` limit the run (for a loaded machine):
/// the first that many judged claims, searched over their relevant abstracts plus the first
/// `distractors` others of the corpus.
async fn truncation(queries_limit: Option<usize>, distractors: Option<usize>) {
    let mut qrels: HashMap<String, HashSet<String>> = HashMap::new();
    for line in read("qrels-train.tsv").lines().skip(1) {
        let mut cols = line.split('\t');
        if let (Some(q), Some(d), Some(score)) = (cols.next(), cols.next(), cols.next())
            && score.trim() != "0"
        {
            qrels.entry(q.to_owned()).or_default().insert(d.to_owned());
        }
    }
    let queries: Vec<(String, String)> = read("queries-train.jsonl")
        .lines()
        .map(|line| {
            let q: serde_json::Value = serde_json::from_str(line).unwrap();
            (
                q["_id"].as_str().unwrap_or("").to_owned(),
                q["text"].as_str().unwrap_or("").to_owned(),
            )
        })
        .filter(|(id, _)| qrels.contains_key(id))
        .take(queries_limit.unwrap_or(usize::MAX))
        .collect();
    let relevant: HashSet<&str> = queries
        .iter()
        .flat_map(|(id, _)| qrels[id].iter().map(String::as_str))
        .collect();
    let docs: Vec<(String, String)> = corpus(usize::MAX)
        .into_iter()
        .enumerate()
        .filter(|(i, (id, _))| relevant.contains(id.as_str()) || distractors.is_none_or(|n| *i < n))
        .map(|(_, doc)| doc)
        .collect();
    let texts: Vec<String> = docs.iter().map(|(_, text)| text.clone()).collect();
    let windows = embedder(32, LongTexts::Windows).await;
    let truncate = embedder(32, LongTexts::Truncate).await;
    let pieces = windows.word_pieces(texts.clone()).await.unwrap();
    let long: Vec<usize> = (0..texts.len()).filter(|&i| pieces[i] > 254).collect();
    let cut: usize = long.iter().map(|&i| pieces[i] - 254).sum();
    let total: usize = pieces.iter().sum();
    println!(
        "{} abstracts, {total} word pieces: {} over 254 pieces; truncation drops {cut} pieces ({:.1} % of all)",
        texts.len(),
        long.len(),
        100.0 * cut as f64 / total as f64
    );
    let started = Instant::now();
    let whole = windows.embed(texts.clone()).await.unwrap();
    println!(
        "embedded (windows) in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    let mut cut_vectors = whole.clone();
    let long_texts: Vec<String> = long.iter().map(|&i| texts[i].clone()).collect();
    for (&i, v) in long.iter().zip(truncate.embed(long_texts).await.unwrap()) {
        cut_vectors[i] = v;
    }

    let query_vectors = windows
        .embed(queries.iter().map(|(_, t)| t.clone()).collect())
        .await
        .unwrap();
    let long_ids: HashSet<&str> = long.iter().map(|&i| docs[i].0.as_str()).collect();
    let touched = queries
        .iter()
        .filter(|(id, _)| qrels[id].iter().any(|d| long_ids.contains(d.as_str())))
        .count();
    println!(
        "{} judged claims, {touched} of them with a relevant abstract over 254 pieces",
        queries.len()
    );
    println!("| abstracts embedded | nDCG@10 | Recall@10 | Recall@100 | MRR@10 |");
    println!("|---|---:|---:|---:|---:|");
    for (name, vectors) in [
        ("truncated at 256 word pieces", &cut_vectors),
        ("whole, in windows (mean over all tokens)", &whole),
    ] {
        let m = evaluate(&docs, vectors, &queries, &query_vectors, &qrels);
        println!(
            "| {name} | {:.4} | {:.4} | {:.4} | {:.4} |",
            m[0], m[1], m[2], m[3]
        );
    }
}

/// Mean nDCG@10, Recall@10, Recall@100, MRR@10 over the queries (binary relevance, as BEIR).
fn evaluate(
    docs: &[(String, String)],
    vectors: &[Vec<f32>],
    queries: &[(String, String)],
    query_vectors: &[Vec<f32>],
    qrels: &HashMap<String, HashSet<String>>,
) -> [f64; 4] {
    let mut totals = [0f64; 4];
    for ((id, _), q) in queries.iter().zip(query_vectors) {
        let relevant = &qrels[id];
        let mut scored: Vec<(f32, usize)> = vectors
            .iter()
            .enumerate()
            .map(|(i, v)| (v.iter().zip(q).map(|(a, b)| a * b).sum(), i))
            .collect();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0));
        let hit = |rank: usize| relevant.contains(&docs[scored[rank].1].0);
        let dcg: f64 = (0..10)
            .filter(|&r| hit(r))
            .map(|r| 1.0 / (r as f64 + 2.0).log2())
            .sum();
        let ideal: f64 = (0..relevant.len().min(10))
            .map(|r| 1.0 / (r as f64 + 2.0).log2())
            .sum();
        totals[0] += dcg / ideal;
        totals[1] += (0..10).filter(|&r| hit(r)).count() as f64 / relevant.len() as f64;
        totals[2] += (0..100).filter(|&r| hit(r)).count() as f64 / relevant.len() as f64;
        totals[3] += (0..10)
            .find(|&r| hit(r))
            .map_or(0.0, |r| 1.0 / (r as f64 + 1.0));
    }
    totals.map(|t| t / queries.len() as f64)
}
