//! A BEIR-layout dataset: `corpus.jsonl` (`_id`, `title`, `text`), queries (`queries.jsonl` or
//! `queries-<split>.jsonl`: `_id`, `text`) and relevance judgements (`qrels/<split>.tsv` or
//! `qrels-<split>.tsv`: `query-id<TAB>corpus-id<TAB>score`, header line first).
//!
//! Multilingual datasets (XQuAD) name each file by language: `corpus-<lang>.jsonl`,
//! `queries-<split>-<lang>.jsonl`, `qrels-<split>-<lang>.tsv` and, for answer checks,
//! `answers-<split>-<lang>.jsonl` (`_id`, `answers`: gold spans). Parallel corpora share document
//! ids across languages; a corpus of several languages keeps one document per (language, id),
//! and a hit on any language's version counts for the id.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use ragway_ingest::lang::Lang;

use super::metrics::Judgements;
use crate::error::GatewayError;

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct CorpusDoc {
    #[serde(rename = "_id")]
    pub id: String,
    #[serde(default)]
    pub title: String,
    pub text: String,
    /// The corpus file's language, for multilingual datasets.
    #[serde(skip)]
    pub lang: Option<Lang>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Query {
    #[serde(rename = "_id")]
    pub id: String,
    pub text: String,
}

#[derive(Debug, Clone)]
pub struct Dataset {
    pub name: String,
    pub corpus: Vec<CorpusDoc>,
    /// Only the queries that have judgements, in file order.
    pub queries: Vec<Query>,
    pub qrels: HashMap<String, Judgements>,
    /// Gold answer spans by query id (empty without an answers file).
    pub answers: HashMap<String, Vec<String>>,
    /// The queries' language, for multilingual datasets.
    pub query_lang: Option<Lang>,
    /// The corpus languages, for multilingual datasets.
    pub corpus_langs: Vec<Lang>,
}

/// Which language files of a multilingual dataset to use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Languages {
    pub queries: Lang,
    /// One or more; several make one mixed-language corpus.
    pub corpus: Vec<Lang>,
}

#[derive(Debug, Deserialize)]
struct Answers {
    #[serde(rename = "_id")]
    id: String,
    answers: Vec<String>,
}

fn bad(path: &Path, what: impl std::fmt::Display) -> GatewayError {
    GatewayError::Config(format!("{}: {what}", path.display()))
}

fn read(path: &Path) -> Result<String, GatewayError> {
    std::fs::read_to_string(path).map_err(|e| bad(path, format!("cannot read it: {e}")))
}

fn jsonl<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<Vec<T>, GatewayError> {
    read(path)?
        .lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(n, line)| {
            serde_json::from_str(line).map_err(|e| bad(path, format!("line {}: {e}", n + 1)))
        })
        .collect()
}

/// The first of `candidates` (relative to `dir`) that exists.
fn first_existing(dir: &Path, candidates: &[String], what: &str) -> Result<PathBuf, GatewayError> {
    candidates
        .iter()
        .map(|name| dir.join(name))
        .find(|path| path.is_file())
        .ok_or_else(|| {
            bad(
                dir,
                format!("no {what} file (looked for {})", candidates.join(", ")),
            )
        })
}

pub fn parse_qrels(path: &Path, text: &str) -> Result<HashMap<String, Judgements>, GatewayError> {
    let mut qrels: HashMap<String, Judgements> = HashMap::new();
    for (n, line) in text.lines().enumerate() {
        let fields: Vec<&str> = line.split('\t').map(str::trim).collect();
        if line.trim().is_empty() || (n == 0 && fields.first() == Some(&"query-id")) {
            continue;
        }
        let [query, doc, score] = fields[..] else {
            return Err(bad(
                path,
                format!("line {}: expected 3 tab-separated fields", n + 1),
            ));
        };
        let score: i64 = score.parse().map_err(|_| {
            bad(
                path,
                format!("line {}: score {score:?} is not an integer", n + 1),
            )
        })?;
        qrels
            .entry(query.to_owned())
            .or_default()
            .insert(doc.to_owned(), u32::try_from(score.max(0)).unwrap_or(0));
    }
    Ok(qrels)
}

