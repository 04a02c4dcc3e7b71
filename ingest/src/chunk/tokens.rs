//! A section's tokens, kept so that any word-aligned piece of it can be counted without encoding
//! the whole piece again: chunking a long section encoded its text once to cut it and then every
//! chunk (overlaps included) a second time to confirm its count.

use super::encoder::Encoder;

/// Where a section's tokens start, and where its encoding restarts.
pub(super) struct SectionTokens {
    /// Byte offset of each token's first byte.
    pub starts: Vec<usize>,
    /// Offsets `h` (0 included) where encoding `text[..h]` and `text[h..]` apart gives exactly the
    /// tokens of encoding `text` whole (see [`restarts_at`]).
    restarts: Vec<usize>,
}

impl SectionTokens {
    pub fn new(encoder: &Encoder, text: &str) -> Self {
        // Most tokens are 3 to 5 bytes long.
        let mut starts = Vec::with_capacity(text.len() / 3);
        let mut offset = 0;
        encoder.token_lengths(text, |length| {
            starts.push(offset);
            offset += length;
        });
        let restarts = std::iter::once(0)
            .chain((1..text.len()).filter(|&h| restarts_at(text, h)))
            .collect();
        Self { starts, restarts }
    }

    /// Tokens of `text[a..b]` encoded on its own: the lines between its first and last restart
    /// are counted from the section's encoding, only its partial first and last lines are encoded.
    pub fn count_piece(&self, encoder: &Encoder, text: &str, a: usize, b: usize) -> usize {
        let count = |piece: &str| encoder.count(piece);
        let first = self.restarts.partition_point(|&h| h < a);
        let last = self.restarts.partition_point(|&h| h < b);
        if first >= last {
            return count(&text[a..b]);
        }
        let (from, to) = (self.restarts[first], self.restarts[last - 1]);
        let head = if from == a { 0 } else { count(&text[a..from]) };
        let token_at = |offset: usize| self.starts.partition_point(|&s| s < offset);
        head + (token_at(to) - token_at(from)) + count(&text[to..b])
    }
}

