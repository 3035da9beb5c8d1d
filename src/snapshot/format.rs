//! The `.snap` file format, as insta writes it, so flow snapshots read like the project's own:
//!
//! ```text
//! ---
//! source: flows/card/first-time-auto-capture.yaml
//! expression: "authorized: notification"
//! ---
//! {
//!   "paymentId": "[paymentId]",
//!   "result": {
//!     "resultCode": "SUCCESS"
//!   }
//! }
//! ```
//!
//! The header is a small YAML mapping between two `---` lines; the contents follow and end with
//! one newline. `insta::Snapshot::from_file` reads these files (a test proves it). Header keys
//! other than `source` and `expression` (insta's `description`, `assertion_line`, …) are
//! tolerated when reading and dropped when rewriting.

use std::fmt;

/// One `.snap` file: its header and its contents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapFile {
    /// The flow file the snapshot belongs to, as a relative path.
    pub source: String,
    /// What was snapshotted: `"<step>: <of>"`.
    pub expression: String,
    /// The snapshot itself (pretty JSON), without the final newline.
    pub contents: String,
}

/// Why a `.snap` file could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct FormatError {
    /// The 1-based line where the problem is.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

impl SnapFile {
    /// Parses the text of a `.snap` or `.snap.new` file.
    ///
    /// ```
    /// use apoflow::snapshot::SnapFile;
    /// let snap = SnapFile::parse("---\nsource: a.yaml\nexpression: \"pay: response\"\n---\n{}\n").unwrap();
    /// assert_eq!(snap.expression, "pay: response");
    /// assert_eq!(snap.contents, "{}");
    /// ```
    pub fn parse(text: &str) -> Result<SnapFile, FormatError> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut lines = text.split_inclusive('\n').enumerate();
        match lines.next() {
            Some((_, first)) if first.trim_end() == "---" => {}
            _ => {
                return Err(FormatError {
                    line: 1,
                    message: "expected `---` to open the snapshot header".to_owned(),
                });
            }
        }
        let mut source = None;
        let mut expression = None;
        let mut body_start = None;
        let mut offset = text.find('\n').map_or(text.len(), |i| i + 1);
        for (i, line) in lines.by_ref() {
            offset += line.len();
            let trimmed = line.trim_end();
            if trimmed == "---" {
                body_start = Some(offset);
                break;
            }
            if trimmed.is_empty() || trimmed.starts_with('#') || line.starts_with([' ', '\t']) {
                // Blank lines, comments and nested values of keys we do not read (insta's `info:`).
                continue;
            }
            let Some((key, value)) = trimmed.split_once(':') else {
                return Err(FormatError {
                    line: i + 1,
                    message: format!("expected `key: value` in the header, found `{trimmed}`"),
                });
            };
            let value = parse_scalar(value.trim()).map_err(|message| FormatError {
                line: i + 1,
                message,
            })?;
            match key.trim() {
                "source" => source = Some(value),
                "expression" => expression = Some(value),
                _ => {}
            }
        }
        let Some(start) = body_start else {
            return Err(FormatError {
                line: text.lines().count().max(1),
                message: "the header is not closed by a `---` line".to_owned(),
            });
        };
        let contents = text[start.min(text.len())..].trim_end().to_owned();
        Ok(SnapFile {
            source: source.unwrap_or_default(),
            expression: expression.unwrap_or_default(),
            contents,
        })
    }
}

/// Reads a YAML scalar as insta writes them: plain, or double-quoted with JSON-style escapes.
fn parse_scalar(value: &str) -> Result<String, String> {
    if value.starts_with('"') {
        serde_json::from_str::<String>(value)
            .map_err(|e| format!("cannot read the quoted value {value}: {e}"))
    } else if let Some(inner) = value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')) {
        Ok(inner.replace("''", "'"))
    } else {
        Ok(value.to_owned())
    }
}

/// Writes a header value plain when YAML reads it back unchanged, else double-quoted.
fn write_scalar(f: &mut fmt::Formatter<'_>, value: &str) -> fmt::Result {
    let plain = !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '.' | '_' | '-'))
        && !value.starts_with(['-', '.'])
        && !matches!(value, "true" | "false" | "null" | "yes" | "no" | "~");
    if plain {
        f.write_str(value)
    } else {
        // A JSON string is a valid YAML double-quoted scalar.
        let quoted = serde_json::to_string(value).map_err(|_| fmt::Error)?;
        f.write_str(&quoted)
    }
}

impl fmt::Display for SnapFile {
    /// The file text: header, contents, one final newline.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("---\nsource: ")?;
        write_scalar(f, &self.source)?;
        f.write_str("\nexpression: ")?;
        // insta always quotes the expression; do the same so the files look alike.
        let quoted = serde_json::to_string(&self.expression).map_err(|_| fmt::Error)?;
        f.write_str(&quoted)?;
        writeln!(f, "\n---\n{}", self.contents.trim_end())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(source: &str, expression: &str) -> SnapFile {
        SnapFile {
            source: source.to_owned(),
            expression: expression.to_owned(),
            contents: "{\n  \"a\": 1\n}".to_owned(),
        }
    }

    #[test]
    fn writes_insta_layout() {
        assert_eq!(
            snap("flows/card/pay.yaml", "pay: response").to_string(),
            "---\nsource: flows/card/pay.yaml\nexpression: \"pay: response\"\n---\n{\n  \"a\": 1\n}\n"
        );
    }

    #[test]
    fn round_trips_awkward_header_values() {
        for source in [
            "flows/my flow: v2.yaml",
            "weird\"quote.yaml",
            "true",
            "-dash.yaml",
            "",
        ] {
            let s = snap(source, "step \"x\": notification\n");
            assert_eq!(SnapFile::parse(&s.to_string()), Ok(s));
        }
    }

    #[test]
    fn tolerates_insta_extras() {
        let text = "---\nsource: tests/x.rs\nassertion_line: 12\ndescription: hi\ninfo:\n  a: 1\nexpression: 'it''s'\n---\nbody\n\n";
        let s = SnapFile::parse(text).unwrap();
        assert_eq!(s.source, "tests/x.rs");
        assert_eq!(s.expression, "it's");
        assert_eq!(s.contents, "body");
    }

    #[test]
    fn broken_files_say_where() {
        assert_eq!(SnapFile::parse("").unwrap_err().line, 1);
        let e = SnapFile::parse("---\nsource: a\nnonsense\n---\n").unwrap_err();
        assert_eq!(e.line, 3);
        assert!(e.message.contains("nonsense"));
        let e = SnapFile::parse("---\nsource: a\n").unwrap_err();
        assert!(e.message.contains("not closed"));
        let e = SnapFile::parse("---\nexpression: \"unterminated\n---\n").unwrap_err();
        assert_eq!(e.line, 2);
    }
}
