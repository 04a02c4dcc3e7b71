//! PDF via lopdf: one section per page that has text, carrying its page number. Text is decoded
//! through each font's encoding or ToUnicode map. PDFs store positioned runs of glyphs, not lines
//! or spaces, so line breaks and word gaps are rebuilt from where each run starts and ends.
//!
//! Encrypted files are read only when they open without a password (as in any viewer) and their
//! permissions allow copying text; anything else is a parse error saying so.

use std::collections::{BTreeMap, HashMap};

use lopdf::content::{Content, Operation};
use lopdf::{DecompressError, Dictionary, Document, Encoding, LoadOptions, Object, ObjectId};

use super::collapse_whitespace;
use crate::model::{ParsedDocument, Section};

pub(super) const MIME: &str = "application/pdf";

/// What one stream may inflate to; lopdf enforces it while decoding.
const MAX_STREAM_BYTES: usize = 64 * 1024 * 1024;
/// All page content decoded for one document: a small file of many bombs fails too.
const MAX_CONTENT_BYTES: usize = 256 * 1024 * 1024;
/// Glyph width (thousandths of an em) when a font does not say.
const DEFAULT_WIDTH: f32 = 500.0;
/// Nested `q` (save graphics state) levels tracked; deeper ones are hostile and ignored.
const MAX_STATE_DEPTH: usize = 64;

type Matrix = [f32; 6];
const IDENTITY: Matrix = [1.0, 0.0, 0.0, 1.0, 0.0, 0.0];

pub(super) fn parse(bytes: &[u8], fallback_title: String) -> Result<ParsedDocument, String> {
    // lopdf parses hostile input; should it panic, this document fails, not the sync.
    std::panic::catch_unwind(|| extract(bytes, fallback_title))
        .unwrap_or_else(|_| Err("corrupt PDF: the PDF reader failed on malformed data".into()))
}

fn extract(bytes: &[u8], fallback_title: String) -> Result<ParsedDocument, String> {
    let head = &bytes[..bytes.len().min(1024)];
    if !head.windows(5).any(|w| w == b"%PDF-") {
        return Err("corrupt PDF: no %PDF header".into());
    }
    let options = LoadOptions {
        max_decompressed_size: Some(MAX_STREAM_BYTES),
        ..LoadOptions::default()
    };
    let doc = Document::load_mem_with_options(bytes, options).map_err(|e| match e {
        lopdf::Error::InvalidPassword | lopdf::Error::Decryption(_) => {
            "encrypted PDF: it cannot be decrypted without a password".to_owned()
        }
        other => format!("corrupt PDF: {other}"),
    })?;
    check_encryption(&doc)?;
    let pages = doc.get_pages();
    if pages.is_empty() {
        return Err("corrupt PDF: no pages found".into());
    }
    let mut budget = MAX_CONTENT_BYTES;
    let mut sections = Vec::new();
    let mut unreadable = Vec::new();
    for (&number, &page_id) in &pages {
        match page_text(&doc, page_id, &mut budget) {
            Ok(text) if !text.is_empty() => sections.push(Section {
                heading_path: Vec::new(),
                text,
                page: Some(number),
            }),
            Ok(_) => {}
            Err(PageError::TooLarge { limit }) => {
                return Err(format!(
                    "corrupt PDF: content of page {number} inflates past {} MiB (decompression bomb?)",
                    limit >> 20
                ));
            }
            Err(PageError::Unreadable(reason)) => {
                tracing::warn!(page = number, %reason, "unreadable PDF page skipped");
                unreadable.push(reason);
            }
        }
    }
    if sections.is_empty() {
        return Err(match unreadable.first() {
            Some(reason) if unreadable.len() == pages.len() => format!("corrupt PDF: {reason}"),
            // A rebuilt cross-reference table whose pages are empty: most likely a truncated file.
            _ if doc.xref_recovery.is_some() => {
                "corrupt PDF: damaged or truncated file with no readable page text".into()
            }
            _ => "PDF has no extractable text (scanned pages need OCR first)".into(),
        });
    }
    Ok(ParsedDocument {
        title: info_title(&doc).unwrap_or(fallback_title),
        mime: MIME,
        sections,
    })
}

