//! Flow snapshots end to end: the library writes snapshots as a run will, and the real binary
//! reviews, accepts, rejects and cleans them up (issue 6).

#[path = "support/mod.rs"]
mod support;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use apoflow::snapshot::{
    CheckContext, Outcome, SnapshotSpec, UpdateMode, check, pending_path, snapshot_path,
};
use serde_json::{Value, json};
use support::{Scratch, apoflow_cmd, repo};

/// A temporary flow project: `flows/card/pay.yaml` and its `__snapshots__` folder.
struct Project {
    dir: Scratch,
    flow: PathBuf,
}

impl Project {
    fn new() -> Project {
        let dir = Scratch::new();
        let flow = dir.write("flows/card/pay.yaml", "name: Pay\nsteps: []\n");
        Project { dir, flow }
    }

    fn root(&self) -> &Path {
        self.dir.path()
    }

    fn ctx<'a>(&'a self, step: &'a str, mode: UpdateMode) -> CheckContext<'a> {
        CheckContext {
            flow_file: &self.flow,
            root: self.root(),
            case: "Pay [card=visa]",
            step,
            mode,
            color: false,
        }
    }

    /// What the engine will do for a step with `snapshot:`.
    fn check(&self, step: &str, value: &Value, mode: UpdateMode) -> Outcome {
        check(value, &SnapshotSpec::named("result"), &self.ctx(step, mode)).expect("check")
    }

    fn snap(&self, step: &str) -> PathBuf {
        snapshot_path(&self.flow, "Pay [card=visa]", step, "result")
    }

    /// Runs `apoflow snapshots ARGS` in the project with `stdin`; returns (code, stdout, stderr).
    fn apoflow(&self, args: &[&str], stdin: &str) -> (i32, String, String) {
        let mut child = apoflow_cmd(self.root(), &["snapshots"])
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run apoflow");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8(out.stdout).unwrap(),
            String::from_utf8(out.stderr).unwrap(),
        )
    }

    /// A message with the temp dir replaced, for snapshots.
    fn tidy(&self, text: &str) -> String {
        text.replace(&self.root().display().to_string(), "[TMP]")
    }
}

/// An inquiry result as the sandbox returns it; ids and times differ on every run.
fn inquiry(payment_id: &str, status: &str, time: &str) -> Value {
    json!({
        "result": {"resultCode": "SUCCESS", "resultStatus": "S", "resultMessage": "success."},
        "paymentId": payment_id,
        "paymentRequestId": format!("req-{payment_id}"),
        "paymentStatus": status,
        "paymentAmount": {"currency": "SGD", "value": "4200"},
        "paymentCreateTime": time,
        "paymentTime": time,
        "paymentResultInfo": {
            "cardNo": "4111111111111111",
            "cardToken": format!("tok_{payment_id}"),
            "expiryMonth": "12",
            "expiryYear": "2031",
            "fingerprint": format!("fp_{payment_id}"),
        },
        "transactions": [{
            "transactionType": "CAPTURE",
            "transactionStatus": status,
            "transactionId": format!("{payment_id}-cap"),
            "transactionTime": time,
        }]
    })
}

#[test]
fn issue6_first_run_pending_accept_then_match_then_diff() {
    let p = Project::new();
    let first = inquiry("2025112500000001", "SUCCESS", "2025-11-25T21:00:00+08:00");

    // First run: a pending snapshot is written and the step fails.
    let out = p.check("inquiry", &first, UpdateMode::New);
    assert!(!out.passed());
    assert!(matches!(out, Outcome::Pending { new: true, .. }), "{out:?}");
    assert!(pending_path(&p.snap("inquiry")).is_file());
    assert!(!p.snap("inquiry").exists());
    insta::assert_snapshot!(
        "pending_file",
        std::fs::read_to_string(pending_path(&p.snap("inquiry"))).unwrap()
    );

    // Accept from a script.
    let (code, stdout, stderr) = p.apoflow(&["accept"], "");
    assert_eq!((code, stderr.as_str()), (0, ""));
    insta::assert_snapshot!("accept_stdout", stdout);
    assert!(p.snap("inquiry").is_file());
    assert!(!pending_path(&p.snap("inquiry")).exists());

    // Second run, different ids and times: redaction makes it compare equal.
    let second = inquiry("2025112599999999", "SUCCESS", "2025-11-26T08:15:30.5Z");
    let out = p.check("inquiry", &second, UpdateMode::New);
    assert!(out.passed(), "{out:?}");

    // The sandbox answers differently: the step fails with a diff naming everything.
    let changed = inquiry("2025112512345678", "FAIL", "2025-11-26T08:15:30Z");
    let spec = SnapshotSpec::named("result");
    let ctx = p.ctx("inquiry", UpdateMode::New);
    let out = check(&changed, &spec, &ctx).unwrap();
    assert!(!out.passed());
    insta::assert_snapshot!("mismatch_message", p.tidy(&out.describe(&spec, &ctx)));
}

