//! cl100k_base's pre-tokenizer without its regex. tiktoken-rs cuts text into pieces with a
//! backtracking `fancy-regex` (lookahead and possessive quantifiers), and that cut was most of
//! tokenizing — the largest single cost of ingest after parsing (docs/BENCHMARKS.md). This scanner
//! makes the same cuts in one forward pass; the tests hold it to the regex on every character
//! class and on the corpus' kinds of text.
//!
//! The pattern, alternatives tried in order at each position (leftmost-first):
//! 1. `'(?i:[sdmt]|ll|ve|re)` — a contraction;
//! 2. `[^\r\n\p{L}\p{N}]?+\p{L}++` — a word, with one leading non-letter (a space, a quote);
//! 3. `\p{N}{1,3}+` — up to three digits;
//! 4. ` ?[^\s\p{L}\p{N}]++[\r\n]*+` — punctuation, with a leading space and trailing newlines;
//! 5. `\s++$` — whitespace to the end of the text;
//! 6. `\s*[\r\n]` — whitespace up to its last newline;
//! 7. `\s+(?!\S)` — whitespace but its last character (which goes with the next word);
//! 8. `\s` — one whitespace character.

use std::sync::OnceLock;

use regex_syntax::hir::{Class as HirClass, HirKind};

/// What the pattern tells characters apart by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Class {
    /// `\p{L}`.
    Letter,
    /// `\p{N}`.
    Number,
    /// `\s` but '\r' and '\n'.
    Space,
    /// '\r' or '\n'.
    Newline,
    /// Anything else: punctuation, symbols, marks, controls.
    Other,
}

/// Characters below this are classified by a table; the rest by a search of the ranges.
const TABLE_END: u32 = 0x800;

/// The character classes exactly as the regex crate reads `\p{L}`, `\p{N}` and `\s` (its Unicode
/// tables, so that the scanner cannot disagree with the regex on a newly assigned character).
struct Classes {
    table: Vec<Class>,
    /// Disjoint, sorted ranges of the classes other than `Other`, for characters past the table.
    ranges: Vec<(char, char, Class)>,
}

fn classes() -> &'static Classes {
    static CLASSES: OnceLock<Classes> = OnceLock::new();
    CLASSES.get_or_init(|| {
        let mut ranges = Vec::new();
        for (pattern, class) in [
            (r"\p{L}", Class::Letter),
            (r"\p{N}", Class::Number),
            (r"\s", Class::Space),
        ] {
            ranges.extend(
                unicode_ranges(pattern)
                    .into_iter()
                    .map(|(a, b)| (a, b, class)),
            );
        }
        ranges.sort_unstable_by_key(|&(start, _, _)| start);
        let table = (0..TABLE_END)
            .map(|code| match char::from_u32(code) {
                Some('\r' | '\n') => Class::Newline,
                Some(c) => search(&ranges, c),
                None => Class::Other,
            })
            .collect();
        Classes { table, ranges }
    })
}

/// The ranges of a Unicode class written as a regex. The patterns are constants that parse, so an
/// empty answer could only come from a changed regex-syntax, and the tests would catch it.
fn unicode_ranges(pattern: &str) -> Vec<(char, char)> {
    match regex_syntax::parse(pattern).map(|hir| hir.into_kind()) {
        Ok(HirKind::Class(HirClass::Unicode(class))) => class
            .ranges()
            .iter()
            .map(|range| (range.start(), range.end()))
            .collect(),
        _ => Vec::new(),
    }
}

pub(super) fn class_of(c: char) -> Class {
    let classes = classes();
    match classes.table.get(c as usize) {
        Some(&class) => class,
        None => search(&classes.ranges, c),
    }
}

fn search(ranges: &[(char, char, Class)], c: char) -> Class {
    match ranges.binary_search_by(|&(start, _, _)| start.cmp(&c)) {
        Ok(i) => ranges[i].2,
        Err(i) if i > 0 && c <= ranges[i - 1].1 => ranges[i - 1].2,
        Err(_) => Class::Other,
    }
}

