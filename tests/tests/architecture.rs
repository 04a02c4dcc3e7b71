#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The gateway's layering rules, checked on its source: no import cycles between sibling modules,
//! no channel importing another channel, imports only pointing down the layers of `LAYERS`.
//!
//! A module and its own submodules are one unit: an import between a module and one of its
//! ancestors or descendants (a `mod.rs` re-exporting its children, a child using `super::…`) is
//! structural and never part of a cycle. Every other import is lifted to the two modules just below
//! the importer's and the imported's lowest common ancestor (`ask::cache -> llm` is `ask -> llm`),
//! and those lifted edges may not form a cycle: siblings, at any depth, never depend on each other.
//!
//! Each `gateway/src/**/*.rs` file is a module (`a/b.rs` and `a/b/mod.rs` are `a::b`; `lib.rs` and
//! `main.rs` the root). File A imports module B when it names B by a path: `crate::…`, `super::…`,
//! `self::…`, or a path starting with a child it declares (`mod cache;` then `cache::key()`) or a
//! module it brought into scope (`use crate::ask;` then `ask::cache::key()`); the longest prefix of
//! the path that is a file module counts. `mod x;` is no import; comments, literals and
//! `#[cfg(test)]` items are ignored; inline `mod x { … }` blocks count as their file. Only `std`.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The layers, lowest first: a module may import only its own layer or a lower one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Layer {
    Infrastructure,
    Core,
    Runtime,
    State,
    HttpSupport,
    Edge,
    Composition,
}

/// Module-path prefixes → layer; the longest matching prefix wins and `""` is the crate root only.
/// A module no prefix matches fails `imports_only_point_down`: new modules get a layer on purpose.
/// A prefix matching no module yet is harmless.
#[rustfmt::skip]
const LAYERS: &[(Layer, &[&str])] = &[
    // Wires everything: the router and the server's state (each handler's state taken from it
    // with `FromRef`), the CLI, and the OpenAPI document naming every route.
    (Layer::Composition, &["" /* lib.rs, main.rs */, "app", "server", "cli", "openapi"]),
    // Wire formats in and out: the channels, the admin API's services, the offline eval, and the
    // sync jobs that drive the indexer.
    (Layer::Edge, &["channels", "admin", "eval", "sources", "tenant_removal"]),
    // What every handler leans on: extractors, the error envelope, headers, tracing of requests.
    (Layer::HttpSupport, &["http"]),
    // `AppState`: the core context plus the index, its sync pipeline and the sync jobs; the admin
    // API, the sync workers and the CLI work on it. Channels never see it.
    (Layer::State, &["state"]),
    // What runs beside the core: the sync-job registry `AppState` holds, and what the chat bots
    // share (their clock, secrets and event counts).
    (Layer::Runtime, &["sync_jobs", "channels::bots"]),
    // The ask lifecycle and the domain it runs on; knows no HTTP, no channel and no state.
    (Layer::Core, &["ask", "retrieve", "cache", "ground", "llm", "limits", "usage", "identity",
        "copilot", "tenants", "i18n", "metrics", "context"]),
    // Configuration, the crate's error type and the log/trace subscriber, used by everyone.
    (Layer::Infrastructure, &["config", "error", "telemetry"]),
];

/// No channel may import another; shared code under `channels` outside these may be imported.
#[rustfmt::skip]
const CHANNELS: &[&str] = &["channels::rest", "channels::openai", "channels::widget",
    "channels::slack", "channels::teams"];

// ---- Lexer: words, `::` and punctuation; comments, literals and lifetimes never get through.

struct Token {
    text: String,
    line: usize,
}

fn is_ident_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

fn is_word(text: &str) -> bool {
    text.starts_with(is_ident_char)
}

fn ident_end(chars: &[char], mut i: usize) -> usize {
    while chars.get(i).is_some_and(|&c| is_ident_char(c)) {
        i += 1;
    }
    i
}

