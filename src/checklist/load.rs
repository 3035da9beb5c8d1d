//! Reading a checklist file: YAML → [`Checklist`], every problem reported as a
//! [`Diagnostic`] (`file:line:col`, the line, a caret, a hint), like flow files:
//!
//! ```text
//! error: duplicate item id `HM-01`
//!  --> checklists/mine.yaml:9:9
//!   |
//! 9 |   - id: HM-01
//!   |         ^^^^^ a second time
//!   |
//!   = hint: it is already used at line 3; give this item its own id
//! ```

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock};

use regex::Regex;
use serde::Deserialize;
use serde_saphyr::Spanned;

use super::proof::{Requirement, STEP_KINDS, received_apis};
use crate::diag::{Diagnostic, SourceFile, did_you_mean};

/// A certification checklist: a name and its items, in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checklist {
    /// The file it was loaded from, as the user gave it.
    pub path: PathBuf,
    /// The checklist's `name`.
    pub name: String,
    /// The items, in file order; ids are unique.
    pub items: Vec<Item>,
}

/// One checklist item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// The id flows name in `covers:`, e.g. `HM-01`.
    pub id: String,
    /// A one-line title.
    pub title: String,
    /// What passing the item means.
    pub passing: String,
    /// What a passing covering case must have proved: every requirement, met by that one case.
    pub proof: Vec<Requirement>,
    /// 1-based line of the item's `id` in the checklist file.
    pub line: u64,
}

/// The file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawChecklist {
    name: Spanned<String>,
    items: Spanned<Vec<RawItem>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawItem {
    id: Spanned<String>,
    title: Spanned<String>,
    passing: Spanned<String>,
    #[serde(default)]
    proof: Option<Spanned<Vec<Spanned<RawRequirement>>>>,
}

/// One `proof:` entry as written: `{ step, api?, checks? }` or `{ assertion: any }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRequirement {
    #[serde(default)]
    step: Option<Spanned<String>>,
    #[serde(default)]
    api: Option<Spanned<String>>,
    #[serde(default)]
    checks: Option<Spanned<Vec<Spanned<String>>>>,
    #[serde(default)]
    assertion: Option<Spanned<String>>,
}

/// Two or more capital letters, a dash, two or more digits: `HM-01`, `PCI-101`.
static ID_PATTERN: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[A-Z]{2,}-[0-9]{2,}$").expect("valid regex"));

/// What a well-formed item id looks like, for hints.
pub(crate) const ID_FORMAT: &str =
    "an item id is two or more capital letters, a dash and two or more digits, e.g. `HM-01`";

/// Whether `id` is a well-formed item id (`^[A-Z]{2,}-\d{2,}$`).
pub(crate) fn is_item_id(id: &str) -> bool {
    ID_PATTERN.is_match(id)
}

impl Checklist {
    /// Reads and checks a checklist file. Every problem found is returned, in file order.
    pub fn load(path: &Path) -> Result<Checklist, Vec<Diagnostic>> {
        match crate::project::read_text(path, crate::project::MAX_CHECKLIST_BYTES) {
            Ok(text) => Checklist::parse(path, text),
            Err(e) => Err(vec![
                Diagnostic::for_file(path, format!("failed to read the checklist: {e}"))
                    .with_hint("check the path given to --checklist"),
            ]),
        }
    }

