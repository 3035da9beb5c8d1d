//! Loading checklists: the bundled one, broken ones (every message located, with a hint), and
//! `covers:` entries that name no item.

use std::path::Path;

use apoflow::checklist::{Checklist, FlowCovers, unknown_covers};

use crate::support::bundled;

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
            "name: Demo\nitems:\n  - { id: HM-1, title: a, passing: p }\n  - { id: hm-02, title: b, passing: p }\n  - { id: HM02, title: c, passing: p }\n",
        ),
        (
            "duplicate-id.yaml",
            "name: Demo\nitems:\n  - { id: HM-01, title: a, passing: p }\n  - { id: HM-02, title: b, passing: p }\n  - { id: HM-01, title: c, passing: p }\n",
        ),
        (
            "duplicate-key.yaml",
            "name: Demo\nname: Again\nitems:\n  - { id: HM-01, title: a, passing: p }\n",
        ),
        (
            "blank-fields.yaml",
            "name: Demo\nitems:\n  - { id: HM-01, title: '', passing: '  ' }\n",
        ),
        ("items-not-a-list.yaml", "name: Demo\nitems: HM-01\n"),
    ];
    let mut report = String::new();
    for (name, text) in corpus {
        let errors = Checklist::parse(Path::new(name), text).expect_err(name);
        for error in errors {
            report.push_str(&format!("{error}\n"));
        }
        report.push('\n');
    }
    insta::assert_snapshot!(report);
}

#[test]
fn a_missing_file_is_one_clear_error() {
    let errors = Checklist::load(Path::new("checklists/no-such-checklist.yaml")).unwrap_err();
    assert_eq!(errors.len(), 1);
    let text = errors[0].to_string();
    assert!(
        text.starts_with("checklists/no-such-checklist.yaml: failed to read the checklist"),
        "{text}"
    );
    assert!(
        text.contains("hint: check the path given to --checklist"),
        "{text}"
    );
}

#[test]
fn covers_typos_are_caught_before_a_run() {
    let checklist = bundled();
    let good = ["HM-01".to_owned(), "NT-01".to_owned()];
    let typos = [
        "HM-1".to_owned(),
        "nt-02".to_owned(),
        "CP-09".to_owned(),
        "refund".to_owned(),
    ];
    let flows = [
        FlowCovers {
            file: Path::new("flows/a.yaml"),
            flow: "A",
            covers: &good,
        },
        FlowCovers {
            file: Path::new("flows/b.yaml"),
            flow: "B",
            covers: &typos,
        },
        // A second matrix case of B: reported once.
        FlowCovers {
            file: Path::new("flows/b.yaml"),
            flow: "B",
            covers: &typos,
        },
    ];
    let unknown = unknown_covers(&checklist, &flows);
    let text: Vec<String> = unknown.iter().map(ToString::to_string).collect();
    insta::assert_snapshot!(text.join("\n"));
}
