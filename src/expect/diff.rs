//! Expected vs actual for objects and lists: a line diff of their pretty JSON.

use serde_json::Value;
use similar::TextDiff;

/// A unified-style diff (`-` expected, `+` actual) of two JSON values, masked by the caller.
pub(super) fn json_diff(expected: &Value, actual: &Value) -> String {
    let e = serde_json::to_string_pretty(expected).unwrap_or_default();
    let a = serde_json::to_string_pretty(actual).unwrap_or_default();
    let diff = TextDiff::from_lines(&e, &a);
    let mut out = String::new();
    for change in diff.iter_all_changes() {
        let sign = match change.tag() {
            similar::ChangeTag::Delete => '-',
            similar::ChangeTag::Insert => '+',
            similar::ChangeTag::Equal => ' ',
        };
        out.push(sign);
        out.push_str(change.value().trim_end_matches('\n'));
        out.push('\n');
    }
    out.trim_end().to_owned()
}
