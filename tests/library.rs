//! The flow library, checklist coverage and snapshot wiring end to end (issues 5 and 6): the
//! real binary, real HTTP on 127.0.0.1.
//!
//! - snapshot wiring: `snapshot:` on a step against a local APO-like server whose answers carry
//!   fresh ids and a card number (tests/library/support.rs);
//! - `--checklist` / `--evidence` on small flows;
//! - the bundled library: `apoflow run flows/` and `--checklist checklists/apo-card-hosted.yaml`
//!   in the repository, against the embedded sandbox.

#[path = "library/support.rs"]
mod support;

use support::{CARD, Project, apoflow_in, both, code, server};

const SNAP: &str =
    "flows/__snapshots__/inquiry__Inquiry-after-capture__inquiry__inquiry-after-capture.snap";

/// A project with one flow whose inquiry step is pinned by a snapshot.
fn snapshot_project() -> Project {
    let p = Project::new();
    p.write(
        "flows/inquiry.yaml",
        &format!(
            r#"name: Inquiry after capture
covers: [HM-01]
vars:
  status: SUCCESS
steps:
  - id: inquiry
    http: {{ url: "{}/inquiry?status={{{{ status }}}}" }}
    expect:
      $.paymentStatus: "{{{{ status }}}}"
    snapshot: inquiry-after-capture
"#,
            server()
        ),
    );
    p
}

fn run(p: &Project, extra: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut args = vec!["run"];
    args.extend_from_slice(extra);
    args.push("flows");
    p.apoflow(&args, env)
}