/// Block comments nest in Rust.
fn block_comment_end(chars: &[char], mut i: usize) -> usize {
    let mut depth = 0;
    while i < chars.len() {
        match (chars[i], chars.get(i + 1)) {
            ('/', Some('*')) => (depth, i) = (depth + 1, i + 2),
            ('*', Some('/')) if depth == 1 => return i + 2,
            ('*', Some('/')) => (depth, i) = (depth - 1, i + 2),
            _ => i += 1,
        }
    }
    i
}

/// From just after the opening quote: `\` escapes in plain strings; raw ones end at `"` + hashes.
fn string_end(chars: &[char], mut i: usize, raw_hashes: Option<usize>) -> usize {
    while i < chars.len() {
        match (chars[i], raw_hashes) {
            ('\\', None) => i += 1,
            ('"', None) => return i + 1,
            ('"', Some(n)) if (1..=n).all(|k| chars.get(i + k) == Some(&'#')) => return i + 1 + n,
            _ => {}
        }
        i += 1;
    }
    i
}

/// `'x'`, `'\''` and `'\u{1F600}'` are chars; `'a` and `'static` are lifetimes or labels.
fn char_or_lifetime_end(chars: &[char], i: usize) -> usize {
    match (chars.get(i + 1), chars.get(i + 2)) {
        (Some('\\'), _) => {
            let rest = chars.get(i + 3..).unwrap_or_default();
            rest.iter()
                .position(|&c| c == '\'')
                .map_or(chars.len(), |p| i + 4 + p)
        }
        (_, Some('\'')) => i + 3,
        _ => ident_end(chars, i + 1),
    }
}

/// The end of the literal a word like `b`, `r` or `br` prefixes (`b"…"`, `b'…'`, `r#"…"#`), if any.
fn prefixed_literal_end(chars: &[char], word: &[char], i: usize) -> Option<usize> {
    let next = chars.get(i).copied();
    match word {
        ['r'] | ['b' | 'c', 'r'] => {
            let hashes = chars[i..].iter().take_while(|&&c| c == '#').count();
            (chars.get(i + hashes) == Some(&'"'))
                .then(|| string_end(chars, i + hashes + 1, Some(hashes)))
        }
        ['b' | 'c'] if next == Some('"') => Some(string_end(chars, i + 1, None)),
        ['b'] if next == Some('\'') => Some(char_or_lifetime_end(chars, i)),
        _ => None,
    }
}

fn tokenize(source: &str) -> Vec<Token> {
    let chars: Vec<char> = source.chars().collect();
    let (mut tokens, mut i, mut line) = (Vec::new(), 0, 1);
    while let Some(&c) = chars.get(i) {
        let next = chars.get(i + 1).copied();
        let (end, keep) = match c {
            '/' if next == Some('/') => (
                chars[i..]
                    .iter()
                    .position(|&c| c == '\n')
                    .map_or(chars.len(), |p| i + p),
                false,
            ),
            '/' if next == Some('*') => (block_comment_end(&chars, i), false),
            '"' => (string_end(&chars, i + 1, None), false),
            '\'' => (char_or_lifetime_end(&chars, i), false),
            ':' if next == Some(':') => (i + 2, true),
            c if is_ident_char(c) => {
                let word_end = ident_end(&chars, i);
                prefixed_literal_end(&chars, &chars[i..word_end], word_end)
                    .map_or((word_end, true), |end| (end, false))
            }
            c => (i + 1, !c.is_whitespace()),
        };
        if keep {
            tokens.push(Token {
                text: chars[i..end].iter().collect(),
                line,
            });
        }
        line += chars[i..end].iter().filter(|&&c| c == '\n').count();
        i = end;
    }
    tokens
}

fn text_at(tokens: &[Token], i: usize) -> &str {
    tokens.get(i).map_or("", |t| t.text.as_str())
}

// ---- Scanner: what one file declares and the paths it names, before they are resolved.

