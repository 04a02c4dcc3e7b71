//! Generated documents of every format ragway reads, for crawl tests and the ingest benchmarks:
//! deterministic prose (a seeded generator over a fixed vocabulary) wrapped in minimal but valid
//! Markdown, text, HTML, CSV, JSON, PDF, DOCX, PPTX and XLSX files.

use std::io::{Cursor, Write};

const WORDS: &[&str] = &[
    "policy",
    "employee",
    "access",
    "network",
    "badge",
    "laptop",
    "travel",
    "expense",
    "safety",
    "machine",
    "shift",
    "maintenance",
    "vendor",
    "invoice",
    "approval",
    "manager",
    "training",
    "quarterly",
    "report",
    "server",
    "backup",
    "password",
    "printer",
    "warehouse",
    "forklift",
    "inspection",
    "contract",
    "budget",
    "schedule",
    "holiday",
    "request",
    "ticket",
    "incident",
    "customer",
    "quality",
    "audit",
    "supplier",
    "payroll",
    "benefit",
    "onboarding",
    "compliance",
    "retention",
    "archive",
    "meeting",
    "project",
    "deadline",
    "review",
    "the",
    "a",
    "of",
    "and",
    "to",
    "for",
    "with",
    "must",
    "should",
    "every",
    "before",
    "after",
    "within",
    "days",
];

/// A small deterministic generator (64-bit LCG), so every run ingests the same corpus.
pub struct Prose(u64);

impl Prose {
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(6364136223846793005).wrapping_add(1))
    }

    fn next(&mut self) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) as usize
    }

    pub fn word(&mut self) -> &'static str {
        WORDS[self.next() % WORDS.len()]
    }

    /// A sentence of 8–19 words, capitalised, with a full stop.
    pub fn sentence(&mut self) -> String {
        let len = 8 + self.next() % 12;
        let words: Vec<&str> = (0..len).map(|_| self.word()).collect();
        let mut text = words.join(" ");
        if let Some(first) = text.get(..1) {
            text.replace_range(..1, &first.to_uppercase());
        }
        text.push('.');
        text
    }

    /// A paragraph of `sentences` sentences.
    pub fn paragraph(&mut self, sentences: usize) -> String {
        (0..sentences)
            .map(|_| self.sentence())
            .collect::<Vec<_>>()
            .join(" ")
    }

    pub fn title(&mut self) -> String {
        let mut title = format!("{} {} {}", self.word(), self.word(), self.word());
        if let Some(first) = title.get(..1) {
            title.replace_range(..1, &first.to_uppercase());
        }
        title
    }
}

/// `sections` headed sections of `paragraphs` paragraphs each.
pub fn sections(
    prose: &mut Prose,
    sections: usize,
    paragraphs: usize,
) -> Vec<(String, Vec<String>)> {
    (0..sections)
        .map(|_| {
            let heading = prose.title();
            let body = (0..paragraphs).map(|_| prose.paragraph(4)).collect();
            (heading, body)
        })
        .collect()
}

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

pub fn markdown(title: &str, body: &[(String, Vec<String>)]) -> String {
    let mut out = format!("# {title}\n\n");
    for (heading, paragraphs) in body {
        out.push_str(&format!("## {heading}\n\n"));
        for p in paragraphs {
            out.push_str(p);
            out.push_str("\n\n");
        }
    }
    out
}

pub fn text(title: &str, body: &[(String, Vec<String>)]) -> String {
    let mut out = format!("{title}\n\n");
    for (_, paragraphs) in body {
        for p in paragraphs {
            out.push_str(p);
            out.push_str("\n\n");
        }
    }
    out
}

/// An HTML page; `links` are hrefs placed in a list after the content.
pub fn html(title: &str, body: &[(String, Vec<String>)], links: &[String]) -> String {
    let mut out = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{}</title></head><body><main><h1>{}</h1>",
        xml_escape(title),
        xml_escape(title)
    );
    for (heading, paragraphs) in body {
        out.push_str(&format!("<h2>{}</h2>", xml_escape(heading)));
        for p in paragraphs {
            out.push_str(&format!("<p>{}</p>", xml_escape(p)));
        }
    }
    out.push_str("</main><ul>");
    for link in links {
        out.push_str(&format!(
            "<li><a href=\"{}\">{}</a></li>",
            xml_escape(link),
            xml_escape(link)
        ));
    }
    out.push_str("</ul></body></html>");
    out
}

/// `rows` rows of an expense table with a header.
pub fn csv(prose: &mut Prose, rows: usize) -> String {
    let mut out = String::from("id,employee,category,amount,note\n");
    for i in 0..rows {
        out.push_str(&format!(
            "{i},{} {},{},{}.{:02},\"{}\"\n",
            prose.word(),
            prose.word(),
            prose.word(),
            (i * 37) % 5000,
            i % 100,
            prose.sentence()
        ));
    }
    out
}

