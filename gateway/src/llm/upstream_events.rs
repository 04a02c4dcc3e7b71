//! The LLM's streamed events as answer chunks, taken a batch at a time: every event that has
//! already arrived when the answer is read. A fast model's events come many to a network read,
//! and async-openai hands them over one by one from a task of its own; passed on one by one,
//! each would cost a wake-up, an SSE event and a write to the client. Text that arrived
//! together goes on as one delta instead: the same text, as soon as before, in fewer pieces.

use async_openai::error::OpenAIError;
use async_openai::types::chat::CreateChatCompletionStreamResponse;

use super::{ChatChunk, Usage};
use crate::error::GatewayError;

/// Events taken at most in one batch, so a long backlog still streams in pieces.
pub(super) const MAX_EVENTS_TOGETHER: usize = 64;

pub(super) type UpstreamEvent = Result<CreateChatCompletionStreamResponse, OpenAIError>;

/// A batch of upstream events as chunks, in order: consecutive text merged into one delta,
/// usage where it came, an error ending the batch (what came after it is dropped). `finished`
/// is set when an event carried a finish reason.
pub(super) fn merge_batch(
    batch: Vec<UpstreamEvent>,
    model: &str,
    finished: &mut bool,
) -> Vec<Result<ChatChunk, GatewayError>> {
    let mut chunks = Vec::new();
    let mut text = String::new();
    for event in batch {
        let response = match event {
            Ok(response) => response,
            Err(err) => {
                flush(&mut text, &mut chunks);
                chunks.push(Err(GatewayError::Llm(format!("{model}: {err}"))));
                return chunks;
            }
        };
        for choice in response.choices {
            *finished |= choice.finish_reason.is_some();
            if let Some(delta) = choice.delta.content {
                text.push_str(&delta);
            }
        }
        if let Some(usage) = response.usage {
            flush(&mut text, &mut chunks);
            chunks.push(Ok(ChatChunk::Usage(Usage {
                prompt_tokens: usage.prompt_tokens as usize,
                completion_tokens: usage.completion_tokens as usize,
                total_tokens: usage.total_tokens as usize,
            })));
        }
    }
    flush(&mut text, &mut chunks);
    chunks
}

fn flush(text: &mut String, chunks: &mut Vec<Result<ChatChunk, GatewayError>>) {
    if !text.is_empty() {
        chunks.push(Ok(ChatChunk::Delta(std::mem::take(text))));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(content: Option<&str>, finish: Option<&str>) -> UpstreamEvent {
        Ok(serde_json::from_value(serde_json::json!({
            "id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "m",
            "choices": [{"index": 0, "delta": {"content": content}, "finish_reason": finish}],
        }))
        .unwrap())
    }

    fn usage(total: u32) -> UpstreamEvent {
        Ok(serde_json::from_value(serde_json::json!({
            "id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "m",
            "choices": [],
            "usage": {"prompt_tokens": total - 1, "completion_tokens": 1, "total_tokens": total},
        }))
        .unwrap())
    }

    fn texts(chunks: &[Result<ChatChunk, GatewayError>]) -> Vec<String> {
        chunks
            .iter()
            .map(|c| match c {
                Ok(ChatChunk::Delta(t)) => format!("delta:{t}"),
                Ok(ChatChunk::Usage(u)) => format!("usage:{}", u.total_tokens),
                Err(e) => format!("error:{e}"),
            })
            .collect()
    }

    #[test]
    fn text_that_arrived_together_goes_on_as_one_delta_and_usage_keeps_its_place() {
        let mut finished = false;
        let batch = vec![
            event(Some(""), None),
            event(Some("Hola "), None),
            event(None, None),
            event(Some("mundo"), None),
            usage(9),
            event(Some("."), Some("stop")),
        ];
        let chunks = merge_batch(batch, "m", &mut finished);
        assert_eq!(texts(&chunks), ["delta:Hola mundo", "usage:9", "delta:."]);
        assert!(finished);
    }

    #[test]
    fn an_error_ends_the_batch_after_the_text_before_it() {
        let mut finished = false;
        let batch = vec![
            event(Some("partial"), None),
            Err(OpenAIError::StreamError(Box::new(
                async_openai::error::StreamError::EventStream("reset".into()),
            ))),
            event(Some("never"), Some("stop")),
        ];
        let chunks = merge_batch(batch, "m", &mut finished);
        let got = texts(&chunks);
        assert_eq!(got.len(), 2, "{got:?}");
        assert_eq!(got[0], "delta:partial");
        assert!(
            got[1].starts_with("error:") && got[1].contains("reset"),
            "{got:?}"
        );
        assert!(!finished, "the finish after the error was not taken");
    }

    #[test]
    fn an_empty_batch_gives_nothing() {
        let mut finished = false;
        assert!(merge_batch(Vec::new(), "m", &mut finished).is_empty());
        assert!(!finished);
    }
}
