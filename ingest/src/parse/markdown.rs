//! Markdown via pulldown-cmark: headings open sections, front matter may carry the title.

use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};

use super::sections::SectionCollector;
use crate::model::ParsedDocument;

pub(super) fn parse(text: &str, fallback_title: String) -> ParsedDocument {
    let (front_title, body) = split_front_matter(text);
    let mut builder = MarkdownBuilder::default();
    let options = Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH;
    for event in Parser::new_ext(body, options) {
        builder.handle(event);
    }
    let collector = builder.sections;
    let title = front_title
        .or_else(|| collector.first_heading.clone())
        .unwrap_or(fallback_title);
    ParsedDocument {
        sections: collector.finish(&title),
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

#[derive(Default)]
struct MarkdownBuilder {
    sections: SectionCollector,
    /// Text of the heading being read, with its level.
    heading: Option<(usize, String)>,
}

impl MarkdownBuilder {
    fn handle(&mut self, event: Event<'_>) {
        match event {
            Event::Start(Tag::Heading { level, .. }) => {
                self.heading = Some((level as usize, String::new()));
            }
            Event::End(TagEnd::Heading(_)) => {
                if let Some((level, text)) = self.heading.take() {
                    self.sections.open_heading(level, &text);
                }
            }
            Event::Start(Tag::CodeBlock(_)) | Event::End(TagEnd::CodeBlock) => {
                self.sections.newline();
            }
            Event::Start(Tag::Item) => {
                self.sections.newline();
                self.sections.current.push_str("- ");
            }
            Event::End(TagEnd::Paragraph | TagEnd::TableHead | TagEnd::TableRow) => {
                self.sections.paragraph_break();
            }
            Event::End(TagEnd::Item | TagEnd::BlockQuote(_) | TagEnd::List(_)) => {
                self.sections.newline();
            }
            Event::End(TagEnd::TableCell) => self.push_text(" | "),
            Event::Text(text) | Event::Code(text) => self.push_text(&text),
            Event::SoftBreak => self.push_text(" "),
            Event::HardBreak => self.push_text("\n"),
            _ => {}
        }
    }

    fn push_text(&mut self, text: &str) {
        match &mut self.heading {
            Some((_, heading)) => heading.push_str(text),
            None => self.sections.current.push_str(text),
        }
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

    #[test]
    fn lists_and_tables_keep_their_shape() {
        let doc = parse(
            "# T\n- one\n- two\n\n| a | b |\n|---|---|\n| 1 | 2 |\n",
            "f".into(),
        );
        let text = &doc.sections[0].text;
        assert!(text.contains("- one\n- two"), "{text:?}");
        assert!(text.contains("1 | 2 |"), "{text:?}");
    }
}
