//! Answers a Teams message. In 1:1 chats the answer streams with Teams' streaming protocol:
//! an informative update (sequence 1), then cumulative text in `streaming` updates with
//! increasing sequence numbers, one request at a time and at most every `stream_interval_ms`,
//! then the `final` message. Group chats and channels get a typing indicator and one final
//! message. The final message carries the AI label, citations and the feedback loop; a failure
//! at any step ends with a message the asker can read.

use std::sync::Arc;
use std::time::Duration;

use ragway_ingest::lang::Lang;
use serde_json::{Value, json};
use tokio::time::Instant;

use super::TeamsState;
use super::activity::Activity;
use super::connector::ConnectorError;
use super::{CHANNEL, TeamsBot, citations};
use crate::ask::AskEvent;
use crate::channels::bots::count;
use crate::channels::chat::{self, ChatQuestion};
use crate::config::teams::TeamsTenant;
use crate::ground::Citation;
use crate::i18n;
use crate::identity::Principal;

/// Teams closes a stream after two minutes; updates stop a little before (the final still goes).
const STREAM_UPDATES_FOR: Duration = Duration::from_secs(100);

/// The asker: the organisation's ragway tenant, `teams:{entra tenant}:{object id}`, and groups —
/// a guest's only the organisation's `guest_groups` (see [`Activity::sender_is_guest`]).
pub fn principal(activity: &Activity, org_id: &str, org: &TeamsTenant) -> Principal {
    let user = activity
        .from
        .aad_object_id
        .clone()
        .unwrap_or_else(|| activity.from.id.clone());
    let mut groups = if activity.sender_is_guest() {
        org.guest_groups.clone()
    } else {
        let mut groups = org.default_groups.clone();
        groups.extend(org.user_groups.get(&user).cloned().unwrap_or_default());
        groups
    };
    groups.sort();
    groups.dedup();
    Principal {
        tenant_id: org.tenant.clone(),
        user_id: format!("teams:{org_id}:{user}"),
        groups,
    }
}

/// Answers one message activity (run on a tracked background task).
pub async fn answer(
    state: TeamsState,
    bot: Arc<TeamsBot>,
    activity: Activity,
    org_id: String,
    org: TeamsTenant,
) {
    let text = activity.question();
    let asker = principal(&activity, &org_id, &org);
    // The question's words first; Teams' locale (the user's client language) when they give no clue.
    let lang = chat::language(&state.core, &asker, &text, activity.lang()).await;
    let mut out = Reply::new(&state, &bot, &activity, lang);
    if text.is_empty() {
        count(&state.core.metrics, CHANNEL, "ignored");
        return out.notice(i18n::messages(lang).teams_empty_hint).await;
    }
    if activity.is_personal() {
        out.start_stream().await;
    } else {
        out.typing().await;
    }
    let question = ChatQuestion {
        principal: asker,
        channel: CHANNEL,
        // A channel thread's conversation id names its root message (`;messageid=`).
        thread: activity.conversation.id.clone(),
        text,
        lang,
    };
    let mut answer = match chat::begin(&state.core, question).await {
        Ok(answer) => answer,
        Err(message) => return out.fail(&message).await,
    };
    while let Some(event) = answer.next().await {
        match event {
            AskEvent::Sources { .. } => {}
            AskEvent::Delta { text } => out.push(&text).await,
            AskEvent::Done { citations, .. } => return out.finish(&citations).await,
            AskEvent::Error { code, .. } => {
                return out.fail(&chat::failure_message(lang, code)).await;
            }
        }
    }
    out.fail(&chat::failure_message(
        lang,
        crate::error::ErrorCode::InternalError,
    ))
    .await;
}

/// An activity of `kind` into the conversation, its `locale` the answer's language.
fn outgoing(incoming: &Activity, lang: Lang, kind: &str) -> Value {
    let mut reply = incoming.reply(kind);
    reply["locale"] = json!(i18n::locale_tag(lang, incoming.locale.as_deref()));
    reply
}

/// A stream in progress (1:1 chats).
struct Stream {
    id: String,
    sequence: u32,
    started: Instant,
    last_update: Instant,
    /// Bytes of the answer the last update showed.
    shown: usize,
    /// False once an update failed: the final message still delivers the whole answer.
    updating: bool,
}

struct Reply<'a> {
    state: &'a TeamsState,
    bot: &'a TeamsBot,
    incoming: &'a Activity,
    lang: Lang,
    stream: Option<Stream>,
    text: String,
}

impl<'a> Reply<'a> {
    fn new(state: &'a TeamsState, bot: &'a TeamsBot, incoming: &'a Activity, lang: Lang) -> Self {
        Self {
            state,
            bot,
            incoming,
            lang,
            stream: None,
            text: String::new(),
        }
    }

