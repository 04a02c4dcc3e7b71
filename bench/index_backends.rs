//! The same corpus and questions on the embedded index, a 1-node and a 3-node Qdrant cluster:
//! ingest (chunks/s), retrieval p50/p99 (BM25 and hybrid) and the latency ragway adds to an
//! answer, in one run. The corpus is SciFact's abstracts copied `copies` times under new names
//! into one tenant (≈ 5,600 chunks per copy; 18 copies ≈ 100k chunks); dense vectors come from the
//! fake OpenAI embeddings endpoint (deterministic, 384 dimensions) so building the index does not
//! wait for a CPU model. Same profile as the tests (dev, dependencies at opt-level 2).
//!
//! QDRANT_1NODE_GRPC_URL=… QDRANT_3NODE_GRPC_URL=… \
//!   cargo run -p ragway-tests --example index_backends -- [copies] [questions] [asks]
//! (a backend whose variable is unset is skipped; start clusters with ../shared/tools/qdrant/cluster)
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use ragway_gateway::channels::widget::Widget;
use ragway_gateway::config::{EmbeddingsConfig, IndexBackend, IndexConfig, LimitsConfig};
use ragway_gateway::{AppState, Server};
use ragway_ingest::embed::OpenAiEmbedderConfig;
use ragway_ingest::lang::Lang;
use ragway_ingest::source::FolderSourceConfig;
use ragway_ingest::store::{Generations, SearchMode};
use ragway_tests::fake_openai::{FakeOpenAi, FakeOptions};
use ragway_tests::harness::{Gateway, fake_llm_config, test_config};
use ragway_tests::latency::Samples;
use serde_json::{Value, json};

const TENANT: &str = "bench";
/// Beside the repository (relative to `tests/`).
const SCIFACT: &str = "../../shared/data/scifact";

/// Writes `copies` copies of the corpus as text files (once; reused by later runs).
fn corpus(copies: usize) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ragway-bench-scifact-x{copies}"));
    if dir.join("complete").exists() {
        return dir;
    }
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join(SCIFACT)
            .join("corpus.jsonl"),
    )
    .expect("../shared/data/scifact must sit beside the repository");
    let docs: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    for copy in 0..copies {
        let sub = dir.join(format!("copy{copy:02}"));
        std::fs::create_dir_all(&sub).unwrap();
        for doc in &docs {
            let body = format!(
                "# {}\n\n{}\n",
                doc["title"].as_str().unwrap(),
                doc["text"].as_str().unwrap()
            );
            std::fs::write(
                sub.join(format!("{}.md", doc["_id"].as_str().unwrap())),
                body,
            )
            .unwrap();
        }
    }
    std::fs::write(dir.join("complete"), "").unwrap();
    dir
}

fn questions(n: usize) -> Vec<String> {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join(SCIFACT)
            .join("queries-train.jsonl"),
    )
    .unwrap();
    text.lines()
        .take(n)
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["text"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect()
}

struct Row {
    name: String,
    chunks: usize,
    ingest_secs: f64,
    bm25: Samples,
    hybrid: Samples,
    added: (f64, f64),
}

