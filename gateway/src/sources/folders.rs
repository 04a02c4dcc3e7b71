//! Which server folders a `folder` source may read. Through the admin API, only those under the
//! operator's `[sources] folder_roots` that the caller's admin key may use for the source's
//! tenant, and never ragway's own data directory; from the CLI, any folder.
//!
//! A root is either per tenant — it contains `{tenant}`, replaced with the source's tenant id
//! (`/srv/docs/{tenant}` is `/srv/docs/acme` for acme's sources) — or shared (no placeholder).
//! A shared root may hold every tenant's folders, so only a global admin key, which administers
//! every tenant anyway, may register folders under it; a key scoped to one tenant may only use
//! the per-tenant roots, with its own tenant's id. Configurations written before per-tenant roots
//! keep working for global admin keys.

use std::path::{Component, Path, PathBuf};

use ragway_catalog::AdminKeyRecord;
use serde::{Deserialize, Serialize};

pub use crate::config::sources::{TENANT_PLACEHOLDER, overlaps_data_dir, resolved};

/// Who is adding a folder source, and so where its folder may be. Stored with the source as
/// `"registered_by"` (`tenant_admin`, `global_admin`, `operator`), so each sync applies the same
/// rules again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum FolderAccess {
    /// An admin key scoped to one tenant: an existing folder inside one of the per-tenant roots
    /// (`{tenant}` replaced by the source's tenant), after resolving symlinks; `..` refused.
    #[serde(rename = "tenant_admin")]
    TenantRoots,
    /// A global admin key: as [`Self::TenantRoots`], or inside one of the shared roots.
    #[serde(rename = "global_admin")]
    AllRoots,
    /// The operator at the server's terminal (the CLI): any existing folder, a relative path
    /// taken from the current directory. The CLI runs with the operator's own rights over the
    /// server's files, so `folder_roots`, which bounds what the API's admins may read, does not
    /// apply to it.
    #[serde(rename = "operator")]
    Anywhere,
}

impl FolderAccess {
    /// The rules a source registered before ragway recorded who registered it is synced under:
    /// every root the API allows for its tenant (its `{tenant}` roots and the shared ones). Such a
    /// source may have come from an admin key (of either kind) or from the operator, and nothing
    /// tells which; holding it to the API's widest rules keeps every source the API could have
    /// registered syncing while a root the operator removed, or a folder swapped for a link out of
    /// its root or into the data directory, is refused as for any API source. A folder the
    /// operator added outside the roots is refused too, until the operator keeps it with
    /// `ragway sources adopt` (which records it as [`Self::Anywhere`]).
    pub const UNRECORDED: Self = Self::AllRoots;

    /// What an admin key may register: shared roots only with a global key.
    pub fn of_admin_key(key: &AdminKeyRecord) -> Self {
        if key.tenant_id.is_none() {
            Self::AllRoots
        } else {
            Self::TenantRoots
        }
    }
}

/// Why a folder cannot be a source's folder.
#[derive(Debug, thiserror::Error)]
pub enum FolderRefused {
    #[error(
        "folder sources cannot be added through the API until the operator lists allowed folders in `[sources] folder_roots`"
    )]
    NoRoots,
    #[error(
        "folder sources cannot be added with an admin key scoped to a tenant until the operator lists a per-tenant folder such as `/srv/docs/{{tenant}}` in `[sources] folder_roots`"
    )]
    NoTenantRoots,
    #[error("`{}` must be an absolute path", .0.display())]
    Relative(PathBuf),
    #[error("`{}` must not contain `..`", .0.display())]
    ParentDir(PathBuf),
    #[error("`{}`: {source}", .path.display())]
    Unreadable {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The operator's wording (the CLI's, translated by `i18n`).
    #[error("cannot read {}: {source}", .path.display())]
    CannotRead {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("`{}` is not a folder", .0.display())]
    NotAFolder(PathBuf),
    /// The data directory holds the catalog, the index and every tenant's uploads; the message
    /// does not say where it is.
    #[error(
        "`{}` is or contains ragway's data directory, which is never a folder source", .0.display()
    )]
    DataDir(PathBuf),
    #[error("`{}` is outside the allowed folders ({roots})", .path.display())]
    Outside { path: PathBuf, roots: String },
}

