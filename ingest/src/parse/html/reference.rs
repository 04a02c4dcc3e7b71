//! The DOM walker HTML was parsed with before the token walker (scraper builds the tree the
//! standard's tree builder builds): kept as the reference the token walker is held to.

use scraper::{ElementRef, Html, Node, Selector};

use super::super::collapse_whitespace;
use super::super::sections::SectionCollector;
use super::elements::{BLOCKS, SKIPPED, heading_level};
use super::push_text;
use crate::model::ParsedDocument;

/// Deeper trees are truncated rather than risking the stack on hostile input.
const MAX_DEPTH: usize = 256;

pub(super) fn parse(text: &str, fallback_title: String) -> ParsedDocument {
    let html = Html::parse_document(text);
    let mut walker = Walker::default();
    let root = body(&html).unwrap_or_else(|| html.root_element());
    walker.walk(root, 0);
    let title = page_title(&html)
        .or_else(|| walker.sections.first_heading.clone())
        .unwrap_or(fallback_title);
    ParsedDocument {
        sections: walker.sections.finish(&title),
        title,
        mime: "text/html",
    }
}

fn body(html: &Html) -> Option<ElementRef<'_>> {
    let selector = Selector::parse("body").ok()?;
    html.select(&selector).next()
}

fn page_title(html: &Html) -> Option<String> {
    let selector = Selector::parse("title").ok()?;
    let title = collapse_whitespace(&html.select(&selector).next()?.text().collect::<String>());
    (!title.is_empty()).then_some(title)
}

#[derive(Default)]
struct Walker {
    sections: SectionCollector,
    in_pre: bool,
}

impl Walker {
    fn walk(&mut self, element: ElementRef<'_>, depth: usize) {
        if depth > MAX_DEPTH {
            return;
        }
        let name = element.value().name();
        if SKIPPED.contains(&name) || element.value().attr("role") == Some("navigation") {
            return;
        }
        if let Some(level) = heading_level(name) {
            self.sections
                .open_heading(level, &element.text().collect::<String>());
            return;
        }
        let is_block = BLOCKS.contains(&name);
        let was_pre = self.in_pre;
        self.in_pre |= name == "pre";
        if is_block {
            self.sections.newline();
        }
        if name == "li" {
            self.sections.current.push_str("- ");
        }
        for child in element.children() {
            match child.value() {
                Node::Text(text) => push_text(&mut self.sections.current, text, self.in_pre),
                Node::Element(_) => {
                    if let Some(child) = ElementRef::wrap(child) {
                        self.walk(child, depth + 1);
                    }
                }
                _ => {}
            }
        }
        if matches!(name, "td" | "th") {
            self.sections.current.push_str(" | ");
        }
        if name == "p" {
            self.sections.paragraph_break();
        } else if is_block {
            self.sections.newline();
        }
        self.in_pre = was_pre;
    }
}
