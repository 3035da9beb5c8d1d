//! The snapshot store: where a step's snapshot lives, and the check the engine calls.
//!
//! ```text
//! flows/card/first-time.yaml
//! flows/card/__snapshots__/first-time__<case>__<step>__<name>.snap      accepted
//! flows/card/__snapshots__/first-time__<case>__<step>__<name>.snap.new  pending review
//! ```
//!
//! [`check`] masks the value (secrets and card data, via [`crate::mask`]), redacts it
//! ([`super::redact`]), renders it as pretty JSON with sorted keys, compares it with the accepted
//! `.snap`, and writes according to the [`UpdateMode`].

use std::io;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::diff::unified_diff;
use super::format::SnapFile;
use super::mode::UpdateMode;
use super::redact::redact;
use super::spec::SnapshotSpec;
use crate::mask;
use crate::project::InputError;

/// The folder beside a flow file that holds its snapshots.
pub const SNAPSHOT_DIR: &str = "__snapshots__";
/// The extension of an accepted snapshot.
pub const SNAP_EXT: &str = "snap";
/// What a pending snapshot's file name ends with.
pub const PENDING_SUFFIX: &str = ".snap.new";

/// The longest a file-name component may be before it is shortened (with a hash, so distinct
/// long names stay distinct).
const MAX_COMPONENT: usize = 64;

/// The path of a step's snapshot: `__snapshots__/` beside the flow file, named
/// `<flow file stem>__<case>__<step>__<name>.snap`, each part made file-name safe.
///
/// `flow_case` names the flow case as the run reports it (the flow name, plus the matrix case
/// for matrix flows), so every matrix case gets its own file.
///
/// ```
/// use std::path::Path;
/// use apoflow::snapshot::snapshot_path;
/// let p = snapshot_path(
///     Path::new("flows/card/first-time.yaml"),
///     "First-time payment [card=visa]",
///     "authorized",
///     "payment-result",
/// );
/// assert_eq!(
///     p,
///     Path::new("flows/card/__snapshots__/first-time__First-time-payment-card-visa__authorized__payment-result.snap")
/// );
/// ```
pub fn snapshot_path(flow_file: &Path, flow_case: &str, step: &str, name: &str) -> PathBuf {
    let dir = flow_file
        .parent()
        .unwrap_or(Path::new(""))
        .join(SNAPSHOT_DIR);
    let stem = flow_file
        .file_stem()
        .map(|s| s.to_string_lossy())
        .unwrap_or_default();
    let file = format!(
        "{}__{}__{}__{}.{SNAP_EXT}",
        file_safe(&stem),
        file_safe(flow_case),
        file_safe(step),
        file_safe(name)
    );
    dir.join(file)
}

/// The pending (`.snap.new`) path of an accepted snapshot path.
pub fn pending_path(snap: &Path) -> PathBuf {
    let mut s = snap.as_os_str().to_owned();
    s.push(".new");
    PathBuf::from(s)
}

/// Turns a name into a file-name component: letters, digits, `.`, `_` and `-` are kept, runs of
/// anything else become one `-`, `__` (the separator) becomes `_`; long names are shortened
/// with a hash of the whole name.
fn file_safe(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        let c = if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
            c
        } else {
            '-'
        };
        let last = out.chars().last();
        if (c == '-' && last == Some('-')) || (c == '_' && last == Some('_')) {
            continue;
        }
        out.push(c);
    }
    let out = out.trim_matches(['-', '.', '_']);
    if out.is_empty() {
        return "_".to_owned();
    }
    if out.len() <= MAX_COMPONENT {
        return out.to_owned();
    }
    // ASCII only by now, so byte slicing is on a char boundary.
    format!("{}-{:08x}", &out[..MAX_COMPONENT - 9], fnv1a(name))
}

/// FNV-1a, 32 bits: a stable hash for shortened file names (std's hasher is not stable).
fn fnv1a(text: &str) -> u32 {
    text.bytes().fold(0x811c_9dc5, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

/// Where a check happens: the flow file, its case, the step, the mode, and whether to colour.
#[derive(Debug, Clone, Copy)]
pub struct CheckContext<'a> {
    /// The flow file (as the run names it).
    pub flow_file: &'a Path,
    /// The directory `source:` headers are relative to (the project root or working directory).
    pub root: &'a Path,
    /// The flow case: the flow name, plus the matrix case for matrix flows.
    pub case: &'a str,
    /// The step's id (or the name the run gives an unnamed step).
    pub step: &'a str,
    /// When files are written.
    pub mode: UpdateMode,
    /// Whether the diff is coloured.
    pub color: bool,
}

impl CheckContext<'_> {
    /// The flow file relative to [`CheckContext::root`], with `/` separators, for the header.
    fn source(&self) -> String {
        let rel = self
            .flow_file
            .strip_prefix(self.root)
            .unwrap_or(self.flow_file);
        rel.components()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/")
    }
}

