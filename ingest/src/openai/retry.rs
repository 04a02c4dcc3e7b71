//! Retries for OpenAI-compatible calls: 429, 5xx and connection failures are retried with
//! exponential backoff and jitter, honouring `Retry-After` (capped). It wraps the HTTP exchange
//! only — a streamed answer is retried before its first byte, never after.

use std::time::Duration;

use async_openai::error::OpenAIError;
use async_openai::middleware::HttpRequestFactory;
use futures::future::BoxFuture;
use rand::Rng;
use reqwest::Response;
use tower::{Service, ServiceExt};

#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub max_retries: usize,
    pub base_delay: Duration,
    pub max_delay: Duration,
    /// A server asking to wait longer than this is waited for this long.
    pub max_retry_after: Duration,
}

impl RetryPolicy {
    pub fn new(max_retries: usize) -> Self {
        Self {
            max_retries,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(8),
            max_retry_after: Duration::from_secs(30),
        }
    }

    /// Backoff for the `attempt`-th retry (0-based): half fixed, half random ("equal jitter").
    pub fn backoff(&self, attempt: usize) -> Duration {
        let exp = self
            .base_delay
            .saturating_mul(1u32 << attempt.min(16))
            .min(self.max_delay);
        let half = exp / 2;
        half + half.mul_f64(rand::rng().random::<f64>())
    }
}

/// `Retry-After` in seconds (the form API servers use).
fn retry_after(response: &Response) -> Option<Duration> {
    let value = response.headers().get(reqwest::header::RETRY_AFTER)?;
    let secs: f64 = value.to_str().ok()?.trim().parse().ok()?;
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs))
}

fn retryable_error(error: &OpenAIError) -> bool {
    matches!(error, OpenAIError::Reqwest(e) if e.is_connect() || e.is_timeout())
}

#[derive(Clone, Debug)]
pub struct Retry<S> {
    inner: S,
    policy: RetryPolicy,
}

impl<S> Retry<S> {
    pub fn new(inner: S, policy: RetryPolicy) -> Self {
        Self { inner, policy }
    }
}

impl<S> Service<HttpRequestFactory> for Retry<S>
where
    S: Service<HttpRequestFactory, Response = Response, Error = OpenAIError>
        + Clone
        + Send
        + 'static,
    S::Future: Send,
{
    type Response = Response;
    type Error = OpenAIError;
    type Future = BoxFuture<'static, Result<Response, OpenAIError>>;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: HttpRequestFactory) -> Self::Future {
        // The ready clone serves the first attempt; later attempts wait for readiness again.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let policy = self.policy;
        Box::pin(async move {
            let mut attempt = 0;
            let mut result = inner.call(request.clone()).await;
            loop {
                let wait = match &result {
                    Ok(r) if r.status().as_u16() == 429 || r.status().is_server_error() => {
                        retry_after(r).map(|d| d.min(policy.max_retry_after))
                    }
                    Err(e) if retryable_error(e) => None,
                    _ => return result,
                };
                if attempt >= policy.max_retries {
                    return result;
                }
                let delay = wait.unwrap_or_else(|| policy.backoff(attempt));
                match &result {
                    Ok(r) => tracing::warn!(
                        status = r.status().as_u16(),
                        attempt,
                        ?delay,
                        "retrying the model endpoint"
                    ),
                    Err(e) => {
                        tracing::warn!(error = %e, attempt, ?delay, "retrying the model endpoint")
                    }
                }
                attempt += 1;
                tokio::time::sleep(delay).await;
                result = match inner.ready().await {
                    Ok(service) => service.call(request.clone()).await,
                    Err(e) => Err(e),
                };
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_with_jitter_and_is_capped() {
        let policy = RetryPolicy::new(5);
        for attempt in 0..8 {
            let exp = (policy.base_delay * (1 << attempt)).min(policy.max_delay);
            let d = policy.backoff(attempt);
            assert!(
                d >= exp / 2 && d <= exp,
                "attempt {attempt}: {d:?} not in [{:?}, {exp:?}]",
                exp / 2
            );
        }
        let samples: std::collections::HashSet<_> = (0..20).map(|_| policy.backoff(3)).collect();
        assert!(samples.len() > 1, "jitter varies the delay");
    }
}