#[test]
fn issue6_ci_mode_writes_nothing_and_says_why() {
    let p = Project::new();
    let value = inquiry("2025112500000001", "SUCCESS", "2025-11-25T21:00:00Z");
    let spec = SnapshotSpec::named("result");
    let ctx = p.ctx("inquiry", UpdateMode::Ci);

    let missing = check(&value, &spec, &ctx).unwrap();
    assert!(!missing.passed());
    assert!(!p.flow.parent().unwrap().join("__snapshots__").exists());
    insta::assert_snapshot!("ci_missing", p.tidy(&missing.describe(&spec, &ctx)));

    p.check("inquiry", &value, UpdateMode::Always);
    let changed = inquiry("2025112500000001", "PROCESSING", "2025-11-25T21:00:00Z");
    let mismatch = check(&changed, &spec, &ctx).unwrap();
    assert!(!mismatch.passed());
    assert!(!pending_path(&p.snap("inquiry")).exists());
    insta::assert_snapshot!("ci_mismatch", p.tidy(&mismatch.describe(&spec, &ctx)));
}

#[test]
fn issue6_masked_values_never_reach_the_file_nor_the_review() {
    let p = Project::new();
    let value = inquiry("2025112500000001", "SUCCESS", "2025-11-25T21:00:00Z");
    p.check("inquiry", &value, UpdateMode::New);
    let text = std::fs::read_to_string(pending_path(&p.snap("inquiry"))).unwrap();
    assert!(!text.contains("4111111111111111"), "{text}");
    assert!(!text.contains("2031"), "{text}");
    assert!(text.contains("************1111"), "{text}");

    // Even a hand-made pending file cannot leak a card number through the review.
    let hand = p.flow.parent().unwrap().join("__snapshots__/hand.snap.new");
    std::fs::write(
        &hand,
        "---\nsource: pay.yaml\nexpression: \"x: request\"\n---\n{\"pan\": \"5555555555554444\"}\n",
    )
    .unwrap();
    let (code, stdout, _) = p.apoflow(&["review"], "s\ns\n");
    assert_eq!(code, 0);
    assert!(!stdout.contains("5555555555554444"), "{stdout}");
    assert!(stdout.contains("************4444"), "{stdout}");
}

#[test]
fn the_files_are_insta_snapshots() {
    let p = Project::new();
    let value = inquiry("2025112500000001", "SUCCESS", "2025-11-25T21:00:00Z");
    p.check("inquiry", &value, UpdateMode::Always);
    let path = p.snap("inquiry");
    let snap = insta::Snapshot::from_file(&path).expect("insta reads our file");
    assert_eq!(snap.metadata().source(), Some("flows/card/pay.yaml"));
    assert_eq!(snap.metadata().expression(), Some("inquiry: response"));
    let ours = apoflow::snapshot::read_snap(&path).unwrap().unwrap();
    assert_eq!(
        snap.as_text().expect("a text snapshot").to_string(),
        ours.contents
    );
    assert_eq!(snap.snapshot_name(), Some("result"));
}

#[test]
fn review_with_piped_answers() {
    let p = Project::new();
    let ok = inquiry("2025112500000001", "SUCCESS", "2025-11-25T21:00:00Z");
    for step in ["a-capture", "b-refund", "c-cancel"] {
        p.check(step, &ok, UpdateMode::Always);
    }
    let failed = inquiry("2025112500000001", "FAIL", "2025-11-25T21:00:00Z");
    for step in ["a-capture", "b-refund", "c-cancel"] {
        p.check(step, &failed, UpdateMode::New);
    }
    p.check("d-new", &ok, UpdateMode::New);

    // Accept the first after a typo, reject the second; input ends before the rest.
    let (code, stdout, stderr) = p.apoflow(&["review"], "maybe\na\nreject\n");
    assert_eq!((code, stderr.as_str()), (0, ""));
    insta::assert_snapshot!("review_stdout", stdout);

    let read = |step: &str| std::fs::read_to_string(p.snap(step)).unwrap();
    assert!(read("a-capture").contains("\"FAIL\""));
    assert!(!read("b-refund").contains("\"FAIL\""));
    assert!(!pending_path(&p.snap("b-refund")).exists());
    assert!(pending_path(&p.snap("c-cancel")).exists());
    assert!(pending_path(&p.snap("d-new")).exists());

    // Nothing pending under a path without pending files.
    let (code, stdout, _) = p.apoflow(&["review", "flows/card/pay.yaml"], "");
    assert_eq!((code, stdout.as_str()), (0, "no pending snapshots\n"));
}

