//! `POST …/sources/{source_id}/files`: files (and zip archives) uploaded into an `upload` source,
//! then synced; `DELETE …/files/{path}` removes one.

use axum::Json;
use axum::extract::multipart::{Field, Multipart, MultipartRejection};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use ragway_catalog::{Enqueued, SourceRecord, TRIGGER_UPLOAD};
use ragway_ingest::source::{AclRule, validate_group};
use serde::Serialize;
use tokio::io::AsyncWriteExt;

use super::syncs::SyncView;
use super::tenant_source;
use crate::http::errors::ErrorBody;
use crate::http::{Admin, ApiError};
use crate::sources::upload::{self, Hashing, StagedFile, Staging, UploadError};
use crate::sources::upload_copy::{self, CopyError};
use crate::sources::{SourceKind, SourceService, UploadLimits, upload_dir};
use crate::state::AppState;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UploadedFile {
    /// Where it is stored in the source (its document uri).
    pub path: String,
    pub bytes: u64,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UploadResult {
    pub files: Vec<UploadedFile>,
    /// The sync that indexes them (or the one already queued or running, which will be followed
    /// by the next one you ask for).
    pub sync: Option<SyncView>,
}

impl From<UploadError> for ApiError {
    fn from(err: UploadError) -> Self {
        match err {
            UploadError::Invalid(m) => ApiError::bad_request(m),
            UploadError::TooLarge(m) => {
                ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", m)
            }
            UploadError::Refused(m) => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "upload_refused", m)
            }
            UploadError::Io(e) if upload::is_disk_error(&e) => ApiError {
                detail: Some(e.to_string()),
                ..ApiError::new(
                    StatusCode::INSUFFICIENT_STORAGE,
                    "insufficient_storage",
                    "the server has no room left to store the upload; nothing was stored",
                )
            },
            UploadError::Io(e) => ApiError {
                detail: Some(e.to_string()),
                ..ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal_error",
                    "the upload could not be stored",
                )
            },
        }
    }
}

fn copy_error(err: CopyError) -> ApiError {
    match err {
        CopyError::Catalog(err) => err.into(),
        CopyError::Io { .. } => {
            ApiError::from(UploadError::Io(std::io::Error::other(err.to_string())))
        }
    }
}

fn multipart_error(err: impl std::fmt::Display, status: StatusCode) -> ApiError {
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        return ApiError::new(
            status,
            "payload_too_large",
            "the upload is larger than the per-request limit (`[sources.upload] max_request_bytes`)",
        );
    }
    ApiError::bad_request(format!("malformed multipart upload: {err}"))
}

/// Streams one file part into a new file of the staging folder as it arrives (hashing it on the
/// way), refusing it as soon as it passes the per-file limit.
async fn receive_file(
    field: &mut Field<'_>,
    path: String,
    staging: &Staging,
    limits: &UploadLimits,
) -> Result<StagedFile, ApiError> {
    let temp = Staging::new_file(staging.dir());
    let file = tokio::fs::File::create(&temp)
        .await
        .map_err(UploadError::from)?;
    let mut out = tokio::io::BufWriter::new(file);
    let mut hashing = Hashing::new(());
    while let Some(chunk) = field
        .chunk()
        .await
        .map_err(|e| multipart_error(&e, e.status()))?
    {
        hashing.update(&chunk);
        if hashing.written() > limits.max_file_bytes {
            return Err(UploadError::TooLarge(format!(
                "`{path}` is larger than the per-file limit of {} bytes",
                limits.max_file_bytes
            ))
            .into());
        }
        out.write_all(&chunk).await.map_err(UploadError::from)?;
    }
    out.flush().await.map_err(UploadError::from)?;
    out.into_inner()
        .sync_all()
        .await
        .map_err(UploadError::from)?;
    let ((), sha256, size) = hashing.finish();
    Ok(StagedFile {
        path,
        temp,
        size,
        sha256,
    })
}

/// What a request carries besides files.
#[derive(Default)]
struct Options {
    groups: Option<Vec<String>>,
    folder: Option<String>,
    expand_zips: bool,
    sync: bool,
}

