//! An HTTP client that only reaches what the [`WebFetchPolicy`] allows: every host name is
//! resolved by a resolver that drops refused addresses, URLs naming an address are checked
//! before the request (they bypass the resolver), and every redirect hop is checked again.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::header::{self, HeaderMap, HeaderValue};
use reqwest::redirect;
use url::Url;

use super::canonical::ip_literal;
use super::policy::WebFetchPolicy;

/// Redirect hops followed per request.
pub const MAX_REDIRECTS: usize = 5;
const ACCEPT: &str = "text/html,application/xhtml+xml,application/pdf,\
application/vnd.openxmlformats-officedocument.wordprocessingml.document,\
application/vnd.openxmlformats-officedocument.presentationml.presentation,\
application/vnd.openxmlformats-officedocument.spreadsheetml.sheet,\
text/markdown,text/plain,text/csv,application/json;q=0.9,*/*;q=0.1";

/// Why the guard refused a destination (found again in a request error's source chain).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct GuardRefusal(pub String);

/// A fetch that did not produce a usable response.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    #[error("refused: {0}")]
    Refused(String),
    #[error("the response is larger than the limit of {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("no complete response within {0} s")]
    Timeout(u64),
    /// The connection or the exchange failed. What failed stays in the server log: the words of a
    /// network error (refused, reset, no route) would tell a tenant which internal ports are open.
    #[error("could not connect")]
    Network(String),
}

/// Validators of a stored copy, for a conditional GET.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Validators {
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

/// A response whose status and headers were read; the body only for a 2xx.
#[derive(Debug, Clone)]
pub struct Response {
    /// Where the last redirect led (canonical form is the caller's business).
    pub final_url: Url,
    pub status: u16,
    pub content_type: Option<String>,
    pub validators: Validators,
    pub x_robots_tag: Option<String>,
    pub body: Vec<u8>,
}

#[derive(Debug, Clone)]
pub struct GuardedClient {
    client: reqwest::Client,
    policy: Arc<WebFetchPolicy>,
    timeout: Duration,
}

impl GuardedClient {
    pub fn new(
        policy: &WebFetchPolicy,
        user_agent: &str,
        timeout: Duration,
    ) -> Result<Self, String> {
        let policy = Arc::new(policy.clone());
        let redirect_policy = policy.clone();
        let client = reqwest::Client::builder()
            .user_agent(user_agent)
            // A proxy would resolve names itself, out of the guard's sight.
            .no_proxy()
            .dns_resolver(Arc::new(GuardedResolver {
                policy: policy.clone(),
            }))
            .redirect(redirect::Policy::custom(move |attempt| {
                if attempt.previous().len() >= MAX_REDIRECTS {
                    return attempt
                        .error(GuardRefusal(format!("more than {MAX_REDIRECTS} redirects")));
                }
                match check_destination(&redirect_policy, attempt.url()) {
                    Ok(()) => attempt.follow(),
                    Err(refusal) => {
                        let reason = format!("redirect to {}: {}", attempt.url(), refusal.0);
                        attempt.error(GuardRefusal(reason))
                    }
                }
            }))
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .timeout(timeout)
            .pool_max_idle_per_host(4)
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        Ok(Self {
            client,
            policy,
            timeout,
        })
    }

    pub fn policy(&self) -> &WebFetchPolicy {
        &self.policy
    }

    /// GETs `url` (conditionally when `validators` are given) and reads at most `max_bytes` of
    /// a 2xx body; other statuses come back without a body.
    pub async fn get(
        &self,
        url: &Url,
        validators: Option<&Validators>,
        max_bytes: u64,
    ) -> Result<Response, FetchError> {
        check_destination(&self.policy, url).map_err(|r| FetchError::Refused(r.0))?;
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT, HeaderValue::from_static(ACCEPT));
        if let Some(v) = validators {
            let as_header =
                |text: &Option<String>| text.as_deref().and_then(|t| HeaderValue::from_str(t).ok());
            if let Some(etag) = as_header(&v.etag) {
                headers.insert(header::IF_NONE_MATCH, etag);
            }
            if let Some(date) = as_header(&v.last_modified) {
                headers.insert(header::IF_MODIFIED_SINCE, date);
            }
        }
        let mut response = self
            .client
            .get(url.clone())
            .headers(headers)
            .send()
            .await
            .map_err(|e| self.request_error(&e))?;
        let text_header = |name: header::HeaderName| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let mut fetched = Response {
            final_url: response.url().clone(),
            status: response.status().as_u16(),
            content_type: text_header(header::CONTENT_TYPE),
            validators: Validators {
                etag: text_header(header::ETAG),
                last_modified: text_header(header::LAST_MODIFIED),
            },
            x_robots_tag: text_header(header::HeaderName::from_static("x-robots-tag")),
            body: Vec::new(),
        };
        if !response.status().is_success() {
            return Ok(fetched);
        }
        if response.content_length().is_some_and(|len| len > max_bytes) {
            return Err(FetchError::TooLarge { limit: max_bytes });
        }
        let limit = usize::try_from(max_bytes).unwrap_or(usize::MAX);
        while let Some(chunk) = response.chunk().await.map_err(|e| self.request_error(&e))? {
            if fetched.body.len() + chunk.len() > limit {
                return Err(FetchError::TooLarge { limit: max_bytes });
            }
            fetched.body.extend_from_slice(&chunk);
        }
        Ok(fetched)
    }

    fn request_error(&self, err: &reqwest::Error) -> FetchError {
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
        while let Some(current) = source {
            if let Some(refusal) = current.downcast_ref::<GuardRefusal>() {
                return FetchError::Refused(refusal.0.clone());
            }
            source = current.source();
        }
        if err.is_timeout() {
            return FetchError::Timeout(self.timeout.as_secs());
        }
        let detail = error_chain(err);
        tracing::warn!(url = err.url().map(Url::as_str), %detail, "a crawl request failed");
        FetchError::Network(detail)
    }
}

