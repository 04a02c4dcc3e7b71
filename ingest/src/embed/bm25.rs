//! BM25 sparse vectors with qdrant-edge's analyser, so documents and queries are tokenized
//! exactly as a Qdrant server would. IDF is applied by the index (the `bm25` vector's IDF modifier).
//!
//! Analysis follows the language: by default (`language = "auto"`) a Spanish chunk is analysed
//! with Spanish stopwords and the Spanish Snowball stemmer, an English one with English, and a
//! question with the analyser of its own language — so "vacaciones" and "vacación" meet, as do
//! "inspections" and "inspection". A fixed analyser (`"english"`, `"spanish"`, `"plain"`) exists to
//! measure against (`ragway eval`, docs/BENCHMARKS.md).

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use qdrant_edge::SparseVector;
use qdrant_edge::bm25_embed::{EdgeBm25, EdgeBm25Config};
use qdrant_edge::external::ordered_float::NotNan;
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use crate::error::{IngestError, Result};
use crate::lang::Lang;

/// Every chunk and question analysed in its own language.
pub const AUTO: &str = "auto";
/// Lowercased words only: no stopwords, no stemming (a baseline).
pub const PLAIN: &str = "plain";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Bm25Config {
    pub k1: f64,
    pub b: f64,
    /// Average chunk length in analysed tokens; qdrant-edge takes it as a parameter, not from the corpus.
    pub avg_len: f64,
    /// Analyser: `"auto"` (each text in its own language), or one for everything: a qdrant
    /// language name (`"english"`, `"spanish"`, …) or `"plain"` (no stopwords, no stemming).
    pub language: String,
    /// Which analyses a question is matched with under `"auto"`.
    pub query: QueryAnalysis,
}

impl Default for Bm25Config {
    fn default() -> Self {
        Self {
            k1: 1.2,
            b: 0.75,
            avg_len: 150.0,
            language: AUTO.into(),
            query: QueryAnalysis::default(),
        }
    }
}

/// How a question meets a corpus that mixes languages (see docs/BENCHMARKS.md for the measurement
/// that chose the default).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QueryAnalysis {
    /// Analysed in the question's language only.
    #[default]
    Question,
    /// Analysed in every language; the terms of all analyses are matched together.
    All,
}

#[derive(Debug)]
pub struct Bm25Encoder {
    /// One analyser for everything, or one per language.
    fixed: Option<Analyser>,
    by_lang: BTreeMap<Lang, Analyser>,
    query: QueryAnalysis,
    /// The document-side settings (what a chunk's vector depends on), as text.
    fingerprint: String,
    /// k1, b and the average length, for the term weights of a document.
    params: (f64, f64, f64),
}

/// One language's analysis, and the key of its word memo.
#[derive(Debug)]
struct Analyser {
    model: EdgeBm25,
    memo: u64,
}

/// Distinct words one thread remembers per analyser (≈ 8 MB at most); a full memo starts over.
const MEMO_WORDS: usize = 1 << 17;
/// Analysers one thread keeps memos for: encoders made and dropped (an `eval`, a test) leave
/// theirs behind, and a thread that meets more starts over.
const MEMO_ANALYSERS: usize = 8;

static NEXT_MEMO: AtomicU64 = AtomicU64::new(0);

/// A word as the text spells it → its term id, or None for a stopword.
type WordIds = FxHashMap<Box<str>, Option<u32>>;

thread_local! {
    /// Each analyser's words. Stemming each word anew was ≈ 9 % of a sync's CPU, and a corpus
    /// repeats a few thousand words.
    static WORD_IDS: RefCell<FxHashMap<u64, WordIds>> =
        RefCell::default();
}

impl Bm25Encoder {
    pub fn new(config: &Bm25Config) -> Result<Self> {
        let analyser = |language: &str, plain: bool| -> Result<Analyser> {
            Ok(Analyser {
                model: model(config, language, plain)?,
                memo: NEXT_MEMO.fetch_add(1, Ordering::Relaxed),
            })
        };
        let (fixed, by_lang) = if config.language == AUTO {
            let by_lang = Lang::ALL
                .iter()
                .map(|&lang| Ok((lang, analyser(lang.analyser(), false)?)))
                .collect::<Result<_>>()?;
            (None, by_lang)
        } else if config.language == PLAIN {
            (Some(analyser("english", true)?), BTreeMap::new())
        } else {
            (Some(analyser(&config.language, false)?), BTreeMap::new())
        };
        Ok(Self {
            fixed,
            by_lang,
            query: config.query,
            fingerprint: format!(
                "bm25 {} k1={} b={} avg_len={}",
                config.language, config.k1, config.b, config.avg_len
            ),
            params: (config.k1, config.b, config.avg_len),
        })
    }

