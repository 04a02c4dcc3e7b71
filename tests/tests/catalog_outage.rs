#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! PostgreSQL restarted mid-run (issue 18): the catalog on the local PostgreSQL server, reached
//! through a TCP proxy the test controls. Cutting the proxy drops every connection ragway holds and
//! refuses new ones (what a restart looks like from the gateway); restoring it is the server back.
//! Terminating the gateway's backends (`pg_terminate_backend`) is the other half of a restart.
//! During the outage questions fail fast with 503 `catalog_unavailable`; afterwards they succeed
//! again on the same process (the pool reconnects).

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::post_ask;
use ragway_tests::harness::{Gateway, test_config};
use serde_json::{Value, json};
use sqlx::Connection;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

const SERVER: &str = "postgres://postgres@127.0.0.1:5432";
const QUESTION: &str = "Which server address does the NorthGate client connect to?";

/// A TCP proxy in front of PostgreSQL that can be cut (every connection dropped, the port
/// refusing new ones) and restored on the same port.
struct Proxy {
    port: u16,
    upstream: String,
    cut: CancellationToken,
    tasks: TaskTracker,
}

impl Proxy {
    async fn start(upstream: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let proxy = Self {
            port: listener.local_addr().unwrap().port(),
            upstream: upstream.to_owned(),
            cut: CancellationToken::new(),
            tasks: TaskTracker::new(),
        };
        proxy.serve(listener);
        proxy
    }

    fn serve(&self, listener: TcpListener) {
        let (cut, tasks, upstream) = (self.cut.clone(), self.tasks.clone(), self.upstream.clone());
        self.tasks.spawn(async move {
            loop {
                let accepted = tokio::select! {
                    _ = cut.cancelled() => return,
                    accepted = listener.accept() => accepted,
                };
                let Ok((mut client, _)) = accepted else {
                    continue;
                };
                let (cut, upstream) = (cut.clone(), upstream.clone());
                tasks.spawn(async move {
                    let Ok(mut server) = TcpStream::connect(&upstream).await else {
                        return;
                    };
                    tokio::select! {
                        _ = cut.cancelled() => {}
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                    }
                });
            }
        });
    }

    /// Drops every proxied connection and closes the port; returns once all are gone.
    async fn cut(&self) {
        self.cut.cancel();
        self.tasks.close();
        self.tasks.wait().await;
    }

    /// Listens on the same port again.
    async fn restore(&mut self) {
        self.cut = CancellationToken::new();
        self.tasks = TaskTracker::new();
        let listener = TcpListener::bind(("127.0.0.1", self.port)).await.unwrap();
        self.serve(listener);
    }
}

/// A throwaway database on the local server; returns its name.
async fn fresh_database() -> String {
    sqlx::any::install_default_drivers();
    let name = format!("ragway_outage_{}", uuid::Uuid::new_v4().simple());
    let mut admin = sqlx::AnyConnection::connect(&format!("{SERVER}/postgres"))
        .await
        .expect("PostgreSQL must run on 127.0.0.1:5432");
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .unwrap();
    name
}

async fn drop_database(name: &str) {
    let mut admin = sqlx::AnyConnection::connect(&format!("{SERVER}/postgres"))
        .await
        .unwrap();
    let _ = sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)"))
        .execute(&mut admin)
        .await;
}

/// Ends every session of `database` (what a server restart does to them); returns how many.
async fn terminate_backends(database: &str) -> i64 {
    let mut admin = sqlx::AnyConnection::connect(&format!("{SERVER}/postgres"))
        .await
        .unwrap();
    let sql = format!(
        "SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity \
         WHERE datname = '{database}' AND pid <> pg_backend_pid()"
    );
    sqlx::query_scalar::<_, i64>(&sql)
        .fetch_one(&mut admin)
        .await
        .unwrap()
}

/// Fails the test instead of hanging it.
async fn bounded<T>(what: &str, future: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(60), future)
        .await
        .unwrap_or_else(|_| panic!("{what}: no answer within 60 s (hung)"))
}

async fn ask(gateway: &Gateway, key: &str) -> (u16, Value) {
    post_ask(&gateway.base_url, Some(key), &json!({"question": QUESTION})).await
}

async fn completion(gateway: &Gateway, key: &str) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(format!("{}/v1/chat/completions", gateway.base_url))
        .bearer_auth(key)
        .json(&json!({"model": "ragway", "messages": [{"role": "user", "content": QUESTION}]}))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

