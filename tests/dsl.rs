//! The flow DSL through the real binary: `validate` over a corpus of broken flows (each error
//! snapshotted with its exit code), good flows that validate and list, and `schema`.

#[path = "support/mod.rs"]
mod support;

use std::path::Path;
use std::process::Output;

use support::{code, repo};

/// Runs `apoflow` with `args` in the crate root (so that paths in messages are relative).
fn apoflow(args: &[&str]) -> Output {
    apoflow_in(&repo(), args)
}

fn apoflow_in(dir: &Path, args: &[&str]) -> Output {
    support::apoflow_in(dir, args, &[])
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

// ---- broken flows: each one error, precisely ---------------------------------------------

#[test]
fn every_broken_flow_gets_its_own_precise_error() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut titles = std::collections::BTreeSet::new();
    let mut files = 0;
    insta::glob!("corpus/broken/*.yaml", |path| {
        let rel = path
            .strip_prefix(root)
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned();
        let out = apoflow(&["validate", &rel]);
        let stderr = text(&out.stderr);
        assert_eq!(code(&out), 2, "{rel}: exit code\n{stderr}");
        assert!(out.stdout.is_empty(), "{rel}: nothing on stdout");
        assert!(!stderr.contains("panicked"), "{rel}: panicked\n{stderr}");
        titles.insert(stderr.lines().next().unwrap_or_default().to_owned());
        files += 1;
        insta::assert_snapshot!(format!("exit code: {}\n{stderr}", code(&out)));
    });
    // Each file is a distinct error: no two files open with the same message.
    assert!(files >= 25, "the corpus has {files} files");
    assert_eq!(
        titles.len(),
        files,
        "two broken files give the same first error"
    );
}

#[test]
fn errors_of_every_file_are_collected_in_one_run() {
    let out = apoflow(&[
        "validate",
        "tests/corpus/broken/10-no-action.yaml",
        "tests/corpus/broken/23-duplicate-step-id.yaml",
        "tests/corpus/broken/46-many-errors.yaml",
    ]);
    assert_eq!(code(&out), 2);
    let stderr = text(&out.stderr);
    assert_eq!(stderr.matches("\nerror: ").count() + 1, 8, "{stderr}");
    assert!(
        stderr.ends_with("8 errors in 3 files; nothing was run\n"),
        "{stderr}"
    );
}

#[test]
fn yaml_in_a_flows_folder_that_is_not_a_flow_is_left_out_with_a_note() {
    let project = support::Scratch::new();
    project.write("flows/ping.yaml", "name: Ping\nsteps:\n  - sleep: 1ms\n");
    let cards = std::fs::read_to_string(repo().join("fixtures/cards.yaml")).unwrap();
    project.write("flows/fixtures/cards.yaml", &cards);
    let checklist =
        std::fs::read_to_string(repo().join("checklists/apo-card-hosted.yaml")).unwrap();
    project.write("flows/checklist.yaml", &checklist);
    project.write("flows/typo.yaml", "name: Typo\nstpes:\n  - sleep: 1ms\n");

    let out = apoflow_in(project.path(), &["list", "flows/"]);
    // The typo is still a (broken) flow: a misspelt `steps:` must not pass unseen.
    assert_eq!(code(&out), 2, "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("unknown key `stpes`"),
        "{}",
        text(&out.stderr)
    );
    std::fs::remove_file(project.path().join("flows/typo.yaml")).unwrap();

    let out = apoflow_in(project.path(), &["list", "flows/"]);
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "flows/ping.yaml  Ping\n");
    insta::assert_snapshot!(text(&out.stderr));
    // Named explicitly, a file is read as a flow whatever it holds.
    let out = apoflow_in(project.path(), &["validate", "flows/fixtures/cards.yaml"]);
    assert_eq!(code(&out), 2);
}

#[test]
fn a_missing_path_is_invalid_input() {
    let out = apoflow(&["validate", "tests/corpus/no-such-folder"]);
    assert_eq!(code(&out), 2);
    insta::assert_snapshot!(text(&out.stderr));
}