    async fn send(
        &self,
        activity: &Value,
        as_reply: bool,
    ) -> Result<Option<String>, ConnectorError> {
        let reply_to = as_reply.then_some(self.incoming.id.as_deref()).flatten();
        self.bot
            .connector
            .send(
                &self.incoming.service_url,
                &self.incoming.conversation.id,
                reply_to,
                activity,
            )
            .await
    }

    async fn typing(&self) {
        if let Err(err) = self
            .send(&outgoing(self.incoming, self.lang, "typing"), false)
            .await
        {
            tracing::warn!(%err, "could not show Teams' typing indicator");
        }
    }

    /// The informative update that opens a stream (sequence 1); the connector names the stream.
    async fn start_stream(&mut self) {
        let mut update = outgoing(self.incoming, self.lang, "typing");
        update["text"] = json!(i18n::messages(self.lang).searching);
        update["entities"] =
            json!([{"type": "streaminfo", "streamType": "informative", "streamSequence": 1}]);
        match self.send(&update, false).await {
            Ok(Some(id)) => {
                let now = Instant::now();
                self.stream = Some(Stream {
                    id,
                    sequence: 1,
                    started: now,
                    last_update: now,
                    shown: 0,
                    updating: true,
                });
            }
            Ok(None) => {
                tracing::warn!("the Bot Connector gave no stream id; answering in one message")
            }
            Err(err) => tracing::info!(%err, "Teams refused to stream; answering in one message"),
        }
    }

    async fn push(&mut self, delta: &str) {
        self.text.push_str(delta);
        let interval = Duration::from_millis(self.bot.config.stream_interval_ms);
        let Some(stream) = self.stream.as_mut() else {
            return;
        };
        let due = stream.updating
            && stream.last_update.elapsed() >= interval
            && stream.started.elapsed() < STREAM_UPDATES_FOR
            && self.text.len() > stream.shown;
        if !due {
            return;
        }
        stream.sequence += 1;
        let mut update = outgoing(self.incoming, self.lang, "typing");
        update["text"] = json!(self.text);
        update["entities"] = json!([{"type": "streaminfo", "streamId": stream.id,
            "streamType": "streaming", "streamSequence": stream.sequence}]);
        let (shown, id) = (self.text.len(), stream.id.clone());
        // One request at a time: the next update waits for this one.
        let result = self.send(&update, false).await;
        let Some(stream) = self.stream.as_mut() else {
            return;
        };
        stream.last_update = Instant::now();
        match result {
            Ok(_) => stream.shown = shown,
            Err(err) => {
                tracing::warn!(%err, stream = %id, "a Teams streaming update failed; the final message will carry the answer");
                stream.updating = false;
            }
        }
    }

    /// The final message: the whole answer, AI label, citations and feedback loop.
    async fn finish(self, citations: &[Citation]) {
        let mut message = outgoing(self.incoming, self.lang, "message");
        message["text"] = json!(self.text);
        message["textFormat"] = json!("markdown");
        message["entities"] = json!([citations::ai_message_entity(&self.text, citations)]);
        message["channelData"] = citations::feedback_channel_data();
        self.deliver(message).await;
    }

    /// Ends with what went wrong, after whatever was already shown.
    async fn fail(self, message: &str) {
        let warning = format!("⚠️ {message}");
        let text = if self.text.is_empty() {
            warning
        } else {
            format!("{}\n\n{warning}", self.text)
        };
        let mut reply = outgoing(self.incoming, self.lang, "message");
        reply["text"] = json!(text);
        reply["entities"] = json!([]);
        self.deliver(reply).await;
    }

    /// A message outside any stream (e.g. the empty-question hint).
    async fn notice(self, text: &str) {
        let mut reply = outgoing(self.incoming, self.lang, "message");
        reply["text"] = json!(text);
        reply["entities"] = json!([]);
        self.deliver(reply).await;
    }

    /// Sends a final message: closing the stream when there is one (falling back to a plain
    /// reply if the stream was closed under us), a reply to the question otherwise.
    async fn deliver(self, mut message: Value) {
        let mut result = Err(ConnectorError::Transport("not sent".into()));
        if let Some(stream) = &self.stream {
            let mut closing = message.clone();
            if let Some(entities) = closing["entities"].as_array_mut() {
                entities.push(
                    json!({"type": "streaminfo", "streamId": stream.id, "streamType": "final"}),
                );
            }
            result = self.send(&closing, false).await;
            if let Err(err) = &result {
                tracing::warn!(%err, stream = %stream.id, "could not close the Teams stream; replying instead");
            }
        }
        if self.stream.is_none() || result.is_err() {
            if message["entities"].as_array().is_some_and(Vec::is_empty) {
                message.as_object_mut().map(|m| m.remove("entities"));
            }
            result = self.send(&message, true).await;
        }
        if let Err(err) = result {
            tracing::error!(%err, conversation = %self.incoming.conversation.id, "could not deliver the answer to Teams");
            count(&self.state.core.metrics, CHANNEL, "delivery_failed");
        }
    }
}