fn assert_unavailable(what: &str, status: u16, body: &Value) {
    assert_eq!(status, 503, "{what}: {body}");
    assert_eq!(
        body["error"]["code"], "catalog_unavailable",
        "{what}: {body}"
    );
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("try again"), "{what}: {body}");
    for private in ["127.0.0.1", "postgres", "ragway_outage", "pool"] {
        assert!(
            !message.contains(private),
            "{what}: {private} leaked: {body}"
        );
    }
}

#[tokio::test]
async fn postgres_restarted_mid_run_fails_fast_then_recovers_without_a_restart() {
    let database = fresh_database().await;
    let mut proxy = Proxy::start("127.0.0.1:5432").await;
    let tmp = tempfile::tempdir().unwrap();
    let mut config = test_config(tmp.path());
    config.database_url = Some(format!(
        "postgres://postgres@127.0.0.1:{}/{database}",
        proxy.port
    ));
    // The askers below ask as fast as the gateway answers once the database is back; the request
    // limits are not under test here (a 429 would hide the outage's own answers).
    config.limits.requests_per_minute = 0;
    config.limits.user_requests_per_minute = 0;
    let (gateway, key) = Gateway::with_handbook(config).await.unwrap();
    let (status, body) = ask(&gateway, &key).await;
    assert_eq!(status, 200, "{body}");

    // Questions keep coming while the database goes away and comes back.
    let stop = Arc::new(AtomicBool::new(false));
    let refused = Arc::new(AtomicBool::new(false));
    let mut askers = tokio::task::JoinSet::new();
    for _ in 0..3 {
        let (base, key, stop) = (gateway.base_url.clone(), key.clone(), Arc::clone(&stop));
        let refused = Arc::clone(&refused);
        askers.spawn(async move {
            let mut statuses = Vec::new();
            while !stop.load(Ordering::SeqCst) {
                let (status, body) = bounded(
                    "a question during the outage",
                    post_ask(&base, Some(&key), &json!({"question": QUESTION})),
                )
                .await;
                if status != 200 {
                    assert_unavailable("during the outage", status, &body);
                    refused.store(true, Ordering::SeqCst);
                }
                statuses.push(status);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            statuses
        });
    }
    tokio::time::sleep(Duration::from_millis(300)).await;

    proxy.cut().await;
    // A key read in the last API_KEY_TTL is known without the catalog (such questions are still
    // answered, without caches); past it, every question needs the catalog again.
    tokio::time::sleep(ragway_catalog::API_KEY_TTL).await;
    // Each waits for a connection until the pool's acquire timeout, side by side.
    let ((rest, rest_body), (openai, openai_body), ready) = bounded(
        "during the outage",
        futures::future::join3(ask(&gateway, &key), completion(&gateway, &key), async {
            reqwest::get(format!("{}/readyz", gateway.base_url))
                .await
                .unwrap()
                .status()
        }),
    )
    .await;
    assert_unavailable("REST", rest, &rest_body);
    assert_eq!(openai, 503, "{openai_body}");
    assert_eq!(openai_body["error"]["type"], "api_error", "{openai_body}");
    assert!(
        openai_body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("try again"),
        "{openai_body}"
    );
    assert_eq!(ready, 503, "not ready while the catalog is away");
    bounded("an asker refused during the outage", async {
        while !refused.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;

    proxy.restore().await;
    let (status, body) = bounded("after the outage", ask(&gateway, &key)).await;
    assert_eq!(status, 200, "the pool reconnected: {body}");
    let (status, body) = bounded("after the outage", completion(&gateway, &key)).await;
    assert_eq!(status, 200, "{body}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::SeqCst);
    let mut statuses = Vec::new();
    while let Some(joined) = askers.join_next().await {
        statuses.extend(joined.unwrap());
    }
    assert!(statuses.contains(&503), "the askers saw the outage");
    assert_eq!(statuses.last(), Some(&200), "and its end");

    // The server ends every session (the other half of a restart): the pool's connections are
    // dead; the next questions get fresh ones.
    let (status, _) = ask(&gateway, &key).await;
    assert_eq!(status, 200);
    let terminated = terminate_backends(&database).await;
    assert!(terminated > 0, "the gateway held connections");
    for _ in 0..5 {
        let (status, body) = bounded("after the backends ended", ask(&gateway, &key)).await;
        assert_eq!(status, 200, "{body}");
    }

    gateway.shutdown().await;
    proxy.cut().await;
    drop_database(&database).await;
}