#[test]
fn the_default_path_is_flows() {
    let dir = tempfile::tempdir().unwrap();
    let out = apoflow_in(dir.path(), &["validate"]);
    assert_eq!(code(&out), 2);
    assert!(
        text(&out.stderr).contains("--> flows\n"),
        "{}",
        text(&out.stderr)
    );

    std::fs::create_dir(dir.path().join("flows")).unwrap();
    std::fs::write(
        dir.path().join("flows/one.yaml"),
        "name: one\nsteps:\n  - sleep: 1ms\n",
    )
    .unwrap();
    let out = apoflow_in(dir.path(), &["validate"]);
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "ok: 1 flow (1 case), no errors\n");
}

#[test]
fn hostile_input_never_panics() {
    let dir = tempfile::tempdir().unwrap();
    let cases: &[&[u8]] = &[
        b"\xff\xfe not utf-8",
        b"name: x\nsteps:\n  - &a [*a]\n",
        b"a: &a [*a, *a, *a, *a]\nb: &b [*a, *a, *a, *a]\nc: [*b, *b, *b, *b]\n",
        b"name: x\nsteps:\n  - http: { url: \"{{ \" }\n",
        b"name: x\nsteps:\n  - http: { url: x }\n    expect: { \"$[?@.a == 'x' && length(@.b) > 99999999999999999999]\": 1 }\n",
        b"name: x\nsteps:\n  - http: { url: x }\n    expect: { \"$[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\": 1 }\n",
        b"name: x\nsteps:\n  - sleep: 99999999999999999999999h\n",
        b"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",
        b"name: x\nsteps:\n  - http: { url: x }\n    expect: { $.a: { length: -1 } }\n",
        b"name: x\nsteps:\n  - http: { url: x }\n    expect: { $.a: { matches: \"a{99999999}\" } }\n",
    ];
    for (i, bytes) in cases.iter().enumerate() {
        let path = dir.path().join(format!("hostile-{i}.yaml"));
        std::fs::write(&path, bytes).unwrap();
        let out = apoflow(&["validate", path.to_str().unwrap()]);
        let stderr = text(&out.stderr);
        assert_eq!(code(&out), 2, "case {i}: {stderr}");
        assert!(!stderr.contains("panicked"), "case {i}: {stderr}");
        assert!(stderr.starts_with("error: "), "case {i}: {stderr}");
    }
}

// ---- good flows --------------------------------------------------------------------------

#[test]
fn good_flows_validate() {
    let out = apoflow(&["validate", "tests/corpus/good"]);
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "ok: 3 flows (6 cases), no errors\n");
    assert!(out.stderr.is_empty());
}

#[test]
fn list_shows_cases_tags_and_covers() {
    let out = apoflow(&["list", "tests/corpus/good"]);
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    insta::assert_snapshot!(text(&out.stdout));
}

#[test]
fn list_filters_by_tag_expression() {
    let out = apoflow(&["list", "tests/corpus/good", "--tags", "card and not slow"]);
    assert_eq!(code(&out), 0);
    let stdout = text(&out.stdout);
    assert_eq!(stdout.lines().count(), 4, "{stdout}");
    assert!(stdout.lines().all(|l| l.contains("payment.yaml")));

    let out = apoflow(&[
        "list",
        "tests/corpus/good",
        "--tags",
        "smoke or (slow and card)",
    ]);
    let stdout = text(&out.stdout);
    assert_eq!(stdout.lines().count(), 2, "{stdout}");

    let out = apoflow(&["list", "tests/corpus/good", "--tags", "card and"]);
    assert_eq!(code(&out), 2);
    insta::assert_snapshot!(text(&out.stderr));
}