/// Upload files into an `upload` source and queue a sync (multipart/form-data).
///
/// Parts: `file` (one or more; the part's filename is its path, `/` for folders), `groups`
/// (optional, comma-separated: only these groups may see this request's files), `folder`
/// (optional prefix), `expand_zips` (default `true`: zip archives are expanded, within limits),
/// `sync` (default `true`). Text parts must come before the files they apply to.
#[utoipa::path(post, path = "/api/v1/admin/tenants/{id}/sources/{source_id}/files", tag = "admin",
    security(("admin_key" = [])),
    params(("id" = String, Path, description = "Tenant id"), ("source_id" = String, Path, description = "Source id")),
    request_body(content_type = "multipart/form-data", description = "`file` parts, and optional `groups`, `folder`, `expand_zips`, `sync`"),
    responses(
        (status = 201, description = "Stored files and the queued sync", body = UploadResult),
        (status = 400, description = "Not multipart, no files, or an unsafe file name", body = ErrorBody),
        (status = 403, description = "A key scoped to another tenant", body = ErrorBody),
        (status = 404, description = "No such tenant or source", body = ErrorBody),
        (status = 409, description = "The source is not an upload source", body = ErrorBody),
        (status = 413, description = "A file or the request is over its size limit", body = ErrorBody),
        (status = 422, description = "A zip archive was refused (too many entries, too large, a zip bomb, unsafe names)", body = ErrorBody),
        (status = 507, description = "The server's disk is full; nothing was stored", body = ErrorBody),
    ))]
pub async fn upload(
    State(state): State<AppState>,
    admin: Admin,
    Path((id, source_id)): Path<(String, String)>,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Response, ApiError> {
    let source = upload_source(&state, &admin, &id, &source_id).await?;
    let mut multipart = multipart.map_err(|e| {
        ApiError::bad_request(format!("expected a multipart/form-data upload: {e}"))
    })?;
    let limits = &state.core.config.sources.upload;
    let mut options = Options {
        expand_zips: true,
        sync: true,
        ..Options::default()
    };
    // Every file of the request waits here until all of them passed; dropped (with what is left
    // in it) however the request ends.
    let staging = Staging::create(&state.core.config.data_dir)?;
    let mut staged: Vec<StagedFile> = Vec::new();
    let mut expanded: u64 = 0;
    let mut rules: Vec<AclRule> = Vec::new();
    while let Some(mut field) = multipart
        .next_field()
        .await
        .map_err(|e| multipart_error(&e, e.status()))?
    {
        let part = field.name().unwrap_or_default().to_owned();
        if part == "file" {
            let name = field
                .file_name()
                .map(str::to_owned)
                .ok_or_else(|| ApiError::bad_request("a `file` part has no filename"))?;
            let name = match &options.folder {
                Some(folder) => format!("{folder}/{name}"),
                None => name,
            };
            let path = upload::safe_relative_path(&name)?;
            let received = receive_file(&mut field, path, &staging, limits).await?;
            let (dir, limits_now, expand) = (
                staging.dir().to_path_buf(),
                limits.clone(),
                options.expand_zips,
            );
            let files = tokio::task::spawn_blocking(move || {
                upload::stage(received, &dir, &limits_now, expand)
            })
            .await
            .map_err(|e| UploadError::Io(std::io::Error::other(e.to_string())))??;
            // Each zip is capped, and so is what all of a request's zips expand to together:
            // a request writes at most this much to the staging disk, however many archives it
            // carries.
            expanded = expanded.saturating_add(files.iter().map(|f| f.size).sum());
            if expanded > limits.max_zip_expanded_bytes {
                return Err(ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "upload_refused",
                    format!(
                        "the files of this upload expand to more than {} bytes together \
                         (sources.upload.max_zip_expanded_bytes); send them in several uploads",
                        limits.max_zip_expanded_bytes
                    ),
                ));
            }
            if let Some(groups) = &options.groups {
                rules.extend(files.iter().map(|f| AclRule::exact(&f.path, groups)));
            }
            staged.extend(files);
            continue;
        }
        let text = field
            .text()
            .await
            .map_err(|e| multipart_error(&e, e.status()))?;
        match part.as_str() {
            "groups" => options.groups = Some(parse_groups(&text)?),
            "folder" => options.folder = Some(upload::safe_relative_path(&text)?),
            "expand_zips" => options.expand_zips = parse_bool("expand_zips", &text)?,
            "sync" => options.sync = parse_bool("sync", &text)?,
            other => {
                return Err(ApiError::bad_request(format!(
                    "unknown part `{other}` (expected file, groups, folder, expand_zips or sync)"
                )));
            }
        }
    }
    if staged.is_empty() {
        return Err(ApiError::bad_request("the upload has no `file` part"));
    }
    let dir = upload_dir(&state.core.config.data_dir, &source.id);
    let files: Vec<UploadedFile> = staged
        .iter()
        .map(|f| UploadedFile {
            path: f.path.clone(),
            bytes: f.size,
        })
        .collect();
    // The files' ACL rules first: a sync that starts (on any replica) once the files exist must
    // already see who may read them, never index them tenant-wide for a moment. A rule whose
    // file then fails to store names nothing and restricts nothing.
    if !rules.is_empty() {
        SourceService::of(&state)
            .add_file_rules(&source, rules)
            .await?;
    }
    // The catalog is the store of record (any replica may run the sync); the folder is this
    // process's working copy.
    upload_copy::record(&state.core.catalog, &source.id, &staged)
        .await
        .map_err(copy_error)?;
    tokio::task::spawn_blocking(move || upload::store(&dir, &staged).map(|()| drop(staging)))
        .await
        .map_err(|e| {
            ApiError::from(crate::error::GatewayError::from(
                ragway_ingest::IngestError::from(e),
            ))
        })??;
    tracing::info!(tenant = %id, source = %source.id, files = files.len(), admin_key = %admin.key.id, "files uploaded");
    let sync = if options.sync && !source.paused {
        Some(queue(&state, &source).await?)
    } else {
        None
    };
    Ok((StatusCode::CREATED, Json(UploadResult { files, sync })).into_response())
}

