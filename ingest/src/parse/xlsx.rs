//! XLSX (SpreadsheetML): one section per worksheet (heading = sheet name); the first non-empty row
//! names the columns and every later row becomes a `Header: value; …` line. Shared and inline
//! strings, booleans and formula results are read as Excel shows them; numbers formatted as dates
//! become ISO dates.

use std::collections::HashMap;

use chrono::{Days, NaiveDate, NaiveTime, Timelike};
use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};

use super::ooxml::{Package, attr, event_text, relationship_id};
use super::table::RowWriter;
use crate::model::{ParsedDocument, Section};

pub(super) const MIME: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

pub(super) fn parse(
    bytes: &[u8],
    fallback_title: String,
    budget: u64,
) -> Result<ParsedDocument, String> {
    let mut package = Package::open("XLSX", bytes, budget)?;
    let workbook_part = package.main_part("xl/workbook.xml")?;
    let workbook_xml = package.read_required(&workbook_part)?;
    let workbook =
        read_workbook(&workbook_xml).map_err(|e| package.xml_error(&workbook_part, &e))?;
    let rels = package.relationships(&workbook_part)?;
    let part_of = |kind: &str| {
        rels.iter()
            .find(|r| r.kind == kind)
            .map(|r| r.target.clone())
    };
    let strings = match part_of("sharedStrings") {
        Some(part) => match package.read(&part)? {
            Some(xml) => read_shared_strings(&xml).map_err(|e| package.xml_error(&part, &e))?,
            None => Vec::new(),
        },
        None => Vec::new(),
    };
    let date_styles = match part_of("styles") {
        Some(part) => match package.read(&part)? {
            Some(xml) => read_date_styles(&xml).map_err(|e| package.xml_error(&part, &e))?,
            None => Vec::new(),
        },
        None => Vec::new(),
    };
    let cells = CellReader {
        strings: &strings,
        date_styles: &date_styles,
        date1904: workbook.date1904,
    };
    let mut sections = Vec::new();
    for (name, rel_id) in &workbook.sheets {
        // Chart sheets and dialog sheets have no cells.
        let Some(rel) = rels
            .iter()
            .find(|r| &r.id == rel_id && r.kind == "worksheet")
        else {
            continue;
        };
        let Some(xml) = package.read(&rel.target)? else {
            continue;
        };
        let text = cells
            .sheet_text(&xml)
            .map_err(|e| package.xml_error(&rel.target, &e))?;
        if !text.is_empty() {
            sections.push(Section {
                heading_path: vec![name.clone()],
                text,
                page: None,
            });
        }
    }
    let title = package.core_title()?.unwrap_or(fallback_title);
    Ok(ParsedDocument {
        title,
        mime: MIME,
        sections,
    })
}

#[derive(Default)]
struct Workbook {
    /// (sheet name, relationship id) in tab order.
    sheets: Vec<(String, String)>,
    date1904: bool,
}

fn read_workbook(xml: &str) -> Result<Workbook, quick_xml::Error> {
    let mut workbook = Workbook::default();
    let mut reader = Reader::from_str(xml);
    loop {
        match reader.read_event()? {
            Event::Start(e) | Event::Empty(e) => match e.local_name().as_ref() {
                "sheet" => {
                    if let (Some(name), Some(id)) = (attr(&e, "name"), relationship_id(&e)) {
                        workbook.sheets.push((name, id));
                    }
                }
                "workbookPr" => {
                    workbook.date1904 =
                        matches!(attr(&e, "date1904").as_deref(), Some("1" | "true"));
                }
                _ => {}
            },
            Event::Eof => return Ok(workbook),
            _ => {}
        }
    }
}

