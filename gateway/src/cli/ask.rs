use std::io::Write;

use clap::Args;
use futures::StreamExt;

use super::out;
use crate::ask::{AskEvent, AskRequest, ask};
use crate::config::Config;
use crate::error::GatewayError;
use crate::http::Principal;
use crate::llm::GenerationOptions;
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
    question: String,
}

pub async fn run(config: Config, args: AskArgs) -> Result<(), GatewayError> {
    let state = AppState::open(config).await?;
    state.catalog.require_tenant(&args.tenant).await?;
    let profile = state
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
    };
    let events = ask(state.clone(), request);
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
                    out("\nSources:");
                }
                for c in citations {
                    let section = if c.heading_path.is_empty() {
                        String::new()
                    } else {
                        format!(" › {}", c.heading_path.join(" › "))
                    };
                    out(format!("  [{}] {}{section} ({})", c.n, c.title, c.uri));
                }
                out(format!(
                    "\n({} answer, {} tokens)",
                    serde_json::to_value(mode)
                        .unwrap_or_default()
                        .as_str()
                        .unwrap_or("?"),
                    usage.total_tokens
                ));
            }
            AskEvent::Error { code, message } => {
                state.flush_usage().await;
                return Err(GatewayError::Llm(format!("{code}: {message}")));
            }
        }
    }
    // The tokens this question used count in the tenant's usage like any other.
    state.flush_usage().await;
    Ok(())
}
