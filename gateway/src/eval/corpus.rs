//! The corpus as a folder of Markdown files (title in front matter), so the normal folder sync —
//! with its manifest — indexes it, and re-runs skip every unchanged document.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::dataset::CorpusDoc;
use crate::error::GatewayError;

/// A file name for any document id: ASCII letters, digits, `-` and `_` kept, other bytes as `~xx`.
fn file_name(id: &str) -> String {
    let mut name = String::with_capacity(id.len() + 3);
    for byte in id.bytes() {
        if byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_' {
            name.push(char::from(byte));
        } else {
            name.push_str(&format!("~{byte:02x}"));
        }
    }
    name.push_str(".md");
    name
}

fn markdown(doc: &CorpusDoc) -> String {
    let title = doc.title.replace(['\r', '\n'], " ");
    if title.trim().is_empty() {
        doc.text.clone()
    } else {
        format!("---\ntitle: {}\n---\n{}\n", title.trim(), doc.text)
    }
}

/// Writes the documents that differ from what is on disk; returns uri → document id.
pub async fn write(
    corpus: &[CorpusDoc],
    dir: &Path,
) -> Result<HashMap<String, String>, GatewayError> {
    let corpus = corpus.to_vec();
    let dir = dir.to_path_buf();
    tokio::task::spawn_blocking(move || write_blocking(&corpus, &dir))
        .await
        .map_err(|e| GatewayError::Config(format!("writing the corpus failed: {e}")))?
}

fn write_blocking(
    corpus: &[CorpusDoc],
    dir: &PathBuf,
) -> Result<HashMap<String, String>, GatewayError> {
    let io = |path: &Path, e: std::io::Error| {
        GatewayError::Config(format!("cannot write {}: {e}", path.display()))
    };
    std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
    let mut uris = HashMap::with_capacity(corpus.len());
    for doc in corpus {
        // Parallel corpora reuse ids across languages: one file per (language, id).
        let name = match doc.lang {
            Some(lang) => file_name(&format!("{lang}.{}", doc.id)),
            None => file_name(&doc.id),
        };
        let path = dir.join(&name);
        let text = markdown(doc);
        if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
            std::fs::write(&path, &text).map_err(|e| io(&path, e))?;
        }
        uris.insert(name, doc.id.clone());
    }
    // Documents no longer in the corpus leave the folder, so the sync removes them from the index.
    for entry in std::fs::read_dir(dir).map_err(|e| io(dir, e))? {
        let entry = entry.map_err(|e| io(dir, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.ends_with(".md") && !uris.contains_key(&name) {
            std::fs::remove_file(entry.path()).map_err(|e| io(&entry.path(), e))?;
        }
    }
    Ok(uris)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_id_is_a_safe_distinct_file_name() {
        assert_eq!(file_name("4983"), "4983.md");
        assert_eq!(file_name("a/b c"), "a~2fb~20c.md");
        assert_ne!(file_name("a/b"), file_name("a~2fb"));
    }
}
