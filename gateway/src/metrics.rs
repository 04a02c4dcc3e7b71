//! Prometheus metrics: admitted and refused requests by tenant and limit, reserved and settled
//! LLM tokens, cache hits/misses/evictions by cache, limiter backend errors, request durations,
//! sync runs, bot events and open LLM circuits. Served in the text exposition format on `/metrics` (or on `server.metrics_addr`).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TenantLabels {
    pub tenant: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RefusalLabels {
    pub tenant: String,
    pub limit: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CacheLabels {
    /// `answer`, `query_embedding` or `retrieval`.
    pub cache: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub route: String,
    pub status: u16,
}

/// What happened to one event a chat bot received (Slack, Teams).
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct BotLabels {
    /// `slack` or `teams`.
    pub channel: String,
    /// `answered`, `refused`, `failed`, `delivery_failed`, `rejected`, `duplicate`, `ignored`,
    /// `unknown_workspace`, `feedback`, …
    pub outcome: String,
}

/// How a sync run ended (`succeeded` or `failed`), whichever process ran it.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SyncLabels {
    pub status: String,
}

/// One model endpoint of one copilot profile (its circuit breaker).
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CircuitLabels {
    pub profile: String,
    /// `<model> at <base_url>`.
    pub endpoint: String,
}

/// `ragway_llm_circuit_open`: 1 while an endpoint's circuit breaker is open, else 0.
pub type CircuitGauges = Family<CircuitLabels, Gauge>;

type DurationFamily = Family<RouteLabels, Histogram, fn() -> Histogram>;

#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    pub admitted: Family<TenantLabels, Counter>,
    pub refused: Family<RefusalLabels, Counter>,
    pub tokens_reserved: Family<TenantLabels, Counter>,
    pub tokens_settled: Family<TenantLabels, Counter>,
    pub cache_hits: Family<CacheLabels, Counter>,
    pub cache_misses: Family<CacheLabels, Counter>,
    pub cache_evictions: Family<CacheLabels, Counter>,
    pub request_seconds: DurationFamily,
    pub bot_events: Family<BotLabels, Counter>,
    pub sync_runs: Family<SyncLabels, Counter>,
    pub llm_circuits: CircuitGauges,
    /// Answers this process is working on (all tenants).
    pub answers_in_flight: Gauge,
    /// Questions refused because the process was at `server.max_answers_in_flight`.
    pub capacity_refusals: Counter,
}

fn duration_histogram() -> Histogram {
    // 1 ms … ~33 s.
    Histogram::new(exponential_buckets(0.001, 2.0, 16))
}

impl Metrics {
    /// `limiter_backend_errors`: the limiter's own counter, exposed as is.
    pub fn new(limiter_backend_errors: Counter, llm_circuits: CircuitGauges) -> Self {
        let mut registry = Registry::with_prefix("ragway");
        let metrics = Self {
            admitted: Family::default(),
            refused: Family::default(),
            tokens_reserved: Family::default(),
            tokens_settled: Family::default(),
            cache_hits: Family::default(),
            cache_misses: Family::default(),
            cache_evictions: Family::default(),
            request_seconds: Family::new_with_constructor(duration_histogram),
            bot_events: Family::default(),
            sync_runs: Family::default(),
            llm_circuits,
            answers_in_flight: Gauge::default(),
            capacity_refusals: Counter::default(),
            registry: Registry::default(),
        };
        registry.register(
            "requests_admitted",
            "Requests admitted by the request limits",
            metrics.admitted.clone(),
        );
        registry.register(
            "requests_refused",
            "Requests refused, by the limit that refused them",
            metrics.refused.clone(),
        );
        registry.register(
            "llm_tokens_reserved",
            "LLM tokens reserved against the token quotas before LLM calls",
            metrics.tokens_reserved.clone(),
        );
        registry.register(
            "llm_tokens_settled",
            "LLM tokens actually used, as settled after LLM calls",
            metrics.tokens_settled.clone(),
        );
        registry.register("cache_hits", "Cache hits", metrics.cache_hits.clone());
        registry.register("cache_misses", "Cache misses", metrics.cache_misses.clone());
        registry.register(
            "cache_evictions",
            "Cache entries evicted for size (not expiry)",
            metrics.cache_evictions.clone(),
        );
        registry.register(
            "limiter_backend_errors",
            "Limit checks the shared backend (Redis) could not answer, decided by the fail policy",
            limiter_backend_errors,
        );
        registry.register(
            "http_request_duration_seconds",
            "Time to the response head, by route and status",
            metrics.request_seconds.clone(),
        );
        registry.register(
            "sync_runs",
            "Sync runs this process ran to their end, by how they ended",
            metrics.sync_runs.clone(),
        );
        registry.register(
            "llm_circuit_open",
            "1 while a model endpoint's circuit breaker is open (answers skip it), else 0",
            metrics.llm_circuits.clone(),
        );
        registry.register(
            "answers_in_flight",
            "Answers this process is working on, all tenants together",
            metrics.answers_in_flight.clone(),
        );
        registry.register(
            "capacity_refusals",
            "Questions refused with 503 because the process was at server.max_answers_in_flight",
            metrics.capacity_refusals.clone(),
        );
        registry.register(
            "bot_events",
            "Events the Slack and Teams bots received, by what became of them",
            metrics.bot_events.clone(),
        );
        Self {
            registry,
            ..metrics
        }
    }

    pub fn tenant(tenant: &str) -> TenantLabels {
        TenantLabels {
            tenant: tenant.to_owned(),
        }
    }

    pub fn cache(cache: &str) -> CacheLabels {
        CacheLabels {
            cache: cache.to_owned(),
        }
    }

    /// The text exposition (OpenMetrics).
    pub fn encode(&self) -> Result<String, std::fmt::Error> {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)?;
        Ok(out)
    }
}
