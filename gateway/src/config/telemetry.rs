//! `[telemetry]`: OpenTelemetry traces over OTLP/HTTP (protobuf). Off unless `otlp_endpoint` is set.

use serde::Deserialize;

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TelemetryConfig {
    /// The collector's OTLP/HTTP base URL (e.g. `http://otel-collector:4318`); spans are posted to
    /// `<otlp_endpoint>/v1/traces` unless the URL already names that path.
    pub otlp_endpoint: Option<String>,
    /// `service.name` of the exported spans.
    pub service_name: String,
    /// Share of traces started here that are kept (0.0–1.0); a caller's `traceparent` decision is
    /// followed either way.
    pub sample_ratio: f64,
}

impl Default for TelemetryConfig {
    fn default() -> Self {
        Self {
            otlp_endpoint: None,
            service_name: "ragway".into(),
            sample_ratio: 1.0,
        }
    }
}

impl TelemetryConfig {
    /// Where spans are posted, when traces are on.
    pub fn traces_url(&self) -> Option<String> {
        let base = self.otlp_endpoint.as_deref()?.trim_end_matches('/');
        Some(if base.ends_with("/v1/traces") {
            base.to_owned()
        } else {
            format!("{base}/v1/traces")
        })
    }

    /// Every mistake of the section, each naming its key.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if let Some(endpoint) = &self.otlp_endpoint {
            match reqwest::Url::parse(endpoint) {
                Ok(url) if matches!(url.scheme(), "http" | "https") => {}
                Ok(url) => problems.push(format!(
                    "telemetry.otlp_endpoint: `{endpoint}` uses `{}`; OTLP/HTTP needs http or https",
                    url.scheme()
                )),
                Err(err) => problems.push(format!(
                    "telemetry.otlp_endpoint: `{endpoint}` is not a URL ({err})"
                )),
            }
        }
        if !(0.0..=1.0).contains(&self.sample_ratio) {
            problems.push(format!(
                "telemetry.sample_ratio: {} is outside 0.0–1.0",
                self.sample_ratio
            ));
        }
        if self.service_name.trim().is_empty() {
            problems.push("telemetry.service_name: must not be empty".into());
        }
        problems
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_traces_path_is_added_once() {
        let mut config = TelemetryConfig::default();
        assert_eq!(config.traces_url(), None);
        config.otlp_endpoint = Some("http://collector:4318/".into());
        assert_eq!(
            config.traces_url().as_deref(),
            Some("http://collector:4318/v1/traces")
        );
        config.otlp_endpoint = Some("https://otel.example/v1/traces".into());
        assert_eq!(
            config.traces_url().as_deref(),
            Some("https://otel.example/v1/traces")
        );
    }

    #[test]
    fn each_mistake_names_its_key() {
        let config = TelemetryConfig {
            otlp_endpoint: Some("grpc://collector:4317".into()),
            service_name: " ".into(),
            sample_ratio: 1.5,
        };
        let problems = config.problems().join("\n");
        for key in [
            "telemetry.otlp_endpoint",
            "telemetry.sample_ratio",
            "telemetry.service_name",
        ] {
            assert!(problems.contains(key), "{key}: {problems}");
        }
        assert!(TelemetryConfig::default().problems().is_empty());
    }
}
