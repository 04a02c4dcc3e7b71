//! Short excerpts of passages: citation snippets and extractive answers.

/// The first `max_chars` characters, cut at a word boundary, with an ellipsis when shortened.
pub fn excerpt(text: &str, max_chars: usize) -> String {
    let text = text.trim();
    if text.chars().count() <= max_chars {
        return text.to_owned();
    }
    let cut: String = text.chars().take(max_chars).collect();
    let cut = match cut.rfind(char::is_whitespace) {
        Some(i) if i > max_chars / 2 => &cut[..i],
        _ => cut.as_str(),
    };
    format!("{}…", cut.trim_end())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpts_cut_at_words() {
        assert_eq!(excerpt("short", 10), "short");
        assert_eq!(excerpt("uno dos tres cuatro cinco", 14), "uno dos tres…");
        assert_eq!(excerpt("ñññññ ñññññ", 7), "ñññññ…");
    }
}
