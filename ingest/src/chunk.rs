//! Structure-aware, token-bounded chunking: sections (split at headings) are cut at the best
//! boundary — paragraph, line, sentence, then word — so that every chunk's indexed text fits
//! `max_tokens`, and consecutive chunks of a section share `overlap` tokens.

mod encoder;
mod pretokenize;
mod tokens;

use serde::{Deserialize, Serialize};

use crate::error::{IngestError, Result};
use crate::model::{Chunk, ParsedDocument, Section, indexed};
use encoder::Encoder;
use tokens::SectionTokens;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum TokenEncoding {
    #[default]
    #[serde(rename = "cl100k_base")]
    Cl100kBase,
    #[serde(rename = "o200k_base")]
    O200kBase,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ChunkerConfig {
    pub encoding: TokenEncoding,
    pub max_tokens: usize,
    pub overlap: usize,
    /// Index each chunk with its context line ("Title > Heading") in front, so a passage keeps
    /// what it is about (measured on SciFact: docs/BENCHMARKS.md).
    pub prefix_context: bool,
}

impl Default for ChunkerConfig {
    fn default() -> Self {
        Self {
            encoding: TokenEncoding::Cl100kBase,
            max_tokens: 512,
            overlap: 64,
            prefix_context: true,
        }
    }
}

pub struct Chunker {
    encoder: Encoder,
    max_tokens: usize,
    overlap: usize,
    prefix_context: bool,
    /// The settings that shape chunks (part of a document's analysis fingerprint).
    fingerprint: String,
}

impl std::fmt::Debug for Chunker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Chunker")
            .field("max_tokens", &self.max_tokens)
            .field("overlap", &self.overlap)
            .finish()
    }
}

/// Where a cut may fall after a word, best first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Boundary {
    Word,
    Sentence,
    Line,
    Paragraph,
}

/// A section's words and tokens.
struct Tokenized {
    words: Vec<Word>,
    tokens: SectionTokens,
}

struct Word {
    start: usize,
    end: usize,
    /// Tokens of the word with its leading whitespace.
    tokens: usize,
    /// Kind of cut allowed after this word.
    boundary: Boundary,
}

impl Chunker {
    pub fn new(config: &ChunkerConfig) -> Result<Self> {
        if config.max_tokens < 32 {
            return Err(IngestError::Config(format!(
                "chunking.max_tokens must be at least 32 (got {})",
                config.max_tokens
            )));
        }
        if config.overlap * 2 > config.max_tokens {
            return Err(IngestError::Config(format!(
                "chunking.overlap ({}) must be at most half of max_tokens ({})",
                config.overlap, config.max_tokens
            )));
        }
        Ok(Self {
            encoder: Encoder::new(config.encoding),
            max_tokens: config.max_tokens,
            overlap: config.overlap,
            prefix_context: config.prefix_context,
            fingerprint: format!("{config:?}"),
        })
    }

