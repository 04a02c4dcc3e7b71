//! Deleting a tenant, whoever asks (the admin API or `ragway tenants delete`): its index passages
//! first, then its catalog rows, then the uploaded files this process keeps for its sources; and,
//! at start, the uploaded files of sources deleted elsewhere (another replica, an older version).

use std::path::Path;

use ragway_catalog::TenantDeletion;

use crate::error::GatewayError;
use crate::sources::upload_dir;
use crate::state::AppState;

/// What deleting a tenant removed.
#[derive(Debug)]
pub struct Removed {
    pub chunks: usize,
    pub catalog: TenantDeletion,
    /// Upload folders removed from this process's data directory.
    pub upload_folders: usize,
}

/// Deletes tenant `id` everywhere this process can reach. Index first: if the process dies in
/// between, the catalog still lists the tenant and the deletion can be repeated; the other order
/// would leave passages nobody can reach or remove.
pub async fn delete_tenant(state: &AppState, id: &str) -> Result<Removed, GatewayError> {
    let sources = state.core.catalog.sources(id).await?;
    let chunks = state.store.count(id).await?;
    state.store.delete_tenant(id).await?;
    let catalog = state.core.catalog.delete_tenant(id).await?;
    let mut upload_folders = 0;
    for source in sources {
        let dir = upload_dir(&state.core.config.data_dir, &source.id);
        if remove_folder(&dir).await {
            upload_folders += 1;
        }
    }
    Ok(Removed {
        chunks,
        catalog,
        upload_folders,
    })
}

/// Removes the upload folders whose source no longer exists in the catalog (deleted through
/// another replica, which can only clean its own data directory). Returns how many went.
pub async fn remove_orphan_uploads(state: &AppState) -> Result<usize, GatewayError> {
    let uploads = state.core.config.data_dir.join("uploads");
    let mut entries = match tokio::fs::read_dir(&uploads).await {
        Ok(entries) => entries,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(err) => return Err(err.into()),
    };
    let mut known = std::collections::HashSet::new();
    for tenant in state.core.catalog.tenants().await? {
        for source in state.core.catalog.sources(&tenant.id).await? {
            known.insert(source.id);
        }
    }
    let mut removed = 0;
    while let Some(entry) = entries.next_entry().await? {
        let name = entry.file_name().to_string_lossy().into_owned();
        // Hidden names are not sources: `.staging` holds uploads in progress.
        if name.starts_with('.') {
            continue;
        }
        if !known.contains(&name) && remove_folder(&entry.path()).await {
            tracing::info!(source = %name, "removed the uploaded files of a deleted source");
            removed += 1;
        }
    }
    Ok(removed)
}

async fn remove_folder(dir: &Path) -> bool {
    match tokio::fs::remove_dir_all(dir).await {
        Ok(()) => true,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => false,
        Err(err) => {
            tracing::warn!(%err, dir = %dir.display(), "could not remove the uploaded files");
            false
        }
    }
}
