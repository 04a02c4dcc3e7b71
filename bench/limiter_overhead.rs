//! Cost of one limit check per request: the in-process limiter versus the Redis one (one Lua
//! script round trip to 127.0.0.1:6379), sequential, p50/p99 and checks per second.
//!
//! cargo run -p ragway-tests --example limiter_overhead -- [checks]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::time::{Duration, Instant};

use ragway_gateway::config::LimitsConfig;
use ragway_gateway::http::Principal;
use ragway_gateway::limits::LimitBackend;

#[tokio::main]
async fn main() {
    let checks: usize = std::env::args()
        .nth(1)
        .map_or(20_000, |n| n.parse().unwrap());
    println!("limit check cost, {checks} sequential checks (tenant + user limits, never refused)");
    for backend in [LimitBackend::Local, LimitBackend::Redis] {
        let config = LimitsConfig {
            backend,
            redis_key_prefix: format!("ragway-bench-{}", std::process::id()),
            requests_per_minute: 60_000_000,
            burst: 1_000_000,
            user_requests_per_minute: 60_000_000,
            user_burst: 1_000_000,
            ..LimitsConfig::default()
        };
        let limiter = config.limiter().await.unwrap();
        let principals: Vec<Principal> = (0..50)
            .map(|i| Principal {
                tenant_id: format!("t{}", i % 5),
                user_id: format!("u{i}"),
                groups: vec![],
            })
            .collect();
        let mut samples = Vec::with_capacity(checks);
        let started = Instant::now();
        for i in 0..checks {
            let t = Instant::now();
            limiter
                .check_request(&principals[i % principals.len()])
                .await
                .unwrap();
            samples.push(t.elapsed());
        }
        let total = started.elapsed();
        samples.sort();
        let at = |p: f64| samples[((samples.len() - 1) as f64 * p) as usize].as_secs_f64() * 1e6;
        println!(
            "{:<8} p50 {:>8.1} µs   p99 {:>8.1} µs   {:>9.0} checks/s",
            format!("{backend:?}"),
            at(0.5),
            at(0.99),
            checks as f64
                / total
                    .as_secs_f64()
                    .max(Duration::from_nanos(1).as_secs_f64())
        );
    }
}
