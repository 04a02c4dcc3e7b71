//! One way to build an OpenAI-compatible client (OpenAI, Azure OpenAI's v1 API, vLLM, Ollama, …):
//! base URL from config, key from an environment variable, retries with backoff that honour
//! `Retry-After` on 429/5xx/connection errors, and a per-request timeout.

use std::time::Duration;

use async_openai::Client;
use async_openai::config::OpenAIConfig;
use async_openai::middleware::ReqwestService;
use async_openai::middleware::retry::OpenAIRetryLayer;

use crate::error::{IngestError, Result};

#[derive(Debug, Clone)]
pub struct EndpointSettings<'a> {
    pub base_url: &'a str,
    /// Name of the environment variable holding the API key; the key itself never enters config or logs.
    pub api_key_env: Option<&'a str>,
    pub max_retries: usize,
    pub timeout_secs: u64,
}

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

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

pub fn client(settings: &EndpointSettings<'_>) -> Result<Client<OpenAIConfig>> {
    let key = api_key(settings.api_key_env)?;
    let config = OpenAIConfig::new()
        .with_api_base(settings.base_url.trim_end_matches('/'))
        .with_api_key(key);
    let http = reqwest::Client::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .build()
        .map_err(|e| IngestError::Config(format!("cannot build the HTTP client: {e}")))?;
    let service = tower::ServiceBuilder::new()
        .timeout(Duration::from_secs(settings.timeout_secs))
        .layer(OpenAIRetryLayer::new(settings.max_retries))
        .service(ReqwestService::new(http));
    Ok(Client::with_config(config).with_http_service(service))
}