#[test]
fn reject_deletes_only_the_named_pending_files() {
    let p = Project::new();
    let ok = inquiry("2025112500000001", "SUCCESS", "2025-11-25T21:00:00Z");
    p.check("one", &ok, UpdateMode::New);
    p.check("two", &ok, UpdateMode::New);
    let one = p.snap("one");
    let rel = one.strip_prefix(p.root()).unwrap().display().to_string();
    let (code, stdout, _) = p.apoflow(&["reject", &rel], "");
    assert_eq!(code, 0);
    assert_eq!(stdout, format!("rejected {rel}.new\nrejected 1 snapshot\n"));
    assert!(!pending_path(&one).exists());
    assert!(pending_path(&p.snap("two")).exists());
}

#[test]
fn check_lists_and_removes_stale_snapshots() {
    let p = Project::new();
    let ok = inquiry("2025112500000001", "SUCCESS", "2025-11-25T21:00:00Z");
    p.check("kept", &ok, UpdateMode::Always);
    p.check("renamed-away", &ok, UpdateMode::Always);
    // A flow file that was deleted after its snapshot was accepted.
    let gone = p.root().join("flows/card/refund.yaml");
    std::fs::write(&gone, "name: Refund\n").unwrap();
    check(
        &ok,
        &SnapshotSpec::named("result"),
        &CheckContext {
            flow_file: &gone,
            ..p.ctx("refund", UpdateMode::Always)
        },
    )
    .unwrap();
    std::fs::remove_file(&gone).unwrap();

    let (code, stdout, stderr) = p.apoflow(&["check"], "");
    assert_eq!((code, stderr.as_str()), (1, ""));
    insta::assert_snapshot!("check_flow_missing", stdout);

    // The run recorded which snapshots it produced.
    let kept = p.snap("kept");
    std::fs::write(
        p.root().join("expected.txt"),
        format!("{}\n", kept.strip_prefix(p.root()).unwrap().display()),
    )
    .unwrap();
    let (code, stdout, _) = p.apoflow(&["check", "--expected", "expected.txt"], "");
    assert_eq!(code, 1);
    insta::assert_snapshot!("check_expected", stdout);

    let (code, stdout, _) = p.apoflow(&["check", "--expected", "expected.txt", "--remove"], "");
    assert_eq!(code, 0);
    insta::assert_snapshot!("check_remove", stdout);
    assert!(kept.exists());
    assert!(!p.snap("renamed-away").exists());

    let (code, stdout, _) = p.apoflow(&["check", "--expected", "expected.txt"], "");
    assert_eq!(
        (code, stdout.as_str()),
        (0, "no stale snapshots (1 file checked)\n")
    );
}

#[test]
fn bad_input_exits_2_with_a_clear_message() {
    let p = Project::new();
    let (code, stdout, stderr) = p.apoflow(&["accept", "no/such/dir"], "");
    assert_eq!((code, stdout.as_str()), (2, ""));
    insta::assert_snapshot!("missing_path", stderr);

    let (code, _, stderr) = p.apoflow(&["check", "--expected", "missing.txt"], "");
    assert_eq!(code, 2);
    assert!(
        stderr.starts_with("error: failed to read missing.txt: "),
        "{stderr}"
    );

    let bad = p
        .flow
        .parent()
        .unwrap()
        .join("__snapshots__/broken.snap.new");
    std::fs::create_dir_all(bad.parent().unwrap()).unwrap();
    std::fs::write(&bad, "---\nsource: pay.yaml\n").unwrap();
    let (code, _, stderr) = p.apoflow(&["review"], "a\n");
    assert_eq!(code, 2);
    insta::assert_snapshot!("broken_pending", stderr);
}

#[test]
fn help_text() {
    let out = apoflow_cmd(&repo(), &["snapshots", "--help"])
        .env("COLUMNS", "100")
        .output()
        .expect("run apoflow");
    assert_eq!(out.status.code(), Some(0));
    insta::assert_snapshot!("help", String::from_utf8(out.stdout).unwrap());
}
