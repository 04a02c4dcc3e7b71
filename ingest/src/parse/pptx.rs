//! PPTX (PresentationML): one section per slide in presentation order, carrying the slide number
//! as its page. The heading is the slide's title placeholder, or "Slide N"; the text is every
//! other shape's paragraphs, tables as `cell | cell` lines, then the speaker notes.

use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};

use super::collapse_whitespace;
use super::ooxml::{Package, attr, event_text, relationship_id};
use crate::model::{ParsedDocument, Section};

pub(super) const MIME: &str =
    "application/vnd.openxmlformats-officedocument.presentationml.presentation";

/// Placeholders whose text is furniture repeated on every slide, not content.
const FURNITURE: &[&str] = &["sldNum", "dt", "ftr", "hdr", "sldImg"];

pub(super) fn parse(
    bytes: &[u8],
    fallback_title: String,
    budget: u64,
) -> Result<ParsedDocument, String> {
    let mut package = Package::open("PPTX", bytes, budget)?;
    let main = package.main_part("ppt/presentation.xml")?;
    let presentation = package.read_required(&main)?;
    let order = slide_order(&presentation).map_err(|e| package.xml_error(&main, &e))?;
    let rels = package.relationships(&main)?;
    let slide_parts: Vec<String> = order
        .iter()
        .filter_map(|id| rels.iter().find(|r| &r.id == id && r.kind == "slide"))
        .map(|r| r.target.clone())
        .collect();

    let mut slides = Vec::new();
    for (index, part) in slide_parts.iter().enumerate() {
        let number = u32::try_from(index + 1).unwrap_or(u32::MAX);
        let Some(xml) = package.read(part)? else {
            continue;
        };
        let mut slide = read_shapes(&xml).map_err(|e| package.xml_error(part, &e))?;
        let notes_part = package
            .relationships(part)?
            .into_iter()
            .find(|r| r.kind == "notesSlide");
        if let Some(notes_part) = notes_part
            && let Some(notes_xml) = package.read(&notes_part.target)?
        {
            let notes =
                read_shapes(&notes_xml).map_err(|e| package.xml_error(&notes_part.target, &e))?;
            if !notes.body.is_empty() {
                if !slide.body.is_empty() {
                    slide.body.push_str("\n\n");
                }
                slide.body.push_str("Notes: ");
                slide.body.push_str(&notes.body);
            }
        }
        slides.push((number, slide));
    }

    let core_title = package
        .core_title()?
        .filter(|t| !t.eq_ignore_ascii_case("PowerPoint Presentation"));
    let title = core_title
        .or_else(|| slides.first().and_then(|(_, s)| s.title.clone()))
        .unwrap_or(fallback_title);
    let sections = slides
        .into_iter()
        .filter_map(|(number, slide)| {
            let heading = slide.title.unwrap_or_else(|| format!("Slide {number}"));
            let text = if slide.body.is_empty() {
                // A title-only slide is still worth finding.
                heading.clone()
            } else {
                slide.body
            };
            if text.is_empty() {
                return None;
            }
            Some(Section {
                // The deck title already starts every indexed text.
                heading_path: if heading == title {
                    Vec::new()
                } else {
                    vec![heading]
                },
                text,
                page: Some(number),
            })
        })
        .collect();
    Ok(ParsedDocument {
        title,
        mime: MIME,
        sections,
    })
}

/// Relationship ids of the slides in presentation order (`p:sldIdLst`).
fn slide_order(xml: &str) -> Result<Vec<String>, quick_xml::Error> {
    let mut ids = Vec::new();
    let mut reader = Reader::from_str(xml);
    loop {
        match reader.read_event()? {
            Event::Start(e) | Event::Empty(e) if e.local_name().as_ref() == "sldId" => {
                ids.extend(relationship_id(&e));
            }
            Event::Eof => return Ok(ids),
            _ => {}
        }
    }
}

#[derive(Debug, Default)]
struct SlideText {
    title: Option<String>,
    body: String,
}

/// The shape being read (`p:sp`, or `p:graphicFrame` for tables).
#[derive(Default)]
struct Shape {
    placeholder: Option<String>,
    text: String,
}

fn read_shapes(xml: &str) -> Result<SlideText, quick_xml::Error> {
    let mut slide = SlideText::default();
    let mut shape: Option<Shape> = None;
    let mut in_text = false;
    let mut table_depth = 0usize;
    let mut reader = Reader::from_str(xml);
    loop {
        let event = reader.read_event()?;
        match &event {
            Event::Start(e) => match e.local_name().as_ref() {
                "Fallback" => {
                    reader.read_to_end(e.name())?;
                }
                "sp" | "graphicFrame" => shape = Some(Shape::default()),
                "t" => in_text = true,
                "tbl" => table_depth += 1,
                _ => placeholder(e, shape.as_mut()),
            },
            Event::Empty(e) => match e.local_name().as_ref() {
                "br" => {
                    if let Some(shape) = &mut shape {
                        shape.text.push('\n');
                    }
                }
                _ => placeholder(e, shape.as_mut()),
            },
            Event::End(e) => match e.local_name().as_ref() {
                "t" => in_text = false,
                "tbl" => table_depth = table_depth.saturating_sub(1),
                "sp" | "graphicFrame" => {
                    if let Some(done) = shape.take() {
                        finish_shape(done, &mut slide);
                    }
                }
                name => {
                    if let Some(current) = shape.as_mut() {
                        end_text_element(name, table_depth > 0, &mut current.text);
                    }
                }
            },
            Event::Eof => return Ok(slide),
            _ if in_text => {
                if let (Some(shape), Some(text)) = (shape.as_mut(), event_text(&event)) {
                    shape.text.push_str(&text);
                }
            }
            _ => {}
        }
    }
}

