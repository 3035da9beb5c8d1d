//! Escaping for the medium an output is read in, after masking.

use std::borrow::Cow;
use std::fmt::Write as _;

/// Text safe to print on a terminal: every control character (C0 but `\n` and `\t`, DEL, C1),
/// the bidirectional-override characters and the noncharacters U+FFFE and U+FFFF are shown as
/// escapes (`\x1b`, `\r`, `\u{202e}`), so no printed value can move the cursor, rewrite a line, set the window title or reorder
/// text. The colour sequences apoflow itself adds (`ESC [ digits ; … m`) are kept; a value
/// that must not carry colour either goes through [`one_line`] first.
pub fn terminal_safe(text: &str) -> Cow<'_, str> {
    if !text
        .chars()
        .any(|c| needs_terminal_escape(c) && c != '\x1b')
        && !text.contains('\x1b')
    {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if c == '\x1b'
            && let Some(len) = sgr_len(rest)
        {
            out.push_str(&rest[..len]);
            rest = &rest[len..];
            continue;
        }
        if needs_terminal_escape(c) {
            push_escape(&mut out, c);
        } else {
            out.push(c);
        }
        rest = &rest[c.len_utf8()..];
    }
    Cow::Owned(out)
}

/// A value shown inside one line of a report (a flow or step name, a file name): line breaks
/// and every control character, colours included, shown as escapes, so a value cannot start a
/// line of its own (`\nPASS …`) or paint itself.
pub fn one_line(text: &str) -> Cow<'_, str> {
    if !text
        .chars()
        .any(|c| needs_terminal_escape(c) || matches!(c, '\n' | '\t' | '\x1b'))
    {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if needs_terminal_escape(c) || matches!(c, '\n' | '\t' | '\x1b') {
            push_escape(&mut out, c);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Text that is well-formed inside an XML 1.0 or HTML document: the characters XML forbids
/// (C0 controls but tab, line feed and carriage return; U+FFFE; U+FFFF) are shown as escapes.
/// Markup escaping (`<`, `&`) is the document writer's job.
pub fn xml_safe(text: &str) -> Cow<'_, str> {
    if !text.chars().any(not_xml) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if not_xml(c) {
            push_escape(&mut out, c);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

fn not_xml(c: char) -> bool {
    matches!(c, '\0'..='\x08' | '\x0b' | '\x0c' | '\x0e'..='\x1f' | '\u{fffe}' | '\u{ffff}')
}

fn needs_terminal_escape(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\t')
        || matches!(
            c,
            '\u{202a}'..='\u{202e}'
                | '\u{2066}'..='\u{2069}'
                | '\u{200e}'
                | '\u{200f}'
                | '\u{fffe}'
                | '\u{ffff}'
        )
}

/// The length of the colour sequence (`ESC [ 0-9; m`) at the start of `text`, if it is one.
fn sgr_len(text: &str) -> Option<usize> {
    let body = text.strip_prefix("\x1b[")?;
    let params = body
        .find(|c: char| !(c.is_ascii_digit() || c == ';'))
        .unwrap_or(body.len());
    (body[params..].starts_with('m') && params <= 32).then_some(2 + params + 1)
}

fn push_escape(out: &mut String, c: char) {
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        c if u32::from(c) < 0x80 => {
            let _ = write!(out, "\\x{:02x}", u32::from(c));
        }
        c => {
            let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_cannot_reach_the_terminal_but_apoflows_colours_do() {
        assert_eq!(terminal_safe("plain\n"), "plain\n");
        assert_eq!(
            terminal_safe("\x1b[1;32mPASS \x1b[0m ok"),
            "\x1b[1;32mPASS \x1b[0m ok"
        );
        // Cursor movement, line erase, carriage return, a window title, C1 CSI, bidi override.
        assert_eq!(
            terminal_safe("a\x1b[2K\rb\x1b]0;t\x07\u{9b}31m\u{202e}c"),
            "a\\x1b[2K\\rb\\x1b]0;t\\x07\\u{9b}31m\\u{202e}c"
        );
    }

    #[test]
    fn a_value_on_one_line_cannot_start_a_line_or_paint_itself() {
        assert_eq!(
            one_line("x\n\x1b[1;32mPASS \x1b[0m forged"),
            "x\\n\\x1b[1;32mPASS \\x1b[0m forged"
        );
        assert_eq!(one_line("Pay [card=visa]"), "Pay [card=visa]");
    }

    #[test]
    fn xml_keeps_only_the_characters_xml_allows() {
        assert_eq!(
            xml_safe("a\u{fffe}b\u{ffff}\x01\tc\n"),
            "a\\u{fffe}b\\u{ffff}\\x01\tc\n"
        );
        assert_eq!(xml_safe("é < ok"), "é < ok");
    }
}
