//! Grounding: numbered sources + question rendered from `prompts/` templates (minijinja), within
//! the model's token budget — the lowest-ranked sources are dropped until the prompt fits.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use minijinja::{Environment, context};
use ragway_ingest::chunk::Chunker;
use ragway_ingest::lang::Lang;
use ragway_ingest::store::Hit;
use serde::Serialize;

use super::escape::{as_data, attribute};
use super::excerpt::excerpt;
use super::frame::{Frame, placeholder};
use super::line_tokens::LineTokens;
use super::prompt::{Citation, GroundedPrompt, SourcePassage, Turn};
use crate::error::GatewayError;

const SYSTEM: &str = "system.jinja";
const ANSWER: &str = "answer.jinja";
const REWRITE_SYSTEM: &str = "rewrite_system.jinja";
const REWRITE: &str = "rewrite.jinja";
const FILES: [&str; 4] = [SYSTEM, ANSWER, REWRITE_SYSTEM, REWRITE];
const BUILTIN_EN: [&str; 4] = [
    include_str!("../../../prompts/system.jinja"),
    include_str!("../../../prompts/answer.jinja"),
    include_str!("../../../prompts/rewrite_system.jinja"),
    include_str!("../../../prompts/rewrite.jinja"),
];
const BUILTIN_ES: [&str; 4] = [
    include_str!("../../../prompts/es/system.jinja"),
    include_str!("../../../prompts/es/answer.jinja"),
    include_str!("../../../prompts/es/rewrite_system.jinja"),
    include_str!("../../../prompts/es/rewrite.jinja"),
];
/// Templates a tenant may override, by the short name its settings use; a short name covers
/// every language, `<lang>.<name>` (`es.system`) one language and wins over it.
pub const OVERRIDABLE: [&str; 4] = ["system", "answer", "rewrite_system", "rewrite"];

fn builtin(lang: Lang, file: &str) -> &'static str {
    let texts = match lang {
        Lang::En => &BUILTIN_EN,
        Lang::Es => &BUILTIN_ES,
    };
    FILES
        .iter()
        .position(|f| *f == file)
        .map_or("", |i| texts[i])
}

fn template_file(short: &str) -> Option<&'static str> {
    match short {
        "system" => Some(SYSTEM),
        "answer" => Some(ANSWER),
        "rewrite_system" => Some(REWRITE_SYSTEM),
        "rewrite" => Some(REWRITE),
        _ => None,
    }
}

/// An override's name: `system` (every language) or `es.system` (one language).
fn parse_name(name: &str) -> Option<(Option<Lang>, &'static str)> {
    match name.split_once('.') {
        Some((lang, short)) => {
            let lang = Lang::ALL.into_iter().find(|l| l.code() == lang)?;
            Some((Some(lang), template_file(short)?))
        }
        None => Some((None, template_file(name)?)),
    }
}

/// The template's name in the environment: `es/system.jinja`.
fn env_name(lang: Lang, file: &str) -> String {
    format!("{}/{file}", lang.code())
}

/// A directory's file for `lang`: `<dir>/system.jinja` in English, `<dir>/es/system.jinja` in
/// Spanish (the layout of `prompts/`).
fn dir_file(dir: &Path, lang: Lang, file: &str) -> PathBuf {
    match lang {
        Lang::En => dir.join(file),
        other => dir.join(other.code()).join(file),
    }
}

/// Tokens a chat message costs beyond its content (role and separators).
const MESSAGE_OVERHEAD: usize = 4;
const SNIPPET_CHARS: usize = 240;

pub struct Prompts {
    env: Environment<'static>,
    /// Digest of the templates in use (part of every answer-cache key).
    version: String,
    /// Whether a tenant wrote some of them (untrusted input, not the operator's configuration).
    tenant_written: bool,
    /// The rendered system prompt and its tokens, per language (in `Lang::ALL`'s order).
    systems: [OnceLock<(String, usize)>; Lang::ALL.len()],
    /// Token counts of the answer frame's recurring lines.
    frame_lines: LineTokens,
}

impl std::fmt::Debug for Prompts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Prompts")
    }
}

#[derive(Serialize)]
struct TemplateSource {
    n: usize,
    title: String,
    section: String,
    text: String,
}

/// Instructions one render may run: the built-in templates need a small share of it for the
/// largest prompt; a tenant's loops beyond it fail the render (and are refused when stored).
const RENDER_FUEL: u64 = 500_000;
/// The most text one template may produce.
const MAX_RENDERED_BYTES: usize = 4 * 1024 * 1024;
impl Prompts {
    /// Built-in templates per language, each overridable by a file of the same name in `dir`
    /// (`dir/es/` for Spanish).
    pub fn load(dir: Option<&Path>) -> Result<Self, GatewayError> {
        Self::with_overrides(dir, &BTreeMap::new())
    }

