//! Answers a question in its Slack thread: status while working, the answer streamed
//! (`chat.startStream`/`appendStream`/`stopStream`, or posted and edited in place with
//! `chat.update` when streaming is unavailable), then the cited sources and feedback buttons.
//! A failure at any step ends with a message in the thread; none is dropped silently.

use std::sync::Arc;
use std::time::Duration;

use ragway_ingest::lang::Lang;
use serde_json::{Value, json};
use tokio::time::Instant;

use super::SlackState;
use super::api::SlackError;
use super::{CHANNEL, SlackBot, blocks, identity};
use crate::ask::AskEvent;
use crate::channels::bots::count;
use crate::channels::chat::{self, ChatQuestion};
use crate::config::slack::SlackWorkspace;
use crate::ground::Citation;
use crate::i18n;

/// Where a question was asked and the answer goes.
#[derive(Debug, Clone)]
pub struct Thread {
    pub team: String,
    pub channel: String,
    /// The thread to answer in (`event.thread_ts`, else the question's own `ts`).
    pub thread_ts: String,
    pub user: String,
    /// A guest from another organisation gets only the workspace's `guest_groups`.
    pub membership: identity::Membership,
}

/// Answers `text` in `thread` (run on a tracked background task).
pub async fn answer_in_thread(
    state: SlackState,
    bot: Arc<SlackBot>,
    workspace: SlackWorkspace,
    token: String,
    thread: Thread,
    text: String,
) {
    let principal = identity::principal(
        &bot,
        &workspace,
        &token,
        &thread.team,
        &thread.user,
        thread.membership,
    )
    .await;
    // Slack sends no locale with events: the question's language decides, then the tenant's.
    let lang = chat::language(&state.core, &principal, &text, None).await;
    let out = Output::new(&state, &bot, &token, &thread, lang);
    out.set_status(i18n::messages(lang).status_searching).await;
    let question = ChatQuestion {
        principal,
        channel: CHANNEL,
        thread: format!("{}:{}", thread.channel, thread.thread_ts),
        text,
        lang,
    };
    let mut answer = match chat::begin(&state.core, question).await {
        Ok(answer) => answer,
        Err(message) => return out.notice(&format!("⚠️ {message}")).await,
    };
    let mut out = out.open().await;
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Not started yet.
    Closed,
    /// Native streaming: `sent` bytes of the answer are in the stream already.
    Streaming,
    /// A posted message edited in place.
    Editing,
    /// Nothing could be posted; the answer is posted whole at the end (or the failure logged).
    Detached,
}

/// The answer message in progress.
struct Output<'a> {
    state: &'a SlackState,
    bot: &'a SlackBot,
    token: &'a str,
    thread: &'a Thread,
    lang: Lang,
    mode: Mode,
    ts: String,
    text: String,
    sent: usize,
    last_update: Instant,
}

impl<'a> Output<'a> {
    fn new(
        state: &'a SlackState,
        bot: &'a SlackBot,
        token: &'a str,
        thread: &'a Thread,
        lang: Lang,
    ) -> Self {
        Self {
            state,
            bot,
            token,
            thread,
            lang,
            mode: Mode::Closed,
            ts: String::new(),
            text: String::new(),
            sent: 0,
            last_update: Instant::now(),
        }
    }

    async fn call(&self, method: &str, body: Value) -> Result<Value, SlackError> {
        self.bot.api.call(self.token, method, &body).await
    }

    /// The thread's "is thinking…" status (assistant threads; best effort elsewhere).
    async fn set_status(&self, status: &str) {
        let body = json!({"channel_id": self.thread.channel, "thread_ts": self.thread.thread_ts, "status": status});
        if let Err(err) = self.call("assistant.threads.setStatus", body).await {
            tracing::debug!(%err, "no thread status shown");
        }
    }

    /// Starts the answer message: a stream when Slack allows it, else a placeholder to edit.
    async fn open(mut self) -> Self {
        if self.bot.config.streaming {
            let start = json!({
                "channel": self.thread.channel,
                "thread_ts": self.thread.thread_ts,
                "recipient_user_id": self.thread.user,
                "recipient_team_id": self.thread.team,
            });
            match self.call("chat.startStream", start).await {
                Ok(body) => return self.started(Mode::Streaming, &body),
                Err(err) => {
                    tracing::info!(%err, "Slack streaming unavailable; editing the answer in place")
                }
            }
        }
        let placeholder = json!({
            "channel": self.thread.channel,
            "thread_ts": self.thread.thread_ts,
            "text": format!("_{}_", i18n::messages(self.lang).searching),
        });
        match self.call("chat.postMessage", placeholder).await {
            Ok(body) => self.started(Mode::Editing, &body),
            Err(err) => {
                tracing::error!(%err, "cannot post the answer placeholder; the answer will be posted whole");
                self.mode = Mode::Detached;
                self
            }
        }
    }

