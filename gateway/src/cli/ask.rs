use std::io::Write;

use clap::Args;
use futures::StreamExt;
use ragway_ingest::lang::Lang;

use super::out;
use crate::ask::{AskEvent, AskRequest, answer_stream};
use crate::config::Config;
use crate::error::GatewayError;
use crate::i18n;
use crate::identity::Principal;
use crate::llm::{AnswerMode, GenerationOptions};
use crate::state::AppState;

#[derive(Debug, Args)]
pub struct AskArgs {
    #[arg(long)]
    tenant: String,
    /// Passages to retrieve (default: the profile's, else retrieval.top_k).
    #[arg(long)]
    top_k: Option<usize>,
    /// Copilot profile (default: the tenant's default).
    #[arg(long)]
    profile: Option<String>,
    /// Language of the output, and of the answer when the question is too short to tell
    /// (`es`, `en`; default: the locale, e.g. `LANG=es_MX.UTF-8`).
    #[arg(long)]
    pub(super) lang: Option<Lang>,
    question: String,
}

pub async fn run(config: Config, args: AskArgs) -> Result<(), GatewayError> {
    let lang = super::output_lang(args.lang, &config);
    let messages = i18n::messages(lang);
    let state = AppState::open(config).await?;
    state.core.catalog.require_tenant(&args.tenant).await?;
    let profile = state
        .core
        .profile(&args.tenant, args.profile.as_deref())
        .await
        .map_err(GatewayError::NotFound)?;
    let request = AskRequest {
        principal: Principal::local(&args.tenant),
        question: args.question,
        history: Vec::new(),
        top_k: args.top_k.unwrap_or(profile.top_k),
        profile,
        options: GenerationOptions::default(),
        use_cache: true,
        language: Some(lang),
    };
    let events = answer_stream(state.core.clone(), request);
    futures::pin_mut!(events);
    let mut stdout = std::io::stdout();
    while let Some(event) = events.next().await {
        match event {
            AskEvent::Sources { .. } => {}
            AskEvent::Delta { text } => {
                let _ = write!(stdout, "{text}");
                let _ = stdout.flush();
            }
            AskEvent::Done {
                citations,
                usage,
                mode,
                ..
            } => {
                out("");
                if !citations.is_empty() {
                    out(format!("\n{}:", messages.sources));
                }
                for c in citations {
                    let section = if c.heading_path.is_empty() {
                        String::new()
                    } else {
                        format!(" › {}", c.heading_path.join(" › "))
                    };
                    out(format!("  [{}] {}{section} ({})", c.n, c.title, c.uri));
                }
                let mode = match mode {
                    AnswerMode::Extractive => messages.cli_mode_extractive,
                    AnswerMode::Generative => messages.cli_mode_generative,
                };
                let footer = i18n::fill(
                    messages.cli_answer_footer,
                    &[("mode", &mode), ("tokens", &usage.total_tokens)],
                );
                out(format!("\n{footer}"));
            }
            AskEvent::Error { code, message } => {
                state.core.flush_usage().await;
                return Err(GatewayError::Llm(format!("{code}: {message}")));
            }
        }
    }
    // The tokens this question used count in the tenant's usage like any other.
    state.core.flush_usage().await;
    Ok(())
}
