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

/// What a cache entry costs besides its answer: moka's entry and its bookkeeping, the key's
/// `String` and the `Arc` (bench/scale measured an answer cache weighed without them at 1.55× its
/// `max_bytes` in RSS).
const ENTRY_OVERHEAD: usize = 320;

impl CachedAnswer {
    /// The heap bytes the entry holds (capacities, not lengths), so `cache.max_bytes` is what the
    /// cached answers really take.
    fn weight(&self, key: &str) -> u32 {
        let citations: usize = self
            .sources
            .iter()
            .chain(&self.citations)
            .map(citation_bytes)
            .sum();
        let bytes = ENTRY_OVERHEAD
            + key.len()
            + std::mem::size_of::<Self>()
            + self.answer.capacity()
            + citations;
        u32::try_from(bytes).unwrap_or(u32::MAX)
    }

    /// Drops the spare capacity a streamed answer grew (up to as much again as its text).
    fn shrunk(mut self) -> Self {
        self.answer.shrink_to_fit();
        self.sources.shrink_to_fit();
        self.citations.shrink_to_fit();
        self
    }
}

fn citation_bytes(c: &Citation) -> usize {
    std::mem::size_of::<Citation>()
        + c.document_id.capacity()
        + c.title.capacity()
        + c.uri.capacity()
        + c.snippet.capacity()
        + c.heading_path
            .iter()
            .map(|h| std::mem::size_of::<String>() + h.capacity())
            .sum::<usize>()
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
                .insert(key.clone(), Arc::new(answer.shrunk()))
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
            .weigher(|key: &String, answer: &Arc<CachedAnswer>| answer.weight(key))
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

    fn citation(snippet: &str) -> Citation {
        Citation {
            n: 1,
            document_id: "d".repeat(36),
            title: "VPN setup".into(),
            uri: "handbook/it/vpn.md".into(),
            heading_path: vec!["IT".into(), "VPN".into()],
            page: None,
            snippet: snippet.into(),
            score: 1.0,
        }
    }

    /// An entry weighs what it holds: the spare capacity of a streamed answer is dropped before
    /// it is cached, and every string of its citations counts, not only the snippet.
    #[test]
    fn an_entry_weighs_its_heap_bytes_without_spare_capacity() {
        let mut streamed = String::with_capacity(8192);
        streamed.push_str(&"a".repeat(1000));
        let answer = CachedAnswer {
            sources: vec![citation(&"s".repeat(300)); 5],
            answer: streamed,
            citations: vec![citation(&"s".repeat(300))],
            mode: AnswerMode::Generative,
            usage: Usage::default(),
        };
        let key = "k".repeat(64);
        let before = answer.weight(&key);
        let shrunk = answer.shrunk();
        assert_eq!(shrunk.answer.capacity(), 1000);
        let after = shrunk.weight(&key);
        assert_eq!(
            before - after,
            8192 - 1000,
            "the spare capacity was weighed"
        );
        let strings_per_citation = 36 + 9 + 18 + 300 + 2 * std::mem::size_of::<String>() + 2 + 3;
        let expected = ENTRY_OVERHEAD
            + 64
            + std::mem::size_of::<CachedAnswer>()
            + 1000
            + 6 * (std::mem::size_of::<Citation>() + strings_per_citation);
        assert_eq!(after as usize, expected);
    }
}
