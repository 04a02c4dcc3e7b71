//! Office Open XML packages (DOCX, PPTX, XLSX): a zip of XML parts linked by relationship files.
//!
//! Every read counts against one budget of unpacked bytes per document, so a small crafted archive
//! (a zip bomb) fails with a parse error instead of exhausting memory.

use std::borrow::Cow;
use std::io::{Cursor, Read};

use quick_xml::escape::resolve_xml_entity;
use quick_xml::events::{BytesStart, Event};
use quick_xml::{Reader, XmlVersion};
use zip::ZipArchive;

/// Unpacked bytes one document may read: above 10× the default 20 MiB document limit, far above
/// what real office files unpack to.
pub(super) const MAX_UNPACKED_BYTES: u64 = 256 * 1024 * 1024;

/// A relationship from one part to another, with its type reduced to the last URI segment
/// (`officeDocument`, `styles`, `slide`, …) so transitional and strict namespaces both match.
#[derive(Debug, Clone)]
pub(super) struct Relationship {
    pub id: String,
    pub kind: String,
    /// Part name of the target, resolved against the source part (no leading `/`).
    pub target: String,
}

pub(super) struct Package<'a> {
    /// "DOCX", "PPTX" or "XLSX", for error messages.
    kind: &'static str,
    archive: ZipArchive<Cursor<&'a [u8]>>,
    budget: u64,
    remaining: u64,
}

impl<'a> Package<'a> {
    pub fn open(kind: &'static str, bytes: &'a [u8], budget: u64) -> Result<Self, String> {
        // Password-protected Office files are OLE compound files wrapping an encrypted package.
        if bytes.starts_with(&[0xD0, 0xCF, 0x11, 0xE0]) {
            return Err(format!(
                "encrypted or legacy binary Office file, not a {kind} package (remove the password or save it as {})",
                kind.to_ascii_lowercase()
            ));
        }
        let archive = ZipArchive::new(Cursor::new(bytes))
            .map_err(|e| format!("corrupt {kind}: not a readable zip archive ({e})"))?;
        Ok(Self {
            kind,
            archive,
            budget,
            remaining: budget,
        })
    }

    /// Reads a part as text; `Ok(None)` when the package has no such part.
    pub fn read(&mut self, name: &str) -> Result<Option<String>, String> {
        let Some(index) = self.index_of(name) else {
            return Ok(None);
        };
        let kind = self.kind;
        let too_large = format!(
            "{kind} unpacks to more than {} MiB (zip bomb?)",
            self.budget / (1024 * 1024)
        );
        let mut file = self
            .archive
            .by_index(index)
            .map_err(|e| format!("corrupt {kind}: cannot open {name} ({e})"))?;
        // The declared size fails fast; the capped read catches archives that lie about it.
        if file.size() > self.remaining {
            return Err(too_large);
        }
        let mut bytes = Vec::with_capacity(usize::try_from(file.size()).unwrap_or(0));
        (&mut file)
            .take(self.remaining + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| format!("corrupt {kind}: cannot read {name} ({e})"))?;
        let read = u64::try_from(bytes.len()).unwrap_or(u64::MAX);
        if read > self.remaining {
            return Err(too_large);
        }
        self.remaining -= read;
        decode_part(bytes)
            .map(Some)
            .map_err(|reason| format!("corrupt {kind}: {name} {reason}"))
    }

    /// Part names are case-insensitive (OPC); producers almost always match the case exactly.
    fn index_of(&self, name: &str) -> Option<usize> {
        let name = name.trim_start_matches('/');
        self.archive.index_for_name(name).or_else(|| {
            let found = self
                .archive
                .file_names()
                .flatten()
                .find(|n| n.eq_ignore_ascii_case(name))?
                .into_owned();
            self.archive.index_for_name(&found)
        })
    }

