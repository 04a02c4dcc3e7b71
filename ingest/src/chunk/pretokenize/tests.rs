use super::*;

/// tiktoken-rs' cl100k_base pattern, as the regex the scanner must agree with.
const CL100K_PATTERN: &str = r"'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s";

/// Characters at the edges of every alternative: letters of each case and script, the contraction
/// letters (and 'ſ', which folds to 's'), digits of several kinds, whitespace of several kinds,
/// newlines, punctuation, a combining mark, a format character and controls that are not `\s`.
const ALPHABET: &[char] = &[
    'a', 'Z', 'é', 'Ñ', 'ǅ', 'ß', 'ſ', 's', 'S', 't', 'T', 'd', 'm', 'l', 'L', 'e', 'E', 'v', 'r',
    'R', '\'', ' ', ' ', ' ', '\t', '\n', '\n', '\r', '\u{a0}', '\u{85}', '\u{b}', '\u{2028}',
    '\u{3000}', '0', '7', '9', '²', '½', '٣', 'Ⅻ', '.', ',', '¿', '!', '/', '-', '"', '東', 'я',
    '🚀', '\u{301}', '\u{200b}', '\u{1f}', '\u{0}',
];

fn regex_pieces(regex: &fancy_regex::Regex, text: &str) -> Vec<String> {
    regex
        .find_iter(text)
        .map(|m| m.unwrap().as_str().to_owned())
        .collect()
}

fn scanned_pieces(text: &str) -> Vec<String> {
    let mut pieces = Vec::new();
    let mut start = 0;
    cl100k_pieces(text, |end| {
        pieces.push(text[start..end].to_owned());
        start = end;
    });
    pieces
}

/// Deterministic texts of up to 40 characters drawn from [`ALPHABET`].
fn random_texts(count: usize) -> Vec<String> {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    (0..count)
        .map(|_| {
            let length = (next() % 41) as usize;
            (0..length)
                .map(|_| ALPHABET[(next() % ALPHABET.len() as u64) as usize])
                .collect()
        })
        .collect()
}

/// Real text: this repository's docs and prompts (English and Spanish, Markdown, tables, code) and,
/// when `../shared` is beside the repository, the start of the SciFact corpus (scientific English
/// with Greek letters, units and symbols).
pub(in crate::chunk) fn real_texts() -> Vec<String> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut texts = Vec::new();
    for dir in ["docs", "prompts", "prompts/es"] {
        for entry in std::fs::read_dir(root.join(dir)).unwrap() {
            let path = entry.unwrap().path();
            if let Ok(text) = std::fs::read_to_string(&path) {
                texts.push(text);
            }
        }
    }
    let scifact = root.join("../shared/data/scifact/corpus.jsonl");
    if let Ok(corpus) = std::fs::read_to_string(scifact) {
        texts.extend(corpus.lines().take(1500).map(str::to_owned));
    }
    assert!(
        texts.len() > 10,
        "no real text found under {}",
        root.display()
    );
    texts
}

#[test]
fn every_character_is_classed_as_the_regex_reads_it() {
    let letter = fancy_regex::Regex::new(r"\A\p{L}\z").unwrap();
    let number = fancy_regex::Regex::new(r"\A\p{N}\z").unwrap();
    let space = fancy_regex::Regex::new(r"\A\s\z").unwrap();
    let mut buffer = [0; 4];
    for c in (0..=0x10FFFF).filter_map(char::from_u32) {
        let s = c.encode_utf8(&mut buffer);
        let expected = if letter.is_match(s).unwrap() {
            Class::Letter
        } else if number.is_match(s).unwrap() {
            Class::Number
        } else if c == '\r' || c == '\n' {
            Class::Newline
        } else if space.is_match(s).unwrap() {
            Class::Space
        } else {
            Class::Other
        };
        assert_eq!(class_of(c), expected, "U+{:04X}", c as u32);
    }
}

#[test]
fn the_scanner_cuts_random_text_where_the_regex_does() {
    let regex = fancy_regex::Regex::new(CL100K_PATTERN).unwrap();
    for text in random_texts(20_000) {
        assert_eq!(
            scanned_pieces(&text),
            regex_pieces(&regex, &text),
            "{text:?}"
        );
    }
}

#[test]
fn the_scanner_cuts_real_text_where_the_regex_does() {
    let regex = fancy_regex::Regex::new(CL100K_PATTERN).unwrap();
    for text in real_texts() {
        assert_eq!(scanned_pieces(&text), regex_pieces(&regex, &text));
    }
}

#[test]
fn contractions_fold_case_as_the_regex_does() {
    let regex = fancy_regex::Regex::new(CL100K_PATTERN).unwrap();
    for text in [
        "don't", "DON'T", "it'S", "we'LL", "you'Ve", "they'rE", "I'M", "he'd", "x'ſ", "'ll'", "'l",
        "'", "''s", "' s", "'\n", "'sl", "o'Ŀl",
    ] {
        assert_eq!(scanned_pieces(text), regex_pieces(&regex, text), "{text:?}");
    }
}
