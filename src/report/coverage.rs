//! Checklist coverage: what a run's flow cases made of each checklist item.
//!
//! An item is **passed** when every case covering it passed and one of them met the item's
//! whole proof (see [`crate::checklist::Requirement`]), **failed** when any covering case
//! failed, **not proven** when they all passed but none met the proof (a flow that asserts
//! nothing relevant), and **missing** when no case covers it. The table printed after a run
//! with `--checklist`, then a line per item not proven:
//!
//! ```text
//! item   title                                  flows                         status
//! HM-01  First-time card payment                First-time, tokenize ENABLED  passed
//!                                               First-time, ASKFORCONSENT
//! HM-08  Failed authorization handled           Decline card (failed)         FAILED
//! NT-02  Notification acknowledged              Sleeps                        NOT PROVEN
//! RF-03  Refund above the captured amount       -                             MISSING
//!
//! 4 items: 1 passed, 1 failed, 1 not proven, 1 missing
//! NT-02 not proven: `Sleeps` lacks a passed `notify` step asserting `ack`
//! ```
//!
//! How `run --checklist FILE [--evidence DIR]` uses this module and its neighbours: check the
//! checklist and the flows' `covers:` before anything is sent (exit 2), then judge the run
//! (exit 1 unless [`Coverage::ok`]):
//!
//! ```no_run
//! use std::path::Path;
//! use apoflow::checklist::{Checklist, FlowCovers, unknown_covers};
//! use apoflow::flow::plan::Plan;
//! use apoflow::report::coverage::{CaseOutcome, Coverage};
//! use apoflow::report::evidence::{CaseEvidence, RunInfo, write_evidence};
//!
//! # fn cases() -> Vec<CaseEvidence> { Vec::new() }
//! # fn run_info() -> RunInfo { unimplemented!() }
//! # let plan = Plan::default();
//! let checklist = Checklist::load(Path::new("checklists/apo-card-hosted.yaml"))
//!     .unwrap_or_else(|errors| panic!("print each with render(color), exit 2"));
//! let flows: Vec<FlowCovers> = plan
//!     .cases
//!     .iter()
//!     .map(|c| FlowCovers { file: &c.file, flow: &c.flow_name, covers: &c.covers })
//!     .collect();
//! for typo in unknown_covers(&checklist, &flows) {
//!     eprint!("{}", typo.render(false)); // then exit 2
//! }
//! // ... run the flows; map each case's result and exchanges ...
//! let cases: Vec<CaseEvidence> = cases();
//! let outcomes: Vec<CaseOutcome> = cases.iter().map(|c| c.outcome.clone()).collect();
//! let coverage = Coverage::compute(&checklist, &outcomes);
//! print!("{}", coverage.render_table(true));
//! write_evidence(Path::new("evidence"), &run_info(), &checklist, &coverage, &cases)?;
//! let exit_code = if coverage.ok() { 0 } else { 1 };
//! # Ok::<(), std::io::Error>(())
//! ```

use std::fmt::Write as _;
use std::path::PathBuf;

use owo_colors::OwoColorize as _;
use serde::Serialize;

use crate::checklist::{Checklist, Requirement, StepView};
use crate::mask;

/// The outcome of one flow case, as coverage needs it; the engine's results map onto this.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CaseOutcome {
    /// The flow file.
    pub file: PathBuf,
    /// The flow's name.
    pub flow: String,
    /// For a matrix case, its name (`card=visa, mode=MANUAL`).
    pub case: Option<String>,
    /// The checklist items the flow covers.
    pub covers: Vec<String>,
    /// Whether every step of the case passed.
    pub passed: bool,
    /// Its steps, in order, as proof rules read them.
    pub steps: Vec<StepOutcome>,
}

/// One step of a case, as proof rules read it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StepOutcome {
    /// The step's id, else its name.
    pub name: String,
    /// Its action (`delivery`, `received`, `sleep`, …).
    pub kind: String,
    /// For `received`, the API it observes.
    pub api: Option<String>,
    /// Whether the step passed.
    pub passed: bool,
    /// Its assertions, as evaluated.
    pub assertions: Vec<Held>,
}

/// One assertion of a step: the query, what was expected and what was found (masked by the
/// engine), and whether it held.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Held {
    /// The query as written (`ack`, `$.result.resultStatus`).
    pub query: String,
    /// What was expected.
    pub expected: String,
    /// What was found.
    pub actual: String,
    /// Whether it held.
    pub passed: bool,
}

