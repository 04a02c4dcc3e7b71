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

pub(crate) use ooxml::event_text as xml_event_text;

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
        Self::from_extension(path.extension()?.to_str()?)
    }

    pub fn from_extension(ext: &str) -> Option<Self> {
        match ext.to_ascii_lowercase().as_str() {
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

    /// The format of a `Content-Type` (parameters such as `charset` are ignored).
    pub fn from_mime(content_type: &str) -> Option<Self> {
        let mime = content_type.split(';').next()?.trim().to_ascii_lowercase();
        match mime.as_str() {
            "text/html" | "application/xhtml+xml" => Some(Self::Html),
            "text/markdown" | "text/x-markdown" => Some(Self::Markdown),
            "text/plain" => Some(Self::Text),
            "application/pdf" => Some(Self::Pdf),
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document" => {
                Some(Self::Docx)
            }
            "application/vnd.openxmlformats-officedocument.presentationml.presentation" => {
                Some(Self::Pptx)
            }
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" => Some(Self::Xlsx),
            "text/csv" | "application/csv" => Some(Self::Csv),
            "application/json" | "text/json" => Some(Self::Json),
            _ if mime.starts_with("application/") && mime.ends_with("+json") => Some(Self::Json),
            _ => None,
        }
    }

    /// Formats read as text (and so decoded from the declared character set first).
    pub fn is_text(self) -> bool {
        matches!(
            self,
            Self::Markdown | Self::Text | Self::Html | Self::Csv | Self::Json
        )
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
    fn formats_from_content_types() {
        assert_eq!(
            Format::from_mime("text/html; charset=utf-8"),
            Some(Format::Html)
        );
        assert_eq!(Format::from_mime("Application/PDF"), Some(Format::Pdf));
        assert_eq!(Format::from_mime("application/ld+json"), Some(Format::Json));
        assert_eq!(Format::from_mime("image/png"), None);
        assert_eq!(Format::from_extension("DOCX"), Some(Format::Docx));
    }

    #[test]
    fn title_falls_back_to_the_file_name() {
        let doc = parse(Format::Text, "x.txt", "badge_and-parking", b"Some text").unwrap();
        assert_eq!(doc.title, "Badge and parking");
    }
}