/// What a snapshot check found, and did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The value matches the accepted snapshot. Passes.
    Matched {
        /// The accepted snapshot.
        path: PathBuf,
    },
    /// `always` mode: the snapshot was missing or different and has been (over)written. Passes.
    Written {
        /// The snapshot written.
        path: PathBuf,
        /// The change from the previous snapshot (everything added for a new one).
        diff: String,
    },
    /// `new` mode: the snapshot is new or different; a `.snap.new` was written for review.
    /// Fails.
    Pending {
        /// The accepted snapshot (which may not exist yet).
        path: PathBuf,
        /// The pending file written.
        pending: PathBuf,
        /// Whether there was no accepted snapshot.
        new: bool,
        /// The change from the accepted snapshot.
        diff: String,
    },
    /// `no` or CI mode: the value differs from the accepted snapshot; nothing written. Fails.
    Mismatch {
        /// The accepted snapshot.
        path: PathBuf,
        /// The change from the accepted snapshot.
        diff: String,
    },
    /// `no` or CI mode: there is no accepted snapshot; nothing written. Fails.
    Missing {
        /// Where the snapshot was expected.
        path: PathBuf,
    },
}

impl Outcome {
    /// Whether the step passes this check.
    pub fn passed(&self) -> bool {
        match self {
            Outcome::Matched { .. } | Outcome::Written { .. } => true,
            Outcome::Pending { .. } | Outcome::Mismatch { .. } | Outcome::Missing { .. } => false,
        }
    }

    /// The accepted snapshot's path.
    pub fn path(&self) -> &Path {
        match self {
            Outcome::Matched { path }
            | Outcome::Written { path, .. }
            | Outcome::Pending { path, .. }
            | Outcome::Mismatch { path, .. }
            | Outcome::Missing { path } => path,
        }
    }

    /// What the check found, in a few words for the `actual:` line of a report: `matches …`,
    /// `new: no …`, `differs from …`.
    pub fn summary(&self) -> String {
        match self {
            Outcome::Matched { path } => format!("matches {}", path.display()),
            Outcome::Written { path, .. } => format!("written to {}", path.display()),
            Outcome::Pending {
                path, new: true, ..
            }
            | Outcome::Missing { path } => {
                format!("new: no {} yet", path.display())
            }
            Outcome::Pending { path, .. } | Outcome::Mismatch { path, .. } => {
                format!("differs from {}", path.display())
            }
        }
    }

    /// A message for the user naming the flow file, the step, the snapshot file, the diff (if
    /// any) and what to do next; masked.
    pub fn describe(&self, spec: &SnapshotSpec, ctx: &CheckContext<'_>) -> String {
        let what = format!(
            "snapshot `{}` of step `{}` in {}",
            spec.name,
            ctx.step,
            ctx.flow_file.display()
        );
        let text = match self {
            Outcome::Matched { path } => format!("{what} matches {}", path.display()),
            Outcome::Written { path, diff } => {
                format!("{what} written to {}\n{diff}", path.display())
            }
            Outcome::Pending {
                path,
                pending,
                new,
                diff,
            } => {
                let why = if *new {
                    format!("is new (no {})", path.display())
                } else {
                    format!("does not match {}", path.display())
                };
                format!(
                    "{what} {why}\n{diff}wrote {}\nhint: review it with `apoflow snapshots review`, \
                     or accept it with `apoflow snapshots accept {}`",
                    pending.display(),
                    pending.display()
                )
            }
            Outcome::Mismatch { path, diff } => format!(
                "{what} does not match {}{}\n{diff}hint: run the flow locally and review the change \
                 with `apoflow snapshots review`, or rerun with `--update-snapshots`; then commit \
                 the snapshot",
                path.display(),
                nothing_written(ctx.mode)
            ),
            Outcome::Missing { path } => format!(
                "{what} is missing: {} does not exist{}\nhint: run the flow locally{}, accept the \
                 new snapshot with `apoflow snapshots accept`, then commit it",
                path.display(),
                nothing_written(ctx.mode),
                match ctx.mode {
                    UpdateMode::No => " without APOFLOW_UPDATE=no",
                    UpdateMode::Ci => " (without CI=true)",
                    UpdateMode::New | UpdateMode::Always => "",
                }
            ),
        };
        mask::mask_text(&text).into_owned()
    }
}