fn check_encryption(doc: &Document) -> Result<(), String> {
    // lopdf decrypts with the empty user password when that works, and then drops /Encrypt.
    match &doc.encryption_state {
        None if doc.trailer.has(b"Encrypt") => {
            Err("encrypted PDF: a password is required to open it".into())
        }
        Some(state) if !state.permissions().contains(lopdf::Permissions::COPYABLE) => {
            Err("encrypted PDF: its permissions do not allow copying text".into())
        }
        _ => Ok(()),
    }
}

/// The Info dictionary's title, unless it is a placeholder or the source file's name.
fn info_title(doc: &Document) -> Option<String> {
    let (_, info) = doc.dereference(doc.trailer.get(b"Info").ok()?).ok()?;
    let (_, title) = doc
        .dereference(info.as_dict().ok()?.get(b"Title").ok()?)
        .ok()?;
    let title = collapse_whitespace(&lopdf::decode_text_string(title).ok()?);
    let lower = title.to_ascii_lowercase();
    let file_like = [
        ".doc", ".docx", ".pdf", ".ppt", ".pptx", ".xls", ".xlsx", ".txt", ".rtf",
    ]
    .iter()
    .any(|ext| lower.ends_with(ext));
    (!title.is_empty() && lower != "untitled" && !file_like).then_some(title)
}

enum PageError {
    /// Past the per-stream bound, or past what is left of the document's.
    TooLarge {
        limit: usize,
    },
    Unreadable(String),
}

fn page_text(doc: &Document, page_id: ObjectId, budget: &mut usize) -> Result<String, PageError> {
    let unreadable = |e: lopdf::Error| PageError::Unreadable(e.to_string());
    let fonts: BTreeMap<Vec<u8>, Font<'_>> = doc
        .get_page_fonts(page_id)
        .map_err(unreadable)?
        .into_iter()
        .filter_map(|(name, dict)| Font::new(doc, dict).map(|font| (name, font)))
        .collect();
    let limit = (*budget).min(MAX_STREAM_BYTES);
    let content = doc
        .get_page_content_with_limit(page_id, limit)
        .map_err(|e| match e {
            lopdf::Error::Decompress(DecompressError::MemoryLimitExceeded { .. }) => {
                PageError::TooLarge { limit }
            }
            other => unreadable(other),
        })?;
    *budget = budget.saturating_sub(content.len());
    let mut page = PageText::new(&fonts);
    // Operators are applied as they decode, so text before a damaged spot is kept.
    for operation in Content::decode_iter(&content) {
        match operation {
            Ok(operation) => page.apply(&operation),
            Err(e) if page.out.is_empty() => return Err(unreadable(e)),
            Err(e) => {
                tracing::warn!(error = %e, "PDF page content damaged; keeping the text before it");
                break;
            }
        }
    }
    Ok(page.finish())
}

/// A font as far as text extraction needs it: how to decode its codes and how wide they are.
struct Font<'a> {
    encoding: Encoding<'a>,
    /// Composite (Type0) fonts use two-byte codes (Identity-H/V, by far the common case).
    two_byte: bool,
    first_char: i64,
    widths: Vec<f32>,
    cid_widths: HashMap<i64, f32>,
    default_width: f32,
}

impl<'a> Font<'a> {
    fn new(doc: &'a Document, dict: &'a Dictionary) -> Option<Self> {
        let encoding = dict
            .get_font_encoding_with_limit(doc, MAX_STREAM_BYTES)
            .ok()?;
        let number = |o: &Object| o.as_float().ok();
        let array = |d: &'a Dictionary, key: &[u8]| -> Vec<&'a Object> {
            d.get_deref(key, doc)
                .and_then(Object::as_array)
                .map(|a| a.iter().collect())
                .unwrap_or_default()
        };
        let two_byte = matches!(dict.get(b"Subtype").and_then(Object::as_name), Ok(b"Type0"));
        // A composite font without a ToUnicode map falls back to a one-byte encoding, which
        // would turn its two-byte glyph ids into garbage: its text is better left out.
        if two_byte && matches!(encoding, Encoding::OneByteEncoding(_)) {
            return None;
        }
        let mut font = Font {
            encoding,
            two_byte,
            first_char: dict.get(b"FirstChar").and_then(Object::as_i64).unwrap_or(0),
            widths: array(dict, b"Widths")
                .into_iter()
                .map(|w| number(w).unwrap_or(DEFAULT_WIDTH))
                .collect(),
            cid_widths: HashMap::new(),
            default_width: DEFAULT_WIDTH,
        };
        if two_byte {
            let descendant = array(dict, b"DescendantFonts")
                .first()
                .and_then(|d| doc.dereference(d).ok())
                .and_then(|(_, d)| d.as_dict().ok());
            if let Some(cid_font) = descendant {
                font.default_width = cid_font.get(b"DW").ok().and_then(number).unwrap_or(1000.0);
                font.cid_widths = cid_widths(&array(cid_font, b"W"));
            }
        }
        Some(font)
    }

