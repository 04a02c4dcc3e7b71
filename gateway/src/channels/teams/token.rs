//! The bot's own token for the Bot Connector: OAuth 2.0 client credentials at the Microsoft
//! token endpoint, cached and renewed five minutes before it expires.

use std::time::Duration;

use serde::Deserialize;
use tokio::sync::Mutex;
use tokio::time::Instant;

/// Renew this long before expiry, so a token never lapses mid-answer.
const RENEW_BEFORE: Duration = Duration::from_secs(300);

#[derive(Debug, Deserialize)]
struct TokenResponse {
    access_token: String,
    expires_in: u64,
}

pub struct TokenClient {
    http: reqwest::Client,
    url: String,
    client_id: String,
    client_secret: String,
    scope: String,
    cached: Mutex<Option<(String, Instant)>>,
}

impl std::fmt::Debug for TokenClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenClient")
            .field("url", &self.url)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

impl TokenClient {
    pub fn new(
        http: reqwest::Client,
        url: String,
        client_id: String,
        client_secret: String,
        scope: String,
    ) -> Self {
        Self {
            http,
            url,
            client_id,
            client_secret,
            scope,
            cached: Mutex::new(None),
        }
    }

    /// A valid access token (one request at a time renews it).
    pub async fn token(&self) -> Result<String, String> {
        let mut cached = self.cached.lock().await;
        if let Some((token, expires)) = cached.as_ref()
            && expires.saturating_duration_since(Instant::now()) > RENEW_BEFORE
        {
            return Ok(token.clone());
        }
        let form = serde_urlencoded::to_string([
            ("grant_type", "client_credentials"),
            ("client_id", self.client_id.as_str()),
            ("client_secret", self.client_secret.as_str()),
            ("scope", self.scope.as_str()),
        ])
        .map_err(|e| e.to_string())?;
        let response = self
            .http
            .post(&self.url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form)
            .send()
            .await
            .map_err(|e| format!("cannot reach the Microsoft token endpoint: {e}"))?;
        let status = response.status();
        if !status.is_success() {
            let body = response.text().await.unwrap_or_default();
            return Err(format!(
                "the Microsoft token endpoint answered HTTP {status}: {body}"
            ));
        }
        let token: TokenResponse = response
            .json()
            .await
            .map_err(|e| format!("unreadable token response: {e}"))?;
        let expires = Instant::now() + Duration::from_secs(token.expires_in);
        *cached = Some((token.access_token.clone(), expires));
        Ok(token.access_token)
    }
}
