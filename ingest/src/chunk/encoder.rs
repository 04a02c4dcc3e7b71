//! Token counts and token lengths, the two things chunking asks of an encoding. tiktoken-rs holds
//! the vocabulary and the byte-pair merges; for cl100k_base (the default) the text is cut into
//! pieces by [`super::pretokenize`] instead of tiktoken's regex, which was most of the cost.

use std::sync::OnceLock;

use rustc_hash::FxHashMap;
use tiktoken_rs::{CoreBPE, Rank};

use super::TokenEncoding;
use super::pretokenize;

/// Pieces this long or longer go to tiktoken whole: its merge is linear in the piece where
/// `byte_pair_split`'s is quadratic. (A piece encoded alone is cut by the regex into itself.)
const LONG_PIECE: usize = 100;

#[derive(Clone, Copy)]
pub(crate) struct Encoder {
    core: &'static CoreBPE,
    vocabulary: &'static Vocabulary,
}

/// What the encoding's tokens are, by rank.
struct Vocabulary {
    /// Byte length of each token (0: unused, or decode it).
    lengths: Vec<u16>,
    /// Token bytes to rank, for cl100k_base's own pre-tokenizer (`None`: tiktoken cuts the text).
    ranks: Option<FxHashMap<Vec<u8>, Rank>>,
}

impl Encoder {
    pub fn new(encoding: TokenEncoding) -> Self {
        static CL100K: OnceLock<Vocabulary> = OnceLock::new();
        static O200K: OnceLock<Vocabulary> = OnceLock::new();
        let (core, vocabulary) = match encoding {
            TokenEncoding::Cl100kBase => (tiktoken_rs::cl100k_base_singleton(), &CL100K),
            TokenEncoding::O200kBase => (tiktoken_rs::o200k_base_singleton(), &O200K),
        };
        let own_pieces = encoding == TokenEncoding::Cl100kBase;
        let vocabulary = vocabulary.get_or_init(|| Vocabulary::read(core, own_pieces));
        Self { core, vocabulary }
    }

    /// The tokens `text` encodes to on its own.
    pub fn count(&self, text: &str) -> usize {
        if self.vocabulary.ranks.is_none() {
            return self.core.encode_ordinary(text).len();
        }
        let mut count = 0;
        self.token_lengths(text, |_| count += 1);
        count
    }

    /// Calls `token` with the byte length of each of `text`'s tokens, in order.
    pub fn token_lengths(&self, text: &str, mut token: impl FnMut(usize)) {
        let Some(ranks) = &self.vocabulary.ranks else {
            self.encoded_lengths(text, token);
            return;
        };
        let mut start = 0;
        pretokenize::cl100k_pieces(text, |end| {
            let piece = &text[start..end];
            match piece.len() {
                1 => token(1),
                n if ranks.contains_key(piece.as_bytes()) => token(n),
                n if n < LONG_PIECE => {
                    for part in tiktoken_rs::byte_pair_split(piece.as_bytes(), ranks) {
                        token(part.len());
                    }
                }
                _ => self.encoded_lengths(piece, &mut token),
            }
            start = end;
        });
    }

    /// Token lengths by tiktoken's own encoding.
    fn encoded_lengths(&self, text: &str, mut token: impl FnMut(usize)) {
        for rank in self.core.encode_ordinary(text) {
            match self.vocabulary.lengths.get(rank as usize) {
                Some(&length) if length > 0 => token(usize::from(length)),
                _ => token(self.core.decode_bytes(&[rank]).map_or(0, |b| b.len())),
            }
        }
    }
}

impl Vocabulary {
    fn read(core: &CoreBPE, with_ranks: bool) -> Self {
        // Ranks are dense from 0; a long run of unknown ranks means the vocabulary ended.
        const END_OF_VOCABULARY: u32 = 4096;
        let mut lengths = Vec::new();
        let mut ranks = FxHashMap::default();
        // Special tokens decode too, but plain text never encodes to them.
        let specials: Vec<&[u8]> = if with_ranks {
            core.special_tokens()
                .into_iter()
                .map(str::as_bytes)
                .collect()
        } else {
            Vec::new()
        };
        let mut unknown_in_a_row = 0;
        for rank in 0u32.. {
            match core.decode_bytes(&[rank]) {
                Ok(bytes) => {
                    lengths.push(u16::try_from(bytes.len()).unwrap_or(0));
                    unknown_in_a_row = 0;
                    if with_ranks && !specials.contains(&bytes.as_slice()) {
                        ranks.insert(bytes, rank);
                    }
                }
                Err(_) => {
                    lengths.push(0);
                    unknown_in_a_row += 1;
                    if unknown_in_a_row == END_OF_VOCABULARY {
                        break;
                    }
                }
            }
        }
        lengths.truncate(lengths.len() - END_OF_VOCABULARY as usize);
        ranks.shrink_to_fit();
        Self {
            lengths,
            ranks: with_ranks.then_some(ranks),
        }
    }
}

#[cfg(test)]
mod tests;