    /// Parses and checks a checklist's text; `path` is used in messages and kept in
    /// [`Checklist::path`].
    pub fn parse(path: &Path, text: String) -> Result<Checklist, Vec<Diagnostic>> {
        let source = Arc::new(SourceFile::new(path.to_path_buf(), text));
        if source.text.trim_start_matches('\u{feff}').trim().is_empty() {
            return Err(vec![
                Diagnostic::for_file(path, "the checklist file is empty")
                    .with_hint("write `name:` and `items:`, as in checklists/apo-card-hosted.yaml"),
            ]);
        }
        let raw: RawChecklist = serde_saphyr::from_str(&source.text).map_err(|e| {
            let (line, column) = e
                .location()
                .map_or((1, 1), |l| (l.line().max(1), l.column().max(1)));
            vec![yaml_diagnostic(
                &source,
                line,
                column,
                &e.without_snippet().to_string(),
            )]
        })?;

        let at = |value: &Spanned<String>, title: String| {
            let (line, column) = (value.referenced.line(), value.referenced.column());
            Diagnostic::new(&source, line, column, title)
        };
        let mut errors = Vec::new();
        let mut blank = |field: &str, value: &Spanned<String>, what: &str| {
            if value.value.trim().is_empty() {
                errors.push(
                    at(value, format!("`{field}` is empty"))
                        .with_label("nothing here")
                        .with_hint(format!("write {what}")),
                );
            }
        };
        blank("name", &raw.name, "the checklist's name");
        for item in &raw.items.value {
            blank("title", &item.title, "a one-line title for the item");
            blank("passing", &item.passing, "what passing the item means");
        }
        if raw.items.value.is_empty() {
            errors.push(
                Diagnostic::new(
                    &source,
                    raw.items.referenced.line(),
                    raw.items.referenced.column(),
                    "the checklist has no items",
                )
                .with_label("empty")
                .with_hint("list items as `- { id: HM-01, title: ..., passing: ... }`"),
            );
        }

        for item in &raw.items.value {
            errors.extend(proof_errors(&source, item));
        }

        let mut first_seen: HashMap<&str, u64> = HashMap::new();
        for item in &raw.items.value {
            let id = &item.id;
            let width = id.value.chars().count().max(1) as u64;
            if !is_item_id(&id.value) {
                errors.push(
                    at(id, format!("`{}` is not an item id", id.value))
                        .with_width(width)
                        .with_label("not an id")
                        .with_hint(ID_FORMAT),
                );
            } else if let Some(first) = first_seen.get(id.value.as_str()) {
                errors.push(
                    at(id, format!("duplicate item id `{}`", id.value))
                        .with_width(width)
                        .with_label("a second time")
                        .with_hint(format!(
                            "it is already used at line {first}; give this item its own id"
                        )),
                );
            } else {
                first_seen.insert(&id.value, id.referenced.line());
            }
        }
        if !errors.is_empty() {
            errors.sort_by_key(|e| (e.line, e.column));
            return Err(errors);
        }

        Ok(Checklist {
            path: source.path.clone(),
            name: raw.name.value,
            items: raw
                .items
                .value
                .into_iter()
                .map(|item| Item {
                    line: item.id.referenced.line(),
                    id: item.id.value,
                    title: item.title.value,
                    passing: item.passing.value,
                    proof: item
                        .proof
                        .map(|proof| proof.value.into_iter().map(requirement).collect())
                        .unwrap_or_default(),
                })
                .collect(),
        })
    }

    /// The item with this id, if the checklist has it.
    pub fn item(&self, id: &str) -> Option<&Item> {
        self.items.iter().find(|item| item.id == id)
    }
}

/// An example proof, for hints.
const PROOF_EXAMPLE: &str = "e.g. `proof: [ { step: delivery, checks: [ack] } ]`, or at the least \
     `proof: [ { assertion: any } ]`";