/// "outer: inner: innermost": the root cause is what an operator needs to see.
fn error_chain(err: &reqwest::Error) -> String {
    let mut parts = vec![err.to_string()];
    let mut source = std::error::Error::source(err);
    while let Some(current) = source {
        let text = current.to_string();
        if parts.last() != Some(&text) {
            parts.push(text);
        }
        source = current.source();
    }
    parts.join(": ")
}

/// Scheme and, for URLs that name an address, the address itself.
pub fn check_destination(policy: &WebFetchPolicy, url: &Url) -> Result<(), GuardRefusal> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err(GuardRefusal(format!(
            "the {} scheme is not allowed (http and https only)",
            url.scheme()
        )));
    }
    if let Some(ip) = ip_literal(url) {
        policy.check(ip).map_err(|r| GuardRefusal(r.to_string()))?;
    }
    if let Some(port) = url.port_or_known_default() {
        policy.check_port(port).map_err(GuardRefusal)?;
    }
    Ok(())
}

/// Resolves with the system resolver, then keeps only the addresses the policy allows.
struct GuardedResolver {
    policy: Arc<WebFetchPolicy>,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy.clone();
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let resolved: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let mut refusal = None;
            let allowed: Vec<SocketAddr> = resolved
                .into_iter()
                .filter(|addr| match policy.check(addr.ip()) {
                    Ok(()) => true,
                    Err(refused) => {
                        refusal.get_or_insert(refused);
                        false
                    }
                })
                .collect();
            if allowed.is_empty() {
                // The addresses themselves stay in the server log: a tenant learns only the kind.
                let reason = refusal.map_or_else(
                    || format!("{host} has no address"),
                    |r| {
                        tracing::warn!(%host, refused = %r.ip, "a crawl's host resolves only to refused addresses");
                        format!(
                            "{host} resolves only to addresses the web fetch policy refuses ({})",
                            r.kind.describe()
                        )
                    },
                );
                return Err(
                    Box::new(GuardRefusal(reason)) as Box<dyn std::error::Error + Send + Sync>
                );
            }
            Ok(Box::new(allowed.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::web::canonical::canonical;

    #[test]
    fn literal_addresses_are_checked_before_any_request() {
        let strict = WebFetchPolicy::default();
        for url in [
            "http://127.0.0.1/",
            "http://169.254.169.254/latest/meta-data/",
            "http://[::1]:8080/",
            "http://[::ffff:127.0.0.1]/",
            "http://[::ffff:a9fe:a9fe]/",
            "http://[fd00::1]/",
            "http://[fe80::1]/",
            "http://10.0.0.8/",
            "http://0x7f.1/",
            "http://2130706433/",
            "http://0.0.0.0:9000/",
            "http://224.0.0.1/",
        ] {
            let url = canonical(url).unwrap();
            let err = check_destination(&strict, &url).unwrap_err();
            assert!(
                err.0.contains("refused by the web fetch policy"),
                "{url}: {err}"
            );
        }
        assert!(check_destination(&strict, &canonical("https://93.184.216.34/").unwrap()).is_ok());
        assert!(
            check_destination(&strict, &canonical("https://intranet.example/").unwrap()).is_ok()
        );
    }

    #[tokio::test]
    async fn names_resolving_to_refused_addresses_are_not_reached() {
        let client = GuardedClient::new(
            &WebFetchPolicy::default(),
            "ragway-test",
            Duration::from_secs(5),
        )
        .unwrap();
        let url = canonical("http://localhost/").unwrap();
        let err = client.get(&url, None, 1024).await.unwrap_err();
        match err {
            FetchError::Refused(reason) => {
                assert!(
                    reason.contains(
                        "localhost resolves only to addresses the web fetch policy refuses"
                    ),
                    "{reason}"
                );
                assert!(reason.contains("loopback"), "{reason}");
                assert!(
                    !reason.contains("127.0.0.1"),
                    "resolved addresses stay in the log: {reason}"
                );
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
        let url = canonical("http://169.254.169.254/latest/meta-data/").unwrap();
        let err = client.get(&url, None, 1024).await.unwrap_err();
        assert!(
            matches!(err, FetchError::Refused(ref r) if r.contains("metadata")),
            "{err:?}"
        );
    }
}