/// A path as written; `binding` is the name a `use` brings into scope (none for globs and code).
struct RawPath {
    segments: Vec<String>,
    line: usize,
    binding: Option<String>,
}

#[derive(Default)]
struct FileScan {
    children: Vec<String>,      // `mod name;`
    test_children: Vec<String>, // `#[cfg(test)] mod name;`: file modules that are tests too
    paths: Vec<RawPath>,
}

/// Where the item starting at `start` ends: after its `;` or its closing `}`.
fn item_end(tokens: &[Token], start: usize) -> usize {
    let mut depth = 0usize;
    for (i, token) in tokens.iter().enumerate().skip(start) {
        match token.text.as_str() {
            "(" | "[" | "{" => depth += 1,
            ")" | "]" => depth = depth.saturating_sub(1),
            "}" if depth <= 1 => return i + 1,
            "}" => depth -= 1,
            ";" if depth == 0 => return i + 1,
            _ => {}
        }
    }
    tokens.len()
}

/// Expands the `use` tree from `i` to its `;` into flat paths: `a::{b, c::{self, d}}` gives
/// `a::b`, `a::c` and `a::c::d`. Returns the index after the `;`.
fn use_paths(tokens: &[Token], mut i: usize, out: &mut Vec<RawPath>) -> usize {
    let (mut groups, mut path): (Vec<Vec<String>>, Vec<String>) = (Vec::new(), Vec::new());
    let (mut pending, mut glob, mut alias) = (false, false, None);
    while let Some(token) = tokens.get(i) {
        i += 1;
        match token.text.as_str() {
            "{" => groups.push(path.clone()),
            end @ ("," | "}" | ";") => {
                if pending {
                    let binding = alias
                        .take()
                        .or_else(|| path.last().cloned())
                        .filter(|_| !glob);
                    out.push(RawPath {
                        segments: path,
                        line: token.line,
                        binding,
                    });
                }
                if end == "}" {
                    groups.pop();
                } else if end == ";" {
                    break;
                }
                (pending, glob, path) = (false, false, groups.last().cloned().unwrap_or_default());
            }
            "*" => (pending, glob) = (true, true),
            "as" => (alias, i) = (Some(text_at(tokens, i).to_string()), i + 1),
            "::" if path.is_empty() => path.push("::".into()), // `::other_crate`: never ours
            "::" => {}
            // `self` opening a group member names the group's prefix: `use a::{self, b}`.
            "self" if groups.last().is_some_and(|group| group.len() == path.len()) => {
                pending = true;
            }
            word => {
                path.push(word.to_string());
                pending = true;
            }
        }
    }
    i
}

fn scan_file(source: &str) -> FileScan {
    const CFG_TEST: [&str; 7] = ["#", "[", "cfg", "(", "test", ")", "]"];
    let tokens = tokenize(source);
    let mut scan = FileScan::default();
    let mut i = 0;
    while let Some(token) = tokens.get(i) {
        let word = token.text.as_str();
        if (0..CFG_TEST.len()).all(|k| text_at(&tokens, i + k) == CFG_TEST[k]) {
            // Tests may import freely: skip the whole item, noting `#[cfg(test)] mod name;` files.
            let end = item_end(&tokens, i + CFG_TEST.len());
            if let [.., keyword, name, semicolon] = &tokens[i..end]
                && (keyword.text.as_str(), semicolon.text.as_str()) == ("mod", ";")
            {
                scan.test_children.push(name.text.clone());
            }
            i = end;
        } else if word == "mod"
            && is_word(text_at(&tokens, i + 1))
            && text_at(&tokens, i + 2) == ";"
        {
            scan.children.push(text_at(&tokens, i + 1).to_string());
            i += 3;
        } else if word == "use" {
            i = use_paths(&tokens, i + 1, &mut scan.paths);
        } else if is_word(word)
            && text_at(&tokens, i + 1) == "::"
            && (i == 0 || text_at(&tokens, i - 1) != "::")
        {
            // A path in code (`crate::a::f()`, `cache::key()`); it stops at `::<`.
            let mut segments = vec![word.to_string()];
            i += 1;
            while text_at(&tokens, i) == "::" && is_word(text_at(&tokens, i + 1)) {
                segments.push(text_at(&tokens, i + 1).to_string());
                i += 2;
            }
            scan.paths.push(RawPath {
                segments,
                line: token.line,
                binding: None,
            });
        } else {
            i += 1;
        }
    }
    scan
}

