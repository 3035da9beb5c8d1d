//! The masked sink: streams and report files.

use std::borrow::Cow;
use std::io::{self, Write};
use std::path::Path;

use super::escape::{terminal_safe, xml_safe};
use crate::mask::mask_text;

/// The longest line a [`Sink`] holds back waiting for its end; a longer one is written (masked)
/// in pieces of this size.
pub const MAX_PENDING: usize = 64 * 1024;

/// A stream every byte of which is masked and escaped for a terminal: stdout and stderr in the
/// binary, a buffer in tests. Text is held until its line ends (so a card number split across
/// two writes is still masked), up to [`MAX_PENDING`] bytes. Writes are best-effort: a closed
/// pipe must not stop a run or its report files.
pub struct Sink {
    out: Box<dyn Write + Send>,
    pending: Vec<u8>,
}

impl Sink {
    /// A sink on `out`.
    pub fn new(out: Box<dyn Write + Send>) -> Self {
        Sink {
            out,
            pending: Vec::new(),
        }
    }

    /// The process's standard output.
    pub fn stdout() -> Self {
        Sink::new(Box::new(io::stdout()))
    }

    /// The process's standard error.
    pub fn stderr() -> Self {
        Sink::new(Box::new(io::stderr()))
    }

    /// Writes `text`, masked and escaped line by line.
    pub fn print(&mut self, text: &str) {
        let _ = self.write_all(text.as_bytes());
        let _ = self.flush();
    }

    fn emit(&mut self, bytes: &[u8]) -> io::Result<()> {
        let text = String::from_utf8_lossy(bytes);
        self.out.write_all(for_terminal(&text).as_bytes())
    }

    /// Writes every complete line held back (all of it when `all`).
    fn drain(&mut self, all: bool) -> io::Result<()> {
        let end = if all {
            self.pending.len()
        } else {
            match self.pending.iter().rposition(|b| *b == b'\n') {
                Some(i) => i + 1,
                None if self.pending.len() >= MAX_PENDING => self.pending.len(),
                None => return Ok(()),
            }
        };
        if end == 0 {
            return Ok(());
        }
        let lines: Vec<u8> = self.pending.drain(..end).collect();
        self.emit(&lines)
    }
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.pending.extend_from_slice(buf);
        self.drain(false)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.drain(true)?;
        self.out.flush()
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

/// Text for a terminal: masked, then escaped ([`terminal_safe`]); what [`Sink`] writes.
pub fn for_terminal(text: &str) -> String {
    terminal_safe(&mask_text(text)).into_owned()
}

/// Standard error as indicatif draws on it (the progress line), every text masked and escaped
/// like a [`Sink`]'s; cursor moves and line clearing are indicatif's own.
#[derive(Debug)]
pub struct ProgressTerm(console::Term);

impl ProgressTerm {
    /// Standard error.
    pub fn stderr() -> Self {
        ProgressTerm(console::Term::stderr())
    }
}

impl indicatif::TermLike for ProgressTerm {
    fn width(&self) -> u16 {
        self.0.size().1
    }
    fn height(&self) -> u16 {
        self.0.size().0
    }
    fn move_cursor_up(&self, n: usize) -> io::Result<()> {
        self.0.move_cursor_up(n)
    }
    fn move_cursor_down(&self, n: usize) -> io::Result<()> {
        self.0.move_cursor_down(n)
    }
    fn move_cursor_right(&self, n: usize) -> io::Result<()> {
        self.0.move_cursor_right(n)
    }
    fn move_cursor_left(&self, n: usize) -> io::Result<()> {
        self.0.move_cursor_left(n)
    }
    fn write_line(&self, s: &str) -> io::Result<()> {
        self.0.write_line(&for_terminal(s))
    }
    fn write_str(&self, s: &str) -> io::Result<()> {
        self.0.write_str(&for_terminal(s))
    }
    fn clear_line(&self) -> io::Result<()> {
        self.0.clear_line()
    }
    fn flush(&self) -> io::Result<()> {
        self.0.flush()
    }
}

/// What a report file holds, which decides how it is escaped after masking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// JUnit XML or an HTML page: characters XML forbids are shown as escapes.
    Markup,
    /// Markdown, plain text: masked only.
    Text,
}

/// Writes a JSON file: the value masked field by field ([`crate::mask::mask_json`]: secret and
/// expiry fields, card numbers in strings and numbers, registered secrets), pretty-printed.
/// JSON is masked as a value, not as text, so a long number (a duration) stays a number.
pub fn write_json(path: &Path, value: &serde_json::Value) -> io::Result<()> {
    std::fs::write(path, render_json(value))
}

/// What [`write_json`] writes.
pub(crate) fn render_json(value: &serde_json::Value) -> String {
    let mut masked = crate::mask::masked_json(value);
    mask_keys(&mut masked);
    serde_json::to_string_pretty(&masked).unwrap_or_else(|_| "null".to_owned())
}

/// Masks object keys too (`mask_json` masks values): a card number used as a key is still one.
fn mask_keys(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            if map.keys().any(|k| matches!(mask_text(k), Cow::Owned(_))) {
                *map = std::mem::take(map)
                    .into_iter()
                    .map(|(k, v)| (mask_text(&k).into_owned(), v))
                    .collect();
            }
            map.values_mut().for_each(mask_keys);
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(mask_keys),
        _ => {}
    }
}

/// Writes a report file: the whole text masked, then escaped for its kind.
pub fn write_file(path: &Path, kind: FileKind, text: &str) -> io::Result<()> {
    std::fs::write(path, render(kind, text).as_bytes())
}

/// Appends to a file shared with others (GitHub's `$GITHUB_STEP_SUMMARY`), masked as text.
pub fn append_file(path: &Path, text: &str) -> io::Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    file.write_all(render(FileKind::Text, text).as_bytes())
}

/// What [`write_file`] writes.
pub(crate) fn render(kind: FileKind, text: &str) -> String {
    let masked = mask_text(text);
    match kind {
        FileKind::Markup => xml_safe(&masked).into_owned(),
        FileKind::Text => masked.into_owned(),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl Write for Buffer {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_card_number_split_across_writes_is_masked_and_controls_escaped() {
        let buffer = Buffer::default();
        let mut sink = Sink::new(Box::new(buffer.clone()));
        write!(sink, "card 41111111").unwrap();
        writeln!(sink, "11111111 ok\x1b[2J").unwrap();
        assert!(buffer.0.lock().unwrap().ends_with(b"\\x1b[2J\n"));
        write!(sink, "tail 4111111111111111").unwrap();
        drop(sink);
        let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
        assert_eq!(
            text,
            "card ************1111 ok\\x1b[2J\ntail ************1111"
        );
    }

    #[test]
    fn files_are_masked_and_markup_stays_well_formed() {
        assert_eq!(
            render(FileKind::Markup, "<a n=\"4111111111111111\u{fffe}\"/>"),
            "<a n=\"************1111\\u{fffe}\"/>"
        );
        assert_eq!(render(FileKind::Text, "\u{fffe}"), "\u{fffe}");
    }

    #[test]
    fn json_is_masked_as_a_value_so_numbers_stay_numbers() {
        let v = serde_json::json!({"duration": 12.3456789012345, "pan": "4111111111111111",
                                   "cvv": "123", "4111111111111111": 1});
        let text = render_json(&v);
        let back: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(back["duration"], 12.3456789012345);
        assert_eq!(back["pan"], "************1111");
        assert_eq!(back["cvv"], "***");
        assert_eq!(back["************1111"], 1);
    }
}
