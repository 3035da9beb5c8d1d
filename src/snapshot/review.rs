//! Accepting, rejecting and reviewing pending snapshots (`*.snap.new`).
//!
//! Accepting renames `x.snap.new` to `x.snap`; rejecting deletes `x.snap.new`. [`review`] shows
//! each pending snapshot with its diff and reads one answer per line from any reader, so it
//! works without a terminal:
//!
//! ```text
//! pending 1/2: flows/__snapshots__/pay__Pay__authorized__payment-result.snap.new
//!   source: flows/pay.yaml
//!   expression: "authorized: notification"
//! --- flows/__snapshots__/pay__Pay__authorized__payment-result.snap
//! +++ flows/__snapshots__/pay__Pay__authorized__payment-result.snap.new
//! @@ …
//! accept (a), reject (r) or skip (s)?
//! ```

use std::io::{self, BufRead, Write};
use std::path::{Path, PathBuf};

use super::diff::unified_diff;
use super::store::{PENDING_SUFFIX, SnapshotError, read_snap, remove_if_exists};
use crate::mask;

/// The accepted path of a pending snapshot: `x.snap.new` → `x.snap`; any other path is
/// returned unchanged.
pub fn accepted_path(pending: &Path) -> PathBuf {
    if pending.extension().is_some_and(|e| e == "new") {
        pending.with_extension("")
    } else {
        pending.to_owned()
    }
}

/// Accepts a pending snapshot: renames `x.snap.new` over `x.snap`; returns `x.snap`.
pub fn accept(pending: &Path) -> Result<PathBuf, SnapshotError> {
    if !pending.to_string_lossy().ends_with(PENDING_SUFFIX) {
        let e = io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("not a pending snapshot (its name does not end with `{PENDING_SUFFIX}`)"),
        );
        return Err(SnapshotError::io("accept", pending, e));
    }
    let target = accepted_path(pending);
    std::fs::rename(pending, &target).map_err(|e| SnapshotError::io("accept", pending, e))?;
    Ok(target)
}

/// Rejects a pending snapshot: deletes `x.snap.new`; the accepted `x.snap` stays as it was.
pub fn reject(pending: &Path) -> Result<(), SnapshotError> {
    remove_if_exists(pending).map(|_| ())
}

/// How many pending snapshots a review accepted, rejected and left alone.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReviewSummary {
    /// Renamed to `.snap`.
    pub accepted: usize,
    /// Deleted.
    pub rejected: usize,
    /// Left pending (skipped, or not reached because the input ended).
    pub skipped: usize,
}

/// One answer to the review prompt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Choice {
    Accept,
    Reject,
    Skip,
}

fn parse_choice(answer: &str) -> Option<Choice> {
    match answer.trim().to_ascii_lowercase().as_str() {
        "a" | "accept" | "y" | "yes" => Some(Choice::Accept),
        "r" | "reject" | "n" | "no" => Some(Choice::Reject),
        "s" | "skip" => Some(Choice::Skip),
        _ => None,
    }
}

