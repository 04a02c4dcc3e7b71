//! The load generator of the scale benchmark (issue 17): OpenAI-compatible chat requests at a fixed
//! rate (open loop) or a fixed concurrency (closed loop), latencies in HdrHistograms, and the CPU and
//! RSS of the server processes under test sampled from /proc while it runs.
//!
//! Open loop measures each latency from the moment the request was *due* (not when it was sent), so a
//! server that falls behind is charged for the queue it causes (no coordinated omission); the delay
//! between due and sent is reported apart as `send_lag`, the generator's own saturation.
//!
//! cargo run -p ragway-tests --example loadgen -- --url URL/v1/chat/completions --key KEY \
//!     --question 'How do I configure WAL archiving? ({n})' --mode open --rate 500 --duration 20
//!
//! `{n}` in a question becomes this run's tag and the request's sequence number (unique questions: answer-cache
//! misses, in this run and across runs).
//! Prints one JSON line (the harness reads it) and, with `--human`, a readable summary on stderr.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::{Parser, ValueEnum};
use hdrhistogram::Histogram;
use serde_json::{Value, json};
use tokio::sync::mpsc;

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq)]
enum Mode {
    Open,
    Closed,
}

#[derive(Parser, Debug)]
#[command(about = "Open- and closed-loop load for OpenAI-compatible chat endpoints")]
struct Args {
    /// The chat completions endpoint (…/v1/chat/completions).
    #[arg(long)]
    url: String,
    /// Bearer key sent with every request.
    #[arg(long, default_value = "sk-bench")]
    key: String,
    #[arg(long, default_value = "gpt-4o-mini")]
    model: String,
    /// A question (repeat for several, used round-robin); `{n}` becomes a run tag and the sequence number.
    #[arg(long = "question", required_unless_present = "get")]
    questions: Vec<String>,
    /// GET the URL instead of asking (e.g. `/v1/models`): the server's floor, the same connection,
    /// authentication and routing as a question with no answer work behind it.
    #[arg(long)]
    get: bool,
    #[arg(long, value_enum, default_value = "open")]
    mode: Mode,
    /// Requests per second (open loop).
    #[arg(long, default_value_t = 100.0)]
    rate: f64,
    /// Requests in flight (closed loop).
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// Measured seconds (after the warm-up).
    #[arg(long, default_value_t = 20.0)]
    duration: f64,
    /// Seconds of the same load before measuring (connections, caches).
    #[arg(long, default_value_t = 3.0)]
    warmup: f64,
    /// Send `"stream": false` (default: streamed answers, read to the end).
    #[arg(long)]
    no_stream: bool,
    /// A server process to sample (CPU, RSS; its child processes included). Repeatable.
    #[arg(long = "pid")]
    pids: Vec<u32>,
    /// Open loop: requests allowed in flight before new ones are counted as dropped.
    #[arg(long, default_value_t = 20_000)]
    max_in_flight: u64,
    /// Per-request timeout in seconds (a timeout is an error).
    #[arg(long, default_value_t = 30.0)]
    timeout: f64,
    #[arg(long, default_value = "")]
    label: String,
    /// Also print a readable summary on stderr.
    #[arg(long)]
    human: bool,
    /// Every this many seconds, one JSON line of the interval (requests, errors, p50/p99, RSS of
    /// the servers) before the final report: the soak's time series.
    #[arg(long)]
    report_every: Option<f64>,
}

/// One finished request: when it was due, when it was sent, when it ended, and how.
struct Outcome {
    due: Instant,
    sent: Instant,
    done: Instant,
    error: Option<String>,
}

/// This run's tag: `{n}` questions of two runs never repeat each other (a later run would
/// otherwise hit the answers an earlier one cached).
fn run_tag() -> &'static str {
    static TAG: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    TAG.get_or_init(|| {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        format!("{:x}", nanos % 0xffff_ffff)
    })
}

fn body_for(args: &Args, n: u64) -> Value {
    let template = &args.questions[(n as usize) % args.questions.len()];
    let unique = format!("{}-{n}", run_tag());
    json!({
        "model": args.model,
        "messages": [{"role": "user", "content": template.replace("{n}", &unique)}],
        "stream": !args.no_stream,
    })
}

