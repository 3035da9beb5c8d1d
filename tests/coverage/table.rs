//! The coverage table printed after a run with `--checklist`.

use apoflow::report::coverage::{CaseOutcome, Coverage, Status};

use crate::local::{bundled, cases, proving_everything};

fn outcomes() -> Vec<CaseOutcome> {
    cases().into_iter().map(|c| c.outcome).collect()
}

#[test]
fn table_of_a_run_with_a_failure_and_missing_items() {
    let coverage = Coverage::compute(&bundled(), &outcomes());
    assert!(!coverage.ok());
    let hm02 = coverage.items.iter().find(|i| i.id == "HM-02").unwrap();
    assert_eq!(hm02.status, Status::Failed);
    assert_eq!(hm02.failed, ["Terminal types [terminalType=APP]"]);
    insta::assert_snapshot!(coverage.render_table(false));
}

#[test]
fn a_fully_covered_and_proven_run_is_ok() {
    let checklist = bundled();
    let outcome = proving_everything(&checklist);
    let coverage = Coverage::compute(&checklist, &[outcome]);
    assert!(coverage.ok(), "{}", coverage.render_table(false));
    let table = coverage.render_table(false);
    let last = table.lines().last().unwrap();
    let n = checklist.items.len();
    assert_eq!(
        last,
        format!("{n} items: {n} passed, 0 failed, 0 not proven, 0 missing")
    );
}

#[test]
fn colour_only_on_the_status() {
    let coverage = Coverage::compute(&bundled(), &outcomes());
    let coloured = coverage.render_table(true);
    let plain = coverage.render_table(false);
    assert_ne!(coloured, plain);
    // Stripping the colour codes gives the plain table back, upper-case words and all.
    let stripped = regex::Regex::new("\u{1b}\\[[0-9;]*m")
        .unwrap()
        .replace_all(&coloured, "");
    assert_eq!(stripped, plain);
}