    /// Relationships of `part` (`""` for the package's own), external targets left out.
    pub fn relationships(&mut self, part: &str) -> Result<Vec<Relationship>, String> {
        let rels_name = match part.rsplit_once('/') {
            Some((dir, file)) => format!("{dir}/_rels/{file}.rels"),
            None if part.is_empty() => "_rels/.rels".to_owned(),
            None => format!("_rels/{part}.rels"),
        };
        let Some(xml) = self.read(&rels_name)? else {
            return Ok(Vec::new());
        };
        let mut rels = Vec::new();
        let mut reader = Reader::from_str(&xml);
        loop {
            match reader.read_event() {
                Ok(Event::Start(e) | Event::Empty(e))
                    if e.local_name().as_ref() == "Relationship" =>
                {
                    if attr(&e, "TargetMode").as_deref() == Some("External") {
                        continue;
                    }
                    let (Some(id), Some(kind), Some(target)) =
                        (attr(&e, "Id"), attr(&e, "Type"), attr(&e, "Target"))
                    else {
                        continue;
                    };
                    rels.push(Relationship {
                        id,
                        kind: kind.rsplit('/').next().unwrap_or_default().to_owned(),
                        target: resolve_target(part, &target),
                    });
                }
                Ok(Event::Eof) => break,
                Err(e) => return Err(self.xml_error(&rels_name, &e)),
                Ok(_) => {}
            }
        }
        Ok(rels)
    }

    /// The main part (document, presentation or workbook), or `default` in a package without
    /// relationships.
    pub fn main_part(&mut self, default: &str) -> Result<String, String> {
        Ok(self
            .relationships("")?
            .into_iter()
            .find(|r| r.kind == "officeDocument")
            .map_or_else(|| default.to_owned(), |r| r.target))
    }

    /// Reads the main part, which every package of its kind must have.
    pub fn read_required(&mut self, part: &str) -> Result<String, String> {
        let kind = self.kind;
        self.read(part)?
            .ok_or_else(|| format!("corrupt {kind}: the package has no {part}"))
    }

    /// `dc:title` of the core properties, when set.
    pub fn core_title(&mut self) -> Result<Option<String>, String> {
        let core = self
            .relationships("")?
            .into_iter()
            .find(|r| r.kind == "core-properties")
            .map_or_else(|| "docProps/core.xml".to_owned(), |r| r.target);
        let Some(xml) = self.read(&core)? else {
            return Ok(None);
        };
        let mut reader = Reader::from_str(&xml);
        let mut in_title = false;
        let mut title = String::new();
        loop {
            match reader.read_event() {
                Ok(Event::Start(e)) if e.local_name().as_ref() == "title" => in_title = true,
                Ok(Event::End(e)) if e.local_name().as_ref() == "title" => in_title = false,
                Ok(Event::Eof) => break,
                Ok(event) if in_title => {
                    if let Some(text) = event_text(&event) {
                        title.push_str(&text);
                    }
                }
                Err(e) => return Err(self.xml_error(&core, &e)),
                Ok(_) => {}
            }
        }
        let title = super::collapse_whitespace(&title);
        Ok((!title.is_empty()).then_some(title))
    }

    pub fn xml_error(&self, part: &str, err: &quick_xml::Error) -> String {
        format!("corrupt {}: invalid XML in {part} ({err})", self.kind)
    }
}

/// XML parts are UTF-8 or, rarely, UTF-16 with a byte-order mark.
fn decode_part(bytes: Vec<u8>) -> Result<String, &'static str> {
    let utf16 = |be: bool| {
        let units = bytes[2..].chunks_exact(2).map(|pair| {
            let pair = [pair[0], pair[1]];
            if be {
                u16::from_be_bytes(pair)
            } else {
                u16::from_le_bytes(pair)
            }
        });
        char::decode_utf16(units)
            .collect::<Result<String, _>>()
            .map_err(|_| "is not valid UTF-16")
    };
    match bytes.get(..2) {
        Some([0xFE, 0xFF]) => utf16(true),
        Some([0xFF, 0xFE]) => utf16(false),
        _ => {
            let mut text = String::from_utf8(bytes).map_err(|_| "is not valid UTF-8")?;
            if text.starts_with('\u{feff}') {
                text.drain(..'\u{feff}'.len_utf8());
            }
            Ok(text)
        }
    }
}