/// Walks `pending` snapshots: shows each one's header and its diff against the accepted
/// snapshot (masked; coloured with `color`), asks accept / reject / skip on `out` and reads
/// the answer from `input`. When the input ends, the remaining snapshots are skipped.
pub fn review(
    pending: &[PathBuf],
    input: &mut dyn BufRead,
    out: &mut dyn Write,
    color: bool,
) -> Result<ReviewSummary, SnapshotError> {
    let mut summary = ReviewSummary::default();
    let total = pending.len();
    let mut input_ended = false;
    for (i, path) in pending.iter().enumerate() {
        if input_ended {
            summary.skipped += 1;
            continue;
        }
        let Some(new) = read_snap(path)? else {
            // Gone since it was found (another review, a concurrent run): nothing to decide.
            continue;
        };
        let target = accepted_path(path);
        let old = read_snap(&target)?;
        let mut text = format!(
            "pending {}/{total}: {}\n  source: {}\n  expression: {}\n",
            i + 1,
            path.display(),
            new.source,
            new.expression
        );
        if old.is_none() {
            text.push_str(&format!("  (new: {} does not exist)\n", target.display()));
        }
        let diff = unified_diff(
            old.as_ref().map_or("", |s| s.contents.as_str()),
            &new.contents,
            &target.display().to_string(),
            &path.display().to_string(),
            color,
        );
        if diff.is_empty() {
            text.push_str("  (same contents as the accepted snapshot)\n");
        }
        text.push_str(&diff);
        write_out(out, &text)?;
        let choice = loop {
            write_out(out, "accept (a), reject (r) or skip (s)? ")?;
            let mut answer = String::new();
            let read = input
                .read_line(&mut answer)
                .map_err(|e| SnapshotError::io("read", Path::new("<stdin>"), e))?;
            if read == 0 {
                write_out(out, "\n(end of input: leaving the rest pending)\n")?;
                input_ended = true;
                break Choice::Skip;
            }
            match parse_choice(&answer) {
                Some(choice) => break choice,
                None => write_out(out, "please answer a, r or s\n")?,
            }
        };
        match choice {
            Choice::Accept => {
                let to = accept(path)?;
                summary.accepted += 1;
                write_out(out, &format!("accepted {}\n\n", to.display()))?;
            }
            Choice::Reject => {
                reject(path)?;
                summary.rejected += 1;
                write_out(out, &format!("rejected {}\n\n", path.display()))?;
            }
            Choice::Skip => {
                summary.skipped += 1;
                if !input_ended {
                    write_out(out, &format!("skipped {}\n\n", path.display()))?;
                }
            }
        }
    }
    Ok(summary)
}

/// Writes masked text; an output error is reported against standard output.
fn write_out(out: &mut dyn Write, text: &str) -> Result<(), SnapshotError> {
    out.write_all(mask::mask_text(text).as_bytes())
        .and_then(|()| out.flush())
        .map_err(|e| SnapshotError::io("write", Path::new("<stdout>"), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(contents: &str) -> String {
        format!("---\nsource: pay.yaml\nexpression: \"pay: response\"\n---\n{contents}\n")
    }

    #[test]
    fn answers_accept_reject_skip_and_reask() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(d.join("a.snap"), snap("{\"v\": 1}")).unwrap();
        std::fs::write(d.join("a.snap.new"), snap("{\"v\": 2}")).unwrap();
        std::fs::write(d.join("b.snap.new"), snap("{}")).unwrap();
        std::fs::write(d.join("c.snap.new"), snap("{}")).unwrap();
        let pending = vec![
            d.join("a.snap.new"),
            d.join("b.snap.new"),
            d.join("c.snap.new"),
        ];
        let mut input = "what\nA\nr\n".as_bytes();
        let mut out = Vec::new();
        let summary = review(&pending, &mut input, &mut out, false).unwrap();
        assert_eq!(
            summary,
            ReviewSummary {
                accepted: 1,
                rejected: 1,
                skipped: 1
            }
        );
        let out = String::from_utf8(out).unwrap();
        assert!(out.contains("please answer a, r or s"), "{out}");
        assert!(out.contains("-{\"v\": 1}\n+{\"v\": 2}"), "{out}");
        assert!(out.contains("(new: "), "{out}");
        assert!(out.contains("end of input"), "{out}");
        assert_eq!(
            std::fs::read_to_string(d.join("a.snap")).unwrap(),
            snap("{\"v\": 2}")
        );
        assert!(!d.join("b.snap.new").exists() && !d.join("b.snap").exists());
        assert!(d.join("c.snap.new").exists());
    }

    #[test]
    fn accepted_path_strips_new() {
        assert_eq!(
            accepted_path(Path::new("x/__snapshots__/a.b.snap.new")),
            Path::new("x/__snapshots__/a.b.snap")
        );
        assert_eq!(accepted_path(Path::new("a.snap")), Path::new("a.snap"));
        let dir = tempfile::tempdir().unwrap();
        let snap = dir.path().join("a.snap");
        std::fs::write(&snap, "x").unwrap();
        let err = accept(&snap).unwrap_err().to_string();
        assert!(err.contains("not a pending snapshot"), "{err}");
        assert!(snap.exists());
    }
}
