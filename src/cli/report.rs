//! What happens once the cases are known, for `apoflow run` and `apoflow report merge` alike
//! (coverage, evidence, the snapshot list, the exit code), and the `report merge` subcommand.
//!
//! ```text
//! run:    engine events ──────────────────────────┐
//! merge:  shard JSON reports ─> report::merge ─> replayed as events (CaseFinished…)
//!           ─> Reporters (terminal, annotations, JUnit, JSON, job summary) ─> Finished
//!           ─> conclude:
//!           --list-snapshots, --checklist table (+ --evidence), --html ─> exit 0 / 1
//! ```
//! A report that cannot be written after the flows ran exits 1 and says so: the run happened
//! (requests were sent), so it is no invalid input (2), and it must not pass either.

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};

use super::run_checklist::ChecklistRun;
use super::snapshots::write_snapshot_list;
use super::{Context, exit};
use crate::engine::event::Event;
use crate::output::Sink;
use crate::report::merge::merge;
use crate::report::{Files, Finished, Reporters, Terminal, html, json};

/// `--annotations`: which CI's annotations to print.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Annotations {
    /// GitHub Actions workflow commands and job summary.
    Github,
    /// None.
    None,
}

/// GitHub annotations, decided from `--annotations` and the environment.
#[derive(Debug, Clone, Default)]
pub struct Github {
    /// Print `::error`/`::warning` lines.
    pub on: bool,
    /// Append the job summary here (`$GITHUB_STEP_SUMMARY`, when set).
    pub summary: Option<PathBuf>,
}

impl Github {
    /// On with `--annotations github`, or on GitHub Actions (`GITHUB_ACTIONS=true`) unless
    /// `--annotations none`.
    pub fn from_flag(flag: Option<Annotations>, ctx: &Context) -> Github {
        let on = match flag {
            Some(Annotations::Github) => true,
            Some(Annotations::None) => false,
            None => ctx.var("GITHUB_ACTIONS") == Some("true"),
        };
        Github {
            on,
            summary: ctx
                .var("GITHUB_STEP_SUMMARY")
                .filter(|_| on)
                .map(|p| ctx.cwd.join(p)),
        }
    }
}

/// `apoflow report …`.
#[derive(Debug, Subcommand)]
pub enum ReportCommand {
    /// Merge the JSON reports of the shards of a run (`run --partition K/N --json FILE`) into
    /// one set of reports: JUnit, JSON, checklist coverage and evidence, as one run would write.
    Merge(MergeArgs),
}

/// The reports a run writes, and `report merge` writes from the shards of one: shared flags of
/// `apoflow run` and `apoflow report merge`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Write a JUnit XML report to FILE.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Write a JSON report (results with per-step timings and masked messages) to FILE; the
    /// shards of a `--partition` run merge from it (`apoflow report merge`).
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Write an HTML report (one self-contained page: summary, every case and step with
    /// timings, failures with expected/actual, masked messages, coverage) into DIR.
    #[arg(long, value_name = "DIR")]
    pub html: Option<PathBuf>,
    /// Print CI annotations for failed and flaky cases: `github` (`::error file=…,line=…`
    /// lines, and a job summary appended to $GITHUB_STEP_SUMMARY) or `none` [default: github
    /// when GITHUB_ACTIONS=true, else none].
    #[arg(long, value_name = "KIND")]
    pub annotations: Option<Annotations>,
    /// Judge the run against a certification checklist: print each item's coverage (passed,
    /// failed, missing) and exit 1 unless every item passed.
    #[arg(long, value_name = "FILE")]
    pub checklist: Option<PathBuf>,
    /// With --checklist: write the evidence bundle (masked requests, responses, notifications
    /// and acknowledgements per item, and a summary) into DIR.
    #[arg(long, value_name = "DIR")]
    pub evidence: Option<PathBuf>,
    /// Write the paths of the snapshots the run checked to FILE, one per line, for
    /// `apoflow snapshots check --expected FILE` (which then lists the ones no step produces).
    #[arg(long, value_name = "FILE")]
    pub list_snapshots: Option<PathBuf>,
}

/// The flags of `apoflow report merge`.
#[derive(Debug, Args)]
pub struct MergeArgs {
    /// The shards' JSON reports (every shard of the run, each once).
    #[arg(required = true, value_name = "JSON")]
    pub reports: Vec<PathBuf>,
    /// The reports to write from the merged run.
    #[command(flatten)]
    pub out: ReportArgs,
}

/// Runs a `report` subcommand; returns 0, 1 or 2.
pub fn run(command: ReportCommand, ctx: &Context) -> u8 {
    match command {
        ReportCommand::Merge(args) => merge_reports(args, ctx),
    }
}

