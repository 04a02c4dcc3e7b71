//! Which server folders a `folder` source may read: through the admin API only those under the
//! operator's `[sources] folder_roots`; from the CLI, any folder.

use std::path::{Component, Path, PathBuf};

/// Who is adding a folder source, and so where its folder may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FolderAccess {
    /// A tenant administrator through the admin API: an existing folder inside one of
    /// `[sources] folder_roots` (after resolving symlinks; `..` refused).
    UnderRoots,
    /// The operator at the server's terminal (the CLI): any existing folder, a relative path
    /// taken from the current directory. The CLI runs with the operator's own rights over the
    /// server's files, so `folder_roots`, which bounds what the API's admins may read, does not
    /// apply to it.
    Anywhere,
}

/// Why a folder cannot be a source's folder.
#[derive(Debug, thiserror::Error)]
pub enum FolderRefused {
    #[error(
        "folder sources cannot be added through the API until the operator lists allowed folders in `[sources] folder_roots`"
    )]
    NoRoots,
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
    #[error("`{}` is outside the allowed folders ({roots})", .path.display())]
    Outside { path: PathBuf, roots: String },
}

impl FolderAccess {
    /// The canonical form of `path` if a source may read it.
    pub fn check(self, roots: &[PathBuf], path: &Path) -> Result<PathBuf, FolderRefused> {
        match self {
            Self::UnderRoots => allowed_folder(roots, path),
            Self::Anywhere => {
                let canonical =
                    path.canonicalize()
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
        }
    }
}

/// The canonical form of `path` if it is an existing folder inside one of `roots` — after
/// resolving symlinks, so a link cannot lead out of the root.
pub fn allowed_folder(roots: &[PathBuf], path: &Path) -> Result<PathBuf, FolderRefused> {
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
        allowed_folder(roots, path).unwrap_err().to_string()
    }

    #[test]
    fn folders_must_stay_inside_the_allowed_roots() {
        let root = tempfile::tempdir().unwrap();
        let inside = root.path().join("hr");
        std::fs::create_dir(&inside).unwrap();
        let outside = tempfile::tempdir().unwrap();
        let roots = vec![root.path().to_path_buf()];
        assert!(allowed_folder(&roots, &inside).is_ok());
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

    #[test]
    fn the_operator_may_name_any_existing_folder() {
        let outside = tempfile::tempdir().unwrap();
        let found = FolderAccess::Anywhere.check(&[], outside.path()).unwrap();
        assert_eq!(found, outside.path().canonicalize().unwrap());
        let file = outside.path().join("notes.md");
        std::fs::write(&file, "# Notes\n").unwrap();
        let err = FolderAccess::Anywhere
            .check(&[], &file)
            .unwrap_err()
            .to_string();
        assert_eq!(err, format!("`{}` is not a folder", file.display()));
        let missing = outside.path().join("missing");
        let err = FolderAccess::Anywhere
            .check(&[], &missing)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with(&format!("cannot read {}: ", missing.display())),
            "{err}"
        );
    }
}
