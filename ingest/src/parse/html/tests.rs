use std::path::{Path, PathBuf};

use super::*;
use crate::model::ParsedDocument;

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

#[test]
fn text_nested_past_the_depth_followed_is_left_out_and_the_rest_kept() {
    let deep = format!(
        "<p>before</p>{}deep{}<p>after</p>",
        "<div>".repeat(MAX_OPEN + 100),
        "</div>".repeat(MAX_OPEN + 100)
    );
    let text: String = parse(&deep, "f".into())
        .sections
        .iter()
        .map(|s| s.text.clone())
        .collect();
    assert!(
        text.contains("before") && text.contains("after"),
        "{text:?}"
    );
    assert!(!text.contains("deep"), "{text:?}");
}

fn assert_as_the_tree_builder(html: &str, what: &str) {
    let tokens = parse(html, "fallback".into());
    let tree = reference::parse(html, "fallback".into());
    assert_eq!(
        tokens, tree,
        "{what}: the token walker differs from the tree's"
    );
}

/// Markup the tree builder repairs: the token walker must read the same text out of it.
#[test]
fn malformed_markup_reads_as_the_tree_builder_repairs_it() {
    let cases = [
        (
            "unclosed paragraphs",
            "<h1>T</h1><p>one<p>two<div>three</div>four",
        ),
        (
            "unclosed list items",
            "<ul><li>a<li>b<ul><li>c<li>d</ul><li>e</ul>after",
        ),
        (
            "unclosed definitions",
            "<dl><dt>term<dd>meaning<dt>next<dd>again</dl>",
        ),
        (
            "unclosed cells and rows",
            "<table><tr><td>a<td>b<tr><td>c<th>d</table>after",
        ),
        (
            "a head never closed",
            "<html><head><title>Doc</title><meta charset=utf-8><p>body text",
        ),
        (
            "no head, no body",
            "<title>Bare</title>Just text <b>bold</b>.",
        ),
        ("an end p with no p", "<div>before</p>after</div>"),
        ("a heading opened in a heading", "<h1>One<h2>Two</h2>text"),
        (
            "a nav left open in a div",
            "<div><nav>menu</div><p>kept</p>",
        ),
        (
            "self-closing svg",
            "<p>a<svg/>b</p><svg><path d='M0'/></svg>c",
        ),
        (
            "character references split text",
            "<p>AT&amp;T &lt;tag&gt; caf&eacute;&nbsp;bar&#x20AC;</p>",
        ),
        (
            "pre's first newline",
            "<pre>\nline one\n  line two\n</pre>after",
        ),
        ("br both ways", "<p>one<br>two</br>three<br/>four</p>"),
        ("comments split text", "<p>al<!-- c -->pha beta</p>"),
        (
            "script text with tags in it",
            "<p>x</p><script>document.write('</div><p>no</p>')</script><p>y</p>",
        ),
        ("upper-case tags", "<H1>Big</H1><P>Para<UL><LI>item</UL>"),
        (
            "navigation by role",
            "<div role=navigation>skip me</div><div role=main>keep me</div>",
        ),
        (
            "forms and buttons",
            "<form><label>Name</label><input></form><button>Go</button>tail",
        ),
        ("stray end tags", "</div></span><p>text</i></p></td>"),
        (
            "misnested inline",
            "<p><b>bold <i>both</b> italic</i> plain</p>",
        ),
        (
            "a title with entities",
            "<title> A &amp; B </title><h1>H</h1>x",
        ),
        ("an empty title", "<title> </title><h1>Heading title</h1>x"),
        (
            "textarea text",
            "<p>x</p><textarea>typed <b>not bold</b></textarea>",
        ),
        ("deep divs", &"<div>".repeat(300)),
        (
            "headings with links",
            "<h2>Setup<a href='#s'>¶</a></h2><p>Steps</p>",
        ),
        (
            "headings in lists",
            "<ul><li><h3>In list</h3>text</li></ul>",
        ),
        (
            "nested tables",
            "<table><tr><td><table><tr><td>in</table>out</table>",
        ),
        (
            "a table in a paragraph, quirks mode",
            "<p>before<table><tr><td>cell</table>after</p>",
        ),
        (
            "a table after a paragraph, standards mode",
            "<!DOCTYPE html><p>before<table><tr><td>cell</table>after</p>",
        ),
        (
            "an HTML 4.0 transitional doctype is quirks",
            r#"<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.0 Transitional//EN"><p>a<table><tr><td>b</table>c"#,
        ),
        (
            "rows and cells with no table open (a template fragment)",
            "{{ range .x }}<tr><td>a</td><th>b</th></tr>{{ end }}<tbody><caption>c</caption>text",
        ),
        (
            "whitespace between tags the tree builder ignores stays in one text node",
            "<p>cells<td> </td>with no table<th>\n</th>apart, x</span> <b>y</b></i> </u>z</p>",
        ),
        (
            "a cell in a div in a cell",
            "<table><tr><td><div><td>x</div>y</table>z",
        ),
    ];
    for (what, html) in cases {
        assert_as_the_tree_builder(html, what);
    }
}

