//! DOCX (WordprocessingML): body paragraphs in order. Paragraphs styled Title or Heading N (by the
//! style's name, so localized style ids work, or by outline level) open sections; list paragraphs
//! become `- ` items and tables `cell | cell` lines. Deleted and moved-away revisions, field codes
//! and the legacy copies of drawings (`mc:Fallback`) are skipped.

use std::collections::HashMap;

use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};

use super::collapse_whitespace;
use super::ooxml::{Package, attr, event_text};
use super::sections::SectionCollector;
use crate::model::ParsedDocument;

pub(super) const MIME: &str =
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document";

/// Heading level of the Title style: above Heading 1 so it encloses the whole document.
const TITLE_LEVEL: usize = 0;

pub(super) fn parse(
    bytes: &[u8],
    fallback_title: String,
    budget: u64,
) -> Result<ParsedDocument, String> {
    let mut package = Package::open("DOCX", bytes, budget)?;
    let main = package.main_part("word/document.xml")?;
    let xml = package.read_required(&main)?;
    let styles_part = package
        .relationships(&main)?
        .into_iter()
        .find(|r| r.kind == "styles")
        .map_or_else(|| "word/styles.xml".to_owned(), |r| r.target);
    let styles = match package.read(&styles_part)? {
        Some(styles) => {
            paragraph_styles(&styles).map_err(|e| package.xml_error(&styles_part, &e))?
        }
        None => HashMap::new(),
    };
    let mut body = Body {
        styles,
        ..Body::default()
    };
    body.read(&xml).map_err(|e| package.xml_error(&main, &e))?;
    let core_title = package.core_title()?;
    let title = body
        .title
        .take()
        .or(core_title)
        .or_else(|| body.sections.first_heading.clone())
        .unwrap_or(fallback_title);
    Ok(ParsedDocument {
        sections: body.sections.finish(&title),
        title,
        mime: MIME,
    })
}

/// What a paragraph style means for the text, inherited through `basedOn`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct StyleKind {
    heading_level: Option<usize>,
    /// The style itself numbers its paragraphs (Word's "List Bullet", "List Number").
    list: bool,
}

