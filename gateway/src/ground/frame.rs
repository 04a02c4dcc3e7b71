//! The answer prompt rendered with a placeholder where each passage's text goes. Fitting the
//! token budget then encodes only the frame (instructions, question, titles: tens of tokens a
//! source), and takes each passage's tokens from the chunker's count stored at ingest, instead
//! of encoding every passage again on every question and every pass of the budget loop.

/// Tokens allowed around each quoted passage: BPE may merge a token across the seam.
const SEAM_TOKENS: usize = 2;
/// A private-use character: no tokenizer or template gives it a meaning.
const MARK: char = '\u{E000}';

/// The text a template sees for passage `index`; the nonce keeps a question or a title that
/// spells out a placeholder from being taken for one.
pub(super) fn placeholder(nonce: u64, index: usize) -> String {
    format!("{MARK}{nonce:x}:{index}{MARK}")
}

#[derive(Debug, PartialEq)]
enum Piece {
    Literal(String),
    Passage(usize),
}

#[derive(Debug)]
pub(super) struct Frame {
    pieces: Vec<Piece>,
}

impl Frame {
    /// Splits a rendering at the placeholders of `nonce` for passages `0..passages`; anything
    /// else (a template may quote a passage twice, or not at all) stays as it is.
    pub(super) fn parse(rendered: &str, nonce: u64, passages: usize) -> Self {
        let opening = format!("{MARK}{nonce:x}:");
        let mut pieces = Vec::new();
        let mut rest = rendered;
        while let Some(at) = rest.find(&opening) {
            let after = &rest[at + opening.len()..];
            let passage = after.find(MARK).and_then(|end| {
                let index = after[..end].parse::<usize>().ok()?;
                (index < passages).then_some((index, end))
            });
            match passage {
                Some((index, end)) => {
                    pieces.push(Piece::Literal(rest[..at].to_owned()));
                    pieces.push(Piece::Passage(index));
                    rest = &after[end + MARK.len_utf8()..];
                }
                None => {
                    pieces.push(Piece::Literal(rest[..at + opening.len()].to_owned()));
                    rest = after;
                }
            }
        }
        pieces.push(Piece::Literal(rest.to_owned()));
        Self { pieces }
    }

    /// Tokens of the filled prompt, never fewer than encoding it would give: the frame's own
    /// (`count`: what encoding a text gives), each passage's (`passage_tokens`) and a seam
    /// allowance per quote.
    pub(super) fn tokens(&self, count: impl Fn(&str) -> usize, passage_tokens: &[usize]) -> usize {
        self.pieces
            .iter()
            .map(|piece| match piece {
                Piece::Literal(text) if text.is_empty() => 0,
                Piece::Literal(text) => count(text),
                Piece::Passage(index) => {
                    passage_tokens.get(*index).copied().unwrap_or(0) + SEAM_TOKENS
                }
            })
            .sum()
    }

    /// The prompt with each placeholder replaced by its passage's text.
    pub(super) fn fill(&self, texts: &[String]) -> String {
        let mut filled = String::new();
        for piece in &self.pieces {
            match piece {
                Piece::Literal(text) => filled.push_str(text),
                Piece::Passage(index) => {
                    filled.push_str(texts.get(*index).map_or("", String::as_str));
                }
            }
        }
        filled
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ragway_ingest::chunk::{Chunker, ChunkerConfig};

    #[test]
    fn placeholders_become_passages_and_nothing_else_does() {
        let nonce = 0xabc;
        let rendered = format!(
            "A {} B {} C {} D {MARK}abc:x{MARK} E",
            placeholder(nonce, 1),
            placeholder(nonce, 0),
            placeholder(nonce, 7),
        );
        let frame = Frame::parse(&rendered, nonce, 2);
        let texts = ["first".to_owned(), "second".to_owned()];
        let filled = frame.fill(&texts);
        assert_eq!(
            filled,
            format!(
                "A second B first C {} D {MARK}abc:x{MARK} E",
                placeholder(nonce, 7)
            ),
            "an out-of-range index and a malformed one stay literal"
        );
        let other = Frame::parse(&placeholder(0xdef, 0), nonce, 2);
        assert_eq!(other.fill(&texts), placeholder(0xdef, 0), "another nonce");
    }

    #[test]
    fn counts_are_never_below_encoding_the_filled_prompt() {
        let chunker = Chunker::new(&ChunkerConfig::default()).unwrap();
        let nonce = 42;
        let texts = [
            "Forklifts may go 10 km/h inside the plant.".to_owned(),
            "Los montacargas no deben pasar de 10 km/h.\n\nNunca con la carga alzada.".to_owned(),
        ];
        let rendered = format!(
            "Sources:\n\n<source n=\"1\">\n{}\n</source>\n\n<source n=\"2\">\n{}\n</source>\n\nQuestion: how fast?",
            placeholder(nonce, 0),
            placeholder(nonce, 1)
        );
        let frame = Frame::parse(&rendered, nonce, 2);
        let passage_tokens: Vec<usize> = texts.iter().map(|t| chunker.count(t)).collect();
        let estimate = frame.tokens(|t| chunker.count(t), &passage_tokens);
        let exact = chunker.count(&frame.fill(&texts));
        assert!(estimate >= exact, "{estimate} < {exact}");
        // Counted apart, a seam's newline and punctuation may cost a token more than merged.
        assert!(
            estimate <= exact + 2 * (SEAM_TOKENS + 2),
            "{estimate} vs {exact}"
        );
    }
}