/// Whether encoding restarts at `h`: the text before it ends in a newline and a line starts there
/// (neither whitespace nor '/'). Under both encodings' pre-tokenizer patterns (cl100k_base,
/// o200k_base) no piece holding that newline reaches past it: the alternatives that can take a
/// newline (`\s*[\r\n]`, `\s++$`, ` ?[^\s\p{L}\p{N}]+[\r\n]*`, and o200k's `[\r\n/]*`) stop at a
/// character that is not whitespace, '\r', '\n' or '/', exactly as at the end of the text, and
/// none of them starts at a newline and goes on into a word. So the pieces (and hence the tokens)
/// of the text before `h` and of the text from `h` are those of the whole.
pub(super) fn restarts_at(text: &str, h: usize) -> bool {
    let bytes = text.as_bytes();
    bytes[h - 1] == b'\n'
        && bytes[h] != b'/'
        && text[h..].chars().next().is_some_and(|c| !c.is_whitespace())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chunk::TokenEncoding;
    use tiktoken_rs::CoreBPE;

    /// Lines that stress where pieces of the pre-tokenizer end: whitespace runs holding newlines,
    /// punctuation before a newline, '/' (o200k takes it after newlines), '\r\n', indentation,
    /// digits, contractions and non-Latin scripts at a line start.
    const LINES: &[&str] = &[
        "Política de viáticos: 90 USD/día en Monterrey.",
        "/api/v1/ask returns the answer",
        "  indented code();",
        "\tfn main() { x += 1; }",
        "'s a contraction at the start",
        "123456 is a number",
        "¿Dónde está la oficina? ¡Aquí!",
        "東京の会議室 🚀 emoji",
        "- a list item",
        "# A heading",
        "end of a sentence...",
        "http://example.com/path/",
        "",
        " ",
        "\r",
        "Ünïcödé Ñandú",
    ];

    /// Texts made of the lines above in many orders, joined with one or two newlines.
    fn texts() -> Vec<String> {
        let n = LINES.len();
        (0..n)
            .map(|shift| {
                (0..n * 2)
                    .map(|i| LINES[(i * (shift + 1) + shift) % n])
                    .enumerate()
                    .fold(String::new(), |mut text, (i, line)| {
                        text.push_str(line);
                        text.push_str(if i % 3 == 0 { "\n\n" } else { "\n" });
                        text
                    })
            })
            .collect()
    }

    fn encodings() -> [(TokenEncoding, &'static CoreBPE); 2] {
        [
            (
                TokenEncoding::Cl100kBase,
                tiktoken_rs::cl100k_base_singleton(),
            ),
            (
                TokenEncoding::O200kBase,
                tiktoken_rs::o200k_base_singleton(),
            ),
        ]
    }

    #[test]
    fn token_offsets_from_the_length_table_match_decoding_each_token() {
        for (encoding, bpe) in encodings() {
            for text in texts() {
                let mut decoded = Vec::new();
                let mut offset = 0;
                for token in bpe.encode_ordinary(&text) {
                    decoded.push(offset);
                    offset += bpe.decode_bytes(&[token]).unwrap().len();
                }
                assert_eq!(offset, text.len());
                let encoder = Encoder::new(encoding);
                assert_eq!(SectionTokens::new(&encoder, &text).starts, decoded);
            }
        }
    }

    #[test]
    fn the_encoding_restarts_at_every_line_start_it_claims() {
        for (encoding, bpe) in encodings() {
            for text in texts() {
                let whole = bpe.encode_ordinary(&text);
                let tokens = SectionTokens::new(&Encoder::new(encoding), &text);
                assert!(tokens.restarts.len() > 10, "{text:?}");
                for &h in &tokens.restarts {
                    let mut apart = bpe.encode_ordinary(&text[..h]);
                    apart.extend(bpe.encode_ordinary(&text[h..]));
                    assert_eq!(apart, whole, "{encoding:?} at {h} of {text:?}");
                }
            }
        }
    }

    #[test]
    fn restart_pieces_give_the_text_and_its_tokens_back() {
        for (_, bpe) in encodings() {
            for text in texts() {
                let pieces: Vec<&str> = super::super::Chunker::restart_pieces(&text).collect();
                assert_eq!(pieces.concat(), text);
                let apart: usize = pieces.iter().map(|p| bpe.encode_ordinary(p).len()).sum();
                assert_eq!(apart, bpe.encode_ordinary(&text).len(), "{text:?}");
                if text.contains("\n#") {
                    assert!(pieces.len() > 1, "a line start was not cut: {text:?}");
                }
            }
        }
    }

    #[test]
    fn a_piece_counts_as_encoding_it_alone() {
        for (encoding, bpe) in encodings() {
            for text in texts() {
                let encoder = Encoder::new(encoding);
                let tokens = SectionTokens::new(&encoder, &text);
                let word_starts: Vec<usize> = text
                    .char_indices()
                    .filter(|&(i, c)| {
                        !c.is_whitespace()
                            && text[..i].chars().last().is_none_or(char::is_whitespace)
                    })
                    .map(|(i, _)| i)
                    .collect();
                let word_ends: Vec<usize> = text
                    .char_indices()
                    .filter(|&(i, c)| {
                        c.is_whitespace()
                            && text[..i].chars().last().is_some_and(|p| !p.is_whitespace())
                    })
                    .map(|(i, _)| i)
                    .collect();
                for &a in word_starts.iter().step_by(3) {
                    for &b in word_ends.iter().filter(|&&b| b > a).step_by(4) {
                        let alone = bpe.encode_ordinary(&text[a..b]).len();
                        assert_eq!(
                            tokens.count_piece(&encoder, &text, a, b),
                            alone,
                            "{encoding:?} {:?}",
                            &text[a..b]
                        );
                    }
                }
            }
        }
    }
}
