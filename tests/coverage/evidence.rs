//! The evidence bundle on a temporary directory: layout, summaries, per-case files, masking,
//! and rewriting over an earlier bundle.

use apoflow::report::coverage::Coverage;
use apoflow::report::evidence::write_evidence;
use serde_json::Value;

use crate::local::{CVV, EXPIRY, PAN, SECRET, bundled, cases, files_under, run_info};

/// Writes the support run's bundle into a fresh temporary directory.
fn write_bundle() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let checklist = bundled();
    let cases = cases();
    let outcomes: Vec<_> = cases.iter().map(|c| c.outcome.clone()).collect();
    let coverage = Coverage::compute(&checklist, &outcomes);
    write_evidence(dir.path(), &run_info(), &checklist, &coverage, &cases).unwrap();
    dir
}

#[test]
fn layout_one_directory_per_covered_item_one_file_per_case() {
    let dir = write_bundle();
    let names: Vec<String> = files_under(dir.path())
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    insta::assert_snapshot!(names.join("\n"));
}

#[test]
fn summary_md_for_people() {
    let dir = write_bundle();
    let md = std::fs::read_to_string(dir.path().join("summary.md")).unwrap();
    // The tool's version changes with releases; the rest of the report does not.
    insta::with_settings!({ filters => vec![(r"apoflow \d+\.\d+\.\d+\S*", "apoflow [version]")] }, {
        insta::assert_snapshot!(md);
    });
}

#[test]
fn summary_json_for_machines() {
    let dir = write_bundle();
    let text = std::fs::read_to_string(dir.path().join("summary.json")).unwrap();
    let summary: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(summary["ok"], false);
    assert_eq!(summary["run"]["subject"]["name"], "example");
    assert_eq!(summary["run"]["subject"]["url"], "http://127.0.0.1:8710");
    assert_eq!(summary["run"]["label"], "shop@1a2b3c4");
    assert!(
        summary["run"]["tool"]
            .as_str()
            .unwrap()
            .starts_with("apoflow "),
        "{}",
        summary["run"]
    );
    assert_eq!(summary["run"]["duration_ms"], 12_345);
    assert_eq!(summary["run"]["started"], "2026-11-25T21:00:00Z");
    assert_eq!(
        summary["checklist"]["file"],
        "checklists/apo-card-hosted.yaml"
    );
    let items = summary["items"].as_array().unwrap();
    assert_eq!(items.len(), bundled().items.len());
    let counts = &summary["counts"];
    let total = ["passed", "failed", "not_proven", "missing"]
        .iter()
        .map(|k| counts[k].as_u64().unwrap())
        .sum::<u64>();
    assert_eq!(total as usize, items.len());
    assert_eq!(counts["failed"], 1);

    let hm02 = items.iter().find(|i| i["id"] == "HM-02").unwrap();
    assert_eq!(hm02["status"], "failed");
    assert_eq!(hm02["failed"][0], "Terminal types [terminalType=APP]");
    assert_eq!(hm02["evidence"].as_array().unwrap().len(), 3);
    let missing = items.iter().find(|i| i["id"] == "RF-03").unwrap();
    assert_eq!(missing["status"], "missing");
    assert_eq!(missing["evidence"], Value::Array(vec![]));
    // Every listed evidence file exists.
    for item in items {
        for evidence in item["evidence"].as_array().unwrap() {
            let path = dir.path().join(evidence["path"].as_str().unwrap());
            assert!(path.is_file(), "{}", path.display());
        }
    }
}

#[test]
fn a_case_file_holds_its_exchanges_in_order() {
    let dir = write_bundle();
    let path = dir
        .path()
        .join("HM-02/terminal-types-terminaltype-app.json");
    let case: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert_eq!(case["item"], "HM-02");
    assert_eq!(case["flow"], "Terminal types");
    assert_eq!(case["case"], "terminalType=APP");
    assert_eq!(case["file"], "flows/card/terminal-types.yaml");
    assert_eq!(case["passed"], false);
    let kinds: Vec<&str> = case["exchanges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "request",
            "response",
            "request",
            "notification",
            "acknowledgement"
        ]
    );
    assert_eq!(case["exchanges"][1]["at_ms"], 41);
    assert_eq!(case["exchanges"][1]["data"]["body"]["paymentId"], "pay-1");
}

