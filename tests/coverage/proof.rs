//! Proof rules: a covering case that passed counts only when it asserted what the item asks.
//! A flow that asserts nothing (only `sleep`, or `http` without `expect:`) passes no item of
//! either bundled checklist, whatever its `covers:` claims.

use std::path::Path;

use apoflow::checklist::Checklist;
use apoflow::report::coverage::{CaseOutcome, Coverage, Status};
use apoflow::report::evidence::write_evidence;
use serde_json::Value;

use crate::local::{bundled, proving_everything, run_info, step};

fn merchant() -> Checklist {
    Checklist::load(Path::new("checklists/apo-merchant-hosted.yaml")).expect("merchant checklist")
}

/// A passed case that claims every item and asserts nothing.
fn asserts_nothing(checklist: &Checklist) -> CaseOutcome {
    let mut case = proving_everything(checklist);
    case.flow = "Claims everything".to_owned();
    case.steps = vec![
        step("sleep 1 ms", "sleep", true, &[]),
        step("GET http://127.0.0.1:9/", "http", true, &[]),
        step("delivery PAYMENT_RESULT", "delivery", true, &[]),
    ];
    case
}

#[test]
fn a_flow_that_asserts_nothing_passes_no_item_of_either_checklist() {
    for checklist in [bundled(), merchant()] {
        let coverage = Coverage::compute(&checklist, &[asserts_nothing(&checklist)]);
        assert!(!coverage.ok());
        for item in &coverage.items {
            assert_eq!(item.status, Status::NotProven, "{}", item.id);
            let line = item.not_proven_line().expect("a reason");
            assert!(
                line.starts_with(&format!(
                    "{} not proven: `Claims everything` lacks a passed",
                    item.id
                )),
                "{line}"
            );
        }
        assert_eq!(coverage.counts().not_proven, checklist.items.len());
    }
}

#[test]
fn the_proof_is_what_counts_not_the_claim() {
    let checklist = merchant();
    // A real proof of every item beside the empty claim: every item passes.
    let coverage = Coverage::compute(
        &checklist,
        &[asserts_nothing(&checklist), proving_everything(&checklist)],
    );
    assert!(coverage.ok(), "{}", coverage.render_table(false));
    // Asserting the right thing in the wrong step kind, or on another API, proves nothing.
    let mut wrong = proving_everything(&checklist);
    for s in &mut wrong.steps {
        s.kind = if s.kind == "http" { "redirect" } else { "http" }.to_owned();
        s.api = s.api.as_ref().map(|_| "cancel".to_owned());
    }
    let coverage = Coverage::compute(&checklist, &[wrong]);
    assert_eq!(
        coverage.counts().passed,
        0,
        "{}",
        coverage.render_table(false)
    );
}

#[test]
fn a_failed_step_proves_nothing_and_fails_the_item() {
    let checklist = bundled();
    let mut case = proving_everything(&checklist);
    case.passed = false;
    case.steps[0].passed = false;
    let coverage = Coverage::compute(&checklist, &[case]);
    assert!(coverage.items.iter().all(|i| i.status == Status::Failed));
}

#[test]
fn not_proven_items_are_explained_in_the_table_and_the_evidence() {
    let checklist = merchant();
    let cases = vec![apoflow::report::evidence::CaseEvidence {
        outcome: asserts_nothing(&checklist),
        exchanges: Vec::new(),
    }];
    let outcomes: Vec<_> = cases.iter().map(|c| c.outcome.clone()).collect();
    let coverage = Coverage::compute(&checklist, &outcomes);
    let table = coverage.render_table(false);
    assert!(
        table.contains(
            "MR-06 not proven: `Claims everything` lacks a passed `delivery` step asserting `ack`, `latency_ms`"
        ),
        "{table}"
    );

    let dir = tempfile::tempdir().unwrap();
    write_evidence(dir.path(), &run_info(), &checklist, &coverage, &cases).unwrap();
    let summary: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("summary.json")).unwrap())
            .unwrap();
    let mr06 = summary["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == "MR-06")
        .unwrap();
    assert_eq!(mr06["status"], "not_proven");
    assert_eq!(mr06["not_proven"]["closest"], "Claims everything");
    assert_eq!(
        mr06["proof"][0],
        "a passed `delivery` step asserting `ack`, `latency_ms`"
    );
    assert_eq!(summary["counts"]["not_proven"], checklist.items.len());
    let case: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("MR-06/claims-everything.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(case["proves"], false);
    assert_eq!(case["proof"][0]["met"], false);
    let md = std::fs::read_to_string(dir.path().join("summary.md")).unwrap();
    assert!(md.contains("| NOT PROVEN |"), "{md}");
    assert!(
        md.contains("- MISSING: a passed `delivery` step asserting `ack`, `latency_ms`"),
        "{md}"
    );
}
