//! The `chat.completion.chunk` frames of a streamed answer and the `url_citation` annotations,
//! serialized straight from borrowed parts. Built as `serde_json::Value` trees they cost ≈ 300
//! allocations an answer (every key and string copied into an ordered map, heaptrack), on the
//! path of every cache miss and every hit.

use serde::Serialize;

use crate::ground::Citation;
use crate::llm::Usage;

/// What every frame of one answer repeats.
pub(super) struct Frames {
    pub id: String,
    pub created: i64,
    pub model: String,
}

#[derive(Serialize)]
struct Chunk<'a> {
    id: &'a str,
    object: &'static str,
    created: i64,
    model: &'a str,
    /// Always `null` (OpenAI's field, which ragway has no value for).
    system_fingerprint: Option<()>,
    choices: &'a [Choice<'a>],
    #[serde(skip_serializing_if = "Option::is_none")]
    usage: Option<&'a Usage>,
}

#[derive(Serialize)]
struct Choice<'a> {
    index: u32,
    delta: Delta<'a>,
    logprobs: Option<()>,
    finish_reason: Option<&'static str>,
}

#[derive(Serialize, Default)]
struct Delta<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    role: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    content: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    annotations: Option<&'a [Annotation<'a>]>,
}

/// A `url_citation` annotation: where a `[n]` marker is in the answer (in characters) and the
/// source it cites.
#[derive(Debug, PartialEq, Serialize)]
pub(super) struct Annotation<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    url_citation: UrlCitation<'a>,
}

#[derive(Debug, PartialEq, Serialize)]
struct UrlCitation<'a> {
    start_index: usize,
    end_index: usize,
    url: &'a str,
    title: &'a str,
}

impl Frames {
    /// The first frame: the assistant's role, no text yet.
    pub fn role(&self) -> String {
        self.one(Delta {
            role: Some("assistant"),
            content: Some(""),
            ..Delta::default()
        })
    }

    pub fn content(&self, text: &str) -> String {
        self.one(Delta {
            content: Some(text),
            ..Delta::default()
        })
    }

    /// The last frame of the answer: its annotations and `finish_reason: "stop"`.
    pub fn stop(&self, annotations: &[Annotation<'_>]) -> String {
        let choice = Choice {
            index: 0,
            delta: Delta {
                annotations: Some(annotations),
                ..Delta::default()
            },
            logprobs: None,
            finish_reason: Some("stop"),
        };
        self.frame(&[choice], None)
    }

    /// The frame `stream_options.include_usage` asks for: no choices, the usage.
    pub fn usage(&self, usage: &Usage) -> String {
        self.frame(&[], Some(usage))
    }

    fn one(&self, delta: Delta<'_>) -> String {
        let choice = Choice {
            index: 0,
            delta,
            logprobs: None,
            finish_reason: None,
        };
        self.frame(&[choice], None)
    }

    fn frame(&self, choices: &[Choice<'_>], usage: Option<&Usage>) -> String {
        let chunk = Chunk {
            id: &self.id,
            object: "chat.completion.chunk",
            created: self.created,
            model: &self.model,
            system_fingerprint: None,
            choices,
            usage,
        };
        // Strings and integers only: serializing them cannot fail.
        serde_json::to_string(&chunk).unwrap_or_default()
    }
}

/// `url_citation` annotations for every `[n]` marker in the answer that cites a source.
pub(super) fn annotations<'a>(answer: &str, citations: &'a [Citation]) -> Vec<Annotation<'a>> {
    let bytes = answer.as_bytes();
    let mut out = Vec::new();
    // `at` walks bytes, `chars` counts characters: OpenAI's indices are in characters.
    let (mut at, mut chars) = (0, 0);
    while at < bytes.len() {
        if bytes[at] == b'[' {
            let digits = bytes[at + 1..]
                .iter()
                .take_while(|b| b.is_ascii_digit())
                .count();
            let end = at + 1 + digits;
            if digits > 0 && bytes.get(end) == Some(&b']') {
                let cited = answer[at + 1..end]
                    .parse::<usize>()
                    .ok()
                    .and_then(|n| citations.iter().find(|c| c.n == n));
                if let Some(citation) = cited {
                    out.push(Annotation {
                        kind: "url_citation",
                        url_citation: UrlCitation {
                            start_index: chars,
                            end_index: chars + digits + 2,
                            url: &citation.uri,
                            title: &citation.title,
                        },
                    });
                }
                at = end + 1;
                chars += digits + 2;
                continue;
            }
        }
        at += answer[at..].chars().next().map_or(1, char::len_utf8);
        chars += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    fn citation(n: usize) -> Citation {
        Citation {
            n,
            document_id: format!("d{n}"),
            title: format!("Título {n}"),
            uri: format!("docs/{n}.md"),
            heading_path: Vec::new(),
            page: None,
            snippet: String::new(),
            score: 0.5,
        }
    }

    fn frames() -> Frames {
        Frames {
            id: "chatcmpl-1".into(),
            created: 7,
            model: "ragway".into(),
        }
    }

    fn parsed(frame: &str) -> Value {
        serde_json::from_str(frame).unwrap()
    }

    #[test]
    fn the_frames_are_openais_chunks_in_its_field_order() {
        let frames = frames();
        assert_eq!(
            frames.role(),
            r#"{"id":"chatcmpl-1","object":"chat.completion.chunk","created":7,"model":"ragway","system_fingerprint":null,"choices":[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]}"#
        );
        assert_eq!(
            parsed(&frames.content("Hola \"mundo\"\n"))["choices"][0]["delta"],
            json!({"content": "Hola \"mundo\"\n"})
        );
        let sources = [citation(1)];
        let stop = parsed(&frames.stop(&annotations("Sí [1].", &sources)));
        assert_eq!(stop["choices"][0]["finish_reason"], "stop");
        assert_eq!(
            stop["choices"][0]["delta"],
            json!({"annotations": [{"type": "url_citation", "url_citation": {
                "start_index": 3, "end_index": 6, "url": "docs/1.md", "title": "Título 1"}}]})
        );
        let usage = Usage {
            prompt_tokens: 10,
            completion_tokens: 2,
            total_tokens: 12,
        };
        assert_eq!(
            frames.usage(&usage),
            r#"{"id":"chatcmpl-1","object":"chat.completion.chunk","created":7,"model":"ragway","system_fingerprint":null,"choices":[],"usage":{"prompt_tokens":10,"completion_tokens":2,"total_tokens":12}}"#
        );
    }

    #[test]
    fn annotations_count_characters_and_skip_markers_without_a_source() {
        let sources = [citation(1), citation(12)];
        let found = annotations("Añejo [1], ñu [12] y [3] [x] [] [1", &sources);
        let spans: Vec<(usize, usize, &str)> = found
            .iter()
            .map(|a| {
                let c = &a.url_citation;
                (c.start_index, c.end_index, c.url)
            })
            .collect();
        assert_eq!(spans, vec![(6, 9, "docs/1.md"), (14, 18, "docs/12.md")]);
        assert!(annotations("", &sources).is_empty());
    }
}