async fn send_one(client: &reqwest::Client, args: &Args, n: u64) -> Option<String> {
    let request = if args.get {
        client.get(&args.url)
    } else {
        client.post(&args.url).json(&body_for(args, n))
    };
    let response = match request.bearer_auth(&args.key).send().await {
        Ok(response) => response,
        Err(err) if err.is_timeout() => return Some("timeout".to_owned()),
        Err(_) => return Some("connection".to_owned()),
    };
    let status = response.status();
    let text = match response.text().await {
        Ok(text) => text,
        Err(err) if err.is_timeout() => return Some("timeout".to_owned()),
        Err(_) => return Some("body cut".to_owned()),
    };
    if !status.is_success() {
        return Some(format!("status {}", status.as_u16()));
    }
    // A stream that ends without [DONE], or carries an error event, did not answer.
    if !args.get
        && !args.no_stream
        && (!text.contains("data: [DONE]") || text.contains("\"error\""))
    {
        return Some("stream incomplete".to_owned());
    }
    None
}

/// Open loop: request `i` is due at `start + i / rate`, whatever happened to the ones before.
/// The pacing runs on its own OS thread: tokio's timer has a 1 ms granularity, which would add up
/// to a millisecond to every latency; a thread's sleep is within tens of microseconds.
fn open_loop(
    runtime: tokio::runtime::Handle,
    client: reqwest::Client,
    args: Arc<Args>,
    until: Instant,
    outcomes: mpsc::UnboundedSender<Outcome>,
    dropped: Arc<AtomicU64>,
) {
    let in_flight = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let interval = Duration::from_secs_f64(1.0 / args.rate.max(0.001));
    for n in 0u64.. {
        let due = start + interval.mul_f64(n as f64);
        if due >= until {
            break;
        }
        let now = Instant::now();
        if due > now {
            std::thread::sleep(due - now);
        }
        if in_flight.load(Ordering::Relaxed) >= args.max_in_flight {
            dropped.fetch_add(1, Ordering::Relaxed);
            continue;
        }
        in_flight.fetch_add(1, Ordering::Relaxed);
        let (client, args, outcomes, in_flight) = (
            client.clone(),
            Arc::clone(&args),
            outcomes.clone(),
            Arc::clone(&in_flight),
        );
        runtime.spawn(async move {
            let sent = Instant::now();
            let error = send_one(&client, &args, n).await;
            in_flight.fetch_sub(1, Ordering::Relaxed);
            let _ = outcomes.send(Outcome {
                due,
                sent,
                done: Instant::now(),
                error,
            });
        });
    }
}

/// Closed loop: `concurrency` workers, each sends its next request when the last one ended.
async fn closed_loop(
    client: reqwest::Client,
    args: Arc<Args>,
    until: Instant,
    outcomes: mpsc::UnboundedSender<Outcome>,
) {
    let sequence = Arc::new(AtomicU64::new(0));
    let workers: Vec<_> = (0..args.concurrency)
        .map(|_| {
            let (client, args, outcomes, sequence) = (
                client.clone(),
                Arc::clone(&args),
                outcomes.clone(),
                Arc::clone(&sequence),
            );
            tokio::spawn(async move {
                while Instant::now() < until {
                    let n = sequence.fetch_add(1, Ordering::Relaxed);
                    let sent = Instant::now();
                    let error = send_one(&client, &args, n).await;
                    let _ = outcomes.send(Outcome {
                        due: sent,
                        sent,
                        done: Instant::now(),
                        error,
                    });
                }
            })
        })
        .collect();
    for worker in workers {
        let _ = worker.await;
    }
}

/// CPU ticks (user + system) and RSS of a process and all its descendants, from /proc.
#[derive(Default, Clone, Copy)]
struct ProcSample {
    ticks: u64,
    rss_kb: u64,
}

fn proc_stat(pid: u32) -> Option<(u32, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces), from field 3 (state) on.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ppid = fields.get(1)?.parse().ok()?;
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((ppid, utime + stime))
}

fn rss_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

fn sample_tree(root: u32) -> ProcSample {
    let mut parents: Vec<(u32, u32, u64)> = Vec::new();
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for entry in entries.flatten() {
            let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse().ok()) else {
                continue;
            };
            if let Some((ppid, ticks)) = proc_stat(pid) {
                parents.push((pid, ppid, ticks));
            }
        }
    }
    let mut tree = vec![root];
    let mut i = 0;
    while i < tree.len() {
        let parent = tree[i];
        tree.extend(
            parents
                .iter()
                .filter(|(_, ppid, _)| *ppid == parent)
                .map(|(p, _, _)| *p),
        );
        i += 1;
    }
    tree.iter().fold(ProcSample::default(), |acc, pid| {
        let ticks = parents
            .iter()
            .find(|(p, _, _)| p == pid)
            .map_or(0, |(_, _, t)| *t);
        ProcSample {
            ticks: acc.ticks + ticks,
            rss_kb: acc.rss_kb + rss_kb(*pid),
        }
    })
}

