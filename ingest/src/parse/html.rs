//! HTML: keeps headings and readable text, drops scripts, styles and navigation.
//!
//! html5ever's tokenizer feeds a walker that keeps only a stack of open element names: building
//! the document tree (scraper) was half of HTML's cost and ≈ 9 % of a sync's CPU, for a tree
//! that was read once, in order. The walker closes elements the way the HTML tree builder does
//! wherever that changes the text: an end tag closes what it encloses (within the same limits),
//! `p`, `li`, `dt`/`dd`, table cells and headings are closed by what the standard says ends them,
//! a `head` left open ends at the first body content, and text split by character references is
//! one text node. A test holds it to the tree builder on real pages (`html/tests.rs`). One
//! repair is not followed: text between a table's rows stays where it stands, where the tree
//! builder moves it before the table.

mod elements;

use std::cell::RefCell;

use html5ever::LocalName;
use html5ever::tendril::StrTendril;
use html5ever::tokenizer::states::RawKind;
use html5ever::tokenizer::{
    BufferQueue, Tag, TagKind, Token, TokenSink, TokenSinkResult, Tokenizer, TokenizerOpts,
};

use super::collapse_whitespace;
use super::sections::SectionCollector;
use crate::model::ParsedDocument;
use elements::{
    BLOCKS, CLOSES_P, HEAD_CONTENT, SKIPPED, TABLE_PARTS, heading_level, is_scope_boundary,
    is_special, is_void,
};

/// Open elements followed at most: what is nested deeper (hostile input) is not read, and the
/// scopes searched for every tag stay short.
const MAX_OPEN: usize = 512;

pub(super) fn parse(text: &str, fallback_title: String) -> ParsedDocument {
    let tokenizer = Tokenizer::new(TextSink::default(), TokenizerOpts::default());
    let input = BufferQueue::default();
    input.push_back(StrTendril::from_slice(text));
    // The sink never asks for a script to run, so the whole input is consumed in one call.
    let _ = tokenizer.feed(&input);
    tokenizer.end();
    let walker = tokenizer.sink.0.into_inner();
    let title = walker
        .title
        .and_then(|t| t.filter(|t| !t.is_empty()))
        .or_else(|| walker.sections.first_heading.clone())
        .unwrap_or(fallback_title);
    ParsedDocument {
        sections: walker.sections.finish(&title),
        title,
        mime: "text/html",
    }
}

#[derive(Default)]
struct TextSink(RefCell<Walker>);

impl TokenSink for TextSink {
    type Handle = ();

    fn process_token(&self, token: Token, _line: u64) -> TokenSinkResult<()> {
        self.0.borrow_mut().token(token)
    }
}

/// A heading being read: its text goes to the section path when it closes.
struct Heading {
    level: usize,
    depth: usize,
    text: String,
}

#[derive(Default)]
struct Walker {
    sections: SectionCollector,
    /// Names of the open elements, outermost first (`html` and `body` are implied).
    open: Vec<LocalName>,
    /// Depth of the element whose content is not document text (script, nav, …).
    skip_from: Option<usize>,
    /// Depth of the open `head` (its content ends at the first body content).
    head_at: Option<usize>,
    head_seen: bool,
    pre_from: Option<usize>,
    /// Depth of the open `svg` or `math`, where `<x/>` closes itself.
    foreign_from: Option<usize>,
    heading: Option<Heading>,
    /// The first `title`'s text: None until one is met, then its collapsed text.
    title: Option<Option<String>>,
    title_at: Option<usize>,
    title_text: String,
    /// Adjacent character tokens: one text node, as the tree builder merges them.
    pending: String,
    /// The first newline of a `pre` is not content.
    after_pre_start: bool,
    /// Whether the page is read in quirks mode (by its doctype), once known.
    quirks: Option<bool>,
}

impl Walker {
    fn token(&mut self, token: Token) -> TokenSinkResult<()> {
        match token {
            Token::CharacterTokens(text) => {
                let in_head = self.head_at.is_some_and(|at| at + 1 == self.open.len());
                if in_head && !text.trim().is_empty() {
                    self.flush_text();
                    self.close_head();
                }
                self.pending.push_str(&text);
            }
            Token::TagToken(tag) => {
                // Text is not flushed here: a tag the tree builder ignores (a stray end tag, a
                // row with no table) leaves the text around it one node. What inserts or closes
                // an element flushes first (`start`, `pop_to`, `opened_void`).
                // A page that starts without a doctype is read in quirks mode.
                let _ = self.quirks.get_or_insert(true);
                return match tag.kind {
                    TagKind::StartTag => self.start(&tag),
                    TagKind::EndTag => {
                        self.end(&tag.name);
                        TokenSinkResult::Continue
                    }
                };
            }
            Token::CommentToken(_) => self.flush_text(),
            Token::EOFToken => {
                self.flush_text();
                self.pop_to(0);
            }
            Token::DoctypeToken(doctype) => {
                if self.quirks.is_none() {
                    self.quirks = Some(elements::is_quirky(&doctype));
                }
            }
            Token::NullCharacterToken | Token::ParseError(_) => {}
        }
        TokenSinkResult::Continue
    }

