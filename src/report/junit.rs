//! The JUnit XML report (`--junit FILE`): a testsuite per flow file, a testcase per flow or
//! matrix case. Failed assertions are `<failure>`, errors (time-outs, refused connections,
//! run-time template errors) are `<error>`.
//!
//! ```xml
//! <testsuites name="apoflow" tests="2" failures="1" errors="0">
//!   <testsuite name="flows/pay.yaml" tests="2" failures="1" errors="0">
//!     <testcase name="Payment [card=visa]" classname="flows/pay.yaml" time="0.048">
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
use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

use super::{step_failure_lines, step_heading};
use crate::engine::result::{CaseResult, RunSummary, Status};
use crate::mask::mask_text;

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
        if let Some(step) = case.steps.iter().find(|s| s.status.is_failure()) {
            status.set_message(mask_text(&step_heading(step)).into_owned());
            status.set_description(mask_text(&step_failure_lines(step).join("\n")).into_owned());
        } else if case.status == Status::Skipped {
            status.set_message("not run: --fail-fast stopped the run");
        }
        let mut test = TestCase::new(mask_text(&case.title()).into_owned(), status);
        test.set_classname(file)
            .set_time(case.duration)
            .set_assertions(case.steps.iter().map(|s| s.assertions.len()).sum());
        suite.add_test_case(test);
    }
    let mut report = Report::new("apoflow");
    report.set_time(summary.duration);
    report.add_test_suites(suites.into_values());
    report
}

/// Writes the report to `path`.
pub fn write(path: &Path, cases: &[CaseResult], summary: &RunSummary) -> std::io::Result<()> {
    let xml = report(cases, summary)
        .to_string()
        .map_err(std::io::Error::other)?;
    std::fs::write(path, xml)
}