    /// As [`Prompts::load`], then a tenant's own templates on top, by short name (`system`,
    /// `answer`, `rewrite_system`, `rewrite`: every language) or by language (`es.system`,
    /// `en.answer`, …), the language's own winning. Unknown names and templates that do not
    /// compile are refused with the reason.
    pub fn with_overrides(
        dir: Option<&Path>,
        overrides: &BTreeMap<String, String>,
    ) -> Result<Self, GatewayError> {
        if let Some(unknown) = overrides.keys().find(|k| parse_name(k).is_none()) {
            return Err(GatewayError::Template(format!(
                "unknown template `{unknown}` (one of: {}, each also as `es.<name>` or `en.<name>` for one language)",
                OVERRIDABLE.join(", ")
            )));
        }
        let own = |lang: Lang, file: &str| {
            let mut all = None;
            for (name, text) in overrides {
                match parse_name(name) {
                    Some((Some(l), f)) if l == lang && f == file => return Some(text.clone()),
                    Some((None, f)) if f == file => all = Some(text.clone()),
                    _ => {}
                }
            }
            all
        };
        let mut env = Environment::new();
        env.set_trim_blocks(true);
        // Tenants write templates: a budget per render, so none can loop the gateway to a stall.
        env.set_fuel(Some(RENDER_FUEL));
        let mut digest = <sha2::Sha256 as sha2::Digest>::new();
        for lang in Lang::ALL {
            for file in FILES {
                let from_dir = dir.map(|d| dir_file(d, lang, file)).filter(|p| p.exists());
                let text = match (own(lang, file), from_dir) {
                    (Some(text), _) => text,
                    (None, Some(path)) => read(&path)?,
                    (None, None) => builtin(lang, file).to_owned(),
                };
                let name = env_name(lang, file);
                // Name and length first, so moving text between templates changes the digest.
                sha2::Digest::update(&mut digest, name.as_bytes());
                sha2::Digest::update(&mut digest, (text.len() as u64).to_le_bytes());
                sha2::Digest::update(&mut digest, text.as_bytes());
                env.add_template_owned(name.clone(), text)
                    .map_err(|e| GatewayError::Template(format!("{name}: {e}")))?;
            }
        }
        Ok(Self {
            env,
            version: hex::encode(sha2::Digest::finalize(digest)),
            tenant_written: !overrides.is_empty(),
            systems: Default::default(),
            frame_lines: LineTokens::new(),
        })
    }

    pub fn version(&self) -> &str {
        &self.version
    }

    /// Whether a tenant wrote some of these templates: they are then rendered on a blocking
    /// thread, never on an async worker (the operator's own templates are configuration).
    pub fn tenant_written(&self) -> bool {
        self.tenant_written
    }

    fn render(
        &self,
        lang: Lang,
        file: &str,
        ctx: minijinja::Value,
    ) -> Result<String, GatewayError> {
        let name = env_name(lang, file);
        let rendered = self
            .env
            .get_template(&name)
            .and_then(|t| t.render(ctx))
            .map_err(|e| GatewayError::Template(format!("{name}: {e}")))?;
        if rendered.len() > MAX_RENDERED_BYTES {
            return Err(GatewayError::Template(format!(
                "{name}: renders {} bytes, more than the limit of {MAX_RENDERED_BYTES}",
                rendered.len()
            )));
        }
        Ok(rendered)
    }

    /// The most recent turns that fit `budget` tokens (the oldest are dropped first).
    pub fn trim_history(&self, history: &[Turn], chunker: &Chunker, budget: usize) -> Vec<Turn> {
        let mut used = 0;
        let mut kept: Vec<Turn> = history
            .iter()
            .rev()
            .take_while(|turn| {
                used += chunker.count(&turn.text) + MESSAGE_OVERHEAD;
                used <= budget
            })
            .cloned()
            .collect();
        kept.reverse();
        kept
    }

    /// The prompt that turns a follow-up into a standalone search query: (system, user).
    pub fn rewrite(
        &self,
        lang: Lang,
        history: &[Turn],
        question: &str,
    ) -> Result<(String, String), GatewayError> {
        let system = self.render(lang, REWRITE_SYSTEM, context! {})?;
        let user = self.render(lang, REWRITE, context! { history, question })?;
        Ok((system, user))
    }

