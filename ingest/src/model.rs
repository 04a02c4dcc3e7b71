//! The vocabulary of the write path: parsed documents, their sections and chunks.

use serde::{Deserialize, Serialize};

use crate::lang::Lang;

/// A parsed document: title plus its text split into sections at headings.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedDocument {
    pub title: String,
    pub mime: &'static str,
    pub sections: Vec<Section>,
}

impl ParsedDocument {
    pub fn is_empty(&self) -> bool {
        self.sections.iter().all(|s| s.text.trim().is_empty())
    }
}

/// Text under one heading; `heading_path` lists the enclosing headings, outermost first.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Section {
    pub heading_path: Vec<String>,
    pub text: String,
    /// 1-based page (PDF) or slide (PPTX) the text is on; `None` for formats without pages.
    pub page: Option<u32>,
}

/// A token-bounded piece of a document, ready to embed.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Chunk {
    pub index: usize,
    pub heading_path: Vec<String>,
    /// "Title > Heading > Subheading": prepended when indexing so a passage keeps its context.
    pub context: String,
    /// The chunk's own text (what a citation shows).
    pub text: String,
    /// Tokens of [`Chunk::indexed_text`], never above the chunker's maximum.
    pub tokens: usize,
    /// Tokens of `text` alone: what quoting the chunk in a prompt costs.
    #[serde(default)]
    pub text_tokens: usize,
    /// Page (or slide) where the chunk starts, copied from its section.
    #[serde(default)]
    pub page: Option<u32>,
    /// Language of the chunk's text (declared by its source, or detected).
    #[serde(default)]
    pub lang: Lang,
}

impl Chunk {
    /// Text that gets embedded and BM25-indexed.
    pub fn indexed_text(&self) -> String {
        indexed(&self.context, &self.text)
    }
}

/// The text a chunk is indexed with: its context line, if any, then its own text.
pub fn indexed(context: &str, text: &str) -> String {
    if context.is_empty() {
        text.to_owned()
    } else {
        format!("{context}\n\n{text}")
    }
}
