//! Web pages in legacy encodings (windows-1252, Shift_JIS, …) become UTF-8 before parsing, since
//! the parsers read UTF-8 only.

use encoding_rs::{Encoding, UTF_8, WINDOWS_1252};

/// The `charset` parameter of a `Content-Type` header value.
pub fn charset_of(content_type: &str) -> Option<&str> {
    content_type.split(';').skip(1).find_map(|param| {
        let (key, value) = param.split_once('=')?;
        key.trim()
            .eq_ignore_ascii_case("charset")
            .then(|| value.trim().trim_matches('"'))
    })
}

/// Re-encodes `bytes` as UTF-8: the header's charset first; for HTML, a `<meta charset>` in the
/// first KiB, then windows-1252 (what browsers assume) when the bytes are not UTF-8.
pub fn to_utf8(
    bytes: Vec<u8>,
    header_charset: Option<&str>,
    is_html: bool,
) -> Result<Vec<u8>, String> {
    let declared = match header_charset {
        Some(label) => Some(
            Encoding::for_label(label.as_bytes())
                .ok_or_else(|| format!("unknown character set {label:?}"))?,
        ),
        None if is_html && std::str::from_utf8(&bytes).is_err() => {
            Some(meta_charset(&bytes).unwrap_or(WINDOWS_1252))
        }
        None => None,
    };
    match declared {
        None => Ok(bytes),
        Some(encoding) if encoding == UTF_8 => Ok(bytes),
        Some(encoding) => {
            let (text, _, _) = encoding.decode(&bytes);
            Ok(text.into_owned().into_bytes())
        }
    }
}

fn meta_charset(bytes: &[u8]) -> Option<&'static Encoding> {
    let head = String::from_utf8_lossy(&bytes[..bytes.len().min(1024)]).to_ascii_lowercase();
    let at = head.find("charset=")? + "charset=".len();
    let label: String = head[at..]
        .trim_start_matches(['"', '\''])
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | ':' | '.'))
        .collect();
    Encoding::for_label(label.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_pages_become_utf8() {
        assert_eq!(
            charset_of("text/html; charset=\"ISO-8859-1\""),
            Some("ISO-8859-1")
        );
        assert_eq!(charset_of("text/html"), None);
        let latin1 = b"<p>Se\xf1or</p>".to_vec();
        assert_eq!(
            to_utf8(latin1.clone(), Some("iso-8859-1"), true).unwrap(),
            "<p>Señor</p>".as_bytes()
        );
        assert_eq!(
            to_utf8(latin1, None, true).unwrap(),
            "<p>Señor</p>".as_bytes()
        );
        let meta = b"<meta charset=\"windows-1252\"><p>\x93quoted\x94</p>".to_vec();
        assert_eq!(
            String::from_utf8(to_utf8(meta, None, true).unwrap()).unwrap(),
            "<meta charset=\"windows-1252\"><p>\u{201c}quoted\u{201d}</p>"
        );
        assert_eq!(to_utf8(b"plain".to_vec(), None, false).unwrap(), b"plain");
        assert!(to_utf8(b"x".to_vec(), Some("klingon"), true).is_err());
    }
}
