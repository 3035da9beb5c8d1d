//! The live progress line on a terminal: cases done of all, how many run now and which,
//! failures so far, elapsed time. Shown only when standard error is a terminal and the run is
//! not on CI (`CI` set), never in pipes or CI logs; drawn with indicatif on a masked terminal
//! ([`crate::output::ProgressTerm`]).
//!
//! ```text
//! ⠙ [00:00:03] 12/57 cases · 3 running · 1 failed · Payment [card=visa], Refund, …
//! ```

use std::collections::BTreeMap;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::engine::event::Event;
use crate::output::{ProgressTerm, one_line};

/// The progress line, or nothing when it is hidden.
pub struct Progress {
    bar: Option<ProgressBar>,
    running: BTreeMap<usize, String>,
    failed: usize,
}

impl Progress {
    /// A progress line on standard error when `shown`, else one that draws nothing.
    pub fn new(shown: bool) -> Self {
        let bar = shown.then(|| {
            let bar = ProgressBar::with_draw_target(
                None,
                ProgressDrawTarget::term_like_with_hz(Box::new(ProgressTerm::stderr()), 10),
            );
            bar.set_style(
                ProgressStyle::with_template(
                    "{spinner} [{elapsed_precise}] {pos}/{len} cases · {msg}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        Progress {
            bar,
            running: BTreeMap::new(),
            failed: 0,
        }
    }

    /// Runs `print` with the line hidden, so printed lines never mix with it.
    pub fn suspend<R>(&self, print: impl FnOnce() -> R) -> R {
        match &self.bar {
            Some(bar) => bar.suspend(print),
            None => print(),
        }
    }

    /// Takes one event.
    pub fn on_event(&mut self, event: &Event) {
        let Some(bar) = &self.bar else { return };
        match event {
            Event::RunStarted { cases } => bar.set_length(*cases as u64),
            Event::CaseStarted { index, title, .. } => {
                self.running.insert(*index, one_line(title).into_owned());
            }
            Event::StepFinished { .. } | Event::CaseRetried { .. } => {}
            Event::CaseFinished(case) => {
                self.running.remove(&case.index);
                if case.status.is_failure() {
                    self.failed += 1;
                }
                bar.inc(1);
            }
            Event::RunFinished(_) => {
                bar.finish_and_clear();
                return;
            }
        }
        bar.set_message(self.message());
    }

    /// `3 running · 1 failed · Payment [card=visa], Refund, …`
    fn message(&self) -> String {
        let mut names: Vec<&str> = self.running.values().map(String::as_str).take(3).collect();
        if self.running.len() > 3 {
            names.push("…");
        }
        let failed = match self.failed {
            0 => String::new(),
            n => format!(" · {n} failed"),
        };
        format!(
            "{} running{failed} · {}",
            self.running.len(),
            names.join(", ")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_message_says_what_runs_and_what_failed() {
        let mut p = Progress::new(false);
        p.running.insert(0, "Pay".to_owned());
        p.running.insert(1, "Refund".to_owned());
        p.failed = 1;
        assert_eq!(p.message(), "2 running · 1 failed · Pay, Refund");
        for i in 2..6 {
            p.running.insert(i, format!("f{i}"));
        }
        assert_eq!(p.message(), "6 running · 1 failed · Pay, Refund, f2, …");
    }
}