/// `../media/x.png` relative to `ppt/slides/slide1.xml` → `ppt/media/x.png`.
fn resolve_target(source_part: &str, target: &str) -> String {
    if let Some(absolute) = target.strip_prefix('/') {
        return absolute.to_owned();
    }
    let mut segments: Vec<&str> = match source_part.rsplit_once('/') {
        Some((dir, _)) => dir.split('/').collect(),
        None => Vec::new(),
    };
    for segment in target.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            other => segments.push(other),
        }
    }
    segments.join("/")
}

/// The value of the attribute with local name `name`, whatever its namespace prefix.
pub(super) fn attr(element: &BytesStart<'_>, name: &str) -> Option<String> {
    element
        .attributes()
        .flatten()
        .find(|a| a.key.local_name().as_ref() == name)
        .and_then(|a| a.normalized_value(XmlVersion::Implicit1_0).ok())
        .map(Cow::into_owned)
}

/// The relationship id (`r:id`) of an element; unlike [`attr`] it skips an unprefixed `id`.
pub(super) fn relationship_id(element: &BytesStart<'_>) -> Option<String> {
    element
        .attributes()
        .flatten()
        .find(|a| a.key.prefix().is_some() && a.key.local_name().as_ref() == "id")
        .and_then(|a| a.normalized_value(XmlVersion::Implicit1_0).ok())
        .map(Cow::into_owned)
}

/// Character data carried by an event: text, CDATA, or a character/predefined entity reference
/// (the reader reports those separately). Entities declared in a DTD are never expanded.
pub(crate) fn event_text<'a>(event: &Event<'a>) -> Option<Cow<'a, str>> {
    match event {
        Event::Text(text) => Some(text.xml10_content()),
        Event::CData(data) => Some(data.xml10_content()),
        Event::GeneralRef(reference) => match reference.resolve_char_ref() {
            Ok(Some(c)) => Some(Cow::Owned(c.to_string())),
            _ => resolve_xml_entity(reference).map(Cow::Borrowed),
        },
        _ => None,
    }
}

#[cfg(test)]
pub(super) mod tests {
    use std::io::Write;

    use super::*;

    /// A zip of `(name, content)` entries, deflated like real office files.
    pub fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        for (name, content) in entries {
            writer.start_file(*name, options).unwrap();
            writer.write_all(content).unwrap();
        }
        writer.finish().unwrap().into_inner()
    }

    #[test]
    fn targets_resolve_against_the_source_part() {
        assert_eq!(
            resolve_target("ppt/slides/slide1.xml", "../notesSlides/n1.xml"),
            "ppt/notesSlides/n1.xml"
        );
        assert_eq!(resolve_target("", "word/document.xml"), "word/document.xml");
        assert_eq!(
            resolve_target("xl/workbook.xml", "/xl/worksheets/sheet1.xml"),
            "xl/worksheets/sheet1.xml"
        );
    }

    #[test]
    fn reads_are_capped_by_the_budget() {
        let big = vec![b'a'; 4096];
        let bytes = zip_of(&[("a.xml", &big), ("b.xml", &big)]);
        let mut package = Package::open("DOCX", &bytes, 6000).unwrap();
        assert_eq!(package.read("a.xml").unwrap().unwrap().len(), 4096);
        let err = package.read("b.xml").unwrap_err();
        assert!(err.contains("zip bomb"), "{err}");
        assert_eq!(package.read("missing.xml").unwrap(), None);
    }

    #[test]
    fn utf16_and_bom_parts_decode() {
        let mut utf16 = vec![0xFF, 0xFE];
        utf16.extend("<a>é</a>".encode_utf16().flat_map(u16::to_le_bytes));
        assert_eq!(decode_part(utf16).unwrap(), "<a>é</a>");
        assert_eq!(decode_part(b"\xEF\xBB\xBF<a/>".to_vec()).unwrap(), "<a/>");
        assert!(decode_part(vec![0x61, 0xFF]).is_err());
    }
}