    /// Advance of `bytes` in thousandths of an em.
    fn width(&self, bytes: &[u8]) -> f32 {
        if self.two_byte {
            bytes
                .chunks(2)
                .map(|pair| {
                    let code = pair.iter().fold(0i64, |c, &b| c * 256 + i64::from(b));
                    self.cid_widths
                        .get(&code)
                        .copied()
                        .unwrap_or(self.default_width)
                })
                .sum()
        } else {
            bytes
                .iter()
                .map(|&b| {
                    usize::try_from(i64::from(b) - self.first_char)
                        .ok()
                        .and_then(|i| self.widths.get(i))
                        .copied()
                        .unwrap_or(self.default_width)
                })
                .sum()
        }
    }
}

/// A CID font's `W` array: `c [w1 w2 …]` gives consecutive codes from c, `c1 c2 w` a range.
fn cid_widths(w: &[&Object]) -> HashMap<i64, f32> {
    let mut widths = HashMap::new();
    let mut i = 0;
    while i < w.len() && widths.len() <= 0x1_0000 {
        let Ok(first) = w[i].as_i64() else { break };
        match w.get(i + 1) {
            Some(Object::Array(list)) => {
                for (code, width) in (first..).zip(list.iter().take(0x1_0000)) {
                    widths.insert(code, width.as_float().unwrap_or(DEFAULT_WIDTH));
                }
                i += 2;
            }
            Some(last) => {
                let (Ok(last), Some(Ok(width))) =
                    (last.as_i64(), w.get(i + 2).map(|o| o.as_float()))
                else {
                    break;
                };
                for code in first.max(0)..=last.min(first.max(0) + 0xFFFF) {
                    widths.insert(code, width);
                }
                i += 3;
            }
            None => break,
        }
    }
    widths
}

/// Replays a page's text operators, tracking positions to rebuild lines and spaces.
struct PageText<'f> {
    fonts: &'f BTreeMap<Vec<u8>, Font<'f>>,
    font: Option<&'f Font<'f>>,
    font_size: f32,
    leading: f32,
    /// Text line matrix, and how far text has advanced along it since (text space units).
    line: Matrix,
    advance: f32,
    ctm: Matrix,
    saved: Vec<Matrix>,
    /// Where the last shown run ended in device space (x, y) and its em size there.
    last: Option<(f32, f32, f32)>,
    out: String,
}

impl<'f> PageText<'f> {
    fn new(fonts: &'f BTreeMap<Vec<u8>, Font<'f>>) -> Self {
        Self {
            fonts,
            font: None,
            font_size: 1.0,
            leading: 0.0,
            line: IDENTITY,
            advance: 0.0,
            ctm: IDENTITY,
            saved: Vec::new(),
            last: None,
            out: String::new(),
        }
    }

