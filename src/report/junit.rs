//! The JUnit XML report (`--junit FILE`): a testsuite per flow file, a testcase per flow or
//! matrix case. Failed assertions are `<failure>`, errors (time-outs, refused connections,
//! run-time template errors) are `<error>`. Each testcase carries `file` and `line` (the failing
//! step's, else the flow's first line), as GitLab reads them. A case retried after a failure
//! lists its failed attempts as `<flakyFailure>` (it passed at last: flaky) or
//! `<rerunFailure>` (it never passed).
//!
//! ```xml
//! <testsuites name="apoflow" tests="2" failures="1" errors="0">
//!   <testsuite name="flows/pay.yaml" tests="2" failures="1" errors="0">
//!     <testcase name="Payment [card=visa]" classname="flows/pay.yaml" time="0.048"
//!               file="flows/pay.yaml" line="7">
//!       <failure message="step `pay` failed at flows/pay.yaml:7">
//!         $.result.resultCode  (flows/pay.yaml:11:7)
//!           expected: string &lt;S&gt;
//!           actual:   string &lt;F&gt;
//!       </failure>
//!     </testcase>
//!   </testsuite>
//! </testsuites>
//! ```

use std::path::Path;

use indexmap::IndexMap;
use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestRerun, TestSuite};

use super::{step_failure_lines, step_heading};
use crate::engine::result::{Attempt, CaseResult, RunSummary, Status};
use crate::output::{self, FileKind};

/// Builds the report from finished cases (in plan order).
pub fn report(cases: &[CaseResult], summary: &RunSummary) -> Report {
    let mut suites: IndexMap<String, TestSuite> = IndexMap::new();
    for case in cases {
        let file = case.file.display().to_string();
        let suite = suites
            .entry(file.clone())
            .or_insert_with(|| TestSuite::new(file.clone()));
        let mut status = match case.status {
            Status::Passed => TestCaseStatus::success(),
            Status::Failed => TestCaseStatus::non_success(NonSuccessKind::Failure),
            Status::Errored => TestCaseStatus::non_success(NonSuccessKind::Error),
            Status::Skipped => TestCaseStatus::skipped(),
        };
        if let Some(step) = case.failing_step() {
            status.set_message(step_heading(step));
            status.set_description(step_failure_lines(step).join("\n"));
        } else if case.status == Status::Skipped {
            status.set_message("not run: --fail-fast stopped the run");
        }
        // Earlier failed attempts: <flakyFailure> under a pass, <rerunFailure> under a failure.
        status.add_reruns(case.retries.iter().map(rerun));
        let mut test = TestCase::new(case.title(), status);
        test.set_classname(file.clone())
            .set_time(case.duration)
            .set_assertions(case.steps.iter().map(|s| s.assertions.len()).sum());
        // GitLab links a test to its source with `file` (and `line`): the failing step's, else
        // the flow's.
        let (at_file, line) = match case.failing_step().filter(|s| s.line > 0) {
            Some(step) => (step.file.display().to_string(), step.line),
            None => (file, 1),
        };
        test.extra.insert("file".into(), at_file.into());
        test.extra.insert("line".into(), line.to_string().into());
        suite.add_test_case(test);
    }
    let mut report = Report::new("apoflow");
    report.set_time(summary.duration);
    report.add_test_suites(suites.into_values());
    report
}

/// A failed attempt as a JUnit rerun.
fn rerun(attempt: &Attempt) -> TestRerun {
    let kind = match attempt.status {
        Status::Errored => NonSuccessKind::Error,
        Status::Passed | Status::Failed | Status::Skipped => NonSuccessKind::Failure,
    };
    let mut rerun = TestRerun::new(kind);
    rerun.set_time(attempt.duration);
    if let Some(step) = attempt.failing_step() {
        rerun.set_message(step_heading(step));
        rerun.set_description(step_failure_lines(step).join("\n"));
    }
    rerun
}

/// The XML text of the report, through the masked sink: masked, and well-formed whatever
/// characters a name or a server value holds (quick-junit drops C0 controls and ANSI codes;
/// the sink shows U+FFFE and U+FFFF, which XML forbids, as escapes).
pub(crate) fn render(cases: &[CaseResult], summary: &RunSummary) -> std::io::Result<String> {
    let xml = report(cases, summary)
        .to_string()
        .map_err(std::io::Error::other)?;
    Ok(output::render(FileKind::Markup, &xml))
}

/// Writes the report to `path`.
pub fn write(path: &Path, cases: &[CaseResult], summary: &RunSummary) -> std::io::Result<()> {
    std::fs::write(path, render(cases, summary)?)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::engine::result::StepResult;

    fn case(index: usize, file: &str, status: Status, step: Option<Status>) -> CaseResult {
        CaseResult {
            steps: step
                .map(|s| StepResult {
                    name: "pay".to_owned(),
                    id: None,
                    kind: Default::default(),
                    file: file.into(),
                    line: 3,
                    column: 5,
                    status: s,
                    assertions: Vec::new(),
                    error: Some(crate::engine::error::StepError::new(
                        "card 4111111111111111 refused",
                    )),
                    tries: 1,
                    duration: Duration::from_millis(2),
                    request: None,
                    response: None,
                    notice: None,
                    messages: Vec::new(),
                    snapshot: None,
                })
                .into_iter()
                .collect(),
            duration: Duration::from_millis(5),
            ..CaseResult::new(index, file.into(), format!("flow {index}"), status)
        }
    }

    #[test]
    fn a_suite_per_file_a_case_per_flow_failures_apart_from_errors() {
        let cases = [
            case(0, "a.yaml", Status::Failed, Some(Status::Failed)),
            case(1, "a.yaml", Status::Errored, Some(Status::Errored)),
            case(2, "b.yaml", Status::Skipped, None),
            case(3, "b.yaml", Status::Passed, Some(Status::Passed)),
        ];
        let xml = render(&cases, &RunSummary::default()).unwrap();
        assert!(!xml.contains("4111111111111111"));
        let back = Report::deserialize_from_str(&xml).unwrap();
        assert_eq!(back.test_suites.len(), 2);
        let kinds: Vec<_> = back
            .test_suites
            .iter()
            .flat_map(|s| &s.test_cases)
            .map(|t| match &t.status {
                TestCaseStatus::Success { .. } => "success",
                TestCaseStatus::NonSuccess {
                    kind: NonSuccessKind::Failure,
                    ..
                } => "failure",
                TestCaseStatus::NonSuccess {
                    kind: NonSuccessKind::Error,
                    ..
                } => "error",
                TestCaseStatus::Skipped { .. } => "skipped",
            })
            .collect();
        assert_eq!(kinds, ["failure", "error", "skipped", "success"]);
    }

    #[test]
    fn any_character_in_a_name_leaves_the_xml_well_formed() {
        let mut c = case(0, "a\u{fffe}.yaml", Status::Failed, Some(Status::Failed));
        c.flow = "Pay \u{fffe}\u{ffff}\x1b[31m\x00 <&> \"q\" 4111111111111111".to_owned();
        c.steps[0].name = "step \u{ffff}".to_owned();
        let xml = render(&[c], &RunSummary::default()).unwrap();
        assert!(
            !xml.contains(['\u{fffe}', '\u{ffff}', '\x1b', '\x00']),
            "{xml}"
        );
        let back = Report::deserialize_from_str(&xml).expect("well-formed");
        let test = &back.test_suites[0].test_cases[0];
        assert_eq!(
            test.name.as_str(),
            "Pay \\u{fffe}\\u{ffff} <&> \"q\" ************1111"
        );
    }
}