/// Remove one uploaded file (its document leaves the index with the sync this queues).
#[utoipa::path(delete, path = "/api/v1/admin/tenants/{id}/sources/{source_id}/files/{path}", tag = "admin",
    security(("admin_key" = [])),
    params(("id" = String, Path, description = "Tenant id"), ("source_id" = String, Path, description = "Source id"),
        ("path" = String, Path, description = "The file's path in the source")),
    responses(
        (status = 200, description = "The queued sync that removes it from the index", body = UploadResult),
        (status = 400, description = "An unsafe path", body = ErrorBody),
        (status = 403, description = "A key scoped to another tenant", body = ErrorBody),
        (status = 404, description = "No such tenant, source or file", body = ErrorBody),
        (status = 409, description = "The source is not an upload source", body = ErrorBody),
    ))]
pub async fn remove(
    State(state): State<AppState>,
    admin: Admin,
    Path((id, source_id, path)): Path<(String, String, String)>,
) -> Result<Json<UploadResult>, ApiError> {
    let source = upload_source(&state, &admin, &id, &source_id).await?;
    let path = upload::safe_relative_path(&path)?;
    let file = upload_dir(&state.core.config.data_dir, &source.id).join(&path);
    let stored = state
        .core
        .catalog
        .upload_files(&source.id)
        .await?
        .into_iter()
        .find(|f| f.path == path);
    let local = tokio::fs::metadata(&file).await.ok();
    let bytes = match (&stored, &local) {
        (Some(stored), _) => stored.size,
        (None, Some(local)) => local.len(),
        (None, None) => {
            return Err(super::not_found(format!(
                "no file `{path}` in source `{}`",
                source.name
            )));
        }
    };
    state
        .core
        .catalog
        .delete_upload_files(&source.id, std::slice::from_ref(&path))
        .await?;
    if local.is_some() {
        tokio::fs::remove_file(&file)
            .await
            .map_err(UploadError::from)?;
    }
    tracing::info!(tenant = %id, source = %source.id, %path, admin_key = %admin.key.id, "uploaded file removed");
    let sync = if source.paused {
        None
    } else {
        Some(queue(&state, &source).await?)
    };
    Ok(Json(UploadResult {
        files: vec![UploadedFile { path, bytes }],
        sync,
    }))
}

async fn upload_source(
    state: &AppState,
    admin: &Admin,
    id: &str,
    source_id: &str,
) -> Result<SourceRecord, ApiError> {
    let source = tenant_source(state, admin, id, source_id).await?;
    if source.kind != SourceKind::Upload.as_str() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "wrong_source_kind",
            format!(
                "source `{}` is a {} source; files can only be uploaded to upload sources",
                source.name, source.kind
            ),
        ));
    }
    Ok(source)
}

/// Queues the sync that indexes the change, or follows the one already waiting.
async fn queue(state: &AppState, source: &SourceRecord) -> Result<SyncView, ApiError> {
    let (Enqueued::New(run) | Enqueued::AlreadyActive(run)) = SourceService::of(state)
        .queue_sync(source, TRIGGER_UPLOAD)
        .await?;
    Ok(SyncView::from_run(state, run))
}

fn parse_groups(text: &str) -> Result<Vec<String>, ApiError> {
    let groups: Vec<String> = text
        .split(',')
        .map(str::trim)
        .filter(|g| !g.is_empty())
        .map(str::to_owned)
        .collect();
    for group in &groups {
        validate_group(group).map_err(|e| ApiError::bad_request(e.to_string()))?;
    }
    Ok(groups)
}

fn parse_bool(part: &str, text: &str) -> Result<bool, ApiError> {
    match text.trim() {
        "true" | "1" | "yes" => Ok(true),
        "false" | "0" | "no" => Ok(false),
        other => Err(ApiError::bad_request(format!(
            "`{part}` must be true or false, not `{other}`"
        ))),
    }
}
