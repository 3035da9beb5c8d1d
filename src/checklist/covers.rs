//! `covers:` entries that name no checklist item: a typo that would otherwise leave an item
//! silently missing.

use std::fmt;
use std::path::{Path, PathBuf};

use super::load::{Checklist, ID_FORMAT, is_item_id};
use crate::mask;

/// What one flow says it covers, borrowed from the loaded flows.
#[derive(Debug, Clone, Copy)]
pub struct FlowCovers<'a> {
    /// The flow file.
    pub file: &'a Path,
    /// The flow's name.
    pub flow: &'a str,
    /// Its `covers:` entries.
    pub covers: &'a [String],
}

/// A `covers:` entry naming an item the checklist does not have.
///
/// Displayed as `file: flow `NAME` covers `ID`, which checklist `NAME` does not list` and a
/// hint: the nearest item id when one is close, else the items with the same prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownCover {
    /// The flow file.
    pub file: PathBuf,
    /// The flow's name.
    pub flow: String,
    /// The entry as written.
    pub id: String,
    /// The checklist's name, for the message.
    pub checklist: String,
    /// The checklist item the entry most likely meant.
    pub suggestion: Option<String>,
    /// The checklist's items with the entry's prefix (`CP-01, CP-02` for `CP-09`).
    pub same_prefix: Vec<String>,
}

impl fmt::Display for UnknownCover {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = format!(
            "{}: flow `{}` covers `{}`, which checklist `{}` does not list",
            self.file.display(),
            self.flow,
            self.id,
            self.checklist
        );
        write!(f, "{}", mask::mask_text(&text))?;
        match &self.suggestion {
            Some(id) => write!(f, "\n  hint: did you mean `{id}`?"),
            None if !is_item_id(&self.id) => write!(f, "\n  hint: {ID_FORMAT}"),
            None if !self.same_prefix.is_empty() => write!(
                f,
                "\n  hint: the checklist's items of this kind are {}",
                self.same_prefix.join(", ")
            ),
            None => write!(
                f,
                "\n  hint: fix the entry in `covers:` or add the item to the checklist"
            ),
        }
    }
}