    /// The settings that shape chunks, as text: equal settings, equal fingerprints.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    pub fn max_tokens(&self) -> usize {
        self.max_tokens
    }

    pub fn count(&self, text: &str) -> usize {
        self.encoder.count(text)
    }

    /// `text` cut at every line start where its encoding restarts: the pieces, each encoded
    /// alone, give exactly the tokens of the whole, so a caller may count (and remember) a
    /// recurring line once.
    pub fn restart_pieces(text: &str) -> impl Iterator<Item = &str> {
        let mut rest = text;
        std::iter::from_fn(move || {
            if rest.is_empty() {
                return None;
            }
            let cut = rest
                .match_indices('\n')
                .map(|(at, _)| at + 1)
                .find(|&h| h < rest.len() && tokens::restarts_at(rest, h))
                .unwrap_or(rest.len());
            let (piece, after) = rest.split_at(cut);
            rest = after;
            Some(piece)
        })
    }

    /// Chunks a document (CPU-bound: run it off the async runtime for large documents).
    pub fn chunk(&self, doc: &ParsedDocument) -> Vec<Chunk> {
        let title = self.fit_context(&doc.title, &[]);
        // Few documents average more than 8 bytes a token: a shorter one may fit whole, and is
        // tried as it is. A longer one is cut at its words, which are counted anyway and add up
        // to its sections' tokens: encoding it whole just to learn it does not fit is spared.
        let bytes: usize = doc.sections.iter().map(|s| s.text.len()).sum();
        let short = bytes <= self.max_tokens * 8;
        if short && let Some(whole) = self.whole_chunk(doc, &title) {
            return vec![whole];
        }
        let sections: Vec<Tokenized> = doc
            .sections
            .iter()
            .map(|s| self.tokenize(&s.text))
            .collect();
        let section_tokens: usize = sections
            .iter()
            .flat_map(|s| &s.words)
            .map(|w| w.tokens)
            .sum();
        // Joining sections merges at most a token or two at each seam.
        if !short
            && section_tokens <= self.max_tokens + 2 * doc.sections.len()
            && let Some(whole) = self.whole_chunk(doc, &title)
        {
            return vec![whole];
        }
        let mut chunks = Vec::new();
        for (section, tokenized) in doc.sections.iter().zip(&sections) {
            let context = self.fit_context(&doc.title, &section.heading_path);
            let context_tokens = self.count(&indexed(&context, ""));
            let budget = self.max_tokens - context_tokens;
            for (text, text_tokens) in self.split(&section.text, tokenized, budget) {
                chunks.push(Chunk {
                    index: chunks.len(),
                    heading_path: section.heading_path.clone(),
                    context: context.clone(),
                    // The context line ends in a blank line and the text starts at a word: no
                    // token spans the seam, so the counts add up.
                    tokens: if context.is_empty() {
                        text_tokens
                    } else {
                        context_tokens + text_tokens
                    },
                    text,
                    text_tokens,
                    page: section.page,
                    lang: Default::default(),
                });
            }
        }
        chunks
    }

    /// The whole document as its one chunk, if it fits.
    fn whole_chunk(&self, doc: &ParsedDocument, title: &str) -> Option<Chunk> {
        let whole = whole_text(&doc.sections);
        let text_tokens = self.count(&whole);
        let tokens = if title.is_empty() {
            text_tokens
        } else if whole.starts_with(|c: char| !c.is_whitespace()) {
            // No token spans the blank line after the title when the text starts at a word.
            self.count(&indexed(title, "")) + text_tokens
        } else {
            self.count(&indexed(title, &whole))
        };
        (tokens <= self.max_tokens).then(|| Chunk {
            index: 0,
            heading_path: Vec::new(),
            context: title.to_owned(),
            text: whole,
            tokens,
            text_tokens,
            // The whole document in one chunk: cite the page it starts on.
            page: doc.sections.iter().find_map(|s| s.page),
            lang: Default::default(),
        })
    }

    /// The context line, shortened (outer headings first, then the title) to at most half the budget.
    fn fit_context(&self, title: &str, path: &[String]) -> String {
        if !self.prefix_context {
            return String::new();
        }
        let limit = self.max_tokens / 2;
        let mut path = path;
        loop {
            let context = std::iter::once(title)
                .chain(path.iter().map(String::as_str))
                .collect::<Vec<_>>()
                .join(" > ");
            if self.count(&context) + 2 <= limit {
                return context;
            }
            match path.split_first() {
                Some((_, rest)) => path = rest,
                None => return self.truncate(&context, limit.saturating_sub(2)),
            }
        }
    }

    fn truncate(&self, text: &str, tokens: usize) -> String {
        let mut end = text.len();
        while end > 0 && self.count(&text[..end]) > tokens {
            end = floor_char_boundary(text, end * 3 / 4);
        }
        text[..end].to_owned()
    }

    /// Splits one section's text (`tokenized` already) into pieces of at most `budget` tokens,
    /// each with its token count.
    fn split(&self, text: &str, tokenized: &Tokenized, budget: usize) -> Vec<(String, usize)> {
        let words = &tokenized.words;
        let mut pieces = Vec::new();
        let mut start = 0;
        while start < words.len() {
            let end = self.cut(words, start, budget);
            let (piece, end, tokens) = self.bounded(text, tokenized, start, end, budget);
            pieces.push((piece, tokens));
            if end >= words.len() {
                break;
            }
            start = self.overlap_start(words, start, end);
        }
        pieces
    }

    /// End (exclusive) of the chunk starting at `start`: the best boundary in the second half of the budget.
    fn cut(&self, words: &[Word], start: usize, budget: usize) -> usize {
        let mut used = 0;
        let mut best: Option<(Boundary, usize)> = None;
        for (i, word) in words.iter().enumerate().skip(start) {
            if used + word.tokens > budget && i > start {
                return best.map_or(i, |(_, end)| end);
            }
            used += word.tokens;
            if used * 2 >= budget && best.is_none_or(|(kind, _)| word.boundary >= kind) {
                best = Some((word.boundary, i + 1));
            }
        }
        words.len()
    }

    /// The chunk text for words[start..end], shrunk if BPE merges across words pushed it over
    /// budget, with its end and token count. A single word longer than the budget is the only
    /// thing ever cut inside.
    fn bounded(
        &self,
        text: &str,
        tokenized: &Tokenized,
        start: usize,
        mut end: usize,
        budget: usize,
    ) -> (String, usize, usize) {
        let words = &tokenized.words;
        loop {
            let (from, to) = (words[start].start, words[end - 1].end);
            let piece = &text[from..to];
            let tokens = tokenized.tokens.count_piece(&self.encoder, text, from, to);
            if tokens <= budget {
                return (piece.to_owned(), end, tokens);
            }
            if end - start == 1 {
                let cut = self.truncate(piece, budget);
                let tokens = self.count(&cut);
                return (cut, end, tokens);
            }
            end -= 1;
        }
    }

    /// First word of the next chunk: back up from `end` by at most `overlap` tokens, always moving forward.
    fn overlap_start(&self, words: &[Word], start: usize, end: usize) -> usize {
        let mut next = end;
        let mut carried = 0;
        while next > start + 1 && carried + words[next - 1].tokens <= self.overlap {
            carried += words[next - 1].tokens;
            next -= 1;
        }
        next
    }

    fn tokenize(&self, text: &str) -> Tokenized {
        let tokens = SectionTokens::new(&self.encoder, text);
        Tokenized {
            words: words(text, &tokens.starts),
            tokens,
        }
    }
}

