//! Loading checklists: the bundled one, broken ones (every message located, with a hint), and
//! `covers:` entries that name no item.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use apoflow::checklist::{Checklist, FlowCovers, unknown_covers};
use apoflow::diag::SourceFile;

use crate::local::bundled;

#[test]
fn the_merchant_checklist_is_well_formed_and_every_item_asks_for_proof() {
    let checklist = Checklist::load(Path::new("checklists/apo-merchant-hosted.yaml")).unwrap();
    let ids: Vec<&str> = checklist.items.iter().map(|i| i.id.as_str()).collect();
    assert_eq!(ids.first(), Some(&"MR-01"));
    assert!(ids.len() >= 13, "{ids:?}");
    for checklist in [bundled(), checklist] {
        for item in &checklist.items {
            assert!(!item.proof.is_empty(), "{}", item.id);
        }
    }
}

#[test]
fn the_bundled_checklist_is_well_formed() {
    let checklist = bundled();
    assert_eq!(checklist.name, "APO card payments, hosted mode");
    let ids: Vec<&str> = checklist.items.iter().map(|i| i.id.as_str()).collect();
    // Every area of the guide and the acceptance test is there.
    for id in [
        "HM-01", "HM-10", "NT-03", "CP-04", "CN-01", "RF-03", "SG-02", "ID-02", "PV-01", "AT-01",
    ] {
        assert!(ids.contains(&id), "{id} missing from {ids:?}");
    }
    for item in &checklist.items {
        assert!(
            !item.title.trim().is_empty() && !item.passing.trim().is_empty(),
            "{}",
            item.id
        );
        assert!(item.line > 0);
    }
}

/// Each broken checklist and what the user is told, all in one snapshot.
#[test]
fn broken_checklists_are_explained() {
    let corpus: &[(&str, &str)] = &[
        ("not-yaml.yaml", "name: [unclosed\n"),
        ("empty.yaml", ""),
        ("no-items.yaml", "name: Demo\n"),
        ("empty-items.yaml", "name: Demo\nitems: []\n"),
        (
            "unknown-top-key.yaml",
            "name: Demo\nversion: 2\nitems: []\n",
        ),
        (
            "unknown-item-key.yaml",
            "name: Demo\nitems:\n  - id: HM-01\n    title: First\n    passing: ok\n    owner: qa\n",
        ),
        (
            "missing-passing.yaml",
            "name: Demo\nitems:\n  - id: HM-01\n    title: First\n",
        ),
        (
            "bad-ids.yaml",
            "name: Demo\nitems:\n  - { id: HM-1, title: a, passing: p, proof: [{ assertion: any }] }\n  - { id: hm-02, title: b, passing: p, proof: [{ assertion: any }] }\n  - { id: HM02, title: c, passing: p, proof: [{ assertion: any }] }\n",
        ),
        (
            "duplicate-id.yaml",
            "name: Demo\nitems:\n  - { id: HM-01, title: a, passing: p, proof: [{ assertion: any }] }\n  - { id: HM-02, title: b, passing: p, proof: [{ assertion: any }] }\n  - { id: HM-01, title: c, passing: p, proof: [{ assertion: any }] }\n",
        ),
        (
            "duplicate-key.yaml",
            "name: Demo\nname: Again\nitems:\n  - { id: HM-01, title: a, passing: p, proof: [{ assertion: any }] }\n",
        ),
        (
            "blank-fields.yaml",
            "name: Demo\nitems:\n  - { id: HM-01, title: '', passing: '  ', proof: [{ assertion: any }] }\n",
        ),
        ("items-not-a-list.yaml", "name: Demo\nitems: HM-01\n"),
        (
            "no-proof.yaml",
            "name: Demo\nitems:\n  - id: MR-01\n    title: Pay conforms\n    passing: p\n",
        ),
        (
            "bad-proofs.yaml",
            "name: Demo\nitems:\n  - id: MR-01\n    title: t\n    passing: p\n    proof:\n      - { step: delivry, checks: [ack] }\n      - { step: sleep }\n      - { step: redirect, api: pay }\n      - { assertion: some }\n",
        ),
        (
            "proof-unknown-key.yaml",
            "name: Demo\nitems:\n  - id: MR-01\n    title: t\n    passing: p\n    proof: [ { step: delivery, check: [ack] } ]\n",
        ),
    ];
    let mut report = String::new();
    for (name, text) in corpus {
        let errors = Checklist::parse(Path::new(name), (*text).to_owned()).expect_err(name);
        for error in errors {
            report.push_str(&error.render(false));
        }
        report.push('\n');
    }
    insta::assert_snapshot!(report);
}

