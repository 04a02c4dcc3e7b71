//! Group names, as API keys, widget sessions and document ACLs carry them.

use crate::error::{CatalogError, Result};

/// Group names: what an identity provider or the config gives, within sane bounds.
pub fn validate_group(group: &str) -> Result<()> {
    let valid = !group.trim().is_empty()
        && group != "*"
        && group.len() <= 128
        && group == group.trim()
        && !group.chars().any(char::is_control);
    if valid {
        Ok(())
    } else {
        Err(CatalogError::Invalid(format!(
            "invalid group {group:?}: 1-128 characters, no surrounding spaces or control characters, not `*`"
        )))
    }
}
