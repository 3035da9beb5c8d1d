//! Source locations and error rendering: one renderer for every located error, at load time
//! and at run time, in the style of Hurl and rustc:
//!
//! ```text
//! error: unknown predicate `matchs`
//!   --> flows/pay.yaml:12:7
//!    |
//! 12 |       $.result.resultCode: { matchs: "^S" }
//!    |                              ^^^^^^ not a predicate
//!    |
//!    = hint: did you mean `matches`?
//! ```
//!
//! The rendered text goes through [`crate::mask::mask_text`], so a card number quoted in a
//! flow never reaches the terminal. A quoted line longer than [`MAX_SNIPPET_CHARS`] is shown
//! as a window around the column (`…` marks what is cut), and a title, label or hint longer
//! than [`MAX_MESSAGE_CHARS`] is cut: a 20 MB line prints a few hundred characters.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

/// The most characters of a source line an error quotes.
pub const MAX_SNIPPET_CHARS: usize = 160;

/// The most characters of a title, label or hint.
pub const MAX_MESSAGE_CHARS: usize = 400;

/// `text` cut to `max` characters, `…` marking the cut.
fn clip(text: &str, max: usize) -> std::borrow::Cow<'_, str> {
    match text.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &text[..at]).into(),
        None => text.into(),
    }
}

/// At most [`MAX_SNIPPET_CHARS`] of `line` around the 0-based character column `col`, and
/// where that column is in what is shown.
fn window(line: &str, col: usize) -> (String, usize) {
    let n = line.chars().count();
    if n <= MAX_SNIPPET_CHARS {
        return (line.to_owned(), col);
    }
    let start = col
        .saturating_sub(MAX_SNIPPET_CHARS / 4)
        .min(n - MAX_SNIPPET_CHARS);
    let mut shown = String::new();
    let shift = usize::from(start > 0);
    if start > 0 {
        shown.push('…');
    }
    shown.extend(line.chars().skip(start).take(MAX_SNIPPET_CHARS));
    if start + MAX_SNIPPET_CHARS < n {
        shown.push('…');
    }
    (shown, col.saturating_sub(start) + shift)
}

/// A file's path and text, kept so that any error can point at `file:line:col` and quote it.
#[derive(Debug)]
pub struct SourceFile {
    /// The path as the user gave it (relative paths stay relative, for readable output).
    pub path: PathBuf,
    /// The whole text of the file.
    pub text: String,
    /// The byte offset where each line starts, built on first use: finding a line is then a
    /// look-up, not a scan from the top (the loader locates every key of a file).
    line_starts: OnceLock<Vec<usize>>,
}

impl SourceFile {
    /// A file's path and text.
    pub fn new(path: impl Into<PathBuf>, text: impl Into<String>) -> Self {
        SourceFile {
            path: path.into(),
            text: text.into(),
            line_starts: OnceLock::new(),
        }
    }

    fn line_starts(&self) -> &[usize] {
        self.line_starts.get_or_init(|| {
            std::iter::once(0)
                .chain(self.text.match_indices('\n').map(|(i, _)| i + 1))
                .collect()
        })
    }

    /// The byte offset where a 1-based line starts (the end of the text for the line after a
    /// final line break); `None` past that.
    fn line_start(&self, line: u64) -> Option<usize> {
        let index = usize::try_from(line.checked_sub(1)?).ok()?;
        self.line_starts().get(index).copied()
    }

    /// The text of a 1-based line, without its line break; `None` past the end.
    pub fn line_text(&self, line: u64) -> Option<&str> {
        let start = self.line_start(line)?;
        if start >= self.text.len() {
            return None;
        }
        let rest = &self.text[start..];
        let l = rest.find('\n').map_or(rest, |end| &rest[..end]);
        Some(l.strip_suffix('\r').unwrap_or(l))
    }

    /// The first place at or after `line:column` where `needle` starts, as 1-based
    /// `(line, column)` (columns count characters); `None` when it does not occur.
    pub fn find_from(&self, line: u64, column: u64, needle: &str) -> Option<(u64, u64)> {
        let start = self.byte_offset(line, column)?;
        let at = start + self.text.get(start..)?.find(needle)?;
        Some(self.position(at))
    }

    /// The byte offset of a 1-based `line:column`; `None` past the end.
    pub fn byte_offset(&self, line: u64, column: u64) -> Option<usize> {
        let offset = self.line_start(line.max(1))?;
        let rest = self.text.get(offset..)?;
        let skip = usize::try_from(column.saturating_sub(1)).ok()?;
        let within = rest.char_indices().nth(skip).map_or(rest.len(), |(i, _)| i);
        Some(offset + within)
    }

    /// The 1-based `(line, column)` of a byte offset.
    pub fn position(&self, byte: usize) -> (u64, u64) {
        let byte = if self.text.get(..byte).is_some() {
            byte
        } else {
            self.text.len()
        };
        let starts = self.line_starts();
        // The lines that start at or before `byte`; the last of them holds it.
        let line = starts.partition_point(|&s| s <= byte);
        let line_start = starts[line - 1];
        let column = self.text[line_start..byte].chars().count() + 1;
        (line as u64, column as u64)
    }
}