#[test]
fn a_missing_file_is_one_clear_error() {
    let errors = Checklist::load(Path::new("checklists/no-such-checklist.yaml")).unwrap_err();
    assert_eq!(errors.len(), 1);
    insta::assert_snapshot!(errors[0].render(false));
}

#[test]
fn covers_typos_are_caught_before_a_run() {
    let checklist = bundled();
    let good = Arc::new(SourceFile::new(
        PathBuf::from("flows/a.yaml"),
        "name: A\ncovers: [HM-01, NT-01]\nsteps: []\n".to_owned(),
    ));
    let typos = Arc::new(SourceFile::new(PathBuf::from("flows/b.yaml"), "name: B\ntags: [refund]\ncovers:\n  - HM-1\n  - nt-02   # the ack\n  - CP-09\n  - refund\nsteps: []\n" .to_owned()));
    let good_covers = ["HM-01".to_owned(), "NT-01".to_owned()];
    let typo_covers = [
        "HM-1".to_owned(),
        "nt-02".to_owned(),
        "CP-09".to_owned(),
        "refund".to_owned(),
    ];
    let flows = [
        FlowCovers {
            file: &good,
            flow: "A",
            covers: &good_covers,
        },
        FlowCovers {
            file: &typos,
            flow: "B",
            covers: &typo_covers,
        },
        // A second matrix case of B: reported once.
        FlowCovers {
            file: &typos,
            flow: "B",
            covers: &typo_covers,
        },
    ];
    let found = unknown_covers(&checklist, &flows);
    let text: Vec<String> = found.iter().map(|d| d.render(false)).collect();
    insta::assert_snapshot!(text.join("\n"));
}

/// The path `run --checklist` takes: flows loaded by the real loader, their `covers:` checked
/// against the bundled checklist, every typo pointing into its flow file.
#[test]
fn loaded_flows_are_checked_against_the_checklist() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("good.yaml"),
        "name: Good\ncovers: [HM-01, NT-01]\nsteps:\n  - http: { url: \"http://127.0.0.1:9/\" }\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("typo.yaml"),
        "name: Typo\nmatrix:\n  terminalType: [WEB, APP]\ncovers: [HM-02, HM-2]\nsteps:\n  - http: { url: \"http://127.0.0.1:9/\" }\n",
    )
    .unwrap();
    let plan = apoflow::flow::load(&[dir.path().to_path_buf()], &Default::default()).unwrap();
    assert_eq!(
        plan.cases.len(),
        3,
        "one case for good.yaml, two matrix cases for typo.yaml"
    );

    let flows: Vec<FlowCovers> = plan
        .cases
        .iter()
        .map(|c| FlowCovers {
            file: &c.file,
            flow: &c.flow_name,
            covers: &c.covers,
        })
        .collect();
    let found = unknown_covers(&bundled(), &flows);
    assert_eq!(found.len(), 1, "reported once for both matrix cases");
    assert!(
        found[0].location().ends_with("typo.yaml:4:17"),
        "{}",
        found[0].location()
    );
    assert_eq!(found[0].hint.as_deref(), Some("did you mean `HM-02`?"));
}
