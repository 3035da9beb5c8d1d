//! A line-level unified diff of two snapshot contents, optionally coloured.
//!
//! ```text
//! --- old.snap
//! +++ new.snap.new
//! @@ -1,4 +1,4 @@
//!  {
//! -  "resultCode": "SUCCESS",
//! +  "resultCode": "RISK_REJECT",
//! ```

use std::fmt::Write as _;

use owo_colors::OwoColorize as _;
use similar::{ChangeTag, TextDiff};

/// Renders a unified diff (three lines of context) from `old` to `new`, labelled with the two
/// names; an empty string when they are equal. With `color`, removed lines are red, added lines
/// green and hunk headers cyan.
///
/// ```
/// let d = apoflow::snapshot::unified_diff("a\nb\n", "a\nc\n", "old", "new", false);
/// assert_eq!(d, "--- old\n+++ new\n@@ -1,2 +1,2 @@\n a\n-b\n+c\n");
/// ```
pub fn unified_diff(old: &str, new: &str, old_name: &str, new_name: &str, color: bool) -> String {
    let old = with_final_newline(old);
    let new = with_final_newline(new);
    let diff = TextDiff::from_lines(old.as_str(), new.as_str());
    let mut out = String::new();
    let udiff = diff.unified_diff();
    for (i, hunk) in udiff.iter_hunks().enumerate() {
        if i == 0 {
            push_line(&mut out, &format!("--- {old_name}"), Style::Removed, color);
            push_line(&mut out, &format!("+++ {new_name}"), Style::Added, color);
        }
        push_line(&mut out, &hunk.header().to_string(), Style::Hunk, color);
        for change in hunk.iter_changes() {
            let text = change.value().trim_end_matches('\n');
            let (sign, style) = match change.tag() {
                ChangeTag::Delete => ('-', Style::Removed),
                ChangeTag::Insert => ('+', Style::Added),
                ChangeTag::Equal => (' ', Style::Context),
            };
            push_line(&mut out, &format!("{sign}{text}"), style, color);
        }
    }
    out
}

/// Both sides end with a newline, so a missing final newline is never reported as a change.
fn with_final_newline(text: &str) -> String {
    let mut s = text.trim_end_matches('\n').to_owned();
    if !s.is_empty() {
        s.push('\n');
    }
    s
}

#[derive(Clone, Copy)]
enum Style {
    Removed,
    Added,
    Hunk,
    Context,
}

fn push_line(out: &mut String, line: &str, style: Style, color: bool) {
    // Writing to a String cannot fail.
    let _ = if color {
        match style {
            Style::Removed => writeln!(out, "{}", line.red()),
            Style::Added => writeln!(out, "{}", line.green()),
            Style::Hunk => writeln!(out, "{}", line.cyan()),
            Style::Context => writeln!(out, "{line}"),
        }
    } else {
        writeln!(out, "{line}")
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_texts_give_no_diff() {
        assert_eq!(unified_diff("{}\n", "{}", "a", "b", true), "");
    }

    #[test]
    fn new_snapshot_is_all_added() {
        assert_eq!(
            unified_diff("", "{\n}", "a", "b", false),
            "--- a\n+++ b\n@@ -0,0 +1,2 @@\n+{\n+}\n"
        );
    }

    #[test]
    fn colour_marks_changed_lines() {
        let d = unified_diff("x\n", "y\n", "a", "b", true);
        assert!(d.contains("\u{1b}[31m-x\u{1b}[39m"), "{d:?}");
        assert!(d.contains("\u{1b}[32m+y\u{1b}[39m"), "{d:?}");
        assert!(!unified_diff("x\n", "y\n", "a", "b", false).contains('\u{1b}'));
    }
}