// ---- Graph: the file modules and the imports between them.

/// One file: its module path (`ask::cache`, `""` for the root), a label for messages, its text.
struct Source {
    module: String,
    file: String,
    text: String,
}

struct Graph {
    /// Module → its file.
    modules: BTreeMap<String, String>,
    /// (importer, imported) → its first reference, as `file:line path`.
    edges: BTreeMap<(String, String), String>,
}

fn split(module: &str) -> Vec<String> {
    module
        .split("::")
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}

fn join(parent: &str, child: &str) -> String {
    if parent.is_empty() {
        child.to_string()
    } else {
        format!("{parent}::{child}")
    }
}

/// `module` is `prefix` or inside it; the prefix `""` matches the crate root only.
fn is_within(module: &str, prefix: &str) -> bool {
    module
        .strip_prefix(prefix)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with("::"))
}

fn show(module: &str) -> &str {
    if module.is_empty() { "crate" } else { module }
}

/// The absolute path a reference names; None when it leads out of the crate (std, other crates,
/// local types).
fn resolve(segments: &[String], here: &str, scope: &HashMap<&str, String>) -> Option<Vec<String>> {
    let (first, mut rest) = segments.split_first()?;
    let mut path = match first.as_str() {
        "crate" => Vec::new(),
        "self" => split(here),
        "super" => {
            rest = segments; // the loop below climbs one level per `super`
            split(here)
        }
        name => split(scope.get(name)?),
    };
    while let Some((segment, tail)) = rest.split_first()
        && segment == "super"
    {
        path.pop()?;
        rest = tail;
    }
    path.extend(rest.iter().cloned());
    Some(path)
}

fn build_graph(sources: &[Source]) -> Graph {
    let scans: Vec<FileScan> = sources.iter().map(|s| scan_file(&s.text)).collect();
    let test_modules: Vec<String> = (sources.iter().zip(&scans))
        .flat_map(|(s, scan)| scan.test_children.iter().map(|c| join(&s.module, c)))
        .collect();
    let is_test = |module: &str| test_modules.iter().any(|t| is_within(module, t));
    let files = sources
        .iter()
        .zip(&scans)
        .filter(|(s, _)| !is_test(&s.module));
    let mut modules = BTreeMap::new();
    for (source, _) in files.clone() {
        // The root keeps lib.rs as its file: main.rs sorts after it.
        modules
            .entry(source.module.clone())
            .or_insert_with(|| source.file.clone());
    }
    let module_of = |path: Vec<String>| {
        (0..=path.len())
            .rev()
            .map(|k| path[..k].join("::"))
            .find(|m| modules.contains_key(m))
    };
    let mut edges = BTreeMap::new();
    for (source, scan) in files {
        let here = source.module.as_str();
        let mut scope: HashMap<&str, String> = scan
            .children
            .iter()
            .map(|c| (c.as_str(), join(here, c)))
            .collect();
        // `use crate::ask;` lets the file say `ask::cache::key()` later.
        for path in &scan.paths {
            if let Some(binding) = &path.binding
                && let Some(target) = resolve(&path.segments, here, &scope)
                && modules.contains_key(&target.join("::"))
            {
                scope.insert(binding, target.join("::"));
            }
        }
        for path in &scan.paths {
            let target = resolve(&path.segments, here, &scope).and_then(module_of);
            if let Some(target) = target.filter(|t| t != here) {
                let at = || {
                    format!(
                        "{}:{} `{}`",
                        source.file,
                        path.line,
                        path.segments.join("::")
                    )
                };
                edges.entry((here.to_string(), target)).or_insert_with(at);
            }
        }
    }
    Graph { modules, edges }
}

