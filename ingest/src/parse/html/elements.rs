//! The element names the walker treats specially, by the HTML standard's parsing rules
//! (<https://html.spec.whatwg.org/multipage/parsing.html>), and what they mean for the text.

use html5ever::tokenizer::Doctype;

/// Elements whose content is never document text.
pub(super) const SKIPPED: &[&str] = &[
    "script", "style", "noscript", "template", "nav", "footer", "aside", "svg", "head", "iframe",
    "button", "select", "form",
];

/// Elements that start and end a line of text.
pub(super) const BLOCKS: &[&str] = &[
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

/// Start tags that belong in `head`; any other ends a `head` left open.
pub(super) const HEAD_CONTENT: &[&str] = &[
    "head", "title", "meta", "link", "style", "script", "base", "noscript", "template", "basefont",
    "bgsound",
];

/// Parts of a table: "in body", with no table open, the tree builder ignores their start tags.
pub(super) const TABLE_PARTS: &[&str] = &[
    "caption", "col", "colgroup", "tbody", "td", "tfoot", "th", "thead", "tr",
];

/// Start tags that close an open `p` ("in body" insertion mode).
pub(super) const CLOSES_P: &[&str] = &[
    "address",
    "article",
    "aside",
    "blockquote",
    "center",
    "details",
    "dialog",
    "dir",
    "div",
    "dl",
    "fieldset",
    "figcaption",
    "figure",
    "footer",
    "header",
    "hgroup",
    "main",
    "menu",
    "nav",
    "ol",
    "p",
    "search",
    "section",
    "summary",
    "ul",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "pre",
    "listing",
    "form",
    "li",
    "dd",
    "dt",
    "plaintext",
    "table",
    "hr",
    "xmp",
];

pub(super) fn heading_level(name: &str) -> Option<usize> {
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

/// Elements that never have content (no end tag).
pub(super) fn is_void(name: &str) -> bool {
    matches!(
        name,
        "area"
            | "base"
            | "basefont"
            | "bgsound"
            | "br"
            | "col"
            | "embed"
            | "frame"
            | "hr"
            | "img"
            | "input"
            | "keygen"
            | "link"
            | "meta"
            | "param"
            | "source"
            | "track"
            | "wbr"
    )
}

/// Where an end tag's search for its element stops ("has an element in scope").
pub(super) fn is_scope_boundary(name: &str) -> bool {
    matches!(
        name,
        "applet" | "caption" | "html" | "table" | "td" | "th" | "marquee" | "object" | "template"
    )
}

/// The standard's "special" category: an end tag for another element does not close these.
pub(super) fn is_special(name: &str) -> bool {
    is_scope_boundary(name)
        || is_void(name)
        || heading_level(name).is_some()
        || matches!(
            name,
            "address"
                | "article"
                | "aside"
                | "blockquote"
                | "body"
                | "button"
                | "center"
                | "colgroup"
                | "dd"
                | "details"
                | "dir"
                | "div"
                | "dl"
                | "dt"
                | "fieldset"
                | "figcaption"
                | "figure"
                | "footer"
                | "form"
                | "frameset"
                | "head"
                | "header"
                | "hgroup"
                | "iframe"
                | "li"
                | "listing"
                | "main"
                | "menu"
                | "nav"
                | "noembed"
                | "noframes"
                | "noscript"
                | "ol"
                | "p"
                | "plaintext"
                | "pre"
                | "script"
                | "search"
                | "section"
                | "select"
                | "style"
                | "summary"
                | "tbody"
                | "textarea"
                | "tfoot"
                | "thead"
                | "title"
                | "tr"
                | "ul"
                | "xmp"
        )
}

/// Public identifiers that put a page in quirks mode, by prefix ("the initial insertion mode").
const QUIRKY_PUBLIC_PREFIXES: &[&str] = &[
    "+//silmaril//",
    "-//as//",
    "-//advasoft ltd//",
    "-//ietf//",
    "-//metrius//",
    "-//microsoft//",
    "-//netscape comm. corp.//",
    "-//o'reilly and associates//",
    "-//softquad",
    "-//spyglass//",
    "-//sq//",
    "-//sun microsystems corp.//",
    "-//w3c//dtd html 3",
    "-//w3c//dtd html 4.0 frameset//",
    "-//w3c//dtd html 4.0 transitional//",
    "-//w3c//dtd html experimental",
    "-//w3c//dtd w3 html//",
    "-//w3o//dtd w3 html",
    "-//webtechs//",
];

/// Whether a doctype puts the page in quirks mode (where, for one, a table may sit in a `p`).
pub(super) fn is_quirky(doctype: &Doctype) -> bool {
    let lower =
        |t: &Option<html5ever::tendril::StrTendril>| t.as_ref().map(|t| t.to_ascii_lowercase());
    let (public, system) = (lower(&doctype.public_id), lower(&doctype.system_id));
    let name_is_html = doctype
        .name
        .as_ref()
        .is_some_and(|n| n.eq_ignore_ascii_case("html"));
    if doctype.force_quirks || !name_is_html {
        return true;
    }
    if system.as_deref() == Some("http://www.ibm.com/data/dtd/v11/ibmxhtml1-transitional.dtd") {
        return true;
    }
    let Some(public) = public else {
        return false;
    };
    let exact = [
        "-//w3o//dtd w3 html strict 3.0//en//",
        "-/w3c/dtd html 4.0 transitional/en",
        "html",
    ];
    let without_system = [
        "-//w3c//dtd html 4.01 frameset//",
        "-//w3c//dtd html 4.01 transitional//",
    ];
    exact.contains(&public.as_str())
        || QUIRKY_PUBLIC_PREFIXES.iter().any(|p| public.starts_with(p))
        || (system.is_none() && without_system.iter().any(|p| public.starts_with(p)))
}