    fn start(&mut self, tag: &Tag) -> TokenSinkResult<()> {
        let name: &str = &tag.name;
        // `html` and `body` are implied; a second `head` is ignored, as the tree builder does.
        if name == "html" || (name == "head" && self.head_seen) {
            return TokenSinkResult::Continue;
        }
        if !HEAD_CONTENT.contains(&name) {
            self.close_head();
        }
        if name == "body" || self.is_stray_table_part(name) {
            return TokenSinkResult::Continue;
        }
        self.flush_text();
        if self.open.len() >= MAX_OPEN {
            // Too deep to follow: the tag is not read, nor (see `flush_text`) its text.
            return raw_text_of(name);
        }
        self.close_implied_by(name);
        let foreign = self.foreign_from.is_some() || matches!(name, "svg" | "math");
        let void = is_void(name) || (tag.self_closing && foreign);
        let depth = self.open.len();
        if !void {
            self.open.push(tag.name.clone());
            if matches!(name, "svg" | "math") {
                self.foreign_from.get_or_insert(depth);
            }
        }
        self.opened(tag, depth, !void);
        raw_text_of(name)
    }

    /// A row, cell or other table part with no table (or template) open: the tree builder drops
    /// the tag and keeps its text, so it adds no cell separator or line end. Inside `svg`/`math`
    /// it is a foreign element like any other.
    fn is_stray_table_part(&self, name: &str) -> bool {
        TABLE_PARTS.contains(&name)
            && self.foreign_from.is_none()
            && !self
                .open
                .iter()
                .any(|n| matches!(&**n, "table" | "template"))
    }

    /// What an element's start tag adds to the text; `pushed` if it stays open.
    fn opened(&mut self, tag: &Tag, depth: usize, pushed: bool) {
        let name: &str = &tag.name;
        if pushed && name == "title" && self.title.is_none() {
            self.title_at = Some(depth);
        }
        if name == "head" {
            self.head_seen = true;
            self.head_at = pushed.then_some(depth);
        }
        if self.skip_from.is_some() || self.heading.is_some() {
            return;
        }
        let navigation = tag
            .attrs
            .iter()
            .any(|a| &*a.name.local == "role" && &*a.value == "navigation");
        if SKIPPED.contains(&name) || navigation {
            if pushed {
                self.skip_from = Some(depth);
            }
            return;
        }
        if let Some(level) = heading_level(name) {
            if pushed {
                self.heading = Some(Heading {
                    level,
                    depth,
                    text: String::new(),
                });
            }
            return;
        }
        if BLOCKS.contains(&name) {
            self.sections.newline();
        }
        match name {
            "li" => self.sections.current.push_str("- "),
            "pre" if pushed => {
                self.pre_from.get_or_insert(depth);
                self.after_pre_start = true;
            }
            _ => {}
        }
    }

    /// The open elements a start tag closes by the tree builder's rules.
    fn close_implied_by(&mut self, name: &str) {
        // In quirks mode a table may sit inside a paragraph.
        let table_in_p = name == "table" && self.quirks == Some(true);
        if CLOSES_P.contains(&name) && !table_in_p {
            self.close_in_scope("p", |n| is_scope_boundary(n) || n == "button");
        }
        match name {
            "li" => self.close_sibling(&["li"], &["ul", "ol"]),
            "dt" | "dd" => self.close_sibling(&["dt", "dd"], &["dl"]),
            "td" | "th" => self.close_sibling(&["td", "th"], &["table", "tr"]),
            "tr" => {
                self.close_sibling(&["td", "th"], &["table", "tr"]);
                self.close_sibling(&["tr"], &["table", "tbody", "thead", "tfoot"]);
            }
            // A heading does not nest in a heading: the open one ends.
            _ if heading_level(name).is_some()
                && self.open.last().is_some_and(|n| heading_level(n).is_some()) =>
            {
                self.pop_to(self.open.len() - 1);
            }
            _ => {}
        }
    }

    /// Closes the nearest open element named in `siblings`, unless a container in `within` (or
    /// another special element but `address`, `div` and `p`) comes first.
    fn close_sibling(&mut self, siblings: &[&str], within: &[&str]) {
        for (depth, open) in self.open.iter().enumerate().rev() {
            let open: &str = open;
            if siblings.contains(&open) {
                self.pop_to(depth);
                return;
            }
            let passable = matches!(open, "address" | "div" | "p");
            if within.contains(&open) || (is_special(open) && !passable) {
                return;
            }
        }
    }

