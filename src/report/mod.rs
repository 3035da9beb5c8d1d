//! Reports: projections of the engine's events and results (terminal, progress, GitHub
//! annotations and job summary, JUnit, JSON, HTML), and the certification coverage table and
//! evidence bundle. Reads only [`crate::engine::event`] and [`crate::engine::result`]; every
//! byte goes out through the masked sink, [`crate::output`].
//!
//! ```text
//! engine events ─┐                    (apoflow run: one consumer drains the channel)
//! merged shards ─┴─> Reporters::on_event
//!                      progress line (a terminal, not CI) · terminal lines as cases finish
//!                      (+ ::error / ::warning annotations on GitHub)
//!                      RunFinished ─> Files: JUnit, JSON, job summary ─> Finished
//! Finished ─> cli::report::conclude: snapshot list, coverage table + evidence, HTML, exit code
//! ```

pub mod coverage;
pub mod evidence;
pub mod github;
pub mod html;
pub mod json;
pub mod junit;
pub mod merge;
pub mod progress;
pub mod terminal;

use std::path::PathBuf;

use crate::engine::event::Event;
use crate::engine::result::{CaseResult, RunSummary, Status, StepResult};
use evidence::RunInfo;
pub use terminal::Terminal;

/// The report files a run (or `apoflow report merge`) writes from its finished cases.
#[derive(Debug, Clone, Default)]
pub struct Files {
    /// `--junit FILE`.
    pub junit: Option<PathBuf>,
    /// `--json FILE`.
    pub json: Option<PathBuf>,
    /// `--partition K/N` of the run, recorded in the JSON report so shards can be merged.
    pub partition: Option<String>,
    /// `$GITHUB_STEP_SUMMARY` with GitHub annotations on: the Markdown job summary is
    /// appended to it.
    pub github_summary: Option<PathBuf>,
}

impl Files {
    /// Writes every file asked for from the finished cases (in plan order); returns the
    /// `failed to write …` messages (empty when all went well).
    pub fn write(&self, cases: &[CaseResult], summary: &RunSummary, run: &RunInfo) -> Vec<String> {
        let mut errors = Vec::new();
        if let Some(path) = &self.junit
            && let Err(e) = junit::write(path, cases, summary)
        {
            errors.push(format!(
                "failed to write the JUnit report {}: {e}",
                path.display()
            ));
        }
        if let Some(path) = &self.json
            && let Err(e) = json::write(path, cases, summary, run, self.partition.as_deref())
        {
            errors.push(format!(
                "failed to write the JSON report {}: {e}",
                path.display()
            ));
        }
        if let Some(path) = &self.github_summary
            && let Err(e) = github::append_summary(path, cases, summary)
        {
            errors.push(format!(
                "failed to append the job summary to {} ($GITHUB_STEP_SUMMARY): {e}",
                path.display()
            ));
        }
        errors
    }
}

/// Every report of a run, fed the same events in order: the terminal prints as cases finish;
/// the files are written at `RunFinished` from the finished cases, which it keeps.
pub struct Reporters {
    progress: progress::Progress,
    terminal: Terminal,
    files: Files,
    run: RunInfo,
    /// Whether finished cases are kept for a report written after the run; a run that asks
    /// for none holds no finished case, however many it runs.
    keep_cases: bool,
    cases: Vec<CaseResult>,
    summary: RunSummary,
    errors: Vec<String>,
}

impl Reporters {
    /// The terminal report, plus the files asked for; `run` describes the run for them.
    pub fn new(terminal: Terminal, files: Files, run: RunInfo) -> Self {
        Reporters {
            progress: progress::Progress::new(false),
            terminal,
            files,
            run,
            keep_cases: true,
            cases: Vec::new(),
            summary: RunSummary::default(),
            errors: Vec::new(),
        }
    }

    /// Keeps finished cases only when `kept`: a file report, the checklist, the HTML page or the
    /// snapshot list will be written from them.
    pub fn keeping_cases(mut self, kept: bool) -> Self {
        self.keep_cases = kept;
        self
    }

    /// Shows the live progress line ([`progress`]) when `shown`: a terminal, not CI.
    pub fn with_progress(mut self, shown: bool) -> Self {
        self.progress = progress::Progress::new(shown);
        self
    }

    /// Takes one event: prints what is due, and keeps finished cases for the files.
    pub fn on_event(&mut self, event: &Event) {
        let terminal = &mut self.terminal;
        if let Event::RunFinished(_) = event {
            // The line goes before the summary is printed.
            self.progress.on_event(event);
        }
        self.progress.suspend(|| terminal.on_event(event));
        if !matches!(event, Event::RunFinished(_)) {
            self.progress.on_event(event);
        }
        match event {
            Event::RunStarted { .. }
            | Event::CaseStarted { .. }
            | Event::StepFinished { .. }
            | Event::CaseRetried { .. } => {}
            Event::CaseFinished(case) => {
                if self.keep_cases {
                    self.cases.push(case.clone());
                }
            }
            Event::RunFinished(summary) => {
                // Reports list cases in plan order, whatever order they finished in.
                self.cases.sort_by_key(|c| c.index);
                self.summary = *summary;
                self.run.duration = summary.duration;
                self.errors = self.files.write(&self.cases, summary, &self.run);
            }
        }
    }

    /// After the run: the finished cases in plan order, the totals, the run's description and
    /// the files that could not be written.
    pub fn finish(self) -> Finished {
        Finished {
            cases: self.cases,
            summary: self.summary,
            run: self.run,
            errors: self.errors,
        }
    }
}

/// What a run leaves for the reports written after it (coverage, evidence, the snapshot list).
#[derive(Debug)]
pub struct Finished {
    /// Every case, in plan order.
    pub cases: Vec<CaseResult>,
    /// The totals.
    pub summary: RunSummary,
    /// About the run.
    pub run: RunInfo,
    /// `failed to write …` messages.
    pub errors: Vec<String>,
}

/// What went wrong in a failed or errored step, as indented text lines (shared by the terminal
/// and JUnit): the error, then each failed assertion with expected vs actual.
pub(crate) fn step_failure_lines(step: &StepResult) -> Vec<String> {
    let mut lines = Vec::new();
    if let Some(error) = &step.error {
        lines.extend(error.lines());
    }
    for a in step.assertions.iter().filter(|a| !a.passed) {
        lines.push(format!(
            "{}  ({}:{}:{})",
            a.query,
            step.file.display(),
            a.line,
            a.column
        ));
        if !a.expected.is_empty() {
            lines.push(format!("  expected: {}", a.expected));
        }
        if !a.actual.is_empty() {
            lines.push(format!("  actual:   {}", a.actual));
        }
        for line in a.message.lines() {
            lines.push(format!("  {line}"));
        }
    }
    if step.status == Status::Failed
        && let Some(r) = &step.response
        && step.error.is_none()
    {
        lines.push(format!("last response: {} {}", r.status, r.body));
    }
    lines
}

/// `step `name` failed at file:line (after 3 tries)`.
pub(crate) fn step_heading(step: &StepResult) -> String {
    let tries = if step.tries > 1 {
        format!(" after {} tries", step.tries)
    } else {
        String::new()
    };
    let at = match step.line {
        0 => step.file.display().to_string(),
        line => format!("{}:{line}", step.file.display()),
    };
    format!(
        "step `{}` {} at {at}{tries}",
        step.name,
        step.status.as_str()
    )
}