/// One located error (or failure): where, what, and what to do about it.
#[derive(Debug, Clone)]
pub struct Diagnostic {
    /// The file the error is in.
    pub file: PathBuf,
    /// 1-based line; 0 when the error is about the file as a whole (it cannot be read).
    pub line: u64,
    /// 1-based column (in characters); 0 when unknown.
    pub column: u64,
    /// How many characters the caret underlines (at least one is drawn).
    pub width: u64,
    /// The first line: what is wrong, as a lowercase fragment.
    pub title: String,
    /// The text beside the caret.
    pub label: String,
    /// What to do about it.
    pub hint: Option<String>,
    /// The file's text, for the snippet; without it only the location is printed.
    pub source: Option<Arc<SourceFile>>,
}

impl Diagnostic {
    /// An error at `line:column` of a file whose text is known (the snippet is quoted).
    pub fn new(source: &Arc<SourceFile>, line: u64, column: u64, title: impl Into<String>) -> Self {
        Diagnostic {
            file: source.path.clone(),
            line,
            column,
            width: 1,
            title: title.into(),
            label: String::new(),
            hint: None,
            source: Some(Arc::clone(source)),
        }
    }

    /// An error about a whole file (it does not exist, it cannot be read): no snippet.
    pub fn for_file(file: impl Into<PathBuf>, title: impl Into<String>) -> Self {
        Diagnostic {
            file: file.into(),
            line: 0,
            column: 0,
            width: 1,
            title: title.into(),
            label: String::new(),
            hint: None,
            source: None,
        }
    }

    /// An error about no file at all (a flag, the command line): title and hint only.
    pub fn plain(title: impl Into<String>) -> Self {
        Diagnostic::for_file(PathBuf::new(), title)
    }

    /// Sets the text beside the caret.
    #[must_use]
    pub fn with_label(mut self, label: impl Into<String>) -> Self {
        self.label = label.into();
        self
    }

    /// Sets the hint.
    #[must_use]
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Sets how many characters the caret underlines.
    #[must_use]
    pub fn with_width(mut self, width: u64) -> Self {
        self.width = width.max(1);
        self
    }

    /// `file:line:column`, or just the file when the line is unknown.
    pub fn location(&self) -> String {
        match (self.line, self.column) {
            (0, _) => self.file.display().to_string(),
            (l, 0) => format!("{}:{l}", self.file.display()),
            (l, c) => format!("{}:{l}:{c}", self.file.display()),
        }
    }

    /// Renders the error as text (ANSI colours when `color`), masked through [`crate::mask`].
    pub fn render(&self, color: bool) -> String {
        let paint = |code: &str, s: &str| {
            if color {
                format!("\x1b[{code}m{s}\x1b[0m")
            } else {
                s.to_owned()
            }
        };
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{}{}",
            paint("1;31", "error"),
            paint("1", &format!(": {}", clip(&self.title, MAX_MESSAGE_CHARS)))
        );
        let snippet = self
            .source
            .as_ref()
            .and_then(|s| s.line_text(self.line).map(str::to_owned));
        let gutter = if snippet.is_some() {
            self.line.to_string().len()
        } else {
            0
        };
        let pad = " ".repeat(gutter);
        let bar = paint("1;34", "|");
        if !self.file.as_os_str().is_empty() {
            let _ = writeln!(out, "{pad}{} {}", paint("1;34", "-->"), self.location());
        }
        let label = clip(&self.label, MAX_MESSAGE_CHARS);
        if let Some(text) = snippet {
            let col = usize::try_from(self.column.max(1)).unwrap_or(1);
            let (text, col) = window(&text, col - 1);
            let _ = writeln!(out, "{pad} {bar}");
            let _ = writeln!(
                out,
                "{} {bar} {text}",
                paint("1;34", &self.line.to_string())
            );
            let lead: String = text
                .chars()
                .take(col)
                .map(|c| if c == '\t' { '\t' } else { ' ' })
                .collect();
            let line_len = text.chars().count();
            let room = line_len.saturating_sub(col).max(1);
            let width = usize::try_from(self.width).unwrap_or(1).clamp(1, room);
            let carets = paint("1;31", &"^".repeat(width));
            if label.is_empty() {
                let _ = writeln!(out, "{pad} {bar} {lead}{carets}");
            } else {
                let _ = writeln!(out, "{pad} {bar} {lead}{carets} {}", paint("1;31", &label));
            }
            let _ = writeln!(out, "{pad} {bar}");
        } else if !label.is_empty() {
            let _ = writeln!(out, "{pad} {} {}", paint("1;34", "="), label);
        }
        if let Some(hint) = &self.hint {
            let hint = clip(hint, MAX_MESSAGE_CHARS);
            let _ = writeln!(out, "{pad} {} hint: {hint}", paint("1;34", "="));
        }
        crate::mask::mask_text(&out).into_owned()
    }
}