/// Every `covers:` entry that names no item of `checklist`, once per flow and entry, in the
/// order given (matrix cases of one flow repeat the same entries; they are reported once).
pub fn unknown_covers(checklist: &Checklist, flows: &[FlowCovers<'_>]) -> Vec<UnknownCover> {
    let mut unknown: Vec<UnknownCover> = Vec::new();
    for flow in flows {
        for id in flow.covers {
            if checklist.item(id).is_some() {
                continue;
            }
            let seen = unknown
                .iter()
                .any(|u| u.file == flow.file && u.flow == flow.flow && &u.id == id);
            if !seen {
                unknown.push(UnknownCover {
                    file: flow.file.to_path_buf(),
                    flow: flow.flow.to_owned(),
                    id: id.clone(),
                    checklist: checklist.name.clone(),
                    suggestion: nearest_id(checklist, id),
                    same_prefix: same_prefix(checklist, id),
                });
            }
        }
    }
    unknown
}

/// The item id closest to `id`: equal ignoring case and padding (`hm-1` → `HM-01`), or at most
/// two edits away; `None` when nothing is that close or two items are equally close.
fn nearest_id(checklist: &Checklist, id: &str) -> Option<String> {
    let normal = normalize(id);
    if let Some(item) = checklist.items.iter().find(|i| normalize(&i.id) == normal) {
        return Some(item.id.clone());
    }
    let mut best: Option<(usize, &str)> = None;
    let mut tie = false;
    for item in &checklist.items {
        let d = edit_distance(&id.to_ascii_uppercase(), &item.id);
        match best {
            Some((b, _)) if d > b => {}
            Some((b, _)) if d == b => tie = true,
            _ => {
                best = Some((d, &item.id));
                tie = false;
            }
        }
    }
    match best {
        Some((d, item)) if d <= 2 && !tie => Some(item.to_owned()),
        _ => None,
    }
}

/// The checklist's item ids that share `id`'s letters before the dash.
fn same_prefix(checklist: &Checklist, id: &str) -> Vec<String> {
    let Some((prefix, _)) = id.split_once('-') else {
        return Vec::new();
    };
    checklist
        .items
        .iter()
        .filter(|item| item.id.split_once('-').is_some_and(|(p, _)| p == prefix))
        .map(|item| item.id.clone())
        .collect()
}

/// Upper case, `_`/space as `-`, and leading zeros dropped from the number.
fn normalize(id: &str) -> String {
    let id = id.trim().to_ascii_uppercase().replace(['_', ' '], "-");
    match id.rsplit_once('-') {
        Some((prefix, number)) => format!("{prefix}-{}", number.trim_start_matches('0')),
        None => id,
    }
}

/// Levenshtein distance over chars.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1)
                .min(row[j] + 1)
                .min(diagonal + usize::from(ca != *cb));
            diagonal = above;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checklist() -> Checklist {
        Checklist::parse(
            Path::new("c.yaml"),
            "name: Demo\nitems:\n\
             - { id: HM-01, title: a, passing: p }\n\
             - { id: HM-02, title: b, passing: p }\n\
             - { id: RF-01, title: c, passing: p }\n",
        )
        .unwrap()
    }

    #[test]
    fn known_entries_pass_unknown_are_reported_once() {
        let covers = ["HM-01".to_owned(), "HM-1".to_owned(), "XX-99".to_owned()];
        let flow = FlowCovers {
            file: Path::new("flows/a.yaml"),
            flow: "A",
            covers: &covers,
        };
        // The same flow twice: two matrix cases.
        let unknown = unknown_covers(&checklist(), &[flow, flow]);
        let found: Vec<_> = unknown
            .iter()
            .map(|u| (u.id.as_str(), u.suggestion.as_deref()))
            .collect();
        assert_eq!(found, [("HM-1", Some("HM-01")), ("XX-99", None)]);
        assert_eq!(
            unknown[0].to_string(),
            "flows/a.yaml: flow `A` covers `HM-1`, which checklist `Demo` does not list\n  \
             hint: did you mean `HM-01`?"
        );
        assert!(
            unknown[1]
                .to_string()
                .contains("add the item to the checklist")
        );
        let covers = ["HM-07".to_owned()];
        let flow = FlowCovers {
            file: Path::new("f.yaml"),
            flow: "F",
            covers: &covers,
        };
        let unknown = unknown_covers(&checklist(), &[flow]);
        let text = unknown[0].to_string();
        assert!(
            text.ends_with("items of this kind are HM-01, HM-02"),
            "{text}"
        );
    }

    #[test]
    fn suggestions() {
        let c = checklist();
        assert_eq!(nearest_id(&c, "hm-01").as_deref(), Some("HM-01"));
        assert_eq!(nearest_id(&c, "RF_1").as_deref(), Some("RF-01"));
        assert_eq!(nearest_id(&c, "RF-10").as_deref(), Some("RF-01"));
        // HM-03 is one edit from HM-01 and from HM-02: no guess.
        assert_eq!(nearest_id(&c, "HM-03"), None);
        assert_eq!(nearest_id(&c, "CAPTURE"), None);
    }

    #[test]
    fn malformed_entry_gets_the_id_format() {
        let covers = ["capture".to_owned()];
        let flow = FlowCovers {
            file: Path::new("f.yaml"),
            flow: "F",
            covers: &covers,
        };
        let unknown = unknown_covers(&checklist(), &[flow]);
        assert!(
            unknown[0]
                .to_string()
                .contains("two or more capital letters")
        );
    }

    #[test]
    fn distance() {
        assert_eq!(edit_distance("HM-01", "HM-01"), 0);
        assert_eq!(edit_distance("HM-1", "HM-01"), 1);
        assert_eq!(edit_distance("", "ab"), 2);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }
}
