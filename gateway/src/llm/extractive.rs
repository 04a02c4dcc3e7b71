//! No LLM: answer with the best passages and their citations, clearly labelled as extractive.

use futures::StreamExt;

use super::{AnswerMode, ChatChunk, ChatModel, ChatStream, GenerationOptions};
use crate::ask::GroundedPrompt;
use crate::error::GatewayError;

/// Passages quoted in an extractive answer.
const PASSAGES: usize = 3;
/// Characters quoted from each passage.
const PASSAGE_CHARS: usize = 700;

#[derive(Debug, Default)]
pub struct Extractive;

#[async_trait::async_trait]
impl ChatModel for Extractive {
    fn mode(&self) -> AnswerMode {
        AnswerMode::Extractive
    }

    fn context_window(&self) -> usize {
        // Nothing is sent anywhere; the budget only bounds how many sources are listed.
        32_768
    }

    fn max_completion_tokens(&self) -> usize {
        0
    }

    async fn answer(
        &self,
        prompt: &GroundedPrompt,
        _options: GenerationOptions,
    ) -> Result<ChatStream, GatewayError> {
        let mut parts = vec![
            "Extractive answer (no language model is configured): the most relevant passages from your documents.\n\n"
                .to_owned(),
        ];
        for source in prompt.sources.iter().take(PASSAGES) {
            let mut heading = source.citation.title.clone();
            for h in &source.citation.heading_path {
                heading.push_str(" › ");
                heading.push_str(h);
            }
            parts.push(format!(
                "[{}] {heading}\n{}\n\n",
                source.citation.n,
                excerpt(&source.text, PASSAGE_CHARS)
            ));
        }
        let chunks = parts.into_iter().map(|p| Ok(ChatChunk::Delta(p)));
        Ok(futures::stream::iter(chunks).boxed())
    }
}

/// The first `max_chars` characters, cut at a word boundary, with an ellipsis when shortened.
pub fn excerpt(text: &str, max_chars: usize) -> String {
    let text = text.trim();
    if text.chars().count() <= max_chars {
        return text.to_owned();
    }
    let cut: String = text.chars().take(max_chars).collect();
    let cut = match cut.rfind(char::is_whitespace) {
        Some(i) if i > max_chars / 2 => &cut[..i],
        _ => cut.as_str(),
    };
    format!("{}…", cut.trim_end())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpts_cut_at_words() {
        assert_eq!(excerpt("short", 10), "short");
        assert_eq!(excerpt("uno dos tres cuatro cinco", 14), "uno dos tres…");
        assert_eq!(excerpt("ñññññ ñññññ", 7), "ñññññ…");
    }
}
