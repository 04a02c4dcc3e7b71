#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The production topology on real services: a 3-node Qdrant cluster (collection with replication
//! factor 2), PostgreSQL, Redis and three gateway replicas, each with its own data directory and
//! sync worker. An admin uploads through replica A, whichever replica claims the sync runs it,
//! replicas B and C answer with citations; a Qdrant node is killed and questions and a sync still
//! succeed, then it rejoins and the cluster converges; a replica killed mid-answer costs that answer
//! only. Needs `QDRANT_GRPC_URL` and `QDRANT_CLUSTER_DIR` (scripts/with-qdrant), PostgreSQL and
//! Redis on 127.0.0.1; without a cluster it says so and skips (never in CI).

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{first_cited_uri, multipart, post_ask};
use ragway_gateway::channels::widget::Widget;
use ragway_gateway::config::{IndexBackend, IndexConfig};
use ragway_gateway::{AppState, Config, Server};
use ragway_ingest::store::{Generations, QdrantSettings};
use ragway_tests::fake_openai::{FakeOpenAi, FakeOptions};
use ragway_tests::harness::{Gateway, fake_llm_config, handbook_dir, test_config};
use ragway_tests::log_scan::{self, ChildLogs};
use serde_json::{Value, json};
use sqlx::Connection;
use tokio_util::sync::CancellationToken;

const TENANT: &str = "acme";
const VPN: &str = "Which server address does the NorthGate client connect to?";

struct Cluster {
    grpc: String,
    http: String,
    dir: PathBuf,
    script: PathBuf,
}

impl Cluster {
    fn from_env(test: &str) -> Option<Self> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let (Some(grpc), Some(http), Some(dir), Some(script)) = (
            var("QDRANT_GRPC_URL"),
            var("QDRANT_HTTP_URL"),
            var("QDRANT_CLUSTER_DIR"),
            var("QDRANT_CLUSTER_SCRIPT"),
        ) else {
            assert!(
                std::env::var_os("CI").is_none(),
                "{test}: CI must run with a Qdrant cluster (scripts/with-qdrant)"
            );
            eprintln!("skipped {test}: no Qdrant cluster (run it under scripts/with-qdrant)");
            return None;
        };
        Some(Self {
            grpc,
            http,
            dir: dir.into(),
            script: script.into(),
        })
    }

    fn node(&self, action: &str, node: u32) {
        let status = std::process::Command::new(&self.script)
            .arg(action)
            .arg(&self.dir)
            .arg(node.to_string())
            .status()
            .unwrap();
        assert!(status.success(), "cluster {action} {node}");
    }

    /// Waits until every shard replica of `collection` is active again (after a node rejoined).
    async fn converged(&self, collection: &str) {
        let started = Instant::now();
        loop {
            let info: Value =
                reqwest::get(format!("{}/collections/{collection}/cluster", self.http))
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
            let result = &info["result"];
            let states: Vec<&str> = result["local_shards"]
                .as_array()
                .into_iter()
                .chain(result["remote_shards"].as_array())
                .flatten()
                .filter_map(|s| s["state"].as_str())
                .collect();
            if !states.is_empty() && states.iter().all(|s| *s == "Active") {
                return;
            }
            assert!(
                started.elapsed() < Duration::from_secs(120),
                "the cluster did not converge: {info}"
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
}

/// A throwaway PostgreSQL database on the local server: `(url, admin connection url, name)`.
async fn fresh_database() -> (String, String) {
    sqlx::any::install_default_drivers();
    let server = "postgres://postgres@127.0.0.1:5432";
    let name = format!("ragway_cluster_{}", uuid::Uuid::new_v4().simple());
    let mut admin = sqlx::AnyConnection::connect(&format!("{server}/postgres"))
        .await
        .expect("PostgreSQL must run on 127.0.0.1:5432");
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .unwrap();
    (format!("{server}/{name}"), name)
}

async fn drop_database(name: &str) {
    let mut admin = sqlx::AnyConnection::connect("postgres://postgres@127.0.0.1:5432/postgres")
        .await
        .unwrap();
    let _ = sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)"))
        .execute(&mut admin)
        .await;
}

fn replica_config(
    data: &Path,
    database: &str,
    cluster: &Cluster,
    collection: &str,
    llm: &str,
) -> Config {
    let mut config = test_config(data);
    config.database_url = Some(database.to_owned());
    config.index = IndexConfig {
        backend: IndexBackend::Qdrant,
        url: Some(cluster.grpc.clone()),
        collection: collection.to_owned(),
        shard_number: Some(2),
        replication_factor: Some(2),
        write_consistency_factor: Some(1),
        ..IndexConfig::default()
    };
    config.limits.backend = ragway_gateway::config::limits::LimitBackend::Redis;
    config.limits.redis_key_prefix = format!("ragway-{collection}");
    config.sources.sync_workers = 1;
    config.sources.schedule_tick_secs = 1;
    config.sources.sync_lease_secs = 4;
    config.widget.session_secret_env = Some("CLUSTER_TEST_WIDGET_SECRET".into());
    // Caches on: a sync finished elsewhere must reach them through the tenant's generation.
    config.cache.enabled = true;
    config.llm = Some(fake_llm_config(llm, 0));
    config
}

/// The `ragway` binary cargo built beside this test (`cargo test --workspace` builds it).
fn ragway_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let binary = exe.parent().unwrap().parent().unwrap().join("ragway");
    assert!(
        binary.exists(),
        "{} is missing: run the tests with --workspace",
        binary.display()
    );
    binary
}