    /// Tokens of messages as sent (text + per-message overhead).
    pub fn message_tokens(&self, messages: &[&str], chunker: &Chunker) -> usize {
        messages
            .iter()
            .map(|m| chunker.count(m) + MESSAGE_OVERHEAD)
            .sum()
    }

    /// The system prompt in `lang` and its tokens: it has no variables, so it is rendered and
    /// counted once per prompt set (with the process's one chunker).
    fn system(&self, lang: Lang, chunker: &Chunker) -> Result<(String, usize), GatewayError> {
        let slot = Lang::ALL.iter().position(|l| *l == lang).unwrap_or(0);
        if let Some(system) = self.systems.get(slot).and_then(OnceLock::get) {
            return Ok(system.clone());
        }
        let text = self.render(lang, SYSTEM, context! {})?;
        let tokens = chunker.count(&text);
        if let Some(cell) = self.systems.get(slot) {
            // A concurrent first question may have set it: the same text either way.
            let _ = cell.set((text.clone(), tokens));
        }
        Ok((text, tokens))
    }

    /// Builds the prompt in `lang` (the question's language) from the ranked hits, dropping the
    /// lowest-ranked until it fits `budget` tokens.
    pub fn ground(
        &self,
        lang: Lang,
        question: &str,
        history: Vec<Turn>,
        hits: &[Hit],
        chunker: &Chunker,
        budget: usize,
    ) -> Result<GroundedPrompt, GatewayError> {
        let (system, system_tokens) = self.system(lang, chunker)?;
        let history_tokens: usize = history
            .iter()
            .map(|t| chunker.count(&t.text) + MESSAGE_OVERHEAD)
            .sum();
        let fixed_tokens = system_tokens + MESSAGE_OVERHEAD + history_tokens + MESSAGE_OVERHEAD;
        let mut sources = passages(hits);
        let texts: Vec<String> = sources.iter().map(|s| as_data(&s.text)).collect();
        // The chunker's count from ingest, unless escaping changed the text (it only adds).
        let text_tokens: Vec<usize> = hits
            .iter()
            .zip(&texts)
            .map(|(hit, text)| match hit.payload.text_tokens {
                Some(n) if text.len() == hit.payload.text.len() => n as usize,
                _ => chunker.count(text),
            })
            .collect();
        let nonce = rand::random::<u64>();
        let mut keep = hits.len();
        loop {
            let template_sources: Vec<TemplateSource> = sources[..keep]
                .iter()
                .enumerate()
                .map(|(i, s)| TemplateSource {
                    n: s.citation.n,
                    title: attribute(&s.citation.title),
                    section: attribute(&s.citation.heading_path.join(" > ")),
                    text: placeholder(nonce, i),
                })
                .collect();
            let rendered = self.render(
                lang,
                ANSWER,
                context! { question, sources => template_sources },
            )?;
            let frame = Frame::parse(&rendered, nonce, keep);
            let prompt_tokens = fixed_tokens
                + frame.tokens(|text| self.frame_lines.count(chunker, text), &text_tokens);
            if prompt_tokens <= budget || keep <= 1 {
                if prompt_tokens > budget {
                    return Err(GatewayError::BadRequest(format!(
                        "the question does not fit the model's context window ({prompt_tokens} tokens needed, {budget} available)"
                    )));
                }
                let user = frame.fill(&texts);
                if user.len() > MAX_RENDERED_BYTES {
                    return Err(GatewayError::Template(format!(
                        "{}: renders {} bytes, more than the limit of {MAX_RENDERED_BYTES}",
                        env_name(lang, ANSWER),
                        user.len()
                    )));
                }
                sources.truncate(keep);
                return Ok(GroundedPrompt {
                    system,
                    history,
                    user,
                    sources,
                    prompt_tokens,
                    question: question.to_owned(),
                    lang,
                });
            }
            keep -= 1;
        }
    }
}

fn passages(hits: &[Hit]) -> Vec<SourcePassage> {
    hits.iter()
        .enumerate()
        .map(|(i, hit)| SourcePassage {
            citation: Citation {
                n: i + 1,
                document_id: hit.payload.document_id.clone(),
                title: hit.payload.title.clone(),
                uri: hit.payload.uri.clone(),
                heading_path: hit.payload.heading_path.clone(),
                page: hit.payload.page,
                snippet: excerpt(&hit.payload.text, SNIPPET_CHARS),
                score: hit.score,
            },
            text: hit.payload.text.clone(),
        })
        .collect()
}

fn read(path: &Path) -> Result<String, GatewayError> {
    std::fs::read_to_string(path)
        .map_err(|e| GatewayError::Template(format!("cannot read {}: {e}", path.display())))
}

#[cfg(test)]
mod tests;