    fn close_in_scope(&mut self, name: &str, boundary: impl Fn(&str) -> bool) -> bool {
        for (depth, open) in self.open.iter().enumerate().rev() {
            if &**open == name {
                self.pop_to(depth);
                return true;
            }
            if boundary(open) {
                return false;
            }
        }
        false
    }

    fn end(&mut self, name: &str) {
        match name {
            "html" | "body" => {}
            "br" => self.opened_void("br"),
            "p" => {
                if !self.close_in_scope("p", |n| is_scope_boundary(n) || n == "button") {
                    // `</p>` with no open `p` is an empty paragraph.
                    self.opened_void("p");
                    self.closed("p", usize::MAX);
                }
            }
            _ if heading_level(name).is_some() => {
                self.close_in_scope_any(|n| heading_level(n).is_some());
            }
            "table" | "caption" | "tbody" | "thead" | "tfoot" | "tr" | "td" | "th" => {
                // "In table scope": only a table (or the page) stops the search.
                self.close_in_scope(name, |n| matches!(n, "html" | "table" | "template"));
            }
            _ => {
                let special = is_special(name);
                self.close_in_scope(name, |n| {
                    if special {
                        is_scope_boundary(n)
                    } else {
                        is_special(n)
                    }
                });
            }
        }
    }

    fn close_in_scope_any(&mut self, wanted: impl Fn(&str) -> bool) {
        for (depth, open) in self.open.iter().enumerate().rev() {
            if wanted(open) {
                self.pop_to(depth);
                return;
            }
            if is_scope_boundary(open) {
                return;
            }
        }
    }

    /// A start tag's text effect for an element that does not stay open.
    fn opened_void(&mut self, name: &str) {
        self.flush_text();
        if self.skip_from.is_none() && self.heading.is_none() && BLOCKS.contains(&name) {
            self.sections.newline();
        }
    }

    fn close_head(&mut self) {
        if let Some(depth) = self.head_at {
            self.pop_to(depth);
        }
    }

    /// Closes the open elements from `depth` up, innermost first.
    fn pop_to(&mut self, depth: usize) {
        if self.open.len() > depth {
            self.flush_text();
        }
        while self.open.len() > depth {
            let Some(name) = self.open.pop() else { break };
            self.closed(&name, self.open.len());
        }
    }

    /// What closing the element at `depth` adds to the text.
    fn closed(&mut self, name: &str, depth: usize) {
        if self.title_at == Some(depth) {
            self.title_at = None;
            self.title = Some(Some(collapse_whitespace(&std::mem::take(
                &mut self.title_text,
            ))));
        }
        if self.head_at == Some(depth) {
            self.head_at = None;
        }
        if self.pre_from == Some(depth) {
            self.pre_from = None;
        }
        if self.foreign_from == Some(depth) {
            self.foreign_from = None;
        }
        if let Some(heading) = self.heading.take_if(|h| h.depth == depth) {
            self.sections.open_heading(heading.level, &heading.text);
            return;
        }
        if self.skip_from == Some(depth) {
            self.skip_from = None;
            return;
        }
        if self.skip_from.is_some() || self.heading.is_some() {
            return;
        }
        if matches!(name, "td" | "th") {
            self.sections.current.push_str(" | ");
        }
        if name == "p" {
            self.sections.paragraph_break();
        } else if BLOCKS.contains(&name) {
            self.sections.newline();
        }
    }

    fn flush_text(&mut self) {
        let after_pre_start = std::mem::take(&mut self.after_pre_start);
        if self.pending.is_empty() {
            return;
        }
        let pending = std::mem::take(&mut self.pending);
        let mut text = pending.as_str();
        if after_pre_start {
            text = text.strip_prefix('\n').unwrap_or(text);
        }
        if self.title_at.is_some() {
            self.title_text.push_str(text);
        } else if let Some(heading) = &mut self.heading {
            heading.text.push_str(text);
        } else if self.skip_from.is_none() && self.open.len() < MAX_OPEN {
            push_text(&mut self.sections.current, text, self.pre_from.is_some());
        }
        self.pending = pending;
        self.pending.clear();
    }
}

/// How the tokenizer reads what follows a start tag (the tree builder's instruction to it).
fn raw_text_of(name: &str) -> TokenSinkResult<()> {
    match name {
        "script" => TokenSinkResult::RawData(RawKind::ScriptData),
        "style" | "xmp" | "iframe" | "noembed" | "noframes" | "noscript" => {
            TokenSinkResult::RawData(RawKind::Rawtext)
        }
        "textarea" | "title" => TokenSinkResult::RawData(RawKind::Rcdata),
        "plaintext" => TokenSinkResult::Plaintext,
        _ => TokenSinkResult::Continue,
    }
}

/// Appends a text node to `current`: whitespace collapsed (kept as is in `pre`), one space where
/// the node began or ended with whitespace.
fn push_text(current: &mut String, text: &str, in_pre: bool) {
    if in_pre {
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

#[cfg(test)]
mod reference;
#[cfg(test)]
mod tests;
