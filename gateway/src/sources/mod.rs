//! Document sources managed through the admin API: their kinds and validated settings, the sync
//! jobs that run them (a bounded worker pool fed by the catalog's queue), their schedules, live
//! progress and uploads.

pub mod jobs;
pub mod schedule;
pub mod upload;

use std::path::{Component, Path, PathBuf};

use ragway_catalog::SourceRecord;
use ragway_ingest::lang::Lang;
use ragway_ingest::source::web::WebSourceConfig;
use ragway_ingest::source::{Acl, AclConfig, FolderSourceConfig};
use serde::Deserialize;

pub use crate::config::sources::{SourcesConfig, UploadLimits};

use crate::error::GatewayError;
use crate::state::AppState;

/// The kinds of source.
pub const KINDS: [&str; 3] = ["folder", "upload", "web"];

/// A `folder` source's settings: a server path (under an allowed root) and its filters.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct FolderSettings {
    path: PathBuf,
    #[serde(default)]
    include: Vec<String>,
    #[serde(default)]
    exclude: Vec<String>,
    #[serde(default)]
    acl: AclConfig,
}

/// An `upload` source's settings: who may see its files (uploads may add per-file rules).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UploadSettings {
    #[serde(default)]
    pub acl: AclConfig,
}

/// Checks settings given through the API for a kind and returns them normalised (a folder's
/// path canonical). Errors are the admin-facing reason.
pub fn validate_settings(
    config: &SourcesConfig,
    kind: &str,
    settings: serde_json::Value,
) -> Result<serde_json::Value, String> {
    let settings = if settings.is_null() {
        serde_json::json!({})
    } else {
        settings
    };
    let (settings, language) = split_language(settings)?;
    let mut normalised = validate_kind_settings(config, kind, settings)?;
    if let (Some(lang), Some(object)) = (language, normalised.as_object_mut()) {
        object.insert("language".into(), lang.code().into());
    }
    Ok(normalised)
}

/// Every kind may declare its documents' language (`"language": "es"`); absent, each document's
/// (and chunk's) language is detected. Returns the settings without it, and the language.
pub fn split_language(
    mut settings: serde_json::Value,
) -> Result<(serde_json::Value, Option<Lang>), String> {
    let object = settings.as_object_mut();
    let declared = object.and_then(|object| {
        // The run-time fallback the job adds is never part of stored settings.
        object.remove(ragway_ingest::sync::FALLBACK_LANGUAGE);
        object.remove("language")
    });
    let language = match declared {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(tag)) if tag == "auto" => None,
        Some(serde_json::Value::String(tag)) => {
            Some(Lang::from_tag(&tag).ok_or_else(|| {
                format!("language: `{tag}` is not supported (one of: es, en, auto)")
            })?)
        }
        Some(other) => {
            return Err(format!(
                "language: expected a string such as \"es\", got {other}"
            ));
        }
    };
    Ok((settings, language))
}

fn validate_kind_settings(
    config: &SourcesConfig,
    kind: &str,
    settings: serde_json::Value,
) -> Result<serde_json::Value, String> {
    match kind {
        "folder" => {
            let folder: FolderSettings =
                serde_json::from_value(settings).map_err(|e| format!("folder settings: {e}"))?;
            let path = allowed_folder(&config.folder_roots, &folder.path)?;
            check_folder_filters(&folder.include, &folder.exclude, &folder.acl)?;
            Ok(serde_json::json!({
                "path": path,
                "include": folder.include,
                "exclude": folder.exclude,
                "acl": folder.acl,
            }))
        }
        "upload" => {
            let upload: UploadSettings =
                serde_json::from_value(settings).map_err(|e| format!("upload settings: {e}"))?;
            Acl::new(&upload.acl).map_err(|e| e.to_string())?;
            Ok(serde_json::json!({ "acl": upload.acl }))
        }
        "web" => {
            let web: WebSourceConfig =
                serde_json::from_value(settings).map_err(|e| format!("web settings: {e}"))?;
            web.check().map_err(|e| e.to_string())?;
            serde_json::to_value(&web).map_err(|e| format!("web settings: {e}"))
        }
        other => Err(format!(
            "unknown source kind `{other}` (one of: {})",
            KINDS.join(", ")
        )),
    }
}

fn check_folder_filters(
    include: &[String],
    exclude: &[String],
    acl: &AclConfig,
) -> Result<(), String> {
    let probe = FolderSourceConfig {
        include: include.to_vec(),
        exclude: exclude.to_vec(),
        acl: acl.clone(),
    };
    ragway_ingest::source::FolderSource::check_globs(&probe).map_err(|e| e.to_string())?;
    Acl::new(acl).map_err(|e| e.to_string())?;
    Ok(())
}

