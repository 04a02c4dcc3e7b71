//! The rendering budget a tenant's templates are checked against when stored: every template
//! rendered as the largest question would, so one that loops past the fuel is refused up front.

use ragway_ingest::chunk::Chunker;
use ragway_ingest::lang::Lang;
use ragway_ingest::store::Hit;

use super::prompt::{Role, Turn};
use super::templates::Prompts;
use crate::error::GatewayError;

/// The largest prompt a template must render within the budget: sources, turns, question size.
const BUDGET_PROBE_SOURCES: usize = 50;
const BUDGET_PROBE_TURNS: usize = 40;
const BUDGET_PROBE_QUESTION_CHARS: usize = 4_000;

impl Prompts {
    /// Renders every template as the largest question would (the most sources, a long
    /// conversation, the longest question), so templates that exceed the rendering budget are
    /// refused when stored rather than failing answers later.
    pub fn check_budget(&self, chunker: &Chunker) -> Result<(), GatewayError> {
        let question = "¿".repeat(BUDGET_PROBE_QUESTION_CHARS);
        let history: Vec<Turn> = (0..BUDGET_PROBE_TURNS)
            .map(|i| Turn {
                role: if i % 2 == 0 {
                    Role::User
                } else {
                    Role::Assistant
                },
                text: "a turn of the conversation ".repeat(20),
            })
            .collect();
        let hits: Vec<Hit> = (0..BUDGET_PROBE_SOURCES).map(probe_hit).collect();
        for lang in Lang::ALL {
            self.rewrite(lang, &history, &question)?;
            self.ground(lang, &question, history.clone(), &hits, chunker, usize::MAX)?;
        }
        Ok(())
    }
}

/// A passage as large as a chunk gets, for [`Prompts::check_budget`].
fn probe_hit(i: usize) -> Hit {
    Hit {
        id: uuid::Uuid::nil(),
        score: 1.0,
        payload: ragway_ingest::store::ChunkPayload {
            tenant_id: "probe".into(),
            source_id: "s".into(),
            document_id: format!("d{i}"),
            uri: format!("docs/{i}.md"),
            title: format!("Document {i}"),
            heading_path: vec!["Section".into(), "Subsection".into()],
            chunk_index: 0,
            text: "A sentence of a passage. ".repeat(100),
            page: None,
            acl: Vec::new(),
            lang: None,
            text_tokens: None,
        },
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use ragway_ingest::chunk::ChunkerConfig;

    use super::*;

    #[test]
    fn templates_that_loop_past_the_budget_are_refused_and_the_built_in_ones_fit() {
        let chunker = Chunker::new(&ChunkerConfig::default()).unwrap();
        Prompts::load(None).unwrap().check_budget(&chunker).unwrap();
        let stall =
            "{% for a in range(100000) %}{% for b in range(100000) %}x{% endfor %}{% endfor %}";
        let prompts =
            Prompts::with_overrides(None, &BTreeMap::from([("system".into(), stall.into())]))
                .unwrap();
        let err = prompts.check_budget(&chunker).unwrap_err().to_string();
        assert!(err.contains("fuel"), "{err}");
        let huge = "{% for a in range(100000) %}{{ question }}{% endfor %}";
        let prompts =
            Prompts::with_overrides(None, &BTreeMap::from([("answer".into(), huge.into())]))
                .unwrap();
        assert!(prompts.check_budget(&chunker).is_err());
    }
}
