//! A source's settings, typed: checked once when a client gives them (a kind and its JSON
//! settings), stored as the JSON they always were, and read back by the sync jobs.

use std::fmt;
use std::path::PathBuf;

use ragway_catalog::SourceRecord;
use ragway_ingest::IngestError;
use ragway_ingest::lang::Lang;
use ragway_ingest::source::web::WebSourceConfig;
use ragway_ingest::source::{Acl, AclConfig, FolderSource, FolderSourceConfig};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::folders::{FolderAccess, FolderRefused, FolderRules};

/// A key earlier versions set on a copy of the settings for the length of a sync (the tenant's
/// language). It was never stored; a client that sends it is ignored, as it always was.
const RUN_ONLY_KEY: &str = "fallback_language";

/// Where a folder source's settings record who registered it ([`FolderSettings::registered_by`]).
/// ragway sets it; a client's value is ignored, so settings read back can be sent again.
const REGISTERED_BY_KEY: &str = ragway_ingest::source::REGISTERED_BY_KEY;

/// The kinds of source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceKind {
    Folder,
    Upload,
    Web,
}

impl SourceKind {
    pub const ALL: [Self; 3] = [Self::Folder, Self::Upload, Self::Web];

    /// The name on the wire and in the catalog.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Folder => "folder",
            Self::Upload => "upload",
            Self::Web => "web",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == name)
    }

    /// Whether creating one queues a first sync: an upload source has no files yet.
    pub fn syncs_when_created(self) -> bool {
        self != Self::Upload
    }

    fn names() -> String {
        Self::ALL.map(Self::as_str).join(", ")
    }
}

impl fmt::Display for SourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A `folder` source: a server folder, its filters and who may see its documents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FolderSettings {
    pub path: PathBuf,
    #[serde(default)]
    pub include: Vec<String>,
    #[serde(default)]
    pub exclude: Vec<String>,
    #[serde(default)]
    pub acl: AclConfig,
    /// Who registered the folder, so where it may be: checked again with these rules at every
    /// sync. Set by ragway from the caller (a client's value is ignored); absent on sources
    /// registered before it was recorded (see [`Self::access`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registered_by: Option<FolderAccess>,
}

impl FolderSettings {
    /// The rules a sync checks the folder with: those it was registered under, or, when that was
    /// not recorded, [`FolderAccess::UNRECORDED`] — unless the operator allows no folder roots
    /// (`roots` empty): the API refuses every folder source then, so an unrecorded one was added
    /// by the operator (the CLI), and a CLI-only installation keeps syncing its folders after an
    /// upgrade.
    pub fn access(&self, roots: &[std::path::PathBuf]) -> FolderAccess {
        self.registered_by.unwrap_or(if roots.is_empty() {
            FolderAccess::Anywhere
        } else {
            FolderAccess::UNRECORDED
        })
    }

    /// What the walk of the folder takes: its globs and ACL.
    pub fn filters(&self) -> FolderSourceConfig {
        FolderSourceConfig {
            include: self.include.clone(),
            exclude: self.exclude.clone(),
            acl: self.acl.clone(),
        }
    }
}

/// An `upload` source: who may see its files (uploads may add per-file rules).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UploadSettings {
    #[serde(default)]
    pub acl: AclConfig,
}

/// What each kind of source reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KindSettings {
    Folder(FolderSettings),
    Upload(UploadSettings),
    Web(WebSourceConfig),
}

/// A source's settings, valid for its kind, with the language any kind may declare
/// (`"language": "es"`; absent, each document's and passage's language is detected).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceSettings {
    pub per_kind: KindSettings,
    pub language: Option<Lang>,
}

