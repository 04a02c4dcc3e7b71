//! Token counts of the prompt frame's lines, remembered. A frame is mostly the same lines on
//! every question (the instructions, `</source>`, a popular document's `<source …>` tag); the
//! encoder's pre-tokenizer was ≈ 7 % of a cache miss's CPU counting them again each time. Only
//! lines not seen recently (the question's, usually) are encoded now. Exact: a frame is cut
//! only where its encoding restarts ([`Chunker::restart_pieces`]).

use moka::sync::Cache;
use ragway_ingest::chunk::Chunker;

/// Bytes of lines remembered per prompt set (each line weighs its length and a small overhead).
const REMEMBERED_BYTES: u64 = 1024 * 1024;
/// Lines longer than this are counted, not remembered (a long question is asked once).
const LONGEST_REMEMBERED: usize = 2048;
const ENTRY_OVERHEAD: u32 = 64;

pub(super) struct LineTokens {
    counts: Cache<String, usize>,
}

impl LineTokens {
    pub(super) fn new() -> Self {
        Self {
            counts: Cache::builder()
                .max_capacity(REMEMBERED_BYTES)
                .weigher(|line: &String, _: &usize| {
                    u32::try_from(line.len())
                        .unwrap_or(u32::MAX)
                        .saturating_add(ENTRY_OVERHEAD)
                })
                .build(),
        }
    }

    /// Tokens of `text`, as `chunker.count` gives them.
    pub(super) fn count(&self, chunker: &Chunker, text: &str) -> usize {
        Chunker::restart_pieces(text)
            .map(|line| {
                if line.len() > LONGEST_REMEMBERED {
                    return chunker.count(line);
                }
                if let Some(tokens) = self.counts.get(line) {
                    return tokens;
                }
                let tokens = chunker.count(line);
                self.counts.insert(line.to_owned(), tokens);
                tokens
            })
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ragway_ingest::chunk::ChunkerConfig;

    #[test]
    fn remembered_counts_equal_encoding_the_text() {
        let chunker = Chunker::new(&ChunkerConfig::default()).unwrap();
        let lines = LineTokens::new();
        let frame = |question: &str| {
            format!(
                "Sources (each between <source> and </source>):\n\n<source n=\"1\" title=\"Viáticos\">\n\
                 \u{E000}1:0\u{E000}\n</source>\n\nQuestion: {question}\n\n\
                 Answer using only the sources above and cite them as [n].\n"
            )
        };
        for question in [
            "¿Cuánto es el viático diario en Monterrey?",
            "How do I configure continuous archiving?",
            "  indented\n/slash line\n\n\nend",
            "¿Cuánto es el viático diario en Monterrey?",
        ] {
            let text = frame(question);
            assert_eq!(
                lines.count(&chunker, &text),
                chunker.count(&text),
                "{text:?}"
            );
        }
        lines.counts.run_pending_tasks();
        assert!(
            lines.counts.contains_key("</source>\n\n"),
            "the recurring line was not remembered"
        );
        let long = "x ".repeat(LONGEST_REMEMBERED);
        assert_eq!(lines.count(&chunker, &long), chunker.count(&long));
        lines.counts.run_pending_tasks();
        assert!(!lines.counts.contains_key(long.as_str()));
    }
}
