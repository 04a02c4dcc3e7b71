//! The catalog: tenants, API and admin keys, sources, the document manifest, sync runs,
//! conversations, feedback and usage, in SQL.
//! SQLite file by default, PostgreSQL when `DATABASE_URL` says so; one migration set for both
//! (`migrations/`, compiled in).

pub mod admin_keys;
mod bot_events;
mod conversations;
mod documents;
pub mod error;
mod feedback;
mod groups;
pub mod keys;
mod recent;
mod sources;
mod sync_runs;
mod tenants;
mod uploads;
mod usage;
mod web_pages;
pub mod widget_keys;
mod widget_origins;

pub use admin_keys::AdminKeyRecord;
pub use conversations::StoredTurn;
pub use documents::{DocumentQuery, DocumentRecord, ManifestEntry};
pub use error::{CatalogError, Result};
pub use feedback::{Feedback, Rating};
pub use groups::validate_group;
pub use keys::{ApiKeyRecord, GeneratedKey, NewApiKey};
pub use recent::{API_KEY_TTL, GENERATION_TTL};
pub use sources::{SourceRecord, SourceUpdate};
pub use sync_runs::{
    DocumentFailure, Enqueued, SyncReport, SyncRunRecord, TRIGGER_MANUAL, TRIGGER_RECOVERY,
    TRIGGER_SCHEDULE, TRIGGER_UPLOAD,
};
pub use tenants::{Tenant, TenantDeletion, validate_tenant_id};
pub use uploads::{UPLOAD_PART_BYTES, UploadBatch, UploadFile};
pub use usage::UsageRow;
pub use web_pages::{WebPageKind, WebPageRecord};
pub use widget_keys::WidgetKeyRecord;
pub use widget_origins::WIDGET_ORIGINS_TTL;

use std::borrow::Cow;
use std::path::Path;

use sqlx::AnyPool;
use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::migrate::{Migration, MigrationType, Migrator};

/// How long a request waits for a connection to a catalog server (PostgreSQL) before it fails.
pub const SERVER_ACQUIRE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

#[derive(Debug, Clone)]
pub struct Catalog {
    pool: AnyPool,
    /// Shared by every clone: the process's view of the widget keys' origins.
    widget_origins: std::sync::Arc<widget_origins::OriginsCache>,
    /// Shared by every clone: API keys as recently read.
    recent_keys: std::sync::Arc<recent::Recent<keys::KeyRow>>,
    /// Shared by every clone: tenants' generations as recently read.
    recent_generations: std::sync::Arc<recent::Recent<i64>>,
}

/// `sqlite://<data dir>/catalog.db` unless a URL is given.
pub fn default_url(data_dir: &Path) -> String {
    format!(
        "sqlite://{}?mode=rwc",
        data_dir.join("catalog.db").display()
    )
}

fn migrator() -> Migrator {
    let migration = |version, name, sql| {
        Migration::new(
            version,
            Cow::Borrowed(name),
            MigrationType::Simple,
            Cow::Borrowed(sql),
            false,
        )
    };
    let migrations = vec![
        migration(1, "catalog", include_str!("../migrations/0001_catalog.sql")),
        migration(
            2,
            "conversations",
            include_str!("../migrations/0002_conversations.sql"),
        ),
        migration(
            3,
            "usage_and_admin_keys",
            include_str!("../migrations/0003_usage_and_admin_keys.sql"),
        ),
        migration(4, "acls", include_str!("../migrations/0004_acls.sql")),
        migration(
            5,
            "feedback",
            include_str!("../migrations/0005_feedback.sql"),
        ),
        migration(6, "widget", include_str!("../migrations/0006_widget.sql")),
        migration(7, "web", include_str!("../migrations/0007_web.sql")),
        migration(
            8,
            "sync_jobs",
            include_str!("../migrations/0008_sync_jobs.sql"),
        ),
        migration(
            9,
            "analysis",
            include_str!("../migrations/0009_analysis.sql"),
        ),
        migration(
            10,
            "replicas",
            include_str!("../migrations/0010_replicas.sql"),
        ),
        migration(
            11,
            "admin_key_expiry",
            include_str!("../migrations/0011_admin_key_expiry.sql"),
        ),
        migration(
            12,
            "upload_chunks",
            include_str!("../migrations/0012_upload_chunks.sql"),
        ),
    ];
    Migrator {
        migrations: Cow::Owned(migrations),
        ..Migrator::DEFAULT
    }
}

impl Catalog {
    /// Connects and brings the schema up to date.
    pub async fn connect(url: &str) -> Result<Self> {
        install_default_drivers();
        let is_sqlite = url.starts_with("sqlite:");
        let mut options = AnyPoolOptions::new().max_connections(if is_sqlite { 4 } else { 10 });
        if !is_sqlite {
            // A database server that is down or restarting refuses connections; the pool retries
            // until this deadline, so it is how long a request waits before it fails with 503
            // (sqlx's default is 30 s). Dead connections are replaced on the next acquire.
            options = options.acquire_timeout(SERVER_ACQUIRE_TIMEOUT);
        }
        let pool = options
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if is_sqlite {
                        // With WAL, NORMAL never corrupts the file; a power cut can only lose the last
                        // commits, which a re-sync redoes. It saves an fsync on every write.
                        sqlx::query("PRAGMA synchronous=NORMAL")
                            .execute(conn)
                            .await?;
                    }
                    Ok(())
                })
            })
            .connect(url)
            .await
            .map_err(|e| {
                CatalogError::Invalid(format!("cannot open the catalog at {}: {e}", redact(url)))
            })?;
        if is_sqlite {
            // WAL lets the server read while a sync writes; it persists in the file.
            sqlx::query("PRAGMA journal_mode=WAL")
                .execute(&pool)
                .await?;
        }
        migrator().run(&pool).await?;
        Ok(Self {
            pool,
            widget_origins: Default::default(),
            recent_keys: std::sync::Arc::new(recent::Recent::new(API_KEY_TTL)),
            recent_generations: std::sync::Arc::new(recent::Recent::new(GENERATION_TTL)),
        })
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }
}

/// Hides the password of a database URL in messages.
fn redact(url: &str) -> Cow<'_, str> {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            Cow::Owned(format!("{}://***{}", &url[..scheme], &url[at..]))
        }
        _ => Cow::Borrowed(url),
    }
}

pub(crate) fn now() -> String {
    // Microseconds: rows written in the same millisecond (a run and its follow-up) still order.
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_passwords() {
        assert_eq!(redact("postgres://u:secret@db/x"), "postgres://***@db/x");
        assert_eq!(
            redact("sqlite://data/catalog.db"),
            "sqlite://data/catalog.db"
        );
    }
}