    fn apply(&mut self, op: &Operation) {
        let num = |i: usize| {
            op.operands
                .get(i)
                .and_then(|o| o.as_float().ok())
                .unwrap_or(0.0)
        };
        let matrix = || [num(0), num(1), num(2), num(3), num(4), num(5)];
        match op.operator.as_str() {
            "q" if self.saved.len() < MAX_STATE_DEPTH => self.saved.push(self.ctm),
            "Q" => self.ctm = self.saved.pop().unwrap_or(IDENTITY),
            "cm" => self.ctm = multiply(&matrix(), &self.ctm),
            "BT" => {
                self.line = IDENTITY;
                self.advance = 0.0;
            }
            "Tf" => {
                self.font = op
                    .operands
                    .first()
                    .and_then(|o| o.as_name().ok())
                    .and_then(|name| self.fonts.get(name));
                self.font_size = num(1);
            }
            "TL" => self.leading = num(0),
            "Td" => self.move_line(num(0), num(1)),
            "TD" => {
                self.leading = -num(1);
                self.move_line(num(0), num(1));
            }
            "Tm" => {
                self.line = matrix();
                self.advance = 0.0;
            }
            "T*" => self.move_line(0.0, -self.leading),
            "Tj" => self.show_operand(op.operands.first()),
            "'" => {
                self.move_line(0.0, -self.leading);
                self.show_operand(op.operands.first());
            }
            "\"" => {
                self.move_line(0.0, -self.leading);
                self.show_operand(op.operands.get(2));
            }
            "TJ" => {
                let items = op.operands.first().and_then(|o| o.as_array().ok());
                for item in items.into_iter().flatten() {
                    match item {
                        Object::String(bytes, _) => self.show(bytes),
                        // Adjustments are in thousandths of an em, positive moving left.
                        other => {
                            if let Ok(n) = other.as_float() {
                                self.advance -= n / 1000.0 * self.font_size;
                            }
                        }
                    }
                }
            }
            _ => {}
        }
    }

    fn move_line(&mut self, tx: f32, ty: f32) {
        self.line = multiply(&[1.0, 0.0, 0.0, 1.0, tx, ty], &self.line);
        self.advance = 0.0;
    }

    fn show_operand(&mut self, operand: Option<&Object>) {
        if let Some(Object::String(bytes, _)) = operand {
            self.show(bytes);
        }
    }

    fn show(&mut self, bytes: &[u8]) {
        let Some(font) = self.font else {
            return;
        };
        let mut text = String::new();
        if font.encoding.write_to_string(bytes, &mut text).is_err() {
            return;
        }
        let (x, y) = self.device_point(self.advance, 0.0);
        let (ex, ey) = self.device_point(self.advance, self.font_size);
        let em = (ex - x).hypot(ey - y).max(0.01);
        self.separate(x, y, em, &text);
        self.out.push_str(&text);
        self.advance += font.width(bytes) / 1000.0 * self.font_size;
        let (end_x, _) = self.device_point(self.advance, 0.0);
        self.last = Some((end_x, y, em));
    }

    /// A newline when the run starts on another line (a blank line after a gap of well over a
    /// line), a space when it starts visibly right of where the previous run ended.
    fn separate(&mut self, x: f32, y: f32, em: f32, text: &str) {
        let Some((last_x, last_y, last_em)) = self.last else {
            return;
        };
        if self.out.is_empty() || self.out.ends_with('\n') {
            return;
        }
        let em = em.max(last_em);
        let dy = (y - last_y).abs();
        if dy > 0.5 * em {
            let trimmed = self.out.trim_end_matches(' ').len();
            self.out.truncate(trimmed);
            self.out.push_str(if dy > 1.7 * em { "\n\n" } else { "\n" });
        } else if x - last_x > 0.15 * em
            && !self.out.ends_with(char::is_whitespace)
            && !text.starts_with(char::is_whitespace)
        {
            self.out.push(' ');
        }
    }

    fn device_point(&self, tx: f32, ty: f32) -> (f32, f32) {
        let user = apply(&self.line, tx, ty);
        apply(&self.ctm, user.0, user.1)
    }

    /// Lines with their spacing normalized; runs of blank lines become one paragraph break.
    fn finish(self) -> String {
        let mut text = String::new();
        let mut blank = false;
        for line in self.out.lines() {
            let line = collapse_whitespace(line);
            if line.is_empty() {
                blank = !text.is_empty();
                continue;
            }
            if !text.is_empty() {
                text.push_str(if blank { "\n\n" } else { "\n" });
            }
            text.push_str(&line);
            blank = false;
        }
        text
    }
}

fn apply(m: &Matrix, x: f32, y: f32) -> (f32, f32) {
    (m[0] * x + m[2] * y + m[4], m[1] * x + m[3] * y + m[5])
}

