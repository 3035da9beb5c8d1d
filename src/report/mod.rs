//! Reports: projections of the engine's events and results (terminal, JUnit, JSON), and the
//! certification coverage table and evidence bundle. Reads only
//! [`crate::engine::event`] and [`crate::engine::result`]; every byte goes through
//! [`crate::mask`].
//!
//! One consumer drains the engine's channel into [`Reporters::on_event`]: the terminal prints
//! as cases finish; JUnit and JSON files are written at `RunFinished`.

pub mod coverage;
pub mod evidence;
pub mod json;
pub mod junit;
pub mod terminal;

use std::path::PathBuf;

use crate::engine::event::Event;
use crate::engine::result::{CaseResult, RunSummary, Status, StepResult};
pub use terminal::Terminal;

/// Every report of a run, fed the same events in order.
pub struct Reporters {
    terminal: Terminal,
    junit: Option<PathBuf>,
    json: Option<PathBuf>,
    cases: Vec<CaseResult>,
    errors: Vec<String>,
}

impl Reporters {
    /// The terminal report, plus the files asked for with `--junit` and `--json`.
    pub fn new(terminal: Terminal, junit: Option<PathBuf>, json: Option<PathBuf>) -> Self {
        Reporters {
            terminal,
            junit,
            json,
            cases: Vec::new(),
            errors: Vec::new(),
        }
    }

    /// Takes one event: prints what is due, and keeps finished cases when a file is asked for.
    pub fn on_event(&mut self, event: &Event) {
        self.terminal.on_event(event);
        match event {
            Event::RunStarted { .. } | Event::CaseStarted { .. } | Event::StepFinished { .. } => {}
            // Kept only for the files: a run without them holds no finished case.
            Event::CaseFinished(case) if self.junit.is_some() || self.json.is_some() => {
                self.cases.push(case.clone());
            }
            Event::CaseFinished(_) => {}
            Event::RunFinished(summary) => self.write_files(summary),
        }
    }

    /// Files that could not be written (`failed to write …` messages); empty when all went well.
    pub fn errors(&self) -> &[String] {
        &self.errors
    }

    fn write_files(&mut self, summary: &RunSummary) {
        // Reports list cases in plan order, whatever order they finished in.
        self.cases.sort_by_key(|c| c.index);
        if let Some(path) = &self.junit
            && let Err(e) = junit::write(path, &self.cases, summary)
        {
            self.errors.push(format!(
                "failed to write the JUnit report {}: {e}",
                path.display()
            ));
        }
        if let Some(path) = &self.json
            && let Err(e) = json::write(path, &self.cases, summary)
        {
            self.errors.push(format!(
                "failed to write the JSON report {}: {e}",
                path.display()
            ));
        }
    }
}

/// What went wrong in a failed or errored step, as indented text lines (shared by the terminal
/// and JUnit): the error, then each failed assertion with expected vs actual.
pub(crate) fn step_failure_lines(step: &StepResult) -> Vec<String> {
    let mut lines = Vec::new();
    if let Some(error) = &step.error {
        for (i, line) in error.lines().enumerate() {
            lines.push(if i == 0 {
                // Located errors are rendered diagnostics that already start with `error: `.
                format!("error: {}", line.strip_prefix("error: ").unwrap_or(line))
            } else {
                format!("  {line}")
            });
        }
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