fn merge_reports(args: MergeArgs, ctx: &Context) -> u8 {
    let mut err = Sink::stderr();
    let mut reports = Vec::new();
    let mut problems = Vec::new();
    for path in &args.reports {
        match json::read(path) {
            Ok(report) => reports.push((path.clone(), report)),
            Err(e) => problems.push(e),
        }
    }
    let merged = if problems.is_empty() {
        merge(reports).map_err(|e| problems.extend(e)).ok()
    } else {
        None
    };
    let Some(merged) = merged else {
        for p in &problems {
            err.print(&format!("error: {p}\n"));
        }
        return exit::INVALID;
    };
    let checklist = match ChecklistRun::for_cases(
        args.out.checklist.as_deref(),
        args.out.evidence.clone(),
        &merged.cases,
    ) {
        Ok(c) => c,
        Err(diags) => {
            for d in &diags {
                err.print(&format!("{}\n", d.render(ctx.color_stderr())));
            }
            return exit::INVALID;
        }
    };
    let github = Github::from_flag(args.out.annotations, ctx);
    let files = Files {
        junit: args.out.junit,
        json: args.out.json,
        partition: None,
        github_summary: github.summary,
    };
    let color = ctx.stdout_is_tty && ctx.var("NO_COLOR").is_none();
    let mut out = Sink::stdout();
    out.print(&format!(
        "merged {} report{}\n",
        args.reports.len(),
        if args.reports.len() == 1 { "" } else { "s" }
    ));
    // The merged cases replayed as the events of one run, into the reports a run writes.
    let mut reporters = Reporters::new(
        Terminal::new(Sink::stdout(), color).with_github_annotations(github.on),
        files,
        merged.run,
    );
    reporters.on_event(&Event::RunStarted {
        cases: merged.cases.len(),
    });
    for case in merged.cases {
        reporters.on_event(&Event::CaseFinished(case));
    }
    reporters.on_event(&Event::RunFinished(merged.summary));
    let finished = reporters.finish();
    conclude(
        finished,
        &After {
            html: args.out.html.as_deref(),
            cwd: &ctx.cwd,
            list_snapshots: args.out.list_snapshots.as_deref(),
            checklist: checklist.as_ref(),
            color,
        },
        &mut out,
    )
    .exit_code(&mut err)
}

/// What is written after the cases are known.
pub(crate) struct After<'a> {
    /// `--html DIR`.
    pub(crate) html: Option<&'a Path>,
    /// The working directory (the cases' paths are relative to it).
    pub(crate) cwd: &'a Path,
    /// `--list-snapshots FILE`.
    pub(crate) list_snapshots: Option<&'a Path>,
    /// `--checklist` (and `--evidence`).
    pub(crate) checklist: Option<&'a ChecklistRun>,
    /// Colours on stdout.
    pub(crate) color: bool,
}

/// How a run (or a merge) ends.
#[derive(Debug)]
pub(crate) struct Concluded {
    /// A case failed or errored.
    pub(crate) failed: bool,
    /// Every checklist item passed (true without a checklist).
    pub(crate) covered: bool,
    /// Files that could not be written.
    pub(crate) errors: Vec<String>,
}

impl Concluded {
    /// Prints the write errors on `err`; the exit code: 1 when a case failed, an item is not
    /// covered or a report could not be written; else 0.
    pub(crate) fn exit_code(&self, err: &mut Sink) -> u8 {
        for e in &self.errors {
            err.print(&format!("error: {e}\n"));
        }
        if !self.errors.is_empty() {
            err.print(&format!(
                "error: the flows ran, but {} report{} could not be written (exit 1)\n",
                self.errors.len(),
                if self.errors.len() == 1 { "" } else { "s" }
            ));
        }
        if self.failed || !self.covered || !self.errors.is_empty() {
            exit::FAILED
        } else {
            exit::SUCCESS
        }
    }
}

/// Writes the snapshot list and judges the checklist (table on `out`, evidence bundle).
pub(crate) fn conclude(finished: Finished, after: &After<'_>, out: &mut Sink) -> Concluded {
    let mut errors = finished.errors;
    if let Some(path) = after.list_snapshots
        && let Err(e) = write_snapshot_list(path, &finished.cases)
    {
        errors.push(e);
    }
    let mut covered = true;
    let mut coverage = None;
    if let Some(checklist) = after.checklist {
        match checklist.finish(&finished.cases, &finished.run, out, after.color) {
            Ok(c) => {
                covered = c.ok();
                coverage = Some(c);
            }
            Err(e) => errors.push(e),
        }
    }
    if let Some(dir) = after.html {
        let page = html::Page {
            cases: &finished.cases,
            summary: &finished.summary,
            run: &finished.run,
            coverage: coverage.as_ref(),
            cwd: after.cwd,
        };
        match html::write(dir, &page) {
            Ok(path) => out.print(&format!("html report written to {}\n", path.display())),
            Err(e) => errors.push(format!(
                "failed to write the HTML report in {}: {e}",
                dir.display()
            )),
        }
    }
    Concluded {
        failed: finished.summary.is_failure(),
        covered,
        errors,
    }
}
