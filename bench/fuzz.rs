//! The fuzzing run of docs/RELIABILITY.md: every parser of untrusted bytes on N mutated inputs
//! each (default 20,000), from a seed; prints executions, refused inputs, panics, the slowest
//! input and the peak memory of the process.
//!
//! cargo run -p ragway-tests --example fuzz -- [executions per target] [seed] [all|channels]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout
)]

use ragway_tests::fuzz::peak_rss_mib;
use ragway_tests::fuzz_targets::{run_all, run_channels};

fn main() {
    let mut args = std::env::args().skip(1);
    let executions: usize = args
        .next()
        .map_or(20_000, |a| a.parse().expect("executions: a number"));
    let seed: u64 = args
        .next()
        .map_or(1, |a| a.parse().expect("seed: a number"));
    let only_channels = match args.next().as_deref() {
        None | Some("all") => false,
        Some("channels") => true,
        Some(other) => panic!("targets: all or channels, not {other}"),
    };
    let started = std::time::Instant::now();
    let reports = if only_channels {
        run_channels(executions, seed)
    } else {
        run_all(executions, seed)
    };
    println!("| target | executions | refused (error) | panics | slowest input |");
    println!("|---|---:|---:|---:|---:|");
    let mut panics = 0;
    for report in &reports {
        panics += report.panics.len();
        println!(
            "| {} | {} | {} | {} | {:.1} ms |",
            report.target,
            report.executions,
            report.errors,
            report.panics.len(),
            report.slowest.as_secs_f64() * 1000.0
        );
        for (message, input) in report.panics.iter().take(3) {
            println!("  panic: {message} ({} bytes)", input.len());
        }
    }
    println!(
        "\n{} targets, {} executions in {:.0} s, {panics} panics, peak RSS {} MiB (seed {seed})",
        reports.len(),
        reports.iter().map(|r| r.executions).sum::<usize>(),
        started.elapsed().as_secs_f64(),
        peak_rss_mib().map_or_else(|| "?".into(), |m| m.to_string())
    );
}
