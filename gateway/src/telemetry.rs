//! Logs and traces for every command: the `tracing` subscriber (text or JSON logs on stderr) and,
//! when `[telemetry] otlp_endpoint` is set, an OpenTelemetry layer that exports the same spans
//! (request, auth, limits, cache, retrieve, ground, llm; sync and its stages) over OTLP/HTTP.

use std::time::Duration;

use opentelemetry::propagation::{Extractor, TextMapPropagator};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{SpanExporter, WithExportConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider};
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::config::LogFormat;
use crate::config::TelemetryConfig;

/// The default `RAGWAY_LOG` filter: what is logged and exported.
const DEFAULT_FILTER: &str = "info,sqlx=warn,qdrant_edge=error";
/// How long an export may take before the batch is dropped (the collector is not on the hot path).
const EXPORT_TIMEOUT: Duration = Duration::from_secs(10);

/// Keeps the trace exporter alive; [`Telemetry::shutdown`] flushes the spans still buffered.
#[must_use = "call shutdown() before exiting, or buffered spans are lost"]
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Telemetry {
    /// Sends the buffered spans (bounded by the export timeout) and stops the exporter.
    pub fn shutdown(self) {
        if let Some(provider) = self.provider
            && let Err(err) = provider.shutdown()
        {
            tracing::warn!(%err, "could not send the last traces");
        }
    }
}

/// Installs the global subscriber. Logs go to stderr; question and document text are never logged
/// at `info` (only request metadata); `RAGWAY_LOG=debug` is the explicit opt-in for more.
pub fn init(format: LogFormat, telemetry: &TelemetryConfig) -> Telemetry {
    let filter = tracing_subscriber::EnvFilter::try_from_env("RAGWAY_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(DEFAULT_FILTER));
    let text = (format == LogFormat::Text)
        .then(|| tracing_subscriber::fmt::layer().with_writer(std::io::stderr));
    // One JSON object per line; the current span and its parents carry the request id.
    let json = (format == LogFormat::Json).then(|| {
        tracing_subscriber::fmt::layer()
            .json()
            .with_current_span(true)
            .with_span_list(true)
            .with_writer(std::io::stderr)
    });
    let (provider, problem) = match telemetry.traces_url().map(|url| provider(&url, telemetry)) {
        None => (None, None),
        Some(Ok(provider)) => (Some(provider), None),
        Some(Err(err)) => (None, Some(err)),
    };
    let traces = provider
        .as_ref()
        .map(|provider| tracing_opentelemetry::layer().with_tracer(provider.tracer("ragway")));
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(text)
        .with(json)
        .with(traces)
        .try_init();
    match (&problem, telemetry.traces_url()) {
        (Some(err), _) => tracing::warn!(%err, "traces are off: the OTLP exporter could not start"),
        (None, Some(url)) => tracing::info!(%url, "exporting traces over OTLP/HTTP"),
        (None, None) => {}
    }
    Telemetry { provider }
}

fn provider(url: &str, config: &TelemetryConfig) -> Result<SdkTracerProvider, String> {
    let exporter = SpanExporter::builder()
        .with_http()
        .with_endpoint(url)
        .with_timeout(EXPORT_TIMEOUT)
        .build()
        .map_err(|err| err.to_string())?;
    let sampler = Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(config.sample_ratio)));
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_sampler(sampler)
        .with_resource(
            Resource::builder()
                .with_service_name(config.service_name.clone())
                .build(),
        )
        .build())
}

/// Continues the caller's trace when the request carries a W3C `traceparent` header (a no-op
/// when traces are off: the span then has no OpenTelemetry context to attach to).
pub fn continue_remote_trace(span: &tracing::Span, headers: &axum::http::HeaderMap) {
    if !headers.contains_key("traceparent") {
        return;
    }
    let parent = TraceContextPropagator::new().extract(&HeaderExtractor(headers));
    let _ = span.set_parent(parent);
}

struct HeaderExtractor<'a>(&'a axum::http::HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|value| value.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(axum::http::HeaderName::as_str).collect()
    }
}
