//! Files uploaded into an `upload` source: safe relative names, per-file limits, and zip archives
//! expanded under limits on entries, expanded size and compression ratio. A request's files are
//! streamed to a staging folder on the data directory's disk as they arrive (memory holds one
//! network chunk or one buffer of a zip entry, whatever the upload's size) and moved into the
//! source's folder only when all of them passed, so a refused upload writes nothing there.

use std::io::{Read, Write};
use std::path::{Component, Path, PathBuf};
use std::time::{Duration, SystemTime};

use sha2::{Digest, Sha256};

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

/// A file as it will be stored: its path relative to the source's folder, and where its bytes
/// wait on disk (inside the request's [`Staging`] folder).
#[derive(Debug)]
pub struct StagedFile {
    pub path: String,
    pub temp: PathBuf,
    pub size: u64,
    pub sha256: String,
}

/// Where the files of one upload request wait until all of them passed; removed, with whatever
/// is left in it, when dropped (a refused or aborted upload leaves nothing behind).
#[derive(Debug)]
pub struct Staging {
    dir: PathBuf,
}

/// Staging folders older than this were left by a process that died mid-upload.
const STALE_STAGING: Duration = Duration::from_secs(24 * 3600);

impl Staging {
    /// A new staging folder under `<data_dir>/uploads/.staging`: on the same disk as the sources'
    /// folders, so storing a file is a rename, not a copy.
    pub fn create(data_dir: &Path) -> Result<Self, UploadError> {
        let parent = data_dir.join("uploads").join(".staging");
        std::fs::create_dir_all(&parent)?;
        remove_stale(&parent);
        let dir = parent.join(uuid::Uuid::new_v4().to_string());
        std::fs::create_dir(&dir)?;
        Ok(Self { dir })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// A fresh file name inside the staging folder.
    pub fn new_file(dir: &Path) -> PathBuf {
        dir.join(uuid::Uuid::new_v4().to_string())
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if let Err(err) = std::fs::remove_dir_all(&self.dir)
            && err.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(dir = %self.dir.display(), error = %err, "cannot remove an upload's staging folder");
        }
    }
}