/// The words of `text` whose tokens start at `starts`.
fn words(text: &str, starts: &[usize]) -> Vec<Word> {
    // A word owns the tokens that start between the end of the previous word and its own end
    // (BPE tokens carry their leading space), so the counts add up to the text's token count.
    let mut next_token = 0;
    let mut words: Vec<Word> = Vec::new();
    let mut word_start: Option<usize> = None;
    for (i, c) in text
        .char_indices()
        .chain(std::iter::once((text.len(), ' ')))
    {
        match (c.is_whitespace(), word_start) {
            (false, None) => word_start = Some(i),
            (true, Some(start)) => {
                let first = next_token;
                while next_token < starts.len() && starts[next_token] < i {
                    next_token += 1;
                }
                words.push(Word {
                    start,
                    end: i,
                    tokens: next_token - first,
                    boundary: Boundary::Word,
                });
                word_start = None;
            }
            _ => {}
        }
    }
    for i in 0..words.len() {
        let gap_end = words.get(i + 1).map_or(text.len(), |next| next.start);
        let gap = &text[words[i].end..gap_end];
        let last = text[words[i].start..words[i].end].chars().last();
        words[i].boundary = if gap.matches('\n').count() >= 2 || i + 1 == words.len() {
            Boundary::Paragraph
        } else if gap.contains('\n') {
            Boundary::Line
        } else if matches!(last, Some('.' | '?' | '!' | ';' | ':')) {
            Boundary::Sentence
        } else {
            Boundary::Word
        };
    }
    words
}

fn whole_text(sections: &[Section]) -> String {
    let mut parts = Vec::with_capacity(sections.len());
    for section in sections {
        match section.heading_path.last() {
            Some(heading) => parts.push(format!("{heading}\n{}", section.text)),
            None => parts.push(section.text.clone()),
        }
    }
    parts.join("\n\n")
}

fn floor_char_boundary(text: &str, mut index: usize) -> usize {
    while index > 0 && !text.is_char_boundary(index) {
        index -= 1;
    }
    index
}

#[cfg(test)]
mod tests;
