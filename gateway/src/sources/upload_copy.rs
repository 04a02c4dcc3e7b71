//! An upload source's working copy: the catalog holds its files (the store of record, shared by
//! every process); before a sync, the data directory's copy is brought up to date with it, so the
//! sync reads the files whichever process received them.

use std::path::{Path, PathBuf};

use ragway_catalog::{Catalog, UPLOAD_PART_BYTES, UploadBatch};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::upload::{StagedFile, UPLOAD_TEMP_PREFIX, digest_file};

#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    #[error(transparent)]
    Catalog(#[from] ragway_catalog::CatalogError),
    #[error("cannot update the working copy {}: {source}", .path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> CopyError + '_ {
    move |source| CopyError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Records uploaded files in the catalog (all or none), reading each from its staging file in
/// parts: memory holds one part, whatever the files' sizes.
pub async fn record(
    catalog: &Catalog,
    source_id: &str,
    files: &[StagedFile],
) -> Result<(), CopyError> {
    let mut batch = catalog.begin_uploads(source_id).await?;
    for file in files {
        put_file(&mut batch, &file.path, &file.temp, &file.sha256, file.size).await?;
    }
    batch.commit().await?;
    Ok(())
}

async fn put_file(
    batch: &mut UploadBatch,
    path: &str,
    from: &Path,
    sha256: &str,
    size: u64,
) -> Result<(), CopyError> {
    batch.start_file(path, sha256, size).await?;
    let mut file = tokio::fs::File::open(from).await.map_err(io(from))?;
    let mut part = Vec::with_capacity(UPLOAD_PART_BYTES);
    let mut seq = 0;
    loop {
        part.clear();
        let read = (&mut file)
            .take(UPLOAD_PART_BYTES as u64)
            .read_to_end(&mut part)
            .await
            .map_err(io(from))?;
        if read == 0 {
            return Ok(());
        }
        batch.put_part(path, seq, &part).await?;
        seq += 1;
    }
}

/// The digest and size of a file of the working copy, `None` if it is not there.
async fn local_digest(path: &Path) -> Option<(String, u64)> {
    let path = path.to_path_buf();
    tokio::task::spawn_blocking(move || digest_file(&path).ok())
        .await
        .ok()
        .flatten()
}

/// Brings `dir` up to date with the catalog's files of the source: writes what is missing or
/// differs, removes what the catalog no longer has. A source uploaded before the catalog kept
/// files (its folder holds files, the catalog none) is adopted into the catalog first. Files are
/// copied part by part, never whole in memory.
pub async fn check_out(catalog: &Catalog, source_id: &str, dir: &Path) -> Result<(), CopyError> {
    tokio::fs::create_dir_all(dir).await.map_err(io(dir))?;
    let mut stored = catalog.upload_files(source_id).await?;
    let local = local_files(dir).await?;
    if stored.is_empty() && !local.is_empty() {
        let mut batch = catalog.begin_uploads(source_id).await?;
        for path in &local {
            let file = dir.join(path);
            let Some((sha256, size)) = local_digest(&file).await else {
                continue; // removed meanwhile
            };
            put_file(&mut batch, path, &file, &sha256, size).await?;
        }
        batch.commit().await?;
        tracing::info!(
            source = source_id,
            files = local.len(),
            "uploaded files adopted into the catalog"
        );
        stored = catalog.upload_files(source_id).await?;
    }
    for file in &stored {
        let target = dir.join(&file.path);
        let current = local_digest(&target).await.map(|(sha256, _)| sha256);
        if current.as_deref() == Some(file.sha256.as_str()) {
            continue;
        }
        write_from_catalog(catalog, source_id, &file.path, &file.sha256, &target).await?;
    }
    let keep: std::collections::HashSet<&str> = stored.iter().map(|f| f.path.as_str()).collect();
    for path in local.iter().filter(|p| !keep.contains(p.as_str())) {
        let file = dir.join(path);
        match tokio::fs::remove_file(&file).await {
            Ok(()) => {}
            // Gone already (an upload replaced it meanwhile): nothing to remove.
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
            Err(err) => return Err(io(&file)(err)),
        }
    }
    Ok(())
}

/// Writes one stored file to `target` through a temporary file renamed into place once whole and
/// matching its digest (a file replaced while it was being read is left for the next sync,
/// which the replacing upload queued).
async fn write_from_catalog(
    catalog: &Catalog,
    source_id: &str,
    path: &str,
    sha256: &str,
    target: &Path,
) -> Result<(), CopyError> {
    let Some(pieces) = catalog.upload_file_pieces(source_id, path).await? else {
        return Ok(()); // removed since the listing
    };
    let parent = target
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    tokio::fs::create_dir_all(&parent)
        .await
        .map_err(io(&parent))?;
    let temp = parent.join(format!("{UPLOAD_TEMP_PREFIX}{}", uuid::Uuid::new_v4()));
    let written = write_pieces(catalog, source_id, path, pieces, &temp).await;
    let complete = match written {
        Ok(digest) => digest.as_deref() == Some(sha256),
        Err(err) => {
            let _ = tokio::fs::remove_file(&temp).await;
            return Err(err);
        }
    };
    if !complete {
        tracing::debug!(
            source = source_id,
            "an uploaded file changed while it was checked out; the next sync takes it"
        );
        let _ = tokio::fs::remove_file(&temp).await;
        return Ok(());
    }
    tokio::fs::rename(&temp, target).await.map_err(io(target))
}

/// Writes the pieces to `temp`; the digest of what was written, `None` if a piece vanished.
async fn write_pieces(
    catalog: &Catalog,
    source_id: &str,
    path: &str,
    pieces: u64,
    temp: &Path,
) -> Result<Option<String>, CopyError> {
    let mut out = tokio::fs::File::create(temp).await.map_err(io(temp))?;
    let mut hashing = super::upload::Hashing::new(());
    for index in 0..pieces {
        let Some(piece) = catalog.upload_file_piece(source_id, path, index).await? else {
            return Ok(None);
        };
        out.write_all(&piece).await.map_err(io(temp))?;
        hashing.update(&piece);
    }
    out.sync_all().await.map_err(io(temp))?;
    Ok(Some(hashing.finish().1))
}

/// Every file under `dir`, as `/`-separated paths relative to it.
async fn local_files(dir: &Path) -> Result<Vec<String>, CopyError> {
    let root = dir.to_path_buf();
    let walked = tokio::task::spawn_blocking(move || {
        walkdir::WalkDir::new(&root)
            .into_iter()
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_file())
            // A file an upload is writing right now (renamed into place once whole): neither
            // a document nor a stray to remove.
            .filter(|e| {
                !e.file_name()
                    .to_string_lossy()
                    .starts_with(UPLOAD_TEMP_PREFIX)
            })
            .filter_map(|e| {
                let relative = e.path().strip_prefix(&root).ok()?;
                let parts: Vec<String> = relative
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect();
                Some(parts.join("/"))
            })
            .collect::<Vec<_>>()
    })
    .await
    .map_err(|e| CopyError::Io {
        path: dir.to_path_buf(),
        source: std::io::Error::other(e.to_string()),
    })?;
    Ok(walked)
}