/// Why a sync does not read a stored folder source's folder (recorded on the run, for any admin of
/// the tenant: the tenant's own roots are named, the data directory's place is not).
#[derive(Debug, thiserror::Error)]
pub enum SyncRefused {
    #[error(
        "folder `{}` is no longer inside the allowed folders ({allowed}); ask the operator to allow it in `[sources] folder_roots`, or remove the source", .path.display()
    )]
    NoLongerAllowed { path: PathBuf, allowed: String },
    #[error(
        "folder `{}` now leads into ragway's data directory, which is never a folder source; ask the operator, or remove the source", .0.display()
    )]
    DataDir(PathBuf),
    /// Missing or not a folder: the sync fails as it did before folders were checked again.
    #[error(transparent)]
    Unreadable(FolderRefused),
}

impl SyncRefused {
    /// Whether the rules refused the folder (rather than it being unreadable).
    pub fn is_policy(&self) -> bool {
        !matches!(self, Self::Unreadable(_))
    }
}

/// Where one tenant's folder source may be, for one caller.
#[derive(Debug, Clone, Copy)]
pub struct FolderRules<'a> {
    pub access: FolderAccess,
    /// `[sources] folder_roots`, as configured (placeholders not yet replaced).
    pub roots: &'a [PathBuf],
    /// ragway's data directory: never readable by a source added through the API.
    pub data_dir: &'a Path,
    /// The tenant the source belongs to.
    pub tenant: &'a str,
}

impl FolderRules<'_> {
    /// The canonical form of `path` if a source may read it.
    pub fn check(&self, path: &Path) -> Result<PathBuf, FolderRefused> {
        match self.access {
            FolderAccess::Anywhere => existing_folder(path),
            FolderAccess::AllRoots | FolderAccess::TenantRoots => {
                let roots = self.usable_roots();
                if roots.is_empty() {
                    return Err(if self.access == FolderAccess::TenantRoots {
                        FolderRefused::NoTenantRoots
                    } else {
                        FolderRefused::NoRoots
                    });
                }
                allowed_folder(&roots, self.data_dir, path)
            }
        }
    }

    /// At sync time: the canonical form of a stored folder if the rules it was registered under
    /// still allow it — with the operator's roots as configured now and the folder resolved now,
    /// so a removed or narrowed root, or a folder (or a parent) since replaced by a symlink
    /// leading elsewhere, is refused. The operator's own folders are not checked (a folder that
    /// is gone fails when the sync opens it, as it always did).
    pub fn recheck(&self, path: &Path) -> Result<PathBuf, SyncRefused> {
        if self.access == FolderAccess::Anywhere {
            return Ok(path.to_path_buf());
        }
        self.check(path).map_err(|refused| match refused {
            FolderRefused::DataDir(_) => SyncRefused::DataDir(path.to_path_buf()),
            FolderRefused::Unreadable { .. }
            | FolderRefused::CannotRead { .. }
            | FolderRefused::NotAFolder(_) => SyncRefused::Unreadable(refused),
            FolderRefused::NoRoots
            | FolderRefused::NoTenantRoots
            | FolderRefused::Relative(_)
            | FolderRefused::ParentDir(_)
            | FolderRefused::Outside { .. } => SyncRefused::NoLongerAllowed {
                path: path.to_path_buf(),
                allowed: self.allowed_text(),
            },
        })
    }

    /// The allowed folders as a sync failure names them to any admin of the tenant: the tenant's
    /// own roots; shared roots only counted, as a tenant-scoped key is never shown them.
    fn allowed_text(&self) -> String {
        let own: Vec<String> = self
            .roots
            .iter()
            .filter_map(|root| tenant_root(root, self.tenant).flatten())
            .map(|root| root.display().to_string())
            .collect();
        let shared = if self.access == FolderAccess::AllRoots {
            self.roots
                .iter()
                .filter(|root| tenant_root(root, self.tenant).is_none())
                .count()
        } else {
            0
        };
        let mut parts = own;
        match shared {
            0 => {}
            1 => parts.push("a shared folder of `[sources] folder_roots`".to_owned()),
            n => parts.push(format!("{n} shared folders of `[sources] folder_roots`")),
        }
        if parts.is_empty() {
            "none for this tenant in `[sources] folder_roots`".to_owned()
        } else {
            parts.join(", ")
        }
    }

    /// The roots this caller may use for this tenant, placeholders replaced.
    fn usable_roots(&self) -> Vec<PathBuf> {
        self.roots
            .iter()
            .filter_map(|root| match tenant_root(root, self.tenant) {
                Some(replaced) => replaced,
                None if self.access == FolderAccess::AllRoots => Some(root.clone()),
                None => None,
            })
            .collect()
    }
}

