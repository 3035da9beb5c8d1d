//! Finding flow files: the given files, and every `*.yaml` / `*.yml` under the given folders
//! (recursively), skipping partials (file names starting with `_`), `__snapshots__` folders and
//! hidden folders.

use std::path::{Path, PathBuf};

use crate::diag::Diagnostic;

/// A flow file to load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Found {
    /// The path, as given or joined under a given folder.
    pub path: PathBuf,
    /// Whether the file is a partial (its name starts with `_`): only ever loaded when named
    /// explicitly or through `use:`, and it runs nothing by itself.
    pub partial: bool,
}

/// Walks `paths`; files named explicitly are taken whatever their name. The result is sorted
/// by path within each folder and free of duplicates.
pub(crate) fn discover(paths: &[PathBuf]) -> (Vec<Found>, Vec<Diagnostic>) {
    let mut found = Vec::new();
    let mut errors = Vec::new();
    for path in paths {
        match std::fs::metadata(path) {
            Ok(meta) if meta.is_dir() => walk(path, &mut found, &mut errors),
            Ok(_) => found.push(Found {
                partial: is_partial(path),
                path: path.clone(),
            }),
            Err(e) => errors.push(
                Diagnostic::for_file(path.clone(), "no such file or folder")
                    .with_label(super::check::io_reason(&e))
                    .with_hint("give flow files (*.yaml, *.yml) or folders that contain them"),
            ),
        }
    }
    // The same file named twice (`flows` and `flows/a.yaml`, `./a.yaml`) loads once.
    let mut seen = std::collections::HashSet::new();
    found
        .retain(|f| seen.insert(std::fs::canonicalize(&f.path).unwrap_or_else(|_| f.path.clone())));
    (found, errors)
}

fn walk(dir: &Path, found: &mut Vec<Found>, errors: &mut Vec<Diagnostic>) {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) => {
            errors.push(
                Diagnostic::for_file(dir, "cannot read this folder").with_label(e.to_string()),
            );
            return;
        }
    };
    let mut paths: Vec<(PathBuf, bool)> = entries
        .filter_map(Result::ok)
        .map(|e| {
            let is_dir = e.file_type().is_ok_and(|t| t.is_dir());
            (e.path(), is_dir)
        })
        .collect();
    paths.sort();
    for (path, is_dir) in paths {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if is_dir {
            if name != "__snapshots__" && !name.starts_with('.') {
                walk(&path, found, errors);
            }
        } else if is_flow_file(&path) && !is_partial(&path) {
            found.push(Found {
                path,
                partial: false,
            });
        }
    }
}

fn is_flow_file(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml")
    )
}

/// Whether a file is a partial: its name starts with `_`.
pub(crate) fn is_partial(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with('_'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walks_folders_skipping_partials_and_snapshots() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for f in [
            "b.yaml",
            "a.yml",
            "_partial.yaml",
            "notes.txt",
            "sub/c.yaml",
            "__snapshots__/s.yaml",
            ".hidden/h.yaml",
        ] {
            let p = root.join(f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, "").unwrap();
        }
        let (found, errors) = discover(&[root.to_path_buf(), root.join("_partial.yaml")]);
        assert!(errors.is_empty());
        let names: Vec<_> = found
            .iter()
            .map(|f| (f.path.strip_prefix(root).unwrap().to_path_buf(), f.partial))
            .collect();
        assert_eq!(
            names,
            vec![
                (PathBuf::from("a.yml"), false),
                (PathBuf::from("b.yaml"), false),
                (PathBuf::from("sub/c.yaml"), false),
                (PathBuf::from("_partial.yaml"), true),
            ]
        );
    }

    #[test]
    fn a_missing_path_is_a_diagnostic() {
        let (found, errors) = discover(&[PathBuf::from("/definitely/not/here.yaml")]);
        assert!(found.is_empty());
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].title, "no such file or folder");
    }
}
