//! Files uploaded into an `upload` source: safe relative names, per-file limits, and zip archives
//! expanded under limits on entries, expanded size and compression ratio. Everything of a request
//! is staged first and moved into the source's folder only when all of it passed, so a refused
//! upload writes nothing.

use std::io::Read;
use std::path::{Component, Path, PathBuf};

use super::UploadLimits;

/// Why an upload was refused (the message is for the admin).
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    TooLarge(String),
    #[error("{0}")]
    Refused(String),
    #[error("cannot store the upload: {0}")]
    Io(#[from] std::io::Error),
}

/// A file as it will be stored: its path relative to the source's folder, and its bytes.
#[derive(Debug)]
pub struct StagedFile {
    pub path: String,
    pub bytes: Vec<u8>,
}

/// A relative `/`-separated path from an uploaded file name: no absolute paths, no `..`, no empty
/// or hidden segments, no control characters.
pub fn safe_relative_path(name: &str) -> Result<String, UploadError> {
    let normalized = name.replace('\\', "/");
    let mut parts = Vec::new();
    for part in normalized.split('/') {
        if part.is_empty() {
            if parts.is_empty() && normalized.starts_with('/') {
                return Err(UploadError::Invalid(format!(
                    "`{name}`: absolute paths are not accepted"
                )));
            }
            continue;
        }
        if part == "." || part == ".." || part.starts_with('.') {
            return Err(UploadError::Invalid(format!(
                "`{name}`: `.`, `..` and hidden names are not accepted"
            )));
        }
        if part.chars().any(char::is_control) || part.contains(':') {
            return Err(UploadError::Invalid(format!(
                "`{name}`: control characters and `:` are not accepted"
            )));
        }
        parts.push(part);
    }
    if parts.is_empty() {
        return Err(UploadError::Invalid("a file name is empty".into()));
    }
    let path = parts.join("/");
    if path.len() > 1024 {
        return Err(UploadError::Invalid(format!(
            "`{name}`: the name is too long"
        )));
    }
    Ok(path)
}

fn is_zip(path: &str) -> bool {
    path.to_ascii_lowercase().ends_with(".zip")
}

/// Turns one uploaded file into the files to store: itself, or a zip archive's entries under a
/// folder named after the archive (`docs.zip` → `docs/…`).
pub fn stage(
    path: &str,
    bytes: Vec<u8>,
    limits: &UploadLimits,
    expand_zips: bool,
) -> Result<Vec<StagedFile>, UploadError> {
    if !(expand_zips && is_zip(path)) {
        return Ok(vec![StagedFile {
            path: path.to_owned(),
            bytes,
        }]);
    }
    let folder = &path[..path.len() - 4];
    expand_zip(folder, &bytes, limits)
}

fn expand_zip(
    folder: &str,
    archive: &[u8],
    limits: &UploadLimits,
) -> Result<Vec<StagedFile>, UploadError> {
    let refused = |why: String| UploadError::Refused(format!("{folder}.zip: {why}"));
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(archive))
        .map_err(|e| refused(format!("not a readable zip archive ({e})")))?;
    if zip.len() > limits.max_zip_entries {
        return Err(refused(format!(
            "{} entries, more than the limit of {}",
            zip.len(),
            limits.max_zip_entries
        )));
    }
    // Declared sizes first (cheap), then the real ones while reading: headers can lie.
    let mut declared: u64 = 0;
    for index in 0..zip.len() {
        let entry = zip
            .by_index_raw(index)
            .map_err(|e| refused(format!("unreadable entry ({e})")))?;
        declared = declared.saturating_add(entry.size());
    }
    check_expansion(declared, archive.len() as u64, limits).map_err(refused)?;
    let mut files = Vec::new();
    let mut expanded: u64 = 0;
    for index in 0..zip.len() {
        let entry = zip
            .by_index(index)
            .map_err(|e| refused(format!("unreadable entry ({e})")))?;
        let name = entry
            .name()
            .map_err(|e| refused(format!("an entry name is unreadable ({e})")))?
            .into_owned();
        if entry.is_dir() || name.starts_with("__MACOSX/") {
            continue;
        }
        let inner = safe_relative_path(&name).map_err(|e| refused(e.to_string()))?;
        if entry.is_symlink() {
            return Err(refused(format!("`{inner}` is a symbolic link")));
        }
        let mut bytes = Vec::new();
        entry
            .take(limits.max_file_bytes + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| refused(format!("`{inner}` cannot be expanded ({e})")))?;
        if bytes.len() as u64 > limits.max_file_bytes {
            return Err(UploadError::TooLarge(format!(
                "{folder}.zip: `{inner}` is larger than the per-file limit of {} bytes",
                limits.max_file_bytes
            )));
        }
        expanded += bytes.len() as u64;
        check_expansion(expanded, archive.len() as u64, limits).map_err(refused)?;
        if is_zip(&inner) {
            return Err(refused(format!(
                "`{inner}`: archives inside archives are not expanded"
            )));
        }
        files.push(StagedFile {
            path: format!("{folder}/{inner}"),
            bytes,
        });
    }
    Ok(files)
}