// ---- Rules: each returns its violations, one readable line each.

fn layer_of(module: &str) -> Option<Layer> {
    (LAYERS.iter())
        .flat_map(|&(layer, prefixes)| prefixes.iter().map(move |prefix| (prefix, layer)))
        .filter(|(prefix, _)| is_within(module, prefix))
        .max_by_key(|(prefix, _)| prefix.len())
        .map(|(_, layer)| layer)
}

fn points_up(from: &str, to: &str) -> Option<(Layer, Layer)> {
    let (low, high) = (layer_of(from)?, layer_of(to)?);
    (high > low).then_some((low, high))
}

fn describe_edge(graph: &Graph, from: &str, to: &str) -> String {
    let arrow = format!("{} -> {}", show(from), show(to));
    format!(
        "{arrow:<58} {}",
        graph.edges[&(from.to_string(), to.to_string())]
    )
}

/// The import `from -> to` lifted to the two modules just below their lowest common ancestor
/// (`channels::slack::answer -> channels::bots` is `channels::slack -> channels::bots`); None when
/// one of them contains the other: that import is structural.
fn lift(from: &str, to: &str) -> Option<(String, String)> {
    let (from, to) = (split(from), split(to));
    let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
    (common < from.len().min(to.len()))
        .then(|| (from[..=common].join("::"), to[..=common].join("::")))
}

/// Each lifted edge and the file imports under it.
fn lifted_edges(graph: &Graph) -> BTreeMap<(String, String), Vec<&(String, String)>> {
    let mut lifted: BTreeMap<_, Vec<_>> = BTreeMap::new();
    for edge in graph.edges.keys() {
        if let Some(pair) = lift(&edge.0, &edge.1) {
            lifted.entry(pair).or_default().push(edge);
        }
    }
    lifted
}

/// The strongly connected components of more than one module in the lifted graph: sibling modules
/// that reach each other.
fn import_cycles(graph: &Graph) -> Vec<BTreeSet<String>> {
    let lifted = lifted_edges(graph);
    let reachable_from = |start: &String| {
        let (mut seen, mut todo) = (BTreeSet::new(), vec![start]);
        while let Some(module) = todo.pop() {
            for (_, to) in lifted.keys().filter(|(from, _)| from == module) {
                if seen.insert(to) {
                    todo.push(to);
                }
            }
        }
        seen
    };
    let reach: BTreeMap<&String, BTreeSet<&String>> = lifted
        .keys()
        .map(|(from, _)| (from, reachable_from(from)))
        .collect();
    let mut cycles = Vec::new();
    for (module, reached) in &reach {
        let members: BTreeSet<String> = (reached.iter())
            .filter(|m| reach.get(*m).is_some_and(|back| back.contains(module)))
            .map(|m| m.to_string())
            .collect();
        if members.len() > 1 && !cycles.contains(&members) {
            cycles.push(members);
        }
    }
    cycles
}

fn describe_cycles(graph: &Graph, cycles: &[BTreeSet<String>]) -> String {
    let lifted = lifted_edges(graph);
    let mut out = String::new();
    for (n, members) in cycles.iter().enumerate() {
        let names: Vec<&str> = members.iter().map(String::as_str).collect();
        writeln!(
            out,
            "cycle {} ({} modules): {}",
            n + 1,
            members.len(),
            names.join(", ")
        )
        .unwrap();
        let inside =
            |(from, to): &&(String, String)| members.contains(from) && members.contains(to);
        for ((from, to), imports) in lifted.iter().filter(|(edge, _)| inside(edge)) {
            writeln!(out, "  {from} -> {to}").unwrap();
            for (file_from, file_to) in imports {
                let mark = if points_up(file_from, file_to).is_some() {
                    "up"
                } else {
                    "  "
                };
                writeln!(
                    out,
                    "    {mark} {}",
                    describe_edge(graph, file_from, file_to)
                )
                .unwrap();
            }
        }
    }
    out
}

