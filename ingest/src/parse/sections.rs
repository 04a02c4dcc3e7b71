//! Collects text into heading-delimited sections; shared by the structured parsers.

use super::collapse_whitespace;
use crate::model::Section;

#[derive(Default)]
pub(super) struct SectionCollector {
    /// Open headings as (level, text), outermost first.
    headings: Vec<(usize, String)>,
    pub first_heading: Option<String>,
    /// Text of the section being collected; parsers append to it directly.
    pub current: String,
    sections: Vec<Section>,
}

impl SectionCollector {
    /// Closes the current section and opens one under `text` at `level` (1 = outermost).
    pub fn open_heading(&mut self, level: usize, text: &str) {
        let text = collapse_whitespace(text);
        if text.is_empty() {
            return;
        }
        self.flush();
        if self.first_heading.is_none() {
            self.first_heading = Some(text.clone());
        }
        self.headings.retain(|(open, _)| *open < level);
        self.headings.push((level, text));
    }

    /// Ends the current line unless it is already ended.
    pub fn newline(&mut self) {
        let trimmed_len = self.current.trim_end_matches([' ', '\t']).len();
        self.current.truncate(trimmed_len);
        if !self.current.is_empty() && !self.current.ends_with('\n') {
            self.current.push('\n');
        }
    }

    /// Ends the current paragraph with a blank line.
    pub fn paragraph_break(&mut self) {
        self.newline();
        if !self.current.is_empty() && !self.current.ends_with("\n\n") {
            self.current.push('\n');
        }
    }

    fn flush(&mut self) {
        let text = std::mem::take(&mut self.current);
        let text = text.trim();
        if !text.is_empty() {
            self.sections.push(Section {
                heading_path: self.headings.iter().map(|(_, h)| h.clone()).collect(),
                text: text.to_owned(),
                page: None,
            });
        }
    }

    /// The sections, with the document title removed from the front of heading paths (the title
    /// already starts every indexed text).
    pub fn finish(mut self, title: &str) -> Vec<Section> {
        self.flush();
        for section in &mut self.sections {
            if section.heading_path.first().is_some_and(|h| h == title) {
                section.heading_path.remove(0);
            }
        }
        self.sections
    }
}