#[test]
fn list_json_parses_back() {
    let out = apoflow(&["list", "tests/corpus/good", "--json"]);
    assert_eq!(code(&out), 0);
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 6);
    let first_case = &list[1];
    assert_eq!(first_case["file"], "tests/corpus/good/payment.yaml");
    assert_eq!(first_case["flow"], "Card payment, every predicate");
    assert_eq!(first_case["case"], "card=visa, captureMode=AUTOMATIC");
    assert_eq!(
        first_case["tags"],
        serde_json::json!(["card", "first-time"])
    );
    assert_eq!(first_case["covers"], serde_json::json!(["HM-01", "NT-01"]));
    assert_eq!(first_case["steps"], 4);
    assert_eq!(list[0]["case"], serde_json::Value::Null);
}

#[test]
fn list_of_broken_flows_is_invalid_input() {
    let out = apoflow(&["list", "tests/corpus/broken/16-unknown-predicate.yaml"]);
    assert_eq!(code(&out), 2);
    assert!(out.stdout.is_empty());
    assert!(text(&out.stderr).starts_with("error: unknown predicate `start_with`"));
}

// ---- schema ------------------------------------------------------------------------------

#[test]
fn the_committed_schema_is_current() {
    let out = apoflow(&["schema"]);
    assert_eq!(code(&out), 0);
    let committed = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("schema/flow.schema.json"),
    )
    .unwrap();
    assert!(
        text(&out.stdout) == committed,
        "schema/flow.schema.json is stale: run `cargo run -- schema > schema/flow.schema.json`"
    );
    let schema: serde_json::Value = serde_json::from_str(&committed).unwrap();
    assert_eq!(schema["$schema"], "http://json-schema.org/draft-07/schema#");
}

/// Every `*.yaml` under `dir`, snapshots left out.
fn yaml_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            if path.file_name().is_some_and(|n| n != "__snapshots__") {
                yaml_files(&path, out);
            }
        } else if path.extension().is_some_and(|e| e == "yaml") {
            out.push(path);
        }
    }
}

#[test]
fn every_bundled_flow_and_partial_validates_against_the_schema() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("schema/flow.schema.json")).unwrap(),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).expect("the schema is a valid schema");
    let mut files = Vec::new();
    yaml_files(&root.join("flows"), &mut files);
    yaml_files(&root.join("tests/corpus/good"), &mut files);
    assert!(files.len() > 30, "found {} flow files", files.len());
    let mut rejected = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        let flow: serde_json::Value = serde_saphyr::from_str(&text).unwrap();
        for error in validator.iter_errors(&flow) {
            rejected.push(format!(
                "{}: {} at {}",
                file.strip_prefix(root).unwrap().display(),
                error,
                error.instance_path()
            ));
        }
    }
    assert!(
        rejected.is_empty(),
        "the schema rejects what apoflow accepts:\n{}",
        rejected.join("\n")
    );
    // And it is no rubber stamp: what apoflow refuses, it refuses too.
    for bad in [
        serde_json::json!({"name": "x", "steps": [{"htp": {}}]}),
        serde_json::json!({"name": "x", "steps": [{"sleep": "1s", "expect": {"status": "200"}, "bogus": 1}]}),
        serde_json::json!({"name": 3, "steps": []}),
    ] {
        assert!(!validator.is_valid(&bad), "the schema accepts {bad}");
    }
}

// ---- query -------------------------------------------------------------------------------

#[test]
fn query_prints_every_match_as_a_json_array() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("r.json");
    std::fs::write(
        &file,
        r#"{"transactions":[{"type":"CAPTURE","status":"SUCCESS"},{"type":"REFUND","status":"FAIL"}]}"#,
    )
    .unwrap();
    let out = apoflow(&[
        "query",
        "$.transactions[?@.type == 'CAPTURE'].status",
        file.to_str().unwrap(),
    ]);
    assert_eq!(code(&out), 0);
    let found: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(found, serde_json::json!(["SUCCESS"]));

    let out = apoflow(&["query", "$.transactions[", file.to_str().unwrap()]);
    assert_eq!(code(&out), 2);
    assert!(text(&out.stderr).starts_with("error: invalid JSONPath `$.transactions[`"));
}
