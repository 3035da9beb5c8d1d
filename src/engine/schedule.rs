//! Scheduling: cases run concurrently, at most `jobs` at a time, in plan order; each case's
//! steps strictly in order. With `fail_fast`, no new case starts after the first failure (the
//! running ones finish; the rest are reported as skipped).
//!
//! A case that moves the sandbox's one virtual clock or resets it (a `sandbox:` step with
//! `advance_clock` without `of:`, or `reset`, in the flow or a partial it uses) changes what
//! every other case sees, so it runs alone: it waits for the running cases to finish, and none starts until it
//! has. With more than one job these cases start first, one after another, so the others then
//! run in one stretch instead of draining around each of them.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use indexmap::IndexMap;
use serde_json::{Map, Value};
use tokio::sync::{RwLock, Semaphore};
use tokio::task::JoinSet;

use super::error::StepError;
use super::event::{Event, EventSender};
use super::result::{Attempt, CaseResult, RunSummary, Status, StepResult};
use super::scope::Scope;
use super::step::{Recorder, Shared, blank, run_steps, step_name};
use crate::flow::plan::{Case, PlannedStep};

/// What the scheduler needs besides the cases.
pub(crate) struct Schedule {
    pub(crate) jobs: usize,
    pub(crate) fail_fast: bool,
    pub(crate) overrides: IndexMap<String, Value>,
    pub(crate) runner: Map<String, Value>,
    /// `--retries`: how many times a failed case runs again, unless its flow says otherwise.
    pub(crate) retries: u32,
    /// Whether the target is live (not the embedded sandbox): see [`super::retry`].
    pub(crate) live: bool,
}

/// Runs every case; sends `CaseStarted`/`StepFinished`/`CaseRetried`/`CaseFinished`; returns
/// the totals. A case whose task panics is reported as errored, never lost.
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
    // What to report for a running case if its task panics.
    let mut headers: HashMap<tokio::task::Id, CaseResult> = HashMap::new();
    let mut summary = RunSummary::default();
    let cases = alone_first(cases, schedule.jobs);
    for case in cases {
        let Ok(permit) = Arc::clone(&permits).acquire_owned().await else {
            break;
        };
        // Collect the finished ones as we go so the summary is complete and memory is bounded.
        while let Some(done) = running.try_join_next_with_id() {
            collect(done, &mut headers, &mut summary, tx);
        }
        // The case's turn is taken here, in start order, not in its task (tasks may first run
        // in any order): one that runs alone waits for the running ones, and holds back the
        // ones after it until it is done.
        let turn = if moves_the_clock(&case.steps) {
            (None, Some(Arc::clone(&alone).write_owned().await))
        } else {
            (Some(Arc::clone(&alone).read_owned().await), None)
        };
        if stop.load(Ordering::SeqCst) {
            let result = skipped(&case);
            summary.add(result.status, false);
            let _ = tx.send(Event::CaseFinished(result));
            continue;
        }
        let header = skipped(&case);
        let (shared, schedule, stop, tx) = (
            Arc::clone(&shared),
            Arc::clone(&schedule),
            Arc::clone(&stop),
            tx.clone(),
        );
        let handle = running.spawn(async move {
            let _turn = turn;
            let result = run_with_retries(&shared, &schedule, case, &tx).await;
            if result.status.is_failure() && schedule.fail_fast {
                stop.store(true, Ordering::SeqCst);
            }
            let outcome = (result.status, result.flaky);
            let _ = tx.send(Event::CaseFinished(result));
            drop(permit);
            outcome
        });
        headers.insert(handle.id(), header);
    }
    while let Some(done) = running.join_next_with_id().await {
        collect(done, &mut headers, &mut summary, tx);
    }
    summary.duration = start.elapsed();
    summary
}

/// The cases in the order they start: in plan order, except that with more than one job the
/// ones that must run alone come first (their own order kept).
fn alone_first(cases: Vec<Case>, jobs: usize) -> Vec<Case> {
    if jobs <= 1 {
        return cases;
    }
    let (mut alone, rest): (Vec<Case>, Vec<Case>) = cases
        .into_iter()
        .partition(|case| moves_the_clock(&case.steps));
    alone.extend(rest);
    alone
}

/// Counts a finished case task; a task that panicked (a bug) becomes an errored case, reported
/// like any other, so the run fails instead of losing it.
fn collect(
    done: Result<(tokio::task::Id, (Status, bool)), tokio::task::JoinError>,
    headers: &mut HashMap<tokio::task::Id, CaseResult>,
    summary: &mut RunSummary,
    tx: &EventSender,
) {
    match done {
        Ok((id, (status, flaky))) => {
            headers.remove(&id);
            summary.add(status, flaky);
        }
        Err(e) => {
            let header = headers.remove(&e.id());
            let result = panicked(header, e);
            summary.add(result.status, false);
            let _ = tx.send(Event::CaseFinished(result));
        }
    }
}

/// The errored result of a case whose task ended without a result (a panic, or cancelled).
fn panicked(header: Option<CaseResult>, e: tokio::task::JoinError) -> CaseResult {
    let why = if e.is_panic() {
        let payload = e.into_panic();
        let text = payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "no message".to_owned());
        format!("apoflow panicked while running this case (a bug; please report it): {text}")
    } else {
        "the case was cancelled before it finished".to_owned()
    };
    let mut result = header.unwrap_or_else(|| {
        CaseResult::new(
            usize::MAX,
            Default::default(),
            "unknown case".to_owned(),
            Status::Errored,
        )
    });
    result.status = Status::Errored;
    result.steps = vec![StepResult::errored(
        "case",
        result.file.clone(),
        StepError::new(why),
    )];
    result
}

