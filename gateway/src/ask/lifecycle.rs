//! The one ask lifecycle every channel calls: validate → resolve the profile → admit (request
//! limits and a concurrent-answer slot) → load the conversation → run the pipeline → store the
//! exchange when the answer is done. A channel only decodes its wire request into a
//! [`ChannelAsk`] and encodes the [`Answer`]'s events (or the [`AskError`]) into its wire format.

use futures::{Stream, StreamExt};
use ragway_catalog::StoredTurn;
use ragway_ingest::lang::Lang;
use tracing::{Instrument, Span};

use super::error::AskError;
use super::events::{AnswerEvents, AskEvent, AskResponse};
use super::pipeline::{self, collect};
use super::request::AskRequest;
use crate::context::Core;
use crate::ground::{Role, Turn};
use crate::identity::Principal;
use crate::limits::{CapacityPermit, RateStatus, Refused, StreamPermit};
use crate::llm::GenerationOptions;
use crate::usage::UsageEvent;

/// A question as a channel decoded it from its wire request.
#[derive(Debug, Clone)]
pub struct ChannelAsk {
    pub question: String,
    /// The copilot profile asked for (None: the tenant's default).
    pub profile: Option<String>,
    /// Passages to retrieve (None: the profile's depth).
    pub top_k: Option<usize>,
    pub conversation: Conversation,
    pub options: GenerationOptions,
    /// False when the caller asked for a fresh answer (`Cache-Control: no-cache`).
    pub use_cache: bool,
    /// The caller's language (`Accept-Language`, a Teams locale, the widget's page), used only
    /// when the question is too short to tell its own.
    pub language: Option<Lang>,
    /// The per-user request budget this question spends when it is not the asker's own
    /// (anonymous widget visitors all spend their widget key's).
    pub budget: Option<String>,
}

impl ChannelAsk {
    /// A first question with the defaults: the tenant's default profile, no history, cached.
    pub fn new(question: impl Into<String>) -> Self {
        Self {
            question: question.into(),
            profile: None,
            top_k: None,
            conversation: Conversation::Start,
            options: GenerationOptions::default(),
            use_cache: true,
            language: None,
            budget: None,
        }
    }
}

/// Which conversation a question belongs to, and whether the exchange is stored.
#[derive(Debug, Clone)]
pub enum Conversation {
    /// A new conversation; the exchange is stored under a new id.
    Start,
    /// A stored conversation the caller continues; unknown ids are refused.
    Continue(String),
    /// A chat thread's conversation (its id derived by the channel): continued when it exists,
    /// started otherwise; if it cannot be read the question is answered without its history.
    Thread(String),
    /// The history came with the request (the OpenAI API sends it every time); nothing is stored.
    Given(Vec<Turn>),
}

/// An answer that has started: its events hold the concurrent-answer slot until the last one,
/// and store the exchange in the conversation before `done` is handed out.
pub struct Answer {
    /// The conversation the exchange is stored in (None when the history came with the request).
    pub conversation_id: Option<String>,
    /// The caller's request-rate status (for `RateLimit-*` headers).
    pub rate: Option<RateStatus>,
    /// The language of the answer; a channel words its own messages in it.
    pub lang: Lang,
    events: AnswerEvents,
}

impl Answer {
    pub async fn next(&mut self) -> Option<AskEvent> {
        self.events.next().await
    }

    pub fn into_events(self) -> AnswerEvents {
        self.events
    }

    /// The whole answer at once; an `error` event becomes the error.
    pub async fn collect(self) -> Result<AskResponse, AskError> {
        collect(self.events).await
    }
}

/// Runs the ask lifecycle up to the point where the answer streams. Every refusal and failure
/// before the first event is an [`AskError`] (refusals are counted in usage).
pub async fn begin(core: &Core, principal: Principal, ask: ChannelAsk) -> Result<Answer, AskError> {
    let request_span = Span::current();
    request_span.record("tenant", principal.tenant_id.as_str());
    let question = validate(core, &ask)?;
    // Before the request limits: a question the server cannot take spends none of the tenant's.
    let place = core.capacity.try_take()?;
    let profile = core
        .profile(&principal.tenant_id, ask.profile.as_deref())
        .await
        .map_err(AskError::ProfileNotAllowed)?;
    request_span.record("profile", profile.id.as_str());
    let (rate, permit) = admit(core, &principal, ask.budget.as_deref())
        .instrument(tracing::info_span!("limits"))
        .await
        .map_err(AskError::Refused)?;
    let (conversation_id, history) = conversation(core, &principal, ask.conversation).await?;
    let lang = core
        .language(&principal.tenant_id, &question, ask.language)
        .await;
    let request = AskRequest {
        principal: principal.clone(),
        question: question.clone(),
        history,
        top_k: ask.top_k.unwrap_or(profile.top_k),
        profile,
        options: ask.options,
        use_cache: ask.use_cache,
        language: ask.language,
    };
    let events = pipeline::answer_in(core, request, lang).await?;
    let exchange = conversation_id.clone().map(|id| Exchange {
        core: core.clone(),
        principal,
        conversation_id: id,
        question,
    });
    Ok(Answer {
        conversation_id,
        rate,
        lang,
        events: stored_when_done(events, (place, permit), exchange).boxed(),
    })
}

