//! Running flows: the engine takes a checked [`Plan`] and runs it over real HTTP, telling the
//! world what happens through [`event::Event`]s. It never prints and never calls report code.
//!
//! ```text
//! run(plan, options, tx)
//!   RunStarted
//!   schedule: cases concurrently (≤ jobs), in plan order; --fail-fast stops new ones
//!     per case: scope ← runner values, --var, vars (rendered in order), matrix values
//!       CaseStarted
//!       per step, in order: render → send (poll with until:) → expect: → save: → StepFinished
//!       background windows (received with background: true) run again in full → StepFinished
//!       failed, retries left (retry.rs)? CaseRetried, and again from the first step
//!       CaseFinished(CaseResult)   (flaky: passed after a failed attempt)
//!   RunFinished(RunSummary)
//! ```

pub mod error;
pub mod event;
pub mod result;
pub mod retry;

mod poll;
mod schedule;
mod scope;
mod step;

use std::path::PathBuf;
use std::sync::Arc;

use indexmap::IndexMap;
use serde_json::{Map, Value};

pub use crate::expect::Detail;
use crate::flow::plan::Plan;
use crate::snapshot::UpdateMode;
use crate::template::Templates;
use event::{Event, EventSender};
use result::RunSummary;

/// How to run a plan; built by `apoflow run` from its flags.
#[derive(Debug)]
pub struct Options {
    /// How many cases may run at once (at least 1).
    pub jobs: usize,
    /// Start no new case after the first failure.
    pub fail_fast: bool,
    /// `--retries`: how many times a failed case runs again from its first step, for flows
    /// without `retries:` (see [`retry`]).
    pub retries: u32,
    /// `--var k=v` values: they replace flow `vars` of the same name, and are defined even
    /// where a flow does not declare them.
    pub vars: IndexMap<String, Value>,
    /// Variables the runner provides to templates (`notify_url`, `redirect_url`, `target`,
    /// `sandbox`, and `merchant` with a merchant under test); flow `vars` and `--var` may
    /// shadow them.
    pub runner: Map<String, Value>,
    /// Where the APO steps go: the target, the run's one client, the receiver's inbox.
    pub apo: Apo,
    /// The directory `body_file` paths are relative to (the project root: where apoflow runs).
    pub root: PathBuf,
    /// The template environment, built once per run.
    pub templates: Templates,
    /// When `snapshot:` checks write files (`--update-snapshots`, `APOFLOW_UPDATE`, CI).
    pub snapshots: UpdateMode,
    /// What step results record of what passed: [`Detail::All`] when a report keeps every
    /// case (JSON, JUnit, HTML, checklist, job summary); else [`Detail::Failures`], and a
    /// passed step's result then has no response quote, no messages and no expected / actual
    /// values (the terminal shows them for failures only).
    pub detail: Detail,
}

/// What APO steps use: built once per run by `apoflow run`.
#[derive(Debug, Clone)]
pub struct Apo {
    /// The run's one client; its `reqwest::Client` serves the `http` and `redirect` steps too.
    pub client: crate::apo::client::Client,
    /// Where APO calls go, with which keys.
    pub target: crate::apo::target::Target,
    /// Notifications received by the runner's receiver.
    pub inbox: crate::receiver::Inbox,
    /// The journals of the embedded sandbox when this run started it: `received`, `delivery`
    /// and `notify_merchant` read them in this process, unmasked (see
    /// [`crate::sandbox::Listings`]); `None`, they ask the target's control API.
    pub listings: Option<crate::sandbox::Listings>,
}

/// Runs every case of `plan`; sends events on `tx` (ending with `RunFinished`); returns the
/// totals.
pub async fn run(plan: Plan, options: Options, tx: EventSender) -> RunSummary {
    let live = !options.apo.target.is_embedded();
    let shared = Arc::new(step::Shared {
        templates: options.templates,
        client: options.apo.client.http().clone(),
        root: options.root,
        project: plan.project.clone(),
        apo: options.apo,
        snapshots: options.snapshots,
        detail: options.detail,
    });
    let schedule = Arc::new(schedule::Schedule {
        jobs: options.jobs,
        fail_fast: options.fail_fast,
        overrides: options.vars,
        runner: options.runner,
        retries: options.retries,
        live,
    });
    let _ = tx.send(Event::RunStarted {
        cases: plan.cases.len(),
    });
    let summary = schedule::run_cases(shared, schedule, plan.cases, &tx).await;
    let _ = tx.send(Event::RunFinished(summary));
    summary
}