/// The candidate closest to a misspelled `word`, if one is close enough to be a likely typo
/// (for "did you mean `steps`?" hints).
pub(crate) fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (edit_distance(word, c), c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 4) && *d < c.len())
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Levenshtein distance (names are short).
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source() -> Arc<SourceFile> {
        Arc::new(SourceFile::new(
            PathBuf::from("flows/pay.yaml"),
            "name: pay\nsteps:\n  - http: { url: x }\n    expect:\n      $.result.resultCod: S\n"
                .to_owned(),
        ))
    }

    #[test]
    fn lines_offsets_and_positions_agree_with_a_scan_from_the_top() {
        for text in ["", "a", "a\n", "a\n\n", "é1\r\nb\n\ncé", "\n\nx"] {
            let file = SourceFile::new("t.yaml", text);
            let lines: Vec<&str> = text.lines().collect();
            for line in 0..=lines.len() as u64 + 1 {
                let expected = usize::try_from(line)
                    .ok()
                    .and_then(|l| l.checked_sub(1))
                    .and_then(|i| lines.get(i))
                    .map(|l| l.strip_suffix('\r').unwrap_or(l));
                assert_eq!(file.line_text(line), expected, "{text:?} line {line}");
            }
            for byte in 0..=text.len() + 1 {
                let before = text.get(..byte).unwrap_or(text);
                let line = before.matches('\n').count() as u64 + 1;
                let start = before.rfind('\n').map_or(0, |i| i + 1);
                let column = before[start..].chars().count() as u64 + 1;
                assert_eq!(file.position(byte), (line, column), "{text:?} byte {byte}");
                if text.is_char_boundary(byte.min(text.len())) && byte <= text.len() {
                    assert_eq!(
                        file.byte_offset(line, column),
                        Some(byte),
                        "{text:?} {byte}"
                    );
                }
            }
        }
        assert_eq!(SourceFile::new("t", "a\nb").byte_offset(3, 1), None);
        assert_eq!(
            SourceFile::new("t", "a\nb").find_from(1, 1, "b"),
            Some((2, 1))
        );
    }

    #[test]
    fn renders_location_snippet_caret_and_hint() {
        let d = Diagnostic::new(&source(), 5, 7, "the query matched nothing")
            .with_width(18)
            .with_label("this path")
            .with_hint("check the spelling");
        let text = d.render(false);
        assert_eq!(
            text,
            "error: the query matched nothing\n \
             --> flows/pay.yaml:5:7\n  \
             |\n\
             5 |       $.result.resultCod: S\n  \
             |       ^^^^^^^^^^^^^^^^^^ this path\n  \
             |\n  \
             = hint: check the spelling\n"
        );
    }

    #[test]
    fn a_huge_line_is_quoted_as_a_window_around_the_column() {
        let line = format!("k: {}X{}", "a".repeat(10_000_000), "b".repeat(10_000_000));
        let source = Arc::new(SourceFile::new("big.yaml", line));
        let d = Diagnostic::new(&source, 1, 10_000_004, "x".repeat(5000))
            .with_label("y".repeat(5000))
            .with_hint("z".repeat(5000));
        let text = d.render(false);
        assert!(text.len() < 2000, "{} bytes", text.len());
        let lines: Vec<&str> = text.lines().collect();
        let quoted = lines[3].split_once("| ").unwrap().1;
        let caret = lines[4].split_once("| ").unwrap().1;
        assert!(quoted.starts_with('…') && quoted.ends_with('…'), "{quoted}");
        let col = caret.find('^').unwrap();
        assert_eq!(
            quoted.chars().nth(col),
            Some('X'),
            "the caret points at the column"
        );
    }

    #[test]
    fn finds_text_after_a_position() {
        let s = source();
        assert_eq!(s.find_from(1, 1, "resultCod"), Some((5, 16)));
        assert_eq!(s.find_from(5, 17, "resultCod"), None);
        assert_eq!(s.find_from(99, 1, "x"), None);
        assert_eq!(s.position(0), (1, 1));
        assert_eq!(s.byte_offset(2, 1), Some(10));
    }

    #[test]
    fn suggests_close_names_only() {
        let names = ["steps", "name", "matrix", "starts_with"];
        assert_eq!(did_you_mean("stpes", names), Some("steps"));
        assert_eq!(did_you_mean("start_with", names), Some("starts_with"));
        assert_eq!(did_you_mean("nme", names), Some("name"));
        assert_eq!(did_you_mean("currency", names), None);
        assert_eq!(did_you_mean("x", names), None);
    }

    #[test]
    fn a_whole_file_error_has_no_snippet() {
        let d = Diagnostic::for_file("flows/nope.yaml", "no such file or folder")
            .with_hint("check the path");
        assert_eq!(
            d.render(false),
            "error: no such file or folder\n--> flows/nope.yaml\n = hint: check the path\n"
        );
    }

    #[test]
    fn a_caret_never_runs_past_the_line_nor_panics() {
        let d = Diagnostic::new(&source(), 1, 99, "x").with_width(50);
        assert!(d.render(false).contains("^"));
        let d = Diagnostic::new(&source(), 99, 1, "x");
        assert!(d.render(false).contains("flows/pay.yaml:99:1"));
    }
}
