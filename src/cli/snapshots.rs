//! `apoflow snapshots review|accept|reject|check`: manage the flow snapshots in `__snapshots__`
//! folders (see [`crate::snapshot`]). Every subcommand takes PATHS (files or folders, searched
//! recursively; the working directory when none are given).
//!
//! Exit codes: 0 done; 1 `check` found stale snapshots (and `--remove` was not given); 2 a path,
//! an expected-snapshots list or a snapshot file could not be read or written.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use clap::Subcommand;

use super::{Context, exit};
use crate::mask;
use crate::snapshot::{self, Expected, Kind, ModeError, SnapshotError, StaleReason, UpdateMode};

/// The `snapshots` sub-subcommands.
#[derive(Debug, Subcommand)]
pub enum SnapshotsCommand {
    /// Walk pending snapshots (`*.snap.new`) one by one: show the diff, then accept, reject or
    /// skip. Answers are read line by line from standard input (a, r or s).
    Review {
        /// Files or folders to search; the working directory when absent.
        paths: Vec<PathBuf>,
    },
    /// Accept every pending snapshot found: `x.snap.new` replaces `x.snap`.
    Accept {
        /// Files or folders to search; the working directory when absent.
        paths: Vec<PathBuf>,
    },
    /// Reject every pending snapshot found: `x.snap.new` is deleted.
    Reject {
        /// Files or folders to search; the working directory when absent.
        paths: Vec<PathBuf>,
    },
    /// List stale snapshots: their flow file is gone, or (with --expected) no step produced
    /// them. Exits 1 when any are found, unless --remove deletes them.
    Check {
        /// Files or folders to search; the working directory when absent.
        paths: Vec<PathBuf>,
        /// A list of the snapshot paths a run produced, one per line; any other snapshot found
        /// is stale.
        #[arg(long, value_name = "FILE")]
        expected: Option<PathBuf>,
        /// Delete the stale snapshots (and their pending files).
        #[arg(long)]
        remove: bool,
    },
}

/// The snapshot update mode for a run: `--update-snapshots`, then `APOFLOW_UPDATE`, then `CI`
/// (see [`UpdateMode::resolve`]).
pub fn update_mode(update_snapshots: bool, ctx: &Context) -> Result<UpdateMode, ModeError> {
    UpdateMode::resolve(update_snapshots, ctx.var("APOFLOW_UPDATE"), ctx.is_ci())
}

/// Writes the snapshot files the steps of `cases` checked to `path`, one per line, sorted: the
/// list `apoflow snapshots check --expected` reads (`apoflow run --list-snapshots FILE`).
pub(crate) fn write_snapshot_list(
    path: &Path,
    cases: &[crate::engine::result::CaseResult],
) -> Result<(), String> {
    let mut paths: Vec<String> = cases
        .iter()
        .flat_map(|c| &c.steps)
        .filter_map(|s| s.snapshot.as_ref())
        .map(|p| p.to_string_lossy().replace('\\', "/"))
        .collect();
    paths.sort();
    paths.dedup();
    let mut text = String::from(
        "# snapshots checked by `apoflow run`, for `apoflow snapshots check --expected`\n",
    );
    for p in paths {
        text.push_str(&p);
        text.push('\n');
    }
    crate::output::write_file(path, crate::output::FileKind::Text, &text)
        .map_err(|e| format!("failed to write the snapshot list {}: {e}", path.display()))
}

/// Runs a `snapshots` subcommand on the process's standard streams.
pub fn run(command: SnapshotsCommand, ctx: &Context) -> u8 {
    let stdin = std::io::stdin();
    let mut input = stdin.lock();
    let mut out = std::io::stdout().lock();
    let mut err = std::io::stderr().lock();
    let color = ctx.stdout_is_tty && ctx.var("NO_COLOR").is_none();
    execute(command, ctx, color, &mut input, &mut out, &mut err)
}

/// Runs a `snapshots` subcommand on the given streams; returns the exit code.
fn execute(
    command: SnapshotsCommand,
    ctx: &Context,
    color: bool,
    input: &mut dyn BufRead,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> u8 {
    let result = match command {
        SnapshotsCommand::Review { paths } => review(&paths, color, input, out),
        SnapshotsCommand::Accept { paths } => accept_or_reject(&paths, true, out),
        SnapshotsCommand::Reject { paths } => accept_or_reject(&paths, false, out),
        SnapshotsCommand::Check {
            paths,
            expected,
            remove,
        } => check(&paths, expected.as_deref(), remove, ctx, out),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            // Nothing more can be reported when standard error itself fails.
            let _ = writeln!(err, "error: {}", mask::mask_text(&e.to_string()));
            exit::INVALID
        }
    }
}

/// The paths to search: the given ones, or the working directory.
fn search_paths(paths: &[PathBuf]) -> Vec<PathBuf> {
    if paths.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        paths.to_vec()
    }
}

/// Found paths as the user would write them: without a leading `./`.
fn shown(path: &Path) -> &Path {
    path.strip_prefix(".").unwrap_or(path)
}

fn find(paths: &[PathBuf], kind: Kind) -> Result<Vec<PathBuf>, SnapshotError> {
    Ok(snapshot::find(&search_paths(paths), kind)?
        .iter()
        .map(|p| shown(p).to_owned())
        .collect())
}

