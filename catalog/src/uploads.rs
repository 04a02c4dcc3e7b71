//! Files uploaded into `upload` sources (table `upload_files`): the store of record every process
//! syncs from, whichever one received the upload.

use sqlx::Row;

use super::{Catalog, now};
use crate::error::Result;

/// One stored file: its path inside the source and its content's digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadFile {
    pub path: String,
    pub sha256: String,
    pub size: u64,
}

impl Catalog {
    /// Stores (or replaces) files of a source in one transaction: all of them or none.
    pub async fn put_upload_files(
        &self,
        source_id: &str,
        files: &[(String, String, Vec<u8>)],
    ) -> Result<()> {
        let at = now();
        let mut tx = self.pool().begin().await?;
        for (path, sha256, content) in files {
            sqlx::query("DELETE FROM upload_files WHERE source_id = $1 AND path = $2")
                .bind(source_id)
                .bind(path)
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "INSERT INTO upload_files (source_id, path, content, sha256, size, updated_at) VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(source_id)
            .bind(path)
            .bind(content.clone())
            .bind(sha256)
            .bind(i64::try_from(content.len()).unwrap_or(i64::MAX))
            .bind(&at)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The source's files (without their content), by path.
    pub async fn upload_files(&self, source_id: &str) -> Result<Vec<UploadFile>> {
        let rows = sqlx::query(
            "SELECT path, sha256, size FROM upload_files WHERE source_id = $1 ORDER BY path",
        )
        .bind(source_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                let size: i64 = row.try_get("size")?;
                Ok(UploadFile {
                    path: row.try_get("path")?,
                    sha256: row.try_get("sha256")?,
                    size: u64::try_from(size).unwrap_or(0),
                })
            })
            .collect()
    }

    pub async fn upload_file_content(
        &self,
        source_id: &str,
        path: &str,
    ) -> Result<Option<Vec<u8>>> {
        let row =
            sqlx::query("SELECT content FROM upload_files WHERE source_id = $1 AND path = $2")
                .bind(source_id)
                .bind(path)
                .fetch_optional(self.pool())
                .await?;
        Ok(row.map(|r| r.try_get("content")).transpose()?)
    }

    /// Removes the named files of a source; returns how many were stored.
    pub async fn delete_upload_files(&self, source_id: &str, paths: &[String]) -> Result<u64> {
        let mut removed = 0;
        for path in paths {
            let done = sqlx::query("DELETE FROM upload_files WHERE source_id = $1 AND path = $2")
                .bind(source_id)
                .bind(path)
                .execute(self.pool())
                .await?;
            removed += done.rows_affected();
        }
        Ok(removed)
    }

    /// Removes every file of a source (the source is being deleted).
    pub async fn delete_source_uploads(&self, source_id: &str) -> Result<u64> {
        let done = sqlx::query("DELETE FROM upload_files WHERE source_id = $1")
            .bind(source_id)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected())
    }
}
