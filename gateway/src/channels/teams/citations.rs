//! The final answer's Teams extras: the "AI generated" label and the cited sources as
//! schema.org `Claim` citations matching the `[n]` markers in the text (within Teams' limits),
//! and the feedback loop (👍/👎 arrive as `message/submitAction` invokes).

use serde_json::{Value, json};

use crate::ground::Citation;

/// Teams shows at most this many citations on a message.
const MAX_CITATIONS: usize = 20;
const NAME_CHARS: usize = 80;
const ABSTRACT_CHARS: usize = 160;

fn clip(text: &str, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        return text.to_owned();
    }
    let mut clipped: String = text.chars().take(max_chars.saturating_sub(1)).collect();
    clipped.push('…');
    clipped
}

/// The root `Message` entity: AI label plus the citations whose `[n]` the text contains.
pub fn ai_message_entity(text: &str, citations: &[Citation]) -> Value {
    let claims: Vec<Value> = citations
        .iter()
        .filter(|c| text.contains(&format!("[{}]", c.n)))
        .take(MAX_CITATIONS)
        .map(|c| {
            let mut appearance = json!({
                "@type": "DigitalDocument",
                "name": clip(&c.title, NAME_CHARS),
                "abstract": clip(if c.snippet.is_empty() { &c.uri } else { &c.snippet }, ABSTRACT_CHARS),
            });
            if c.uri.starts_with("https://") || c.uri.starts_with("http://") {
                appearance["url"] = json!(c.uri);
            }
            json!({"@type": "Claim", "position": c.n, "appearance": appearance})
        })
        .collect();
    json!({
        "type": "https://schema.org/Message",
        "@type": "Message",
        "@context": "https://schema.org",
        "@id": "",
        "additionalType": ["AIGeneratedContent"],
        "citation": claims,
    })
}

/// `channelData` turning on Teams' built-in 👍/👎 feedback.
pub fn feedback_channel_data() -> Value {
    json!({"feedbackLoop": {"type": "default"}})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_cited_sources_become_claims_within_limits() {
        let citation = |n: usize| Citation {
            n,
            document_id: "d".into(),
            title: "T".repeat(100),
            uri: format!("https://docs/{n}"),
            heading_path: vec![],
            page: None,
            snippet: "s".repeat(300),
            score: 1.0,
        };
        let entity = ai_message_entity("Use it [2].", &[citation(1), citation(2)]);
        let claims = entity["citation"].as_array().unwrap();
        assert_eq!(claims.len(), 1);
        assert_eq!(claims[0]["position"], 2);
        assert_eq!(
            claims[0]["appearance"]["name"]
                .as_str()
                .unwrap()
                .chars()
                .count(),
            80
        );
        assert_eq!(
            claims[0]["appearance"]["abstract"]
                .as_str()
                .unwrap()
                .chars()
                .count(),
            160
        );
        assert_eq!(entity["additionalType"][0], "AIGeneratedContent");
    }
}
