//! What the engine tells the outside world while it runs, over a channel.
//!
//! Cases run concurrently, so events of different cases interleave; one consumer drains the
//! channel and is the only writer of output, so lines never mix.

use std::path::PathBuf;

use tokio::sync::mpsc::UnboundedSender;

use super::result::{Attempt, CaseResult, RunSummary, StepResult};

/// The sending half the engine writes events to.
pub type EventSender = UnboundedSender<Event>;

/// One thing that happened during a run.
#[derive(Debug, Clone)]
pub enum Event {
    /// The run begins with this many cases.
    RunStarted {
        /// How many cases the plan holds.
        cases: usize,
    },
    /// A case starts running.
    CaseStarted {
        /// The case's position in the plan.
        index: usize,
        /// Its flow file.
        file: PathBuf,
        /// `Flow name` or `Flow name [case]`.
        title: String,
    },
    /// A step of a case finished (steps of a case arrive in order, except a `received` step
    /// with `background: true`: it arrives when its window has closed, at the case's end).
    StepFinished {
        /// The case's position in the plan.
        index: usize,
        /// The step's result.
        step: StepResult,
    },
    /// An attempt of a case failed and the case starts again from its first step
    /// (`--retries`, `retries:`); its steps' events follow again.
    CaseRetried {
        /// The case's position in the plan.
        index: usize,
        /// Its flow file.
        file: PathBuf,
        /// `Flow name` or `Flow name [case]`.
        title: String,
        /// The attempt that failed, 1-based.
        number: u32,
        /// How many attempts the case may have in all (retries + 1).
        of: u32,
        /// The failed attempt.
        attempt: Attempt,
    },
    /// A case finished, or was skipped by `--fail-fast`.
    CaseFinished(CaseResult),
    /// The run is over; no event follows.
    RunFinished(RunSummary),
}