/// Paragraphs end lines (inside a table they only separate words of a cell); cells and rows
/// become `cell | cell` lines.
fn end_text_element(name: &str, in_table: bool, text: &mut String) {
    match name {
        "p" if in_table => text.push(' '),
        "p" => text.push('\n'),
        "tc" => {
            let trimmed = text.trim_end_matches([' ', '\t']).len();
            text.truncate(trimmed);
            text.push_str(" | ");
        }
        "tr" => {
            let trimmed = text.trim_end_matches([' ', '|']).len();
            text.truncate(trimmed);
            text.push('\n');
        }
        _ => {}
    }
}

fn placeholder(element: &BytesStart<'_>, shape: Option<&mut Shape>) {
    if let Some(shape) = shape
        && element.local_name().as_ref() == "ph"
    {
        // A placeholder without a type is a body (content) placeholder.
        shape.placeholder = Some(attr(element, "type").unwrap_or_else(|| "body".into()));
    }
}

fn finish_shape(shape: Shape, slide: &mut SlideText) {
    let kind = shape.placeholder.as_deref().unwrap_or("");
    if FURNITURE.contains(&kind) {
        return;
    }
    let lines: Vec<String> = shape
        .text
        .lines()
        .map(collapse_whitespace)
        .filter(|l| !l.is_empty())
        .collect();
    if lines.is_empty() {
        return;
    }
    if matches!(kind, "title" | "ctrTitle") && slide.title.is_none() {
        slide.title = Some(lines.join(" "));
        return;
    }
    if !slide.body.is_empty() {
        slide.body.push('\n');
    }
    slide.body.push_str(&lines.join("\n"));
}

#[cfg(test)]
mod tests {
    use super::super::ooxml::tests::zip_of;
    use super::*;

