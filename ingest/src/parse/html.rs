//! HTML via scraper (html5ever): keeps headings and readable text, drops scripts, styles and navigation.

use scraper::{ElementRef, Html, Node, Selector};

use super::collapse_whitespace;
use super::sections::SectionCollector;
use crate::model::ParsedDocument;

/// Elements whose content is never document text.
const SKIPPED: &[&str] = &[
    "script", "style", "noscript", "template", "nav", "footer", "aside", "svg", "head", "iframe",
    "button", "select", "form",
];
const BLOCKS: &[&str] = &[
    "p",
    "div",
    "section",
    "article",
    "main",
    "header",
    "ul",
    "ol",
    "li",
    "table",
    "tr",
    "pre",
    "blockquote",
    "dl",
    "dt",
    "dd",
    "figure",
    "figcaption",
    "br",
    "hr",
    "address",
];
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

fn heading_level(name: &str) -> Option<usize> {
    match name {
        "h1" => Some(1),
        "h2" => Some(2),
        "h3" => Some(3),
        "h4" => Some(4),
        "h5" => Some(5),
        "h6" => Some(6),
        _ => None,
    }
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
                Node::Text(text) => self.push_text(text),
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

    fn push_text(&mut self, text: &str) {
        let current = &mut self.sections.current;
        if self.in_pre {
            current.push_str(text);
            return;
        }
        let collapsed = collapse_whitespace(text);
        if collapsed.is_empty() {
            return;
        }
        let needs_space = text.starts_with(char::is_whitespace)
            && !current.is_empty()
            && !current.ends_with(char::is_whitespace);
        if needs_space {
            current.push(' ');
        }
        current.push_str(&collapsed);
        if text.ends_with(char::is_whitespace) {
            current.push(' ');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: &str = r#"<!doctype html><html><head><title>Expense &amp; Travel</title>
        <style>body{color:red}</style></head><body>
        <nav><a href="/">Home</a> <a href="/it">IT menu</a></nav>
        <header><h1>Expense &amp; Travel</h1></header>
        <script>var secret = "tracking";</script>
        <h2>Per diem</h2><p>Mexico:&nbsp;1,200 MXN per day.</p>
        <table><tr><th>City</th><th>Amount</th></tr><tr><td>Monterrey</td><td>900</td></tr></table>
        <h3>Receipts</h3><ul><li>Keep every receipt</li><li>Scan within 5 days</li></ul>
        <footer>Copyright Acme</footer></body></html>"#;

    #[test]
    fn keeps_headings_and_text_drops_noise() {
        let doc = parse(PAGE, "f".into());
        assert_eq!(doc.title, "Expense & Travel");
        let all: String = doc.sections.iter().map(|s| s.text.as_str()).collect();
        for noise in ["tracking", "color:red", "IT menu", "Copyright"] {
            assert!(!all.contains(noise), "{noise} leaked into {all:?}");
        }
        let per_diem = &doc.sections[0];
        assert_eq!(per_diem.heading_path, ["Per diem"]);
        assert!(
            per_diem.text.contains("Mexico:\u{a0}1,200 MXN")
                || per_diem.text.contains("Mexico: 1,200 MXN")
        );
        assert!(per_diem.text.contains("Monterrey | 900"));
        assert_eq!(doc.sections[1].heading_path, ["Per diem", "Receipts"]);
        assert!(
            doc.sections[1]
                .text
                .contains("- Keep every receipt\n- Scan within 5 days")
        );
    }
}