impl StepOutcome {
    /// Whether this step meets `requirement`.
    pub fn meets(&self, requirement: &Requirement) -> bool {
        let assertions: Vec<(&str, bool)> = self
            .assertions
            .iter()
            .map(|a| (a.query.as_str(), a.passed))
            .collect();
        requirement.met_by(&StepView {
            kind: &self.kind,
            api: self.api.as_deref(),
            passed: self.passed,
            assertions: &assertions,
        })
    }
}

impl CaseOutcome {
    /// `flow` or `flow [case]`: how the case is named in the table and the evidence.
    pub fn label(&self) -> String {
        match &self.case {
            Some(case) => format!("{} [{case}]", self.flow),
            None => self.flow.clone(),
        }
    }

    /// For each requirement of `proof`, the index of the first step of this case meeting it.
    pub fn proving_steps(&self, proof: &[Requirement]) -> Vec<Option<usize>> {
        proof
            .iter()
            .map(|r| self.steps.iter().position(|s| s.meets(r)))
            .collect()
    }

    /// The requirements of `proof` this case does not meet; all of them when it failed.
    pub fn unmet<'a>(&self, proof: &'a [Requirement]) -> Vec<&'a Requirement> {
        proof
            .iter()
            .zip(self.proving_steps(proof))
            .filter(|(_, step)| !self.passed || step.is_none())
            .map(|(r, _)| r)
            .collect()
    }
}

/// What the run made of one checklist item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Every covering case passed, and one of them met the item's proof.
    Passed,
    /// At least one covering case failed.
    Failed,
    /// Every covering case passed, but none met the item's proof.
    NotProven,
    /// No case covers the item.
    Missing,
}

impl Status {
    /// How the status reads in the table and the summary: `passed`, or `FAILED`,
    /// `NOT PROVEN` and `MISSING` in capitals so they stand out.
    pub fn word(self) -> &'static str {
        match self {
            Status::Passed => "passed",
            Status::Failed => "FAILED",
            Status::NotProven => "NOT PROVEN",
            Status::Missing => "MISSING",
        }
    }
}

/// One row of the coverage table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ItemCoverage {
    /// The item's id.
    pub id: String,
    /// The item's title.
    pub title: String,
    /// The flows covering it, each named once (matrix cases of a flow share its name), in
    /// the order of the outcomes.
    pub flows: Vec<String>,
    /// The covering cases that failed, by [`CaseOutcome::label`].
    pub failed: Vec<String>,
    /// The verdict.
    pub status: Status,
    /// The item's proof rule, each requirement as a sentence.
    pub proof: Vec<String>,
    /// The covering cases that met the whole proof, by [`CaseOutcome::label`].
    pub proven_by: Vec<String>,
    /// When not proven: the covering case that came closest, and the requirements it lacked.
    pub unmet: Option<(String, Vec<String>)>,
}

impl ItemCoverage {
    /// The flows column: each covering flow, then each failed case not already named by its
    /// flow, failed ones marked `(failed)`.
    pub fn flow_labels(&self) -> Vec<String> {
        let mut lines: Vec<String> = self
            .flows
            .iter()
            .map(|flow| {
                if self.failed.contains(flow) {
                    format!("{flow} (failed)")
                } else {
                    flow.clone()
                }
            })
            .collect();
        lines.extend(
            self.failed
                .iter()
                .filter(|f| !self.flows.contains(f))
                .map(|case| format!("{case} (failed)")),
        );
        lines
    }

    /// For an item not proven, what was missing: ``NT-02 not proven: `Sleeps` lacks a passed
    /// `notify` step asserting `ack` ``.
    pub fn not_proven_line(&self) -> Option<String> {
        let (case, unmet) = self.unmet.as_ref()?;
        Some(format!(
            "{} not proven: `{case}` lacks {}",
            self.id,
            unmet.join("; and ")
        ))
    }
}

/// How many items have each status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Items passed.
    pub passed: usize,
    /// Items failed.
    pub failed: usize,
    /// Items covered by passing cases that proved nothing relevant.
    pub not_proven: usize,
    /// Items missing.
    pub missing: usize,
}

/// Every checklist item with its verdict, in checklist order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Coverage {
    /// One entry per checklist item.
    pub items: Vec<ItemCoverage>,
}

