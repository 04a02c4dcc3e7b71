//! BM25 sparse vectors with qdrant-edge's analyser, so documents and queries are tokenized
//! exactly as a Qdrant server would. IDF is applied by the index (the `bm25` vector's IDF modifier).
//!
//! Analysis follows the language: by default (`language = "auto"`) a Spanish chunk is analysed
//! with Spanish stopwords and the Spanish Snowball stemmer, an English one with English, and a
//! question with the analyser of its own language — so "vacaciones" and "vacación" meet, as do
//! "inspections" and "inspection". A fixed analyser (`"english"`, `"spanish"`, `"plain"`) exists to
//! measure against (`ragway eval`, docs/BENCHMARKS.md).

use std::collections::BTreeMap;

use qdrant_edge::SparseVector;
use qdrant_edge::bm25_embed::{EdgeBm25, EdgeBm25Config};
use qdrant_edge::external::ordered_float::NotNan;
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
    fixed: Option<EdgeBm25>,
    by_lang: BTreeMap<Lang, EdgeBm25>,
    query: QueryAnalysis,
    /// The document-side settings (what a chunk's vector depends on), as text.
    fingerprint: String,
}

impl Bm25Encoder {
    pub fn new(config: &Bm25Config) -> Result<Self> {
        let (fixed, by_lang) = if config.language == AUTO {
            let by_lang = Lang::ALL
                .iter()
                .map(|&lang| Ok((lang, model(config, lang.analyser(), false)?)))
                .collect::<Result<_>>()?;
            (None, by_lang)
        } else if config.language == PLAIN {
            (Some(model(config, "english", true)?), BTreeMap::new())
        } else {
            (
                Some(model(config, &config.language, false)?),
                BTreeMap::new(),
            )
        };
        Ok(Self {
            fixed,
            by_lang,
            query: config.query,
            fingerprint: format!(
                "bm25 {} k1={} b={} avg_len={}",
                config.language, config.k1, config.b, config.avg_len
            ),
        })
    }

    /// The settings a chunk's sparse vector depends on (not how questions are matched).
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    fn analyser(&self, lang: Lang) -> Option<&EdgeBm25> {
        self.fixed.as_ref().or_else(|| self.by_lang.get(&lang))
    }

    /// A chunk's sparse vector, analysed as `lang` (ignored under a fixed analyser).
    pub fn embed_document(&self, text: &str, lang: Lang) -> SparseVector {
        self.analyser(lang)
            .map(|m| m.embed_document(text))
            .unwrap_or_else(empty)
    }

    /// A question's sparse vector: its own language's analysis, or (with `query = "all"`) the
    /// union of every language's terms. Query weights are all 1, so the union scores a chunk by
    /// the terms it shares with any analysis, each term counted once.
    pub fn embed_query(&self, text: &str, lang: Lang) -> SparseVector {
        if self.fixed.is_some() || self.query == QueryAnalysis::Question {
            return self
                .analyser(lang)
                .map(|m| m.embed_query(text))
                .unwrap_or_else(empty);
        }
        let mut terms = BTreeMap::new();
        for model in self.by_lang.values() {
            let vector = model.embed_query(text);
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
