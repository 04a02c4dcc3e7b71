//! What a grounded prompt is made of: the conversation's turns, the numbered sources and the
//! prompt as sent to the model.

use ragway_ingest::lang::Lang;
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    User,
    Assistant,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Assistant => "assistant",
        }
    }

    pub fn parse(role: &str) -> Option<Self> {
        match role {
            "user" => Some(Self::User),
            "assistant" => Some(Self::Assistant),
            _ => None,
        }
    }
}

/// One earlier turn of the conversation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Turn {
    pub role: Role,
    pub text: String,
}

/// A source as shown to the caller; `n` is the number the answer cites it by.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Citation {
    pub n: usize,
    pub document_id: String,
    pub title: String,
    pub uri: String,
    pub heading_path: Vec<String>,
    /// Page (PDF) or slide (PPTX) the passage is on, when the format has pages.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page: Option<u32>,
    pub snippet: String,
    pub score: f32,
}

#[derive(Debug, Clone)]
pub struct SourcePassage {
    pub citation: Citation,
    pub text: String,
}

/// The prompt as sent, with the sources it numbers.
#[derive(Debug, Clone)]
pub struct GroundedPrompt {
    pub system: String,
    /// Earlier turns sent before the grounded question (already trimmed to the history budget).
    pub history: Vec<Turn>,
    pub user: String,
    pub sources: Vec<SourcePassage>,
    pub prompt_tokens: usize,
    /// The question as asked (the extractive model quotes what answers it).
    pub question: String,
    /// The language of the question, which the answer is written in.
    pub lang: Lang,
}
