//! BM25 sparse vectors with qdrant-edge's analyser, so documents and queries are tokenized
//! exactly as a Qdrant server would. IDF is applied by the index (the `bm25` vector's IDF modifier).

use qdrant_edge::SparseVector;
use qdrant_edge::bm25_embed::{EdgeBm25, EdgeBm25Config};
use qdrant_edge::external::ordered_float::NotNan;
use serde::{Deserialize, Serialize};

use crate::error::{IngestError, Result};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Bm25Config {
    pub k1: f64,
    pub b: f64,
    /// Average chunk length in analysed tokens; qdrant-edge takes it as a parameter, not from the corpus.
    pub avg_len: f64,
    /// Analyser language (stopwords, stemming): "english", "spanish", …
    pub language: String,
}

impl Default for Bm25Config {
    fn default() -> Self {
        Self {
            k1: 1.2,
            b: 0.75,
            avg_len: 150.0,
            language: "english".into(),
        }
    }
}

#[derive(Debug)]
pub struct Bm25Encoder {
    model: EdgeBm25,
}

impl Bm25Encoder {
    pub fn new(config: &Bm25Config) -> Result<Self> {
        let not_nan = |name: &str, v: f64| {
            NotNan::new(v).map_err(|_| IngestError::Config(format!("bm25.{name} is not a number")))
        };
        let edge = EdgeBm25Config {
            k: not_nan("k1", config.k1)?,
            b: not_nan("b", config.b)?,
            avg_len: not_nan("avg_len", config.avg_len)?,
            language: Some(config.language.clone()),
            ..EdgeBm25Config::default()
        };
        let model = EdgeBm25::new(edge).map_err(|e| IngestError::Config(format!("bm25: {e}")))?;
        Ok(Self { model })
    }

    pub fn embed_document(&self, text: &str) -> SparseVector {
        self.model.embed_document(text)
    }

    pub fn embed_query(&self, text: &str) -> SparseVector {
        self.model.embed_query(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stems_and_drops_stopwords() {
        let bm25 = Bm25Encoder::new(&Bm25Config::default()).unwrap();
        let q = bm25.embed_query("the inspections of the cranes");
        let d = bm25.embed_document("crane inspection");
        let mut qi = q.indices.clone();
        let mut di = d.indices.clone();
        qi.sort_unstable();
        di.sort_unstable();
        assert_eq!(qi, di);
        assert!(
            Bm25Encoder::new(&Bm25Config {
                language: "klingon".into(),
                ..Default::default()
            })
            .is_err()
        );
    }
}
