//! The flow library, checklist coverage and snapshot wiring end to end (issues 5 and 6): the
//! real binary, real HTTP on 127.0.0.1.
//!
//! - snapshot wiring: `snapshot:` on a step against a local APO-like server whose answers carry
//!   fresh ids and a card number (tests/library/local.rs);
//! - `--checklist` / `--evidence` on small flows;
//! - the bundled library: `apoflow run flows/` and `--checklist checklists/apo-card-hosted.yaml`
//!   in the repository, against the embedded sandbox.

#[path = "library/local.rs"]
mod local;
#[path = "support/mod.rs"]
mod support;

use local::{CARD, Project, server};
use support::{apoflow_in, both, code, copy_dir};

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
    assert!(
        out.contains("actual:   new: no "),
        "a new snapshot is not said to differ:\n{out}"
    );
    assert!(!out.contains("differs from"), "{out}");
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
    insta::with_settings!({filters => vec![
        (r"P[0-9a-f]{32}", "[paymentId]"),
        (r"\d{4}-\d\d-\d\dT[0-9:.]+Z", "[datetime]"),
        (r"127\.0\.0\.1:\d+", "127.0.0.1:[port]"),
        (r"\(\d+ ms\)", "([ms] ms)"),
        (r"in \d+\.\d+ s", "in [s] s"),
    ]}, {
        insta::assert_snapshot!("snapshot_drift", out);
    });
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
        both(&missing).contains("actual:   new: no "),
        "{}",
        both(&missing)
    );
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
    proof: [ { step: http, checks: [$.paymentStatus] } ]
  - id: RF-01
    title: Full refund
    passing: nobody covers this one.
    proof: [ { assertion: any } ]
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
fn a_flow_that_asserts_nothing_proves_nothing_and_fails_the_run() {
    let p = Project::new();
    p.write(
        "flows/empty.yaml",
        &format!(
            "name: Claims much\ncovers: [HM-01, RF-01]\nsteps:\n  - sleep: 1ms\n  - http: {{ url: \"{}/inquiry?status=SUCCESS\" }}\n",
            server()
        ),
    );
    p.write("checklist.yaml", CHECKLIST);
    let out = run(
        &p,
        &[
            "--checklist",
            "checklist.yaml",
            "--evidence",
            "evidence",
            "--evidence-label",
            "build 7",
        ],
        &[],
    );
    assert_eq!(code(&out), 1, "{}", both(&out));
    let text = both(&out);
    assert!(
        text.contains("1 passed, 0 failed, 0 errored"),
        "the flow itself passed: {text}"
    );
    for id in ["HM-01", "RF-01"] {
        let row = text.lines().find(|l| l.starts_with(id)).expect(&text);
        assert!(row.ends_with("NOT PROVEN"), "{text}");
    }
    assert!(
        text.contains(
            "HM-01 not proven: `Claims much` lacks a passed `http` step asserting `$.paymentStatus`"
        ),
        "{text}"
    );
    let summary = std::fs::read_to_string(p.path().join("evidence/summary.md")).unwrap();
    assert!(summary.contains("- Label: build 7"), "{summary}");
    assert!(summary.contains("| NOT PROVEN |"), "{summary}");
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

/// A copy of the repository's `flows/`, `fixtures/` and `checklists/` in a temporary project,
/// so a test can break one flow's input and run it.
fn library_copy() -> Project {
    let p = Project::new();
    for dir in ["flows", "fixtures", "checklists"] {
        copy_dir(&repo().join(dir), &p.path().join(dir));
    }
    p
}

/// Replaces `from` by `to` in a flow of the copy (exactly once) and runs that flow alone.
fn run_broken(p: &Project, flow: &str, from: &str, to: &str) -> std::process::Output {
    let path = p.path().join(flow);
    let text = std::fs::read_to_string(&path).expect("the flow");
    assert_eq!(text.matches(from).count(), 1, "`{from}` once in {flow}");
    std::fs::write(&path, text.replace(from, to)).expect("write");
    let run = if flow.contains("/_partials/") {
        "flows/clock/time-driven.yaml"
    } else {
        flow
    };
    p.apoflow(&["run", run], &[("CI", "true")])
}

#[test]
fn the_bundled_library_passes_against_the_embedded_sandbox() {
    let out = apoflow_in(
        repo(),
        &[
            "run",
            "--checklist",
            "checklists/apo-card-hosted.yaml",
            "flows",
        ],
        &[("CI", "true")],
    );
    let text = both(&out);
    assert_eq!(code(&out), 0, "{text}");
    assert!(
        text.contains("27 items: 27 passed, 0 failed, 0 not proven, 0 missing"),
        "{text}"
    );
    for secret in [CARD, "5162774114974622", "4035501000000008", "PRIVATE KEY"] {
        assert!(!text.contains(secret), "`{secret}` in the output");
    }
}

#[test]
fn no_card_number_cvv_or_key_reaches_any_output_or_evidence_file() {
    let p = library_copy();
    let out = p.apoflow(
        &[
            "run",
            "--checklist",
            "checklists/apo-card-hosted.yaml",
            "--evidence",
            "evidence",
            "--junit",
            "junit.xml",
            "--json",
            "report.json",
            "flows",
        ],
        &[("CI", "true")],
    );
    assert_eq!(code(&out), 0, "{}", both(&out));
    let files = p.files("evidence");
    assert!(files.iter().any(|f| f.starts_with("HM-01/")), "{files:?}");
    let mut all = both(&out);
    for f in files
        .iter()
        .map(|f| format!("evidence/{f}"))
        .chain(["junit.xml".into(), "report.json".into()])
    {
        all.push_str(&std::fs::read_to_string(p.path().join(f)).unwrap());
    }
    assert!(
        all.contains("PAYMENT_RESULT"),
        "the notifications are in the evidence"
    );
    // Every test card number, the CVV the buyer types, and the merchant's private key.
    let cards = std::fs::read_to_string(repo().join("fixtures/cards.yaml")).unwrap();
    let numbers: Vec<&str> = cards
        .split("number: \"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .collect();
    assert!(numbers.len() > 10, "{numbers:?}");
    let key = std::fs::read_to_string(repo().join("fixtures/keys/merchant-private.pem")).unwrap();
    let key_line = key.lines().nth(1).expect("a PEM body line");
    for secret in numbers
        .iter()
        .copied()
        .chain(["\"cvv\": \"123\"", "PRIVATE KEY", key_line])
    {
        assert!(
            !all.contains(secret),
            "`{secret}` in an output or evidence file"
        );
    }
}

/// Each negative flow fails once the sandbox is made to accept what the flow says it must
/// reject: the same request, made valid, reaches the sandbox and the flow's check trips.
#[test]
fn negative_flows_fail_when_what_they_guard_is_not_rejected() {
    let cases = [
        // The request is signed after all: a sandbox that did not check signatures.
        (
            "flows/protocol/invalid-signature.yaml",
            "      sign: false\n",
            "",
        ),
        // Nothing left out: a sandbox that did not validate the field.
        (
            "flows/protocol/param-illegal.yaml",
            "      body: \"{{ without[field] }}\"\n",
            "",
        ),
        // Within the authorized amount: a sandbox that did not check the limit.
        (
            "flows/after-payment/capture-above-auth.yaml",
            "value: \"30001\"",
            "value: \"30000\"",
        ),
        // Within the captured amount.
        (
            "flows/after-payment/refund-partial.yaml",
            "value: \"5001\"",
            "value: \"5000\"",
        ),
        // Not a risk amount.
        (
            "flows/card/risk-reject.yaml",
            "paymentAmount: { value: \"11\" }",
            "paymentAmount: { value: \"12\" }",
        ),
        // Not a decline card.
        (
            "flows/card/declined.yaml",
            "card: [visa_fail, mastercard_fail]",
            "card: [visa_success]",
        ),
    ];
    for (flow, from, to) in cases {
        let p = library_copy();
        let out = run_broken(&p, flow, from, to);
        assert_eq!(code(&out), 1, "{flow} still passed:\n{}", both(&out));
        assert!(both(&out).contains("failed"), "{flow}: {}", both(&out));
    }
}

#[test]
fn the_resend_flow_fails_when_no_resend_arrives() {
    // The first notification is acknowledged: nothing is resent, the count stays 1 (and the
    // wait for a second delivery is cut to a second).
    let p = library_copy();
    let partial = p
        .path()
        .join("flows/_partials/_resend-after-failed-ack.yaml");
    let text = std::fs::read_to_string(&partial).unwrap();
    assert!(text.contains("      within: 10s\n"));
    std::fs::write(
        &partial,
        text.replace("      within: 10s\n", "      within: 1s\n"),
    )
    .unwrap();
    let out = run_broken(
        &p,
        "flows/_partials/_resend-after-failed-ack.yaml",
        "      ack: fail\n",
        "      ack: success\n",
    );
    assert_eq!(code(&out), 1, "{}", both(&out));
}

#[test]
fn the_committed_library_snapshots_catch_drift_and_ci_writes_nothing() {
    let p = library_copy();
    // A contract change: the committed inquiry-after-refund snapshot expects another currency.
    let dir = p.path().join("flows/after-payment/__snapshots__");
    let snap = std::fs::read_dir(&dir)
        .expect("committed snapshots")
        .flatten()
        .map(|e| e.path())
        .find(|f| f.to_string_lossy().contains("inquiry-after-refund"))
        .expect("the inquiry-after-refund snapshot");
    let text = std::fs::read_to_string(&snap).unwrap();
    std::fs::write(&snap, text.replacen("\"HKD\"", "\"SGD\"", 1)).unwrap();
    let before = p.files("flows");
    let out = p.apoflow(
        &["run", "flows/after-payment/refund-full.yaml"],
        &[("CI", "true")],
    );
    let text = both(&out);
    assert_eq!(code(&out), 1, "{text}");
    assert!(text.contains(r#"-    "currency": "SGD","#), "{text}");
    assert!(text.contains(r#"+    "currency": "HKD","#), "{text}");
    assert!(text.contains("inquiry_after_refund"), "{text}");
    assert_eq!(p.files("flows"), before, "CI mode wrote a file");
}

#[test]
fn a_run_lists_the_snapshots_it_checked_so_stale_ones_are_found() {
    let p = snapshot_project();
    assert_eq!(code(&run(&p, &["--update-snapshots"], &[])), 0);
    // The step is renamed: its old snapshot is produced by no step any more.
    let flow = p.path().join("flows/inquiry.yaml");
    let text = std::fs::read_to_string(&flow).unwrap();
    std::fs::write(&flow, text.replace("id: inquiry", "id: lookup")).unwrap();
    let out = run(
        &p,
        &["--update-snapshots", "--list-snapshots", "checked.txt"],
        &[],
    );
    assert_eq!(code(&out), 0, "{}", both(&out));
    let listed = std::fs::read_to_string(p.path().join("checked.txt")).unwrap();
    assert!(
        listed.contains("__lookup__inquiry-after-capture.snap"),
        "{listed}"
    );
    let check = p.apoflow(
        &["snapshots", "check", "--expected", "checked.txt", "flows"],
        &[],
    );
    assert_eq!(code(&check), 1, "{}", both(&check));
    assert!(both(&check).contains(&SNAP[20..]), "{}", both(&check));
    let remove = p.apoflow(
        &[
            "snapshots",
            "check",
            "--expected",
            "checked.txt",
            "--remove",
            "flows",
        ],
        &[],
    );
    assert_eq!(code(&remove), 0, "{}", both(&remove));
    assert_eq!(
        p.files("flows/__snapshots__"),
        ["inquiry__Inquiry-after-capture__lookup__inquiry-after-capture.snap"]
    );
}