fn cross_channel_imports(graph: &Graph) -> Vec<String> {
    let channel_of = |module: &str| CHANNELS.iter().find(|channel| is_within(module, channel));
    (graph.edges.keys())
        .filter(
            |(from, to)| matches!((channel_of(from), channel_of(to)), (Some(a), Some(b)) if a != b),
        )
        .map(|(from, to)| describe_edge(graph, from, to))
        .collect()
}

/// Modules without a layer, then every import of a higher layer.
fn upward_imports(graph: &Graph) -> Vec<String> {
    let unlayered =
        (graph.modules.iter().filter(|(m, _)| layer_of(m).is_none())).map(|(m, file)| {
            format!(
                "{m} ({file}) has no layer: add its path prefix to LAYERS in {}",
                file!()
            )
        });
    let upward = graph.edges.keys().filter_map(|(from, to)| {
        let (low, high) = points_up(from, to)?;
        Some(format!(
            "{:<33} {}",
            format!("{low:?} imports {high:?}:"),
            describe_edge(graph, from, to)
        ))
    });
    unlayered.chain(upward).collect()
}

// ---- The real tree.

fn gateway_graph() -> Graph {
    crate_graph("gateway/src")
}

/// The import graph of one crate of the workspace (`src`: its source folder from the root).
fn crate_graph(src: &str) -> Graph {
    let manifest = option_env!("CARGO_MANIFEST_DIR")
        .map(String::from)
        .or_else(|| std::env::var("CARGO_MANIFEST_DIR").ok());
    let root = Path::new(&manifest.expect("CARGO_MANIFEST_DIR (the tests crate) is unset"))
        .join("..")
        .join(src);
    let mut paths = Vec::new();
    collect_rs_files(&root, &mut paths);
    paths.sort();
    let sources: Vec<Source> = (paths.iter())
        .map(|path| {
            let file = path
                .strip_prefix(&root)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            let stem = file.strip_suffix(".rs").unwrap_or(&file);
            let module = match stem {
                "lib" | "main" => String::new(),
                _ => stem.strip_suffix("/mod").unwrap_or(stem).replace('/', "::"),
            };
            Source {
                module,
                text: std::fs::read_to_string(path).unwrap(),
                file,
            }
        })
        .collect();
    let graph = build_graph(&sources);
    assert!(
        graph.modules.contains_key(""),
        "no lib.rs under {}",
        root.display()
    );
    graph
}

fn collect_rs_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect_rs_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn no_import_cycles() {
    // Every crate of the workspace; the layers below are the gateway's alone.
    for src in ["gateway/src", "ingest/src", "catalog/src"] {
        let graph = crate_graph(src);
        let cycles = import_cycles(&graph);
        let report = describe_cycles(&graph, &cycles);
        assert!(
            cycles.is_empty(),
            "{} import cycle(s) between sibling modules in {src}; under each lifted edge, the \
             file imports it stands for (`up`: the import also breaks the layers):\n{report}",
            cycles.len()
        );
    }
}

#[test]
fn no_channel_imports_another_channel() {
    let problems = cross_channel_imports(&gateway_graph());
    let list = problems.join("\n  ");
    assert!(
        problems.is_empty(),
        "{} import(s) between channels; move what they share to `channels` or lower:\n  {list}\n",
        problems.len()
    );
}

#[test]
fn imports_only_point_down() {
    let problems = upward_imports(&gateway_graph());
    let list = problems.join("\n  ");
    assert!(
        problems.is_empty(),
        "{} layering problem(s); a module may import only its own layer or lower:\n  {list}\n",
        problems.len()
    );
}

// ---- The checker itself: it sees real imports, skips fake ones, and can fail.

mod checker_self_tests {
    use super::*;