impl Coverage {
    /// Judges every item of `checklist` from the run's case outcomes. Entries in `covers:`
    /// that name no item are ignored here (see [`crate::checklist::unknown_covers`]).
    pub fn compute(checklist: &Checklist, outcomes: &[CaseOutcome]) -> Coverage {
        let items = checklist
            .items
            .iter()
            .map(|item| {
                let covering = outcomes.iter().filter(|o| o.covers.contains(&item.id));
                let mut flows: Vec<String> = Vec::new();
                let mut failed = Vec::new();
                let mut proven_by = Vec::new();
                // The covering case lacking the fewest requirements, and those it lacks.
                let mut closest: Option<(String, Vec<&Requirement>)> = None;
                for outcome in covering {
                    if !flows.contains(&outcome.flow) {
                        flows.push(outcome.flow.clone());
                    }
                    if !outcome.passed {
                        failed.push(outcome.label());
                    }
                    let unmet = outcome.unmet(&item.proof);
                    if unmet.is_empty() {
                        proven_by.push(outcome.label());
                    } else if closest.as_ref().is_none_or(|(_, c)| unmet.len() < c.len()) {
                        closest = Some((outcome.label(), unmet));
                    }
                }
                let status = if flows.is_empty() {
                    Status::Missing
                } else if !failed.is_empty() {
                    Status::Failed
                } else if proven_by.is_empty() {
                    Status::NotProven
                } else {
                    Status::Passed
                };
                let unmet = closest
                    .filter(|_| status == Status::NotProven)
                    .map(|(case, unmet)| (case, unmet.iter().map(|r| r.to_string()).collect()));
                ItemCoverage {
                    id: item.id.clone(),
                    title: item.title.clone(),
                    flows,
                    failed,
                    status,
                    proof: item.proof.iter().map(Requirement::to_string).collect(),
                    proven_by,
                    unmet,
                }
            })
            .collect();
        Coverage { items }
    }

    /// Whether every item passed (none failed, not proven or missing).
    pub fn ok(&self) -> bool {
        self.items.iter().all(|i| i.status == Status::Passed)
    }

    /// How many items have each status.
    pub fn counts(&self) -> Counts {
        let mut counts = Counts::default();
        for item in &self.items {
            match item.status {
                Status::Passed => counts.passed += 1,
                Status::Failed => counts.failed += 1,
                Status::NotProven => counts.not_proven += 1,
                Status::Missing => counts.missing += 1,
            }
        }
        counts
    }

    /// The counts line: `23 items: 19 passed, 1 failed, 1 not proven, 2 missing`.
    pub fn counts_line(&self) -> String {
        let c = self.counts();
        let noun = if self.items.len() == 1 {
            "item"
        } else {
            "items"
        };
        format!(
            "{} {noun}: {} passed, {} failed, {} not proven, {} missing",
            self.items.len(),
            c.passed,
            c.failed,
            c.not_proven,
            c.missing
        )
    }

    /// The coverage table (item, title shortened to fit, flows, status; one line per
    /// covering flow, failed cases marked), then a blank line, the counts line and a line per
    /// item not proven saying what proof was missing. With `color`, the status is green, red
    /// or yellow. Every cell is masked before it is measured,
    /// so the columns stay aligned.
    pub fn render_table(&self, color: bool) -> String {
        let masked = |text: &str| mask::mask_text(text).into_owned();
        let rows: Vec<(&ItemCoverage, String, Vec<String>)> = self
            .items
            .iter()
            .map(|item| {
                let flows = item.flow_labels().iter().map(|f| masked(f)).collect();
                (item, masked(&shorten(&item.title)), flows)
            })
            .collect();
        let id_w = column_width("item", rows.iter().map(|(item, _, _)| item.id.as_str()));
        let title_w = column_width("title", rows.iter().map(|(_, title, _)| title.as_str()));
        let flows_w = column_width(
            "flows",
            rows.iter()
                .flat_map(|(_, _, flows)| flows.iter().map(String::as_str)),
        );

        let mut out = String::new();
        let _ = writeln!(
            out,
            "{:id_w$}  {:title_w$}  {:flows_w$}  status",
            "item", "title", "flows"
        );
        for (item, title, flows) in &rows {
            let word = item.status.word();
            let status = match (item.status, color) {
                (_, false) => word.to_owned(),
                (Status::Passed, true) => word.green().to_string(),
                (Status::Failed | Status::NotProven, true) => word.red().bold().to_string(),
                (Status::Missing, true) => word.yellow().bold().to_string(),
            };
            let (first, rest) = flows
                .split_first()
                .map_or(("-", &[][..]), |(f, r)| (f.as_str(), r));
            let _ = writeln!(
                out,
                "{:id_w$}  {title:title_w$}  {first:flows_w$}  {status}",
                item.id
            );
            for line in rest {
                let _ = writeln!(out, "{:id_w$}  {:title_w$}  {line}", "", "");
            }
        }
        let _ = writeln!(out, "\n{}", self.counts_line());
        for line in self.items.iter().filter_map(ItemCoverage::not_proven_line) {
            let _ = writeln!(out, "{line}");
        }
        // Continuation lines are padded only up to their text.
        let out: String = out.lines().map(|l| format!("{}\n", l.trim_end())).collect();
        masked(&out)
    }
}