/// Linux reports CPU time in USER_HZ ticks, 100 per second on every architecture it supports.
const TICKS_PER_SEC: f64 = 100.0;

struct ProcWatch {
    pid: u32,
    first: ProcSample,
    peak_rss_kb: u64,
    last: ProcSample,
}

fn percentiles_ms(h: &Histogram<u64>) -> Value {
    let ms = |us: u64| (us as f64 / 1000.0 * 1000.0).round() / 1000.0;
    json!({
        "p50": ms(h.value_at_quantile(0.50)),
        "p90": ms(h.value_at_quantile(0.90)),
        "p99": ms(h.value_at_quantile(0.99)),
        "p999": ms(h.value_at_quantile(0.999)),
        "max": ms(h.max()),
        "mean": (h.mean() / 1000.0 * 1000.0).round() / 1000.0,
    })
}

fn histogram() -> Result<Histogram<u64>, hdrhistogram::CreationError> {
    // 1 µs to 10 minutes, 3 significant digits.
    Histogram::new_with_bounds(1, 600_000_000, 3)
}

/// The soak's time series: one line per `--report-every` seconds.
struct Interval {
    every: Option<Duration>,
    next: Instant,
    started: Instant,
    latency: Histogram<u64>,
    errors: u64,
}

impl Interval {
    fn new(args: &Args, measure_from: Instant) -> Result<Self, hdrhistogram::CreationError> {
        let every = args.report_every.map(Duration::from_secs_f64);
        Ok(Self {
            every,
            next: measure_from + every.unwrap_or_default(),
            started: measure_from,
            latency: histogram()?,
            errors: 0,
        })
    }

    async fn tick(&mut self) {
        match self.every {
            Some(_) => tokio::time::sleep_until(self.next.into()).await,
            None => std::future::pending().await,
        }
    }

    fn record(&mut self, us: u64) -> Result<(), hdrhistogram::RecordError> {
        self.latency.record(us)
    }