    const ROOT_RELS: &[u8] = br#"<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">
<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="ppt/presentation.xml"/></Relationships>"#;
    // Slide files are deliberately numbered against presentation order.
    const PRESENTATION: &[u8] = br#"<p:presentation xmlns:p="http://schemas.openxmlformats.org/presentationml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">
<p:sldIdLst><p:sldId id="256" r:id="rId7"/><p:sldId id="257" r:id="rId3"/><p:sldId id="258" r:id="rId4"/></p:sldIdLst></p:presentation>"#;
    const PRESENTATION_RELS: &[u8] = br#"<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">
<Relationship Id="rId3" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/slide" Target="slides/slide1.xml"/>
<Relationship Id="rId4" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/slide" Target="slides/slide3.xml"/>
<Relationship Id="rId7" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/slide" Target="slides/slide2.xml"/>
</Relationships>"#;
    const TITLE_SLIDE: &[u8] = br#"<p:sld xmlns:p="http://schemas.openxmlformats.org/presentationml/2006/main" xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main"><p:cSld><p:spTree>
<p:sp><p:nvSpPr><p:cNvPr id="2" name="Title 1"/><p:cNvSpPr/><p:nvPr><p:ph type="ctrTitle"/></p:nvPr></p:nvSpPr><p:txBody><a:p><a:r><a:t>Safety onboarding</a:t></a:r></a:p></p:txBody></p:sp>
<p:sp><p:nvSpPr><p:cNvPr id="3" name="Subtitle 2"/><p:cNvSpPr/><p:nvPr><p:ph type="subTitle" idx="1"/></p:nvPr></p:nvSpPr><p:txBody><a:p><a:r><a:t>Plant 2 &#8211; 2024</a:t></a:r></a:p></p:txBody></p:sp>
<p:sp><p:nvSpPr><p:cNvPr id="4" name="Slide Number"/><p:cNvSpPr/><p:nvPr><p:ph type="sldNum" idx="12"/></p:nvPr></p:nvSpPr><p:txBody><a:p><a:fld type="slidenum"><a:t>1</a:t></a:fld></a:p></p:txBody></p:sp>
</p:spTree></p:cSld></p:sld>"#;
    const CONTENT_SLIDE: &[u8] = br#"<p:sld xmlns:p="http://schemas.openxmlformats.org/presentationml/2006/main" xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main"><p:cSld><p:spTree>
<p:sp><p:nvSpPr><p:cNvPr id="2" name="Title 1"/><p:cNvSpPr/><p:nvPr><p:ph type="title"/></p:nvPr></p:nvSpPr><p:txBody><a:p><a:r><a:t>Protective equipment</a:t></a:r></a:p></p:txBody></p:sp>
<p:sp><p:nvSpPr><p:cNvPr id="3" name="Content 2"/><p:cNvSpPr/><p:nvPr><p:ph idx="1"/></p:nvPr></p:nvSpPr><p:txBody><a:p><a:r><a:t>Wear </a:t></a:r><a:r><a:rPr b="1"/><a:t>boots</a:t></a:r></a:p><a:p><a:r><a:t>Goggles</a:t></a:r><a:br/><a:r><a:t>at the lathe</a:t></a:r></a:p></p:txBody></p:sp>
<p:graphicFrame><p:nvGraphicFramePr><p:cNvPr id="4" name="Table 3"/><p:cNvGraphicFramePr/><p:nvPr/></p:nvGraphicFramePr><a:graphic><a:graphicData><a:tbl>
<a:tr><a:tc><a:txBody><a:p><a:r><a:t>Zone</a:t></a:r></a:p></a:txBody></a:tc><a:tc><a:txBody><a:p><a:r><a:t>PPE</a:t></a:r></a:p></a:txBody></a:tc></a:tr>
<a:tr><a:tc><a:txBody><a:p><a:r><a:t>Welding</a:t></a:r></a:p></a:txBody></a:tc><a:tc><a:txBody><a:p><a:r><a:t>Mask</a:t></a:r></a:p></a:txBody></a:tc></a:tr>
</a:tbl></a:graphicData></a:graphic></p:graphicFrame>
</p:spTree></p:cSld></p:sld>"#;
    const UNTITLED_SLIDE: &[u8] = br#"<p:sld xmlns:p="http://schemas.openxmlformats.org/presentationml/2006/main" xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main"><p:cSld><p:spTree>
<p:sp><p:nvSpPr><p:cNvPr id="2" name="TextBox 1"/><p:cNvSpPr txBox="1"/><p:nvPr/></p:nvSpPr><p:txBody><a:p><a:r><a:t>Questions? Call 555-0100.</a:t></a:r></a:p></p:txBody></p:sp>
</p:spTree></p:cSld></p:sld>"#;
    const SLIDE1_RELS: &[u8] = br#"<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">
<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/notesSlide" Target="../notesSlides/notesSlide1.xml"/></Relationships>"#;
    const NOTES: &[u8] = br#"<p:notes xmlns:p="http://schemas.openxmlformats.org/presentationml/2006/main" xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main"><p:cSld><p:spTree>
<p:sp><p:nvSpPr><p:cNvPr id="2" name="Slide Image"/><p:cNvSpPr/><p:nvPr><p:ph type="sldImg"/></p:nvPr></p:nvSpPr></p:sp>
<p:sp><p:nvSpPr><p:cNvPr id="3" name="Notes"/><p:cNvSpPr/><p:nvPr><p:ph type="body" idx="1"/></p:nvPr></p:nvSpPr><p:txBody><a:p><a:r><a:t>Mention the audit.</a:t></a:r></a:p></p:txBody></p:sp>
</p:spTree></p:cSld></p:notes>"#;

    fn deck() -> Vec<u8> {
        zip_of(&[
            ("_rels/.rels", ROOT_RELS),
            ("ppt/presentation.xml", PRESENTATION),
            ("ppt/_rels/presentation.xml.rels", PRESENTATION_RELS),
            ("ppt/slides/slide2.xml", TITLE_SLIDE),
            ("ppt/slides/slide1.xml", CONTENT_SLIDE),
            ("ppt/slides/_rels/slide1.xml.rels", SLIDE1_RELS),
            ("ppt/notesSlides/notesSlide1.xml", NOTES),
            ("ppt/slides/slide3.xml", UNTITLED_SLIDE),
        ])
    }

    #[test]
    fn slides_in_order_with_titles_pages_tables_and_notes() {
        let doc = parse(&deck(), "fallback".into(), 1 << 20).unwrap();
        assert_eq!(doc.title, "Safety onboarding");
        assert_eq!(doc.mime, MIME);
        let summary: Vec<_> = doc
            .sections
            .iter()
            .map(|s| (s.page, s.heading_path.join("/"), s.text.as_str()))
            .collect();
        assert_eq!(
            summary,
            [
                (Some(1), String::new(), "Plant 2 \u{2013} 2024"),
                (
                    Some(2),
                    "Protective equipment".into(),
                    "Wear boots\nGoggles\nat the lathe\nZone | PPE\nWelding | Mask\n\nNotes: Mention the audit."
                ),
                (Some(3), "Slide 3".into(), "Questions? Call 555-0100."),
            ]
        );
    }

    #[test]
    fn broken_decks_are_errors() {
        let bytes = deck();
        let err = parse(&bytes[..200], "t".into(), 1 << 20).unwrap_err();
        assert!(err.starts_with("corrupt PPTX"), "{err}");
        let err = parse(&bytes, "t".into(), 1500).unwrap_err();
        assert!(err.contains("zip bomb"), "{err}");
    }
}