/// The problems of an item's `proof:`: missing or empty, an entry that is neither `step:` nor
/// `assertion: any`, an unknown step kind or API, `sleep` (it asserts nothing), empty checks.
fn proof_errors(source: &Arc<SourceFile>, item: &RawItem) -> Vec<Diagnostic> {
    let at = |line: u64, column: u64, title: String| Diagnostic::new(source, line, column, title);
    let spanned = |value: &Spanned<String>, title: String| {
        at(value.referenced.line(), value.referenced.column(), title)
            .with_width(value.value.chars().count().max(1) as u64)
    };
    let id = &item.id.value;
    let Some(proof) = &item.proof else {
        return vec![
            spanned(&item.id, format!("item `{id}` has no `proof`"))
                .with_label("needs a `proof:`")
                .with_hint(format!(
                    "say what a passing covering case must have asserted, {PROOF_EXAMPLE}"
                )),
        ];
    };
    let (line, column) = (proof.referenced.line(), proof.referenced.column());
    if proof.value.is_empty() {
        return vec![
            at(line, column, format!("the `proof` of `{id}` is empty"))
                .with_label("nothing here")
                .with_hint(format!("list what must be proved, {PROOF_EXAMPLE}")),
        ];
    }
    let mut errors = Vec::new();
    for entry in &proof.value {
        let (line, column) = (entry.referenced.line(), entry.referenced.column());
        let raw = &entry.value;
        match (&raw.step, &raw.assertion) {
            (Some(_), Some(_)) | (None, None) => errors.push(
                at(
                    line,
                    column,
                    "a proof entry names a `step:` or is `assertion: any`".into(),
                )
                .with_label("this entry")
                .with_hint(PROOF_EXAMPLE),
            ),
            (Some(step), None) if step.value == "sleep" => errors.push(
                spanned(
                    step,
                    "a `sleep` step asserts nothing, so it proves nothing".into(),
                )
                .with_label("not proof")
                .with_hint("name the step that checks the behaviour, e.g. `step: delivery`"),
            ),
            (Some(step), None) if !STEP_KINDS.contains(&step.value.as_str()) => errors.push(
                spanned(step, format!("unknown step kind `{}`", step.value))
                    .with_label("not a step kind")
                    .with_hint(one_of(&step.value, STEP_KINDS.iter().copied())),
            ),
            (Some(_), None) => {}
            (None, Some(assertion)) if assertion.value != "any" => errors.push(
                spanned(
                    assertion,
                    format!("`assertion: {}` is not a proof", assertion.value),
                )
                .with_label("expected `any`")
                .with_hint("write `assertion: any`, or name a step: `step: http`"),
            ),
            (None, Some(_)) => {
                if let Some(checks) = &raw.checks {
                    errors.push(
                        at(
                            checks.referenced.line(),
                            checks.referenced.column(),
                            "`checks:` needs a `step:`".into(),
                        )
                        .with_label("no step to check")
                        .with_hint("write `{ step: http, checks: [status] }`"),
                    );
                }
            }
        }
        if let Some(api) = &raw.api {
            if raw.step.as_ref().is_none_or(|s| s.value != "received") {
                errors.push(
                    spanned(api, "`api:` applies to `step: received` only".into())
                        .with_label("not here")
                        .with_hint("write `{ step: received, api: pay }`, or drop `api:`"),
                );
            } else if !received_apis().any(|a| a == api.value) {
                let apis: Vec<&str> = received_apis().collect();
                errors.push(
                    spanned(api, format!("unknown API `{}`", api.value))
                        .with_label("not an API")
                        .with_hint(one_of(&api.value, apis)),
                );
            }
        }
        if let Some(checks) = &raw.checks {
            if checks.value.is_empty() {
                errors.push(
                    at(
                        checks.referenced.line(),
                        checks.referenced.column(),
                        "`checks` is empty".into(),
                    )
                    .with_label("nothing here")
                    .with_hint("name assertion queries, e.g. `checks: [ack]`, or drop `checks:`"),
                );
            }
            for check in &checks.value {
                if check.value.is_empty()
                    || check
                        .value
                        .contains(|c: char| c.is_whitespace() || c == '`')
                {
                    errors.push(
                        spanned(
                            check,
                            format!("`{}` is not an assertion query", check.value),
                        )
                        .with_label("not a query")
                        .with_hint(
                            "a check is a query as written in `expect:`: `ack`, `status`, \
                                 `return_page.body`, `$.result`",
                        ),
                    );
                }
            }
        }
    }
    errors
}

/// `did you mean `x`?`, else the list of what is allowed.
fn one_of<'a>(word: &str, allowed: impl IntoIterator<Item = &'a str> + Clone) -> String {
    match did_you_mean(word, allowed.clone()) {
        Some(close) => format!("did you mean `{close}`?"),
        None => {
            let all: Vec<String> = allowed.into_iter().map(|a| format!("`{a}`")).collect();
            format!("use one of {}", all.join(", "))
        }
    }
}

