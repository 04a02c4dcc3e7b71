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

use std::borrow::Cow;
use std::path::Path;

use encoding_rs::{Encoding, WINDOWS_1252};

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
        Format::Markdown => markdown::parse(&decode_text(format, uri, bytes)?, fallback_title),
        Format::Text => text::parse(&decode_text(format, uri, bytes)?, fallback_title),
        Format::Html => html::parse(&decode_text(format, uri, bytes)?, fallback_title),
        Format::Csv => {
            csv::parse(&decode_text(format, uri, bytes)?, fallback_title).map_err(failed)?
        }
        Format::Json => {
            json::parse(&decode_text(format, uri, bytes)?, fallback_title).map_err(failed)?
        }
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

/// Bytes of a text format as text. A byte-order mark decides first (UTF-8, UTF-16LE, UTF-16BE);
/// then NUL bytes mean a binary or corrupt file; then UTF-8. Plain text, Markdown and CSV that are
/// not UTF-8 are legacy Windows files (Excel's "CSV", Notepad's "ANSI"): read as Windows-1252, the
/// superset of Latin-1 that has `áéíóúñ¿¡` where Latin-1 has them. JSON stays UTF-8 only
/// (RFC 8259), and HTML is not guessed here (a page names its charset; web pages are converted
/// before parsing).
fn decode_text<'a>(format: Format, uri: &str, bytes: &'a [u8]) -> Result<Cow<'a, str>> {
    let parse_error = |reason: String| IngestError::Parse {
        uri: uri.to_owned(),
        reason,
    };
    if let Some((encoding, bom_len)) = Encoding::for_bom(bytes) {
        let body = &bytes[bom_len..];
        return encoding
            .decode_without_bom_handling_and_without_replacement(body)
            .ok_or_else(|| parse_error(format!("not valid {} text", encoding.name())));
    }
    if looks_binary(bytes) {
        return Err(parse_error(
            "binary content in a text format (NUL bytes)".into(),
        ));
    }
    match std::str::from_utf8(bytes) {
        Ok(text) => Ok(Cow::Borrowed(text)),
        Err(_) if matches!(format, Format::Text | Format::Markdown | Format::Csv) => {
            let (text, _) = WINDOWS_1252.decode_without_bom_handling(bytes);
            Ok(text)
        }
        Err(e) => Err(parse_error(format!(
            "not valid UTF-8 text (invalid byte at offset {})",
            e.valid_up_to()
        ))),
    }
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
        // JSON and HTML are not guessed: bytes that are not UTF-8 stay an error there.
        let err = parse(Format::Json, "b.json", "b", b"{\"a\": \"\xff\"}").unwrap_err();
        assert!(err.to_string().contains("UTF-8"), "{err}");
        let err = parse(Format::Html, "b.html", "b", b"<p>Se\xf1or</p>").unwrap_err();
        assert!(err.to_string().contains("UTF-8"), "{err}");
        // A UTF-16 byte-order mark followed by an unpaired surrogate.
        let err = parse(Format::Text, "c.txt", "c", &[0xFF, 0xFE, 0x00, 0xD8]).unwrap_err();
        assert!(err.to_string().contains("UTF-16LE"), "{err}");
    }

    const VACATIONS: &str = "Política de vacaciones: días hábiles";

    fn text_of(doc: &ParsedDocument) -> String {
        doc.sections
            .iter()
            .map(|s| s.text.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn legacy_windows_1252_text_is_decoded() {
        let csv = format!("Clave,Resumen\nRH-01,{VACATIONS}\n");
        for (format, source) in [
            (Format::Text, VACATIONS.to_owned()),
            (Format::Markdown, format!("# Vacaciones\n\n{VACATIONS}\n")),
            (Format::Csv, csv),
        ] {
            let (bytes, _, unmappable) = WINDOWS_1252.encode(&source);
            assert!(!unmappable);
            // Not UTF-8 (í is the one byte 0xED): read as UTF-8 it would fail or become U+FFFD.
            assert!(std::str::from_utf8(&bytes).is_err());
            assert!(bytes.contains(&0xED));
            let doc = parse(format, "vacaciones", "vacaciones", &bytes).unwrap();
            let text = text_of(&doc);
            assert!(text.contains(VACATIONS), "{format:?}: {text:?}");
            assert!(!text.contains('\u{fffd}'), "{format:?}: {text:?}");
        }
        // Windows-1252 beyond Latin-1: curly quotes and the euro sign (0x93, 0x94, 0x80).
        let doc = parse(Format::Text, "q.txt", "q", b"\x93Se\xf1or\x94 \x80 5").unwrap();
        assert_eq!(text_of(&doc), "\u{201c}Señor\u{201d} € 5");
    }

    #[test]
    fn byte_order_marks_are_honoured() {
        let mut utf16le = vec![0xFF, 0xFE];
        utf16le.extend(VACATIONS.encode_utf16().flat_map(u16::to_le_bytes));
        // UTF-16 is full of NUL bytes: the mark must win over the binary check.
        assert!(looks_binary(&utf16le));
        let doc = parse(Format::Text, "v.txt", "v", &utf16le).unwrap();
        assert_eq!(text_of(&doc), VACATIONS);
        let doc = parse(Format::Markdown, "v.md", "v", &utf16le).unwrap();
        assert!(text_of(&doc).contains(VACATIONS));

        let mut utf16be = vec![0xFE, 0xFF];
        let csv = format!("Clave;Resumen\nRH-01;{VACATIONS}\n");
        utf16be.extend(csv.encode_utf16().flat_map(u16::to_be_bytes));
        let doc = parse(Format::Csv, "v.csv", "v", &utf16be).unwrap();
        assert!(text_of(&doc).contains(VACATIONS), "{}", text_of(&doc));

        let mut utf8 = b"\xEF\xBB\xBF".to_vec();
        utf8.extend(VACATIONS.as_bytes());
        let doc = parse(Format::Text, "v.txt", "v", &utf8).unwrap();
        assert_eq!(text_of(&doc), VACATIONS);
        let doc = parse(Format::Json, "v.json", "v", b"\xEF\xBB\xBF{\"a\": 1}").unwrap();
        assert!(!text_of(&doc).contains('\u{feff}'));
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