    fn report(&mut self, pids: &[u32]) {
        let every = self.every.unwrap_or(Duration::from_secs(1));
        let ms = |us: u64| us as f64 / 1000.0;
        let rss: Vec<f64> = pids
            .iter()
            .map(|&pid| (sample_tree(pid).rss_kb as f64 / 1024.0).round())
            .collect();
        println!(
            "{}",
            json!({
                "interval": true,
                "t_s": self.next.duration_since(self.started).as_secs_f64().round(),
                "ok": self.latency.len(),
                "errors": self.errors,
                "p50_ms": ms(self.latency.value_at_quantile(0.5)),
                "p99_ms": ms(self.latency.value_at_quantile(0.99)),
                "rss_mb": rss,
            })
        );
        self.latency.reset();
        self.errors = 0;
        self.next += every;
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Arc::new(Args::parse());
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(usize::MAX)
        .tcp_nodelay(true)
        .timeout(Duration::from_secs_f64(args.timeout))
        .build()?;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let dropped = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let measure_from = started + Duration::from_secs_f64(args.warmup);
    let until = measure_from + Duration::from_secs_f64(args.duration);

    // Samples the servers every 200 ms from the end of the warm-up on.
    let measuring = Arc::new(AtomicBool::new(true));
    let sampler = {
        let (pids, measuring) = (args.pids.clone(), Arc::clone(&measuring));
        tokio::spawn(async move {
            tokio::time::sleep_until(measure_from.into()).await;
            let self_first = proc_stat(std::process::id()).map_or(0, |(_, t)| t);
            let mut watches: Vec<ProcWatch> = pids
                .iter()
                .map(|&pid| {
                    let s = sample_tree(pid);
                    ProcWatch {
                        pid,
                        first: s,
                        peak_rss_kb: s.rss_kb,
                        last: s,
                    }
                })
                .collect();
            let measured_from = Instant::now();
            while measuring.load(Ordering::Relaxed) {
                tokio::time::sleep(Duration::from_millis(200)).await;
                for watch in &mut watches {
                    let s = sample_tree(watch.pid);
                    watch.peak_rss_kb = watch.peak_rss_kb.max(s.rss_kb);
                    watch.last = s;
                }
            }
            let secs = measured_from.elapsed().as_secs_f64().max(0.001);
            let self_ticks = proc_stat(std::process::id()).map_or(0, |(_, t)| t) - self_first;
            let servers: Vec<Value> = watches
                .iter()
                .map(|w| {
                    json!({
                        "pid": w.pid,
                        "cpu_pct": ((w.last.ticks.saturating_sub(w.first.ticks)) as f64 / TICKS_PER_SEC / secs * 100.0).round(),
                        "rss_mb": (w.last.rss_kb as f64 / 1024.0).round(),
                        "rss_peak_mb": (w.peak_rss_kb as f64 / 1024.0).round(),
                    })
                })
                .collect();
            (
                servers,
                (self_ticks as f64 / TICKS_PER_SEC / secs * 100.0).round(),
            )
        })
    };

    let generator = {
        let (client, args, dropped) = (client.clone(), Arc::clone(&args), Arc::clone(&dropped));
        let runtime = tokio::runtime::Handle::current();
        tokio::task::spawn_blocking(move || match args.mode {
            Mode::Open => open_loop(runtime, client, args, until, tx, dropped),
            Mode::Closed => runtime.block_on(closed_loop(client, args, until, tx)),
        })
    };

    let mut latency = histogram()?;
    let mut service = histogram()?;
    let mut lag = histogram()?;
    let mut errors: BTreeMap<String, u64> = BTreeMap::new();
    let (mut measured, mut first_done, mut last_done) = (0u64, None::<Instant>, None::<Instant>);
    let mut interval = Interval::new(&args, measure_from)?;
    loop {
        let outcome = tokio::select! {
            outcome = rx.recv() => match outcome {
                Some(outcome) => outcome,
                None => break,
            },
            () = interval.tick() => {
                interval.report(&args.pids);
                continue;
            }
        };
        // Only requests due inside the measured window count (the warm-up's are discarded).
        if outcome.due < measure_from || outcome.due >= until {
            continue;
        }
        measured += 1;
        first_done = Some(first_done.map_or(outcome.done, |f: Instant| f.min(outcome.done)));
        last_done = Some(last_done.map_or(outcome.done, |l: Instant| l.max(outcome.done)));
        let us = |d: Duration| (d.as_micros() as u64).clamp(1, 600_000_000);
        lag.record(us(outcome.sent.saturating_duration_since(outcome.due)))?;
        match outcome.error {
            Some(kind) => {
                interval.errors += 1;
                *errors.entry(kind).or_default() += 1;
            }
            None => {
                interval.record(us(outcome.done.saturating_duration_since(outcome.due)))?;
                latency.record(us(outcome.done.saturating_duration_since(outcome.due)))?;
                service.record(us(outcome.done.saturating_duration_since(outcome.sent)))?;
            }
        }
    }
    generator.await?;
    measuring.store(false, Ordering::Relaxed);
    let (servers, loadgen_cpu_pct) = sampler.await?;

    let error_count: u64 = errors.values().sum();
    let achieved = measured as f64 / args.duration;
    let dropped = dropped.load(Ordering::Relaxed);
    // The generator could not keep its own schedule: its figures understate the server's.
    let lag_p99_ms = lag.value_at_quantile(0.99) as f64 / 1000.0;
    let saturated =
        args.mode == Mode::Open && (dropped > 0 || lag_p99_ms > 5.0 || achieved < args.rate * 0.95);
    let report = json!({
        "label": args.label,
        "mode": format!("{:?}", args.mode).to_lowercase(),
        "target_rate": (args.mode == Mode::Open).then_some(args.rate),
        "concurrency": (args.mode == Mode::Closed).then_some(args.concurrency),
        "duration_s": args.duration,
        "requests": measured,
        "ok": measured - error_count,
        "errors": error_count,
        "error_kinds": errors,
        "dropped": dropped,
        "achieved_rps": (achieved * 10.0).round() / 10.0,
        "completed_rps": first_done.zip(last_done).map(|(f, l)| {
            let secs = l.duration_since(f).as_secs_f64().max(0.001);
            ((measured as f64 / secs) * 10.0).round() / 10.0
        }),
        "latency_ms": percentiles_ms(&latency),
        "service_ms": percentiles_ms(&service),
        "send_lag_ms": percentiles_ms(&lag),
        "loadgen_cpu_pct": loadgen_cpu_pct,
        "loadgen_saturated": saturated,
        "servers": servers,
    });
    if args.human {
        eprintln!(
            "{:<28} {:>7.1} req/s  p50 {:>8.3}  p90 {:>8.3}  p99 {:>8.3}  p99.9 {:>8.3} ms  errors {}  lag p99 {:.3} ms{}",
            args.label,
            achieved,
            report["latency_ms"]["p50"].as_f64().unwrap_or(0.0),
            report["latency_ms"]["p90"].as_f64().unwrap_or(0.0),
            report["latency_ms"]["p99"].as_f64().unwrap_or(0.0),
            report["latency_ms"]["p999"].as_f64().unwrap_or(0.0),
            error_count,
            lag_p99_ms,
            if saturated {
                "  (generator saturated)"
            } else {
                ""
            },
        );
    }
    println!("{report}");
    Ok(())
}