impl Dataset {
    /// Loads `dir` with the queries and judgements of `split` (e.g. `test`, `train`); with
    /// `languages`, the files of those languages (see the module comment).
    pub fn load(
        dir: &Path,
        split: &str,
        languages: Option<&Languages>,
    ) -> Result<Self, GatewayError> {
        if !dir.is_dir() {
            return Err(bad(dir, "not a directory (expected a BEIR-layout dataset)"));
        }
        let suffix = languages.map_or_else(String::new, |l| format!("-{}", l.queries));
        let corpus: Vec<CorpusDoc> = match languages {
            None => jsonl(&dir.join("corpus.jsonl"))?,
            Some(languages) => {
                let mut corpus = Vec::new();
                for &lang in &languages.corpus {
                    let docs: Vec<CorpusDoc> = jsonl(&dir.join(format!("corpus-{lang}.jsonl")))?;
                    corpus.extend(docs.into_iter().map(|d| CorpusDoc {
                        lang: Some(lang),
                        ..d
                    }));
                }
                corpus
            }
        };
        let queries_path = first_existing(
            dir,
            &[
                format!("queries-{split}{suffix}.jsonl"),
                format!("queries{suffix}.jsonl"),
            ],
            "queries",
        )?;
        let qrels_path = first_existing(
            dir,
            &[
                format!("qrels-{split}{suffix}.tsv"),
                format!("qrels/{split}{suffix}.tsv"),
            ],
            &format!("{split} judgements"),
        )?;
        let answers_path = dir.join(format!("answers-{split}{suffix}.jsonl"));
        let answers = if answers_path.is_file() {
            jsonl::<Answers>(&answers_path)?
                .into_iter()
                .map(|a| (a.id, a.answers))
                .collect()
        } else {
            HashMap::new()
        };
        let qrels = parse_qrels(&qrels_path, &read(&qrels_path)?)?;
        let queries: Vec<Query> = jsonl::<Query>(&queries_path)?
            .into_iter()
            .filter(|q| qrels.contains_key(&q.id))
            .collect();
        if corpus.is_empty() || queries.is_empty() {
            return Err(bad(dir, "the corpus or the judged queries are empty"));
        }
        let name = dir
            .canonicalize()
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_else(|| "dataset".into());
        let name = match languages {
            None => name,
            Some(l) => {
                let corpus: Vec<&str> = l.corpus.iter().map(|c| c.code()).collect();
                format!("{name}-{}-on-{}", l.queries, corpus.join("+"))
            }
        };
        Ok(Self {
            name,
            corpus,
            queries,
            qrels,
            answers,
            query_lang: languages.map(|l| l.queries),
            corpus_langs: languages.map(|l| l.corpus.clone()).unwrap_or_default(),
        })
    }

    /// The first `docs` documents (plus every document some kept query judges) and the first
    /// `queries` queries: a quick run's subset.
    pub fn subset(mut self, docs: Option<usize>, queries: Option<usize>) -> Self {
        if let Some(queries) = queries {
            self.queries.truncate(queries);
        }
        if let Some(docs) = docs {
            let judged: std::collections::HashSet<&String> = self
                .queries
                .iter()
                .filter_map(|q| self.qrels.get(&q.id))
                .flat_map(|j| j.keys())
                .collect();
            let keep: Vec<bool> = self
                .corpus
                .iter()
                .enumerate()
                .map(|(i, d)| i < docs || judged.contains(&d.id))
                .collect();
            let mut flags = keep.into_iter();
            self.corpus.retain(|_| flags.next().unwrap_or(false));
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qrels_skip_the_header_and_reject_bad_lines() {
        let path = Path::new("qrels.tsv");
        let qrels = parse_qrels(
            path,
            "query-id\tcorpus-id\tscore\n1\t10\t1\n1\t11\t2\n2\t10\t0\n",
        )
        .unwrap();
        assert_eq!(qrels["1"]["11"], 2);
        assert_eq!(qrels["2"]["10"], 0);
        let err = parse_qrels(path, "1\t10\n").unwrap_err().to_string();
        assert!(err.contains("line 1"), "{err}");
    }
}
