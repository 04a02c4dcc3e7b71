//! A run's language rules: what a source declares, what the tenant falls back to, and detection
//! of a document's and a chunk's language from samples of their text.

use ragway_catalog::SourceRecord;

use crate::lang::{self, Lang};
use crate::model::ParsedDocument;

/// What a source says about its documents' language: `language` in its settings forces it;
/// `fallback_language` (the tenant's language, set by the gateway for the run) is used where
/// detection cannot tell.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct SourceLanguage {
    pub(super) forced: Option<Lang>,
    pub(super) fallback: Lang,
}

impl SourceLanguage {
    pub(super) fn of(source: &SourceRecord) -> Self {
        let setting = |key: &str| {
            source
                .settings
                .get(key)
                .and_then(serde_json::Value::as_str)
                .and_then(Lang::from_tag)
        };
        Self {
            forced: setting("language"),
            fallback: setting(FALLBACK_LANGUAGE).unwrap_or_default(),
        }
    }
}

/// The settings key a caller sets (in memory, for one run) to the tenant's language.
pub const FALLBACK_LANGUAGE: &str = "fallback_language";

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

/// A chunk's own language when it has enough text to tell (documents may mix languages).
pub(super) fn chunk_language(text: &str, document: Lang) -> Lang {
    let sample: String = text.chars().take(CHUNK_SAMPLE_CHARS).collect();
    if sample.chars().count() < CHUNK_DETECTION_MIN_CHARS {
        return document;
    }
    lang::detect_or(&sample, document)
}