/// An array of `records` objects.
pub fn json(prose: &mut Prose, records: usize) -> String {
    let items: Vec<serde_json::Value> = (0..records)
        .map(|i| {
            serde_json::json!({
                "id": i,
                "title": prose.title(),
                "owner": prose.word(),
                "summary": prose.paragraph(2),
            })
        })
        .collect();
    serde_json::Value::Array(items).to_string()
}

/// A PDF with one page per entry, each line of a page drawn with Helvetica.
pub fn pdf(title: &str, pages: &[Vec<String>]) -> Vec<u8> {
    let escape = |t: &str| {
        t.replace('\\', "\\\\")
            .replace('(', "\\(")
            .replace(')', "\\)")
    };
    let first_page = 5;
    let kids: Vec<String> = (0..pages.len())
        .map(|i| format!("{} 0 R", first_page + 2 * i))
        .collect();
    let mut objects: Vec<Vec<u8>> = vec![
        b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
        format!(
            "<< /Type /Pages /Kids [{}] /Count {} >>",
            kids.join(" "),
            pages.len()
        )
        .into_bytes(),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"
            .to_vec(),
        format!(
            "<< /Title ({}) /Producer (ragway samples) >>",
            escape(title)
        )
        .into_bytes(),
    ];
    for (i, lines) in pages.iter().enumerate() {
        objects.push(
            format!(
                "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {} 0 R \
                 /Resources << /Font << /F1 3 0 R >> >> >>",
                first_page + 2 * i + 1
            )
            .into_bytes(),
        );
        let mut content = String::from("BT /F1 10 Tf 50 750 Td\n");
        for line in lines {
            content.push_str(&format!("({}) Tj 0 -14 Td\n", escape(line)));
        }
        content.push_str("ET");
        let mut stream = format!("<< /Length {} >>\nstream\n", content.len()).into_bytes();
        stream.extend_from_slice(content.as_bytes());
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
            "trailer\n<< /Size {} /Root 1 0 R /Info 4 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    out
}

/// PDF pages of about `lines` lines of ~90 characters each.
pub fn pdf_pages(prose: &mut Prose, pages: usize, lines: usize) -> Vec<Vec<String>> {
    (0..pages)
        .map(|_| {
            (0..lines)
                .map(|_| {
                    let mut line = String::new();
                    while line.len() < 90 {
                        line.push_str(prose.word());
                        line.push(' ');
                    }
                    line.trim_end().to_owned()
                })
                .collect()
        })
        .collect()
}

/// A zip of `(name, content)` entries, deflated like real office files.
pub fn zip_of(entries: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, content) in entries {
        // Writing to memory cannot fail short of allocation failure.
        let _ = writer.start_file(*name, options);
        let _ = writer.write_all(content);
    }
    writer
        .finish()
        .map(|cursor| cursor.into_inner())
        .unwrap_or_default()
}

const RELS_NS: &str = "http://schemas.openxmlformats.org/package/2006/relationships";
const OFFICE_DOC: &str =
    "http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument";

fn relationships(rels: &[(&str, &str, &str)]) -> Vec<u8> {
    let mut out =
        format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Relationships xmlns=\"{RELS_NS}\">");
    for (id, kind, target) in rels {
        out.push_str(&format!(
            "<Relationship Id=\"{id}\" Type=\"{kind}\" Target=\"{target}\"/>"
        ));
    }
    out.push_str("</Relationships>");
    out.into_bytes()
}

/// A Word document: a Title paragraph, then Heading 1 sections of paragraphs.
pub fn docx(title: &str, body: &[(String, Vec<String>)]) -> Vec<u8> {
    let w = "http://schemas.openxmlformats.org/wordprocessingml/2006/main";
    let styles = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><w:styles xmlns:w=\"{w}\">\
         <w:style w:type=\"paragraph\" w:styleId=\"Title\"><w:name w:val=\"Title\"/></w:style>\
         <w:style w:type=\"paragraph\" w:styleId=\"Heading1\"><w:name w:val=\"heading 1\"/></w:style></w:styles>"
    );
    let paragraph = |style: Option<&str>, text: &str| {
        let props = style.map_or_else(String::new, |s| {
            format!("<w:pPr><w:pStyle w:val=\"{s}\"/></w:pPr>")
        });
        format!(
            "<w:p>{props}<w:r><w:t xml:space=\"preserve\">{}</w:t></w:r></w:p>",
            xml_escape(text)
        )
    };
    let mut document =
        format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?><w:document xmlns:w=\"{w}\"><w:body>");
    document.push_str(&paragraph(Some("Title"), title));
    for (heading, paragraphs) in body {
        document.push_str(&paragraph(Some("Heading1"), heading));
        for p in paragraphs {
            document.push_str(&paragraph(None, p));
        }
    }
    document.push_str("<w:sectPr/></w:body></w:document>");
    zip_of(&[
        (
            "_rels/.rels",
            relationships(&[("rId1", OFFICE_DOC, "word/document.xml")]),
        ),
        (
            "word/_rels/document.xml.rels",
            relationships(&[(
                "rId1",
                "http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles",
                "styles.xml",
            )]),
        ),
        ("word/styles.xml", styles.into_bytes()),
        ("word/document.xml", document.into_bytes()),
    ])
}