    fn started(mut self, mode: Mode, body: &Value) -> Self {
        match body["ts"].as_str() {
            Some(ts) => {
                self.ts = ts.to_owned();
                self.mode = mode;
            }
            None => self.mode = Mode::Detached,
        }
        self.last_update = Instant::now();
        self
    }

    async fn push(&mut self, delta: &str) {
        self.text.push_str(delta);
        let interval = Duration::from_millis(self.bot.config.update_interval_ms);
        if self.last_update.elapsed() >= interval {
            self.update().await;
        }
    }

    /// Shows the answer so far; a failing update stops further ones (the end still delivers).
    async fn update(&mut self) {
        self.last_update = Instant::now();
        let result = match self.mode {
            Mode::Streaming if self.sent < self.text.len() => {
                let body = json!({"channel": self.thread.channel, "ts": self.ts, "markdown_text": &self.text[self.sent..]});
                let result = self.call("chat.appendStream", body).await;
                if result.is_ok() {
                    self.sent = self.text.len();
                }
                result
            }
            Mode::Editing => {
                let text = blocks::mrkdwn(&self.text);
                let body = json!({"channel": self.thread.channel, "ts": self.ts, "text": text});
                self.call("chat.update", body).await
            }
            _ => return,
        };
        if let Err(err) = result {
            tracing::warn!(%err, "cannot update the answer in progress; it will be delivered whole");
            self.mode = Mode::Detached;
        }
    }

    /// The whole answer with its sources and feedback buttons.
    async fn finish(self, citations: &[Citation]) {
        let delivered = match self.mode {
            Mode::Streaming => {
                let mut body = json!({"channel": self.thread.channel, "ts": self.ts, "blocks": blocks::answer_footer(citations, self.lang)});
                if self.sent < self.text.len() {
                    body["markdown_text"] = json!(&self.text[self.sent..]);
                }
                self.call("chat.stopStream", body).await
            }
            Mode::Editing => {
                let body = json!({"channel": self.thread.channel, "ts": self.ts,
                    "text": fallback_text(&self.text), "blocks": blocks::answer_blocks(&self.text, citations, self.lang)});
                self.call("chat.update", body).await
            }
            Mode::Closed | Mode::Detached => {
                let body = json!({"channel": self.thread.channel, "thread_ts": self.thread.thread_ts,
                    "text": fallback_text(&self.text), "blocks": blocks::answer_blocks(&self.text, citations, self.lang)});
                self.call("chat.postMessage", body).await
            }
        };
        if let Err(err) = delivered {
            self.undelivered(&err);
        }
    }

    /// Ends the answer with what went wrong, keeping whatever was already shown.
    async fn fail(self, message: &str) {
        let warning = format!("⚠️ {message}");
        let delivered = match self.mode {
            Mode::Streaming => {
                let rest = &self.text[self.sent..];
                let text = if self.text.is_empty() {
                    warning
                } else {
                    format!("{rest}\n\n{warning}")
                };
                let body =
                    json!({"channel": self.thread.channel, "ts": self.ts, "markdown_text": text});
                self.call("chat.stopStream", body).await
            }
            Mode::Editing => {
                let shown = blocks::mrkdwn(&self.text);
                let text = if shown.is_empty() {
                    warning
                } else {
                    format!("{shown}\n\n{warning}")
                };
                let body = json!({"channel": self.thread.channel, "ts": self.ts, "text": text});
                self.call("chat.update", body).await
            }
            Mode::Closed | Mode::Detached => return self.notice(&warning).await,
        };
        if let Err(err) = delivered {
            self.undelivered(&err);
        }
    }

    /// A short message in the thread (refusals, failures before the answer started).
    async fn notice(&self, text: &str) {
        let body = json!({"channel": self.thread.channel, "thread_ts": self.thread.thread_ts, "text": text});
        if let Err(err) = self.call("chat.postMessage", body).await {
            self.undelivered(&err);
        }
    }

    fn undelivered(&self, err: &SlackError) {
        tracing::error!(%err, team = %self.thread.team, channel = %self.thread.channel,
            "could not deliver the answer to Slack");
        count(&self.state.core.metrics, CHANNEL, "delivery_failed");
    }
}

/// The message's plain `text` (notifications, screen readers) beside its blocks.
fn fallback_text(answer: &str) -> String {
    let text = blocks::mrkdwn(answer);
    if text.chars().count() <= 3000 {
        return text;
    }
    let mut clipped: String = text.chars().take(2999).collect();
    clipped.push('…');
    clipped
}