/// Removes staging folders a crashed process left behind (best effort: another process's
/// upload in progress is never that old).
fn remove_stale(parent: &Path) {
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    for entry in entries.filter_map(Result::ok) {
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|at| SystemTime::now().duration_since(at).ok())
            .is_some_and(|age| age > STALE_STAGING);
        if old {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// A writer that also counts and hashes what goes through it.
pub struct Hashing<W> {
    inner: W,
    hasher: Sha256,
    written: u64,
}

impl<W> Hashing<W> {
    pub fn new(inner: W) -> Self {
        Self {
            inner,
            hasher: Sha256::new(),
            written: 0,
        }
    }

    pub fn written(&self) -> u64 {
        self.written
    }

    /// The hex SHA-256 of everything written, and its length.
    pub fn finish(self) -> (W, String, u64) {
        (
            self.inner,
            hex::encode(self.hasher.finalize()),
            self.written,
        )
    }

    /// Records bytes written by other means (an async writer).
    pub fn update(&mut self, bytes: &[u8]) {
        self.hasher.update(bytes);
        self.written += bytes.len() as u64;
    }
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// The hex SHA-256 and length of a file, read in buffers. Blocking.
pub fn digest_file(path: &Path) -> std::io::Result<(String, u64)> {
    let mut hashing = Hashing::new(std::io::sink());
    std::io::copy(&mut std::fs::File::open(path)?, &mut hashing)?;
    let (_, sha256, size) = hashing.finish();
    Ok((sha256, size))
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

/// Turns one received file into the files to store: itself, or a zip archive's entries under a
/// folder named after the archive (`docs.zip` → `docs/…`), each expanded into its own staging
/// file (the archive's is removed). Blocking: call it from `spawn_blocking`.
pub fn stage(
    received: StagedFile,
    staging_dir: &Path,
    limits: &UploadLimits,
    expand_zips: bool,
) -> Result<Vec<StagedFile>, UploadError> {
    if !(expand_zips && is_zip(&received.path)) {
        return Ok(vec![received]);
    }
    let folder = &received.path[..received.path.len() - 4];
    let files = expand_zip(folder, &received, staging_dir, limits);
    let _ = std::fs::remove_file(&received.temp);
    files
}

fn expand_zip(
    folder: &str,
    archive: &StagedFile,
    staging_dir: &Path,
    limits: &UploadLimits,
) -> Result<Vec<StagedFile>, UploadError> {
    let refused = |why: String| UploadError::Refused(format!("{folder}.zip: {why}"));
    let file = std::fs::File::open(&archive.temp)?;
    let mut zip = zip::ZipArchive::new(std::io::BufReader::new(file))
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
    check_expansion(declared, archive.size, limits).map_err(refused)?;
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
        if is_zip(&inner) {
            return Err(refused(format!(
                "`{inner}`: archives inside archives are not expanded"
            )));
        }
        let temp = Staging::new_file(staging_dir);
        let mut out = Hashing::new(std::io::BufWriter::new(std::fs::File::create(&temp)?));
        // Copied in buffers; one byte past the limit is enough to know it is too large.
        let copied = std::io::copy(&mut entry.take(limits.max_file_bytes + 1), &mut out);
        if let Err(err) = copied {
            return Err(if is_disk_error(&err) {
                UploadError::Io(err)
            } else {
                refused(format!("`{inner}` cannot be expanded ({err})"))
            });
        }
        if out.written() > limits.max_file_bytes {
            return Err(UploadError::TooLarge(format!(
                "{folder}.zip: `{inner}` is larger than the per-file limit of {} bytes",
                limits.max_file_bytes
            )));
        }
        let (writer, sha256, size) = out.finish();
        writer
            .into_inner()
            .map_err(|e| e.into_error())?
            .sync_all()?;
        expanded += size;
        check_expansion(expanded, archive.size, limits).map_err(refused)?;
        files.push(StagedFile {
            path: format!("{folder}/{inner}"),
            temp,
            size,
            sha256,
        });
    }
    Ok(files)
}

/// Whether writing failed for lack of room (the disk, not the archive, is at fault).
pub fn is_disk_error(err: &std::io::Error) -> bool {
    matches!(
        err.kind(),
        std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded
    )
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

/// The name prefix of a file an upload is still writing (renamed to its own name once whole).
pub const UPLOAD_TEMP_PREFIX: &str = ".upload-";

/// Moves the staged files under `dir`, each atomically (renamed into place; copied to a temporary
/// file first where the staging folder is on another disk). Blocking: call it from
/// `spawn_blocking`.
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
        match std::fs::rename(&file.temp, &target) {
            Ok(()) => {}
            Err(err) if err.kind() == std::io::ErrorKind::CrossesDevices => {
                let temp = parent.join(format!("{UPLOAD_TEMP_PREFIX}{}", uuid::Uuid::new_v4()));
                std::fs::copy(&file.temp, &temp)?;
                std::fs::rename(&temp, &target)?;
            }
            Err(err) => return Err(err.into()),
        }
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

    /// Staged files' paths and contents.
    type Staged = Result<Vec<(String, Vec<u8>)>, UploadError>;

    /// Stages `bytes` as the received file `path` in a fresh staging folder; returns the staged
    /// files (and the data folder, to check what is left in it).
    fn stage_bytes(
        path: &str,
        bytes: &[u8],
        limits: &UploadLimits,
        expand: bool,
    ) -> (Staged, tempfile::TempDir) {
        let data = tempfile::tempdir().unwrap();
        let staging = Staging::create(data.path()).unwrap();
        let temp = Staging::new_file(staging.dir());
        std::fs::write(&temp, bytes).unwrap();
        let (sha256, size) = digest_file(&temp).unwrap();
        let received = StagedFile {
            path: path.to_owned(),
            temp,
            size,
            sha256,
        };
        let staged = stage(received, staging.dir(), limits, expand).map(|files| {
            files
                .into_iter()
                .map(|f| {
                    let content = std::fs::read(&f.temp).unwrap();
                    assert_eq!(f.size, content.len() as u64);
                    assert_eq!(f.sha256, hex::encode(Sha256::digest(&content)));
                    (f.path, content)
                })
                .collect()
        });
        drop(staging);
        (staged, data)
    }

    fn staged(path: &str, bytes: &[u8], limits: &UploadLimits, expand: bool) -> Staged {
        stage_bytes(path, bytes, limits, expand).0
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
        let (files, data) = stage_bytes("handbook.zip", &archive, &UploadLimits::default(), true);
        let files = files.unwrap();
        let paths: Vec<_> = files.iter().map(|(path, _)| path.as_str()).collect();
        assert_eq!(paths, ["handbook/it/vpn.md", "handbook/readme.txt"]);
        assert_eq!(files[0].1, b"# VPN");
        // The staging folder is gone once the request is done with it.
        let staging = data.path().join("uploads").join(".staging");
        assert_eq!(std::fs::read_dir(staging).unwrap().count(), 0);
        let kept = staged(
            "handbook.zip",
            &zip_of(&[]),
            &UploadLimits::default(),
            false,
        )
        .unwrap();
        assert_eq!(kept[0].0, "handbook.zip");
    }

    #[test]
    fn zip_bombs_and_tricks_are_refused() {
        let bomb = zip_of(&[("zeros.txt", vec![0u8; 20 * 1024 * 1024])]);
        let err = staged("bomb.zip", &bomb, &UploadLimits::default(), true).unwrap_err();
        assert!(err.to_string().contains("zip bomb"), "{err}");

        let many = zip_of(&[("a.txt", b"a".to_vec()), ("b.txt", b"b".to_vec())]);
        let limits = UploadLimits {
            max_zip_entries: 1,
            ..UploadLimits::default()
        };
        assert!(
            staged("many.zip", &many, &limits, true)
                .unwrap_err()
                .to_string()
                .contains("entries")
        );

        let escape = zip_of(&[("../../etc/cron.d/x", b"x".to_vec())]);
        assert!(staged("escape.zip", &escape, &UploadLimits::default(), true).is_err());

        let big = zip_of(&[("big.txt", vec![b'x'; 4096])]);
        let limits = UploadLimits {
            max_file_bytes: 1000,
            ..UploadLimits::default()
        };
        assert!(matches!(
            staged("big.zip", &big, &limits, true),
            Err(UploadError::TooLarge(_))
        ));

        assert!(staged("broken.zip", b"not a zip", &UploadLimits::default(), true).is_err());
    }

    #[test]
    fn staging_folders_left_by_a_dead_process_are_removed() {
        let data = tempfile::tempdir().unwrap();
        let parent = data.path().join("uploads").join(".staging");
        let stale = parent.join("left-by-a-crash");
        std::fs::create_dir_all(&stale).unwrap();
        std::fs::write(stale.join("part"), b"x").unwrap();
        let old = SystemTime::now() - STALE_STAGING - Duration::from_secs(60);
        std::fs::File::open(&stale)
            .unwrap()
            .set_modified(old)
            .unwrap();
        let recent = parent.join("in-progress");
        std::fs::create_dir_all(&recent).unwrap();
        let staging = Staging::create(data.path()).unwrap();
        assert!(!stale.exists(), "a day-old staging folder was kept");
        assert!(recent.exists(), "another upload's folder was removed");
        let dir = staging.dir().to_path_buf();
        drop(staging);
        assert!(!dir.exists());
    }
}
