//! Parsers: bytes of a supported format → [`ParsedDocument`] with heading-delimited sections.

mod csv;
mod docx;
mod html;
mod json;
mod markdown;
mod ooxml;
mod pdf;
mod pptx;
mod sections;
mod table;
mod text;
mod xlsx;

use std::path::Path;

use crate::error::{IngestError, Result};
use crate::model::ParsedDocument;

/// Formats ragway can read today, by file extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Markdown,
    Text,
    Html,
    Pdf,
    Docx,
    Pptx,
    Xlsx,
    Csv,
    Json,
}

impl Format {
    pub fn from_path(path: &Path) -> Option<Self> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "md" | "markdown" | "mdx" => Some(Self::Markdown),
            "txt" | "text" | "rst" | "log" => Some(Self::Text),
            "html" | "htm" | "xhtml" => Some(Self::Html),
            "pdf" => Some(Self::Pdf),
            "docx" => Some(Self::Docx),
            "pptx" => Some(Self::Pptx),
            "xlsx" => Some(Self::Xlsx),
            "csv" => Some(Self::Csv),
            "json" => Some(Self::Json),
            _ => None,
        }
    }
}

/// Parses `bytes` of `format`; `uri` names the document in errors and `file_stem` is the title of last resort.
///
/// CPU-bound and synchronous (PDF and office files can take a while): call it off the async runtime.
pub fn parse(format: Format, uri: &str, file_stem: &str, bytes: &[u8]) -> Result<ParsedDocument> {
    let fallback_title = title_from_file_stem(file_stem);
    let failed = |reason: String| IngestError::Parse {
        uri: uri.to_owned(),
        reason,
    };
    let budget = ooxml::MAX_UNPACKED_BYTES;
    let doc = match format {
        Format::Markdown => markdown::parse(decode_text(uri, bytes)?, fallback_title),
        Format::Text => text::parse(decode_text(uri, bytes)?, fallback_title),
        Format::Html => html::parse(decode_text(uri, bytes)?, fallback_title),
        Format::Csv => csv::parse(decode_text(uri, bytes)?, fallback_title).map_err(failed)?,
        Format::Json => json::parse(decode_text(uri, bytes)?, fallback_title).map_err(failed)?,
        Format::Pdf => pdf::parse(bytes, fallback_title).map_err(failed)?,
        Format::Docx => docx::parse(bytes, fallback_title, budget).map_err(failed)?,
        Format::Pptx => pptx::parse(bytes, fallback_title, budget).map_err(failed)?,
        Format::Xlsx => xlsx::parse(bytes, fallback_title, budget).map_err(failed)?,
    };
    if doc.is_empty() {
        return Err(IngestError::Parse {
            uri: uri.to_owned(),
            reason: "the document contains no text".into(),
        });
    }
    Ok(doc)
}

/// Text formats must be UTF-8 and free of NUL bytes; anything else is a binary or corrupt file.
fn decode_text<'a>(uri: &str, bytes: &'a [u8]) -> Result<&'a str> {
    let parse_error = |reason: &str| IngestError::Parse {
        uri: uri.to_owned(),
        reason: reason.to_owned(),
    };
    if looks_binary(bytes) {
        return Err(parse_error("binary content in a text format (NUL bytes)"));
    }
    let text = std::str::from_utf8(bytes).map_err(|e| {
        parse_error(&format!(
            "not valid UTF-8 text (invalid byte at offset {})",
            e.valid_up_to()
        ))
    })?;
    Ok(text.strip_prefix('\u{feff}').unwrap_or(text))
}

/// The heuristic git and grep use: a NUL byte in the first 8 KiB means binary.
pub fn looks_binary(bytes: &[u8]) -> bool {
    bytes.iter().take(8192).any(|&b| b == 0)
}

/// `vpn-setup_guide` → `Vpn setup guide`.
fn title_from_file_stem(stem: &str) -> String {
    let spaced: String = stem
        .chars()
        .map(|c| if c == '-' || c == '_' { ' ' } else { c })
        .collect();
    let mut chars = spaced.trim().chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => stem.to_owned(),
    }
}

/// Collapses runs of whitespace to one space (HTML and soft-wrapped Markdown).
pub(crate) fn collapse_whitespace(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_and_invalid_utf8_are_rejected_with_a_reason() {
        let err = parse(Format::Text, "a.txt", "a", b"abc\0def").unwrap_err();
        assert!(err.to_string().contains("binary"), "{err}");
        let err = parse(Format::Text, "b.txt", "b", &[0x66, 0xff, 0xfe, 0x41]).unwrap_err();
        assert!(err.to_string().contains("UTF-8"), "{err}");
    }

    #[test]
    fn empty_documents_are_errors() {
        assert!(parse(Format::Markdown, "e.md", "e", b"   \n").is_err());
    }

    #[test]
    fn title_falls_back_to_the_file_name() {
        let doc = parse(Format::Text, "x.txt", "badge_and-parking", b"Some text").unwrap();
        assert_eq!(doc.title, "Badge and parking");
    }
}