struct Process(std::process::Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The widget session secret of every replica, and the LLM key of the `ragway serve` one.
const WIDGET_SECRET: &str = "cluster-test-widget-session-secret-0123456789";
const LLM_KEY: &str = "sk-fake-cluster-llm-key";
/// What the `ragway serve` replica is called in its test's `ChildLogs`.
const SERVE_LOG: &str = "replica C: ragway serve";

/// A replica as a separate `ragway serve` process, configured through the environment only; its
/// stderr (its logs) goes to `logs`, scanned for secrets when the test ends.
async fn serve_process(
    logs: &ChildLogs,
    data: &Path,
    database: &str,
    cluster: &Cluster,
    collection: &str,
    llm: &str,
) -> (Process, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = std::process::Command::new(ragway_binary())
        .args(["serve", "--addr", &format!("127.0.0.1:{port}")])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("RAGWAY_DATA_DIR", data)
        .env("DATABASE_URL", database)
        .env("QDRANT_URL", &cluster.grpc)
        .env("RAGWAY_INDEX__COLLECTION", collection)
        .env("RAGWAY_LIMITS__BACKEND", "redis")
        .env(
            "RAGWAY_LIMITS__REDIS_KEY_PREFIX",
            format!("ragway-{collection}"),
        )
        .env("RAGWAY_SOURCES__SYNC_WORKERS", "1")
        .env("RAGWAY_SOURCES__SCHEDULE_TICK_SECS", "1")
        .env("RAGWAY_CACHE__ENABLED", "false")
        .env("RAGWAY_LLM__BASE_URL", llm)
        .env("RAGWAY_LLM__MODEL", "fake-gpt")
        .env("RAGWAY_LLM__MAX_RETRIES", "0")
        .env("OPENAI_API_KEY", LLM_KEY)
        .env(
            "RAGWAY_WIDGET__SESSION_SECRET_ENV",
            "CLUSTER_TEST_WIDGET_SECRET",
        )
        .env("CLUSTER_TEST_WIDGET_SECRET", WIDGET_SECRET)
        .stdout(std::process::Stdio::null())
        .stderr(logs.stderr(SERVE_LOG).unwrap())
        .spawn()
        .unwrap();
    let mut process = Process(child);
    let url = format!("http://127.0.0.1:{port}");
    let started = Instant::now();
    while !reqwest::get(format!("{url}/readyz"))
        .await
        .is_ok_and(|r| r.status().is_success())
    {
        if let Some(status) = process.0.try_wait().unwrap() {
            panic!(
                "ragway serve exited at start ({status}):\n{}",
                logs.text(SERVE_LOG)
            );
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "ragway serve did not start"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    (process, url)
}

/// A replica as `ragway serve` builds it (the widget secret from the test, not the environment).
async fn replica(config: Config, stop: &CancellationToken) -> Gateway {
    let widget = Widget::new(&config.widget, &|_| Some(WIDGET_SECRET.to_owned())).unwrap();
    let server = Server {
        state: AppState::open(config).await.unwrap(),
        bots: Default::default(),
        widget: Arc::new(widget),
    };
    let gateway = Gateway::serve(server).await.unwrap();
    ragway_gateway::sources::jobs::spawn(&gateway.state, stop);
    gateway
}

async fn admin_call(
    base: &str,
    key: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = reqwest::Client::new()
        .request(
            method,
            format!("{base}/api/v1/admin/tenants/{TENANT}{path}"),
        )
        .bearer_auth(key);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Every file of the sample handbook, as paths relative to it.
fn handbook_files() -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                out.push(
                    path.strip_prefix(root)
                        .unwrap()
                        .to_string_lossy()
                        .replace('\\', "/"),
                );
            }
        }
    }
    let root = handbook_dir();
    let mut files = Vec::new();
    walk(&root, &root, &mut files);
    files.sort();
    files
}

