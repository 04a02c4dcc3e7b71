//! One way to build an OpenAI-compatible client (OpenAI, Azure OpenAI's v1 API, vLLM, Ollama, …):
//! base URL from config, key from an environment variable, retries with backoff and jitter that
//! honour `Retry-After` on 429/5xx/connection errors, and a per-attempt timeout.

use std::time::Duration;

use async_openai::Client;
use async_openai::config::{AzureConfig, Config, OpenAIConfig};
use async_openai::middleware::ReqwestService;

mod retry;

pub use retry::{Retry, RetryPolicy};

use crate::error::{IngestError, Result};

#[derive(Debug, Clone)]
pub struct EndpointSettings<'a> {
    pub base_url: &'a str,
    /// Name of the environment variable holding the API key; the key itself never enters config or logs.
    pub api_key_env: Option<&'a str>,
    pub max_retries: usize,
    /// Bound on each attempt until the response starts.
    pub timeout_secs: u64,
    pub connect_timeout_secs: u64,
}

/// Reads the API key named by `api_key_env`; endpoints without auth (local vLLM/Ollama) get a placeholder.
pub fn api_key(api_key_env: Option<&str>) -> Result<String> {
    match api_key_env.filter(|name| !name.is_empty()) {
        None => Ok("none".to_owned()),
        Some(var) => std::env::var(var).map_err(|_| {
            IngestError::Config(format!(
                "the environment variable {var} (the API key) is not set"
            ))
        }),
    }
}

/// A client for OpenAI and OpenAI-compatible servers (Bearer key, `{base_url}/chat/completions`).
pub fn client(settings: &EndpointSettings<'_>) -> Result<Client<OpenAIConfig>> {
    let config = OpenAIConfig::new()
        .with_api_base(settings.base_url.trim_end_matches('/'))
        .with_api_key(api_key(settings.api_key_env)?);
    with_http(config, settings)
}

/// A client for Azure OpenAI's deployments API (`api-key` header, `api-version` query,
/// `{base_url}/openai/deployments/{deployment}/…`).
pub fn azure_client(
    settings: &EndpointSettings<'_>,
    api_version: &str,
    deployment: &str,
) -> Result<Client<AzureConfig>> {
    let config = AzureConfig::new()
        .with_api_base(settings.base_url.trim_end_matches('/'))
        .with_api_version(api_version)
        .with_deployment_id(deployment)
        .with_api_key(api_key(settings.api_key_env)?);
    with_http(config, settings)
}

/// Idle connections kept per upstream host. An HTTP/1.1 upstream (vLLM, Ollama, a proxy) takes a
/// connection per answer streaming; after a burst of hundreds, each idle one would keep its buffers
/// (≈ 30 KB) for the pool's 90 s. Busy connections are not bounded by this.
const IDLE_CONNECTIONS_KEPT: usize = 64;

fn with_http<C: Config>(config: C, settings: &EndpointSettings<'_>) -> Result<Client<C>> {
    let http = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(settings.connect_timeout_secs))
        .pool_max_idle_per_host(IDLE_CONNECTIONS_KEPT)
        .build()
        .map_err(|e| IngestError::Config(format!("cannot build the HTTP client: {e}")))?;
    // The timeout bounds each attempt until the response starts (a stream's body is bounded by the caller).
    let attempt = tower::ServiceBuilder::new()
        .map_err(async_openai::error::OpenAIError::from)
        .timeout(Duration::from_secs(settings.timeout_secs))
        .service(ReqwestService::new(http));
    let service = Retry::new(attempt, RetryPolicy::new(settings.max_retries));
    Ok(Client::with_config(config).with_http_service(service))
}