/// A per-tenant root with `tenant` in place of `{tenant}` (`Some(None)` when `tenant` is not a
/// valid tenant id, so no path can be smuggled in through it), or `None` for a shared root.
pub fn tenant_root(root: &Path, tenant: &str) -> Option<Option<PathBuf>> {
    let text = root.to_string_lossy();
    if !text.contains(TENANT_PLACEHOLDER) {
        return None;
    }
    // Tenant ids are slugs (no `/`, no `.`), so the replacement stays one path component.
    if ragway_catalog::validate_tenant_id(tenant).is_err() {
        return Some(None);
    }
    Some(Some(PathBuf::from(
        text.replace(TENANT_PLACEHOLDER, tenant),
    )))
}

fn existing_folder(path: &Path) -> Result<PathBuf, FolderRefused> {
    let canonical = path
        .canonicalize()
        .map_err(|source| FolderRefused::CannotRead {
            path: path.to_path_buf(),
            source,
        })?;
    if canonical.is_dir() {
        Ok(canonical)
    } else {
        Err(FolderRefused::NotAFolder(path.to_path_buf()))
    }
}

/// The canonical form of `path` if it is an existing folder inside one of `roots` (placeholders
/// already replaced) and apart from the data directory — after resolving symlinks, so a link
/// cannot lead out of the root or into the data directory.
pub fn allowed_folder(
    roots: &[PathBuf],
    data_dir: &Path,
    path: &Path,
) -> Result<PathBuf, FolderRefused> {
    if roots.is_empty() {
        return Err(FolderRefused::NoRoots);
    }
    if !path.is_absolute() {
        return Err(FolderRefused::Relative(path.to_path_buf()));
    }
    if path.components().any(|c| matches!(c, Component::ParentDir)) {
        return Err(FolderRefused::ParentDir(path.to_path_buf()));
    }
    let canonical = path
        .canonicalize()
        .map_err(|source| FolderRefused::Unreadable {
            path: path.to_path_buf(),
            source,
        })?;
    if !canonical.is_dir() {
        return Err(FolderRefused::NotAFolder(path.to_path_buf()));
    }
    // Checked before the roots: a root the operator configured around or inside the data
    // directory does not make it readable.
    if overlaps_data_dir(&canonical, &resolved(data_dir)) {
        return Err(FolderRefused::DataDir(path.to_path_buf()));
    }
    let inside = roots
        .iter()
        .filter_map(|root| root.canonicalize().ok())
        .any(|root| canonical.starts_with(root));
    if inside {
        Ok(canonical)
    } else {
        Err(FolderRefused::Outside {
            path: path.to_path_buf(),
            roots: roots
                .iter()
                .map(|r| r.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(roots: &[PathBuf], path: &Path) -> String {
        allowed_folder(roots, Path::new("/nonexistent/ragway-data"), path)
            .unwrap_err()
            .to_string()
    }

    fn rules<'a>(
        access: FolderAccess,
        roots: &'a [PathBuf],
        data_dir: &'a Path,
        tenant: &'a str,
    ) -> FolderRules<'a> {
        FolderRules {
            access,
            roots,
            data_dir,
            tenant,
        }
    }

    #[test]
    fn folders_must_stay_inside_the_allowed_roots() {
        let root = tempfile::tempdir().unwrap();
        let inside = root.path().join("hr");
        std::fs::create_dir(&inside).unwrap();
        let outside = tempfile::tempdir().unwrap();
        let roots = vec![root.path().to_path_buf()];
        let data = Path::new("/nonexistent/ragway-data");
        assert!(allowed_folder(&roots, data, &inside).is_ok());
        let err = refused(&roots, outside.path());
        assert!(err.contains("outside the allowed folders"), "{err}");
        let sneaky = inside.join("..").join("..");
        assert!(refused(&roots, &sneaky).contains(".."));
        assert!(refused(&roots, Path::new("hr")).contains("absolute"));
        #[cfg(unix)]
        {
            let link = inside.join("escape");
            std::os::unix::fs::symlink(outside.path(), &link).unwrap();
            let err = refused(&roots, &link);
            assert!(err.contains("outside"), "{err}");
        }
        assert!(refused(&[], &inside).contains("folder_roots"));
    }

    /// `{tenant}` roots are each tenant's own; shared roots are for global admin keys only.
    #[test]
    fn a_tenant_scoped_key_reads_only_its_own_tenants_root() {
        let srv = tempfile::tempdir().unwrap();
        for dir in ["acme/hr", "beta/hr", "shared/all"] {
            std::fs::create_dir_all(srv.path().join(dir)).unwrap();
        }
        let roots = vec![srv.path().join("{tenant}"), srv.path().join("shared")];
        let data = srv.path().join("data");
        let scoped = rules(FolderAccess::TenantRoots, &roots, &data, "acme");
        let global = rules(FolderAccess::AllRoots, &roots, &data, "acme");
        let acme = srv.path().join("acme/hr");
        let beta = srv.path().join("beta/hr");
        let shared = srv.path().join("shared/all");
        assert!(scoped.check(&acme).is_ok());
        for other in [&beta, &shared] {
            let err = scoped.check(other).unwrap_err().to_string();
            // The refusal names only the root this key may use.
            let only_acme = format!("allowed folders ({})", srv.path().join("acme").display());
            assert!(err.ends_with(&only_acme), "{err}");
        }
        assert!(global.check(&acme).is_ok());
        assert!(global.check(&shared).is_ok());
        // A global key adding a source to acme gets acme's root, not beta's.
        let err = global.check(&beta).unwrap_err().to_string();
        assert!(err.contains("outside the allowed folders"), "{err}");
        // Only shared roots: a scoped key is told what the operator must configure.
        let shared_only = vec![srv.path().join("shared")];
        let err = rules(FolderAccess::TenantRoots, &shared_only, &data, "acme")
            .check(&acme)
            .unwrap_err()
            .to_string();
        assert!(err.contains("scoped to a tenant"), "{err}");
        // A tenant id that is not a slug never becomes part of a path.
        let err = rules(FolderAccess::TenantRoots, &roots, &data, "../beta")
            .check(&beta)
            .unwrap_err()
            .to_string();
        assert!(err.contains("scoped to a tenant"), "{err}");
    }

    /// Even a configured root around or inside the data directory, or a symlink into it, does
    /// not make the catalog or another tenant's uploads readable.
    #[test]
    fn the_data_directory_is_never_a_folder_source() {
        let srv = tempfile::tempdir().unwrap();
        let data = srv.path().join("data");
        let uploads = data.join("uploads").join("src-1");
        std::fs::create_dir_all(&uploads).unwrap();
        std::fs::create_dir_all(srv.path().join("docs")).unwrap();
        let roots = vec![srv.path().to_path_buf(), data.clone()];
        let global = rules(FolderAccess::AllRoots, &roots, &data, "acme");
        assert!(global.check(&srv.path().join("docs")).is_ok());
        for path in [srv.path().to_path_buf(), data.clone(), uploads.clone()] {
            let err = global.check(&path).unwrap_err().to_string();
            assert!(err.contains("data directory"), "{path:?}: {err}");
        }
        #[cfg(unix)]
        {
            let link = srv.path().join("docs").join("uploads");
            std::os::unix::fs::symlink(&uploads, &link).unwrap();
            let err = global.check(&link).unwrap_err().to_string();
            assert!(err.contains("data directory"), "{err}");
        }
        // A relative data directory is resolved too (here: one not created yet).
        assert!(overlaps_data_dir(
            &std::env::current_dir().unwrap(),
            &resolved(Path::new("data"))
        ));
    }

    /// At sync time the stored folder is checked again, resolved now, against the roots as
    /// configured now: removed or narrowed roots and folders swapped for links are refused.
    #[cfg(unix)]
    #[test]
    fn a_stored_folder_is_checked_again_with_the_rules_it_was_registered_under() {
        let srv = tempfile::tempdir().unwrap();
        let acme = srv.path().join("tenants/acme");
        let beta = srv.path().join("tenants/beta/payroll");
        let data = srv.path().join("data");
        for dir in [
            acme.join("hr"),
            acme.join("dept/it"),
            beta.clone(),
            data.join("uploads"),
        ] {
            std::fs::create_dir_all(dir).unwrap();
        }
        let roots = vec![srv.path().join("tenants/{tenant}")];
        let scoped = rules(FolderAccess::TenantRoots, &roots, &data, "acme");
        let hr = acme.join("hr");
        assert_eq!(scoped.recheck(&hr).unwrap(), hr.canonicalize().unwrap());

        // The root removed, or narrowed to another folder.
        let message = |rules: FolderRules<'_>, path: &Path| {
            let refused = rules.recheck(path).unwrap_err();
            assert!(refused.is_policy(), "{refused}");
            refused.to_string()
        };
        let none = message(rules(FolderAccess::TenantRoots, &[], &data, "acme"), &hr);
        assert_eq!(
            none,
            format!(
                "folder `{}` is no longer inside the allowed folders (none for this tenant in `[sources] folder_roots`); ask the operator to allow it in `[sources] folder_roots`, or remove the source",
                hr.display()
            )
        );
        let narrowed = vec![srv.path().join("tenants/{tenant}/dept")];
        let err = message(
            rules(FolderAccess::TenantRoots, &narrowed, &data, "acme"),
            &hr,
        );
        assert!(
            err.contains(&format!(
                "allowed folders ({})",
                acme.join("dept").display()
            )),
            "{err}"
        );

        // The folder, then a parent of another, swapped for links to beta's folder.
        std::fs::rename(&hr, acme.join("hr-old")).unwrap();
        std::os::unix::fs::symlink(&beta, &hr).unwrap();
        assert!(message(scoped, &hr).contains("no longer inside the allowed folders"));
        std::fs::rename(acme.join("dept"), acme.join("dept-old")).unwrap();
        std::os::unix::fs::symlink(srv.path().join("tenants/beta"), acme.join("dept")).unwrap();
        std::fs::create_dir_all(srv.path().join("tenants/beta/it")).unwrap();
        let it = acme.join("dept/it");
        assert!(message(scoped, &it).contains("no longer inside the allowed folders"));

        // Into the data directory: said without saying where it is.
        std::fs::remove_file(&hr).unwrap();
        std::os::unix::fs::symlink(data.join("uploads"), &hr).unwrap();
        let err = message(scoped, &hr);
        assert!(err.contains("ragway's data directory"), "{err}");
        assert!(!err.contains(&data.display().to_string()), "{err}");

        // A folder that is gone fails the sync as before, not as a refusal.
        let gone = acme.join("gone");
        let refused = scoped.recheck(&gone).unwrap_err();
        assert!(!refused.is_policy(), "{refused}");

        // The operator's folders are not checked.
        let anywhere = rules(FolderAccess::Anywhere, &[], &data, "acme");
        assert_eq!(anywhere.recheck(&gone).unwrap(), gone);
        assert_eq!(anywhere.recheck(&hr).unwrap(), hr);
    }

    /// A sync failure is read by any admin of the tenant: shared roots are counted, not named.
    #[test]
    fn a_refused_sync_names_only_the_tenants_own_roots() {
        let srv = tempfile::tempdir().unwrap();
        let outside = srv.path().join("elsewhere");
        std::fs::create_dir_all(&outside).unwrap();
        let roots = vec![
            srv.path().join("{tenant}"),
            srv.path().join("shared"),
            srv.path().join("public"),
        ];
        let data = srv.path().join("data");
        let global = rules(FolderAccess::AllRoots, &roots, &data, "acme");
        let err = global.recheck(&outside).unwrap_err().to_string();
        assert!(
            err.contains(&format!(
                "({}, 2 shared folders of `[sources] folder_roots`)",
                srv.path().join("acme").display()
            )),
            "{err}"
        );
        assert!(!err.contains("shared,") && !err.contains("public"), "{err}");
        let scoped = rules(FolderAccess::TenantRoots, &roots, &data, "acme");
        let err = scoped.recheck(&outside).unwrap_err().to_string();
        assert!(
            err.contains(&format!("({})", srv.path().join("acme").display())),
            "{err}"
        );
    }

    /// How each caller is recorded with the source, and the ingest crate's spelling of the
    /// operator (what `ragway ingest` stores).
    #[test]
    fn who_registered_a_folder_is_stored_by_name() {
        for (access, name) in [
            (FolderAccess::TenantRoots, "tenant_admin"),
            (FolderAccess::AllRoots, "global_admin"),
            (FolderAccess::Anywhere, "operator"),
        ] {
            assert_eq!(serde_json::to_value(access).unwrap(), name);
            let read: FolderAccess = serde_json::from_value(name.into()).unwrap();
            assert_eq!(read, access);
        }
        assert_eq!(
            serde_json::to_value(FolderAccess::Anywhere).unwrap(),
            ragway_ingest::source::REGISTERED_BY_OPERATOR
        );
        assert_eq!(FolderAccess::UNRECORDED, FolderAccess::AllRoots);
    }

    #[test]
    fn the_operator_may_name_any_existing_folder() {
        let outside = tempfile::tempdir().unwrap();
        let anywhere = rules(FolderAccess::Anywhere, &[], Path::new("data"), "acme");
        let found = anywhere.check(outside.path()).unwrap();
        assert_eq!(found, outside.path().canonicalize().unwrap());
        let file = outside.path().join("notes.md");
        std::fs::write(&file, "# Notes\n").unwrap();
        let err = anywhere.check(&file).unwrap_err().to_string();
        assert_eq!(err, format!("`{}` is not a folder", file.display()));
        let missing = outside.path().join("missing");
        let err = anywhere.check(&missing).unwrap_err().to_string();
        assert!(
            err.starts_with(&format!("cannot read {}: ", missing.display())),
            "{err}"
        );
    }
}
