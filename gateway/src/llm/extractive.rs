//! No LLM: answer with the best passages and their citations, clearly labelled as extractive.

use futures::StreamExt;

use super::{AnswerMode, ChatChunk, ChatModel, ChatStream, GenerationOptions, focused_excerpt};
use crate::error::GatewayError;
use crate::ground::GroundedPrompt;
use crate::i18n;

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
        let messages = i18n::messages(prompt.lang);
        let mut parts = vec![format!("{}\n\n", messages.extractive_intro)];
        for source in prompt.sources.iter().take(PASSAGES) {
            let citation = &source.citation;
            let mut heading = citation.title.clone();
            for h in &citation.heading_path {
                heading.push_str(" › ");
                heading.push_str(h);
            }
            if let Some(page) = citation.page {
                heading.push_str(", ");
                heading.push_str(&i18n::fill(messages.page, &[("page", &page)]));
            }
            // The part of the passage that answers the question, not merely its beginning.
            let quote = focused_excerpt(&source.text, &prompt.question, PASSAGE_CHARS);
            parts.push(format!("[{}] {heading}\n{quote}\n\n", citation.n));
        }
        let chunks = parts.into_iter().map(|p| Ok(ChatChunk::Delta(p)));
        Ok(futures::stream::iter(chunks).boxed())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::ground::{Citation, SourcePassage};
    use ragway_ingest::lang::Lang;

    async fn answer(lang: Lang, question: &str, text: &str) -> String {
        let source = SourcePassage {
            citation: Citation {
                n: 1,
                document_id: "d".into(),
                title: "Montacargas".into(),
                uri: "seguridad/montacargas.pdf".into(),
                heading_path: vec!["Velocidad".into()],
                page: Some(4),
                snippet: String::new(),
                score: 1.0,
            },
            text: text.into(),
        };
        let prompt = GroundedPrompt {
            system: String::new(),
            history: Vec::new(),
            user: String::new(),
            sources: vec![source],
            prompt_tokens: 0,
            question: question.into(),
            lang,
        };
        let chunks = Extractive
            .answer(&prompt, GenerationOptions::default())
            .await
            .unwrap();
        let chunks: Vec<_> = chunks.collect().await;
        chunks
            .into_iter()
            .map(|c| match c.unwrap() {
                ChatChunk::Delta(text) => text,
                ChatChunk::Usage(_) => String::new(),
            })
            .collect()
    }

    #[tokio::test]
    async fn extractive_answers_speak_the_questions_language_and_quote_what_answers() {
        let filler = "El área de carga se limpia al final de cada turno. ".repeat(20);
        let text = format!(
            "{filler}Dentro de la nave los montacargas circulan a 10 km/h como máximo. {filler}"
        );
        let es = answer(
            Lang::Es,
            "¿A qué velocidad circulan los montacargas?",
            &text,
        )
        .await;
        assert!(es.starts_with("Respuesta extractiva"), "{es}");
        assert!(es.contains("[1] Montacargas › Velocidad, pág. 4\n"), "{es}");
        assert!(es.contains("circulan a 10 km/h"), "{es}");
        let en = answer(Lang::En, "forklift speed", "Short passage.").await;
        assert!(en.starts_with("Extractive answer"), "{en}");
        assert!(en.contains(", p. 4\nShort passage."), "{en}");
    }
}