/// Why settings were refused (the admin-facing reason) or a stored source's no longer read.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("unknown source kind `{0}` (one of: {kinds})", kinds = SourceKind::names())]
    UnknownKind(String),
    #[error("sources of kind `{0}` cannot be synced here")]
    Unsyncable(String),
    #[error("language: `{0}` is not supported (one of: es, en, auto)")]
    UnsupportedLanguage(String),
    #[error("language: expected a string such as \"es\", got {0}")]
    LanguageNotText(Value),
    #[error("{kind} settings: {source}")]
    Malformed {
        kind: SourceKind,
        source: serde_json::Error,
    },
    #[error("the source's settings are invalid: {0}")]
    Unreadable(#[source] serde_json::Error),
    #[error(transparent)]
    Folder(#[from] FolderRefused),
    /// Globs, ACL rules, a web source's bounds and start URLs, as the indexer checks them.
    #[error(transparent)]
    Refused(#[from] IngestError),
}

impl SourceSettings {
    /// Settings as a client gives them — a kind and its JSON settings (`null`: none) — checked
    /// and normalised (a folder's path canonical, defaults filled in). `folders` says where a
    /// folder may be; everything else is checked the same for every caller.
    pub fn from_wire(
        kind: &str,
        settings: Value,
        folders: &FolderRules<'_>,
    ) -> Result<Self, SettingsError> {
        let mut settings = if settings.is_null() {
            serde_json::json!({})
        } else {
            settings
        };
        let language = take_language(&mut settings)?;
        let kind =
            SourceKind::parse(kind).ok_or_else(|| SettingsError::UnknownKind(kind.to_owned()))?;
        let per_kind = match kind {
            SourceKind::Folder => {
                if let Some(object) = settings.as_object_mut() {
                    object.remove(REGISTERED_BY_KEY);
                }
                let mut folder: FolderSettings = decode(kind, settings)?;
                folder.path = folders.check(&folder.path)?;
                folder.registered_by = Some(folders.access);
                FolderSource::check_globs(&folder.filters())?;
                Acl::new(&folder.acl)?;
                KindSettings::Folder(folder)
            }
            SourceKind::Upload => {
                let upload: UploadSettings = decode(kind, settings)?;
                Acl::new(&upload.acl)?;
                KindSettings::Upload(upload)
            }
            SourceKind::Web => {
                let web: WebSourceConfig = decode(kind, settings)?;
                web.check()?;
                KindSettings::Web(web)
            }
        };
        Ok(Self { per_kind, language })
    }

    /// A stored source's settings, read back (for a sync, or to change them).
    pub fn stored(source: &SourceRecord) -> Result<Self, SettingsError> {
        let kind = SourceKind::parse(&source.kind)
            .ok_or_else(|| SettingsError::Unsyncable(source.kind.clone()))?;
        let mut settings = source.settings.clone();
        let language = take_language(&mut settings)?;
        let per_kind = match kind {
            SourceKind::Folder => KindSettings::Folder(read(settings)?),
            SourceKind::Upload => KindSettings::Upload(read(settings)?),
            SourceKind::Web => KindSettings::Web(read(settings)?),
        };
        Ok(Self { per_kind, language })
    }

    pub fn kind(&self) -> SourceKind {
        match self.per_kind {
            KindSettings::Folder(_) => SourceKind::Folder,
            KindSettings::Upload(_) => SourceKind::Upload,
            KindSettings::Web(_) => SourceKind::Web,
        }
    }

    /// The JSON the catalog stores and the admin API shows: the kind's settings, then
    /// `language` when one is declared.
    pub fn to_json(&self) -> Result<Value, SettingsError> {
        let value = match &self.per_kind {
            KindSettings::Folder(folder) => serde_json::to_value(folder),
            KindSettings::Upload(upload) => serde_json::to_value(upload),
            KindSettings::Web(web) => serde_json::to_value(web),
        };
        let mut value = value.map_err(|source| SettingsError::Malformed {
            kind: self.kind(),
            source,
        })?;
        if let (Some(lang), Some(object)) = (self.language, value.as_object_mut()) {
            object.insert("language".into(), lang.code().into());
        }
        Ok(value)
    }
}

fn decode<T: DeserializeOwned>(kind: SourceKind, settings: Value) -> Result<T, SettingsError> {
    serde_json::from_value(settings).map_err(|source| SettingsError::Malformed { kind, source })
}

fn read<T: DeserializeOwned>(settings: Value) -> Result<T, SettingsError> {
    serde_json::from_value(settings).map_err(SettingsError::Unreadable)
}

/// Removes the declared language from `settings` and returns it (`"auto"` or `null`: none).
fn take_language(settings: &mut Value) -> Result<Option<Lang>, SettingsError> {
    let declared = settings.as_object_mut().and_then(|object| {
        object.remove(RUN_ONLY_KEY);
        object.remove("language")
    });
    match declared {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(tag)) if tag == "auto" => Ok(None),
        Some(Value::String(tag)) => Lang::from_tag(&tag)
            .map(Some)
            .ok_or(SettingsError::UnsupportedLanguage(tag)),
        Some(other) => Err(SettingsError::LanguageNotText(other)),
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use serde_json::json;

    use super::*;
    use crate::sources::FolderAccess;

    /// A global admin key's rules for acme's sources under `roots`.
    fn global(roots: &[PathBuf]) -> FolderRules<'_> {
        FolderRules {
            access: FolderAccess::AllRoots,
            roots,
            data_dir: Path::new("/nonexistent/ragway-data"),
            tenant: "acme",
        }
    }

    fn wire(kind: &str, settings: Value) -> Result<SourceSettings, SettingsError> {
        SourceSettings::from_wire(kind, settings, &global(&[]))
    }

    fn refused(kind: &str, settings: Value) -> String {
        wire(kind, settings).unwrap_err().to_string()
    }

    fn record(kind: &str, settings: Value) -> SourceRecord {
        SourceRecord {
            id: "s1".into(),
            tenant_id: "acme".into(),
            name: "docs".into(),
            kind: kind.into(),
            settings,
            created_at: "2026-01-01T00:00:00Z".into(),
            updated_at: None,
            paused: false,
            schedule: None,
            next_sync_at: None,
        }
    }

    /// `settings` is stored as exactly `expected` (the text, key order included, is what
    /// earlier versions stored), and reads back as itself.
    fn stored_as(settings: &SourceSettings, expected: &Value) {
        let json = settings.to_json().unwrap();
        assert_eq!(json.to_string(), expected.to_string());
        let kind = settings.kind().as_str();
        assert_eq!(
            &SourceSettings::stored(&record(kind, json)).unwrap(),
            settings
        );
    }

    #[test]
    fn a_folder_is_stored_as_before_with_its_canonical_path() {
        let root = tempfile::tempdir().unwrap();
        let docs = root.path().join("docs");
        std::fs::create_dir(&docs).unwrap();
        let roots = [root.path().to_path_buf()];
        let given = json!({
            "path": docs.join(".").join("..").join("docs"),
            "include": ["**/*.md"],
            "language": "es-MX",
        });
        // `..` is refused through the API; the same folder, plainly named, is taken.
        let err = SourceSettings::from_wire("folder", given, &global(&roots))
            .unwrap_err()
            .to_string();
        assert!(err.contains("must not contain `..`"), "{err}");
        let given = json!({"path": docs, "include": ["**/*.md"], "language": "es-MX"});
        let settings = SourceSettings::from_wire("folder", given, &global(&roots)).unwrap();
        assert_eq!(settings.kind(), SourceKind::Folder);
        assert_eq!(settings.language, Some(Lang::Es));
        let canonical = docs.canonicalize().unwrap();
        stored_as(
            &settings,
            &json!({
                "path": canonical,
                "include": ["**/*.md"],
                "exclude": [],
                "acl": {"groups": [], "rules": []},
                "registered_by": "global_admin",
                "language": "es",
            }),
        );
        // Rows the CLI stored (`"acl": {}`) still read; who registered them was not recorded,
        // so a sync holds them to every root the API allows for their tenant.
        let old = json!({"path": canonical, "include": [], "exclude": [], "acl": {}});
        let read = SourceSettings::stored(&record("folder", old)).unwrap();
        let KindSettings::Folder(folder) = read.per_kind else {
            panic!("a folder");
        };
        assert_eq!(folder.path, canonical);
        assert_eq!(folder.registered_by, None);
        assert_eq!(
            folder.access(&[std::path::PathBuf::from("/srv/docs")]),
            FolderAccess::AllRoots
        );
        assert_eq!(folder.access(&[]), FolderAccess::Anywhere);
    }

    /// Who registered a folder comes from the caller, never from the client: a value sent
    /// (read back and sent again, or forged) is replaced; other kinds have no such setting.
    #[test]
    fn who_registered_a_folder_is_recorded_from_the_caller() {
        let root = tempfile::tempdir().unwrap();
        let roots = [root.path().join("{tenant}")];
        let acme = root.path().join("acme");
        std::fs::create_dir(&acme).unwrap();
        let scoped = FolderRules {
            access: FolderAccess::TenantRoots,
            ..global(&roots)
        };
        for forged in ["operator", "global_admin", "nonsense"] {
            let given = json!({"path": acme, "registered_by": forged});
            let settings = SourceSettings::from_wire("folder", given, &scoped).unwrap();
            let KindSettings::Folder(folder) = &settings.per_kind else {
                panic!("a folder");
            };
            assert_eq!(folder.registered_by, Some(FolderAccess::TenantRoots));
            assert_eq!(settings.to_json().unwrap()["registered_by"], "tenant_admin");
        }
        let settings =
            SourceSettings::from_wire("folder", json!({"path": acme}), &global(&roots)).unwrap();
        assert_eq!(settings.to_json().unwrap()["registered_by"], "global_admin");
        let err = refused("upload", json!({"registered_by": "operator"}));
        assert!(err.contains("unknown field `registered_by`"), "{err}");
        // What `ragway ingest` stores (the ingest crate's spelling) reads as the operator's.
        let ingested = json!({
            "path": acme,
            (ragway_ingest::source::REGISTERED_BY_KEY): ragway_ingest::source::REGISTERED_BY_OPERATOR,
        });
        let read = SourceSettings::stored(&record("folder", ingested)).unwrap();
        assert!(
            matches!(read.per_kind, KindSettings::Folder(f) if f.access(&[std::path::PathBuf::from("/srv")]) == FolderAccess::Anywhere)
        );
    }

    #[test]
    fn an_upload_source_is_stored_as_before() {
        let settings = wire("upload", json!({"acl": {"groups": ["hr"]}})).unwrap();
        assert_eq!(settings.kind(), SourceKind::Upload);
        stored_as(&settings, &json!({"acl": {"groups": ["hr"], "rules": []}}));
        let none = wire("upload", Value::Null).unwrap();
        stored_as(&none, &json!({"acl": {"groups": [], "rules": []}}));
        let auto = wire("upload", json!({"language": "auto"})).unwrap();
        assert_eq!(auto.language, None);
        let english = wire(
            "upload",
            json!({"language": "en", "fallback_language": "es"}),
        )
        .unwrap();
        stored_as(
            &english,
            &json!({"acl": {"groups": [], "rules": []}, "language": "en"}),
        );
    }

    #[test]
    fn a_web_source_is_stored_as_before() {
        let settings = wire(
            "web",
            json!({"urls": ["https://intranet.example/"], "max_depth": 1, "language": "es"}),
        )
        .unwrap();
        assert_eq!(settings.kind(), SourceKind::Web);
        let defaults = WebSourceConfig::default();
        stored_as(
            &settings,
            &json!({
                "urls": ["https://intranet.example/"],
                "sitemaps": [],
                "max_depth": 1,
                "max_pages": 1000,
                "include": [],
                "exclude": [],
                "concurrency": 2,
                "delay_ms": 250,
                "user_agent": defaults.user_agent,
                "max_page_bytes": defaults.max_page_bytes,
                "timeout_secs": 30,
                "acl": {"groups": [], "rules": []},
                "language": "es",
            }),
        );
    }

    #[test]
    fn refusals_read_as_before() {
        assert_eq!(
            refused("ftp", Value::Null),
            "unknown source kind `ftp` (one of: folder, upload, web)"
        );
        let err = refused("upload", json!({"colour": 1}));
        assert!(
            err.starts_with("upload settings: unknown field `colour`"),
            "{err}"
        );
        let err = refused("web", json!({"urls": "https://intranet.example/"}));
        assert!(err.starts_with("web settings: invalid type"), "{err}");
        assert_eq!(
            refused("web", json!({})),
            "invalid configuration: web source: give at least one start url or sitemap"
        );
        assert_eq!(
            refused("upload", json!({"language": "fr"})),
            "language: `fr` is not supported (one of: es, en, auto)"
        );
        assert_eq!(
            refused("folder", json!({"language": 5})),
            "language: expected a string such as \"es\", got 5"
        );
        assert_eq!(
            refused("folder", json!({"path": "/srv/docs"})),
            "folder sources cannot be added through the API until the operator lists allowed folders in `[sources] folder_roots`"
        );
    }

    #[test]
    fn a_stored_source_that_no_longer_reads_says_why() {
        let err = SourceSettings::stored(&record("upload", json!({"acl": [1]})))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("the source's settings are invalid: invalid type"),
            "{err}"
        );
        let err = SourceSettings::stored(&record("ftp", json!({})))
            .unwrap_err()
            .to_string();
        assert_eq!(err, "sources of kind `ftp` cannot be synced here");
    }

    /// The CLI may name any folder, but its settings are checked like the API's otherwise.
    #[test]
    fn the_operator_names_any_folder_but_nothing_else_is_waived() {
        let anywhere = tempfile::tempdir().unwrap();
        let operator = |settings: Value| {
            let rules = FolderRules {
                access: FolderAccess::Anywhere,
                ..global(&[])
            };
            SourceSettings::from_wire("folder", settings, &rules)
        };
        let path = anywhere.path();
        let settings = operator(json!({"path": path, "include": [], "exclude": [], "acl": {}}))
            .expect("no folder_roots needed");
        assert!(matches!(settings.per_kind, KindSettings::Folder(_)));
        let err = operator(json!({"path": path, "include": ["docs/[a"]}))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("invalid configuration: invalid glob"),
            "{err}"
        );
        let err =
            operator(json!({"path": path, "acl": {"rules": [{"pattern": "hr/**", "groups": []}]}}))
                .unwrap_err()
                .to_string();
        assert_eq!(
            err,
            "invalid configuration: the ACL rule for \"hr/**\" names no group"
        );
        let err = operator(json!({"path": path, "acl": {"groups": [" hr"]}}))
            .unwrap_err()
            .to_string();
        assert!(err.contains("invalid group"), "{err}");
        let err = operator(json!({"path": path, "language": "fr"}))
            .unwrap_err()
            .to_string();
        assert!(err.contains("not supported"), "{err}");
    }
}
