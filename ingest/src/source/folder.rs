//! A folder on the server: recursive walk with include/exclude globs, hidden files skipped,
//! and no symlink followed out of the root.

use std::path::{Path, PathBuf};

use globset::{Glob, GlobSet, GlobSetBuilder};
use serde::{Deserialize, Serialize};
use walkdir::WalkDir;

use super::{EntryContent, ListItem, SourceEntry};
use crate::error::{IngestError, Result};
use crate::parse::Format;

/// The key of a stored folder source's settings that records who registered it; the gateway
/// checks the folder again with that caller's rules at every sync.
pub const REGISTERED_BY_KEY: &str = "registered_by";
/// Its value for a folder the operator named on the server (`ragway ingest`, the CLI): any folder,
/// not bound by the roots the admin API allows.
pub const REGISTERED_BY_OPERATOR: &str = "operator";

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FolderSourceConfig {
    /// Globs relative to the root; empty means every file of a supported format.
    pub include: Vec<String>,
    pub exclude: Vec<String>,
    /// Who may see the documents (default groups and per-path rules).
    pub acl: super::AclConfig,
}

#[derive(Debug, Clone)]
pub struct FolderSource {
    root: PathBuf,
    include: Option<GlobSet>,
    exclude: GlobSet,
}

/// What a walk found besides documents, for the sync report.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Listing {
    pub entries: Vec<SourceEntry>,
    /// Files skipped because their format is not supported (not an error).
    pub unsupported: Vec<String>,
    /// Paths that could not be walked, with the reason.
    pub errors: Vec<(String, String)>,
}

impl Listing {
    /// The listing as the sync pipeline takes it: a path that could not be walked keeps its
    /// indexed version (it may be a passing permission problem, not a deletion).
    pub fn into_items(self) -> Vec<ListItem> {
        let errors = self
            .errors
            .into_iter()
            .map(|(uri, reason)| ListItem::Failed {
                uri,
                reason,
                keep: true,
            });
        let unsupported = self.unsupported.into_iter().map(ListItem::Unsupported);
        errors
            .chain(unsupported)
            .chain(self.entries.into_iter().map(ListItem::Entry))
            .collect()
    }
}

impl FolderSource {
    pub fn new(root: impl AsRef<Path>, config: &FolderSourceConfig) -> Result<Self> {
        let root = root.as_ref();
        let root = root.canonicalize().map_err(|e| IngestError::io(root, e))?;
        if !root.is_dir() {
            return Err(IngestError::Config(format!(
                "{} is not a directory",
                root.display()
            )));
        }
        let include = if config.include.is_empty() {
            None
        } else {
            Some(glob_set(&config.include)?)
        };
        Ok(Self {
            root,
            include,
            exclude: glob_set(&config.exclude)?,
        })
    }