/// The width of a column: its widest cell or its header, in characters.
fn column_width<'a>(header: &str, cells: impl Iterator<Item = &'a str>) -> usize {
    cells
        .map(|c| c.chars().count())
        .max()
        .unwrap_or(0)
        .max(header.chars().count())
}

/// Titles longer than [`TITLE_WIDTH`] characters are cut at a word and end in `…`, so the
/// table fits a terminal; the evidence summary keeps them whole.
const TITLE_WIDTH: usize = 48;

fn shorten(title: &str) -> String {
    if title.chars().count() <= TITLE_WIDTH {
        return title.to_owned();
    }
    let cut: String = title.chars().take(TITLE_WIDTH - 1).collect();
    let cut = match cut.rfind(' ') {
        Some(i) if i > TITLE_WIDTH / 2 => &cut[..i],
        _ => cut.as_str(),
    };
    format!("{}…", cut.trim_end_matches([' ', ',', ';']))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn checklist() -> Checklist {
        Checklist::parse(
            Path::new("c.yaml"),
            "name: Demo\nitems:\n\
             - { id: HM-01, title: First payment, passing: p, proof: [{assertion: any}] }\n\
             - { id: HM-02, title: Terminal types, passing: p, proof: [{assertion: any}] }\n\
             - { id: RF-01, title: Refund, passing: p, proof: [{assertion: any}] }\n"
                .to_owned(),
        )
        .unwrap()
    }

    fn outcome(flow: &str, case: Option<&str>, covers: &[&str], passed: bool) -> CaseOutcome {
        CaseOutcome {
            file: PathBuf::from(format!("flows/{flow}.yaml")),
            flow: flow.to_owned(),
            case: case.map(str::to_owned),
            covers: covers.iter().map(|c| (*c).to_owned()).collect(),
            passed,
            steps: vec![step("http", passed, &["status"])],
        }
    }

    fn step(kind: &str, passed: bool, queries: &[&str]) -> StepOutcome {
        StepOutcome {
            name: kind.to_owned(),
            kind: kind.to_owned(),
            api: None,
            passed,
            assertions: queries
                .iter()
                .map(|q| Held {
                    query: (*q).to_owned(),
                    expected: "200".to_owned(),
                    actual: "200".to_owned(),
                    passed,
                })
                .collect(),
        }
    }

    #[test]
    fn an_item_passes_only_when_a_passing_case_meets_its_whole_proof() {
        let checklist = Checklist::parse(
            Path::new("c.yaml"),
            "name: Demo\nitems:\n\
             - { id: NT-02, title: Ack, passing: p, proof: [{ step: delivery, checks: [ack] }, { step: redirect }] }\n\
             - { id: HM-01, title: Any, passing: p, proof: [{ assertion: any }] }\n"
                .to_owned(),
        )
        .unwrap();
        let mut sleeps = outcome("sleeps", None, &["NT-02", "HM-01"], true);
        sleeps.steps = vec![step("sleep", true, &[])];
        let coverage = Coverage::compute(&checklist, std::slice::from_ref(&sleeps));
        assert_eq!(coverage.items[0].status, Status::NotProven);
        assert_eq!(coverage.items[1].status, Status::NotProven);
        assert!(!coverage.ok());
        assert_eq!(coverage.counts().not_proven, 2);
        assert_eq!(
            coverage.items[0].not_proven_line().unwrap(),
            "NT-02 not proven: `sleeps` lacks a passed `delivery` step asserting `ack`; and a \
             passed `redirect` step with a passed assertion"
        );
        let table = coverage.render_table(false);
        assert!(table.contains("NOT PROVEN"), "{table}");
        assert!(
            table
                .contains("2 items: 0 passed, 0 failed, 2 not proven, 0 missing\nNT-02 not proven"),
            "{table}"
        );

        // Half the proof in one case and half in another is not a proof.
        let mut half = outcome("half", None, &["NT-02"], true);
        half.steps = vec![step("delivery", true, &["ack", "status"])];
        let mut other = outcome("other", None, &["NT-02"], true);
        other.steps = vec![step("redirect", true, &["return_page.body"])];
        let coverage = Coverage::compute(&checklist, &[sleeps.clone(), half.clone(), other]);
        assert_eq!(coverage.items[0].status, Status::NotProven);
        assert_eq!(
            coverage.items[0].unmet,
            Some((
                "half".to_owned(),
                vec!["a passed `redirect` step with a passed assertion".to_owned()]
            ))
        );

        let mut whole = half;
        whole.steps.push(step("redirect", true, &["landed_on"]));
        let coverage = Coverage::compute(&checklist, &[sleeps, whole]);
        assert_eq!(coverage.items[0].status, Status::Passed);
        assert_eq!(coverage.items[0].proven_by, ["half"]);
        assert_eq!(coverage.items[0].unmet, None);
    }

    #[test]
    fn passed_failed_missing() {
        let coverage = Coverage::compute(
            &checklist(),
            &[
                outcome("a", None, &["HM-01", "HM-02"], true),
                outcome("b", Some("WEB"), &["HM-02"], true),
                outcome("b", Some("APP"), &["HM-02"], false),
                outcome("c", None, &["HM-01", "XX-01"], true),
            ],
        );
        let got: Vec<_> = coverage
            .items
            .iter()
            .map(|i| (i.id.as_str(), i.status, i.flows.clone(), i.failed.clone()))
            .collect();
        assert_eq!(
            got,
            [
                (
                    "HM-01",
                    Status::Passed,
                    vec!["a".into(), "c".into()],
                    vec![]
                ),
                (
                    "HM-02",
                    Status::Failed,
                    vec!["a".into(), "b".into()],
                    vec!["b [APP]".into()]
                ),
                ("RF-01", Status::Missing, vec![], vec![]),
            ]
        );
        assert!(!coverage.ok());
        assert_eq!(
            coverage.counts(),
            Counts {
                passed: 1,
                failed: 1,
                not_proven: 0,
                missing: 1
            }
        );
        assert_eq!(
            coverage.counts_line(),
            "3 items: 1 passed, 1 failed, 0 not proven, 1 missing"
        );
    }

    #[test]
    fn ok_only_when_everything_passed() {
        let all = [outcome("a", None, &["HM-01", "HM-02", "RF-01"], true)];
        assert!(Coverage::compute(&checklist(), &all).ok());
        let one_failed = [outcome("a", None, &["HM-01", "HM-02", "RF-01"], false)];
        assert!(!Coverage::compute(&checklist(), &one_failed).ok());
        assert!(!Coverage::compute(&checklist(), &[]).ok());
    }

    #[test]
    fn table_marks_failed_cases_and_colours_only_when_asked() {
        let coverage = Coverage::compute(
            &checklist(),
            &[
                outcome("a", None, &["HM-01"], false),
                outcome("b", Some("APP"), &["HM-02"], false),
            ],
        );
        let plain = coverage.render_table(false);
        assert!(plain.contains("a (failed)"), "{plain}");
        assert!(plain.contains("b [APP] (failed)"), "{plain}");
        assert!(!plain.contains('\u{1b}'));
        let coloured = coverage.render_table(true);
        assert!(coloured.contains("\u{1b}["), "{coloured}");
        assert!(plain.lines().all(|l| l == l.trim_end()));
    }

    #[test]
    fn long_titles_are_shortened_at_a_word() {
        assert_eq!(shorten("Refund"), "Refund");
        let long = "Redirect to the payment continuation URL for every terminal type";
        let short = shorten(long);
        assert_eq!(short, "Redirect to the payment continuation URL for…");
        assert!(short.chars().count() <= TITLE_WIDTH);
        let word = "x".repeat(100);
        assert_eq!(shorten(&word).chars().count(), TITLE_WIDTH);
    }

    #[test]
    fn table_is_masked_and_stays_aligned() {
        mask::register_secret("s3cr3t-token-value");
        let coverage = Coverage::compute(
            &checklist(),
            &[
                outcome("pay with 4111111111111111", None, &["HM-01"], true),
                outcome("uses s3cr3t-token-value", None, &["HM-02"], true),
            ],
        );
        let table = coverage.render_table(false);
        assert!(!table.contains("4111111111111111"), "{table}");
        assert!(table.contains("************1111"), "{table}");
        assert!(!table.contains("s3cr3t-token-value"), "{table}");
        let status_columns: Vec<usize> = table
            .lines()
            .take(4)
            .map(|l| l.rfind(' ').unwrap())
            .collect();
        assert!(status_columns.windows(2).all(|w| w[0] == w[1]), "{table}");
    }
}
