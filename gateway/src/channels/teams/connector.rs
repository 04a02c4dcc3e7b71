//! The Bot Connector REST API: `POST {serviceUrl}/v3/conversations/{id}/activities[/{replyToId}]`
//! with the bot's token. Only `serviceUrl`s under the configured prefixes are ever called.

use std::time::Duration;

use serde_json::Value;

use super::token::TokenClient;

/// Longest `Retry-After` honoured on a 429.
const MAX_RETRY_WAIT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum ConnectorError {
    #[error("serviceUrl {0} is not in teams.service_url_prefixes")]
    NotAllowed(String),
    #[error("cannot get a Bot Connector token: {0}")]
    Token(String),
    #[error("cannot reach the Bot Connector: {0}")]
    Transport(String),
    #[error("the Bot Connector answered HTTP {status} {code}: {message}")]
    Refused {
        status: u16,
        code: String,
        message: String,
    },
}

#[derive(Debug)]
pub struct Connector {
    http: reqwest::Client,
    prefixes: Vec<String>,
    tokens: TokenClient,
}

/// Percent-encodes a path segment (conversation ids hold `:`, `@`, `;`, `=`).
fn segment(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

impl Connector {
    pub fn new(http: reqwest::Client, prefixes: Vec<String>, tokens: TokenClient) -> Self {
        Self {
            http,
            prefixes,
            tokens,
        }
    }

    /// Whether replies may be sent to `service_url`.
    pub fn allowed(&self, service_url: &str) -> bool {
        self.prefixes
            .iter()
            .any(|p| service_url.starts_with(p.as_str()))
    }

    /// Sends an activity into a conversation (as a reply to `reply_to` when given); returns the
    /// id the connector gave it.
    pub async fn send(
        &self,
        service_url: &str,
        conversation_id: &str,
        reply_to: Option<&str>,
        activity: &Value,
    ) -> Result<Option<String>, ConnectorError> {
        if !self.allowed(service_url) {
            return Err(ConnectorError::NotAllowed(service_url.to_owned()));
        }
        let mut url = format!(
            "{}/v3/conversations/{}/activities",
            service_url.trim_end_matches('/'),
            segment(conversation_id)
        );
        if let Some(reply_to) = reply_to {
            url = format!("{url}/{}", segment(reply_to));
        }
        let token = self.tokens.token().await.map_err(ConnectorError::Token)?;
        let mut retried = false;
        loop {
            let response = self
                .http
                .post(&url)
                .bearer_auth(&token)
                .json(activity)
                .send()
                .await
                .map_err(|e| ConnectorError::Transport(e.to_string()))?;
            let status = response.status();
            let wait = response
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map_or(Duration::from_secs(1), Duration::from_secs);
            let body: Value = response.json().await.unwrap_or(Value::Null);
            if status.is_success() {
                return Ok(body["id"].as_str().map(str::to_owned));
            }
            if status.as_u16() == 429 && !retried && wait <= MAX_RETRY_WAIT {
                tracing::warn!(
                    wait_secs = wait.as_secs(),
                    "the Bot Connector throttled a reply; retrying"
                );
                tokio::time::sleep(wait).await;
                retried = true;
                continue;
            }
            return Err(ConnectorError::Refused {
                status: status.as_u16(),
                code: body["error"]["code"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                message: body["error"]["message"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::segment;

    #[test]
    fn conversation_ids_are_path_encoded() {
        assert_eq!(
            segment("19:abc@thread.tacv2;messageid=1"),
            "19%3Aabc%40thread.tacv2%3Bmessageid%3D1"
        );
    }
}
