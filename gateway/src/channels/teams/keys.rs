//! The signing keys of inbound Bot Framework tokens: each OpenID metadata document names a JWKS
//! (`jwks_uri`) and the signing algorithms it uses (`id_token_signing_alg_values_supported`); its
//! RSA keys are cached, refreshed periodically, and refetched when a token names an unknown key id
//! (at most every `unknown_key_refetch_secs`, so bad tokens cannot hammer Microsoft).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use tokio::sync::Mutex;
use tokio::time::Instant;

/// Which family of issuers a key signs for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IssuerFamily {
    /// `https://api.botframework.com` (what Teams sends); its JWKS lists each key's endorsements.
    BotFramework,
    /// The app's own Entra tenant (`sts.windows.net/{tid}/`, `login.microsoftonline.com/{tid}/v2.0`);
    /// only when `teams.bot_service_app_id` names the caller such tokens must come from.
    Entra,
}

#[derive(Debug, Clone)]
pub struct SigningKey {
    pub modulus: Vec<u8>,
    pub exponent: Vec<u8>,
    /// Channels the key is endorsed for (`msteams`, …), when the JWKS lists them.
    pub endorsements: Option<Vec<String>>,
    /// The algorithms its metadata says tokens are signed with, when the metadata lists them.
    pub algorithms: Option<Vec<String>>,
    pub family: IssuerFamily,
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("the token's signing key is unknown")]
    Unknown,
    #[error("the signing keys cannot be fetched: {0}")]
    Unavailable(String),
}

#[derive(Debug, Deserialize)]
struct Metadata {
    jwks_uri: String,
    id_token_signing_alg_values_supported: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
struct Jwks {
    keys: Vec<Jwk>,
}

#[derive(Debug, Deserialize)]
struct Jwk {
    kty: String,
    kid: Option<String>,
    n: Option<String>,
    e: Option<String>,
    endorsements: Option<Vec<String>>,
}

/// A signing key under its issuer family and key id.
pub type KeyEntry = ((IssuerFamily, String), Arc<SigningKey>);

/// The usable keys of a JWKS (RSA, with a key id, modulus and exponent), each with the
/// algorithms its metadata lists.
fn signing_keys(
    jwks: Jwks,
    algorithms: Option<Vec<String>>,
    family: IssuerFamily,
) -> Vec<KeyEntry> {
    let decode = |text: &str| URL_SAFE_NO_PAD.decode(text.trim_end_matches('='));
    jwks.keys
        .into_iter()
        .filter(|k| k.kty == "RSA")
        .filter_map(|k| {
            let key = SigningKey {
                modulus: decode(k.n.as_deref()?).ok()?,
                exponent: decode(k.e.as_deref()?).ok()?,
                endorsements: k.endorsements,
                algorithms: algorithms.clone(),
                family,
            };
            Some(((family, k.kid?), Arc::new(key)))
        })
        .collect()
}

/// The keys an OpenID metadata document and its JWKS publish, read as a fetch reads them (for
/// the fuzzing harness).
pub fn parse_documents(
    metadata: &[u8],
    jwks: &[u8],
    family: IssuerFamily,
) -> Result<Vec<KeyEntry>, serde_json::Error> {
    let metadata: Metadata = serde_json::from_slice(metadata)?;
    let jwks: Jwks = serde_json::from_slice(jwks)?;
    Ok(signing_keys(
        jwks,
        metadata.id_token_signing_alg_values_supported,
        family,
    ))
}

#[derive(Debug)]
struct Source {
    metadata_url: String,
    family: IssuerFamily,
}

#[derive(Debug, Default)]
struct Cached {
    /// By issuer family and key id: the same key id may be published by both families.
    keys: HashMap<(IssuerFamily, String), Arc<SigningKey>>,
    fetched: Option<Instant>,
}

#[derive(Debug)]
pub struct KeyStore {
    http: reqwest::Client,
    sources: Vec<Source>,
    refresh: Duration,
    unknown_refetch: Duration,
    /// Held while refetching, so concurrent requests wait for one fetch.
    cached: Mutex<Cached>,
}

impl KeyStore {
    pub fn new(
        http: reqwest::Client,
        bot_framework_metadata: &str,
        entra_metadata: Option<&str>,
        refresh: Duration,
        unknown_refetch: Duration,
    ) -> Self {
        let mut sources = vec![Source {
            metadata_url: bot_framework_metadata.to_owned(),
            family: IssuerFamily::BotFramework,
        }];
        if let Some(url) = entra_metadata {
            sources.push(Source {
                metadata_url: url.to_owned(),
                family: IssuerFamily::Entra,
            });
        }
        Self {
            http,
            sources,
            refresh,
            unknown_refetch,
            cached: Mutex::new(Cached::default()),
        }
    }

