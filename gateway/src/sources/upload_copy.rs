//! An upload source's working copy: the catalog holds its files (the store of record, shared by
//! every process); before a sync, the data directory's copy is brought up to date with it, so the
//! sync reads the files whichever process received them.

use std::path::{Path, PathBuf};

use ragway_catalog::Catalog;
use sha2::{Digest, Sha256};

use super::upload::{StagedFile, UPLOAD_TEMP_PREFIX};

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

pub fn digest(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Records uploaded files in the catalog (all or none).
pub async fn record(
    catalog: &Catalog,
    source_id: &str,
    files: &[StagedFile],
) -> Result<(), CopyError> {
    let rows: Vec<(String, String, Vec<u8>)> = files
        .iter()
        .map(|f| (f.path.clone(), digest(&f.bytes), f.bytes.clone()))
        .collect();
    catalog.put_upload_files(source_id, &rows).await?;
    Ok(())
}

/// Brings `dir` up to date with the catalog's files of the source: writes what is missing or
/// differs, removes what the catalog no longer has. A source uploaded before the catalog kept
/// files (its folder holds files, the catalog none) is adopted into the catalog first.
pub async fn check_out(catalog: &Catalog, source_id: &str, dir: &Path) -> Result<(), CopyError> {
    tokio::fs::create_dir_all(dir).await.map_err(io(dir))?;
    let mut stored = catalog.upload_files(source_id).await?;
    let local = local_files(dir).await?;
    if stored.is_empty() && !local.is_empty() {
        let mut adopted = Vec::with_capacity(local.len());
        for path in &local {
            let file = dir.join(path);
            let bytes = tokio::fs::read(&file).await.map_err(io(&file))?;
            adopted.push(StagedFile {
                path: path.clone(),
                bytes,
            });
        }
        record(catalog, source_id, &adopted).await?;
        tracing::info!(
            source = source_id,
            files = adopted.len(),
            "uploaded files adopted into the catalog"
        );
        stored = catalog.upload_files(source_id).await?;
    }
    for file in &stored {
        let target = dir.join(&file.path);
        let current = match tokio::fs::read(&target).await {
            Ok(bytes) => Some(digest(&bytes)),
            Err(_) => None,
        };
        if current.as_deref() == Some(file.sha256.as_str()) {
            continue;
        }
        let Some(bytes) = catalog.upload_file_content(source_id, &file.path).await? else {
            continue; // removed since the listing
        };
        if let Some(parent) = target.parent() {
            tokio::fs::create_dir_all(parent)
                .await
                .map_err(io(parent))?;
        }
        tokio::fs::write(&target, bytes)
            .await
            .map_err(io(&target))?;
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
