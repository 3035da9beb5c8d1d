//! Scheduling: cases run concurrently, at most `jobs` at a time, in plan order; each case's
//! steps strictly in order. With `fail_fast`, no new case starts after the first failure (the
//! running ones finish; the rest are reported as skipped).
//!
//! A case that moves the sandbox's one virtual clock or resets it (a `sandbox:` step with
//! `advance_clock` or `reset`, in the flow or a partial it uses) changes what every other case
//! sees, so it runs alone: it waits for the running cases to finish, and none starts until it
//! has.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use indexmap::IndexMap;
use serde_json::{Map, Value};
use tokio::sync::{RwLock, Semaphore};
use tokio::task::JoinSet;

use super::event::{Event, EventSender};
use super::result::{CaseResult, RunSummary, Status, StepResult};
use super::scope::Scope;
use super::step::{Recorder, Shared, blank, run_steps, step_name};
use crate::flow::plan::{Case, PlannedStep};

/// What the scheduler needs besides the cases.
pub(crate) struct Schedule {
    pub(crate) jobs: usize,
    pub(crate) fail_fast: bool,
    pub(crate) overrides: IndexMap<String, Value>,
    pub(crate) runner: Map<String, Value>,
}

/// Runs every case; sends `CaseStarted`/`StepFinished`/`CaseFinished`; returns the totals.
pub(crate) async fn run_cases(
    shared: Arc<Shared>,
    schedule: Arc<Schedule>,
    cases: Vec<Case>,
    tx: &EventSender,
) -> RunSummary {
    let start = Instant::now();
    let permits = Arc::new(Semaphore::new(schedule.jobs.max(1)));
    let stop = Arc::new(AtomicBool::new(false));
    // Shared by ordinary cases, taken alone by the ones that move the clock (fair: FIFO).
    let alone = Arc::new(RwLock::new(()));
    let mut running = JoinSet::new();
    let mut summary = RunSummary::default();
    for (index, case) in cases.into_iter().enumerate() {
        let Ok(permit) = Arc::clone(&permits).acquire_owned().await else {
            break;
        };
        // Collect the finished ones as we go so the summary is complete and memory is bounded.
        while let Some(done) = running.try_join_next() {
            if let Ok(status) = done {
                summary.add(status);
            }
        }
        if stop.load(Ordering::SeqCst) {
            let result = skipped(index, &case);
            summary.add(result.status);
            let _ = tx.send(Event::CaseFinished(result));
            continue;
        }
        let (shared, schedule, stop, tx, alone) = (
            Arc::clone(&shared),
            Arc::clone(&schedule),
            Arc::clone(&stop),
            tx.clone(),
            Arc::clone(&alone),
        );
        let exclusive = moves_the_clock(&case.steps);
        running.spawn(async move {
            let (_shared_turn, _own_turn) = if exclusive {
                (None, Some(alone.write_owned().await))
            } else {
                (Some(alone.read_owned().await), None)
            };
            let result = run_case(&shared, &schedule, index, case, tx.clone()).await;
            if result.status.is_failure() && schedule.fail_fast {
                stop.store(true, Ordering::SeqCst);
            }
            let status = result.status;
            let _ = tx.send(Event::CaseFinished(result));
            drop(permit);
            status
        });
    }
    while let Some(done) = running.join_next().await {
        match done {
            Ok(status) => summary.add(status),
            // A panicking case is a bug; count it as errored rather than lose it.
            Err(_) => summary.add(Status::Errored),
        }
    }
    summary.duration = start.elapsed();
    summary
}

/// Whether any step (partials included) advances or resets the embedded sandbox's clock.
fn moves_the_clock(steps: &[PlannedStep]) -> bool {
    steps.iter().any(|planned| {
        planned.step.sandbox.as_ref().is_some_and(|s| {
            s.value.advance_clock.is_some() || s.value.reset.as_ref().is_some_and(|r| r.value)
        }) || planned
            .partial
            .as_ref()
            .is_some_and(|p| moves_the_clock(&p.steps))
    })
}

/// Runs one case: its variables, then its steps in order.
async fn run_case(
    shared: &Shared,
    schedule: &Schedule,
    index: usize,
    case: Case,
    tx: EventSender,
) -> CaseResult {
    let start = Instant::now();
    let _ = tx.send(Event::CaseStarted {
        index,
        file: case.file.path.clone(),
        title: case.title(),
    });
    let mut rec = Recorder {
        index,
        tx,
        steps: Vec::new(),
        flow_file: case.file.path.clone(),
        title: case.title(),
    };
    let mut scope = Scope::new(&schedule.runner);
    let vars_error = scope
        .define(&shared.templates, &case.vars, &schedule.overrides)
        .err();
    if let Some((var, e)) = vars_error {
        let message = format!("in `vars.{var}`: {}", e.message);
        let step = StepResult {
            name: "vars".to_owned(),
            id: None,
            kind: Default::default(),
            file: case.file.path.clone(),
            line: 0,
            column: 0,
            status: Status::Errored,
            assertions: Vec::new(),
            error: Some(crate::mask::mask_text(&message).into_owned()),
            tries: 0,
            duration: Duration::ZERO,
            request: None,
            response: None,
            notice: None,
            messages: Vec::new(),
            snapshot: None,
        };
        rec.push(step);
    } else {
        if let Err(stopped_at) = run_steps(shared, &case.steps, &mut scope, &mut rec, "").await {
            // The steps after the one that ended the case: reported, not run.
            for planned in &case.steps[stopped_at + 1..] {
                rec.steps
                    .push(blank(planned, step_name(planned), Status::Skipped));
            }
        }
    }
    let status = rec
        .steps
        .iter()
        .map(|s| s.status)
        .find(|s| s.is_failure())
        .unwrap_or(Status::Passed);
    finish(index, &case, status, rec.steps, start)
}

fn finish(
    index: usize,
    case: &Case,
    status: Status,
    steps: Vec<StepResult>,
    start: Instant,
) -> CaseResult {
    CaseResult {
        index,
        file: case.file.path.clone(),
        flow: case.flow_name.clone(),
        case: case.case_name.clone(),
        tags: case.tags.clone(),
        status,
        steps,
        duration: start.elapsed(),
    }
}

fn skipped(index: usize, case: &Case) -> CaseResult {
    finish(index, case, Status::Skipped, Vec::new(), Instant::now())
}