/// Uploads handbook files through `base` and returns the sync that indexes them.
async fn upload(base: &str, key: &str, source: &str, files: &[&str]) -> String {
    let parts: Vec<(&str, Option<&str>, Vec<u8>)> = files
        .iter()
        .map(|f| {
            (
                "file",
                Some(*f),
                std::fs::read(handbook_dir().join(f)).unwrap(),
            )
        })
        .collect();
    let (content_type, body) = multipart(&parts);
    let response = reqwest::Client::new()
        .post(format!(
            "{base}/api/v1/admin/tenants/{TENANT}/sources/{source}/files"
        ))
        .bearer_auth(key)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let stored: Value = response.json().await.unwrap();
    assert_eq!(status, 201, "{stored}");
    stored["sync"]["id"].as_str().unwrap().to_owned()
}

/// Polls the run through `base` (any replica reads the shared catalog) until it ends.
async fn finished(base: &str, key: &str, sync: &str) -> Value {
    let started = Instant::now();
    loop {
        let (status, run) = admin_call(
            base,
            key,
            reqwest::Method::GET,
            &format!("/syncs/{sync}"),
            None,
        )
        .await;
        assert_eq!(status, 200, "{run}");
        if run["status"] != "queued" && run["status"] != "running" {
            return run;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "sync {sync} did not end: {run}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn cited(base: &str, key: &str, question: &str) -> String {
    let (status, answer) = post_ask(base, Some(key), &json!({"question": question})).await;
    assert_eq!(status, 200, "{base}: {answer}");
    let uri = first_cited_uri(&answer);
    assert!(!uri.is_empty(), "{base}: no citation in {answer}");
    uri
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_replicas_on_a_qdrant_cluster_survive_a_node_and_a_replica_failure() {
    let Some(cluster) = Cluster::from_env("three_replicas_on_a_qdrant_cluster") else {
        return;
    };
    let collection = format!("e2e-{}", uuid::Uuid::new_v4().simple());
    let (database, db_name) = fresh_database().await;
    let llm = FakeOpenAi::start(FakeOptions {
        chunk_delay: Duration::from_millis(40),
        ..FakeOptions::default()
    })
    .await
    .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    // What the `ragway serve` replica writes to stderr, scanned for secrets when the test ends.
    let logs = ChildLogs::new("cluster: three_replicas_on_a_qdrant_cluster").unwrap();
    for secret in [WIDGET_SECRET, LLM_KEY] {
        log_scan::secret("configured secret", secret);
    }
    let stop = CancellationToken::new();
    let mut replicas = Vec::new();
    for name in ["a", "b"] {
        let config = replica_config(
            &tmp.path().join(name),
            &database,
            &cluster,
            &collection,
            &llm.base_url,
        );
        replicas.push(replica(config, &stop).await);
    }
    // C is a real `ragway serve` process, so that it can be killed like one.
    let (process, c_url) = serve_process(
        &logs,
        &tmp.path().join("c"),
        &database,
        &cluster,
        &collection,
        &llm.base_url,
    )
    .await;
    let mut process = Some(process);
    let mut urls: Vec<String> = replicas.iter().map(|r| r.base_url.clone()).collect();
    urls.push(c_url);
    let catalog = &replicas[0].state.core.catalog;
    catalog.ensure_tenant(TENANT).await.unwrap();
    let (_, admin) = catalog.create_admin_key(Some(TENANT), "ops").await.unwrap();
    let key = catalog.create_api_key(TENANT, "test").await.unwrap().secret;
    log_scan::secret("admin key", &admin);
    log_scan::secret("API key", &key);
    log_scan::question(VPN);

    // An upload through A is synced by whichever replica claims it; B and C answer from it.
    let (status, source) = admin_call(
        &urls[0],
        &admin,
        reqwest::Method::POST,
        "/sources",
        Some(json!({"name": "handbook", "kind": "upload"})),
    )
    .await;
    assert_eq!(status, 201, "{source}");
    let source = source["id"].as_str().unwrap().to_owned();
    // The handbook without the press manual, which comes later (relevance needs a real corpus:
    // BM25's IDF over a handful of passages is too flat to pass the relevance cut).
    let press = "maintenance/hp-400-hydraulic-press-manual.md";
    let files: Vec<String> = handbook_files()
        .into_iter()
        .filter(|f| f != press)
        .collect();
    let files: Vec<&str> = files.iter().map(String::as_str).collect();
    let sync = upload(&urls[0], &admin, &source, &files).await;
    let run = finished(&urls[1], &admin, &sync).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    for url in &urls[1..] {
        assert_eq!(cited(url, &key, VPN).await, "it/northgate-vpn-setup.md");
    }
    let store = &replicas[1].state.store;
    assert_eq!(store.backend(), "qdrant");
    let points = store.count(TENANT).await.unwrap();
    assert!(points > 0);

    // One Qdrant node dies: with every shard on two nodes, questions and a sync still succeed.
    cluster.node("stop-node", 3);
    for url in &urls {
        assert_eq!(cited(url, &key, VPN).await, "it/northgate-vpn-setup.md");
    }
    let hydraulic =
        "How many operating hours between hydraulic oil filter changes on the HP-400 press?";
    log_scan::question(hydraulic);
    let (status, stale) = post_ask(&urls[1], Some(&key), &json!({"question": hydraulic})).await;
    assert_eq!(status, 200, "{stale}");
    assert_ne!(first_cited_uri(&stale), press, "not uploaded yet");
    let sync = upload(&urls[2], &admin, &source, &[press]).await;
    let run = finished(&urls[0], &admin, &sync).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    // B cached its answer before; the sync (run elsewhere) bumped the generation: a fresh answer.
    assert_eq!(cited(&urls[1], &key, hydraulic).await, press);
    // It comes back, catches up, and every replica of every shard is active again.
    cluster.node("start-node", 3);
    let physical = Generations::new(&QdrantSettings {
        url: cluster.grpc.clone(),
        api_key: None,
        collection: collection.clone(),
        layout: Default::default(),
        timeout: Duration::from_secs(30),
    })
    .unwrap();
    let current = physical.current().await.unwrap().unwrap();
    cluster.converged(&current.collection).await;
    assert_eq!(cited(&urls[2], &key, hydraulic).await, press);

    // A replica killed mid-answer costs that answer only: the client sees the stream break, the
    // others answer the same question, and the index lost nothing.
    let before = store.count(TENANT).await.unwrap();
    let response = reqwest::Client::new()
        .post(format!("{}/api/v1/ask", urls[2]))
        .bearer_auth(&key)
        .json(&json!({"question": VPN, "stream": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let mut body = response.bytes_stream();
    let first = futures::StreamExt::next(&mut body).await;
    assert!(first.is_some(), "the answer started");
    drop(process.take()); // SIGKILL: no graceful anything
    let rest = tokio::time::timeout(Duration::from_secs(30), async {
        let mut text = Vec::new();
        let mut broken = false;
        while let Some(chunk) = futures::StreamExt::next(&mut body).await {
            match chunk {
                Ok(bytes) => text.extend_from_slice(&bytes),
                Err(_) => {
                    broken = true;
                    break;
                }
            }
        }
        (broken, String::from_utf8_lossy(&text).into_owned())
    })
    .await
    .expect("the client is not left hanging");
    assert!(
        rest.0 || !rest.1.contains("event: done"),
        "the killed replica's answer cannot have completed: {}",
        rest.1
    );
    for url in &urls[..2] {
        assert_eq!(cited(url, &key, VPN).await, "it/northgate-vpn-setup.md");
    }
    assert_eq!(replicas[0].state.store.count(TENANT).await.unwrap(), before);
    urls.pop();

    // Usage counters: each replica adds its own increments to the shared rows; totals add up.
    catalog.ensure_tenant("globex").await.unwrap();
    let globex = catalog
        .create_api_key("globex", "usage")
        .await
        .unwrap()
        .secret;
    log_scan::secret("API key", &globex);
    for (replica, asks) in replicas.iter().zip([7, 5]) {
        for _ in 0..asks {
            let (status, _) =
                post_ask(&replica.base_url, Some(&globex), &json!({"question": VPN})).await;
            assert_eq!(status, 200);
        }
    }
    for replica in &replicas {
        replica.state.core.flush_usage().await;
    }
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let requests: i64 = catalog
        .usage("globex", &today, &today)
        .await
        .unwrap()
        .iter()
        .filter(|row| row.metric == "requests")
        .map(|row| row.value)
        .sum();
    assert_eq!(requests, 12, "7 on A + 5 on B");

    // A replica that dies mid-sync leaves a run whose lease stops being renewed: another replica
    // fails it and queues the source again, and that run converges (no duplicate points).
    let orphan = catalog.start_sync_run(TENANT, &source).await.unwrap();
    let started = Instant::now();
    let recovered = loop {
        let runs = catalog.sync_runs(&source).await.unwrap();
        let recovery = runs
            .iter()
            .find(|r| r.trigger == "recovery" && r.status == "succeeded")
            .cloned();
        if let Some(recovery) = recovery {
            let dead = runs.iter().find(|r| r.id == orphan).unwrap();
            assert_eq!(dead.status, "failed");
            assert!(dead.message.as_deref().unwrap().contains("interrupted"));
            break recovery;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "not recovered: {runs:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert_eq!(recovered.added, 0, "nothing new: the re-run converges");
    assert_eq!(replicas[0].state.store.count(TENANT).await.unwrap(), before);

    stop.cancel();
    for replica in replicas {
        replica.shutdown().await;
    }
    physical.drop_all().await.unwrap();
    drop_database(&db_name).await;
    logs.check();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_embedded_index_migrates_to_the_cluster_and_answers_the_same() {
    let Some(cluster) = Cluster::from_env("the_embedded_index_migrates_to_the_cluster") else {
        return;
    };
    use ragway_gateway::cli::index::{MigrateOptions, migrate};
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let questions = [VPN, "Where do I forward a suspicious phishing email?"];
    // A laptop deployment: the embedded index with the handbook, and its answers.
    let (gateway, key) = Gateway::with_handbook(test_config(&data)).await.unwrap();
    let mut before = Vec::new();
    for question in questions {
        let (status, answer) = post_ask(
            &gateway.base_url,
            Some(&key),
            &json!({"question": question}),
        )
        .await;
        assert_eq!(status, 200, "{answer}");
        before.push(answer["citations"].clone());
    }
    gateway.shutdown().await;
    // Background tasks of the stopped gateway may hold the index a moment longer.
    let started = Instant::now();
    while ragway_ingest::store::EdgeStore::open(&data.join("index"), None)
        .await
        .is_err()
    {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the index stays locked"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let collection = format!("migrated-{}", uuid::Uuid::new_v4().simple());
    let target = QdrantSettings {
        url: cluster.grpc.clone(),
        api_key: None,
        collection: collection.clone(),
        layout: ragway_ingest::store::CollectionLayout {
            shard_number: Some(1),
            replication_factor: Some(2),
            ..Default::default()
        },
        timeout: Duration::from_secs(30),
    };
    let config = test_config(&data);
    let hidden = |_: u64, _: u64| {};
    // Interrupted after two batches of 20, then resumed: nothing copied twice, nothing lost.
    let interrupted = migrate(
        &config,
        &target,
        &MigrateOptions {
            batch: 20,
            restart: false,
            stop_after_batches: Some(2),
        },
        &hidden,
    )
    .await
    .unwrap_err();
    assert!(
        interrupted.to_string().contains("after 40 points"),
        "{interrupted}"
    );
    let report = migrate(
        &config,
        &target,
        &MigrateOptions {
            batch: 20,
            restart: false,
            stop_after_batches: None,
        },
        &hidden,
    )
    .await
    .unwrap();
    assert_eq!(report.resumed, 40);
    let (tenant, points) = &report.tenants[0];
    assert_eq!(tenant, TENANT);
    assert_eq!(report.copied + report.resumed, *points as u64);

    // The same data directory (catalog, keys) with [index] switched to the cluster.
    let mut switched = test_config(&data);
    switched.index = IndexConfig {
        backend: IndexBackend::Qdrant,
        url: Some(cluster.grpc.clone()),
        collection: collection.clone(),
        ..IndexConfig::default()
    };
    switched.widget.session_secret_env = Some("CLUSTER_TEST_WIDGET_SECRET".into());
    let stop = CancellationToken::new();
    let replica = replica(switched, &stop).await;
    for (question, citations) in questions.iter().zip(before) {
        let (status, answer) = post_ask(
            &replica.base_url,
            Some(&key),
            &json!({"question": question}),
        )
        .await;
        assert_eq!(status, 200, "{answer}");
        // The same passages in the same order; scores equal up to float rounding.
        let (now, then) = (
            answer["citations"].as_array().unwrap(),
            citations.as_array().unwrap(),
        );
        assert_eq!(now.len(), then.len(), "{question}");
        for (now, then) in now.iter().zip(then) {
            let score = |c: &Value| c["score"].as_f64().unwrap();
            assert!(
                (score(now) - score(then)).abs() < 1e-4,
                "{question}: {now} vs {then}"
            );
            let strip = |c: &Value| {
                let mut c = c.clone();
                c.as_object_mut().unwrap().remove("score");
                c
            };
            assert_eq!(strip(now), strip(then), "{question}");
        }
    }
    stop.cancel();
    replica.shutdown().await;
    Generations::new(&target).unwrap().drop_all().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rebuild_builds_a_new_generation_while_the_old_one_answers_then_switches() {
    let Some(cluster) = Cluster::from_env("a_rebuild_builds_a_new_generation") else {
        return;
    };
    use ragway_gateway::cli::index_rebuild::{drop_generation, rebuild, switch};
    let collection = format!("rebuild-{}", uuid::Uuid::new_v4().simple());
    let tmp = tempfile::tempdir().unwrap();
    let mut config = test_config(&tmp.path().join("data"));
    config.index = IndexConfig {
        backend: IndexBackend::Qdrant,
        url: Some(cluster.grpc.clone()),
        collection: collection.clone(),
        shard_number: Some(1),
        replication_factor: Some(2),
        ..IndexConfig::default()
    };
    config.widget.session_secret_env = Some("CLUSTER_TEST_WIDGET_SECRET".into());
    config.sources.sync_workers = 0;
    let stop = CancellationToken::new();
    let gateway = replica(config.clone(), &stop).await;
    let key = gateway.tenant_with_key(TENANT).await.unwrap();
    gateway
        .sync(TENANT, "handbook", &handbook_dir())
        .await
        .unwrap();
    let points_before = gateway.state.store.count(TENANT).await.unwrap();
    assert_eq!(
        cited(&gateway.base_url, &key, VPN).await,
        "it/northgate-vpn-setup.md"
    );

    // New chunking (an analysis change): generation 2 is built while generation 1 answers.
    let mut changed = config.clone();
    changed.chunking.max_tokens = 128;
    changed.chunking.overlap = 16;
    let building = tokio::spawn(async move { rebuild(&changed, false).await });
    let mut answered_during = 0;
    while !building.is_finished() {
        assert_eq!(
            cited(&gateway.base_url, &key, VPN).await,
            "it/northgate-vpn-setup.md"
        );
        answered_during += 1;
        tokio::time::sleep(Duration::from_millis(250)).await; // within the per-user rate limit
    }
    let report = building.await.unwrap().unwrap();
    assert!(
        answered_during > 0,
        "questions were asked during the rebuild"
    );
    assert_eq!(report.generation.number, 2);
    assert_eq!(report.previous.as_ref().map(|g| g.number), Some(1));
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    // The same store (through the alias) now reads the new generation: smaller chunks, more points.
    let points_after = gateway.state.store.count(TENANT).await.unwrap();
    assert_eq!(report.tenants, [(TENANT.to_owned(), points_after)]);
    assert!(
        points_after > points_before,
        "{points_after} > {points_before}"
    );
    assert_eq!(
        cited(&gateway.base_url, &key, VPN).await,
        "it/northgate-vpn-setup.md"
    );

    // Rolling back is one switch; the generation answering cannot be dropped.
    assert_eq!(switch(&config, 1).await.unwrap().map(|g| g.number), Some(2));
    assert_eq!(
        gateway.state.store.count(TENANT).await.unwrap(),
        points_before
    );
    let err = drop_generation(&config, 1).await.unwrap_err();
    assert!(err.to_string().contains("answered from"), "{err}");
    assert_eq!(drop_generation(&config, 2).await.unwrap().number, 2);

    stop.cancel();
    let settings = config.index.qdrant_settings(&|_| None).unwrap();
    gateway.shutdown().await;
    Generations::new(&settings)
        .unwrap()
        .drop_all()
        .await
        .unwrap();
}

/// The runbook's restore drill: `scripts/qdrant-backup` snapshots every shard of the collection
/// behind the alias, the collection is deleted (its alias with it), `scripts/qdrant-restore` brings
/// it back — and the gateway, which never restarted, answers the same questions with the same
/// citations from the same number of points.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_restores_a_wiped_collection_with_the_same_answers() {
    let Some(cluster) = Cluster::from_env("a_backup_restores_a_wiped_collection") else {
        return;
    };
    let urls = std::env::var("QDRANT_HTTP_URLS").unwrap_or_else(|_| cluster.http.clone());
    let alias = format!("backup-{}", uuid::Uuid::new_v4().simple());
    let tmp = tempfile::tempdir().unwrap();
    let mut config = test_config(&tmp.path().join("data"));
    config.index = IndexConfig {
        backend: IndexBackend::Qdrant,
        url: Some(cluster.grpc.clone()),
        collection: alias.clone(),
        shard_number: Some(2),
        replication_factor: Some(2),
        ..IndexConfig::default()
    };
    config.widget.session_secret_env = Some("CLUSTER_TEST_WIDGET_SECRET".into());
    config.sources.sync_workers = 0;
    // Every answer after the restore must come from the restored index, not from a cache.
    config.cache.enabled = false;
    let stop = CancellationToken::new();
    let gateway = replica(config.clone(), &stop).await;
    let key = gateway.tenant_with_key(TENANT).await.unwrap();
    gateway
        .sync(TENANT, "handbook", &handbook_dir())
        .await
        .unwrap();
    let questions = [
        VPN,
        "How many days of vacation do new employees get?",
        "¿Cómo restablezco mi contraseña de Acerid?",
    ];
    let mut before = Vec::new();
    for question in questions {
        before.push(cited(&gateway.base_url, &key, question).await);
    }
    let points = gateway.state.store.count(TENANT).await.unwrap();
    assert!(points > 100, "{points}");

    let scripts = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts");
    let backup = tmp.path().join("backup");
    let run = |script: &str, args: &[&str]| {
        let output = std::process::Command::new(scripts.join(script))
            .args(["--urls", &urls])
            .args(args)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{script}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    };
    run(
        "qdrant-backup",
        &["--alias", &alias, "--out", backup.to_str().unwrap()],
    );
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(backup.join("manifest.json")).unwrap()).unwrap();
    let collection = manifest["collection"].as_str().unwrap().to_owned();
    assert_eq!(collection, format!("{alias}-1"));

    // Wipe: the collection (and with it the alias) is gone.
    let http = reqwest::Client::new();
    let deleted = http
        .delete(format!("{}/collections/{collection}", cluster.http))
        .send()
        .await
        .unwrap();
    assert!(deleted.status().is_success(), "{deleted:?}");
    let gone = http
        .get(format!("{}/collections/{alias}", cluster.http))
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status().as_u16(), 404, "the alias went with it");

    run("qdrant-restore", &["--from", backup.to_str().unwrap()]);
    cluster.converged(&collection).await;
    assert_eq!(gateway.state.store.count(TENANT).await.unwrap(), points);
    for (question, expected) in questions.into_iter().zip(&before) {
        assert_eq!(
            &cited(&gateway.base_url, &key, question).await,
            expected,
            "{question}"
        );
    }

    stop.cancel();
    let settings = config.index.qdrant_settings(&|_| None).unwrap();
    gateway.shutdown().await;
    Generations::new(&settings)
        .unwrap()
        .drop_all()
        .await
        .unwrap();
}
