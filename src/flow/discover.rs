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

/// What a walk found: the flow files, the YAML files left out as not flows, and the errors.
#[derive(Debug, Default)]
pub(crate) struct Discovered {
    /// Files to load.
    pub found: Vec<Found>,
    /// YAML files in the folders that are not flows (see [`is_flow_text`]).
    pub skipped: Vec<PathBuf>,
    /// Paths that could not be read.
    pub errors: Vec<Diagnostic>,
}

/// Walks `paths`; files named explicitly are taken whatever their name and content. The result
/// is sorted by path within each folder and free of duplicates.
pub(crate) fn discover(paths: &[PathBuf]) -> Discovered {
    let mut d = Discovered::default();
    for path in paths {
        match std::fs::metadata(path) {
            Ok(meta) if meta.is_dir() => walk(path, &mut d),
            Ok(_) => d.found.push(Found {
                partial: is_partial(path),
                path: path.clone(),
            }),
            Err(e) => d.errors.push(
                Diagnostic::for_file(path.clone(), "no such file or folder")
                    .with_label(super::check::io_reason(&e))
                    .with_hint("give flow files (*.yaml, *.yml) or folders that contain them"),
            ),
        }
    }
    // The same file named twice (`flows` and `flows/a.yaml`, `./a.yaml`) loads once.
    let mut seen = std::collections::HashSet::new();
    d.found
        .retain(|f| seen.insert(std::fs::canonicalize(&f.path).unwrap_or_else(|_| f.path.clone())));
    d
}

fn walk(dir: &Path, d: &mut Discovered) {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) => {
            d.errors.push(
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
                walk(&path, d);
            }
        } else if is_flow_file(&path) && !is_partial(&path) {
            // Read within the loader's bound; a file it cannot read (too big, not text) is the
            // loader's to report, so it counts as a flow here.
            let text = crate::project::read_text(&path, crate::project::MAX_FLOW_FILE_BYTES)
                .unwrap_or_default();
            if is_flow_text(&text) {
                d.found.push(Found {
                    path,
                    partial: false,
                });
            } else {
                d.skipped.push(path);
            }
        }
    }
}

fn is_flow_file(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml")
    )
}

/// The top-level keys that only a flow has: a file with one of them (or with `steps:`, or a key
/// one typo away from it) is a flow, however broken.
const FLOW_ONLY_KEYS: &[&str] = &["steps", "vars", "matrix", "covers", "tags"];

/// Whether YAML text found in a folder is a flow: it has `steps:` (or a near miss of it: two
/// edits at most, same first letter, so `stpes` is a broken flow and `items` is not) or
/// another key only flows have at its top level, or it has no block-style top-level keys at
/// all (empty, or written otherwise: the loader judges it). A card list (`cards:`) or a
/// checklist (`name:` and `items:`) is not.
pub(crate) fn is_flow_text(text: &str) -> bool {
    let keys: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_'))
        .filter_map(|l| l.split_once(':').map(|(k, _)| k.trim()))
        .collect();
    keys.is_empty()
        || keys.iter().any(|k| {
            FLOW_ONLY_KEYS.contains(k)
                || (k.starts_with('s') && crate::diag::edit_distance(k, "steps") <= 2)
        })
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
        let d = discover(&[root.to_path_buf(), root.join("_partial.yaml")]);
        assert!(d.errors.is_empty());
        let names: Vec<_> = d
            .found
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
        let d = discover(&[PathBuf::from("/definitely/not/here.yaml")]);
        assert!(d.found.is_empty());
        assert_eq!(d.errors.len(), 1);
        assert_eq!(d.errors[0].title, "no such file or folder");
    }

    #[test]
    fn yaml_that_is_not_a_flow_is_told_by_its_content() {
        assert!(!is_flow_text("# test cards\ncards:\n  - { name: x }\n"));
        assert!(!is_flow_text("name: Checklist\nitems:\n  - id: A\n"));
        assert!(is_flow_text("name: x\nsteps:\n  - sleep: 1s\n"));
        assert!(
            is_flow_text("name: x\nstpes:\n  - sleep: 1s\n"),
            "a typo is a broken flow"
        );
        assert!(
            is_flow_text("name: x\nvars: { a: 1 }\n"),
            "a flow without steps"
        );
        assert!(is_flow_text(""), "an empty file is the loader's to report");
        assert!(is_flow_text("{name: x, steps: []}"));
    }
}
