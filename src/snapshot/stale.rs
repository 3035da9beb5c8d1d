//! Stale snapshots: files no step produces any more.
//!
//! Until the run records which snapshots it checked, a snapshot is stale when either
//! - its `source:` header names a flow file that no longer exists beside its `__snapshots__`
//!   folder (the flow file was renamed or deleted), or
//! - a list of expected snapshots is given (one path per line, as a run records them) and the
//!   snapshot is not in it (the flow case, step or snapshot name changed).
//!
//! A pending `x.snap.new` is judged as its `x.snap` would be.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::review::accepted_path;
use super::store::{SNAPSHOT_DIR, SnapshotError, read_snap};

/// Why a snapshot is stale.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StaleReason {
    /// The flow file its `source:` header names is not beside the `__snapshots__` folder.
    FlowMissing {
        /// Where the flow file was looked for.
        flow: PathBuf,
    },
    /// It is not in the list of expected snapshots.
    NotExpected,
}

/// A stale snapshot file and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stale {
    /// The `.snap` or `.snap.new` file.
    pub path: PathBuf,
    /// Why it is stale.
    pub reason: StaleReason,
}

/// The expected snapshot paths, compared by their canonical form.
#[derive(Debug, Clone, Default)]
pub struct Expected(BTreeSet<PathBuf>);

impl Expected {
    /// Reads an expected-snapshots list: one path per line, relative to `base` unless absolute;
    /// blank lines and lines starting with `#` are ignored. Paths that do not exist are kept
    /// (they simply match nothing).
    pub fn parse(text: &str, base: &Path) -> Expected {
        Expected(
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(|l| canonical(&base.join(l)))
                .collect(),
        )
    }

    /// The snapshots a run produced (each check's [`Outcome::path`](super::Outcome::path)),
    /// so a run can report stale snapshots without writing a list first.
    pub fn from_paths<'a>(paths: impl IntoIterator<Item = &'a Path>) -> Expected {
        Expected(paths.into_iter().map(canonical).collect())
    }

    fn contains(&self, path: &Path) -> bool {
        self.0.contains(&canonical(path))
    }
}

fn canonical(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned())
}

/// Judges each snapshot file (see the module documentation); returns the stale ones, in order.
pub fn find_stale(
    files: &[PathBuf],
    expected: Option<&Expected>,
) -> Result<Vec<Stale>, SnapshotError> {
    let mut out = Vec::new();
    for path in files {
        let accepted = if path.extension().is_some_and(|e| e == "new") {
            accepted_path(path)
        } else {
            path.clone()
        };
        if let Some(flow) = missing_flow(path)? {
            out.push(Stale {
                path: path.clone(),
                reason: StaleReason::FlowMissing { flow },
            });
        } else if expected.is_some_and(|e| !e.contains(&accepted)) {
            out.push(Stale {
                path: path.clone(),
                reason: StaleReason::NotExpected,
            });
        }
    }
    Ok(out)
}

/// The flow file a snapshot names, when it is missing; `None` when it exists or cannot be told.
fn missing_flow(path: &Path) -> Result<Option<PathBuf>, SnapshotError> {
    let Some(dir) = path.parent() else {
        return Ok(None);
    };
    if dir.file_name().is_none_or(|n| n != SNAPSHOT_DIR) {
        return Ok(None);
    }
    let Some(snap) = read_snap(path)? else {
        return Ok(None);
    };
    let Some(name) = Path::new(&snap.source).file_name() else {
        return Ok(None);
    };
    let flow = dir.parent().unwrap_or(Path::new("")).join(name);
    Ok((!flow.exists()).then_some(flow))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_by_missing_flow_or_not_expected() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let snaps = d.join("flows").join(SNAPSHOT_DIR);
        std::fs::create_dir_all(&snaps).unwrap();
        std::fs::write(d.join("flows/pay.yaml"), "name: x\n").unwrap();
        let write = |name: &str, source: &str| {
            let p = snaps.join(name);
            std::fs::write(
                &p,
                format!("---\nsource: {source}\nexpression: \"s: response\"\n---\n{{}}\n"),
            )
            .unwrap();
            p
        };
        let kept = write("pay__a.snap", "flows/pay.yaml");
        let renamed_step = write("pay__b.snap", "flows/pay.yaml");
        let gone = write("gone__a.snap.new", "flows/gone.yaml");
        let files = vec![kept.clone(), renamed_step.clone(), gone.clone()];

        let stale = find_stale(&files, None).unwrap();
        assert_eq!(
            stale,
            [Stale {
                path: gone.clone(),
                reason: StaleReason::FlowMissing {
                    flow: d.join("flows/gone.yaml")
                }
            }]
        );

        let expected = Expected::parse(
            "# recorded by the run\nflows/__snapshots__/pay__a.snap\n\n",
            d,
        );
        let stale = find_stale(&files, Some(&expected)).unwrap();
        assert_eq!(stale.len(), 2);
        assert_eq!(stale[0].path, renamed_step);
        assert_eq!(stale[0].reason, StaleReason::NotExpected);
        assert_eq!(stale[1].path, gone);

        let from_run = Expected::from_paths([kept.as_path(), renamed_step.as_path()]);
        let stale = find_stale(&files, Some(&from_run)).unwrap();
        assert_eq!(stale.len(), 1);
        assert_eq!(stale[0].path, gone);
    }
}
