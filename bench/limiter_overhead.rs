//! Cost of the limit checks a request makes: the in-process limiter versus the Redis one (one Lua
//! script round trip to 127.0.0.1:6379 each), sequential, p50/p99 and operations per second.
//! Rows: the request check (tenant + user GCRA), a token reservation followed by its settlement
//! (what a generative answer adds), and a concurrent-answer slot taken (its release is sent in
//! the background when the answer ends).
//!
//! cargo run -p ragway-tests --example limiter_overhead -- [operations]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::future::Future;
use std::time::{Duration, Instant};

use ragway_gateway::config::LimitsConfig;
use ragway_gateway::identity::Principal;
use ragway_gateway::limits::LimitBackend;

async fn measure<F, Fut>(label: String, operations: usize, mut op: F)
where
    F: FnMut(usize) -> Fut,
    Fut: Future<Output = ()>,
{
    let mut samples = Vec::with_capacity(operations);
    let started = Instant::now();
    for i in 0..operations {
        let t = Instant::now();
        op(i).await;
        samples.push(t.elapsed());
    }
    let total = started.elapsed().max(Duration::from_nanos(1));
    samples.sort();
    let at = |p: f64| samples[((samples.len() - 1) as f64 * p) as usize].as_secs_f64() * 1e6;
    println!(
        "{label:<32} p50 {:>8.1} µs   p99 {:>8.1} µs   {:>9.0} ops/s",
        at(0.5),
        at(0.99),
        operations as f64 / total.as_secs_f64()
    );
}

#[tokio::main]
async fn main() {
    let operations: usize = std::env::args()
        .nth(1)
        .map_or(20_000, |n| n.parse().unwrap());
    println!("limit check cost, {operations} sequential operations per row (never refused)");
    for backend in [LimitBackend::Local, LimitBackend::Redis] {
        let config = LimitsConfig {
            backend,
            redis_key_prefix: format!("ragway-bench-{}", std::process::id()),
            requests_per_minute: 60_000_000,
            burst: 1_000_000,
            user_requests_per_minute: 60_000_000,
            user_burst: 1_000_000,
            tokens_per_minute: 1_000_000_000_000,
            tokens_per_day: 1_000_000_000_000,
            max_concurrent_streams: 1_000_000,
            ..LimitsConfig::default()
        };
        let limiter = config.limiter().await.unwrap();
        let quotas = config.quotas("any");
        let principals: Vec<Principal> = (0..50)
            .map(|i| Principal {
                tenant_id: format!("t{}", i % 5),
                user_id: format!("u{i}"),
                groups: vec![],
            })
            .collect();
        let name = format!("{backend:?}");
        measure(format!("{name} request check"), operations, |i| {
            let (limiter, principal, quotas) =
                (&limiter, &principals[i % principals.len()], &quotas);
            async move {
                limiter.check_request(principal, quotas).await.unwrap();
            }
        })
        .await;
        measure(format!("{name} token reserve + settle"), operations, |i| {
            let (limiter, principal, quotas) =
                (&limiter, &principals[i % principals.len()], &quotas);
            async move {
                let grant = limiter
                    .reserve_tokens(principal, quotas, 2_500)
                    .await
                    .unwrap()
                    .unwrap();
                limiter.settle_tokens(&grant, 1_800).await;
            }
        })
        .await;
        measure(
            format!("{name} answer slot (release async)"),
            operations,
            |i| {
                let (limiter, principal, quotas) =
                    (&limiter, &principals[i % principals.len()], &quotas);
                async move {
                    let permit = limiter.acquire_stream(&principal.tenant_id, quotas).await;
                    drop(permit.unwrap());
                }
            },
        )
        .await;
    }
}
