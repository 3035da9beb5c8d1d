//! `apoflow run --checklist FILE [--evidence DIR]`: certification coverage for a run.
//!
//! ```text
//! before anything is sent:  Checklist::load + unknown_covers(plan)   any problem ──> exit 2
//! during the run:           report::Reporters keeps every finished case (with its messages)
//! after the run:            Coverage::compute ──> table on stdout
//!                           --evidence DIR ──> write_evidence (masked)   write error ──> exit 2
//!                           an item failed, not proven or missing ──> exit 1
//! ```

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::checklist::{Checklist, FlowCovers, unknown_covers};
use crate::diag::{Diagnostic, SourceFile};
use crate::engine::result::{CaseResult, MessageKind, Status};
use crate::flow::plan::Plan;
use crate::report::coverage::{CaseOutcome, Coverage, Held, StepOutcome};
use crate::report::evidence::{CaseEvidence, Exchange, ExchangeKind, RunInfo, write_evidence};

/// A checked checklist, and where evidence goes; built before the run.
#[derive(Debug)]
pub(crate) struct ChecklistRun {
    checklist: Checklist,
    evidence: Option<PathBuf>,
}

/// `--evidence` without `--checklist`: evidence is filed per checklist item.
fn evidence_without_checklist(dir: &Path) -> Diagnostic {
    Diagnostic::plain(format!(
        "--evidence {}: evidence is filed per checklist item",
        dir.display()
    ))
    .with_hint("add `--checklist checklists/apo-card-hosted.yaml`")
}

impl ChecklistRun {
    /// Loads `checklist` and checks every `covers:` entry of `plan` against it; `--evidence`
    /// without `--checklist` is refused, since evidence is filed per checklist item.
    pub(crate) fn prepare(
        checklist: Option<&PathBuf>,
        evidence: Option<PathBuf>,
        plan: &Plan,
    ) -> Result<Option<ChecklistRun>, Vec<Diagnostic>> {
        let flows: Vec<FlowCovers<'_>> = plan
            .cases
            .iter()
            .map(|c| FlowCovers {
                file: &c.file,
                flow: &c.flow_name,
                covers: &c.covers,
            })
            .collect();
        Self::checked(checklist.map(PathBuf::as_path), evidence, &flows)
    }

    /// For `report merge`: loads `checklist` (`None`: none was given, and then no `evidence`
    /// either) and checks the `covers:` the finished cases carry
    /// against it (the flow files themselves may be on another machine).
    pub(crate) fn for_cases(
        checklist: Option<&Path>,
        evidence: Option<PathBuf>,
        cases: &[CaseResult],
    ) -> Result<Option<ChecklistRun>, Vec<Diagnostic>> {
        let files: Vec<Arc<SourceFile>> = cases
            .iter()
            .map(|c| Arc::new(SourceFile::new(c.file.clone(), String::new())))
            .collect();
        let flows: Vec<FlowCovers<'_>> = cases
            .iter()
            .zip(&files)
            .map(|(c, file)| FlowCovers {
                file,
                flow: &c.flow,
                covers: &c.covers,
            })
            .collect();
        Self::checked(checklist, evidence, &flows)
    }

    /// Loads the checklist at `path` (`None`: none was given, and then no `evidence` either)
    /// and checks the `covers:` of `flows` against it.
    fn checked(
        path: Option<&Path>,
        evidence: Option<PathBuf>,
        flows: &[FlowCovers<'_>],
    ) -> Result<Option<ChecklistRun>, Vec<Diagnostic>> {
        let Some(path) = path else {
            return match evidence {
                None => Ok(None),
                Some(dir) => Err(vec![evidence_without_checklist(&dir)]),
            };
        };
        let checklist = Checklist::load(path)?;
        let typos = unknown_covers(&checklist, flows);
        if !typos.is_empty() {
            return Err(typos);
        }
        Ok(Some(ChecklistRun {
            checklist,
            evidence,
        }))
    }

    /// Judges the finished cases: prints the coverage table to `out` (a masked sink) and
    /// writes the evidence bundle. The coverage ([`Coverage::ok`] when every item passed), or
    /// `Err` when the evidence could not be written.
    pub(crate) fn finish(
        &self,
        cases: &[CaseResult],
        run: &RunInfo,
        out: &mut dyn std::io::Write,
        color: bool,
    ) -> Result<Coverage, String> {
        let evidence: Vec<CaseEvidence> = cases.iter().map(|c| self.case_evidence(c)).collect();
        let outcomes: Vec<CaseOutcome> = evidence.iter().map(|c| c.outcome.clone()).collect();
        let coverage = Coverage::compute(&self.checklist, &outcomes);
        let table = coverage.render_table(color);
        let _ = write!(out, "\n{table}");
        if let Some(dir) = &self.evidence {
            write_evidence(dir, run, &self.checklist, &coverage, &evidence)
                .map_err(|e| format!("failed to write the evidence bundle: {e}"))?;
            let _ = writeln!(out, "evidence written to {}", dir.display());
        }
        Ok(coverage)
    }

    fn case_evidence(&self, case: &CaseResult) -> CaseEvidence {
        let mut exchanges = Vec::new();
        let mut steps = Vec::new();
        let mut at = Duration::ZERO;
        for (step_index, step) in case.steps.iter().enumerate() {
            let name = step.id.clone().unwrap_or_else(|| step.name.clone());
            steps.push(StepOutcome {
                name: name.clone(),
                kind: step.kind.action.to_owned(),
                api: step.kind.api.map(|e| e.step_name().to_owned()),
                passed: step.status == Status::Passed,
                assertions: step
                    .assertions
                    .iter()
                    .map(|a| Held {
                        query: a.query.clone(),
                        expected: a.expected.clone(),
                        actual: a.actual.clone(),
                        passed: a.passed,
                    })
                    .collect(),
            });
            for (i, m) in step.messages.iter().enumerate() {
                // When it happened, from the case's start; a result without times (an older
                // JSON report) puts requests at the step's start and answers at its end.
                let recorded = m
                    .at
                    .zip(case.started)
                    .and_then(|(at, started)| Duration::try_from(at.duration_since(started)).ok());
                let when = recorded.unwrap_or(if i == 0 { at } else { at + step.duration });
                exchanges.push(Exchange {
                    step: name.clone(),
                    step_index,
                    kind: match m.kind {
                        MessageKind::Request => ExchangeKind::Request,
                        MessageKind::Response => ExchangeKind::Response,
                        MessageKind::Notification => ExchangeKind::Notification,
                        MessageKind::Acknowledgement => ExchangeKind::Acknowledgement,
                    },
                    at_ms: u64::try_from(when.as_millis()).unwrap_or(u64::MAX),
                    summary: m.summary.clone(),
                    data: m.data.clone(),
                });
            }
            at += step.duration;
        }
        CaseEvidence {
            outcome: CaseOutcome {
                file: case.file.clone(),
                flow: case.flow.clone(),
                case: case.case.clone(),
                covers: case.covers.clone(),
                passed: case.status == Status::Passed,
                steps,
            },
            exchanges,
        }
    }
}
