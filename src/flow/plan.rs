//! What the loader hands the engine: every flow case to run, with `use:` includes resolved and
//! matrix cases expanded. Plain data; built by [`crate::flow`]'s loader, read by the engine.

use std::sync::Arc;

use indexmap::IndexMap;
use serde_json::Value;
use serde_saphyr::Spanned;

use super::action::ActionKind;
use super::model::Step;
pub use crate::diag::SourceFile;
use crate::expect::{Entry, Query};

/// Everything to run.
#[derive(Debug, Default)]
pub struct Plan {
    /// The cases, in discovery order (files sorted by path, flows in file order, matrix cases
    /// in the order of their combinations).
    pub cases: Vec<Case>,
    /// YAML files found in the given folders that are not flows (a card list, a checklist):
    /// left out, and named in [`Plan::skipped_note`].
    pub skipped: Vec<std::path::PathBuf>,
    /// Where the files the flows name at run time (`body_file:`, `sign_with:`) may be.
    pub project: crate::project::Project,
}

impl Plan {
    /// The note naming the YAML files left out as not flows; `None` when there are none.
    pub fn skipped_note(&self) -> Option<String> {
        let (first, rest) = self.skipped.split_first()?;
        let shown = std::iter::once(first)
            .chain(rest.iter().take(4))
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ");
        let more = rest.len().saturating_sub(4);
        Some(format!(
            "note: {} YAML file{} left out, not flows (no `steps:`): {shown}{}",
            self.skipped.len(),
            if self.skipped.len() == 1 { "" } else { "s" },
            if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            }
        ))
    }
}

/// One runnable flow, or one matrix case of it.
#[derive(Debug, Clone)]
pub struct Case {
    /// The case's position in the plan as loaded (before `--partition` keeps a share of it):
    /// reports of the shards of a run merge back in this order.
    pub index: usize,
    /// The flow file.
    pub file: Arc<SourceFile>,
    /// The flow's `name`.
    pub flow_name: String,
    /// For a matrix case, its name made of its values (`card=visa, mode=MANUAL`); else `None`.
    pub case_name: Option<String>,
    /// The flow's tags.
    pub tags: Vec<String>,
    /// The checklist items the flow covers.
    pub covers: Vec<String>,
    /// The flow's `vars` (unrendered templates) with this case's matrix values set on top.
    pub vars: IndexMap<String, Value>,
    /// The steps, with `use:` resolved.
    pub steps: Vec<PlannedStep>,
    /// Whether the case needs APO: a step (partials included) talks to the target or waits
    /// for a notification ([`ActionKind::talks_to_apo`]), or a template reads the runner's
    /// `target`. A run starts the embedded sandbox only for such cases.
    pub talks_to_apo: bool,
    /// The flow's `retries:` (it replaces `--retries`), if it says.
    pub retries: Option<u32>,
    /// The flow's `retry_live:`: retries allowed on a live target although it changes state.
    pub retry_live: bool,
}

impl Case {
    /// How reports name the case: the flow's name, and a matrix case's values in brackets
    /// (`Declined card [card=visa_fail]`).
    pub fn title(&self) -> String {
        match &self.case_name {
            Some(c) => format!("{} [{c}]", self.flow_name),
            None => self.flow_name.clone(),
        }
    }
}

/// A step and where it came from; a `use:` step carries the partial's steps.
#[derive(Debug, Clone)]
pub struct PlannedStep {
    /// The file the step is written in (the partial's file for steps inside a partial).
    pub file: Arc<SourceFile>,
    /// 1-based line of the step's first line.
    pub line: u64,
    /// 1-based column of the step's first line.
    pub column: u64,
    /// What the step does, resolved at load.
    pub kind: ActionKind,
    /// Its checks, compiled at load.
    pub checks: Arc<Checks>,
    /// The step as written, shared with the flow it was read from.
    pub step: Arc<Step>,
    /// For a `use:` step: the partial's own `vars` (defaults, unrendered) and its steps.
    pub partial: Option<Partial>,
}

/// A step's checks, compiled when the flow is loaded: the queries of `expect:`, `until:`,
/// `save:` and of its action's `match:`, and the predicates that hold no template; each in
/// the order written.
#[derive(Debug, Clone, Default)]
pub struct Checks {
    /// `expect:`.
    pub expect: Vec<Check>,
    /// `until:` (empty without it).
    pub until: Vec<Check>,
    /// `save:`.
    pub save: Vec<Capture>,
    /// The `match:` of a `notify`, `received` or `delivery` step.
    pub matches: Vec<Check>,
}

/// One compiled `query: expected` entry.
#[derive(Debug, Clone)]
pub struct Check {
    /// The entry.
    pub entry: Entry,
    /// Its expected value as written, with where (a template that fails to render points
    /// there).
    pub expected: Spanned<Value>,
}

/// One `save:` entry: a variable and the compiled query that fills it.
#[derive(Debug, Clone)]
pub struct Capture {
    /// The variable.
    pub var: String,
    /// The query.
    pub query: Query,
    /// 1-based line and column of the query.
    pub at: (u64, u64),
}

/// A resolved `use:` include.
#[derive(Debug, Clone)]
pub struct Partial {
    /// The partial file.
    pub file: Arc<SourceFile>,
    /// The partial's `vars`: defaults that `with:` values override.
    pub vars: IndexMap<String, Value>,
    /// The partial's steps, themselves resolved.
    pub steps: Vec<PlannedStep>,
    /// Whether the partial needs APO (as [`Case::talks_to_apo`]).
    pub talks_to_apo: bool,
}