    fn graph_of(files: &[(&str, &str)]) -> Graph {
        let source = |&(module, text): &(&str, &str)| Source {
            module: module.into(),
            file: format!("{module}.rs"),
            text: text.into(),
        };
        build_graph(&files.iter().map(source).collect::<Vec<_>>())
    }

    fn edges(graph: &Graph) -> Vec<String> {
        graph
            .edges
            .keys()
            .map(|(from, to)| format!("{} -> {}", show(from), show(to)))
            .collect()
    }

    #[test]
    fn a_two_file_cycle_is_found() {
        let graph = graph_of(&[
            ("", "mod a;\nmod b;"),
            ("a", "use crate::b::X;"),
            ("b", "\nuse crate::a;"),
        ]);
        assert_eq!(edges(&graph), ["a -> b", "b -> a"]); // `mod a;` is no import
        assert_eq!(
            import_cycles(&graph),
            [BTreeSet::from(["a".into(), "b".into()])]
        );
        let report = describe_cycles(&graph, &import_cycles(&graph));
        assert!(report.contains("a.rs:1 `crate::b::X`") && report.contains("b.rs:2 `crate::a`"));
    }

    #[test]
    fn a_parent_and_its_children_are_one_unit() {
        let graph = graph_of(&[
            ("p", "mod c;\npub use c::Thing;"),
            ("p::c", "mod d;\nfn f() { super::g(); }"),
            ("p::c::d", "use crate::p::Quotas;"),
        ]);
        assert_eq!(edges(&graph), ["p -> p::c", "p::c -> p", "p::c::d -> p"]);
        assert_eq!(import_cycles(&graph), [] as [BTreeSet<String>; 0]);
    }

    #[test]
    fn a_cycle_between_siblings_through_their_children_is_found() {
        let graph = graph_of(&[
            ("a", "mod x;\nmod y;"),
            ("a::x", "use crate::b::B;"),
            ("a::y", ""),
            ("b", "fn f() { crate::a::y::g(); }"),
        ]);
        assert_eq!(
            import_cycles(&graph),
            [BTreeSet::from(["a".into(), "b".into()])]
        );
        let report = describe_cycles(&graph, &import_cycles(&graph));
        assert!(report.contains("  a -> b\n") && report.contains("a::x.rs:1 `crate::b::B`"));
        assert!(report.contains("  b -> a\n") && report.contains("b.rs:1 `crate::a::y::g`"));
    }

    #[test]
    fn a_nested_sibling_cycle_is_found_at_its_depth() {
        let graph = graph_of(&[
            ("c", "mod p;\nmod r;\npub use p::q::Q;"),
            ("c::p", "mod q;"),
            ("c::p::q", "use super::super::r::R;"),
            ("c::r", "use super::p::P;"),
        ]);
        assert_eq!(
            import_cycles(&graph),
            [BTreeSet::from(["c::p".into(), "c::r".into()])]
        );
        let report = describe_cycles(&graph, &import_cycles(&graph));
        assert!(report.starts_with("cycle 1 (2 modules): c::p, c::r\n  c::p -> c::r\n"));
        assert!(report.contains("c::p::q -> c::r") && report.contains("c::r -> c::p "));
    }

    #[test]
    fn paths_resolve_to_the_longest_file_module() {
        let graph = graph_of(&[
            ("", ""),
            (
                "ask",
                "mod cache;\nfn f() { cache::key(1); crate::Config::new(); }",
            ),
            (
                "ask::cache",
                "use self::inner::X; use super::super::config::{self as c};",
            ),
            (
                "config",
                "use crate::ask::Citation; fn g() { ask::cache::f(); Vec::<u8>::new(); }",
            ),
            (
                "limits",
                "use crate::{ask::{self}}; fn g() { ask::cache::key(); std::f(); }",
            ),
        ]);
        let edges = edges(&graph);
        let first = [
            "ask -> crate",
            "ask -> ask::cache",
            "ask::cache -> config",
            "config -> ask",
        ];
        assert_eq!(edges[..4], first);
        assert_eq!(edges[4..], ["limits -> ask", "limits -> ask::cache"]); // `ask` is in scope
    }

