//! `/api/v1/admin/tenants/{id}/documents`: what is indexed, searchable by title or uri, and the
//! removal of one document (its passages go with it).

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use ragway_catalog::{DocumentQuery, DocumentRecord};
use serde::{Deserialize, Serialize};

use crate::http::errors::ErrorBody;
use crate::http::{Admin, ApiError};
use crate::state::AppState;

/// An indexed document.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DocumentView {
    pub id: String,
    pub source_id: String,
    pub uri: String,
    pub title: String,
    pub mime: String,
    pub size_bytes: i64,
    /// Passages in the index.
    pub chunks: i64,
    pub indexed_at: String,
    /// Groups that may see it (empty: every member of the tenant).
    pub acl: Vec<String>,
    /// `indexed`: in the index and answerable.
    pub status: &'static str,
}

impl From<DocumentRecord> for DocumentView {
    fn from(d: DocumentRecord) -> Self {
        Self {
            id: d.id,
            source_id: d.source_id,
            uri: d.uri,
            title: d.title,
            mime: d.mime,
            size_bytes: d.size_bytes,
            chunks: d.chunk_count,
            indexed_at: d.indexed_at,
            acl: d.acl,
            status: "indexed",
        }
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DocumentsQuery {
    /// Only this source (its id).
    pub source: Option<String>,
    /// Case-insensitive text in the title or the uri.
    pub q: Option<String>,
    /// 1 to 500 (default 100).
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

/// List a tenant's indexed documents.
#[utoipa::path(get, path = "/api/v1/admin/tenants/{id}/documents", tag = "admin",
    security(("admin_key" = [])),
    params(("id" = String, Path, description = "Tenant id"), DocumentsQuery),
    responses(
        (status = 200, description = "Documents by uri", body = [DocumentView]),
        (status = 400, description = "Bad paging", body = ErrorBody),
        (status = 403, description = "A key scoped to another tenant", body = ErrorBody),
        (status = 404, description = "No such tenant", body = ErrorBody),
    ))]
pub async fn list(
    State(state): State<AppState>,
    admin: Admin,
    Path(id): Path<String>,
    query: Result<Query<DocumentsQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Vec<DocumentView>>, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::bad_request(e.body_text()))?;
    super::administered_tenant(&state, &admin, &id).await?;
    let limit = query.limit.unwrap_or(100);
    let offset = query.offset.unwrap_or(0);
    if !(1..=500).contains(&limit) || offset < 0 {
        return Err(ApiError::bad_request(
            "`limit` must be 1 to 500 and `offset` at least 0",
        ));
    }
    let filter = DocumentQuery {
        source_id: query.source.as_deref(),
        search: query.q.as_deref().map(str::trim).filter(|q| !q.is_empty()),
        limit,
        offset,
    };
    let documents = state.core.catalog.documents(&id, &filter).await?;
    Ok(Json(
        documents.into_iter().map(DocumentView::from).collect(),
    ))
}

/// Remove one document: its passages leave the index at once (cached answers citing it are
/// never served again). A later sync of its source adds it back if the file is still there.
#[utoipa::path(delete, path = "/api/v1/admin/tenants/{id}/documents/{document_id}", tag = "admin",
    security(("admin_key" = [])),
    params(("id" = String, Path, description = "Tenant id"), ("document_id" = String, Path, description = "Document id")),
    responses(
        (status = 200, description = "The removed document", body = DocumentView),
        (status = 403, description = "A key scoped to another tenant", body = ErrorBody),
        (status = 404, description = "No such tenant or document", body = ErrorBody),
    ))]
pub async fn delete(
    State(state): State<AppState>,
    admin: Admin,
    Path((id, document_id)): Path<(String, String)>,
) -> Result<Json<DocumentView>, ApiError> {
    super::administered_tenant(&state, &admin, &id).await?;
    let document = state
        .core
        .catalog
        .document(&id, &document_id)
        .await?
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "not_found",
                format!("no document `{document_id}` in tenant `{id}`"),
            )
        })?;
    // Passages first: a crash in between leaves the manifest row, and deleting again finishes.
    state
        .store
        .delete_document_chunks(&id, &document.id, 0)
        .await?;
    state.core.catalog.forget_document(&document.id).await?;
    state.core.catalog.bump_generation(&id).await?;
    tracing::info!(tenant = %id, document = %document.id, admin_key = %admin.key.id, "document removed");
    Ok(Json(document.into()))
}