async fn measure(
    name: &str,
    index: IndexConfig,
    corpus: &Path,
    questions: &[String],
    asks: usize,
    fake: &FakeOpenAi,
) -> Row {
    let tmp = tempfile::tempdir().unwrap();
    let mut config = test_config(tmp.path());
    config.index = index;
    config.limits = LimitsConfig::unlimited();
    config.cache.enabled = false;
    config.llm = Some(fake_llm_config(&fake.base_url, 0));
    let embeddings: OpenAiEmbedderConfig = serde_json::from_value(json!({
        "base_url": fake.base_url, "model": "fake-bow", "dimensions": 384, "api_key_env": null
    }))
    .unwrap();
    config.embeddings = Some(EmbeddingsConfig::OpenAi(embeddings));
    config.widget.session_secret_env = Some("BENCH_WIDGET_SECRET".into());
    let widget = Widget::new(&config.widget, &|_| Some("b".repeat(40))).unwrap();
    let state = AppState::open(config).await.unwrap();
    state.core.catalog.ensure_tenant(TENANT).await.unwrap();

    let started = Instant::now();
    let report = state
        .indexer
        .sync_folder(
            TENANT,
            "scifact",
            corpus,
            &FolderSourceConfig::default(),
            &|_| {},
        )
        .await
        .unwrap();
    let ingest_secs = started.elapsed().as_secs_f64();
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    let chunks = state.store.count(TENANT).await.unwrap();

    let retriever = &state.core.retriever;
    let timed = |mode: SearchMode| {
        let retriever = retriever.clone();
        let questions = questions.to_vec();
        async move {
            let mut samples = Vec::with_capacity(questions.len());
            for q in &questions {
                let started = Instant::now();
                let hits = retriever
                    .search(TENANT, &[], q, Lang::En, 10, mode)
                    .await
                    .unwrap();
                samples.push(started.elapsed());
                std::hint::black_box(hits);
            }
            Samples::new(samples)
        }
    };
    let _warm = timed(SearchMode::Hybrid).await;
    let bm25 = timed(SearchMode::Bm25).await;
    let hybrid = timed(SearchMode::Hybrid).await;

    // Answers through the gateway (hybrid retrieval, the fake LLM answering at once) against the
    // same prompts sent to the LLM directly: the difference is what ragway adds.
    let server = Server {
        state: state.clone(),
        bots: Default::default(),
        widget: Arc::new(widget),
    };
    let gateway = Gateway::serve(server).await.unwrap();
    let key = gateway.tenant_with_key(TENANT).await.unwrap();
    let client = reqwest::Client::new();
    let ask = |q: String| {
        let client = client.clone();
        let url = format!("{}/api/v1/ask", gateway.base_url);
        let key = key.clone();
        async move {
            let response = client
                .post(url)
                .bearer_auth(key)
                .json(&json!({"question": q}))
                .send()
                .await
                .unwrap();
            assert!(response.status().is_success());
            response.text().await.unwrap();
        }
    };
    for q in questions.iter().take(10) {
        ask(q.clone()).await;
    }
    let before = fake.chat_requests().len();
    let mut through = Vec::with_capacity(asks);
    for i in 0..asks {
        let started = Instant::now();
        ask(questions[i % questions.len()].clone()).await;
        through.push(started.elapsed());
    }
    let prompts = fake.chat_requests();
    let mut direct = Vec::with_capacity(asks);
    for body in &prompts[before..] {
        direct.push(fake.replay_chat(&client, body).await);
    }
    let (through, direct) = (Samples::new(through), Samples::new(direct));
    let added = (
        through.ms(0.5) - direct.ms(0.5),
        through.ms(0.99) - direct.ms(0.99),
    );
    eprintln!(
        "{name}: through ragway p50 {:.2} / p99 {:.2} ms ({} answers); the LLM directly p50 {:.2} / p99 {:.2} ms ({} calls)",
        through.ms(0.5),
        through.ms(0.99),
        through.len(),
        direct.ms(0.5),
        direct.ms(0.99),
        direct.len()
    );
    drop(client);
    gateway.shutdown().await;
    if let (IndexBackend::Qdrant, Ok(settings)) = (
        state.core.config.index.backend,
        state.core.config.index.qdrant_settings(&|_| None),
    ) {
        Generations::new(&settings)
            .unwrap()
            .drop_all()
            .await
            .unwrap();
    }
    Row {
        name: name.to_owned(),
        chunks,
        ingest_secs,
        bm25,
        hybrid,
        added,
    }
}

fn qdrant(url: String, replication: u32) -> IndexConfig {
    IndexConfig {
        backend: IndexBackend::Qdrant,
        url: Some(url),
        collection: format!("bench-{}", uuid::Uuid::new_v4().simple()),
        shard_number: Some(1),
        replication_factor: Some(replication),
        timeout_secs: 120,
        ..IndexConfig::default()
    }
}

#[tokio::main]
async fn main() {
    let copies: usize = std::env::args().nth(1).map_or(18, |n| n.parse().unwrap());
    let n_questions: usize = std::env::args().nth(2).map_or(300, |n| n.parse().unwrap());
    let asks: usize = std::env::args().nth(3).map_or(200, |n| n.parse().unwrap());
    let corpus = corpus(copies);
    let questions = questions(n_questions);
    let fake = FakeOpenAi::start(FakeOptions {
        embedding_dimensions: 384,
        ..FakeOptions::default()
    })
    .await
    .unwrap();
    let mut backends = vec![("embedded (qdrant-edge)".to_owned(), IndexConfig::default())];
    if let Ok(url) = std::env::var("QDRANT_1NODE_GRPC_URL") {
        backends.push(("Qdrant 1 node".into(), qdrant(url, 1)));
    }
    if let Ok(url) = std::env::var("QDRANT_3NODE_GRPC_URL") {
        backends.push(("Qdrant 3 nodes (1 shard × 2)".into(), qdrant(url, 2)));
    }
    let mut rows = Vec::new();
    for (name, index) in backends {
        eprintln!("measuring {name} …");
        rows.push(measure(&name, index, &corpus, &questions, asks, &fake).await);
    }
    println!(
        "index backends: SciFact ×{copies} in one tenant, {} questions, {asks} answers, dense 384-d (fake endpoint), dev profile",
        questions.len()
    );
    println!(
        "| index | chunks | ingest chunks/s | BM25 p50 / p99 ms | hybrid p50 / p99 ms | added by ragway p50 / p99 ms |"
    );
    println!("|---|---:|---:|---:|---:|---:|");
    for row in rows {
        println!(
            "| {} | {} | {:.0} | {:.2} / {:.2} | {:.2} / {:.2} | {:.2} / {:.2} |",
            row.name,
            row.chunks,
            row.chunks as f64 / row.ingest_secs,
            row.bm25.ms(0.5),
            row.bm25.ms(0.99),
            row.hybrid.ms(0.5),
            row.hybrid.ms(0.99),
            row.added.0,
            row.added.1
        );
    }
}
