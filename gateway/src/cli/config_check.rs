//! `ragway config check`: loads the configuration as `serve` would (file + environment), builds
//! every part that can be built offline (index settings, LLM profiles, prompts, chunker, BM25,
//! bots, widget, secrets named by `*_env` keys), and reports every problem — one line each,
//! naming its key — without opening the index, the catalog or any network connection.

use clap::Subcommand;
use ragway_ingest::chunk::Chunker;
use ragway_ingest::embed::Bm25Encoder;

use super::out;
use crate::channels::bots::Clock;
use crate::channels::widget::Widget;
use crate::config::Config;
use crate::copilot::Profiles;
use crate::error::GatewayError;
use crate::ground::Prompts;
use crate::server::Bots;

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Check the configuration (file and RAGWAY_* environment) and exit non-zero on any problem.
    Check,
}

pub async fn config(config: Config, command: ConfigCommand) -> Result<(), GatewayError> {
    match command {
        ConfigCommand::Check => check(&config, &|name| std::env::var(name).ok()),
    }
}

fn check(config: &Config, secrets: &dyn Fn(&str) -> Option<String>) -> Result<(), GatewayError> {
    let problems = problems(config, secrets);
    if problems.is_empty() {
        out("configuration ok");
        return Ok(());
    }
    for problem in &problems {
        out(format!("problem: {problem}"));
    }
    Err(GatewayError::Config(format!(
        "{} problem(s) in the configuration",
        problems.len()
    )))
}

/// Every problem found, each naming its key. Sections are checked independently so that one
/// mistake does not hide the next.
pub fn problems(config: &Config, secrets: &dyn Fn(&str) -> Option<String>) -> Vec<String> {
    let mut problems = config.index.problems();
    problems.extend(config.telemetry.problems());
    problems.extend(config.sources.problems(&config.data_dir));
    if config.ingest.write_batch_points == 0 {
        problems.push("ingest.write_batch_points must be at least 1".into());
    }
    if config.index.api_key_env.is_some()
        && let Err(err) = config.index.qdrant_settings(secrets)
        && problems.is_empty()
    {
        problems.push(err.to_string());
    }
    if config.index.is_shared() && config.widget.session_secret_env.is_none() {
        problems.push(
            "widget.session_secret_env is required with [index] backend = \"qdrant\" (replicas must \
             verify each other's widget sessions)"
                .into(),
        );
    }
    let built: [(&str, Result<(), GatewayError>); 6] = [
        ("llm/copilot", Profiles::build(config).map(drop)),
        (
            "prompts",
            Prompts::load(config.prompts_dir.as_deref()).map(drop),
        ),
        (
            "chunking",
            Chunker::new(&config.chunking).map(drop).map_err(Into::into),
        ),
        (
            "bm25",
            Bm25Encoder::new(&config.bm25).map(drop).map_err(Into::into),
        ),
        (
            "slack/teams",
            Bots::new(config, secrets, Clock::system()).map(drop),
        ),
        ("widget", Widget::new(&config.widget, secrets).map(drop)),
    ];
    for (section, result) in built {
        if let Err(err) = result {
            problems.push(format!("[{section}] {err}"));
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_problem_is_reported_not_just_the_first() {
        let text = "[index]\nbackend = \"qdrant\"\n[llm]\nbase_url = \"http://llm/v1\"\nmodel = \"m\"\n\
                    api_key_env = \"LLM_KEY\"\n[chunking]\nmax_tokens = 0\n\
                    [ingest]\nwrite_batch_points = 0\n";
        let config = Config::from_toml_and_env(text, Vec::new()).unwrap();
        let found = problems(&config, &|_| None);
        for expected in [
            "index.url",
            "widget.session_secret_env",
            "LLM_KEY",
            "[chunking]",
            "ingest.write_batch_points",
        ] {
            assert!(
                found.iter().any(|p| p.contains(expected)),
                "{expected}: {found:?}"
            );
        }
        let fine = Config::from_toml_and_env("", Vec::new()).unwrap();
        assert_eq!(problems(&fine, &|_| None), Vec::<String>::new());
    }
}
