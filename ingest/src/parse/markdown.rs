//! Markdown via pulldown-cmark: headings open sections, front matter may carry the title.

use pulldown_cmark::{Event, HeadingLevel, Options, Parser, Tag, TagEnd};

use super::collapse_whitespace;
use crate::model::{ParsedDocument, Section};

pub(super) fn parse(text: &str, fallback_title: String) -> ParsedDocument {
    let (front_title, body) = split_front_matter(text);
    let mut builder = SectionBuilder::default();
    let options = Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH;
    for event in Parser::new_ext(body, options) {
        builder.handle(event);
    }
    let (sections, first_heading) = builder.finish();
    let title = front_title.or(first_heading).unwrap_or(fallback_title);
    ParsedDocument {
        sections: drop_title_from_paths(sections, &title),
        title,
        mime: "text/markdown",
    }
}

/// `---\ntitle: X\n...\n---` at the very top: returns the title (if any) and the body after it.
fn split_front_matter(text: &str) -> (Option<String>, &str) {
    let Some(rest) = text
        .strip_prefix("---\n")
        .or_else(|| text.strip_prefix("---\r\n"))
    else {
        return (None, text);
    };
    let Some(end) = rest.find("\n---") else {
        return (None, text);
    };
    let (yaml, after) = rest.split_at(end);
    let body = after["\n---".len()..]
        .split_once('\n')
        .map_or("", |(_, body)| body);
    let title = yaml.lines().find_map(|line| {
        let value = line.strip_prefix("title:")?.trim();
        let value = value.trim_matches(|c| c == '"' || c == '\'').trim();
        (!value.is_empty()).then(|| value.to_owned())
    });
    (title, body)
}

/// The title is already the first element of every indexed text; don't repeat it in each heading path.
pub(super) fn drop_title_from_paths(mut sections: Vec<Section>, title: &str) -> Vec<Section> {
    for section in &mut sections {
        if section.heading_path.first().is_some_and(|h| h == title) {
            section.heading_path.remove(0);
        }
    }
    sections
}

#[derive(Default)]
struct SectionBuilder {
    /// Open headings as (level, text), outermost first.
    headings: Vec<(HeadingLevel, String)>,
    heading_text: Option<(HeadingLevel, String)>,
    first_heading: Option<String>,
    current: String,
    sections: Vec<Section>,
    in_code_block: bool,
}

impl SectionBuilder {
    fn handle(&mut self, event: Event<'_>) {
        match event {
            Event::Start(Tag::Heading { level, .. }) => {
                self.heading_text = Some((level, String::new()));
            }
            Event::End(TagEnd::Heading(_)) => self.close_heading(),
            Event::Start(Tag::CodeBlock(_)) => {
                self.in_code_block = true;
                self.newline();
            }
            Event::End(TagEnd::CodeBlock) => {
                self.in_code_block = false;
                self.newline();
            }
            Event::Start(Tag::Item) => {
                self.newline();
                self.current.push_str("- ");
            }
            Event::End(TagEnd::Paragraph | TagEnd::TableHead | TagEnd::TableRow) => {
                self.current.push('\n');
                if !self.current.ends_with("\n\n") {
                    self.current.push('\n');
                }
            }
            Event::End(TagEnd::Item | TagEnd::BlockQuote(_) | TagEnd::List(_)) => self.newline(),
            Event::End(TagEnd::TableCell) => self.push_text(" | "),
            Event::Text(text) | Event::Code(text) => self.push_text(&text),
            Event::SoftBreak => self.push_text(" "),
            Event::HardBreak => self.push_text("\n"),
            _ => {}
        }
    }

    fn push_text(&mut self, text: &str) {
        match &mut self.heading_text {
            Some((_, heading)) => heading.push_str(text),
            None => self.current.push_str(text),
        }
    }

    fn newline(&mut self) {
        if !self.current.is_empty() && !self.current.ends_with('\n') {
            self.current.push('\n');
        }
    }

    fn close_heading(&mut self) {
        let Some((level, text)) = self.heading_text.take() else {
            return;
        };
        let text = collapse_whitespace(&text);
        self.flush();
        if self.first_heading.is_none() && !text.is_empty() {
            self.first_heading = Some(text.clone());
        }
        self.headings.retain(|(open, _)| *open < level);
        self.headings.push((level, text));
    }

    fn flush(&mut self) {
        let text = std::mem::take(&mut self.current);
        let text = text.trim();
        if !text.is_empty() {
            self.sections.push(Section {
                heading_path: self.headings.iter().map(|(_, h)| h.clone()).collect(),
                text: text.to_owned(),
            });
        }
    }

    fn finish(mut self) -> (Vec<Section>, Option<String>) {
        self.flush();
        (self.sections, self.first_heading)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headings_open_sections_with_their_path() {
        let doc = parse(
            "# Guide\nIntro text.\n## Install\nStep one.\n### Linux\nUse apt.\n## Use\nRun it.\n",
            "fallback".into(),
        );
        assert_eq!(doc.title, "Guide");
        let paths: Vec<_> = doc
            .sections
            .iter()
            .map(|s| s.heading_path.join("/"))
            .collect();
        assert_eq!(paths, ["", "Install", "Install/Linux", "Use"]);
        assert_eq!(doc.sections[2].text, "Use apt.");
    }

    #[test]
    fn front_matter_title_wins_and_is_not_text() {
        let doc = parse(
            "---\ntitle: \"Travel policy\"\nowner: Finance\n---\n# Other\nBody\n",
            "f".into(),
        );
        assert_eq!(doc.title, "Travel policy");
        assert!(!doc.sections.iter().any(|s| s.text.contains("owner")));
    }

    #[test]
    fn code_blocks_keep_hash_lines_as_text() {
        let doc = parse("# T\n```\n# not a heading\n```\n", "f".into());
        assert_eq!(doc.sections.len(), 1);
        assert!(doc.sections[0].text.contains("# not a heading"));
    }
}