/// The question, trimmed, within the configured limits.
fn validate(core: &Core, ask: &ChannelAsk) -> Result<String, AskError> {
    let question = ask.question.trim();
    if question.is_empty() {
        return Err(AskError::EmptyQuestion);
    }
    let max_chars = core.config.server.max_question_chars;
    if question.chars().count() > max_chars {
        return Err(AskError::QuestionTooLong { max_chars });
    }
    let max = core.config.retrieval.max_top_k;
    if ask.top_k.is_some_and(|k| k == 0 || k > max) {
        return Err(AskError::TopKOutOfRange { max });
    }
    Ok(question.to_owned())
}

/// The request limits every channel applies before any work: the request rate (tenant and
/// user) and a slot among the tenant's concurrent answers. Admissions and refusals are counted.
async fn admit(
    core: &Core,
    principal: &Principal,
    budget: Option<&str>,
) -> Result<(Option<RateStatus>, StreamPermit), Refused> {
    let refuse = |refused: Refused| {
        core.usage
            .record(principal, UsageEvent::Refused(refused.limit_name));
        refused
    };
    let quotas = core.quotas(&principal.tenant_id).await;
    let spender = budget.map(|user| Principal {
        user_id: user.to_owned(),
        ..principal.clone()
    });
    let rate = core
        .limiter
        .check_request(spender.as_ref().unwrap_or(principal), &quotas)
        .await
        .map_err(refuse)?;
    let permit = core
        .limiter
        .acquire_stream(&principal.tenant_id, &quotas)
        .await
        .map_err(refuse)?;
    core.usage.record(principal, UsageEvent::Request);
    Ok((rate, permit))
}

/// The conversation's id (None: nothing is stored) and its history, oldest first.
async fn conversation(
    core: &Core,
    principal: &Principal,
    conversation: Conversation,
) -> Result<(Option<String>, Vec<Turn>), AskError> {
    let max_turns = core.config.conversation.max_turns;
    let (tenant, user) = (&principal.tenant_id, &principal.user_id);
    match conversation {
        // Stored with its first exchange; nothing to write before the answer.
        Conversation::Start => Ok((Some(uuid::Uuid::new_v4().to_string()), Vec::new())),
        Conversation::Given(history) => Ok((None, history)),
        Conversation::Continue(id) => {
            let turns = core
                .catalog
                .conversation_turns(tenant, user, &id, max_turns)
                .await
                .map_err(|err| AskError::Failed(err.into()))?
                .ok_or_else(|| AskError::ConversationNotFound(id.clone()))?;
            Ok((Some(id), history(turns)))
        }
        Conversation::Thread(id) => {
            let turns = match core
                .catalog
                .conversation_turns(tenant, user, &id, max_turns)
                .await
            {
                Ok(turns) => turns.unwrap_or_default(),
                Err(err) => {
                    // The question is still worth answering without its history.
                    tracing::warn!(%err, "cannot load the thread's conversation");
                    Vec::new()
                }
            };
            Ok((Some(id), history(turns)))
        }
    }
}

fn history(turns: Vec<StoredTurn>) -> Vec<Turn> {
    turns
        .into_iter()
        .filter_map(|t| {
            Some(Turn {
                role: Role::parse(&t.role)?,
                text: t.content,
            })
        })
        .collect()
}

/// The question and where its exchange is stored once the answer is done.
struct Exchange {
    core: Core,
    principal: Principal,
    conversation_id: String,
    question: String,
}

impl Exchange {
    async fn store(&self, answer: &str) {
        let turns = [
            StoredTurn {
                role: Role::User.as_str().into(),
                content: self.question.clone(),
            },
            StoredTurn {
                role: Role::Assistant.as_str().into(),
                content: answer.into(),
            },
        ];
        let (tenant, user) = (&self.principal.tenant_id, &self.principal.user_id);
        let id = &self.conversation_id;
        if let Err(err) = self
            .core
            .catalog
            .append_turns(tenant, user, id, &turns)
            .await
        {
            tracing::warn!(%err, conversation_id = %id, "could not store the conversation turn");
        }
    }
}

/// The pipeline's events, holding the answer's place in the server and its tenant's
/// concurrent-answer slot until the last one, and storing the exchange before `done` (a caller
/// may stop reading once it has `done`).
fn stored_when_done(
    mut events: AnswerEvents,
    permit: (CapacityPermit, StreamPermit),
    exchange: Option<Exchange>,
) -> impl Stream<Item = AskEvent> + Send + 'static {
    async_stream::stream! {
        let _permit = permit;
        let mut answer = String::new();
        while let Some(event) = events.next().await {
            match &event {
                AskEvent::Delta { text } => answer.push_str(text),
                AskEvent::Done { .. } => {
                    if let Some(exchange) = &exchange {
                        exchange.store(&answer).await;
                    }
                }
                AskEvent::Sources { .. } | AskEvent::Error { .. } => {}
            }
            yield event;
        }
    }
}