    /// The settings a chunk's sparse vector depends on (not how questions are matched).
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    fn analyser(&self, lang: Lang) -> Option<&Analyser> {
        self.fixed.as_ref().or_else(|| self.by_lang.get(&lang))
    }

    /// A chunk's sparse vector, analysed as `lang` (ignored under a fixed analyser): the vector
    /// qdrant-edge's `embed_document` gives, with each distinct word analysed once per thread.
    pub fn embed_document(&self, text: &str, lang: Lang) -> SparseVector {
        let Some(analyser) = self.analyser(lang) else {
            return empty();
        };
        let mut ids = Vec::new();
        WORD_IDS.with_borrow_mut(|memos| {
            if memos.len() >= MEMO_ANALYSERS && !memos.contains_key(&analyser.memo) {
                memos.clear();
            }
            let memo = memos.entry(analyser.memo).or_default();
            // qdrant's word tokenizer: every run of alphanumerics, analysed on its own.
            for word in text.split(|c: char| !c.is_alphanumeric()) {
                if word.is_empty() {
                    continue;
                }
                let id = match memo.get(word) {
                    Some(id) => *id,
                    None => {
                        let id = analyser.model.embed_query(word).indices.first().copied();
                        if memo.len() >= MEMO_WORDS {
                            memo.clear();
                        }
                        memo.insert(word.into(), id);
                        id
                    }
                };
                ids.extend(id);
            }
        });
        term_weights(ids, self.params)
    }

    /// A question's sparse vector: its own language's analysis, or (with `query = "all"`) the
    /// union of every language's terms. Query weights are all 1, so the union scores a chunk by
    /// the terms it shares with any analysis, each term counted once.
    pub fn embed_query(&self, text: &str, lang: Lang) -> SparseVector {
        if self.fixed.is_some() || self.query == QueryAnalysis::Question {
            return self
                .analyser(lang)
                .map(|a| a.model.embed_query(text))
                .unwrap_or_else(empty);
        }
        let mut terms = BTreeMap::new();
        for analyser in self.by_lang.values() {
            let vector = analyser.model.embed_query(text);
            for (index, value) in vector.indices.into_iter().zip(vector.values) {
                let weight: &mut f32 = terms.entry(index).or_default();
                *weight = weight.max(value);
            }
        }
        SparseVector {
            indices: terms.keys().copied().collect(),
            values: terms.values().copied().collect(),
        }
    }
}

/// BM25's saturated term frequency of each distinct term, by term id, as qdrant's `Bm25` weighs
/// a document (the same float operations, so the same bits).
fn term_weights(mut ids: Vec<u32>, (k1, b, avg_len): (f64, f64, f64)) -> SparseVector {
    let length = ids.len() as f64;
    ids.sort_unstable();
    let mut vector = empty();
    for run in ids.chunk_by(|a, c| a == c) {
        let n = run.len() as f64;
        let tf = n * (k1 + 1.0) / k1.mul_add(1.0 - b + b * length / avg_len, n);
        vector.indices.push(run[0]);
        vector.values.push(tf as f32);
    }
    vector
}

fn empty() -> SparseVector {
    SparseVector {
        indices: Vec::new(),
        values: Vec::new(),
    }
}

