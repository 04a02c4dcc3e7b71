//! Tabular rows (CSV, spreadsheets) as self-describing lines, `Header: value; Header: value`, so
//! a chunk cut anywhere in a table still says what each value means.

use super::collapse_whitespace;

#[derive(Default)]
pub(super) struct RowWriter {
    /// Header names by column; set by the first row that has any value.
    headers: Option<Vec<String>>,
    text: String,
    rows: usize,
}

impl RowWriter {
    /// Adds a row of `(column, value)` cells; `unnamed` names a column without a header.
    pub fn push(&mut self, cells: &[(usize, String)], unnamed: impl Fn(usize) -> String) {
        let cells: Vec<(usize, String)> = cells
            .iter()
            .map(|(column, value)| (*column, collapse_whitespace(value)))
            .filter(|(_, value)| !value.is_empty())
            .collect();
        if cells.is_empty() {
            return;
        }
        // A lone cell above the real header row is a caption ("Rates 2024"), not a header.
        let caption = self.rows == 0
            && cells.len() > 1
            && self
                .headers
                .as_ref()
                .is_some_and(|h| h.iter().filter(|v| !v.is_empty()).count() == 1);
        if caption && let Some(headers) = self.headers.take() {
            self.text.push_str(&headers.concat());
            self.text.push('\n');
        }
        let Some(headers) = &self.headers else {
            let width = cells.iter().map(|(c, _)| c + 1).max().unwrap_or(0);
            let mut headers = vec![String::new(); width];
            for (column, value) in cells {
                headers[column] = value;
            }
            self.headers = Some(headers);
            return;
        };
        let line = cells
            .iter()
            .map(|(column, value)| {
                let header = headers.get(*column).filter(|h| !h.is_empty());
                match header {
                    Some(header) => format!("{header}: {value}"),
                    None => format!("{}: {value}", unnamed(*column)),
                }
            })
            .collect::<Vec<_>>()
            .join("; ");
        self.text.push_str(&line);
        self.text.push('\n');
        self.rows += 1;
    }

    /// The rendered rows; a table without data rows keeps its header names as its text.
    pub fn finish(mut self) -> String {
        if self.rows == 0 {
            let headers = self.headers.unwrap_or_default();
            let names: Vec<String> = headers.into_iter().filter(|h| !h.is_empty()).collect();
            self.text.push_str(&names.join("; "));
        }
        self.text.trim_end().to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(values: &[&str]) -> Vec<(usize, String)> {
        values
            .iter()
            .enumerate()
            .map(|(i, v)| (i, (*v).to_owned()))
            .collect()
    }

    #[test]
    fn rows_name_their_values_and_skip_empty_cells() {
        let mut writer = RowWriter::default();
        writer.push(&row(&["", "", ""]), |c| format!("Column {}", c + 1));
        writer.push(&row(&["City", "", "Per diem"]), |c| {
            format!("Column {}", c + 1)
        });
        writer.push(&row(&["Monterrey", "x", " 900 "]), |c| {
            format!("Column {}", c + 1)
        });
        writer.push(&row(&["Oaxaca", "", "", "late\nfee"]), |c| {
            format!("Column {}", c + 1)
        });
        assert_eq!(
            writer.finish(),
            "City: Monterrey; Column 2: x; Per diem: 900\nCity: Oaxaca; Column 4: late fee"
        );
    }

    #[test]
    fn a_caption_above_the_headers_stays_a_line() {
        let mut writer = RowWriter::default();
        writer.push(&row(&["Per diem 2024"]), |c| c.to_string());
        writer.push(&row(&["City", "Amount"]), |c| c.to_string());
        writer.push(&row(&["Oaxaca", "750"]), |c| c.to_string());
        writer.push(&row(&["Total only"]), |c| c.to_string());
        assert_eq!(
            writer.finish(),
            "Per diem 2024\nCity: Oaxaca; Amount: 750\nCity: Total only"
        );
    }

    #[test]
    fn a_header_only_table_keeps_its_headers() {
        let mut writer = RowWriter::default();
        writer.push(&row(&["Name", "Email"]), |c| c.to_string());
        assert_eq!(writer.finish(), "Name; Email");
    }
}