fn nothing_written(mode: UpdateMode) -> &'static str {
    match mode {
        UpdateMode::Ci => " (CI: nothing written)",
        UpdateMode::No => " (APOFLOW_UPDATE=no: nothing written)",
        UpdateMode::New | UpdateMode::Always => "",
    }
}

/// A snapshot file that could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// Reading, writing or removing a file failed.
    #[error("failed to {action} {}: {source}", path.display())]
    Io {
        /// What was being done: "read", "write", "remove", "create".
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The system's error.
        source: io::Error,
    },
    /// A `.snap` file is not in the snapshot format.
    #[error("{}:{}: not a snapshot file: {message}; fix or delete it", path.display(), line)]
    Format {
        /// The file.
        path: PathBuf,
        /// The 1-based line.
        line: usize,
        /// What is wrong.
        message: String,
    },
}

impl SnapshotError {
    pub(crate) fn io(action: &'static str, path: &Path, source: io::Error) -> SnapshotError {
        SnapshotError::Io {
            action,
            path: path.to_owned(),
            source,
        }
    }
}

/// Reads a `.snap` or `.snap.new` file; `Ok(None)` when it does not exist.
pub fn read_snap(path: &Path) -> Result<Option<SnapFile>, SnapshotError> {
    match crate::project::read_text(path, crate::project::MAX_SNAPSHOT_BYTES) {
        Ok(text) => SnapFile::parse(&text)
            .map(Some)
            .map_err(|e| SnapshotError::Format {
                path: path.to_owned(),
                line: e.line,
                message: e.message,
            }),
        Err(InputError::Io(e)) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(InputError::Io(e)) => Err(SnapshotError::io("read", path, e)),
        Err(e) => Err(SnapshotError::io(
            "read",
            path,
            io::Error::other(e.to_string()),
        )),
    }
}

fn write_snap(path: &Path, snap: &SnapFile) -> Result<(), SnapshotError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| SnapshotError::io("create", dir, e))?;
    }
    crate::output::write_file(path, crate::output::FileKind::Text, &snap.to_string())
        .map_err(|e| SnapshotError::io("write", path, e))
}

pub(crate) fn remove_if_exists(path: &Path) -> Result<bool, SnapshotError> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(SnapshotError::io("remove", path, e)),
    }
}

/// What a value looks like in a snapshot: masked, redacted, keys sorted, pretty JSON.
///
/// ```
/// use apoflow::snapshot::{render, SnapshotSpec};
/// use serde_json::json;
/// let text = render(&json!({"z": 1, "cardNo": "4111111111111111", "paymentId": "P1"}),
///                   &SnapshotSpec::named("x"));
/// assert_eq!(text, "{\n  \"cardNo\": \"************1111\",\n  \"paymentId\": \"[paymentId]\",\n  \"z\": 1\n}");
/// ```
pub fn render(value: &Value, spec: &SnapshotSpec) -> String {
    let mut v = value.clone();
    // Secrecy first, so no redaction ever sees (or copies) a secret; stability second.
    mask::mask_json(&mut v);
    redact(&mut v, &spec.redact);
    let v = sorted(v);
    let text = serde_json::to_string_pretty(&v).unwrap_or_else(|_| "null".to_owned());
    mask::mask_text(&text).into_owned()
}

/// Object keys sorted recursively: live APO does not promise an order.
fn sorted(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(String, Value)> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(
                entries
                    .into_iter()
                    .map(|(k, v)| (k, sorted(v)))
                    .collect::<Map<_, _>>(),
            )
        }
        Value::Array(items) => Value::Array(items.into_iter().map(sorted).collect()),
        other => other,
    }
}

/// Whether two snapshot contents are the same: as JSON values when both are JSON, else as text.
fn same_contents(a: &str, b: &str) -> bool {
    match (
        serde_json::from_str::<Value>(a),
        serde_json::from_str::<Value>(b),
    ) {
        (Ok(x), Ok(y)) => x == y,
        _ => a.trim_end() == b.trim_end(),
    }
}