fn check_expansion(expanded: u64, compressed: u64, limits: &UploadLimits) -> Result<(), String> {
    if expanded > limits.max_zip_expanded_bytes {
        return Err(format!(
            "expands to more than the limit of {} bytes",
            limits.max_zip_expanded_bytes
        ));
    }
    if expanded > compressed.max(1).saturating_mul(limits.max_zip_ratio) && expanded > 1024 * 1024 {
        return Err(format!(
            "expands more than {}x (a zip bomb?); refused",
            limits.max_zip_ratio
        ));
    }
    Ok(())
}

/// Writes the staged files under `dir` (each atomically: a temporary file renamed into place).
/// Blocking: call it from `spawn_blocking`.
/// The name prefix of a file an upload is still writing (renamed to its own name once whole).
pub const UPLOAD_TEMP_PREFIX: &str = ".upload-";

pub fn store(dir: &Path, files: &[StagedFile]) -> Result<(), UploadError> {
    for file in files {
        let target = dir.join(&file.path);
        debug_assert!(
            Path::new(&file.path)
                .components()
                .all(|c| matches!(c, Component::Normal(_)))
        );
        let parent = target
            .parent()
            .map_or_else(|| dir.to_path_buf(), PathBuf::from);
        std::fs::create_dir_all(&parent)?;
        let temp = parent.join(format!("{UPLOAD_TEMP_PREFIX}{}", uuid::Uuid::new_v4()));
        std::fs::write(&temp, &file.bytes)?;
        std::fs::rename(&temp, &target)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn zip_of(entries: &[(&str, Vec<u8>)]) -> Vec<u8> {
        let mut out = std::io::Cursor::new(Vec::new());
        let mut zip = zip::ZipWriter::new(&mut out);
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        for (name, bytes) in entries {
            zip.start_file(*name, options).unwrap();
            zip.write_all(bytes).unwrap();
        }
        zip.finish().unwrap();
        out.into_inner()
    }

    #[test]
    fn names_are_kept_inside_the_folder() {
        assert_eq!(safe_relative_path("hr\\policy.md").unwrap(), "hr/policy.md");
        assert_eq!(safe_relative_path("a//b.txt").unwrap(), "a/b.txt");
        for bad in [
            "/etc/passwd",
            "../x.md",
            "a/../../x",
            ".env",
            "",
            "c:evil",
            "a/\u{7}b",
        ] {
            assert!(safe_relative_path(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn zips_expand_into_a_folder_named_after_them() {
        let archive = zip_of(&[
            ("it/vpn.md", b"# VPN".to_vec()),
            ("readme.txt", b"hi".to_vec()),
        ]);
        let files = stage("handbook.zip", archive, &UploadLimits::default(), true).unwrap();
        let paths: Vec<_> = files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(paths, ["handbook/it/vpn.md", "handbook/readme.txt"]);
        let kept = stage("handbook.zip", zip_of(&[]), &UploadLimits::default(), false).unwrap();
        assert_eq!(kept[0].path, "handbook.zip");
    }

    #[test]
    fn zip_bombs_and_tricks_are_refused() {
        let bomb = zip_of(&[("zeros.txt", vec![0u8; 20 * 1024 * 1024])]);
        let err = stage("bomb.zip", bomb, &UploadLimits::default(), true).unwrap_err();
        assert!(err.to_string().contains("zip bomb"), "{err}");

        let many = zip_of(&[("a.txt", b"a".to_vec()), ("b.txt", b"b".to_vec())]);
        let limits = UploadLimits {
            max_zip_entries: 1,
            ..UploadLimits::default()
        };
        assert!(
            stage("many.zip", many, &limits, true)
                .unwrap_err()
                .to_string()
                .contains("entries")
        );

        let escape = zip_of(&[("../../etc/cron.d/x", b"x".to_vec())]);
        assert!(stage("escape.zip", escape, &UploadLimits::default(), true).is_err());

        let big = zip_of(&[("big.txt", vec![b'x'; 4096])]);
        let limits = UploadLimits {
            max_file_bytes: 1000,
            ..UploadLimits::default()
        };
        assert!(matches!(
            stage("big.zip", big, &limits, true),
            Err(UploadError::TooLarge(_))
        ));

        assert!(
            stage(
                "broken.zip",
                b"not a zip".to_vec(),
                &UploadLimits::default(),
                true
            )
            .is_err()
        );
    }
}
