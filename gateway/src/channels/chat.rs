//! What the chat bots (Slack, Teams) share: a question asked in a thread becomes an `ask` on the
//! asker's conversation for that thread, under the same limits as every channel; a question
//! that cannot be answered becomes a message the asker can read (logged and counted too).

use std::sync::Arc;

use ragway_ingest::lang::Lang;

use super::bots::count;
use crate::ask::{self, Answer, AskError, AskEvent, ChannelAsk, Conversation};
use crate::context::Core;
use crate::error::ErrorCode;
use crate::i18n;
use crate::identity::Principal;
use crate::metrics::Metrics;

/// Fixed namespace of the conversation ids derived from chat threads (UUIDv5).
const THREAD_NAMESPACE: uuid::Uuid =
    uuid::Uuid::from_u128(0x5c1e_7a2b_0d4e_4f6a_9b8c_3e2d_1f0a_7b6c);

/// A question asked in a chat.
#[derive(Debug, Clone)]
pub struct ChatQuestion {
    pub principal: Principal,
    /// `slack` or `teams`.
    pub channel: &'static str,
    /// The chat's thread (Slack `channel:thread_ts`, Teams conversation id): questions in the
    /// same thread by the same user continue one conversation.
    pub thread: String,
    pub text: String,
    /// The language to speak in (see [`language`]): the answer's, the bot's messages'.
    pub lang: Lang,
}

/// The language of a chat question: the text's, else the chat's locale (`hint`), else the
/// tenant's, else the configured one — as the answer's, so every message in the thread matches.
pub async fn language(core: &Core, principal: &Principal, text: &str, hint: Option<Lang>) -> Lang {
    core.language(&principal.tenant_id, text, hint).await
}

/// The conversation a thread maps to, per channel, tenant and user. Derived, so no mapping
/// table is needed: the conversation exists once its first exchange is stored.
pub fn conversation_id(question: &ChatQuestion) -> String {
    let p = &question.principal;
    let name = format!(
        "{}\n{}\n{}\n{}",
        question.channel, p.tenant_id, p.user_id, question.thread
    );
    uuid::Uuid::new_v5(&THREAD_NAMESPACE, name.as_bytes()).to_string()
}

/// An answer that has started, counted in the bots' metrics when it ends.
pub struct ChatAnswer {
    answer: Answer,
    metrics: Arc<Metrics>,
    question: ChatQuestion,
}

impl ChatAnswer {
    /// The next event; the exchange is already stored in the conversation when `done` arrives.
    pub async fn next(&mut self) -> Option<AskEvent> {
        let event = self.answer.next().await?;
        let channel = self.question.channel;
        match &event {
            AskEvent::Done { .. } => count(&self.metrics, channel, "answered"),
            AskEvent::Error { code, message } => {
                let tenant = &self.question.principal.tenant_id;
                tracing::error!(channel, %tenant, %code, message, "the answer failed");
                count(&self.metrics, channel, "failed");
            }
            AskEvent::Sources { .. } | AskEvent::Delta { .. } => {}
        }
        Some(event)
    }
}

/// Starts answering through the core's ask lifecycle, on the thread's conversation. `Err` is
/// the message to show the asker, in the question's language (already logged and counted).
pub async fn begin(core: &Core, question: ChatQuestion) -> Result<ChatAnswer, String> {
    let ask = ChannelAsk {
        conversation: Conversation::Thread(conversation_id(&question)),
        language: Some(question.lang),
        ..ChannelAsk::new(question.text.clone())
    };
    let metrics = Arc::clone(&core.metrics);
    match ask::begin(core, question.principal.clone(), ask).await {
        Ok(answer) => Ok(ChatAnswer {
            answer,
            metrics,
            question,
        }),
        Err(err) => Err(refusal(&metrics, &question, err)),
    }
}

/// The one mapping of an answer that did not start to what the asker reads, logged and counted.
fn refusal(metrics: &Metrics, question: &ChatQuestion, err: AskError) -> String {
    let (channel, lang) = (question.channel, question.lang);
    let tenant = &question.principal.tenant_id;
    let messages = i18n::messages(lang);
    match err {
        AskError::QuestionTooLong { max_chars } => {
            count(metrics, channel, "refused");
            i18n::fill(messages.question_too_long, &[("max_chars", &max_chars)])
        }
        AskError::ProfileNotAllowed(err) => {
            tracing::error!(channel, %tenant, %err, "no copilot profile for the tenant");
            count(metrics, channel, "failed");
            messages.not_set_up.to_owned()
        }
        AskError::Overloaded(overloaded) => {
            tracing::warn!(channel, %tenant, %overloaded, "question refused: the server is at capacity");
            count(metrics, channel, "refused");
            messages.busy.to_owned()
        }
        AskError::Refused(refused) => {
            tracing::warn!(channel, %tenant, limit = refused.limit_name, "question refused by a limit");
            count(metrics, channel, "refused");
            i18n::refused(lang, &refused)
        }
        err => {
            tracing::error!(channel, %tenant, %err, "the answer could not start");
            count(metrics, channel, "failed");
            failure_message(lang, err.code())
        }
    }
}

/// What the asker reads when an answer fails, by the failure's stable code, in the question's
/// language (internals stay in the log).
pub fn failure_message(lang: Lang, code: ErrorCode) -> String {
    i18n::failure(lang, code).to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn question(user: &str, thread: &str) -> ChatQuestion {
        ChatQuestion {
            principal: Principal {
                tenant_id: "acme".into(),
                user_id: user.into(),
                groups: Vec::new(),
            },
            channel: "slack",
            thread: thread.into(),
            text: "q".into(),
            lang: Lang::En,
        }
    }

    #[test]
    fn a_thread_is_one_conversation_per_user() {
        let a = conversation_id(&question("u1", "C1:1.0"));
        assert_eq!(a, conversation_id(&question("u1", "C1:1.0")));
        assert_ne!(a, conversation_id(&question("u2", "C1:1.0")));
        assert_ne!(a, conversation_id(&question("u1", "C1:2.0")));
    }

    /// A server at capacity is a busy copilot to the person in the chat, in their language, and
    /// counted as refused (not failed): nothing is wrong but the load.
    #[test]
    fn an_overloaded_server_says_it_is_busy_in_the_askers_language() {
        use prometheus_client::metrics::counter::Counter;
        let metrics = Metrics::new(Counter::default(), Default::default());
        let overloaded = || AskError::from(crate::limits::Overloaded { max: 3 });
        let english = refusal(&metrics, &question("u1", "C1:1.0"), overloaded());
        assert_eq!(english, i18n::messages(Lang::En).busy);
        let spanish = ChatQuestion {
            lang: Lang::Es,
            ..question("u1", "C1:1.0")
        };
        assert_eq!(
            refusal(&metrics, &spanish, overloaded()),
            i18n::messages(Lang::Es).busy
        );
        let text = metrics.encode().unwrap();
        assert!(
            text.contains(r#"ragway_bot_events_total{channel="slack",outcome="refused"} 2"#),
            "{text}"
        );
    }
}