/// Paragraph styles that are headings or lists, by style id.
fn paragraph_styles(xml: &str) -> Result<HashMap<String, StyleKind>, quick_xml::Error> {
    #[derive(Default)]
    struct Style {
        id: String,
        level: Option<usize>,
        list: bool,
        based_on: Option<String>,
    }
    let mut styles: HashMap<String, Style> = HashMap::new();
    let mut current: Option<Style> = None;
    let mut reader = Reader::from_str(xml);
    loop {
        match reader.read_event()? {
            Event::Start(e) if e.local_name().as_ref() == "style" => {
                let is_paragraph = attr(&e, "type").is_none_or(|t| t == "paragraph");
                current = match (is_paragraph, attr(&e, "styleId")) {
                    (true, Some(id)) => Some(Style {
                        level: level_from_style_id(&id),
                        id,
                        ..Style::default()
                    }),
                    _ => None,
                };
            }
            Event::End(e) if e.local_name().as_ref() == "style" => {
                if let Some(style) = current.take() {
                    styles.insert(style.id.clone(), style);
                }
            }
            Event::Start(e) | Event::Empty(e) => {
                let Some(style) = current.as_mut() else {
                    continue;
                };
                match e.local_name().as_ref() {
                    // The name is the same in every UI language ("heading 1"); ids are not.
                    "name" => {
                        if let Some(level) = attr(&e, "val").and_then(|n| level_from_name(&n)) {
                            style.level = Some(level);
                        }
                    }
                    "basedOn" => style.based_on = attr(&e, "val"),
                    "outlineLvl" if style.level.is_none() => {
                        style.level = outline_level(&e);
                    }
                    "numPr" => style.list = true,
                    _ => {}
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    let mut kinds = HashMap::new();
    for id in styles.keys() {
        let mut kind = StyleKind::default();
        let mut style = styles.get(id);
        // Bounded walk: a cycle in basedOn must not hang the parser.
        for _ in 0..16 {
            let Some(s) = style else { break };
            kind.heading_level = kind.heading_level.or(s.level);
            kind.list |= s.list;
            style = s.based_on.as_ref().and_then(|b| styles.get(b));
        }
        if kind != StyleKind::default() {
            kinds.insert(id.clone(), kind);
        }
    }
    Ok(kinds)
}

fn level_from_name(name: &str) -> Option<usize> {
    let name = name.trim().to_ascii_lowercase();
    if name == "title" {
        return Some(TITLE_LEVEL);
    }
    let level: usize = name.strip_prefix("heading")?.trim().parse().ok()?;
    (1..=9).contains(&level).then_some(level)
}

/// Without styles.xml, Word's English style ids are the best guess.
fn level_from_style_id(id: &str) -> Option<usize> {
    let lower = id.to_ascii_lowercase();
    if lower == "title" {
        return Some(TITLE_LEVEL);
    }
    let level: usize = lower.strip_prefix("heading")?.parse().ok()?;
    (1..=9).contains(&level).then_some(level)
}

/// `w:outlineLvl w:val="0"` is level 1; 9 means body text.
fn outline_level(element: &BytesStart<'_>) -> Option<usize> {
    let level: usize = attr(element, "val")?.parse().ok()?;
    (level < 9).then_some(level + 1)
}

#[derive(Default)]
struct Body {
    styles: HashMap<String, StyleKind>,
    sections: SectionCollector,
    /// Text of the first Title-styled paragraph.
    title: Option<String>,
    /// Nesting of `w:p` (text boxes put paragraphs inside paragraphs).
    paragraph_depth: usize,
    paragraph: String,
    heading_level: Option<usize>,
    is_list_item: bool,
    in_paragraph_properties: bool,
    in_text: bool,
    table_depth: usize,
    row: Vec<String>,
    cell: String,
}

impl Body {
    fn read(&mut self, xml: &str) -> Result<(), quick_xml::Error> {
        let mut reader = Reader::from_str(xml);
        loop {
            let event = reader.read_event()?;
            match &event {
                Event::Start(e) => match e.local_name().as_ref() {
                    // Text moved elsewhere (kept at its destination) and the pre-2010 duplicate
                    // of every text box.
                    "moveFrom" | "Fallback" => {
                        reader.read_to_end(e.name())?;
                    }
                    "p" => self.start_paragraph(),
                    "pPr" if self.paragraph_depth == 1 => self.in_paragraph_properties = true,
                    "t" => self.in_text = true,
                    "tbl" => self.start_table(),
                    "tr" if self.table_depth == 1 => self.row.clear(),
                    _ => self.element(e),
                },
                Event::Empty(e) => match e.local_name().as_ref() {
                    "p" if self.paragraph_depth == 0 => {}
                    _ => self.element(e),
                },
                Event::End(e) => match e.local_name().as_ref() {
                    "p" => self.end_paragraph(),
                    "pPr" => self.in_paragraph_properties = false,
                    "t" => self.in_text = false,
                    "tc" if self.table_depth == 1 => {
                        self.row.push(std::mem::take(&mut self.cell));
                    }
                    "tr" if self.table_depth == 1 => self.end_row(),
                    "tbl" => self.end_table(),
                    _ => {}
                },
                Event::Eof => return Ok(()),
                _ if self.in_text => {
                    if let Some(text) = event_text(&event) {
                        self.paragraph.push_str(&text);
                    }
                }
                _ => {}
            }
        }
    }

    /// Elements whose meaning is in their attributes (or their mere presence).
    fn element(&mut self, e: &BytesStart<'_>) {
        let name = e.local_name();
        if self.in_paragraph_properties {
            match name.as_ref() {
                "pStyle" => {
                    if let Some(id) = attr(e, "val") {
                        let style = self.styles.get(&id).copied().unwrap_or_default();
                        self.heading_level =
                            style.heading_level.or_else(|| level_from_style_id(&id));
                        self.is_list_item |= style.list;
                    }
                }
                // Direct formatting wins over the style.
                "outlineLvl" => self.heading_level = outline_level(e),
                "numPr" => self.is_list_item = true,
                _ => {}
            }
            return;
        }
        if self.paragraph_depth == 0 {
            return;
        }
        match name.as_ref() {
            "tab" | "ptab" => self.paragraph.push('\t'),
            "br" | "cr" => self.paragraph.push('\n'),
            "noBreakHyphen" => self.paragraph.push('-'),
            _ => {}
        }
    }

    fn start_paragraph(&mut self) {
        self.paragraph_depth += 1;
        if self.paragraph_depth == 1 {
            self.paragraph.clear();
            self.heading_level = None;
            self.is_list_item = false;
        } else {
            self.paragraph.push('\n');
        }
    }

    fn end_paragraph(&mut self) {
        self.paragraph_depth = self.paragraph_depth.saturating_sub(1);
        if self.paragraph_depth > 0 {
            self.paragraph.push('\n');
            return;
        }
        self.in_paragraph_properties = false;
        let text = std::mem::take(&mut self.paragraph);
        let text = text.trim();
        if text.is_empty() {
            return;
        }
        if self.table_depth > 0 {
            if !self.cell.is_empty() {
                self.cell.push(' ');
            }
            self.cell.push_str(&collapse_whitespace(text));
            return;
        }
        if let Some(level) = self.heading_level {
            if level == TITLE_LEVEL && self.title.is_none() {
                self.title = Some(collapse_whitespace(text));
            }
            self.sections.open_heading(level, text);
            return;
        }
        let current = &mut self.sections;
        if self.is_list_item {
            current.newline();
            current.current.push_str("- ");
            current.current.push_str(text);
            current.newline();
        } else {
            current.current.push_str(text);
            current.paragraph_break();
        }
    }

    fn start_table(&mut self) {
        self.table_depth += 1;
        if self.table_depth == 1 {
            self.sections.paragraph_break();
        }
    }

    fn end_row(&mut self) {
        let cells = std::mem::take(&mut self.row);
        if cells.iter().any(|c| !c.is_empty()) {
            self.sections.newline();
            self.sections.current.push_str(&cells.join(" | "));
            self.sections.newline();
        }
    }

    fn end_table(&mut self) {
        self.table_depth = self.table_depth.saturating_sub(1);
        if self.table_depth == 0 {
            self.sections.paragraph_break();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::ooxml::tests::zip_of;
    use super::*;

    const ROOT_RELS: &[u8] = br#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">
<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/>
<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties" Target="docProps/core.xml"/>
</Relationships>"#;
    const DOC_RELS: &[u8] = br#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">
<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/>
<Relationship Id="rId9" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/hyperlink" Target="https://acme.example" TargetMode="External"/>
</Relationships>"#;
    // Spanish Word: style ids are localized, names are not.
    const STYLES: &[u8] = br#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<w:styles xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">
<w:style w:type="paragraph" w:styleId="Ttulo"><w:name w:val="Title"/></w:style>
<w:style w:type="paragraph" w:styleId="Ttulo1"><w:name w:val="heading 1"/><w:pPr><w:outlineLvl w:val="0"/></w:pPr></w:style>
<w:style w:type="paragraph" w:styleId="Ttulo2"><w:name w:val="heading 2"/></w:style>
<w:style w:type="paragraph" w:styleId="MiTitulo"><w:name w:val="Mi titulo"/><w:basedOn w:val="Ttulo2"/></w:style>
<w:style w:type="paragraph" w:styleId="Vietas"><w:name w:val="List Bullet"/><w:pPr><w:numPr><w:numId w:val="3"/></w:numPr></w:pPr></w:style>
<w:style w:type="character" w:styleId="Heading1Char"><w:name w:val="Heading 1 Char"/></w:style>
</w:styles>"#;
    const CORE: &[u8] = br#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>Core title</dc:title></cp:coreProperties>"#;
    const DOCUMENT: &[u8] = br#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main" xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006"><w:body>
<w:p><w:pPr><w:pStyle w:val="Ttulo"/></w:pPr><w:r><w:t>Travel policy</w:t></w:r></w:p>
<w:p><w:r><w:t xml:space="preserve">Applies to </w:t></w:r><w:r><w:rPr><w:b/></w:rPr><w:t>all</w:t></w:r><w:r><w:t xml:space="preserve"> staff &amp; contractors.</w:t></w:r></w:p>
<w:p><w:pPr><w:pStyle w:val="Ttulo1"/></w:pPr><w:r><w:t>Per diem</w:t></w:r></w:p>
<w:p><w:r><w:t>Old</w:t></w:r><w:del><w:r><w:delText>deleted words</w:delText></w:r></w:del><w:r><w:fldChar w:fldCharType="begin"/></w:r><w:r><w:instrText>PAGE</w:instrText></w:r><w:r><w:tab/><w:t>rates</w:t><w:br/><w:t>second line</w:t></w:r></w:p>
<w:p><w:pPr><w:numPr><w:ilvl w:val="0"/><w:numId w:val="1"/></w:numPr></w:pPr><w:r><w:t>Keep receipts</w:t></w:r></w:p>
<w:p><w:pPr><w:pStyle w:val="Vietas"/></w:pPr><w:r><w:t>Scan them</w:t></w:r></w:p>
<w:tbl><w:tr><w:tc><w:p><w:r><w:t>City</w:t></w:r></w:p></w:tc><w:tc><w:p><w:r><w:t>Amount</w:t></w:r></w:p></w:tc></w:tr>
<w:tr><w:tc><w:p><w:r><w:t>Monterrey</w:t></w:r></w:p></w:tc><w:tc><w:p><w:r><w:t>900</w:t></w:r></w:p><w:p><w:r><w:t>MXN</w:t></w:r></w:p></w:tc></w:tr></w:tbl>
<w:p><w:pPr><w:pStyle w:val="MiTitulo"/></w:pPr><w:r><w:t>Receipts</w:t></w:r></w:p>
<w:p><w:r><mc:AlternateContent><mc:Choice Requires="wps"><w:drawing><w:txbxContent><w:p><w:r><w:t>Box text</w:t></w:r></w:p></w:txbxContent></w:drawing></mc:Choice><mc:Fallback><w:pict><w:txbxContent><w:p><w:r><w:t>Box text</w:t></w:r></w:p></w:txbxContent></w:pict></mc:Fallback></mc:AlternateContent></w:r><w:r><w:t>Scan within 5 days.</w:t></w:r></w:p>
<w:p><w:pPr><w:outlineLvl w:val="0"/></w:pPr><w:r><w:t>Annex</w:t></w:r></w:p>
<w:p/><w:p><w:r><w:t>Forms.</w:t></w:r></w:p>
<w:sectPr/></w:body></w:document>"#;

    fn docx(document: &[u8]) -> Vec<u8> {
        zip_of(&[
            ("_rels/.rels", ROOT_RELS),
            ("word/_rels/document.xml.rels", DOC_RELS),
            ("word/styles.xml", STYLES),
            ("docProps/core.xml", CORE),
            ("word/document.xml", document),
        ])
    }

    #[test]
    fn headings_paragraphs_lists_and_tables() {
        let doc = parse(&docx(DOCUMENT), "fallback".into(), 1 << 20).unwrap();
        assert_eq!(doc.title, "Travel policy");
        assert_eq!(doc.mime, MIME);
        let paths: Vec<_> = doc
            .sections
            .iter()
            .map(|s| s.heading_path.join(" / "))
            .collect();
        assert_eq!(paths, ["", "Per diem", "Per diem / Receipts", "Annex"]);
        assert_eq!(doc.sections[0].text, "Applies to all staff & contractors.");
        assert_eq!(
            doc.sections[1].text,
            "Old\trates\nsecond line\n\n- Keep receipts\n- Scan them\n\nCity | Amount\nMonterrey | 900 MXN"
        );
        assert_eq!(doc.sections[2].text, "Box text\nScan within 5 days.");
        assert_eq!(doc.sections[3].text, "Forms.");
        assert!(doc.sections.iter().all(|s| s.page.is_none()));
    }

    #[test]
    fn core_title_is_used_without_a_title_paragraph() {
        let document = br#"<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>
<w:p><w:pPr><w:pStyle w:val="Heading2"/></w:pPr><w:r><w:t>Scope</w:t></w:r></w:p><w:p><w:r><w:t>Body.</w:t></w:r></w:p></w:body></w:document>"#;
        let doc = parse(&docx(document), "fallback".into(), 1 << 20).unwrap();
        assert_eq!(doc.title, "Core title");
        assert_eq!(doc.sections[0].heading_path, ["Scope"]);
    }

    #[test]
    fn broken_packages_are_errors() {
        let bytes = docx(DOCUMENT);
        let err = parse(&bytes[..bytes.len() - 40], "t".into(), 1 << 20).unwrap_err();
        assert!(err.starts_with("corrupt DOCX"), "{err}");
        let err = parse(&bytes, "t".into(), 2048).unwrap_err();
        assert!(err.contains("zip bomb"), "{err}");
        let bad_xml = docx(b"<w:document><w:body><w:p></w:body></w:document>");
        let err = parse(&bad_xml, "t".into(), 1 << 20).unwrap_err();
        assert!(err.contains("invalid XML in word/document.xml"), "{err}");
        let no_document = zip_of(&[("_rels/.rels", ROOT_RELS)]);
        let err = parse(&no_document, "t".into(), 1 << 20).unwrap_err();
        assert!(err.contains("no word/document.xml"), "{err}");
        let err = parse(b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1rest", "t".into(), 1 << 20).unwrap_err();
        assert!(err.contains("encrypted or legacy"), "{err}");
    }
}