/// `a × b` for PDF's row-vector convention (apply `a`, then `b`).
fn multiply(a: &Matrix, b: &Matrix) -> Matrix {
    [
        a[0] * b[0] + a[1] * b[2],
        a[0] * b[1] + a[1] * b[3],
        a[2] * b[0] + a[3] * b[2],
        a[2] * b[1] + a[3] * b[3],
        a[4] * b[0] + a[5] * b[2] + b[4],
        a[4] * b[1] + a[5] * b[3] + b[5],
    ]
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// A PDF with one page per content stream, Helvetica as `/F1` (WinAnsi, no widths) and `/F2`
    /// (with widths for space and `a`–`z`), and an Info title; xref offsets are computed.
    pub fn pdf_of(pages: &[&str], title: &str) -> Vec<u8> {
        let streams: Vec<(Vec<u8>, &str)> =
            pages.iter().map(|p| (p.as_bytes().to_vec(), "")).collect();
        pdf_with_streams(&streams, title)
    }

    /// Like [`pdf_of`], with raw content streams and extra stream dictionary entries (filters).
    fn pdf_with_streams(pages: &[(Vec<u8>, &str)], title: &str) -> Vec<u8> {
        let page_count = pages.len();
        let first_page = 6;
        let kids: Vec<String> = (0..page_count)
            .map(|i| format!("{} 0 R", first_page + 2 * i))
            .collect();
        let widths = std::iter::once("250".to_owned())
            .chain(std::iter::repeat_n("0".to_owned(), 64))
            .chain(std::iter::repeat_n("500".to_owned(), 26))
            .collect::<Vec<_>>()
            .join(" ");
        let mut objects: Vec<Vec<u8>> = vec![
            b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
            format!(
                "<< /Type /Pages /Kids [{}] /Count {page_count} >>",
                kids.join(" ")
            )
            .into_bytes(),
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"
                .to_vec(),
            format!(
                "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding \
                 /FirstChar 32 /LastChar 122 /Widths [{widths}] >>"
            )
            .into_bytes(),
            format!("<< /Title ({title}) /Producer (ragway test) >>").into_bytes(),
        ];
        for (i, (content, extra)) in pages.iter().enumerate() {
            objects.push(
                format!(
                    "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {} 0 R \
                     /Resources << /Font << /F1 3 0 R /F2 4 0 R >> >> >>",
                    first_page + 2 * i + 1
                )
                .into_bytes(),
            );
            let mut stream =
                format!("<< /Length {} {extra} >>\nstream\n", content.len()).into_bytes();
            stream.extend_from_slice(content);
            stream.extend_from_slice(b"\nendstream");
            objects.push(stream);
        }
        let mut out = b"%PDF-1.4\n%\xE2\xE3\xCF\xD3\n".to_vec();
        let mut offsets = Vec::new();
        for (i, object) in objects.iter().enumerate() {
            offsets.push(out.len());
            out.extend_from_slice(format!("{} 0 obj\n", i + 1).as_bytes());
            out.extend_from_slice(object);
            out.extend_from_slice(b"\nendobj\n");
        }
        let xref = out.len();
        out.extend_from_slice(
            format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
        );
        for offset in offsets {
            out.extend_from_slice(format!("{offset:010} 00000 n \n").as_bytes());
        }
        out.extend_from_slice(
            format!(
                "trailer\n<< /Size {} /Root 1 0 R /Info 5 0 R >>\nstartxref\n{xref}\n%%EOF\n",
                objects.len() + 1
            )
            .as_bytes(),
        );
        out
    }

    #[test]
    fn decompression_bombs_are_errors() {
        // 80 MiB of spaces deflate to about 80 KiB; one page may inflate to 64 MiB at most.
        let mut stream = lopdf::Stream::new(Dictionary::new(), vec![b' '; 80 << 20]);
        stream.compress().unwrap();
        let small = b"BT /F1 12 Tf 72 720 Td (Fine) Tj ET".to_vec();
        let pdf = pdf_with_streams(
            &[(small, ""), (stream.content, "/Filter /FlateDecode")],
            "Bomb",
        );
        assert!(pdf.len() < 1 << 20, "{}", pdf.len());
        let err = parse(&pdf, "f".into()).unwrap_err();
        assert_eq!(
            err,
            "corrupt PDF: content of page 2 inflates past 64 MiB (decompression bomb?)"
        );
    }

    #[test]
    fn text_per_page_with_lines_and_word_gaps() {
        let page1 = "BT /F1 12 Tf 72 720 Td (Lockout procedure) Tj 0 -14 Td (Step one: isolate) Tj \
                     T* ET BT /F1 12 Tf 72 650 Td [(Verify)-300(zero)] TJ ET";
        // /F2 has real widths: "to" at 10 pt ends at x=82, so a run at 90 is a new word, one at
        // 82 continues the word.
        let page3 = "BT /F2 10 Tf 1 0 0 1 72 700 Tm (to) Tj 1 0 0 1 90 700 Tm (gether) Tj \
                     1 0 0 1 72 688 Tm (no) Tj 1 0 0 1 82 688 Tm (thing) Tj ET";
        let bytes = pdf_of(&[page1, "", page3], "Plant safety");
        let doc = parse(&bytes, "fallback".into()).unwrap();
        assert_eq!(doc.title, "Plant safety");
        assert_eq!(doc.mime, "application/pdf");
        let pages: Vec<_> = doc
            .sections
            .iter()
            .map(|s| (s.page, s.text.as_str()))
            .collect();
        assert_eq!(
            pages,
            [
                (
                    Some(1),
                    "Lockout procedure\nStep one: isolate\n\nVerify zero"
                ),
                (Some(3), "to gether\nnothing"),
            ]
        );
        assert!(doc.sections.iter().all(|s| s.heading_path.is_empty()));
    }

    #[test]
    fn graphics_state_transforms_are_followed() {
        // Two runs on the same visual line, the second placed through a translated CTM.
        let page = "BT /F1 10 Tf 72 700 Td (Left) Tj ET q 1 0 0 1 200 0 cm BT /F1 10 Tf 72 700 Td \
                    (Right) Tj ET Q BT /F1 10 Tf 72 600 Td (Below) Tj ET";
        let doc = parse(&pdf_of(&[page], "T"), "f".into()).unwrap();
        assert_eq!(doc.sections[0].text, "Left Right\n\nBelow");
    }

    #[test]
    fn corrupt_and_empty_pdfs_are_errors() {
        let err = parse(b"not a pdf at all", "f".into()).unwrap_err();
        assert_eq!(err, "corrupt PDF: no %PDF header");
        let err = parse(
            b"%PDF-1.7\n1 0 obj << /Type /Catalog >> garbage",
            "f".into(),
        )
        .unwrap_err();
        assert!(err.starts_with("corrupt PDF"), "{err}");
        let err = parse(&pdf_of(&["", "0 0 m 10 10 l S"], "Scan"), "f".into()).unwrap_err();
        assert!(err.contains("no extractable text"), "{err}");
    }

    #[test]
    fn hostile_nesting_fails_cleanly() {
        // Deep nesting in a content stream and in an object must not overflow the stack.
        let content = format!(
            "BT /F1 12 Tf 72 720 Td (Kept) Tj ET {}",
            "[".repeat(100_000)
        );
        let doc = parse(&pdf_of(&[&content], "T"), "f".into()).unwrap();
        assert_eq!(doc.sections[0].text, "Kept");
        let err = parse(&pdf_of(&[&"[".repeat(100_000)], "T"), "f".into()).unwrap_err();
        assert!(err.starts_with("corrupt PDF"), "{err}");
        let deep_info = format!("x) /Deep {} (", "[".repeat(100_000));
        let page = "BT /F1 12 Tf 72 720 Td (Body) Tj ET";
        let doc = parse(&pdf_of(&[page], &deep_info), "Fallback".into()).unwrap();
        assert_eq!(doc.title, "Fallback");
        assert_eq!(doc.sections[0].text, "Body");
    }

    #[test]
    fn placeholder_titles_fall_back_to_the_file_name() {
        let page = "BT /F1 12 Tf 72 720 Td (Body) Tj ET";
        let doc = parse(
            &pdf_of(&[page], "Microsoft Word - plan.docx"),
            "Plan".into(),
        )
        .unwrap();
        assert_eq!(doc.title, "Plan");
    }
}