#[test]
fn a_new_snapshot_is_pending_and_fails_then_accepted_it_passes_and_drift_shows_a_diff() {
    let p = snapshot_project();

    // First run: no accepted snapshot, so a pending one is written and the step fails.
    let first = run(&p, &[], &[]);
    assert_eq!(code(&first), 1, "{}", both(&first));
    let out = both(&first);
    assert!(out.contains("is new"), "{out}");
    assert!(out.contains("apoflow snapshots accept"), "{out}");
    assert_eq!(
        p.files("flows/__snapshots__"),
        [format!("{}.new", &SNAP[20..])]
    );

    // Accept it; the second run (new ids, new times) passes.
    let accept = p.apoflow(&["snapshots", "accept", "flows"], &[]);
    assert_eq!(code(&accept), 0, "{}", both(&accept));
    assert_eq!(p.files("flows/__snapshots__"), [&SNAP[20..]]);
    let second = run(&p, &[], &[]);
    assert_eq!(code(&second), 0, "{}", both(&second));

    // The server's answer changes: the run fails with a line diff naming file, step, snapshot.
    let drift = run(&p, &["--var", "status=FAIL"], &[]);
    assert_eq!(code(&drift), 1, "{}", both(&drift));
    let out = both(&drift);
    assert!(out.contains(r#"-  "paymentStatus": "SUCCESS""#), "{out}");
    assert!(out.contains(r#"+  "paymentStatus": "FAIL""#), "{out}");
    assert!(out.contains("flows/inquiry.yaml"), "{out}");
    assert!(out.contains("step `inquiry`"), "{out}");
    assert!(out.contains("inquiry-after-capture"), "{out}");
}

#[test]
fn redaction_makes_runs_with_different_ids_equal_and_masks_the_card() {
    let p = snapshot_project();
    let write = run(&p, &["--update-snapshots"], &[]);
    assert_eq!(code(&write), 0, "{}", both(&write));
    let snap = std::fs::read_to_string(p.path().join(SNAP)).expect("written");
    assert!(snap.contains(r#""paymentId": "[paymentId]""#), "{snap}");
    assert!(!snap.contains(CARD), "{snap}");
    assert!(
        snap.contains("0768"),
        "the masked card keeps its last four: {snap}"
    );
    // Two more runs, each with a fresh paymentId and time, compare equal in CI mode.
    for _ in 0..2 {
        let again = run(&p, &[], &[("CI", "true")]);
        assert_eq!(code(&again), 0, "{}", both(&again));
        assert!(!both(&again).contains(CARD));
    }
}

#[test]
fn ci_mode_writes_nothing_and_says_why() {
    let p = snapshot_project();
    let missing = run(&p, &[], &[("CI", "true")]);
    assert_eq!(code(&missing), 1, "{}", both(&missing));
    assert!(both(&missing).contains("is missing"), "{}", both(&missing));
    assert!(
        both(&missing).contains("nothing written"),
        "{}",
        both(&missing)
    );
    assert!(p.files("flows/__snapshots__").is_empty());

    assert_eq!(code(&run(&p, &["--update-snapshots"], &[])), 0);
    let before = std::fs::read_to_string(p.path().join(SNAP)).unwrap();
    let drift = run(&p, &["--var", "status=FAIL"], &[("CI", "true")]);
    assert_eq!(code(&drift), 1, "{}", both(&drift));
    assert_eq!(p.files("flows/__snapshots__"), [&SNAP[20..]]);
    assert_eq!(
        std::fs::read_to_string(p.path().join(SNAP)).unwrap(),
        before
    );
}

#[test]
fn a_bad_apoflow_update_value_is_invalid_configuration() {
    let p = snapshot_project();
    let out = run(&p, &[], &[("APOFLOW_UPDATE", "sometimes")]);
    assert_eq!(code(&out), 2, "{}", both(&out));
    assert!(both(&out).contains("APOFLOW_UPDATE"), "{}", both(&out));
}

const CHECKLIST: &str = r#"name: Test checklist
items:
  - id: HM-01
    title: Inquiry works
    passing: the inquiry answers SUCCESS.
  - id: RF-01
    title: Full refund
    passing: nobody covers this one.
"#;

#[test]
fn checklist_coverage_is_printed_and_missing_items_fail_the_run() {
    let p = snapshot_project();
    p.write("checklist.yaml", CHECKLIST);
    assert_eq!(code(&run(&p, &["--update-snapshots"], &[])), 0);
    let out = run(
        &p,
        &["--checklist", "checklist.yaml", "--evidence", "evidence"],
        &[],
    );
    assert_eq!(code(&out), 1, "{}", both(&out));
    let text = both(&out);
    let hm01 = text.lines().find(|l| l.starts_with("HM-01")).expect(&text);
    assert!(
        hm01.contains("Inquiry after capture") && hm01.contains("passed"),
        "{text}"
    );
    let rf01 = text.lines().find(|l| l.starts_with("RF-01")).expect(&text);
    assert!(rf01.contains("MISSING"), "{text}");

    // The evidence: per item, the masked request and response.
    let files = p.files("evidence");
    assert!(files.contains(&"summary.json".to_owned()), "{files:?}");
    assert!(files.iter().any(|f| f.starts_with("HM-01/")), "{files:?}");
    let all = p.all_text();
    assert!(!all.contains(CARD), "a card number reached a file");
    let evidence = std::fs::read_to_string(
        p.path()
            .join("evidence")
            .join(files.iter().find(|f| f.starts_with("HM-01/")).unwrap()),
    )
    .unwrap();
    assert!(evidence.contains("paymentStatus"), "{evidence}");
    assert!(evidence.contains("\"request\""), "{evidence}");
}

#[test]
fn a_failing_covering_flow_fails_its_item() {
    let p = snapshot_project();
    p.write("checklist.yaml", CHECKLIST);
    assert_eq!(code(&run(&p, &["--update-snapshots"], &[])), 0);
    let out = run(
        &p,
        &["--checklist", "checklist.yaml", "--var", "status=FAIL"],
        &[("CI", "true")],
    );
    assert_eq!(code(&out), 1, "{}", both(&out));
    let text = both(&out);
    let hm01 = text.lines().find(|l| l.starts_with("HM-01")).expect(&text);
    assert!(hm01.contains("FAILED"), "{text}");
}

#[test]
fn checklist_mistakes_stop_the_run_before_anything_is_sent() {
    let p = snapshot_project();
    p.write("checklist.yaml", &CHECKLIST.replace("HM-01", "HM-02"));
    let typo = run(&p, &["--checklist", "checklist.yaml"], &[]);
    assert_eq!(code(&typo), 2, "{}", both(&typo));
    assert!(both(&typo).contains("HM-01"), "{}", both(&typo));
    assert!(p.files("flows/__snapshots__").is_empty(), "nothing ran");

    let evidence_alone = run(&p, &["--evidence", "evidence"], &[]);
    assert_eq!(code(&evidence_alone), 2, "{}", both(&evidence_alone));
    assert!(both(&evidence_alone).contains("--checklist"));

    let no_file = run(&p, &["--checklist", "nope.yaml"], &[]);
    assert_eq!(code(&no_file), 2, "{}", both(&no_file));
}

/// The repository root, where `flows/`, `fixtures/` and `checklists/` are.
fn repo() -> &'static std::path::Path {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn the_bundled_library_validates_and_covers_every_checklist_item() {
    let out = apoflow_in(repo(), &["validate", "flows"], &[]);
    assert_eq!(code(&out), 0, "{}", both(&out));
    // Every item of the bundled checklist is named by some flow's `covers:`.
    let checklist = std::fs::read_to_string(repo().join("checklists/apo-card-hosted.yaml"))
        .expect("the checklist");
    let list = apoflow_in(repo(), &["list", "flows"], &[]);
    let listed = both(&list);
    for id in checklist
        .lines()
        .filter_map(|l| l.trim().strip_prefix("- id: "))
    {
        assert!(listed.contains(id), "no flow covers {id}:\n{listed}");
    }
}