fn html_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            html_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "html" || e == "htm") {
            out.push(path);
        }
    }
}

/// The handbook's pages, and every page under `HTML_PARITY_DIR` when it is set (e.g. Debian's
/// PostgreSQL and Python manuals, the bench corpus: `HTML_PARITY_DIR=/usr/share/doc`).
#[test]
fn real_pages_read_as_the_tree_builder_reads_them() {
    let mut files = Vec::new();
    html_files(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples"),
        &mut files,
    );
    let handbook = files.len();
    assert!(handbook >= 10, "the handbook's HTML pages: {handbook}");
    if let Some(dir) = std::env::var_os("HTML_PARITY_DIR") {
        html_files(Path::new(&dir), &mut files);
    }
    let (mut differing, mut reordered) = (Vec::new(), Vec::new());
    for file in &files {
        let Ok(html) = std::fs::read_to_string(file) else {
            continue;
        };
        let (tokens, tree) = (
            parse(&html, "f".into()),
            reference::parse(&html, "f".into()),
        );
        if tokens == tree {
            continue;
        }
        let difference = format!("{}: {}", file.display(), first_difference(&tokens, &tree));
        if same_words_in_another_order(&tokens, &tree) {
            reordered.push(difference);
        } else {
            differing.push(difference);
        }
    }
    // Text between a table's rows (a template's loop markers, say) is read where it stands; the
    // tree builder moves it before the table ("foster parenting"). Same words, another order.
    eprintln!(
        "{} pages compared ({handbook} of the handbook), {} differ, {} hold the same words in \
         another order (text between table rows): {reordered:#?}",
        files.len(),
        differing.len(),
        reordered.len()
    );
    assert!(
        differing.is_empty(),
        "pages read differently: {differing:#?}"
    );
}

fn sorted_words(text: &str) -> Vec<&str> {
    let mut words: Vec<&str> = text.split_whitespace().collect();
    words.sort_unstable();
    words
}

/// The same sections (headings and pages too), each with the same words, in any order.
fn same_words_in_another_order(tokens: &ParsedDocument, tree: &ParsedDocument) -> bool {
    tokens.title == tree.title
        && tokens.sections.len() == tree.sections.len()
        && tokens.sections.iter().zip(&tree.sections).all(|(a, b)| {
            a.heading_path == b.heading_path
                && a.page == b.page
                && sorted_words(&a.text) == sorted_words(&b.text)
        })
}

fn first_difference(tokens: &ParsedDocument, tree: &ParsedDocument) -> String {
    if tokens.title != tree.title {
        return format!("title {:?} (tree: {:?})", tokens.title, tree.title);
    }
    let pairs = tokens.sections.iter().zip(&tree.sections);
    match pairs.enumerate().find(|(_, (a, b))| a != b) {
        Some((i, (a, b))) => format!("section {i}: {a:?} (tree: {b:?})"),
        None => format!(
            "{} sections (tree: {})",
            tokens.sections.len(),
            tree.sections.len()
        ),
    }
}
