//! Finding snapshot files under the paths a user names.

use std::path::{Path, PathBuf};

use super::store::{PENDING_SUFFIX, SNAP_EXT, SnapshotError, pending_path};

/// Which snapshot files to find.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Accepted snapshots, `*.snap`.
    Accepted,
    /// Pending snapshots, `*.snap.new`.
    Pending,
}

impl Kind {
    fn matches(self, path: &Path) -> bool {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default();
        match self {
            Kind::Accepted => path.extension().is_some_and(|e| e == SNAP_EXT),
            Kind::Pending => name.ends_with(PENDING_SUFFIX),
        }
    }
}

/// Folders never searched: version control, build output, dependencies.
fn skipped_dir(name: &str) -> bool {
    name.starts_with('.') || matches!(name, "target" | "node_modules")
}

/// Finds snapshot files of one kind under `paths` (files or folders, searched recursively;
/// hidden folders, `target` and `node_modules` are skipped), sorted and without duplicates.
///
/// A named `x.snap` file stands for its pending `x.snap.new` when looking for pending ones (even
/// before `x.snap` exists), so `apoflow snapshots accept flows/__snapshots__/x.snap` does what it
/// says. Any other path that does not exist is an error.
pub fn find(paths: &[PathBuf], kind: Kind) -> Result<Vec<PathBuf>, SnapshotError> {
    let mut out = Vec::new();
    for path in paths {
        if kind == Kind::Pending && Kind::Accepted.matches(path) {
            // A named `x.snap` stands for `x.snap.new`, whether or not `x.snap` exists yet.
            let pending = pending_path(path);
            if pending.is_file() {
                out.push(pending);
            }
            continue;
        }
        let meta = std::fs::metadata(path).map_err(|e| SnapshotError::io("read", path, e))?;
        if meta.is_dir() {
            walk(path, kind, &mut out)?;
        } else if kind.matches(path) {
            out.push(path.clone());
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

fn walk(dir: &Path, kind: Kind, out: &mut Vec<PathBuf>) -> Result<(), SnapshotError> {
    let entries = std::fs::read_dir(dir).map_err(|e| SnapshotError::io("read", dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| SnapshotError::io("read", dir, e))?;
        let path = entry.path();
        let file_type = entry
            .file_type()
            .map_err(|e| SnapshotError::io("read", &path, e))?;
        if file_type.is_dir() {
            if !skipped_dir(&entry.file_name().to_string_lossy()) {
                walk(&path, kind, out)?;
            }
        } else if kind.matches(&path) {
            out.push(path);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_by_kind_and_skips_hidden_and_target() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        for f in [
            "flows/__snapshots__/a.snap",
            "flows/__snapshots__/a.snap.new",
            "flows/__snapshots__/b.snap.new",
            "flows/deeper/__snapshots__/c.snap",
            "flows/__snapshots__/notes.txt",
            ".git/x.snap",
            "target/y.snap",
        ] {
            let p = d.join(f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, "").unwrap();
        }
        let rel = |v: Vec<PathBuf>| -> Vec<String> {
            v.iter()
                .map(|p| p.strip_prefix(d).unwrap().display().to_string())
                .collect()
        };
        assert_eq!(
            rel(find(&[d.to_owned()], Kind::Accepted).unwrap()),
            [
                "flows/__snapshots__/a.snap",
                "flows/deeper/__snapshots__/c.snap"
            ]
        );
        assert_eq!(
            rel(find(&[d.to_owned()], Kind::Pending).unwrap()),
            [
                "flows/__snapshots__/a.snap.new",
                "flows/__snapshots__/b.snap.new"
            ]
        );
        // A named .snap stands for its pending file (even when absent); named twice, found once.
        assert_eq!(
            rel(find(&[d.join("flows/__snapshots__/b.snap")], Kind::Pending).unwrap()),
            ["flows/__snapshots__/b.snap.new"]
        );
        let a = d.join("flows/__snapshots__/a.snap");
        assert_eq!(
            rel(find(&[a.clone(), a], Kind::Pending).unwrap()),
            ["flows/__snapshots__/a.snap.new"]
        );
        assert!(find(&[d.join("nope")], Kind::Pending).is_err());
    }
}