/// Calls `piece` with the end of each piece of `text` in order (the first starts at 0, each next
/// one where the previous ended).
pub(super) fn cl100k_pieces(text: &str, mut piece: impl FnMut(usize)) {
    let mut at = 0;
    while at < text.len() {
        at = cl100k_piece_end(text, at);
        piece(at);
    }
}

/// The end of the piece that starts at `at` (< `text.len()`, a character boundary).
fn cl100k_piece_end(text: &str, at: usize) -> usize {
    let mut chars = text[at..].chars();
    let Some(first) = chars.next() else {
        return text.len();
    };
    let after_first = at + first.len_utf8();
    let second = chars.next();
    if first == '\''
        && let Some(end) = contraction_end(text, after_first)
    {
        return end;
    }
    let class = class_of(first);
    match class {
        Class::Letter => return run_end(text, after_first, |c| c == Class::Letter),
        Class::Number => return number_end(text, after_first),
        _ => {}
    }
    let second_class = second.map(class_of);
    if matches!(class, Class::Space | Class::Other) && second_class == Some(Class::Letter) {
        return run_end(text, after_first, |c| c == Class::Letter);
    }
    let punctuation = |from| {
        let end = run_end(text, from, |c| c == Class::Other);
        run_end_bytes(text, end, |b| b == b'\r' || b == b'\n')
    };
    if class == Class::Other {
        return punctuation(after_first);
    }
    if first == ' ' && second_class == Some(Class::Other) {
        return punctuation(after_first);
    }
    whitespace_end(text, at, after_first)
}

/// The end of `'s`, `'t`, `'re`, `'ve`, `'m`, `'ll` or `'d` (any case) after the apostrophe.
fn contraction_end(text: &str, from: usize) -> Option<usize> {
    let mut chars = text[from..].chars();
    let first = chars.next()?;
    // (?i) folds case the Unicode way: 'ſ' (long s) is an 's'.
    if matches!(first, 's' | 'S' | 'ſ' | 'd' | 'D' | 'm' | 'M' | 't' | 'T') {
        return Some(from + first.len_utf8());
    }
    let second = chars.next()?.to_ascii_lowercase();
    match (first.to_ascii_lowercase(), second) {
        ('l', 'l') | ('v', 'e') | ('r', 'e') => Some(from + 2),
        _ => None,
    }
}

fn run_end(text: &str, from: usize, keep: impl Fn(Class) -> bool) -> usize {
    text[from..]
        .char_indices()
        .find(|&(_, c)| !keep(class_of(c)))
        .map_or(text.len(), |(i, _)| from + i)
}

fn run_end_bytes(text: &str, from: usize, keep: impl Fn(u8) -> bool) -> usize {
    text.as_bytes()[from..]
        .iter()
        .position(|&b| !keep(b))
        .map_or(text.len(), |i| from + i)
}

/// Up to three digits: the first is at hand.
fn number_end(text: &str, from: usize) -> usize {
    let mut end = from;
    for c in text[from..].chars().take(2) {
        if class_of(c) != Class::Number {
            break;
        }
        end += c.len_utf8();
    }
    end
}

/// Alternatives 5 to 8, for whitespace starting at `at` (its first character ends at `after_first`).
fn whitespace_end(text: &str, at: usize, after_first: usize) -> usize {
    let mut last_newline = None;
    let mut last_start = at;
    let mut end = at;
    for (i, c) in text[at..].char_indices() {
        match class_of(c) {
            Class::Newline => last_newline = Some(at + i),
            Class::Space => {}
            _ => break,
        }
        last_start = at + i;
        end = at + i + c.len_utf8();
    }
    if end == text.len() {
        end
    } else if let Some(newline) = last_newline {
        // '\r' and '\n' are one byte each.
        newline + 1
    } else if last_start > at {
        last_start
    } else {
        after_first
    }
}

#[cfg(test)]
pub(super) mod tests;
