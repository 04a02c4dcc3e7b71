//! A small Slack Web API client: JSON (or form) POSTs with the workspace's bot token, success or
//! failure read from the body's `ok`/`error`, HTTP 429 retried after `Retry-After`.

use std::time::Duration;

use serde_json::Value;

/// Longest `Retry-After` honoured before giving up on a call.
const MAX_RETRY_WAIT: Duration = Duration::from_secs(30);
const RETRIES: usize = 2;

#[derive(Debug, thiserror::Error)]
pub enum SlackError {
    /// Slack answered `{"ok": false, "error": …}`.
    #[error("Slack refused {method}: {error}")]
    Api { method: String, error: String },
    #[error("cannot reach Slack for {method}: {detail}")]
    Transport { method: String, detail: String },
}

#[derive(Debug, Clone)]
pub struct SlackApi {
    http: reqwest::Client,
    base: String,
}

impl SlackApi {
    pub fn new(base: &str) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(15))
            .build()?;
        Ok(Self {
            http,
            base: base.trim_end_matches('/').to_owned(),
        })
    }

    /// Calls a write method with a JSON body.
    pub async fn call(&self, token: &str, method: &str, body: &Value) -> Result<Value, SlackError> {
        let url = format!("{}/{method}", self.base);
        let request = self
            .http
            .post(url)
            .bearer_auth(token)
            .header("content-type", "application/json; charset=utf-8")
            .body(body.to_string());
        self.send(method, request).await
    }

    /// Calls a read method (`auth.test`, `users.info`), which take form arguments.
    pub async fn call_form(
        &self,
        token: &str,
        method: &str,
        args: &[(&str, &str)],
    ) -> Result<Value, SlackError> {
        let body = serde_urlencoded::to_string(args).map_err(|e| SlackError::Transport {
            method: method.to_owned(),
            detail: e.to_string(),
        })?;
        let request = self
            .http
            .post(format!("{}/{method}", self.base))
            .bearer_auth(token)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body);
        self.send(method, request).await
    }

    /// Posts a message to a slash command's or button's `response_url` (host already checked).
    pub async fn respond(&self, response_url: &str, body: &Value) -> Result<(), SlackError> {
        let request = self
            .http
            .post(response_url)
            .header("content-type", "application/json; charset=utf-8")
            .body(body.to_string());
        let method = "response_url";
        let response = self.send_with_retries(method, request).await?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let error = response.text().await.unwrap_or_default();
        Err(SlackError::Api {
            method: method.to_owned(),
            error: format!("HTTP {status}: {error}"),
        })
    }

    async fn send(
        &self,
        method: &str,
        request: reqwest::RequestBuilder,
    ) -> Result<Value, SlackError> {
        let response = self.send_with_retries(method, request).await?;
        let status = response.status();
        let body: Value = response.json().await.map_err(|e| SlackError::Transport {
            method: method.to_owned(),
            detail: format!("HTTP {status}, unreadable body: {e}"),
        })?;
        if body["ok"] == Value::Bool(true) {
            return Ok(body);
        }
        let error = body["error"].as_str().unwrap_or("unknown_error").to_owned();
        Err(SlackError::Api {
            method: method.to_owned(),
            error,
        })
    }

    /// Sends, waiting out HTTP 429s (Slack's rate limits) up to `RETRIES` times.
    async fn send_with_retries(
        &self,
        method: &str,
        request: reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, SlackError> {
        let transport = |e: reqwest::Error| SlackError::Transport {
            method: method.to_owned(),
            detail: e.to_string(),
        };
        let mut attempt = 0;
        loop {
            let this_try = request.try_clone().ok_or_else(|| SlackError::Transport {
                method: method.to_owned(),
                detail: "the request cannot be retried".into(),
            })?;
            let response = this_try.send().await.map_err(transport)?;
            if response.status() != reqwest::StatusCode::TOO_MANY_REQUESTS || attempt == RETRIES {
                return Ok(response);
            }
            let wait = response
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map_or(Duration::from_secs(1), Duration::from_secs);
            if wait > MAX_RETRY_WAIT {
                return Ok(response);
            }
            tracing::warn!(
                method,
                wait_secs = wait.as_secs(),
                "Slack rate limited a call; retrying"
            );
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }
}
