//! The answer cache. A key never crosses a tenant or an ACL boundary and never outlives the index
//! it was computed from: it is the digest of (tenant, the caller's groups, the tenant's generation,
//! the model, the prompt templates, the normalised question, the conversation so far, the options).
//! Concurrent identical misses wait for the first one instead of calling the LLM again.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ragway_ingest::lang::Lang;
use sha2::{Digest, Sha256};
use tokio::sync::Notify;

use prometheus_client::metrics::counter::Counter;

use crate::config::CacheConfig;
use crate::ground::{Citation, Turn};
use crate::identity::Principal;
use crate::llm::{AnswerMode, GenerationOptions, Usage};
use crate::metrics::Metrics;

/// A finished answer, replayed as the same events.
#[derive(Debug, Clone)]
pub struct CachedAnswer {
    pub sources: Vec<Citation>,
    pub answer: String,
    pub citations: Vec<Citation>,
    pub mode: AnswerMode,
    pub usage: Usage,
}

impl CachedAnswer {
    fn weight(&self) -> u32 {
        let citations: usize = self
            .sources
            .iter()
            .chain(&self.citations)
            .map(|c| c.snippet.len() + c.title.len() + c.uri.len() + 128)
            .sum();
        u32::try_from(self.answer.len() + citations).unwrap_or(u32::MAX)
    }
}

pub struct AnswerCache {
    answers: moka::future::Cache<String, Arc<CachedAnswer>>,
    in_flight: Mutex<HashMap<String, Arc<Notify>>>,
    hits: Counter,
    misses: Counter,
}

impl std::fmt::Debug for AnswerCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AnswerCache")
            .field("entries", &self.answers.entry_count())
            .finish()
    }
}

/// What a request must do about the cache.
pub enum Lookup {
    Hit(Arc<CachedAnswer>),
    /// Compute the answer; `Leader` must be finished (stored or abandoned) so waiters wake up.
    Miss(Leader),
}

/// The one request computing an answer for a key (`key` None: a request that gave up waiting
/// and computes without a slot); dropping it wakes the waiters.
pub struct Leader {
    key: Option<String>,
    cache: Arc<AnswerCache>,
}

impl Leader {
    pub async fn store(self, answer: CachedAnswer) {
        if let Some(key) = &self.key {
            self.cache
                .answers
                .insert(key.clone(), Arc::new(answer))
                .await;
        }
    }
}

impl Drop for Leader {
    fn drop(&mut self) {
        let Some(key) = &self.key else { return };
        let notify = self
            .cache
            .in_flight
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(key);
        if let Some(notify) = notify {
            notify.notify_waiters();
        }
    }
}

/// Lower-case, single-spaced, without trailing punctuation: "VPN setup?" and "vpn  setup" share an entry.
fn normalise(question: &str) -> String {
    question
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .trim_end_matches(['?', '.', '!', '¿', '¡', ' '])
        .to_lowercase()
}

/// Everything an answer depends on; its digest is the answer's cache key.
#[derive(Debug, Clone, Copy)]
pub struct AnswerKey<'a> {
    pub principal: &'a Principal,
    pub question: &'a str,
    /// The conversation so far, oldest first.
    pub history: &'a [Turn],
    pub top_k: usize,
    pub options: &'a GenerationOptions,
    /// The tenant's index generation the answer was computed from.
    pub generation: i64,
    /// The profile's model identity.
    pub model: &'a str,
    pub prompts_version: &'a str,
    /// The answer's language: a short question answers in the caller's or tenant's language.
    pub lang: Lang,
}

impl AnswerKey<'_> {
    pub fn digest(&self) -> String {
        let mut groups = self.principal.groups.clone();
        groups.sort();
        let mut hash = Sha256::new();
        let mut part = |label: &str, value: &str| {
            hash.update(label.as_bytes());
            hash.update((value.len() as u64).to_le_bytes());
            hash.update(value.as_bytes());
        };
        part("tenant", &self.principal.tenant_id);
        part("groups", &groups.join("\u{1f}"));
        part("generation", &self.generation.to_string());
        part("model", self.model);
        part("prompts", self.prompts_version);
        part("lang", self.lang.code());
        part("question", &normalise(self.question));
        for turn in self.history {
            part(turn.role.as_str(), &turn.text);
        }
        part("top_k", &self.top_k.to_string());
        part("options", &format!("{:?}", self.options));
        hex::encode(hash.finalize())
    }
}

impl AnswerCache {
    pub fn new(config: &CacheConfig, metrics: &Metrics) -> Self {
        let labels = Metrics::cache("answer");
        let evictions = metrics.cache_evictions.get_or_create(&labels).clone();
        let answers = moka::future::Cache::builder()
            .max_capacity(config.max_bytes)
            .weigher(|_key: &String, answer: &Arc<CachedAnswer>| answer.weight())
            .time_to_live(Duration::from_secs(config.ttl_secs))
            .eviction_listener(move |_key, _value, cause| {
                if cause.was_evicted() {
                    evictions.inc();
                }
            })
            .build();
        Self {
            answers,
            in_flight: Mutex::new(HashMap::new()),
            hits: metrics.cache_hits.get_or_create(&labels).clone(),
            misses: metrics.cache_misses.get_or_create(&labels).clone(),
        }
    }

    /// A cached answer, or the right to compute it. A request that finds another computing the same
    /// key waits for it (bounded by `wait`) and then reads the cache.
    pub async fn lookup(self: &Arc<Self>, key: String, wait: Duration) -> Lookup {
        let lookup = self.lookup_or_lead(key, wait).await;
        match &lookup {
            Lookup::Hit(_) => self.hits.inc(),
            Lookup::Miss(_) => self.misses.inc(),
        };
        lookup
    }

    async fn lookup_or_lead(self: &Arc<Self>, key: String, wait: Duration) -> Lookup {
        loop {
            if let Some(hit) = self.answers.get(&key).await {
                return Lookup::Hit(hit);
            }
            let notified = {
                let mut in_flight = self
                    .in_flight
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                match in_flight.get(&key) {
                    Some(notify) => Arc::clone(notify),
                    None => {
                        in_flight.insert(key.clone(), Arc::new(Notify::new()));
                        return Lookup::Miss(Leader {
                            key: Some(key),
                            cache: Arc::clone(self),
                        });
                    }
                }
            };
            let waiting = notified.notified();
            // The leader may have finished between our cache check and now.
            if self.answers.get(&key).await.is_some() || !self.is_in_flight(&key) {
                continue;
            }
            if tokio::time::timeout(wait, waiting).await.is_err() {
                // The leader is slow: stop waiting and compute independently (no cache slot of ours).
                return Lookup::Miss(Leader {
                    key: None,
                    cache: Arc::clone(self),
                });
            }
        }
    }

    fn is_in_flight(&self, key: &str) -> bool {
        self.in_flight
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .contains_key(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn questions_are_normalised() {
        assert_eq!(
            normalise("  How do I   use the VPN? "),
            "how do i use the vpn"
        );
        assert_eq!(normalise("¿Cómo uso la VPN?"), "¿cómo uso la vpn");
    }
}