/// The canonical form of `path` if it is an existing folder inside one of `roots` — after
/// resolving symlinks, so a link cannot lead out of the root.
pub fn allowed_folder(roots: &[PathBuf], path: &Path) -> Result<PathBuf, String> {
    if roots.is_empty() {
        return Err(
            "folder sources cannot be added through the API until the operator lists allowed folders in `[sources] folder_roots`".into(),
        );
    }
    if !path.is_absolute() {
        return Err(format!("`{}` must be an absolute path", path.display()));
    }
    if path.components().any(|c| matches!(c, Component::ParentDir)) {
        return Err(format!("`{}` must not contain `..`", path.display()));
    }
    let canonical = path
        .canonicalize()
        .map_err(|e| format!("`{}`: {e}", path.display()))?;
    if !canonical.is_dir() {
        return Err(format!("`{}` is not a folder", path.display()));
    }
    let inside = roots
        .iter()
        .filter_map(|root| root.canonicalize().ok())
        .any(|root| canonical.starts_with(root));
    if inside {
        Ok(canonical)
    } else {
        Err(format!(
            "`{}` is outside the allowed folders ({})",
            path.display(),
            roots
                .iter()
                .map(|r| r.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ))
    }
}

/// Removes a source: its documents' passages from the index first (a crash in between leaves
/// catalog rows, and removing again finishes), then its catalog rows and uploaded files. Returns
/// how many documents it had.
pub async fn remove(state: &AppState, source: &SourceRecord) -> Result<i64, GatewayError> {
    for document in state.core.catalog.manifest(&source.id).await?.into_values() {
        state
            .store
            .delete_document_chunks(&source.tenant_id, &document.document_id, 0)
            .await?;
    }
    let documents = state.core.catalog.delete_source(&source.id).await?;
    state
        .core
        .catalog
        .bump_generation(&source.tenant_id)
        .await?;
    let uploads = upload_dir(&state.core.config.data_dir, &source.id);
    if uploads.exists()
        && let Err(err) = tokio::fs::remove_dir_all(&uploads).await
    {
        tracing::warn!(%err, dir = %uploads.display(), "could not remove the uploaded files");
    }
    Ok(documents)
}

/// Where an upload source keeps its files.
pub fn upload_dir(data_dir: &Path, source_id: &str) -> PathBuf {
    data_dir.join("uploads").join(source_id)
}

/// The folder a `folder` or `upload` source syncs, with its filters and ACL.
pub fn folder_plan(
    source: &SourceRecord,
    data_dir: &Path,
) -> Result<(PathBuf, FolderSourceConfig), String> {
    match source.kind.as_str() {
        "folder" => {
            let (settings, _) = split_language(source.settings.clone())?;
            let folder: FolderSettings = serde_json::from_value(settings)
                .map_err(|e| format!("the source's settings are invalid: {e}"))?;
            Ok((
                folder.path,
                FolderSourceConfig {
                    include: folder.include,
                    exclude: folder.exclude,
                    acl: folder.acl,
                },
            ))
        }
        "upload" => {
            let (settings, _) = split_language(source.settings.clone())?;
            let upload: UploadSettings = serde_json::from_value(settings)
                .map_err(|e| format!("the source's settings are invalid: {e}"))?;
            let dir = upload_dir(data_dir, &source.id);
            std::fs::create_dir_all(&dir)
                .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
            Ok((
                dir,
                FolderSourceConfig {
                    acl: upload.acl,
                    ..FolderSourceConfig::default()
                },
            ))
        }
        other => Err(format!("sources of kind `{other}` cannot be synced here")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_must_stay_inside_the_allowed_roots() {
        let root = tempfile::tempdir().unwrap();
        let inside = root.path().join("hr");
        std::fs::create_dir(&inside).unwrap();
        let outside = tempfile::tempdir().unwrap();
        let roots = vec![root.path().to_path_buf()];
        assert!(allowed_folder(&roots, &inside).is_ok());
        let err = allowed_folder(&roots, outside.path()).unwrap_err();
        assert!(err.contains("outside the allowed folders"), "{err}");
        let sneaky = inside.join("..").join("..");
        assert!(allowed_folder(&roots, &sneaky).unwrap_err().contains(".."));
        assert!(
            allowed_folder(&roots, Path::new("hr"))
                .unwrap_err()
                .contains("absolute")
        );
        #[cfg(unix)]
        {
            let link = inside.join("escape");
            std::os::unix::fs::symlink(outside.path(), &link).unwrap();
            let err = allowed_folder(&roots, &link).unwrap_err();
            assert!(err.contains("outside"), "{err}");
        }
        assert!(
            allowed_folder(&[], &inside)
                .unwrap_err()
                .contains("folder_roots")
        );
    }

    #[test]
    fn settings_are_checked_per_kind() {
        let config = SourcesConfig::default();
        let err = validate_settings(&config, "ftp", serde_json::Value::Null).unwrap_err();
        assert!(err.contains("unknown source kind"), "{err}");
        let err =
            validate_settings(&config, "upload", serde_json::json!({"colour": 1})).unwrap_err();
        assert!(err.contains("unknown field"), "{err}");
        let ok = validate_settings(
            &config,
            "upload",
            serde_json::json!({"acl": {"groups": ["hr"]}}),
        )
        .unwrap();
        assert_eq!(ok["acl"]["groups"][0], "hr");
        assert!(ok.get("language").is_none());
        let spanish =
            validate_settings(&config, "upload", serde_json::json!({"language": "es-MX"})).unwrap();
        assert_eq!(spanish["language"], "es");
        let auto =
            validate_settings(&config, "upload", serde_json::json!({"language": "auto"})).unwrap();
        assert!(auto.get("language").is_none());
        let err = validate_settings(&config, "upload", serde_json::json!({"language": "fr"}))
            .unwrap_err();
        assert!(err.contains("not supported"), "{err}");
    }
}
