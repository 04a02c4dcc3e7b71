//! CSV: the first row names the columns; every later row becomes one `Header: value; …` line.

use super::table::RowWriter;
use crate::model::{ParsedDocument, Section};

pub(super) const MIME: &str = "text/csv";

pub(super) fn parse(text: &str, fallback_title: String) -> Result<ParsedDocument, String> {
    let mut reader = ::csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(sniff_delimiter(text))
        .from_reader(text.as_bytes());
    let mut rows = RowWriter::default();
    let mut cells = Vec::new();
    for (index, record) in reader.records().enumerate() {
        let record = record.map_err(|e| format!("invalid CSV at record {}: {e}", index + 1))?;
        cells.clear();
        cells.extend(record.iter().map(str::to_owned).enumerate());
        rows.push(&cells, |column| format!("Column {}", column + 1));
    }
    Ok(ParsedDocument {
        title: fallback_title,
        mime: MIME,
        sections: vec![Section {
            text: rows.finish(),
            ..Section::default()
        }],
    })
}

/// Spreadsheet exports use `;` where the comma is the decimal separator, and some use tabs: the
/// candidate that splits the header line most wins.
fn sniff_delimiter(text: &str) -> u8 {
    let header = text.lines().next().unwrap_or_default();
    let mut in_quotes = false;
    let mut counts = [0usize; 3];
    for c in header.chars() {
        match c {
            '"' => in_quotes = !in_quotes,
            ',' if !in_quotes => counts[0] += 1,
            ';' if !in_quotes => counts[1] += 1,
            '\t' if !in_quotes => counts[2] += 1,
            _ => {}
        }
    }
    let candidates = [b',', b';', b'\t'];
    let best = (0..3).max_by_key(|&i| (counts[i], 3 - i)).unwrap_or(0);
    candidates[best]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn semicolons_and_tabs_are_detected() {
        assert_eq!(sniff_delimiter("a,b,c\n1,2,3"), b',');
        assert_eq!(sniff_delimiter("a;b;\"c,d\"\n1;2;3"), b';');
        assert_eq!(sniff_delimiter("a\tb\n1\t2"), b'\t');
        assert_eq!(sniff_delimiter("single"), b',');
        let doc = parse("Name;Amount\nAna;1,5\n", "t".into()).unwrap();
        assert_eq!(doc.sections[0].text, "Name: Ana; Amount: 1,5");
    }
}