/// Checks a step's value against its snapshot and writes according to the mode (see
/// [`UpdateMode`]). Only I/O problems and malformed `.snap` files are errors; a mismatch is an
/// [`Outcome`].
///
/// ```
/// use std::path::Path;
/// use apoflow::snapshot::{check, CheckContext, Outcome, SnapshotSpec, UpdateMode};
/// use serde_json::json;
/// let dir = tempfile::tempdir().unwrap();
/// let flow = dir.path().join("pay.yaml");
/// let ctx = CheckContext { flow_file: &flow, root: dir.path(), case: "Pay", step: "pay",
///                          mode: UpdateMode::New, color: false };
/// let spec = SnapshotSpec::named("response");
/// let first = check(&json!({"paymentId": "P-1"}), &spec, &ctx).unwrap();
/// assert!(matches!(first, Outcome::Pending { new: true, .. }));
/// assert!(!first.passed());
/// ```
pub fn check(
    value: &Value,
    spec: &SnapshotSpec,
    ctx: &CheckContext<'_>,
) -> Result<Outcome, SnapshotError> {
    let path = snapshot_path(ctx.flow_file, ctx.case, ctx.step, &spec.name);
    let pending = pending_path(&path);
    let snap = SnapFile {
        source: ctx.source(),
        expression: format!("{}: {}", ctx.step, spec.of),
        contents: render(value, spec),
    };
    let accepted = read_snap(&path)?;
    if let Some(old) = &accepted
        && same_contents(&old.contents, &snap.contents)
    {
        if ctx.mode.writes() {
            // A leftover review from an earlier run is moot now.
            remove_if_exists(&pending)?;
        }
        return Ok(Outcome::Matched { path });
    }
    let old_text = accepted.as_ref().map_or("", |s| s.contents.as_str());
    let new_name = match ctx.mode {
        UpdateMode::New => pending.display().to_string(),
        UpdateMode::Always | UpdateMode::No | UpdateMode::Ci => {
            format!("{} (this run)", path.display())
        }
    };
    let diff = unified_diff(
        old_text,
        &snap.contents,
        &path.display().to_string(),
        &new_name,
        ctx.color,
    );
    let diff = mask::mask_text(&diff).into_owned();
    match ctx.mode {
        UpdateMode::Always => {
            write_snap(&path, &snap)?;
            remove_if_exists(&pending)?;
            Ok(Outcome::Written { path, diff })
        }
        UpdateMode::New => {
            write_snap(&pending, &snap)?;
            Ok(Outcome::Pending {
                new: accepted.is_none(),
                path,
                pending,
                diff,
            })
        }
        UpdateMode::No | UpdateMode::Ci => match accepted {
            Some(_) => Ok(Outcome::Mismatch { path, diff }),
            None => Ok(Outcome::Missing { path }),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    struct Fixture {
        dir: tempfile::TempDir,
        flow: PathBuf,
    }

    fn fixture() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let flow = dir.path().join("flows").join("pay.yaml");
        Fixture { dir, flow }
    }

    impl Fixture {
        fn ctx(&self, mode: UpdateMode) -> CheckContext<'_> {
            CheckContext {
                flow_file: &self.flow,
                root: self.dir.path(),
                case: "Pay [card=visa]",
                step: "authorized",
                mode,
                color: false,
            }
        }
    }

    fn body(id: &str, code: &str) -> Value {
        json!({"paymentId": id, "result": {"resultCode": code, "resultStatus": "S"}})
    }

    #[test]
    fn file_names_are_safe_and_distinct() {
        assert_eq!(file_safe("a b/c\\d:e"), "a-b-c-d-e");
        assert_eq!(file_safe("__x__"), "x");
        assert_eq!(file_safe("..."), "_");
        assert_eq!(file_safe("ünï"), "n");
        let long_a = "x".repeat(100) + "a";
        let long_b = "x".repeat(100) + "b";
        assert_eq!(file_safe(&long_a).len(), MAX_COMPONENT);
        assert_ne!(file_safe(&long_a), file_safe(&long_b));
        assert_eq!(
            pending_path(Path::new("d/x.snap")),
            Path::new("d/x.snap.new")
        );
    }

    #[test]
    fn new_then_accept_then_match_then_change() {
        let fx = fixture();
        let spec = SnapshotSpec::named("payment-result");
        let out = check(&body("P1", "SUCCESS"), &spec, &fx.ctx(UpdateMode::New)).unwrap();
        let Outcome::Pending {
            path, pending, new, ..
        } = &out
        else {
            panic!("{out:?}")
        };
        assert!(new);
        assert!(pending.exists() && !path.exists());
        let written = std::fs::read_to_string(pending).unwrap();
        assert_eq!(
            written,
            "---\nsource: flows/pay.yaml\nexpression: \"authorized: response\"\n---\n{\n  \"paymentId\": \"[paymentId]\",\n  \"result\": {\n    \"resultCode\": \"SUCCESS\",\n    \"resultStatus\": \"S\"\n  }\n}\n"
        );
        std::fs::rename(pending, path).unwrap();

        // A different id still matches: it is redacted.
        let out = check(&body("P2", "SUCCESS"), &spec, &fx.ctx(UpdateMode::New)).unwrap();
        assert!(matches!(out, Outcome::Matched { .. }), "{out:?}");

        let out = check(&body("P3", "RISK_REJECT"), &spec, &fx.ctx(UpdateMode::New)).unwrap();
        let Outcome::Pending { new, diff, .. } = &out else {
            panic!("{out:?}")
        };
        assert!(!new);
        assert!(diff.contains("-    \"resultCode\": \"SUCCESS\","), "{diff}");
        assert!(
            diff.contains("+    \"resultCode\": \"RISK_REJECT\","),
            "{diff}"
        );
        let msg = out.describe(&spec, &fx.ctx(UpdateMode::New));
        assert!(msg.contains("snapshot `payment-result` of step `authorized` in "));
        assert!(msg.contains("does not match"));
        assert!(msg.contains("apoflow snapshots review"));

        // Matching again removes the stale pending file.
        let out = check(&body("P4", "SUCCESS"), &spec, &fx.ctx(UpdateMode::New)).unwrap();
        assert!(!pending_path(out.path()).exists());
    }

    #[test]
    fn ci_and_no_write_nothing() {
        for mode in [UpdateMode::Ci, UpdateMode::No] {
            let fx = fixture();
            let spec = SnapshotSpec::named("r");
            let out = check(&body("P1", "SUCCESS"), &spec, &fx.ctx(mode)).unwrap();
            assert!(matches!(out, Outcome::Missing { .. }), "{out:?}");
            assert!(!fx.flow.parent().unwrap().join(SNAPSHOT_DIR).exists());
            let msg = out.describe(&spec, &fx.ctx(mode));
            assert!(msg.contains("nothing written"), "{msg}");

            check(&body("P1", "SUCCESS"), &spec, &fx.ctx(UpdateMode::Always)).unwrap();
            let out = check(&body("P1", "FAIL"), &spec, &fx.ctx(mode)).unwrap();
            assert!(matches!(out, Outcome::Mismatch { .. }), "{out:?}");
            assert!(!out.passed());
            assert!(!pending_path(out.path()).exists());
        }
    }

    #[test]
    fn always_overwrites_and_passes() {
        let fx = fixture();
        let spec = SnapshotSpec::named("r");
        check(&body("P1", "SUCCESS"), &spec, &fx.ctx(UpdateMode::New)).unwrap();
        let out = check(&body("P1", "FAIL"), &spec, &fx.ctx(UpdateMode::Always)).unwrap();
        assert!(out.passed());
        assert!(!pending_path(out.path()).exists(), "pending removed");
        let snap = read_snap(out.path()).unwrap().unwrap();
        assert!(snap.contents.contains("FAIL"));
    }

    #[test]
    fn masked_values_never_reach_the_file() {
        let fx = fixture();
        mask::register_secret("sk_live_very_secret_value");
        let spec = SnapshotSpec::named("req");
        let value = json!({
            "card": {"cardNo": "4111111111111111", "cvv": "123", "expiryYear": "2031"},
            "note": "key sk_live_very_secret_value and pan 5555555555554444"
        });
        let out = check(&value, &spec, &fx.ctx(UpdateMode::Always)).unwrap();
        let text = std::fs::read_to_string(out.path()).unwrap();
        for secret in [
            "4111111111111111",
            "5555555555554444",
            "\"123\"",
            "2031",
            "sk_live_very_secret_value",
        ] {
            assert!(!text.contains(secret), "{secret} leaked: {text}");
        }
        assert!(text.contains("************1111"));
    }

    #[test]
    fn a_broken_snap_file_is_an_error_with_its_line() {
        let fx = fixture();
        let spec = SnapshotSpec::named("r");
        let path = snapshot_path(&fx.flow, "Pay [card=visa]", "authorized", "r");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, "not a snapshot\n").unwrap();
        let err = check(&body("P1", "S"), &spec, &fx.ctx(UpdateMode::New)).unwrap_err();
        assert!(err.to_string().contains(":1: not a snapshot file"), "{err}");
    }
}