/// A deck with one slide per section: its heading as the slide title, paragraphs as the body.
pub fn pptx(body: &[(String, Vec<String>)]) -> Vec<u8> {
    let p = "http://schemas.openxmlformats.org/presentationml/2006/main";
    let a = "http://schemas.openxmlformats.org/drawingml/2006/main";
    let r = "http://schemas.openxmlformats.org/officeDocument/2006/relationships";
    let ids: String = (0..body.len())
        .map(|i| format!("<p:sldId id=\"{}\" r:id=\"rId{}\"/>", 256 + i, i + 1))
        .collect();
    let presentation = format!(
        "<p:presentation xmlns:p=\"{p}\" xmlns:r=\"{r}\"><p:sldIdLst>{ids}</p:sldIdLst></p:presentation>"
    );
    let slide_kind = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/slide";
    let targets: Vec<(String, String)> = (0..body.len())
        .map(|i| {
            (
                format!("rId{}", i + 1),
                format!("slides/slide{}.xml", i + 1),
            )
        })
        .collect();
    let rels: Vec<(&str, &str, &str)> = targets
        .iter()
        .map(|(id, target)| (id.as_str(), slide_kind, target.as_str()))
        .collect();
    let mut entries = vec![
        (
            "_rels/.rels".to_owned(),
            relationships(&[("rId1", OFFICE_DOC, "ppt/presentation.xml")]),
        ),
        ("ppt/presentation.xml".to_owned(), presentation.into_bytes()),
        (
            "ppt/_rels/presentation.xml.rels".to_owned(),
            relationships(&rels),
        ),
    ];
    for (i, (heading, paragraphs)) in body.iter().enumerate() {
        let text: String = paragraphs
            .iter()
            .map(|t| format!("<a:p><a:r><a:t>{}</a:t></a:r></a:p>", xml_escape(t)))
            .collect();
        let slide = format!(
            "<p:sld xmlns:p=\"{p}\" xmlns:a=\"{a}\"><p:cSld><p:spTree>\
             <p:sp><p:nvSpPr><p:cNvPr id=\"2\" name=\"Title 1\"/><p:cNvSpPr/><p:nvPr><p:ph type=\"title\"/></p:nvPr></p:nvSpPr>\
             <p:txBody><a:p><a:r><a:t>{}</a:t></a:r></a:p></p:txBody></p:sp>\
             <p:sp><p:nvSpPr><p:cNvPr id=\"3\" name=\"Content 2\"/><p:cNvSpPr/><p:nvPr><p:ph idx=\"1\"/></p:nvPr></p:nvSpPr>\
             <p:txBody>{text}</p:txBody></p:sp></p:spTree></p:cSld></p:sld>",
            xml_escape(heading)
        );
        entries.push((format!("ppt/slides/slide{}.xml", i + 1), slide.into_bytes()));
    }
    let borrowed: Vec<(&str, Vec<u8>)> = entries
        .iter()
        .map(|(n, c)| (n.as_str(), c.clone()))
        .collect();
    zip_of(&borrowed)
}

/// A workbook with one sheet of `rows` rows (a header and inline strings and numbers).
pub fn xlsx(prose: &mut Prose, rows: usize) -> Vec<u8> {
    let main = "http://schemas.openxmlformats.org/spreadsheetml/2006/main";
    let r = "http://schemas.openxmlformats.org/officeDocument/2006/relationships";
    let cell = |col: char, row: usize, text: &str| {
        format!(
            "<c r=\"{col}{row}\" t=\"inlineStr\"><is><t>{}</t></is></c>",
            xml_escape(text)
        )
    };
    let mut sheet = format!("<worksheet xmlns=\"{main}\"><sheetData>");
    sheet.push_str(&format!(
        "<row r=\"1\">{}{}{}{}</row>",
        cell('A', 1, "Item"),
        cell('B', 1, "Owner"),
        cell('C', 1, "Amount"),
        cell('D', 1, "Note")
    ));
    for i in 0..rows {
        let row = i + 2;
        sheet.push_str(&format!(
            "<row r=\"{row}\">{}{}<c r=\"C{row}\"><v>{}</v></c>{}</row>",
            cell('A', row, &prose.title()),
            cell('B', row, prose.word()),
            (i * 13) % 900,
            cell('D', row, &prose.sentence())
        ));
    }
    sheet.push_str("</sheetData></worksheet>");
    let workbook = format!(
        "<workbook xmlns=\"{main}\" xmlns:r=\"{r}\"><sheets><sheet name=\"Register\" sheetId=\"1\" r:id=\"rId1\"/></sheets></workbook>"
    );
    zip_of(&[
        (
            "_rels/.rels",
            relationships(&[("rId1", OFFICE_DOC, "xl/workbook.xml")]),
        ),
        ("xl/workbook.xml", workbook.into_bytes()),
        (
            "xl/_rels/workbook.xml.rels",
            relationships(&[(
                "rId1",
                "http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet",
                "worksheets/sheet1.xml",
            )]),
        ),
        ("xl/worksheets/sheet1.xml", sheet.into_bytes()),
    ])
}
