//! CI at scale, through the real binary against a real HTTP server on 127.0.0.1: retries and
//! flaky cases, sharding with `--partition` and `apoflow report merge`, GitHub annotations,
//! and the masked, escaped outputs.

#[allow(dead_code)] // the parts tests/run.rs uses
#[path = "run/local.rs"]
mod local;
#[path = "support/mod.rs"]
mod support;

use local::Project;
use quick_junit::{Report, TestCaseStatus};
use serde_json::Value;
use support::{both, code};

fn json_report(p: &Project, rel: &str) -> Value {
    serde_json::from_str(&p.read(rel)).expect("the JSON report parses")
}

/// A key of the test server's counters that no other test uses.
fn unique(name: &str) -> String {
    format!("{name}-{}", fastrand::u64(..))
}

/// A flow whose check holds from the second call on: it fails once, then passes.
fn fails_once(key: &str, extra: &str) -> String {
    format!(
        "name: Fails once\n{extra}steps:\n  - id: call\n    http: {{ url: \"BASE/count/{key}\" }}\n    expect:\n      $.count: {{ gte: 2 }}\n"
    )
}

#[test]
fn a_case_that_fails_once_then_passes_is_reported_flaky_everywhere() {
    let p = Project::new();
    p.file("flows/flaky.yaml", &fails_once(&unique("flaky"), ""));
    let out = p.run(&["--retries", "2", "--json", "out.json", "--junit", "out.xml"]);
    let text = both(&out);
    assert_eq!(code(&out), 0, "{text}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("RETRY flows/flaky.yaml  Fails once  (attempt 1 of 3 failed,"),
        "{text}"
    );
    assert!(
        stdout.contains("FLAKY flows/flaky.yaml  Fails once  (passed on attempt 2,"),
        "{text}"
    );
    assert!(
        stdout.ends_with("1 passed (1 flaky), 0 failed, 0 errored, 0 skipped\n"),
        "{text}"
    );

    let json = json_report(&p, "out.json");
    assert_eq!(json["summary"]["flaky"], 1);
    let case = &json["cases"][0];
    assert_eq!(case["status"], "passed");
    assert_eq!(case["flaky"], true);
    assert_eq!(case["retries"].as_array().unwrap().len(), 1);
    assert_eq!(case["retries"][0]["status"], "failed");
    assert_eq!(
        case["retries"][0]["steps"][0]["assertions"][0]["actual"],
        "integer <1>"
    );

    let junit = Report::deserialize_from_str(&p.read("out.xml")).unwrap();
    let test = &junit.test_suites[0].test_cases[0];
    match &test.status {
        TestCaseStatus::Success { flaky_runs } => assert_eq!(flaky_runs.len(), 1),
        other => panic!("a flaky case is a success with flaky runs, not {other:?}"),
    }
    assert!(p.read("out.xml").contains("<flakyFailure"));
}

#[test]
fn a_flow_says_how_many_retries_it_gets_and_running_out_fails() {
    let p = Project::new();
    // The flow's `retries: 0` wins over `--retries 3`: one attempt, failed.
    p.file(
        "flows/never.yaml",
        &fails_once(&unique("never"), "retries: 0\n"),
    );
    let out = p.run(&["--retries", "3", "--junit", "out.xml"]);
    assert_eq!(code(&out), 1, "{}", both(&out));
    assert!(!both(&out).contains("RETRY"), "{}", both(&out));

    // Three calls are needed; `retries: 1` allows two: it fails after two attempts.
    let p = Project::new();
    let key = unique("twice");
    p.file(
        "flows/twice.yaml",
        &format!(
            "name: Needs three\nretries: 1\nsteps:\n  - http: {{ url: \"BASE/count/{key}\" }}\n    expect:\n      $.count: {{ gte: 3 }}\n"
        ),
    );
    let out = p.run(&["--junit", "out.xml", "--json", "out.json"]);
    assert_eq!(code(&out), 1, "{}", both(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("FAIL  flows/twice.yaml  Needs three  (2 attempts,"),
        "{stdout}"
    );
    assert!(
        p.read("out.xml").contains("<rerunFailure"),
        "{}",
        p.read("out.xml")
    );
    let json = json_report(&p, "out.json");
    assert_eq!(json["cases"][0]["flaky"], false);
    assert_eq!(json["cases"][0]["retries"].as_array().unwrap().len(), 1);
}

#[test]
fn too_many_retries_are_refused_before_anything_runs() {
    let p = Project::new();
    p.file(
        "flows/many.yaml",
        &fails_once(&unique("many"), "retries: 11\n"),
    );
    let out = p.run(&[]);
    assert_eq!(code(&out), 2, "{}", both(&out));
    assert!(both(&out).contains("at most 10 times"), "{}", both(&out));
    assert!(both(&out).contains("many.yaml:2"), "{}", both(&out));
    let out = p.run(&["--retries", "11"]);
    assert_eq!(code(&out), 2, "{}", both(&out));
}