fn model(config: &Bm25Config, language: &str, plain: bool) -> Result<EdgeBm25> {
    let not_nan = |name: &str, v: f64| {
        NotNan::new(v).map_err(|_| IngestError::Config(format!("bm25.{name} is not a number")))
    };
    let mut edge = EdgeBm25Config {
        k: not_nan("k1", config.k1)?,
        b: not_nan("b", config.b)?,
        avg_len: not_nan("avg_len", config.avg_len)?,
        language: Some(language.to_owned()),
        ..EdgeBm25Config::default()
    };
    if plain {
        // qdrant has no "no stemmer" switch: a language without a Snowball stemmer (Chinese) and an
        // empty stopword set give plain lowercased words.
        edge = serde_json::from_value(serde_json::json!({
            "k": config.k1, "b": config.b, "avg_len": config.avg_len,
            "language": "chinese", "stopwords": { "custom": [] },
        }))
        .map_err(|e| IngestError::Config(format!("bm25: {e}")))?;
    }
    EdgeBm25::new(edge).map_err(|e| {
        IngestError::Config(format!(
            "bm25.language: {e} (use \"{AUTO}\", \"{PLAIN}\" or a language such as \"english\", \"spanish\")"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sorted(v: &SparseVector) -> Vec<u32> {
        let mut indices = v.indices.clone();
        indices.sort_unstable();
        indices
    }

    #[test]
    fn stems_and_drops_stopwords_per_language() {
        let bm25 = Bm25Encoder::new(&Bm25Config::default()).unwrap();
        let q = bm25.embed_query("the inspections of the cranes", Lang::En);
        let d = bm25.embed_document("crane inspection", Lang::En);
        assert_eq!(sorted(&q), sorted(&d));
        // Spanish plural and singular meet under the Spanish analyser, not under the English one.
        let q = bm25.embed_query("las inspecciones de las grúas", Lang::Es);
        let d = bm25.embed_document("inspección de grúa", Lang::Es);
        let d_en = bm25.embed_document("inspección de grúa", Lang::En);
        assert_eq!(sorted(&q), sorted(&d));
        assert_ne!(sorted(&q), sorted(&d_en));
        assert!(
            Bm25Encoder::new(&Bm25Config {
                language: "klingon".into(),
                ..Default::default()
            })
            .is_err()
        );
    }

    /// The memo changes how fast a vector is made, never the vector: the same indices and the
    /// same bits as qdrant-edge's own `embed_document`, on the handbook and on awkward text.
    #[test]
    fn document_vectors_are_qdrant_edges_bit_for_bit() {
        let mut texts: Vec<String> = vec![
            String::new(),
            "   ...  ".into(),
            "The the THE crane cranes CRANES inspección Inspecciones grúa-grúa".into(),
            "İstanbul ǅemal ΣΊΣΥΦΟΣ straße 42 4.2.1 x86_64 foo_bar 東京 タワー é e\u{301}".into(),
            "a b c d e f g h i j k l m n o p q r s t u v w x y z 1 2 3".repeat(40),
        ];
        let examples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
        let mut stack = vec![examples];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).unwrap().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    stack.push(path);
                } else if let Ok(text) = std::fs::read_to_string(&path) {
                    texts.push(text);
                }
            }
        }
        assert!(texts.len() > 20, "the handbook's files: {}", texts.len());
        for language in [AUTO, PLAIN, "spanish"] {
            let config = Bm25Config {
                language: language.into(),
                ..Default::default()
            };
            let encoder = Bm25Encoder::new(&config).unwrap();
            for lang in Lang::ALL {
                let reference = encoder.analyser(lang).unwrap();
                // Twice: the second pass reads every word from the memo.
                for _ in 0..2 {
                    for text in &texts {
                        let ours = encoder.embed_document(text, lang);
                        let theirs = reference.model.embed_document(text);
                        assert_eq!(ours.indices, theirs.indices, "{language}/{lang:?}");
                        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                        assert_eq!(bits(&ours.values), bits(&theirs.values));
                    }
                }
            }
        }
    }

    #[test]
    fn plain_keeps_every_word_unstemmed() {
        let plain = Bm25Encoder::new(&Bm25Config {
            language: PLAIN.into(),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(plain.embed_query("the cranes", Lang::En).indices.len(), 2);
        assert_ne!(
            sorted(&plain.embed_query("cranes", Lang::En)),
            sorted(&plain.embed_query("crane", Lang::En))
        );
    }

    #[test]
    fn all_analyses_union_the_terms() {
        let all = Bm25Encoder::new(&Bm25Config {
            query: QueryAnalysis::All,
            ..Default::default()
        })
        .unwrap();
        let one = Bm25Encoder::new(&Bm25Config::default()).unwrap();
        let union = sorted(&all.embed_query("inspecciones", Lang::Es));
        for lang in Lang::ALL {
            for index in sorted(&one.embed_query("inspecciones", lang)) {
                assert!(union.contains(&index));
            }
        }
        assert!(
            all.embed_query("inspecciones", Lang::Es)
                .values
                .iter()
                .all(|&v| v == 1.0)
        );
    }
}