/// A checked `proof:` entry as a [`Requirement`].
fn requirement(entry: Spanned<RawRequirement>) -> Requirement {
    let raw = entry.value;
    Requirement {
        step: raw.step.map(|s| s.value),
        api: raw.api.map(|a| a.value),
        checks: raw
            .checks
            .map(|c| c.value.into_iter().map(|c| c.value).collect())
            .unwrap_or_default(),
    }
}

/// A serde-saphyr error as a diagnostic: its message reworded (its trailing location dropped,
/// the diagnostic carries its own) and a hint.
fn yaml_diagnostic(source: &Arc<SourceFile>, line: u64, column: u64, raw: &str) -> Diagnostic {
    const KEYS_HINT: &str = "a checklist has `name` and `items`; an item has `id`, `title`, \
         `passing` and `proof`; a proof entry has `step` (with `api`, `checks`) or `assertion`";
    let first = raw.lines().next().unwrap_or_default();
    let message = match first.rfind(" at line ") {
        Some(i) if first[i..].contains(", column ") => &first[..i],
        _ => first,
    };
    // The caret spans the key for key problems, one character otherwise.
    let (title, label, hint, width) = if let Some(rest) = message.strip_prefix("unknown field ") {
        let name = rest.split(", ").next().unwrap_or(rest);
        let width = name.trim_matches('`').chars().count();
        // serde lists the keys allowed here: `, expected one of a, b` (or `, expected a`).
        let allowed: Vec<&str> = rest
            .split_once(", expected ")
            .map(|(_, keys)| {
                let keys = keys.strip_prefix("one of ").unwrap_or(keys);
                keys.split(", ").map(|k| k.trim_matches('`')).collect()
            })
            .unwrap_or_default();
        let hint = did_you_mean(name.trim_matches('`'), allowed.iter().copied())
            .map_or_else(|| KEYS_HINT.to_owned(), |k| format!("did you mean `{k}`?"));
        (
            format!("unknown key {name}"),
            "not allowed here",
            hint,
            width,
        )
    } else if let Some(rest) = message.strip_prefix("missing field ") {
        (
            format!("missing key {rest}"),
            "in this map",
            KEYS_HINT.to_owned(),
            1,
        )
    } else if let Some(rest) = message.strip_prefix("duplicate mapping key: ") {
        let name = rest.split(", set ").next().unwrap_or(rest);
        let width = name.chars().count();
        let title = format!("duplicate key `{name}`");
        (
            title,
            "a second time",
            "write each key once".to_owned(),
            width,
        )
    } else {
        let message = match message {
            "expected sequence start" => "expected a list",
            "expected mapping start" => "expected a map",
            "expected string scalar" => "expected a string",
            other => other,
        };
        let title = format!("not a valid checklist: {message}");
        (title, "here", KEYS_HINT.to_owned(), 1)
    };
    Diagnostic::new(source, line, column, title)
        .with_width(width as u64)
        .with_label(label)
        .with_hint(hint)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `file:line:col: title` and the hint, one per problem.
    fn brief(d: &Diagnostic) -> String {
        format!(
            "{}: {}\n  hint: {}",
            d.location(),
            d.title,
            d.hint.as_deref().unwrap_or("")
        )
    }

    fn parse(text: &str) -> Result<Checklist, Vec<String>> {
        Checklist::parse(Path::new("c.yaml"), text.to_owned())
            .map_err(|errors| errors.iter().map(brief).collect())
    }

    const GOOD: &str = "\
name: Demo
items:
  - id: HM-01
    title: First
    passing: it works
    proof: [{ assertion: any }]
  - id: PCI-101
    title: Second
    passing: it also works
    proof: [{ step: delivery, checks: [ack] }]
";

    #[test]
    fn loads_items_in_order_with_lines() {
        let checklist = parse(GOOD).unwrap();
        assert_eq!(checklist.name, "Demo");
        let ids: Vec<_> = checklist
            .items
            .iter()
            .map(|i| (i.id.as_str(), i.line))
            .collect();
        assert_eq!(ids, [("HM-01", 3), ("PCI-101", 7)]);
        assert_eq!(checklist.item("PCI-101").unwrap().title, "Second");
        assert!(checklist.item("HM-02").is_none());
    }

    #[test]
    fn proofs_are_loaded() {
        let checklist = parse(GOOD).unwrap();
        assert_eq!(
            checklist.items[0].proof,
            [Requirement {
                step: None,
                api: None,
                checks: vec![]
            }]
        );
        assert_eq!(
            checklist.items[1].proof[0].to_string(),
            "a passed `delivery` step asserting `ack`"
        );
        let text = "name: D\nitems:\n  - id: MR-01\n    title: t\n    passing: p\n    proof:\n      \
                    - { step: received, api: pay, checks: [signature, count] }\n      - { step: redirect }\n";
        let proof = &parse(text).unwrap().items[0].proof;
        assert_eq!(proof.len(), 2);
        assert_eq!(proof[0].api.as_deref(), Some("pay"));
        assert_eq!(proof[0].checks, ["signature", "count"]);
    }

    #[test]
    fn bad_proofs_are_located_and_explained() {
        let item = |proof: &str| {
            format!("name: D\nitems:\n  - id: HM-01\n    title: t\n    passing: p\n{proof}")
        };
        let cases = [
            (
                "",
                "c.yaml:3:9: item `HM-01` has no `proof`",
                "proof: [ { step: delivery",
            ),
            (
                "    proof: []\n",
                "c.yaml:6:12: the `proof` of `HM-01` is empty",
                "e.g.",
            ),
            (
                "    proof: [ { step: delivry } ]\n",
                "c.yaml:6:22: unknown step kind `delivry`",
                "did you mean `delivery`?",
            ),
            (
                "    proof: [ { step: sleep } ]\n",
                "c.yaml:6:22: a `sleep` step asserts nothing",
                "step: delivery",
            ),
            (
                "    proof: [ { step: received, api: captur } ]\n",
                "c.yaml:6:37: unknown API `captur`",
                "did you mean `capture`?",
            ),
            (
                "    proof: [ { step: http, api: pay } ]\n",
                "c.yaml:6:33: `api:` applies to `step: received` only",
                "drop `api:`",
            ),
            (
                "    proof: [ { assertion: all } ]\n",
                "c.yaml:6:27: `assertion: all` is not a proof",
                "assertion: any",
            ),
            (
                "    proof: [ { assertion: any, checks: [ack] } ]\n",
                "c.yaml:6:40: `checks:` needs a `step:`",
                "step: http",
            ),
            (
                "    proof: [ { checks: [ack] } ]\n",
                "c.yaml:6:14: a proof entry names a `step:`",
                "e.g.",
            ),
            (
                "    proof: [ { step: http, checks: [] } ]\n",
                "c.yaml:6:36: `checks` is empty",
                "drop `checks:`",
            ),
            (
                "    proof: [ { step: http, checks: ['a b'] } ]\n",
                "c.yaml:6:37: `a b` is not an assertion query",
                "return_page.body",
            ),
            (
                "    proof: [ { step: http, chekcs: [ack] } ]\n",
                "c.yaml:6:28: unknown key `chekcs`",
                "did you mean `checks`?",
            ),
        ];
        for (proof, start, hint) in cases {
            let errors = parse(&item(proof)).unwrap_err();
            assert_eq!(errors.len(), 1, "{proof}: {errors:#?}");
            assert!(errors[0].starts_with(start), "{proof}: {}", errors[0]);
            assert!(errors[0].contains(hint), "{proof}: {}", errors[0]);
        }
    }

    #[test]
    fn item_ids() {
        for good in ["HM-01", "ABC-123", "AT-00"] {
            assert!(is_item_id(good), "{good}");
        }
        for bad in ["H-01", "HM-1", "hm-01", "HM01", "HM-01 ", "HM-0a", ""] {
            assert!(!is_item_id(bad), "{bad}");
        }
    }

    #[test]
    fn unknown_key_is_located() {
        let errors =
            parse("name: Demo\nitems:\n  - id: HM-01\n    title: t\n    pasing: p\n").unwrap_err();
        assert_eq!(errors.len(), 1);
        assert!(
            errors[0].starts_with("c.yaml:5:5: unknown key `pasing`"),
            "{}",
            errors[0]
        );
        assert!(errors[0].contains("hint: "), "{}", errors[0]);
    }

    #[test]
    fn missing_key_is_reported() {
        let errors = parse("name: Demo\nitems:\n  - id: HM-01\n    title: t\n").unwrap_err();
        assert!(errors[0].contains("missing key `passing`"), "{}", errors[0]);
    }

    #[test]
    fn bad_and_duplicate_ids_are_all_reported() {
        let text = "\
name: Demo
items:
  - { id: HM-01, title: a, passing: p, proof: [{assertion: any}] }
  - { id: hm-2, title: b, passing: p, proof: [{assertion: any}] }
  - { id: HM-01, title: c, passing: p, proof: [{assertion: any}] }
";
        let errors = parse(text).unwrap_err();
        assert_eq!(errors.len(), 2, "{errors:#?}");
        assert!(
            errors[0].starts_with("c.yaml:4:11: `hm-2` is not an item id"),
            "{}",
            errors[0]
        );
        assert!(
            errors[1].starts_with("c.yaml:5:11: duplicate item id `HM-01`"),
            "{}",
            errors[1]
        );
        assert!(
            errors[1].contains("already used at line 3"),
            "{}",
            errors[1]
        );
    }

    #[test]
    fn problems_come_in_file_order() {
        let text = "name: Demo\nitems:\n  - { id: bad, title: a, passing: p, proof: [{assertion: any}] }\n  - { id: HM-02, title: '', passing: p, proof: [{assertion: any}] }\n";
        let errors = parse(text).unwrap_err();
        assert!(errors[0].starts_with("c.yaml:3:"), "{errors:#?}");
        assert!(errors[1].starts_with("c.yaml:4:"), "{errors:#?}");
    }

    #[test]
    fn empty_fields_and_no_items() {
        let errors = parse("name: ''\nitems: []\n").unwrap_err();
        assert_eq!(errors.len(), 2, "{errors:#?}");
        assert!(errors[0].contains("`name` is empty"));
        assert!(errors[1].contains("no items"));
        let errors =
            parse("name: x\nitems:\n  - { id: HM-01, title: ' ', passing: p, proof: [{assertion: any}] }\n").unwrap_err();
        assert!(
            errors[0].starts_with("c.yaml:3:25: `title` is empty"),
            "{}",
            errors[0]
        );
    }

    #[test]
    fn hostile_inputs_never_panic() {
        for text in [
            "",
            "[]",
            "name: [1",
            "name: x\nitems: 3\n",
            "name: x\nitems:\n  - 3\n",
            "name: x\nname: y\nitems: []\n",
            "\u{feff}name: x\nitems:\n  - {id: HM-01, title: t, passing: p, id: HM-02}\n",
            "name: &a x\nitems: *a\n",
        ] {
            let errors = parse(text).unwrap_err();
            assert!(!errors.is_empty());
            assert!(errors[0].starts_with("c.yaml"), "{text:?}: {}", errors[0]);
        }
    }

    #[test]
    fn unreadable_file() {
        let errors = Checklist::load(Path::new("/nonexistent/c.yaml")).unwrap_err();
        assert!(brief(&errors[0]).starts_with("/nonexistent/c.yaml: failed to read"));
    }

    #[test]
    fn the_bundled_checklist_loads() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("checklists/apo-card-hosted.yaml");
        let checklist = Checklist::load(&path).unwrap();
        assert!(checklist.items.len() >= 20);
        let path =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("checklists/apo-merchant-hosted.yaml");
        let checklist = Checklist::load(&path).unwrap();
        assert!(checklist.items.iter().all(|i| i.id.starts_with("MR-")));
    }
}
