#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Three `ragway serve` processes share one Redis-backed limit: hammered at more than ten times
//! the allowed rate, together they admit what one limit allows (burst + rate × time), within 1 %.
//! Needs Redis on 127.0.0.1:6379 (as on the dev machines and in CI).

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

struct Replica(Child);

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn ragway(data: &Path, args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_ragway"))
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .env("RAGWAY_LOG", "warn")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

const PER_MINUTE: u32 = 1200;
const BURST: u32 = 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_replicas_share_one_exact_limit() {
    let shared = tempfile::tempdir().unwrap();
    ragway(shared.path(), &["tenants", "create", "acme"]);
    let key = ragway(shared.path(), &["keys", "create", "--tenant", "acme"])
        .lines()
        .last()
        .unwrap()
        .to_owned();
    let catalog = format!(
        "sqlite://{}?mode=rwc",
        shared.path().join("catalog.db").display()
    );
    let prefix = format!("ragway-test-{}", std::process::id());

    let mut replicas = Vec::new();
    let mut urls = Vec::new();
    for i in 0..3 {
        let port = free_port();
        let child = Command::new(env!("CARGO_BIN_EXE_ragway"))
            .args(["serve", "--addr", &format!("127.0.0.1:{port}")])
            .env("RAGWAY_DATA_DIR", shared.path().join(format!("replica{i}")))
            .env("DATABASE_URL", &catalog)
            .env("RAGWAY_LIMITS__BACKEND", "redis")
            .env("RAGWAY_LIMITS__REDIS_KEY_PREFIX", &prefix)
            .env("RAGWAY_LIMITS__REQUESTS_PER_MINUTE", PER_MINUTE.to_string())
            .env("RAGWAY_LIMITS__BURST", BURST.to_string())
            .env("RAGWAY_LIMITS__USER_REQUESTS_PER_MINUTE", "0")
            .env("RAGWAY_LOG", "warn")
            .env_remove("OPENAI_API_KEY")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        replicas.push(Replica(child));
        urls.push(format!("http://127.0.0.1:{port}"));
    }
    let client = reqwest::Client::new();
    for url in &urls {
        let ready = Instant::now();
        while client.get(format!("{url}/healthz")).send().await.is_err() {
            assert!(
                ready.elapsed() < Duration::from_secs(30),
                "{url} did not start"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    let window = Duration::from_secs(4);
    let admitted: Arc<Vec<AtomicUsize>> = Arc::new((0..3).map(|_| AtomicUsize::new(0)).collect());
    let refused = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut workers = Vec::new();
    for worker in 0..24 {
        let (client, urls, key) = (client.clone(), urls.clone(), key.clone());
        let (admitted, refused) = (Arc::clone(&admitted), Arc::clone(&refused));
        workers.push(tokio::spawn(async move {
            let mut i = worker;
            while started.elapsed() < window {
                let replica = i % 3;
                i += 1;
                let response = client
                    .post(format!("{}/api/v1/ask", urls[replica]))
                    .bearer_auth(&key)
                    .json(&serde_json::json!({"question": "anything"}))
                    .send()
                    .await
                    .unwrap();
                match response.status().as_u16() {
                    200 => admitted[replica].fetch_add(1, Ordering::Relaxed),
                    429 => refused.fetch_add(1, Ordering::Relaxed),
                    other => panic!("unexpected status {other}"),
                };
            }
        }));
    }
    for worker in workers {
        worker.await.unwrap();
    }
    let elapsed = started.elapsed().as_secs_f64();
    let per_replica: Vec<usize> = admitted.iter().map(|a| a.load(Ordering::Relaxed)).collect();
    let total_admitted: usize = per_replica.iter().sum();
    let offered = total_admitted + refused.load(Ordering::Relaxed);
    let rate = f64::from(PER_MINUTE) / 60.0;
    let expected = f64::from(BURST) + rate * elapsed;
    eprintln!(
        "offered {offered} in {elapsed:.2}s ({:.0}/s), admitted {total_admitted} {per_replica:?}, expected {expected:.1}",
        offered as f64 / elapsed
    );
    assert!(
        offered as f64 >= 10.0 * rate * elapsed,
        "the load must be at least 10× the limit"
    );
    assert!(
        per_replica.iter().all(|&n| n > 0),
        "every replica admits part of the shared allowance"
    );
    let error = (total_admitted as f64 - expected).abs();
    assert!(
        error <= (expected * 0.01).max(2.0),
        "admitted {total_admitted}, expected {expected:.1}"
    );
}
