//! What the chat bots (Slack, Teams) share: a question asked in a thread becomes an `ask` on the
//! asker's conversation for that thread, under the same limits as every channel; a question
//! that cannot be answered becomes a message the asker can read (logged and counted too).

use futures::StreamExt;
use ragway_catalog::StoredTurn;
use ragway_ingest::lang::Lang;

use super::bots::count;
use crate::ask::{AnswerEvents, AskEvent, AskFailure, AskRequest, Role, Turn, start};
use crate::http::Principal;
use crate::i18n;
use crate::limits::StreamPermit;
use crate::llm::GenerationOptions;
use crate::state::AppState;

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
pub async fn language(
    state: &AppState,
    principal: &Principal,
    text: &str,
    hint: Option<Lang>,
) -> Lang {
    crate::ask::language(state, &principal.tenant_id, text, hint).await
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

/// An answer that has started: its events, the concurrent-answer slot it holds, and the
/// exchange to store when it is done.
pub struct ChatAnswer {
    events: AnswerEvents,
    _permit: StreamPermit,
    state: AppState,
    question: ChatQuestion,
    conversation_id: String,
    answer: String,
}

impl ChatAnswer {
    /// The next event; the exchange is stored in the conversation before `done` is returned.
    pub async fn next(&mut self) -> Option<AskEvent> {
        let event = self.events.next().await?;
        match &event {
            AskEvent::Delta { text } => self.answer.push_str(text),
            AskEvent::Done { .. } => {
                remember(
                    &self.state,
                    &self.question,
                    &self.conversation_id,
                    &self.answer,
                )
                .await;
                count(&self.state.metrics, self.question.channel, "answered");
            }
            AskEvent::Error { code, message } => {
                let tenant = &self.question.principal.tenant_id;
                tracing::error!(channel = self.question.channel, %tenant, code, message, "the answer failed");
                count(&self.state.metrics, self.question.channel, "failed");
            }
            AskEvent::Sources { .. } => {}
        }
        Some(event)
    }
}

/// Starts answering: limits, the thread's conversation, then the core `ask`. `Err` is the
/// message to show the asker, in the question's language (already logged and counted).
pub async fn begin(state: &AppState, question: ChatQuestion) -> Result<ChatAnswer, String> {
    let channel = question.channel;
    let principal = &question.principal;
    let tenant = principal.tenant_id.clone();
    let lang = question.lang;
    let messages = i18n::messages(lang);
    let max_chars = state.config.server.max_question_chars;
    if question.text.chars().count() > max_chars {
        count(&state.metrics, channel, "refused");
        return Err(i18n::fill(
            messages.question_too_long,
            &[("max_chars", &max_chars)],
        ));
    }
    let profile = state.profile(&tenant, None).await.map_err(|err| {
        tracing::error!(channel, %tenant, %err, "no copilot profile for the tenant");
        count(&state.metrics, channel, "failed");
        messages.not_set_up.to_owned()
    })?;
    let (_, permit) = super::admit_or_refuse(state, principal)
        .await
        .map_err(|refused| {
            tracing::warn!(channel, %tenant, limit = refused.limit_name, "question refused by a limit");
            count(&state.metrics, channel, "refused");
            i18n::refused(lang, &refused)
        })?;
    let conversation_id = conversation_id(&question);
    let history = history(state, &question, &conversation_id).await;
    let request = AskRequest {
        principal: principal.clone(),
        question: question.text.clone(),
        history,
        top_k: profile.top_k,
        profile,
        options: GenerationOptions::default(),
        use_cache: true,
        language: Some(lang),
    };
    match start(state.clone(), request).await {
        Ok(events) => Ok(ChatAnswer {
            events,
            _permit: permit,
            state: state.clone(),
            question,
            conversation_id,
            answer: String::new(),
        }),
        Err(AskFailure::Refused(refused)) => {
            tracing::warn!(channel, %tenant, limit = refused.limit_name, "question refused by a token quota");
            count(&state.metrics, channel, "refused");
            Err(i18n::refused(lang, &refused))
        }
        Err(AskFailure::Failed(err)) => {
            tracing::error!(channel, %tenant, %err, "the answer could not start");
            count(&state.metrics, channel, "failed");
            Err(failure_message(lang, err.code()))
        }
    }
}

/// What the asker reads when an answer fails, by the failure's stable code, in the question's
/// language (internals stay in the log).
pub fn failure_message(lang: Lang, code: &str) -> String {
    i18n::failure(lang, code).to_owned()
}

async fn history(state: &AppState, question: &ChatQuestion, id: &str) -> Vec<Turn> {
    let p = &question.principal;
    let max_turns = state.config.conversation.max_turns;
    match state
        .catalog
        .conversation_turns(&p.tenant_id, &p.user_id, id, max_turns)
        .await
    {
        Ok(turns) => turns
            .unwrap_or_default()
            .into_iter()
            .filter_map(|t| {
                Some(Turn {
                    role: Role::parse(&t.role)?,
                    text: t.content,
                })
            })
            .collect(),
        Err(err) => {
            // The question is still worth answering without its history.
            tracing::warn!(channel = question.channel, %err, "cannot load the thread's conversation");
            Vec::new()
        }
    }
}

async fn remember(state: &AppState, question: &ChatQuestion, id: &str, answer: &str) {
    let turns = [
        StoredTurn {
            role: Role::User.as_str().into(),
            content: question.text.clone(),
        },
        StoredTurn {
            role: Role::Assistant.as_str().into(),
            content: answer.to_owned(),
        },
    ];
    let p = &question.principal;
    if let Err(err) = state
        .catalog
        .append_turns(&p.tenant_id, &p.user_id, id, &turns)
        .await
    {
        tracing::warn!(channel = question.channel, %err, "could not store the conversation turn");
    }
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
}