#[test]
fn no_card_number_cvv_expiry_or_secret_reaches_any_file() {
    let dir = write_bundle();
    let files = files_under(dir.path());
    assert!(files.len() > 10);
    for (name, text) in &files {
        for (what, needle) in [
            ("card number", PAN),
            ("CVV", CVV),
            ("expiry", EXPIRY),
            ("secret", SECRET),
        ] {
            assert!(
                !text.contains(needle),
                "{what} `{needle}` in {name}:\n{text}"
            );
        }
        assert!(!name.contains(PAN), "card number in the file name {name}");
    }
    // The data was there, masked, not dropped.
    let case = &files
        .iter()
        .find(|(n, _)| n == "HM-01/first-time-payment-tokenize-enabled.json")
        .unwrap()
        .1;
    assert!(case.contains("************0768"), "{case}");
    assert!(case.contains("\"cvv\": \"***\""), "{case}");
    assert!(case.contains("signature=***"), "{case}");
}

#[test]
fn rewriting_replaces_an_earlier_bundle_and_keeps_other_files() {
    let dir = write_bundle();
    // Left by an earlier run: an item directory this run does not write, and a user's notes.
    std::fs::create_dir_all(dir.path().join("RF-03")).unwrap();
    std::fs::write(dir.path().join("RF-03/old-flow.json"), "{}").unwrap();
    std::fs::write(dir.path().join("notes.txt"), "keep me").unwrap();

    let checklist = bundled();
    let cases = &cases()[..1];
    let coverage = Coverage::compute(&checklist, &[cases[0].outcome.clone()]);
    write_evidence(dir.path(), &run_info(), &checklist, &coverage, cases).unwrap();

    assert!(!dir.path().join("RF-03").exists());
    assert!(
        !dir.path().join("HM-02").exists(),
        "HM-02 is not covered by this run"
    );
    assert!(
        dir.path()
            .join("HM-01/first-time-payment-tokenize-enabled.json")
            .is_file()
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("notes.txt")).unwrap(),
        "keep me"
    );
}

#[test]
fn an_unwritable_directory_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("taken");
    std::fs::write(&file, "a file, not a directory").unwrap();
    let checklist = bundled();
    let coverage = Coverage::compute(&checklist, &[]);
    let err = write_evidence(&file, &run_info(), &checklist, &coverage, &[]).unwrap_err();
    let text = err.to_string();
    assert!(text.starts_with("failed to create "), "{text}");
    assert!(text.contains("taken"), "{text}");
}

#[test]
fn item_ids_cannot_escape_the_directory() {
    let dir = tempfile::tempdir().unwrap();
    let checklist = bundled();
    let mut coverage = Coverage::compute(&checklist, &[]);
    coverage.items[0].id = "../escaped".to_owned();
    let err = write_evidence(
        &dir.path().join("bundle"),
        &run_info(),
        &checklist,
        &coverage,
        &[],
    )
    .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    assert!(!dir.path().join("escaped").exists());
    assert!(!dir.path().join("bundle").exists(), "nothing written");
}

#[test]
fn a_case_file_shows_the_proof_met_with_its_assertions_and_messages() {
    let dir = write_bundle();
    let path = dir
        .path()
        .join("NT-02/first-time-payment-tokenize-enabled.json");
    let case: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert_eq!(case["proves"], true);
    let proof = &case["proof"][0];
    assert_eq!(
        proof["requirement"],
        "a passed `notify` step asserting `ack`"
    );
    assert_eq!(proof["met"], true);
    assert_eq!(proof["step"], "authorized");
    assert_eq!(proof["assertions"].as_array().unwrap().len(), 1);
    assert_eq!(proof["assertions"][0]["query"], "ack");
    assert_eq!(proof["assertions"][0]["actual"], "string <success>");
    let kinds: Vec<&str> = proof["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["notification", "acknowledgement"]);

    // An item whose proof asks for more than the case asserted: what was met, what was not.
    let path = dir
        .path()
        .join("HM-01/first-time-payment-tokenize-enabled.json");
    let case: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert_eq!(case["proves"], false);
    let met: Vec<bool> = case["proof"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["met"].as_bool().unwrap())
        .collect();
    assert_eq!(met, [false, true, true, false], "{}", case["proof"]);
}
