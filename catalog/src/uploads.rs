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

/// Largest part a stored file is cut into: storing or reading a file holds one part in memory.
pub const UPLOAD_PART_BYTES: usize = 1024 * 1024;

/// Files being stored into a source in one transaction: all of them or none (`commit`).
pub struct UploadBatch {
    tx: sqlx::Transaction<'static, sqlx::Any>,
    source_id: String,
    at: String,
}

impl UploadBatch {
    /// Starts storing `path` (replacing what was there); its content follows in parts.
    pub async fn start_file(&mut self, path: &str, sha256: &str, size: u64) -> Result<()> {
        for sql in [
            "DELETE FROM upload_file_parts WHERE source_id = $1 AND path = $2",
            "DELETE FROM upload_files WHERE source_id = $1 AND path = $2",
        ] {
            sqlx::query(sql)
                .bind(&self.source_id)
                .bind(path)
                .execute(&mut *self.tx)
                .await?;
        }
        sqlx::query(
            "INSERT INTO upload_files (source_id, path, content, sha256, size, updated_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&self.source_id)
        .bind(path)
        .bind(Vec::<u8>::new())
        .bind(sha256)
        .bind(i64::try_from(size).unwrap_or(i64::MAX))
        .bind(&self.at)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    /// Appends the part number `seq` (from 0) of a started file.
    pub async fn put_part(&mut self, path: &str, seq: u64, content: &[u8]) -> Result<()> {
        sqlx::query(
            "INSERT INTO upload_file_parts (source_id, path, seq, content) VALUES ($1, $2, $3, $4)",
        )
        .bind(&self.source_id)
        .bind(path)
        .bind(i64::try_from(seq).unwrap_or(i64::MAX))
        .bind(content.to_vec())
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    pub async fn commit(self) -> Result<()> {
        self.tx.commit().await?;
        Ok(())
    }
}

impl Catalog {
    /// Begins storing files into a source (nothing is visible until [`UploadBatch::commit`]).
    pub async fn begin_uploads(&self, source_id: &str) -> Result<UploadBatch> {
        Ok(UploadBatch {
            tx: self.pool().begin().await?,
            source_id: source_id.to_owned(),
            at: now(),
        })
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

    /// How many pieces [`Self::upload_file_piece`] returns for a file; `None` if there is no
    /// such file.
    pub async fn upload_file_pieces(&self, source_id: &str, path: &str) -> Result<Option<u64>> {
        let Some(legacy) = self.legacy_content_len(source_id, path).await? else {
            return Ok(None);
        };
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM upload_file_parts WHERE source_id = $1 AND path = $2",
        )
        .bind(source_id)
        .bind(path)
        .fetch_one(self.pool())
        .await?;
        let parts: i64 = row.try_get("n")?;
        Ok(Some(
            u64::from(legacy > 0) + u64::try_from(parts).unwrap_or(0),
        ))
    }

    /// The file's content, piece `index` of [`Self::upload_file_pieces`] (at most
    /// [`UPLOAD_PART_BYTES`], except a file stored whole before files were cut into parts).
    pub async fn upload_file_piece(
        &self,
        source_id: &str,
        path: &str,
        index: u64,
    ) -> Result<Option<Vec<u8>>> {
        let Some(legacy) = self.legacy_content_len(source_id, path).await? else {
            return Ok(None);
        };
        if legacy > 0 && index == 0 {
            let row =
                sqlx::query("SELECT content FROM upload_files WHERE source_id = $1 AND path = $2")
                    .bind(source_id)
                    .bind(path)
                    .fetch_optional(self.pool())
                    .await?;
            return Ok(row.map(|r| r.try_get("content")).transpose()?);
        }
        let seq = index - u64::from(legacy > 0);
        let row = sqlx::query(
            "SELECT content FROM upload_file_parts WHERE source_id = $1 AND path = $2 AND seq = $3",
        )
        .bind(source_id)
        .bind(path)
        .bind(i64::try_from(seq).unwrap_or(i64::MAX))
        .fetch_optional(self.pool())
        .await?;
        Ok(row.map(|r| r.try_get("content")).transpose()?)
    }

    /// The length of a file's content kept whole in `upload_files` (0 for files kept in parts).
    async fn legacy_content_len(&self, source_id: &str, path: &str) -> Result<Option<i64>> {
        let row = sqlx::query(
            "SELECT CAST(length(content) AS BIGINT) AS n FROM upload_files WHERE source_id = $1 AND path = $2",
        )
        .bind(source_id)
        .bind(path)
        .fetch_optional(self.pool())
        .await?;
        Ok(row
            .map(|r| r.try_get::<Option<i64>, _>("n"))
            .transpose()?
            .map(|n| n.unwrap_or(0)))
    }

    /// Removes the named files of a source; returns how many were stored.
    pub async fn delete_upload_files(&self, source_id: &str, paths: &[String]) -> Result<u64> {
        let mut removed = 0;
        for path in paths {
            sqlx::query("DELETE FROM upload_file_parts WHERE source_id = $1 AND path = $2")
                .bind(source_id)
                .bind(path)
                .execute(self.pool())
                .await?;
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
        sqlx::query("DELETE FROM upload_file_parts WHERE source_id = $1")
            .bind(source_id)
            .execute(self.pool())
            .await?;
        let done = sqlx::query("DELETE FROM upload_files WHERE source_id = $1")
            .bind(source_id)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected())
    }
}
