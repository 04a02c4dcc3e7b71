//! JSON: every string, number and boolean as a `path.to.key: value` line (array items as
//! `items[0]`), so keys give values their meaning in search.

use serde_json::Value;

use crate::model::{ParsedDocument, Section};

pub(super) const MIME: &str = "application/json";

pub(super) fn parse(text: &str, fallback_title: String) -> Result<ParsedDocument, String> {
    // serde_json caps nesting (128 levels), which also bounds the recursion below.
    let value: Value = serde_json::from_str(text).map_err(|e| format!("invalid JSON: {e}"))?;
    let mut lines = String::new();
    flatten(&value, &mut String::new(), &mut lines);
    let title = value
        .get("title")
        .and_then(Value::as_str)
        .map(super::collapse_whitespace)
        .filter(|t| !t.is_empty())
        .unwrap_or(fallback_title);
    Ok(ParsedDocument {
        title,
        mime: MIME,
        sections: vec![Section {
            text: lines.trim_end().to_owned(),
            ..Section::default()
        }],
    })
}

fn flatten(value: &Value, path: &mut String, out: &mut String) {
    let leaf = match value {
        Value::Object(map) => {
            for (key, child) in map {
                let len = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(key);
                flatten(child, path, out);
                path.truncate(len);
            }
            return;
        }
        Value::Array(items) => {
            for (index, child) in items.iter().enumerate() {
                let len = path.len();
                path.push_str(&format!("[{index}]"));
                flatten(child, path, out);
                path.truncate(len);
            }
            return;
        }
        Value::Null => return,
        Value::String(s) if s.trim().is_empty() => return,
        Value::String(s) => s.trim().to_owned(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
    };
    if !path.is_empty() {
        out.push_str(path);
        out.push_str(": ");
    }
    out.push_str(&leaf);
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_values_become_path_lines() {
        let doc = parse(
            r#"{"title": "VPN FAQ", "vpn": {"server": "vpn.acme.mx", "port": 443,
               "split_tunnel": false, "owner": null,
               "steps": ["Install", {"note": "Reboot"}]}, "empty": "  "}"#,
            "fallback".into(),
        )
        .unwrap();
        assert_eq!(doc.title, "VPN FAQ");
        assert_eq!(doc.mime, "application/json");
        assert_eq!(
            doc.sections[0].text,
            "title: VPN FAQ\nvpn.server: vpn.acme.mx\nvpn.port: 443\nvpn.split_tunnel: false\n\
             vpn.steps[0]: Install\nvpn.steps[1].note: Reboot"
        );
    }

    #[test]
    fn top_level_arrays_and_scalars() {
        let doc = parse(r#"[{"name": "Ana"}, {"name": "Luis"}]"#, "people".into()).unwrap();
        assert_eq!(doc.title, "people");
        assert_eq!(doc.sections[0].text, "[0].name: Ana\n[1].name: Luis");
        assert_eq!(parse("42", "n".into()).unwrap().sections[0].text, "42");
    }

    #[test]
    fn invalid_json_is_an_error_with_its_position() {
        let err = parse("{\"a\": [1, 2}", "x".into()).unwrap_err();
        assert!(err.starts_with("invalid JSON"), "{err}");
        assert!(err.contains("line 1"), "{err}");
    }
}