/// Runs a case, and again from its first step after a failed attempt while retries are left
/// ([`super::retry`]); the result says whether it passed only after failing (flaky).
async fn run_with_retries(
    shared: &Shared,
    schedule: &Schedule,
    case: Case,
    tx: &EventSender,
) -> CaseResult {
    let start = Instant::now();
    let policy = super::retry::policy(&case, schedule.retries, schedule.live);
    let mut retries = Vec::new();
    loop {
        let mut result = run_case(shared, schedule, &case, tx.clone()).await;
        let number = u32::try_from(retries.len()).unwrap_or(u32::MAX) + 1;
        if !result.status.is_failure() || number > policy.retries {
            result.flaky = result.status == Status::Passed && !retries.is_empty();
            result.retries = retries;
            result.duration = start.elapsed();
            return result;
        }
        let attempt = Attempt {
            status: result.status,
            duration: result.duration,
            steps: result.steps,
        };
        let _ = tx.send(Event::CaseRetried {
            index: case.index,
            file: case.file.path.clone(),
            title: case.title(),
            number,
            of: policy.retries + 1,
            attempt: attempt.clone(),
        });
        retries.push(attempt);
    }
}

/// Whether any step (partials included) advances the embedded sandbox's clock for every
/// payment (not `of:` one) or resets it.
fn moves_the_clock(steps: &[PlannedStep]) -> bool {
    steps.iter().any(|planned| {
        planned.step.sandbox.as_ref().is_some_and(|s| {
            (s.value.advance_clock.is_some() && s.value.of.is_none())
                || s.value.reset.as_ref().is_some_and(|r| r.value)
        }) || planned
            .partial
            .as_ref()
            .is_some_and(|p| moves_the_clock(&p.steps))
    })
}

/// Runs one attempt of a case: its variables, then its steps in order.
async fn run_case(
    shared: &Shared,
    schedule: &Schedule,
    case: &Case,
    tx: EventSender,
) -> CaseResult {
    let index = case.index;
    let start = Instant::now();
    let started = jiff::Timestamp::now();
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
        windows: Vec::new(),
    };
    let mut scope = Scope::new(&schedule.runner);
    let vars_error = scope
        .define(&shared.templates, &case.vars, &schedule.overrides)
        .err();
    if let Some((var, e)) = vars_error {
        let message = format!("in `vars.{var}`: {}", e.message);
        let step = StepResult::errored("vars", case.file.path.clone(), StepError::new(message));
        rec.push(step);
    } else {
        if let Err(stopped_at) = run_steps(shared, &case.steps, &mut scope, &mut rec, "").await {
            // The steps after the one that ended the case: reported, not run.
            for planned in &case.steps[stopped_at + 1..] {
                rec.steps
                    .push(blank(planned, step_name(planned), Status::Skipped));
            }
        }
        rec.close_windows(shared).await;
    }
    let status = rec
        .steps
        .iter()
        .map(|s| s.status)
        .find(|s| s.is_failure())
        .unwrap_or(Status::Passed);
    finish(case, status, rec.steps, start, Some(started))
}

fn finish(
    case: &Case,
    status: Status,
    steps: Vec<StepResult>,
    start: Instant,
    started: Option<jiff::Timestamp>,
) -> CaseResult {
    CaseResult {
        index: case.index,
        file: case.file.path.clone(),
        flow: case.flow_name.clone(),
        case: case.case_name.clone(),
        started,
        tags: case.tags.clone(),
        covers: case.covers.clone(),
        status,
        flaky: false,
        steps,
        duration: start.elapsed(),
        retries: Vec::new(),
    }
}

fn skipped(case: &Case) -> CaseResult {
    finish(case, Status::Skipped, Vec::new(), Instant::now(), None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_case_whose_task_panics_is_reported_errored_not_lost() {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let mut set: JoinSet<(Status, bool)> = JoinSet::new();
        let handle = set.spawn(async { panic!("boom in a step") });
        let mut headers = HashMap::new();
        let header = CaseResult {
            covers: vec!["HM-01".to_owned()],
            ..CaseResult::new(
                4,
                "flows/pay.yaml".into(),
                "Pay".to_owned(),
                Status::Skipped,
            )
        };
        headers.insert(handle.id(), header);
        let mut summary = RunSummary::default();
        let done = set.join_next_with_id().await.expect("one task");
        collect(done, &mut headers, &mut summary, &tx);
        assert_eq!(summary.errored, 1);
        assert!(summary.is_failure());
        let Some(Event::CaseFinished(case)) = rx.recv().await else {
            panic!("the case is reported");
        };
        assert_eq!((case.index, case.status), (4, Status::Errored));
        assert_eq!(case.covers, ["HM-01"]);
        let error = case.steps[0].error.as_ref().unwrap().to_string();
        assert!(
            error.contains("panicked") && error.contains("boom in a step"),
            "{error}"
        );
        assert!(headers.is_empty());
    }
}
