//! Block Kit for answers: the text as `mrkdwn` sections, the cited sources in a `context` block,
//! and 👍/👎 `feedback_buttons` whose clicks come back on `/slack/interactivity`.

use ragway_ingest::lang::Lang;
use serde_json::{Value, json};

use crate::ground::Citation;
use crate::i18n;

/// The `action_id` of the feedback buttons.
pub const FEEDBACK_ACTION: &str = "ragway_feedback";
/// Slack's limit for a section's text.
const SECTION_CHARS: usize = 3000;
/// Slack's limit for a context block's elements.
const CONTEXT_ELEMENTS: usize = 10;

/// Standard Markdown (what the LLM writes) as Slack `mrkdwn`: `**bold**` → `*bold*`,
/// `[text](url)` → `<url|text>`, and `&`, `<`, `>` escaped as Slack requires.
pub fn mrkdwn(markdown: &str) -> String {
    let escaped = markdown
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace("**", "*");
    links(&escaped)
}

/// `[text](http…)` → `<http…|text>`; anything else is left as written.
fn links(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('[') {
        let (before, from_bracket) = rest.split_at(open);
        out.push_str(before);
        let link = from_bracket.find("](").and_then(|mid| {
            let close = from_bracket[mid..].find(')')? + mid;
            let label = &from_bracket[1..mid];
            let url = &from_bracket[mid + 2..close];
            let is_link = url.starts_with("http://") || url.starts_with("https://");
            (is_link && !label.contains(']')).then(|| (format!("<{url}|{label}>"), close + 1))
        });
        match link {
            Some((slack_link, used)) => {
                out.push_str(&slack_link);
                rest = &from_bracket[used..];
            }
            None => {
                out.push('[');
                rest = &from_bracket[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// The link of a cited document, when its URI is a web address.
pub fn citation_url(citation: &Citation) -> Option<&str> {
    let uri = citation.uri.as_str();
    (uri.starts_with("https://") || uri.starts_with("http://")).then_some(uri)
}

fn clip(text: &str, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        return text.to_owned();
    }
    let mut clipped: String = text.chars().take(max_chars.saturating_sub(1)).collect();
    clipped.push('…');
    clipped
}

/// `mrkdwn` sections holding the answer, each within Slack's length limit.
pub fn answer_sections(answer: &str) -> Vec<Value> {
    let text = mrkdwn(answer);
    let mut sections = Vec::new();
    let mut piece = String::new();
    for line in text.split_inclusive('\n') {
        if piece.chars().count() + line.chars().count() > SECTION_CHARS && !piece.is_empty() {
            sections.push(std::mem::take(&mut piece));
        }
        piece.push_str(&clip(line, SECTION_CHARS));
    }
    if !piece.trim().is_empty() {
        sections.push(piece);
    }
    sections
        .into_iter()
        .map(|text| json!({"type": "section", "text": {"type": "mrkdwn", "text": text}}))
        .collect()
}

/// The sources the answer cites, after a "Sources" label in the answer's language:
/// `[n] <url|Title>` (or the title and path) in a context block.
pub fn sources_block(citations: &[Citation], lang: Lang) -> Option<Value> {
    if citations.is_empty() {
        return None;
    }
    let messages = i18n::messages(lang);
    let label = json!({"type": "mrkdwn", "text": format!("*{}:*", messages.sources)});
    let sources = citations.iter().take(CONTEXT_ELEMENTS - 1).map(|c| {
        let title = clip(&mrkdwn(&c.title), 200);
        let page = c
            .page
            .map(|p| format!(", {}", i18n::fill(messages.page, &[("page", &p)])))
            .unwrap_or_default();
        let text = match citation_url(c) {
            Some(url) => format!("*[{}]* <{url}|{title}>{page}", c.n),
            None => format!("*[{}]* {title} (`{}`{page})", c.n, clip(&c.uri, 300)),
        };
        json!({"type": "mrkdwn", "text": text})
    });
    let elements: Vec<Value> = std::iter::once(label).chain(sources).collect();
    Some(json!({"type": "context", "elements": elements}))
}

/// The 👍/👎 buttons under an answer, read out in the answer's language.
pub fn feedback_block(lang: Lang) -> Value {
    let messages = i18n::messages(lang);
    let button = |emoji: &str, label: &str, value: &str| json!({"text": {"type": "plain_text", "text": emoji}, "accessibility_label": label, "value": value});
    json!({"type": "context_actions", "elements": [{
        "type": "feedback_buttons",
        "action_id": FEEDBACK_ACTION,
        "positive_button": button("👍", messages.helpful, "up"),
        "negative_button": button("👎", messages.not_helpful, "down"),
    }]})
}

/// The blocks shown under a streamed answer: sources, then feedback.
pub fn answer_footer(citations: &[Citation], lang: Lang) -> Vec<Value> {
    sources_block(citations, lang)
        .into_iter()
        .chain(std::iter::once(feedback_block(lang)))
        .collect()
}

/// A whole answer as blocks: text, sources, feedback.
pub fn answer_blocks(answer: &str, citations: &[Citation], lang: Lang) -> Vec<Value> {
    let mut blocks = answer_sections(answer);
    blocks.extend(answer_footer(citations, lang));
    blocks
}

#[cfg(test)]
mod tests {
    use super::*;

    fn citation(n: usize, uri: &str) -> Citation {
        Citation {
            n,
            document_id: "d".into(),
            title: "VPN <setup>".into(),
            uri: uri.into(),
            heading_path: vec![],
            page: None,
            snippet: String::new(),
            score: 1.0,
        }
    }

    #[test]
    fn markdown_becomes_mrkdwn() {
        assert_eq!(
            mrkdwn("**Install** it [1] from [the portal](https://it.example/vpn) & <go>"),
            "*Install* it [1] from <https://it.example/vpn|the portal> &amp; &lt;go&gt;"
        );
        assert_eq!(mrkdwn("see [2][3]"), "see [2][3]");
    }

    #[test]
    fn sources_link_web_documents_and_name_the_others() {
        let cited = [citation(1, "https://wiki/vpn"), citation(2, "it/vpn.md")];
        let block = sources_block(&cited, Lang::En).unwrap();
        assert_eq!(block["elements"][0]["text"], "*Sources:*");
        assert_eq!(
            block["elements"][1]["text"],
            "*[1]* <https://wiki/vpn|VPN &lt;setup&gt;>"
        );
        assert_eq!(
            block["elements"][2]["text"],
            "*[2]* VPN &lt;setup&gt; (`it/vpn.md`)"
        );
        assert!(sources_block(&[], Lang::En).is_none());
    }

    #[test]
    fn spanish_answers_get_spanish_labels() {
        let mut cited = citation(1, "manual.pdf");
        cited.page = Some(4);
        let many = vec![cited; 15];
        let block = sources_block(&many, Lang::Es).unwrap();
        let elements = block["elements"].as_array().unwrap();
        assert_eq!(elements[0]["text"], "*Fuentes:*");
        assert!(elements[1]["text"].as_str().unwrap().ends_with(", pág. 4)"));
        assert_eq!(elements.len(), 10, "Slack's limit, label included");
        let feedback = feedback_block(Lang::Es);
        let button = &feedback["elements"][0]["positive_button"];
        assert_eq!(button["accessibility_label"], "Esta respuesta fue útil");
    }

    #[test]
    fn long_answers_are_split_into_sections() {
        let answer = "word ".repeat(400) + "\n" + &"more ".repeat(400);
        let sections = answer_sections(&answer);
        assert_eq!(sections.len(), 2);
        for s in &sections {
            assert!(s["text"]["text"].as_str().unwrap().chars().count() <= 3000);
        }
    }
}
