//! Answer checks: does the extractive answer — the one ragway gives without an LLM — quote the
//! gold answer span? Counted over the questions whose judged paragraph was retrieved first, so the
//! figure measures the answer's passage selection, not retrieval.

use futures::StreamExt;
use ragway_ingest::chunk::Chunker;
use ragway_ingest::store::Hit;
use serde::Serialize;

use crate::error::GatewayError;
use crate::ground::Prompts;
use crate::llm::{ChatChunk, ChatModel, Extractive, GenerationOptions};

/// Share of extractive answers that contain a gold answer span.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct AnswerCheck {
    /// Questions with gold answers whose first hit is a judged paragraph.
    pub retrieved_first: usize,
    /// Of those, answers containing a gold span.
    pub containing_gold: usize,
    pub share: f64,
}

impl AnswerCheck {
    pub fn add(&mut self, contains: bool) {
        self.retrieved_first += 1;
        self.containing_gold += usize::from(contains);
        self.share = self.containing_gold as f64 / self.retrieved_first as f64;
    }
}

/// Lowercased, whitespace collapsed: a span matches across line breaks and capitalisation.
fn normalized(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

pub fn contains_any(answer: &str, golds: &[String]) -> bool {
    let answer = normalized(answer);
    golds
        .iter()
        .map(|g| normalized(g))
        .any(|g| !g.is_empty() && answer.contains(&g))
}

/// The extractive answer to `question` over `hits`, as the gateway would stream it.
pub async fn extractive_answer(
    prompts: &Prompts,
    chunker: &Chunker,
    question: &str,
    lang: ragway_ingest::lang::Lang,
    hits: &[Hit],
) -> Result<String, GatewayError> {
    let model = Extractive;
    let budget = model.context_window();
    let prompt = prompts.ground(lang, question, Vec::new(), hits, chunker, budget)?;
    let mut chunks = model.answer(&prompt, GenerationOptions::default()).await?;
    let mut answer = String::new();
    while let Some(chunk) = chunks.next().await {
        if let ChatChunk::Delta(text) = chunk? {
            answer.push_str(&text);
        }
    }
    Ok(answer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_match_across_case_and_line_breaks() {
        let golds = vec!["Kawann Short".to_owned(), "cuatro".to_owned()];
        assert!(contains_any("el tacle\nkawann   short lideró", &golds));
        assert!(contains_any("Cuatro jugadores", &golds));
        assert!(!contains_any("Kawann lideró", &golds));
        assert!(!contains_any("anything", &[String::new()]));
        let mut check = AnswerCheck::default();
        check.add(true);
        check.add(false);
        assert_eq!((check.retrieved_first, check.containing_gold), (2, 1));
        assert!((check.share - 0.5).abs() < 1e-9);
    }
}