    /// Checks the include/exclude globs without touching the file system.
    pub fn check_globs(config: &FolderSourceConfig) -> Result<()> {
        glob_set(&config.include)?;
        glob_set(&config.exclude)?;
        Ok(())
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Walks the folder (blocking: call it from `spawn_blocking`). Entries are sorted by uri.
    ///
    /// Symlinks are followed only where they resolve inside the root: a link to a file outside
    /// is reported (not read), and a link to a folder outside is reported once and not entered —
    /// so nothing outside the root is read, and no name from outside it reaches the report.
    pub fn list(&self) -> Listing {
        let mut listing = Listing::default();
        let not_followed = std::cell::RefCell::new(Vec::new());
        let walker = WalkDir::new(&self.root)
            .follow_links(true)
            .sort_by_file_name()
            .into_iter()
            .filter_entry(|e| {
                if e.depth() == 0 {
                    return true;
                }
                if is_hidden(e.file_name()) {
                    return false;
                }
                if e.path_is_symlink() && e.file_type().is_dir() && !self.resolves_inside(e.path())
                {
                    not_followed.borrow_mut().push((
                        self.relative(e.path()),
                        "symlink points outside the source root; not followed".to_owned(),
                    ));
                    return false;
                }
                true
            });
        for item in walker {
            let entry = match item {
                Ok(entry) => entry,
                Err(err) => {
                    let path = err.path().map(|p| self.relative(p)).unwrap_or_default();
                    listing.errors.push((path, err.to_string()));
                    continue;
                }
            };
            if !entry.file_type().is_file() {
                continue;
            }
            let uri = self.relative(entry.path());
            if !self.is_selected(&uri) {
                continue;
            }
            // A symlink may point anywhere: only keep targets that resolve inside the root.
            let Ok(real) = entry.path().canonicalize() else {
                listing.errors.push((uri, "cannot resolve path".into()));
                continue;
            };
            if !real.starts_with(&self.root) {
                listing.errors.push((
                    uri,
                    "symlink points outside the source root; skipped".into(),
                ));
                continue;
            }
            if Format::from_path(entry.path()).is_none() {
                listing.unsupported.push(uri);
                continue;
            }
            let size = entry.metadata().map(|m| m.len()).unwrap_or(0);
            listing.entries.push(SourceEntry {
                uri,
                size,
                content: EntryContent::File(real),
            });
        }
        listing.errors.append(&mut not_followed.into_inner());
        listing
    }

    /// Whether `path` resolves to the root or inside it.
    fn resolves_inside(&self, path: &Path) -> bool {
        path.canonicalize()
            .is_ok_and(|real| real.starts_with(&self.root))
    }

    fn is_selected(&self, uri: &str) -> bool {
        let included = self.include.as_ref().is_none_or(|set| set.is_match(uri));
        included && !self.exclude.is_match(uri)
    }

    fn relative(&self, path: &Path) -> String {
        let relative = path.strip_prefix(&self.root).unwrap_or(path);
        relative
            .components()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/")
    }
}

fn is_hidden(name: &std::ffi::OsStr) -> bool {
    name.to_str().is_some_and(|n| n.starts_with('.'))
}

pub(crate) fn glob_set(patterns: &[String]) -> Result<GlobSet> {
    let mut builder = GlobSetBuilder::new();
    for pattern in patterns {
        let glob = Glob::new(pattern)
            .map_err(|e| IngestError::Config(format!("invalid glob {pattern:?}: {e}")))?;
        builder.add(glob);
    }
    builder
        .build()
        .map_err(|e| IngestError::Config(format!("invalid globs: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn walks_selects_and_stays_inside_the_root() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("docs");
        fs::create_dir_all(root.join("it/deep")).unwrap();
        fs::create_dir_all(root.join(".git")).unwrap();
        fs::write(root.join("a.md"), "# A").unwrap();
        fs::write(root.join("it/deep/b.html"), "<h1>B</h1>").unwrap();
        fs::write(root.join("it/draft.md"), "# Draft").unwrap();
        fs::write(root.join(".hidden.md"), "# H").unwrap();
        fs::write(root.join(".git/config.md"), "# G").unwrap();
        fs::write(root.join("logo.png"), [0u8, 1, 2]).unwrap();
        fs::write(dir.path().join("secret.md"), "# outside").unwrap();
        std::os::unix::fs::symlink(dir.path().join("secret.md"), root.join("link.md")).unwrap();

        let config = FolderSourceConfig {
            acl: Default::default(),
            include: vec![],
            exclude: vec!["**/draft.md".into()],
        };
        let listing = FolderSource::new(&root, &config).unwrap().list();
        let uris: Vec<_> = listing.entries.iter().map(|e| e.uri.as_str()).collect();
        assert_eq!(uris, ["a.md", "it/deep/b.html"]);
        assert_eq!(listing.unsupported, ["logo.png"]);
        assert_eq!(listing.errors.len(), 1);
        assert_eq!(listing.errors[0].0, "link.md");

        // A link to a folder outside is reported once and not entered: no name from outside
        // reaches the report. A link to a folder inside is followed.
        let outside = dir.path().join("elsewhere");
        fs::create_dir_all(outside.join("deep")).unwrap();
        fs::write(outside.join("payroll.md"), "# Payroll").unwrap();
        fs::write(outside.join("deep/salaries.md"), "# Salaries").unwrap();
        std::os::unix::fs::symlink(&outside, root.join("escape")).unwrap();
        std::os::unix::fs::symlink(root.join("it/deep"), root.join("shortcut")).unwrap();
        let listing = FolderSource::new(&root, &config).unwrap().list();
        let uris: Vec<_> = listing.entries.iter().map(|e| e.uri.as_str()).collect();
        assert_eq!(uris, ["a.md", "it/deep/b.html", "shortcut/b.html"]);
        let skipped: Vec<_> = listing
            .errors
            .iter()
            .map(|(uri, reason)| format!("{uri}: {reason}"))
            .collect();
        assert_eq!(
            skipped,
            [
                "link.md: symlink points outside the source root; skipped",
                "escape: symlink points outside the source root; not followed",
            ]
        );
        fs::remove_file(root.join("escape")).unwrap();
        fs::remove_file(root.join("shortcut")).unwrap();

        let only_it = FolderSourceConfig {
            acl: Default::default(),
            include: vec!["it/**".into()],
            exclude: vec![],
        };
        let listing = FolderSource::new(&root, &only_it).unwrap().list();
        let uris: Vec<_> = listing.entries.iter().map(|e| e.uri.as_str()).collect();
        assert_eq!(uris, ["it/deep/b.html", "it/draft.md"]);
    }
}
