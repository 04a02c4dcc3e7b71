//! `[index]`: where the vector index lives. `backend = "edge"` (the default) embeds it in the
//! data directory — one process owns it. `backend = "qdrant"` uses a Qdrant server or cluster
//! over gRPC, so any number of `ragway serve` and `ragway sync` processes share it.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use ragway_ingest::store::{CollectionLayout, EdgeStore, QdrantSettings, QdrantStore, VectorStore};
use serde::Deserialize;

use crate::error::GatewayError;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IndexBackend {
    #[default]
    Edge,
    Qdrant,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Quantization {
    #[default]
    None,
    /// Int8 scalar quantization of dense vectors: the search scores the int8 copies (a quarter
    /// of the memory), the float32 originals rescore its candidates.
    Int8,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IndexConfig {
    pub backend: IndexBackend,
    /// Qdrant's gRPC endpoint (port 6334), e.g. `http://qdrant:6334`. `QDRANT_URL` sets it (and
    /// the backend) from the environment.
    pub url: Option<String>,
    /// Environment variable holding Qdrant's API key, if the server requires one.
    pub api_key_env: Option<String>,
    /// The alias questions are answered from; generations are `<collection>-<n>` behind it.
    pub collection: String,
    /// Used when ragway creates a collection: shards (default 1 — BM25's IDF is per shard, so one
    /// shard ranks exactly like the embedded index; shard when a collection outgrows a node).
    pub shard_number: Option<u32>,
    /// Copies of every shard on different nodes (Qdrant's default 1 when unset).
    pub replication_factor: Option<u32>,
    pub write_consistency_factor: Option<u32>,
    /// The index's large parts memory-mapped rather than in RAM: on Qdrant, the dense vectors and
    /// payloads of the collections ragway creates; embedded (whose vectors and payloads are always
    /// mapped), the BM25 inverted index of the tenants' shards created from then on. Unset: mapped
    /// on the embedded index (a copy in RAM would duplicate the page cache's for no measured
    /// speed), in RAM on Qdrant (its server's memory, sized for it).
    pub on_disk: Option<bool>,
    /// Int8 copies of the dense vectors, which the search scores before the originals rescore:
    /// on the embedded index for the shards created from then on, mapped like the vectors (≈ 7 %
    /// less CPU a question, recall@10 −0.01, +8 % disk; docs/BENCHMARKS.md); on Qdrant for the
    /// collections ragway creates, the copies in the server's RAM.
    pub quantization: Quantization,
    /// Deadline of one Qdrant request.
    pub timeout_secs: u64,
}

impl Default for IndexConfig {
    fn default() -> Self {
        Self {
            backend: IndexBackend::Edge,
            url: None,
            api_key_env: None,
            collection: "ragway".into(),
            shard_number: None,
            replication_factor: None,
            write_consistency_factor: None,
            on_disk: None,
            quantization: Quantization::None,
            timeout_secs: 30,
        }
    }
}

impl IndexConfig {
    /// Every problem of the section, each naming its key.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        match self.backend {
            IndexBackend::Edge => {
                for (key, set) in [
                    ("url", self.url.is_some()),
                    ("api_key_env", self.api_key_env.is_some()),
                    ("shard_number", self.shard_number.is_some()),
                    ("replication_factor", self.replication_factor.is_some()),
                    ("write_consistency_factor", self.write_consistency_factor.is_some()),
                ] {
                    if set {
                        problems.push(format!(
                            "index.{key} applies to backend = \"qdrant\" (the backend is \"edge\")"
                        ));
                    }
                }
            }
            IndexBackend::Qdrant => match self.url.as_deref() {
                None | Some("") => problems.push(
                    "index.url is required with backend = \"qdrant\" (Qdrant's gRPC endpoint, e.g. \
                     http://qdrant:6334)"
                        .into(),
                ),
                Some(url) if reqwest::Url::parse(url).is_err() => {
                    problems.push(format!("index.url {url:?} is not a URL"))
                }
                Some(_) => {}
            },
        }
        let name_ok = !self.collection.is_empty()
            && self
                .collection
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !name_ok {
            problems.push(format!(
                "index.collection {:?} must be letters, digits, '-' or '_'",
                self.collection
            ));
        }
        for (key, value) in [
            ("shard_number", self.shard_number),
            ("replication_factor", self.replication_factor),
            ("write_consistency_factor", self.write_consistency_factor),
        ] {
            if value == Some(0) {
                problems.push(format!("index.{key} must be at least 1"));
            }
        }
        if let (Some(write), Some(replicas)) =
            (self.write_consistency_factor, self.replication_factor)
            && write > replicas
        {
            problems.push(format!(
                "index.write_consistency_factor ({write}) cannot exceed index.replication_factor ({replicas})"
            ));
        }
        if self.timeout_secs == 0 {
            problems.push("index.timeout_secs must be at least 1".into());
        }
        problems
    }

    /// The Qdrant connection settings (reads the API key from its environment variable).
    pub fn qdrant_settings(
        &self,
        secrets: &dyn Fn(&str) -> Option<String>,
    ) -> Result<QdrantSettings, GatewayError> {
        if let Some(problem) = self.problems().into_iter().next() {
            return Err(GatewayError::Config(problem));
        }
        let api_key = match &self.api_key_env {
            Some(env) => match secrets(env) {
                Some(key) if !key.trim().is_empty() => Some(key.trim().to_owned()),
                _ => {
                    return Err(GatewayError::Config(format!(
                        "index.api_key_env names the environment variable `{env}`, which is not set"
                    )));
                }
            },
            None => None,
        };
        Ok(QdrantSettings {
            url: self.url.clone().unwrap_or_default(),
            api_key,
            collection: self.collection.clone(),
            layout: CollectionLayout {
                shard_number: self.shard_number,
                replication_factor: self.replication_factor,
                write_consistency_factor: self.write_consistency_factor,
                on_disk: self.on_disk.unwrap_or(false),
                int8_quantization: self.quantization == Quantization::Int8,
            },
            timeout: Duration::from_secs(self.timeout_secs),
        })
    }

    /// Opens the configured index. `dense` is the embedder's dimension, if one is configured.
    pub async fn open(
        &self,
        edge_dir: &Path,
        dense: Option<usize>,
    ) -> Result<Arc<dyn VectorStore>, GatewayError> {
        if let Some(problem) = self.problems().into_iter().next() {
            return Err(GatewayError::Config(problem));
        }
        Ok(match self.backend {
            IndexBackend::Edge => Arc::new(
                EdgeStore::open(edge_dir, dense)
                    .await?
                    .with_bm25_on_disk(self.edge_bm25_on_disk())
                    .with_int8_quantization(self.edge_int8_quantization()),
            ),
            IndexBackend::Qdrant => {
                let settings = self.qdrant_settings(&|name| std::env::var(name).ok())?;
                Arc::new(QdrantStore::connect(&settings, dense).await?)
            }
        })
    }

    /// Whether the embedded index's new shards map their BM25 index rather than load it.
    pub fn edge_bm25_on_disk(&self) -> bool {
        self.on_disk.unwrap_or(true)
    }

    /// Whether the embedded index's new shards keep int8 copies of their dense vectors.
    pub fn edge_int8_quantization(&self) -> bool {
        self.quantization == Quantization::Int8
    }

    /// Whether the index is shared by several processes (the Qdrant backend).
    pub fn is_shared(&self) -> bool {
        self.backend == IndexBackend::Qdrant
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::config::tests::env;

    #[test]
    fn the_embedded_index_is_the_default_and_qdrant_url_alone_switches() {
        let config = Config::from_toml_and_env("", env(&[])).unwrap();
        assert_eq!(config.index.backend, IndexBackend::Edge);
        assert!(!config.index.is_shared());
        let config =
            Config::from_toml_and_env("", env(&[("QDRANT_URL", "http://qdrant:6334")])).unwrap();
        assert_eq!(config.index.backend, IndexBackend::Qdrant);
        assert_eq!(config.index.url.as_deref(), Some("http://qdrant:6334"));
        assert!(config.index.problems().is_empty());
    }

    #[test]
    fn unset_on_disk_maps_the_embedded_bm25_and_keeps_qdrant_collections_in_ram() {
        let unset = IndexConfig {
            backend: IndexBackend::Qdrant,
            url: Some("http://q:6334".into()),
            ..IndexConfig::default()
        };
        assert!(unset.edge_bm25_on_disk());
        assert!(!unset.qdrant_settings(&|_| None).unwrap().layout.on_disk);
        for set in [false, true] {
            let config =
                Config::from_toml_and_env(&format!("[index]\non_disk = {set}\n"), env(&[]))
                    .unwrap();
            assert_eq!(config.index.edge_bm25_on_disk(), set);
            let qdrant = IndexConfig {
                url: Some("http://q:6334".into()),
                backend: IndexBackend::Qdrant,
                ..config.index
            };
            assert_eq!(
                qdrant.qdrant_settings(&|_| None).unwrap().layout.on_disk,
                set
            );
        }
        let from_env =
            Config::from_toml_and_env("", env(&[("RAGWAY_INDEX__ON_DISK", "false")])).unwrap();
        assert!(!from_env.index.edge_bm25_on_disk());
    }

    #[test]
    fn quantization_applies_to_both_backends_and_is_off_unless_set() {
        let qdrant = |index: IndexConfig| IndexConfig {
            backend: IndexBackend::Qdrant,
            url: Some("http://q:6334".into()),
            ..index
        };
        let unset = IndexConfig::default();
        assert!(!unset.edge_int8_quantization());
        let layout = qdrant(unset).qdrant_settings(&|_| None).unwrap().layout;
        assert!(!layout.int8_quantization);
        for (text, int8) in [("none", false), ("int8", true)] {
            let toml = format!("[index]\nquantization = \"{text}\"\n");
            let config = Config::from_toml_and_env(&toml, env(&[])).unwrap();
            assert_eq!(config.index.edge_int8_quantization(), int8);
            let layout = qdrant(config.index)
                .qdrant_settings(&|_| None)
                .unwrap()
                .layout;
            assert_eq!(layout.int8_quantization, int8);
        }
    }

    #[test]
    fn every_problem_names_its_key() {
        let text = "[index]\nbackend = \"qdrant\"\ncollection = \"a b\"\nreplication_factor = 1\n\
                    write_consistency_factor = 2\nshard_number = 0\n";
        let config = Config::from_toml_and_env(text, env(&[])).unwrap();
        let problems = config.index.problems();
        for key in [
            "index.url",
            "index.collection",
            "index.write_consistency_factor",
            "index.shard_number",
        ] {
            assert!(
                problems.iter().any(|p| p.starts_with(key)),
                "{key}: {problems:?}"
            );
        }
        let edge =
            Config::from_toml_and_env("[index]\nurl = \"http://q:6334\"\n", env(&[])).unwrap();
        assert_eq!(
            edge.index.problems(),
            ["index.url applies to backend = \"qdrant\" (the backend is \"edge\")"]
        );
        let err =
            Config::from_toml_and_env("[index]\nbackend = \"milvus\"\n", env(&[])).unwrap_err();
        assert!(err.to_string().contains("milvus"), "{err}");
    }

    #[test]
    fn the_api_key_comes_from_its_variable() {
        let config = IndexConfig {
            backend: IndexBackend::Qdrant,
            url: Some("http://q:6334".into()),
            api_key_env: Some("QDRANT_KEY".into()),
            ..IndexConfig::default()
        };
        let settings = config
            .qdrant_settings(&|name| (name == "QDRANT_KEY").then(|| " k3y ".into()))
            .unwrap();
        assert_eq!(settings.api_key.as_deref(), Some("k3y"));
        let err = config.qdrant_settings(&|_| None).unwrap_err();
        assert!(
            err.to_string().contains("`QDRANT_KEY`, which is not set"),
            "{err}"
        );
    }
}
