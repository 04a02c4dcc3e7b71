//! Plain text: one section; the chunker splits it at blank lines.

use crate::model::{ParsedDocument, Section};

pub(super) fn parse(text: &str, fallback_title: String) -> ParsedDocument {
    ParsedDocument {
        title: fallback_title,
        mime: "text/plain",
        sections: vec![Section {
            heading_path: Vec::new(),
            text: text.trim().to_owned(),
            page: None,
        }],
    }
}
