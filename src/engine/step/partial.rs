//! The `use` step: run a partial flow's steps in a child scope.
//!
//! The child scope is the parent's scope, plus the partial's `vars` (defaults, rendered in the
//! child), with the `with:` parameters (rendered in the parent) on top. What the partial's
//! steps `save:` flows back to the parent; everything else stays in the child.

use std::time::Instant;

use indexmap::IndexMap;

use super::{Recorder, Shared, blank, run_steps};
use crate::engine::error::StepError;
use crate::engine::result::Status;
use crate::engine::scope::Scope;
use crate::flow::plan::{Partial, PlannedStep};

/// Runs the partial; returns whether all its steps passed. Its steps are recorded as
/// `<name> › <step>`.
pub(crate) async fn run(
    shared: &Shared,
    planned: &PlannedStep,
    partial: &Partial,
    scope: &mut Scope,
    rec: &mut Recorder,
    name: String,
) -> bool {
    let start = Instant::now();
    let mut params = IndexMap::new();
    let mut failure = None;
    if let Some(with) = &planned.step.with {
        for (param, value) in &with.value {
            match scope.render(&shared.templates, value) {
                Ok(v) => {
                    params.insert(param.clone(), v);
                }
                Err(e) => {
                    failure = Some(StepError::located(
                        &planned.file,
                        &with.referenced,
                        format!("in `with.{param}`: {}", e.message),
                        e.hint.as_deref(),
                    ));
                    break;
                }
            }
        }
    }
    let mut child = scope.clone();
    if failure.is_none()
        && let Err((var, e)) = child.define(&shared.templates, &partial.vars, &params)
    {
        failure = Some(StepError::new(format!(
            "{}: in the partial's `vars.{var}`: {}",
            partial.file.path.display(),
            e.message
        )));
    }
    if let Some(error) = failure {
        let mut result = blank(planned, name, Status::Errored);
        result.error = Some(error);
        result.duration = start.elapsed();
        rec.push(result);
        return false;
    }
    let prefix = format!("{name} › ");
    let passed = run_steps(shared, &partial.steps, &mut child, rec, &prefix)
        .await
        .is_ok();
    let mut saved = Vec::new();
    saved_names(&partial.steps, &mut saved);
    for var in saved {
        if let Some(value) = child.get(&var) {
            scope.set(&var, value.clone());
        }
    }
    passed
}

/// The variables that `steps` (and partials they use) save.
fn saved_names(steps: &[PlannedStep], out: &mut Vec<String>) {
    for step in steps {
        out.extend(step.step.save.keys().map(|k| k.value.clone()));
        if let Some(p) = &step.partial {
            saved_names(&p.steps, out);
        }
    }
}
