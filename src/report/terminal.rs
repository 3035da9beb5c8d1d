//! The terminal report: a line per case as it finishes, the failing steps in detail, and a
//! summary in the manner of cargo-nextest.
//!
//! ```text
//! PASS  flows/health.yaml  Health check  (12 ms)
//! FAIL  flows/pay.yaml  Payment [card=visa]  (48 ms)
//!     step `pay` failed at flows/pay.yaml:7
//!       $.result.resultCode  (flows/pay.yaml:11:7)
//!         expected: string <S>
//!         actual:   string <F>
//!       last response: 200 {"result":{"resultCode":"F"}}
//! SKIP  flows/refund.yaml  Refund  (0 ms)
//! ────────────
//! 3 cases in 0.06 s
//! 1 passed, 1 failed, 0 errored, 1 skipped
//! ```

use super::{step_failure_lines, step_heading};
use crate::engine::event::Event;
use crate::engine::result::{Attempt, CaseResult, RunSummary, Status, StepResult};
use crate::output::{Sink, one_line};

/// Writes the human report to a masked sink (stdout in the binary, a buffer in tests). Names
/// and file paths are printed with [`one_line`], so a flow name cannot start a line of its own
/// or paint itself; the sink masks and escapes everything else.
pub struct Terminal {
    out: Sink,
    color: bool,
    github: bool,
}

impl Terminal {
    /// A terminal report on `out`, with ANSI colours when `color`.
    pub fn new(out: Sink, color: bool) -> Self {
        Terminal {
            out,
            color,
            github: false,
        }
    }

    /// Also prints a GitHub Actions annotation (`::error file=…,line=…`) under each failed or
    /// flaky case ([`super::github`]).
    pub fn with_github_annotations(mut self, on: bool) -> Self {
        self.github = on;
        self
    }

    /// Prints what the event calls for.
    pub fn on_event(&mut self, event: &Event) {
        let text = match event {
            Event::StepFinished {
                step:
                    StepResult {
                        notice: Some(notice),
                        ..
                    },
                ..
            } => format!("{} {}\n", self.paint("1;33", "NOTE "), one_line(notice)),
            Event::RunStarted { .. } | Event::CaseStarted { .. } | Event::StepFinished { .. } => {
                return;
            }
            Event::CaseRetried {
                file,
                title,
                number,
                of,
                attempt,
                ..
            } => self.retried(file, title, *number, *of, attempt),
            Event::CaseFinished(case) => {
                let mut text = self.case(case);
                if self.github {
                    for line in super::github::annotations(case) {
                        text.push_str(&line);
                        text.push('\n');
                    }
                }
                text
            }
            Event::RunFinished(summary) => self.summary(summary),
        };
        // Output is best-effort: a closed pipe must not stop the run or its reports.
        self.out.print(&text);
    }

    fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }

    fn case(&self, case: &CaseResult) -> String {
        let label = match case.status {
            Status::Passed if case.flaky => self.paint("1;35", "FLAKY"),
            Status::Passed => self.paint("1;32", "PASS "),
            Status::Failed => self.paint("1;31", "FAIL "),
            Status::Errored => self.paint("1;31", "ERROR"),
            Status::Skipped => self.paint("1;33", "SKIP "),
        };
        let attempts = match (case.retries.len(), case.flaky) {
            (0, _) => String::new(),
            (n, true) => format!("passed on attempt {}, ", n + 1),
            (n, false) => format!("{} attempts, ", n + 1),
        };
        let mut text = format!(
            "{label} {}  {}  ({attempts}{} ms)\n",
            one_line(&case.file.display().to_string()),
            one_line(&case.title()),
            case.duration.as_millis()
        );
        self.failures(&mut text, &case.steps);
        text
    }

    /// `RETRY file  title  (attempt 1 of 3 failed, 12 ms)`, and what failed.
    fn retried(
        &self,
        file: &std::path::Path,
        title: &str,
        number: u32,
        of: u32,
        attempt: &Attempt,
    ) -> String {
        let mut text = format!(
            "{} {}  {}  (attempt {number} of {of} {}, {} ms)\n",
            self.paint("1;35", "RETRY"),
            one_line(&file.display().to_string()),
            one_line(title),
            attempt.status.as_str(),
            attempt.duration.as_millis()
        );
        self.failures(&mut text, &attempt.steps);
        text
    }

    /// The failed steps in detail, indented under their case.
    fn failures(&self, text: &mut String, steps: &[StepResult]) {
        for step in steps.iter().filter(|s| s.status.is_failure()) {
            let heading = one_line(&step_heading(step)).into_owned();
            text.push_str(&format!("    {}\n", self.paint("1", &heading)));
            for line in step_failure_lines(step) {
                text.push_str(&format!("      {line}\n"));
            }
        }
    }

    fn summary(&self, s: &RunSummary) -> String {
        let total = s.passed + s.failed + s.errored + s.skipped;
        let flaky = match s.flaky {
            0 => String::new(),
            n => format!(" ({n} flaky)"),
        };
        let counts = format!(
            "{} passed{flaky}, {} failed, {} errored, {} skipped",
            s.passed, s.failed, s.errored, s.skipped
        );
        let counts = if s.is_failure() {
            self.paint("1;31", &counts)
        } else {
            self.paint("1;32", &counts)
        };
        format!(
            "────────────\n{total} {} in {:.2} s\n{counts}\n",
            if total == 1 { "case" } else { "cases" },
            s.duration.as_secs_f64()
        )
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use super::*;

    /// A writer the test can read back after the terminal took it.
    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl Write for Buffer {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn output(color: bool) -> String {
        let buffer = Buffer::default();
        let mut terminal = Terminal::new(Sink::new(Box::new(buffer.clone())), color);
        terminal.on_event(&Event::CaseFinished(CaseResult {
            case: Some("card=visa".to_owned()),
            duration: Duration::from_millis(7),
            ..CaseResult::new(
                0,
                "flows/card-4111111111111111.yaml".into(),
                "Pay".to_owned(),
                Status::Passed,
            )
        }));
        terminal.on_event(&Event::RunFinished(RunSummary {
            passed: 1,
            ..RunSummary::default()
        }));
        String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap()
    }

    #[test]
    fn plain_without_colour_coloured_with_it_masked_always() {
        let plain = output(false);
        assert!(!plain.contains('\x1b'), "{plain}");
        assert!(
            plain.starts_with("PASS  flows/card-************1111.yaml  Pay [card=visa]  (7 ms)\n"),
            "{plain}"
        );
        assert!(
            plain.ends_with("1 passed, 0 failed, 0 errored, 0 skipped\n"),
            "{plain}"
        );
        let coloured = output(true);
        assert!(coloured.contains("\x1b[1;32mPASS \x1b[0m"), "{coloured}");
    }
}
