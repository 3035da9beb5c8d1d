//! `covers:` entries that name no checklist item: a typo that would otherwise leave an item
//! silently missing. Each is a [`Diagnostic`] pointing at the entry in the flow file:
//!
//! ```text
//! error: flow `Refunds` covers `RF-1`, which checklist `APO card payments, hosted mode` does not list
//!  --> flows/refund.yaml:3:17
//!   |
//! 3 | covers: [RF-01, RF-1]
//!   |                 ^^^^ not an item of the checklist
//!   |
//!   = hint: did you mean `RF-01`?
//! ```

use std::sync::Arc;

use super::load::{Checklist, ID_FORMAT, is_item_id};
use crate::diag::{Diagnostic, SourceFile, did_you_mean};

/// What one flow says it covers, borrowed from the loaded flows (a `flow::plan::Case`).
#[derive(Debug, Clone, Copy)]
pub struct FlowCovers<'a> {
    /// The flow file, with its text (to point at the entry).
    pub file: &'a Arc<SourceFile>,
    /// The flow's name.
    pub flow: &'a str,
    /// Its `covers:` entries.
    pub covers: &'a [String],
}

/// Every `covers:` entry that names no item of `checklist`, once per flow and entry, in the
/// order given (matrix cases of one flow repeat the same entries; they are reported once).
pub fn unknown_covers(checklist: &Checklist, flows: &[FlowCovers<'_>]) -> Vec<Diagnostic> {
    let mut seen: Vec<(&std::path::Path, &str, &str)> = Vec::new();
    let mut found = Vec::new();
    for flow in flows {
        for id in flow.covers {
            let key = (flow.file.path.as_path(), flow.flow, id.as_str());
            if checklist.item(id).is_some() || seen.contains(&key) {
                continue;
            }
            seen.push(key);
            let title = format!(
                "flow `{}` covers `{id}`, which checklist `{}` does not list",
                flow.flow, checklist.name
            );
            let diagnostic = match locate(&flow.file.text, id) {
                Some(at) => {
                    let (line, column) = flow.file.position(at);
                    Diagnostic::new(flow.file, line, column, title)
                        .with_width(id.chars().count().max(1) as u64)
                        .with_label("not an item of the checklist")
                }
                None => Diagnostic::for_file(&flow.file.path, title),
            };
            found.push(diagnostic.with_hint(hint(checklist, id)));
        }
    }
    found
}

/// The byte offset of `id` as a whole entry in the file's top-level `covers:` (block or flow
/// list), if it is written there.
fn locate(text: &str, id: &str) -> Option<usize> {
    if id.is_empty() {
        return None;
    }
    let mut offset = 0;
    let mut in_covers = false;
    for line in text.split_inclusive('\n') {
        let top_level = line.starts_with(|c: char| !c.is_whitespace() && c != '-' && c != '#');
        if top_level {
            in_covers = line.starts_with("covers:");
        }
        if in_covers {
            // Up to a comment: `#` at the start or after a space (ids hold no `#`).
            let content = match line.find('#') {
                Some(i) if i == 0 || line[..i].ends_with(char::is_whitespace) => &line[..i],
                _ => line,
            };
            let mut from = 0;
            while let Some(i) = content[from..].find(id) {
                let start = from + i;
                let end = start + id.len();
                let is_entry_char = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
                let before = line[..start]
                    .chars()
                    .next_back()
                    .is_none_or(|c| !is_entry_char(c));
                let after = content[end..]
                    .chars()
                    .next()
                    .is_none_or(|c| !is_entry_char(c));
                if before && after {
                    return Some(offset + start);
                }
                from = end;
            }
        }
        offset += line.len();
    }
    None
}

/// What to do: the item meant when the entry differs only in case or padding (`hm-1`), else
/// the items of the same kind (`CP-09`: the `CP-` items), else the closest id of a malformed
/// entry, else the id format.
fn hint(checklist: &Checklist, id: &str) -> String {
    let normal = normalize(id);
    if let Some(item) = checklist.items.iter().find(|i| normalize(&i.id) == normal) {
        return format!("did you mean `{}`?", item.id);
    }
    if is_item_id(id) {
        let prefix = id.split('-').next().unwrap_or(id);
        let same: Vec<&str> = checklist
            .items
            .iter()
            .map(|i| i.id.as_str())
            .filter(|i| i.split('-').next() == Some(prefix))
            .collect();
        return if same.is_empty() {
            "fix the entry in `covers:` or add the item to the checklist".to_owned()
        } else {
            format!("the checklist's items of this kind are {}", same.join(", "))
        };
    }
    match did_you_mean(
        &id.to_ascii_uppercase(),
        checklist.items.iter().map(|i| i.id.as_str()),
    ) {
        Some(close) => format!("did you mean `{close}`?"),
        None => ID_FORMAT.to_owned(),
    }
}

/// Upper case, `_`/space as `-`, and leading zeros dropped from the number.
fn normalize(id: &str) -> String {
    let id = id.trim().to_ascii_uppercase().replace(['_', ' '], "-");
    match id.rsplit_once('-') {
        Some((prefix, number)) => format!("{prefix}-{}", number.trim_start_matches('0')),
        None => id,
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn checklist() -> Checklist {
        Checklist::parse(
            std::path::Path::new("c.yaml"),
            "name: Demo\nitems:\n\
             - { id: HM-01, title: a, passing: p, proof: [{assertion: any}] }\n\
             - { id: HM-02, title: b, passing: p, proof: [{assertion: any}] }\n\
             - { id: RF-01, title: c, passing: p, proof: [{assertion: any}] }\n"
                .to_owned(),
        )
        .unwrap()
    }

    fn source(text: &str) -> Arc<SourceFile> {
        Arc::new(SourceFile::new(
            PathBuf::from("flows/a.yaml"),
            text.to_owned(),
        ))
    }

    #[test]
    fn known_entries_pass_unknown_are_reported_once_where_written() {
        let file = source("name: A\ncovers: [HM-01, HM-10, HM-1]\nsteps: []\n");
        let covers = ["HM-01".to_owned(), "HM-1".to_owned(), "XX-99".to_owned()];
        let flow = FlowCovers {
            file: &file,
            flow: "A",
            covers: &covers,
        };
        // The same flow twice: two matrix cases.
        let found = unknown_covers(&checklist(), &[flow, flow]);
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].location(), "flows/a.yaml:2:24");
        assert_eq!(found[0].hint.as_deref(), Some("did you mean `HM-01`?"));
        // Not written in the file (it came from elsewhere): the file, no position.
        assert_eq!(found[1].location(), "flows/a.yaml");
        assert!(found[1].title.contains("covers `XX-99`"));
    }

    #[test]
    fn located_in_block_lists_only_under_covers() {
        let text = "name: HM-1 test\ntags:\n  - HM-1\ncovers:\n  # HM-1 below\n  - HM-1\n";
        assert_eq!(
            locate(text, "HM-1").map(|at| source(text).position(at)),
            Some((6, 5))
        );
        assert_eq!(locate("covers: [HM-10]\n", "HM-1"), None);
        assert_eq!(locate("covers: [\"\"]\n", ""), None);
    }

    #[test]
    fn hints() {
        let c = checklist();
        assert_eq!(hint(&c, "hm-01"), "did you mean `HM-01`?");
        assert_eq!(hint(&c, "RF_1"), "did you mean `RF-01`?");
        assert_eq!(
            hint(&c, "HM-07"),
            "the checklist's items of this kind are HM-01, HM-02"
        );
        assert_eq!(
            hint(&c, "XX-01"),
            "fix the entry in `covers:` or add the item to the checklist"
        );
        assert_eq!(hint(&c, "HM01"), "did you mean `HM-01`?");
        assert_eq!(hint(&c, "capture"), ID_FORMAT);
    }
}
