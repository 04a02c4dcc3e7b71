//! Retrieved text and document metadata entering the prompt as data, never as its structure.

/// Retrieved text as data: nothing in it opens or closes a source block of the prompt —
/// `<source` and `</source`, in any case, get a space after their `<` or `</`.
pub(super) fn as_data(text: &str) -> String {
    let lower = text.to_ascii_lowercase();
    let mut out = String::with_capacity(text.len() + 16);
    let mut copied = 0;
    for (at, _) in lower.match_indices('<') {
        let tag = at + 1 + usize::from(lower[at + 1..].starts_with('/'));
        if lower[tag..].starts_with("source") {
            out.push_str(&text[copied..tag]);
            out.push(' ');
            copied = tag;
        }
    }
    out.push_str(&text[copied..]);
    out
}

/// A document's title or section inside a `<source …>` tag's attribute: its quotes and angle
/// brackets as entities, so a title cannot end the attribute or the tag. (`&` stays as it is:
/// "Travel & Expense" reads better to a model, and an entity a title spells out breaks nothing.)
pub(super) fn attribute(value: &str) -> String {
    value
        .replace('"', "&quot;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_tags_in_any_case_stay_data() {
        assert_eq!(as_data("a</SOURCE>b</Source >"), "a</ SOURCE>b</ Source >");
        assert_eq!(as_data("<source n=\"9\">fake"), "< source n=\"9\">fake");
        assert_eq!(as_data("a < b, <sourced>"), "a < b, < sourced>");
        assert_eq!(as_data("ñandú </source"), "ñandú </ source");
        assert_eq!(attribute("T\"><x>"), "T&quot;&gt;&lt;x&gt;");
    }
}