fn say(out: &mut dyn Write, text: &str) -> Result<(), SnapshotError> {
    writeln!(out, "{}", mask::mask_text(text))
        .map_err(|e| SnapshotError::io("write", Path::new("<stdout>"), e))
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn review(
    paths: &[PathBuf],
    color: bool,
    input: &mut dyn BufRead,
    out: &mut dyn Write,
) -> Result<u8, SnapshotError> {
    let pending = find(paths, Kind::Pending)?;
    if pending.is_empty() {
        say(out, "no pending snapshots")?;
        return Ok(exit::SUCCESS);
    }
    let s = snapshot::review(&pending, input, out, color)?;
    say(
        out,
        &format!(
            "review done: {} accepted, {} rejected, {} skipped",
            s.accepted, s.rejected, s.skipped
        ),
    )?;
    Ok(exit::SUCCESS)
}

fn accept_or_reject(
    paths: &[PathBuf],
    accept: bool,
    out: &mut dyn Write,
) -> Result<u8, SnapshotError> {
    let pending = find(paths, Kind::Pending)?;
    if pending.is_empty() {
        say(out, "no pending snapshots")?;
        return Ok(exit::SUCCESS);
    }
    for path in &pending {
        if accept {
            let to = snapshot::accept(path)?;
            say(out, &format!("accepted {}", to.display()))?;
        } else {
            snapshot::reject(path)?;
            say(out, &format!("rejected {}", path.display()))?;
        }
    }
    let verb = if accept { "accepted" } else { "rejected" };
    let n = pending.len();
    say(out, &format!("{verb} {n} snapshot{}", plural(n)))?;
    Ok(exit::SUCCESS)
}

fn check(
    paths: &[PathBuf],
    expected_file: Option<&Path>,
    remove: bool,
    ctx: &Context,
    out: &mut dyn Write,
) -> Result<u8, SnapshotError> {
    let expected = match expected_file {
        Some(file) => {
            let text =
                std::fs::read_to_string(file).map_err(|e| SnapshotError::io("read", file, e))?;
            Some(Expected::parse(&text, &ctx.cwd))
        }
        None => None,
    };
    let mut files = find(paths, Kind::Accepted)?;
    files.extend(find(paths, Kind::Pending)?);
    files.sort();
    let stale = snapshot::find_stale(&files, expected.as_ref())?;
    for s in &stale {
        let why = match &s.reason {
            StaleReason::FlowMissing { flow } => {
                format!("its flow file {} does not exist", shown(flow).display())
            }
            StaleReason::NotExpected => match expected_file {
                Some(file) => format!("not listed in {}", file.display()),
                None => "not expected".to_owned(),
            },
        };
        say(out, &format!("stale: {} ({why})", s.path.display()))?;
        if remove {
            snapshot::reject(&s.path)?;
            say(out, &format!("removed {}", s.path.display()))?;
        }
    }
    let n = stale.len();
    let checked = files.len();
    if n == 0 {
        say(
            out,
            &format!(
                "no stale snapshots ({checked} file{} checked)",
                plural(checked)
            ),
        )?;
        Ok(exit::SUCCESS)
    } else if remove {
        say(
            out,
            &format!("removed {n} stale snapshot file{}", plural(n)),
        )?;
        Ok(exit::SUCCESS)
    } else {
        say(
            out,
            &format!(
                "{n} stale snapshot file{} of {checked}; delete them with `apoflow snapshots check --remove`",
                plural(n)
            ),
        )?;
        Ok(exit::FAILED)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(env: &[(&str, &str)]) -> Context {
        Context {
            env: env
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            cwd: PathBuf::from("."),
            stdout_is_tty: false,
            stderr_is_tty: false,
        }
    }

    #[test]
    fn update_mode_reads_the_context() {
        assert_eq!(update_mode(false, &ctx(&[])), Ok(UpdateMode::New));
        assert_eq!(
            update_mode(false, &ctx(&[("CI", "true")])),
            Ok(UpdateMode::Ci)
        );
        assert_eq!(
            update_mode(false, &ctx(&[("CI", "false")])),
            Ok(UpdateMode::New)
        );
        assert_eq!(
            update_mode(false, &ctx(&[("CI", "true"), ("APOFLOW_UPDATE", "always")])),
            Ok(UpdateMode::Always)
        );
        assert_eq!(update_mode(true, &ctx(&[])), Ok(UpdateMode::Always));
        assert!(update_mode(false, &ctx(&[("APOFLOW_UPDATE", "bogus")])).is_err());
    }

    #[test]
    fn a_missing_path_is_invalid_input() {
        let mut out = Vec::new();
        let mut err = Vec::new();
        let code = execute(
            SnapshotsCommand::Accept {
                paths: vec![PathBuf::from("/definitely/not/here")],
            },
            &ctx(&[]),
            false,
            &mut "".as_bytes(),
            &mut out,
            &mut err,
        );
        assert_eq!(code, exit::INVALID);
        let err = String::from_utf8(err).unwrap();
        assert!(
            err.starts_with("error: failed to read /definitely/not/here: "),
            "{err}"
        );
    }
}