/// The shared string table; phonetic runs (`rPh`, furigana) are not part of the text.
fn read_shared_strings(xml: &str) -> Result<Vec<String>, quick_xml::Error> {
    let mut strings = Vec::new();
    let mut current = String::new();
    let mut in_text = false;
    let mut reader = Reader::from_str(xml);
    loop {
        let event = reader.read_event()?;
        match &event {
            Event::Start(e) => match e.local_name().as_ref() {
                "si" => current.clear(),
                "t" => in_text = true,
                "rPh" => {
                    reader.read_to_end(e.name())?;
                }
                _ => {}
            },
            Event::Empty(e) if e.local_name().as_ref() == "si" => strings.push(String::new()),
            Event::End(e) => match e.local_name().as_ref() {
                "si" => strings.push(std::mem::take(&mut current)),
                "t" => in_text = false,
                _ => {}
            },
            Event::Eof => return Ok(strings),
            _ if in_text => {
                if let Some(text) = event_text(&event) {
                    current.push_str(&text);
                }
            }
            _ => {}
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DateKind {
    Date,
    Time,
    DateTime,
}

/// For each cell style (`cellXfs` index), whether its number format shows a date or time.
fn read_date_styles(xml: &str) -> Result<Vec<Option<DateKind>>, quick_xml::Error> {
    let mut custom: HashMap<u32, Option<DateKind>> = HashMap::new();
    let mut format_ids = Vec::new();
    let mut in_cell_xfs = false;
    let mut reader = Reader::from_str(xml);
    loop {
        match reader.read_event()? {
            Event::Start(e) | Event::Empty(e) => match e.local_name().as_ref() {
                "numFmt" => {
                    let id = attr(&e, "numFmtId").and_then(|v| v.parse().ok());
                    if let (Some(id), Some(code)) = (id, attr(&e, "formatCode")) {
                        custom.insert(id, date_kind_of_code(&code));
                    }
                }
                "cellXfs" => in_cell_xfs = true,
                "xf" if in_cell_xfs => {
                    format_ids.push(attr(&e, "numFmtId").and_then(|v| v.parse::<u32>().ok()));
                }
                _ => {}
            },
            Event::End(e) if e.local_name().as_ref() == "cellXfs" => in_cell_xfs = false,
            Event::Eof => break,
            _ => {}
        }
    }
    Ok(format_ids
        .into_iter()
        .map(|id| {
            let id = id?;
            custom
                .get(&id)
                .copied()
                .unwrap_or_else(|| builtin_date_kind(id))
        })
        .collect())
}

/// Built-in number formats (ECMA-376 §18.8.30) that show dates or times.
fn builtin_date_kind(id: u32) -> Option<DateKind> {
    match id {
        14..=17 | 27..=31 | 34..=36 | 50..=58 => Some(DateKind::Date),
        18..=21 | 32 | 33 | 45..=47 => Some(DateKind::Time),
        22 => Some(DateKind::DateTime),
        _ => None,
    }
}

/// Date and time tokens of a custom format code, ignoring quoted text, escapes and `[Red]`-style
/// sections (but not elapsed-time `[h]`).
fn date_kind_of_code(code: &str) -> Option<DateKind> {
    let (mut date, mut time) = (false, false);
    let mut chars = code.chars();
    while let Some(c) = chars.next() {
        match c.to_ascii_lowercase() {
            '"' => {
                for q in chars.by_ref() {
                    if q == '"' {
                        break;
                    }
                }
            }
            '\\' | '_' | '*' => {
                chars.next();
            }
            '[' => {
                let inner: String = chars.by_ref().take_while(|&b| b != ']').collect();
                let inner = inner.to_ascii_lowercase();
                if !inner.is_empty() && inner.chars().all(|ch| matches!(ch, 'h' | 'm' | 's')) {
                    time = true;
                }
            }
            'y' | 'd' => date = true,
            'h' | 's' => time = true,
            'm' => {}
            _ => {}
        }
    }
    match (date, time) {
        (true, true) => Some(DateKind::DateTime),
        (true, false) => Some(DateKind::Date),
        (false, true) => Some(DateKind::Time),
        (false, false) => None,
    }
}

struct CellReader<'a> {
    strings: &'a [String],
    date_styles: &'a [Option<DateKind>],
    date1904: bool,
}

/// The cell being read: its type (`t`), style (`s`) and raw value.
#[derive(Default)]
struct Cell {
    column: usize,
    kind: String,
    style: Option<usize>,
    value: String,
    in_value: bool,
}

impl CellReader<'_> {
    fn sheet_text(&self, xml: &str) -> Result<String, quick_xml::Error> {
        let mut rows = RowWriter::default();
        let mut row: Vec<(usize, String)> = Vec::new();
        let mut cell: Option<Cell> = None;
        let mut next_column = 0;
        let mut reader = Reader::from_str(xml);
        loop {
            let event = reader.read_event()?;
            match &event {
                Event::Start(e) => match e.local_name().as_ref() {
                    "row" => {
                        row.clear();
                        next_column = 0;
                    }
                    "c" => {
                        let started = start_cell(e, next_column);
                        next_column = started.column + 1;
                        cell = Some(started);
                    }
                    // `v` holds the value, `t` the text of an inline string; `f` (formula) is skipped.
                    "v" | "t" => {
                        if let Some(cell) = &mut cell {
                            cell.in_value = true;
                        }
                    }
                    "rPh" => {
                        reader.read_to_end(e.name())?;
                    }
                    _ => {}
                },
                Event::Empty(e) if e.local_name().as_ref() == "c" => {
                    next_column = start_cell(e, next_column).column + 1;
                }
                Event::End(e) => match e.local_name().as_ref() {
                    "v" | "t" => {
                        if let Some(cell) = &mut cell {
                            cell.in_value = false;
                        }
                    }
                    "c" => {
                        if let Some(done) = cell.take() {
                            let value = self.display(&done);
                            if !value.is_empty() {
                                row.push((done.column, value));
                            }
                        }
                    }
                    "row" => rows.push(&row, column_name),
                    _ => {}
                },
                Event::Eof => break,
                _ => {
                    if let Some(cell) = cell.as_mut().filter(|c| c.in_value)
                        && let Some(text) = event_text(&event)
                    {
                        cell.value.push_str(&text);
                    }
                }
            }
        }
        Ok(rows.finish())
    }

    /// The value as Excel would show it, as far as it matters for search.
    fn display(&self, cell: &Cell) -> String {
        let raw = cell.value.trim();
        match cell.kind.as_str() {
            "s" => raw
                .parse::<usize>()
                .ok()
                .and_then(|i| self.strings.get(i))
                .cloned()
                .unwrap_or_default(),
            "b" => match raw {
                "1" => "TRUE".into(),
                "0" => "FALSE".into(),
                other => other.to_owned(),
            },
            // Inline strings, formula strings, errors (`#N/A`) and ISO dates (`d`) are text already.
            "inlineStr" | "str" | "e" | "d" => cell.value.clone(),
            _ => {
                let Ok(number) = raw.parse::<f64>() else {
                    return raw.to_owned();
                };
                let date_kind = cell
                    .style
                    .and_then(|s| self.date_styles.get(s).copied().flatten());
                match date_kind.and_then(|kind| format_date(number, kind, self.date1904)) {
                    Some(date) => date,
                    None => format_number(number),
                }
            }
        }
    }
}

fn start_cell(element: &BytesStart<'_>, next_column: usize) -> Cell {
    let column = attr(element, "r")
        .and_then(|r| column_index(&r))
        .unwrap_or(next_column);
    Cell {
        column,
        kind: attr(element, "t").unwrap_or_default(),
        style: attr(element, "s").and_then(|s| s.parse().ok()),
        ..Cell::default()
    }
}

/// `C7` → 2 (zero-based column of a cell reference).
fn column_index(reference: &str) -> Option<usize> {
    let letters: Vec<u8> = reference
        .bytes()
        .take_while(u8::is_ascii_alphabetic)
        .collect();
    if letters.is_empty() || letters.len() > 3 {
        return None;
    }
    let number = letters.iter().fold(0usize, |n, b| {
        n * 26 + usize::from(b.to_ascii_uppercase() - b'A' + 1)
    });
    Some(number - 1)
}

/// 2 → `Column C`, for columns without a header.
fn column_name(index: usize) -> String {
    let mut letters = Vec::new();
    let mut n = index + 1;
    while n > 0 {
        let rem = (n - 1) % 26;
        letters.push(char::from(b'A' + u8::try_from(rem).unwrap_or(0)));
        n = (n - 1) / 26;
    }
    letters.reverse();
    format!("Column {}", letters.into_iter().collect::<String>())
}

/// Integers without a decimal point; other numbers in their shortest exact form.
fn format_number(number: f64) -> String {
    if number.fract() == 0.0 && number.abs() < 1e15 {
        format!("{number:.0}")
    } else {
        number.to_string()
    }
}

/// An Excel serial date (days since 1899-12-30, or 1904-01-01) as ISO 8601.
fn format_date(serial: f64, kind: DateKind, date1904: bool) -> Option<String> {
    if !(0.0..2_958_466.0).contains(&serial) {
        return None;
    }
    let mut days = serial.trunc();
    let mut seconds = ((serial - days) * 86_400.0).round();
    if seconds >= 86_400.0 {
        days += 1.0;
        seconds = 0.0;
    }
    let time = NaiveTime::from_num_seconds_from_midnight_opt(seconds as u32, 0)?;
    let time_text = if time.second() == 0 {
        time.format("%H:%M").to_string()
    } else {
        time.format("%H:%M:%S").to_string()
    };
    if kind == DateKind::Time {
        return Some(time_text);
    }
    let date = if date1904 {
        NaiveDate::from_ymd_opt(1904, 1, 1)?.checked_add_days(Days::new(days as u64))?
    } else if days < 61.0 {
        // Excel counts the nonexistent 1900-02-29 (serial 60); serials before it start a day later.
        NaiveDate::from_ymd_opt(1899, 12, 31)?.checked_add_days(Days::new(days as u64))?
    } else {
        NaiveDate::from_ymd_opt(1899, 12, 30)?.checked_add_days(Days::new(days as u64))?
    };
    let date_text = date.format("%Y-%m-%d").to_string();
    // A date format hides the time of day, and midnight adds nothing to a date-time.
    Some(if kind == DateKind::Date || seconds == 0.0 {
        date_text
    } else {
        format!("{date_text} {time_text}")
    })
}

#[cfg(test)]
mod tests {
    use super::super::ooxml::tests::zip_of;
    use super::*;

    const CONTENT_TYPES: &[u8] = br#"<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>"#;
    const ROOT_RELS: &[u8] = br#"<?xml version="1.0" encoding="UTF-8"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">
<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>
</Relationships>"#;
    const WORKBOOK: &[u8] = br#"<?xml version="1.0" encoding="UTF-8"?>
<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">
<sheets><sheet name="Per diem" sheetId="1" r:id="rId2"/><sheet name="Empty" sheetId="2" r:id="rId3"/></sheets></workbook>"#;
    const WORKBOOK_RELS: &[u8] = br#"<?xml version="1.0" encoding="UTF-8"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">
<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>
<Relationship Id="rId3" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet2.xml"/>
<Relationship Id="rId4" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/>
<Relationship Id="rId5" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/>
</Relationships>"#;
    const SHARED: &[u8] =
        br#"<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">
<si><t>City</t></si><si><t>Amount</t></si><si><r><t>Monte</t></r><r><t>rrey</t></r></si>
<si><t>Since</t></si><si><t>Tokyo</t><rPh><t>TOOKYOO</t></rPh></si></sst>"#;
    const STYLES: &[u8] = br#"<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">
<numFmts count="1"><numFmt numFmtId="164" formatCode="dd/mm/yyyy"/></numFmts>
<cellStyleXfs count="1"><xf numFmtId="14"/></cellStyleXfs>
<cellXfs count="3"><xf numFmtId="0"/><xf numFmtId="164" applyNumberFormat="1"/><xf numFmtId="4"/></cellXfs></styleSheet>"#;
    const SHEET: &[u8] = br#"<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>
<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c><c r="D1" t="s"><v>3</v></c></row>
<row r="2"><c r="A2" t="s"><v>2</v></c><c r="B2" s="2"><v>900.5</v></c><c r="C2" t="b"><v>1</v></c><c r="D2" s="1"><v>45366</v></c></row>
<row r="3"><c r="A3" t="s"><v>4</v></c><c r="B3"><f>B2*2</f><v>1801</v></c><c r="D3" t="inlineStr"><is><t>n/a &amp; later</t></is></c></row>
<row r="4"><c r="A4" s="1"/></row>
</sheetData></worksheet>"#;
    const EMPTY_SHEET: &[u8] = br#"<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData/></worksheet>"#;

    fn workbook() -> Vec<u8> {
        zip_of(&[
            ("[Content_Types].xml", CONTENT_TYPES),
            ("_rels/.rels", ROOT_RELS),
            ("xl/workbook.xml", WORKBOOK),
            ("xl/_rels/workbook.xml.rels", WORKBOOK_RELS),
            ("xl/sharedStrings.xml", SHARED),
            ("xl/styles.xml", STYLES),
            ("xl/worksheets/sheet1.xml", SHEET),
            ("xl/worksheets/sheet2.xml", EMPTY_SHEET),
        ])
    }

    #[test]
    fn sheets_become_sections_of_header_value_rows() {
        let doc = parse(&workbook(), "Travel rates".into(), 1 << 20).unwrap();
        assert_eq!(doc.title, "Travel rates");
        assert_eq!(doc.mime, MIME);
        assert_eq!(doc.sections.len(), 1, "{:?}", doc.sections);
        let sheet = &doc.sections[0];
        assert_eq!(sheet.heading_path, ["Per diem"]);
        assert_eq!(sheet.page, None);
        assert_eq!(
            sheet.text,
            "City: Monterrey; Amount: 900.5; Column C: TRUE; Since: 2024-03-15\n\
             City: Tokyo; Amount: 1801; Since: n/a & later"
        );
    }

    #[test]
    fn dates_times_and_numbers() {
        assert_eq!(
            format_date(45366.0, DateKind::Date, false).unwrap(),
            "2024-03-15"
        );
        assert_eq!(
            format_date(45366.75, DateKind::DateTime, false).unwrap(),
            "2024-03-15 18:00"
        );
        assert_eq!(format_date(0.5, DateKind::Time, false).unwrap(), "12:00");
        assert_eq!(
            format_date(1.0, DateKind::Date, false).unwrap(),
            "1900-01-01"
        );
        assert_eq!(
            format_date(0.0, DateKind::Date, true).unwrap(),
            "1904-01-01"
        );
        assert_eq!(date_kind_of_code("[Red]#,##0.00"), None);
        assert_eq!(date_kind_of_code("\"day\" 0"), None);
        assert_eq!(
            date_kind_of_code("yyyy-mm-dd hh:mm"),
            Some(DateKind::DateTime)
        );
        assert_eq!(date_kind_of_code("[h]:mm"), Some(DateKind::Time));
        assert_eq!(format_number(3.0), "3");
        assert_eq!(format_number(0.25), "0.25");
        assert_eq!(column_index("AB12"), Some(27));
        assert_eq!(column_name(27), "Column AB");
    }

    #[test]
    fn truncated_and_bomb_archives_are_errors() {
        let bytes = workbook();
        let err = parse(&bytes[..bytes.len() / 2], "t".into(), 1 << 20).unwrap_err();
        assert!(err.starts_with("corrupt XLSX"), "{err}");
        let err = parse(&bytes, "t".into(), 512).unwrap_err();
        assert!(err.contains("zip bomb"), "{err}");
    }
}
