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

use crate::diag::{Diagnostic, SourceFile};

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
        match std::fs::read_to_string(path) {
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
        let source = Arc::new(SourceFile {
            path: path.to_path_buf(),
            text,
        });
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
                })
                .collect(),
        })
    }

    /// The item with this id, if the checklist has it.
    pub fn item(&self, id: &str) -> Option<&Item> {
        self.items.iter().find(|item| item.id == id)
    }
}

/// A serde-saphyr error as a diagnostic: its message reworded (its trailing location dropped,
/// the diagnostic carries its own) and a hint.
fn yaml_diagnostic(source: &Arc<SourceFile>, line: u64, column: u64, raw: &str) -> Diagnostic {
    const KEYS_HINT: &str =
        "a checklist has `name` and `items`; an item has `id`, `title` and `passing`";
    let first = raw.lines().next().unwrap_or_default();
    let message = match first.rfind(" at line ") {
        Some(i) if first[i..].contains(", column ") => &first[..i],
        _ => first,
    };
    // The caret spans the key for key problems, one character otherwise.
    let (title, label, hint, width) = if let Some(rest) = message.strip_prefix("unknown field ") {
        let name = rest.split(", ").next().unwrap_or(rest);
        let width = name.trim_matches('`').chars().count();
        (
            format!("unknown key {name}"),
            "not allowed here",
            KEYS_HINT,
            width,
        )
    } else if let Some(rest) = message.strip_prefix("missing field ") {
        (format!("missing key {rest}"), "in this map", KEYS_HINT, 1)
    } else if let Some(rest) = message.strip_prefix("duplicate mapping key: ") {
        let name = rest.split(", set ").next().unwrap_or(rest);
        let width = name.chars().count();
        let title = format!("duplicate key `{name}`");
        (title, "a second time", "write each key once", width)
    } else {
        let message = match message {
            "expected sequence start" => "expected a list",
            "expected mapping start" => "expected a map",
            "expected string scalar" => "expected a string",
            other => other,
        };
        let title = format!("not a valid checklist: {message}");
        (title, "here", KEYS_HINT, 1)
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
  - id: PCI-101
    title: Second
    passing: it also works
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
        assert_eq!(ids, [("HM-01", 3), ("PCI-101", 6)]);
        assert_eq!(checklist.item("PCI-101").unwrap().title, "Second");
        assert!(checklist.item("HM-02").is_none());
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
  - { id: HM-01, title: a, passing: p }
  - { id: hm-2, title: b, passing: p }
  - { id: HM-01, title: c, passing: p }
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
        let text = "name: Demo\nitems:\n  - { id: bad, title: a, passing: p }\n  - { id: HM-02, title: '', passing: p }\n";
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
            parse("name: x\nitems:\n  - { id: HM-01, title: ' ', passing: p }\n").unwrap_err();
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
    }
}