    /// A store that holds `keys` and never fetches (for the fuzzing harness: tokens are checked
    /// against known keys, offline).
    pub fn preloaded(http: reqwest::Client, keys: Vec<KeyEntry>) -> Self {
        let never = Duration::from_secs(u64::from(u32::MAX));
        Self {
            http,
            sources: Vec::new(),
            refresh: never,
            unknown_refetch: never,
            cached: Mutex::new(Cached {
                keys: keys.into_iter().collect(),
                fetched: Some(Instant::now()),
            }),
        }
    }

    /// The key `kid` of an issuer family, fetching the keys when they are stale or do not have it.
    pub async fn key(&self, family: IssuerFamily, kid: &str) -> Result<Arc<SigningKey>, KeyError> {
        let id = (family, kid.to_owned());
        let mut cached = self.cached.lock().await;
        let age = cached.fetched.map(|at| at.elapsed());
        if age.is_none_or(|age| age >= self.refresh) {
            self.refetch(&mut cached).await?;
        } else if !cached.keys.contains_key(&id)
            && age.is_some_and(|age| age >= self.unknown_refetch)
        {
            tracing::info!(
                kid,
                "a Bot Framework token names an unknown key; refetching the keys"
            );
            self.refetch(&mut cached).await?;
        }
        cached.keys.get(&id).cloned().ok_or(KeyError::Unknown)
    }

    /// Replaces each source's keys with freshly fetched ones; a source that fails keeps its
    /// earlier keys (logged). Fails only when no key at all is known.
    async fn refetch(&self, cached: &mut Cached) -> Result<(), KeyError> {
        let mut failures = Vec::new();
        for source in &self.sources {
            match self.fetch(source).await {
                Ok(keys) => {
                    cached
                        .keys
                        .retain(|(family, _), _| *family != source.family);
                    cached.keys.extend(keys);
                }
                Err(err) => {
                    tracing::error!(url = %source.metadata_url, %err, "cannot fetch Bot Framework signing keys");
                    failures.push(err);
                }
            }
        }
        cached.fetched = Some(Instant::now());
        if cached.keys.is_empty() && !failures.is_empty() {
            return Err(KeyError::Unavailable(failures.join("; ")));
        }
        Ok(())
    }

    async fn fetch(&self, source: &Source) -> Result<Vec<KeyEntry>, String> {
        let metadata: Metadata = self.get_json(&source.metadata_url).await?;
        let jwks: Jwks = self.get_json(&metadata.jwks_uri).await?;
        Ok(signing_keys(
            jwks,
            metadata.id_token_signing_alg_values_supported,
            source.family,
        ))
    }

    async fn get_json<T: serde::de::DeserializeOwned>(&self, url: &str) -> Result<T, String> {
        let response = self.http.get(url).send().await.map_err(|e| e.to_string())?;
        let status = response.status();
        if !status.is_success() {
            return Err(format!("{url} answered HTTP {status}"));
        }
        response.json().await.map_err(|e| format!("{url}: {e}"))
    }
}
