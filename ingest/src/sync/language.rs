//! A run's language rules: what a source declares, what the tenant falls back to, and detection
//! of a document's and a chunk's language from samples of their text.

use crate::lang::{self, Lang};
use crate::model::ParsedDocument;

/// A run's language rules: `forced` (the source's declared language) applies to every document
/// and passage; otherwise each is detected, and `fallback` (the tenant's language) is used where
/// detection cannot tell.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct SourceLanguage {
    pub(super) forced: Option<Lang>,
    pub(super) fallback: Lang,
}

/// Characters of a document sampled to detect its language (detection is linear in its input).
/// (Detection costs about as much as BM25-encoding the same text, so it reads samples.)
const LANGUAGE_SAMPLE_CHARS: usize = 2_000;
/// Characters of a chunk sampled to detect its own language.
const CHUNK_SAMPLE_CHARS: usize = 600;
/// A chunk shorter than this takes its document's language (too little text to tell reliably).
const CHUNK_DETECTION_MIN_CHARS: usize = 200;

pub(super) fn document_language(doc: &ParsedDocument, fallback: Lang) -> Lang {
    let mut sample = String::new();
    for section in &doc.sections {
        sample.push_str(&section.text);
        sample.push('\n');
        if sample.len() >= LANGUAGE_SAMPLE_CHARS {
            break;
        }
    }
    let cut: String = sample.chars().take(LANGUAGE_SAMPLE_CHARS).collect();
    lang::detect_or(&cut, fallback)
}

/// A chunk's own language when it has enough text to tell (documents may mix languages), else
/// its document's (`document` is only asked then).
pub(super) fn chunk_language(text: &str, document: impl FnOnce() -> Lang) -> Lang {
    let sample: String = text.chars().take(CHUNK_SAMPLE_CHARS).collect();
    if sample.chars().count() < CHUNK_DETECTION_MIN_CHARS {
        return document();
    }
    lang::detect(&sample).unwrap_or_else(document)
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;

    #[test]
    fn a_chunk_asks_for_its_documents_language_only_when_it_cannot_tell() {
        let asked = Cell::new(0);
        let document = || {
            asked.set(asked.get() + 1);
            Lang::Es
        };
        let english = "The employee handbook describes how vacation days are requested, approved \
            and carried over from one year to the next, and which forms the manager signs before \
            the payroll department records them in the system.";
        assert!(english.chars().count() >= CHUNK_DETECTION_MIN_CHARS);
        assert_eq!(chunk_language(english, document), Lang::En);
        assert_eq!(asked.get(), 0, "told on its own");
        assert_eq!(chunk_language("Vacation days.", document), Lang::Es);
        assert_eq!(asked.get(), 1, "too short to tell");
        assert_eq!(chunk_language(&"1234 ".repeat(60), document), Lang::Es);
        assert_eq!(asked.get(), 2, "long, but nothing to tell by");
    }
}