    #[test]
    fn nested_use_groups_are_expanded() {
        let root = "mod a;\nuse crate::{a::b, c::{d, e::{self, F}}, g as h};\nuse ::a::Other;";
        let modules = ["a", "a::b", "c", "c::d", "c::e", "g"].map(|module| (module, ""));
        let graph = graph_of(&[&[("", root)], &modules[..]].concat());
        assert_eq!(
            edges(&graph),
            [
                "crate -> a::b",
                "crate -> c::d",
                "crate -> c::e",
                "crate -> g"
            ]
        );
    }

    #[test]
    fn comments_strings_and_chars_are_not_imports() {
        let text = r##"
            //! crate::b in an inner doc comment
            /// `crate::b::X` in a doc comment
            /* crate::b /* nested */ crate::b */ // use crate::b;
            fn f<'a>(x: &'a str) -> &'static str {
                let _ = ('"', crate::c::real(), "crate::b::x", '\'', b'{', "\"crate::b");
                (r#"crate::b "q""#, b"crate::b", 'a')
            }"##;
        assert_eq!(
            edges(&graph_of(&[("a", text), ("b", ""), ("c", "")])),
            ["a -> c"]
        );
    }

    #[test]
    fn cfg_test_items_are_not_imports() {
        let text = "
            #[cfg(test)]
            mod tests {
                use crate::b;
                fn t() { crate::b::f(); }
            }
            fn real() { crate::c::f(); }
            #[cfg(test)]
            use crate::b::Helper;
            use crate::d::Real;
            #[cfg(test)]
            mod test_support;";
        let test_support = ("a::test_support", "use crate::b;");
        let graph = graph_of(&[("a", text), test_support, ("b", ""), ("c", ""), ("d", "")]);
        assert_eq!(edges(&graph), ["a -> c", "a -> d"]);
        assert!(!graph.modules.contains_key("a::test_support"));
    }

    #[test]
    fn a_channel_importing_another_channel_is_reported() {
        let graph = graph_of(&[
            ("channels::chat", ""),
            ("channels::slack", "mod api;\npub use api::f;"), // within one channel: fine
            (
                "channels::slack::api",
                "use crate::channels::teams::jwt::f;\nuse crate::channels::chat;",
            ),
            ("channels::teams::jwt", "use super::super::chat::Turn;"),
        ]);
        let problems = cross_channel_imports(&graph);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].starts_with("channels::slack::api -> channels::teams::jwt"));
    }

    #[test]
    fn an_upward_import_and_an_unlayered_module_are_reported() {
        let graph = graph_of(&[
            (
                "ask",
                "fn f() { crate::channels::rest::handler(); crate::config::load(); }",
            ),
            ("channels::rest", "use crate::ask;"),
            ("config", ""),
            ("limits", "use crate::ask::AskRequest;"), // within one layer: fine
            ("newthing", ""),
        ]);
        let problems = upward_imports(&graph);
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(
            problems[0].starts_with("newthing (newthing.rs) has no layer: add its path prefix")
        );
        assert!(problems[1].starts_with("Core imports Edge:"));
        assert!(problems[1].contains("ask -> channels::rest"));
        assert_eq!(layer_of(""), Some(Layer::Composition)); // the root, and nothing else
        assert_eq!(layer_of("openapi"), Some(Layer::Composition));
        assert_eq!(layer_of("http::auth"), Some(Layer::HttpSupport));
        assert_eq!(layer_of("appendix"), None); // prefixes match whole segments
        assert_eq!(layer_of("channels::bots"), Some(Layer::Runtime)); // the longest prefix wins
        assert_eq!(layer_of("channels::slack::events"), Some(Layer::Edge));
        assert_eq!(layer_of("state"), Some(Layer::State));
    }
}
