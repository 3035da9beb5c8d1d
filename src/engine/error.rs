//! Why a step could not be carried out, as a value: each part either a plain message or a
//! diagnostic located in the flow file (a template that failed, a file that could not be read).
//! Steps build these; they are rendered once, at the edge (the reports), by the renderer load
//! errors use ([`crate::diag`]), and masked there.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_saphyr::Location;

use crate::diag::{Diagnostic, SourceFile};
use crate::template::TemplateError;

/// A step's error: one or more parts, in the order they happened.
#[derive(Debug, Clone)]
pub struct StepError {
    parts: Vec<Part>,
}

#[derive(Debug, Clone)]
enum Part {
    /// A message without a place in the flow file (a time-out, a refused connection).
    Message(String),
    /// An error at a place in the flow file, quoted with a caret.
    Located(Box<Diagnostic>),
    /// Text already rendered (an error read back from a JSON report).
    Rendered(String),
}

impl StepError {
    /// A plain message.
    pub fn new(message: impl Into<String>) -> Self {
        StepError {
            parts: vec![Part::Message(message.into())],
        }
    }

    /// An error at `at` in `file`, with a hint.
    pub fn located(
        file: &Arc<SourceFile>,
        at: &Location,
        message: String,
        hint: Option<&str>,
    ) -> Self {
        let mut d = Diagnostic::new(file, at.line(), at.column(), message);
        if let Some(hint) = hint.filter(|h| !h.is_empty()) {
            d = d.with_hint(hint);
        }
        StepError {
            parts: vec![Part::Located(Box::new(d))],
        }
    }

    /// A template error in the string `text` written at `at`: the caret points at the part of
    /// the template at fault when the text appears verbatim in the file (no YAML escapes), else
    /// at the value.
    pub fn in_template(
        file: &Arc<SourceFile>,
        at: &Location,
        text: &str,
        message: String,
        e: &TemplateError,
    ) -> Self {
        let exact = e.range.as_ref().and_then(|range| {
            let (line, column) = file.find_from(at.line(), at.column(), text)?;
            let before = text.get(..range.start)?.chars().count() as u64;
            let width = text.get(range.clone())?.chars().count() as u64;
            Some((line, column + before, width))
        });
        let Some((line, column, width)) = exact else {
            return StepError::located(file, at, message, e.hint.as_deref());
        };
        let mut d = Diagnostic::new(file, line, column, message).with_width(width);
        if let Some(hint) = e.hint.as_deref().filter(|h| !h.is_empty()) {
            d = d.with_hint(hint);
        }
        StepError {
            parts: vec![Part::Located(Box::new(d))],
        }
    }

    /// Adds a message after the ones already there (a failed guard after another).
    pub fn and(mut self, message: impl Into<String>) -> Self {
        self.parts.push(Part::Message(message.into()));
        self
    }

    /// The text lines a report prints under the step, masked: each part as `error: …` (a
    /// located one as the diagnostic renderer draws it), its further lines indented.
    pub fn lines(&self) -> Vec<String> {
        let mut lines = Vec::new();
        for part in &self.parts {
            let text = match part {
                Part::Message(m) => format!("error: {}", crate::mask::mask_text(m)),
                Part::Located(d) => d.render(false),
                Part::Rendered(r) => {
                    // Already laid out by `lines` before it was written to a report.
                    lines.extend(crate::mask::mask_text(r).lines().map(str::to_owned));
                    continue;
                }
            };
            for (i, line) in text.lines().enumerate() {
                lines.push(if i == 0 {
                    line.to_owned()
                } else {
                    format!("  {line}")
                });
            }
        }
        lines
    }
}

impl From<String> for StepError {
    fn from(message: String) -> Self {
        StepError::new(message)
    }
}

impl From<&str> for StepError {
    fn from(message: &str) -> Self {
        StepError::new(message)
    }
}

/// The rendered lines, joined: what JSON reports carry and reports print.
impl fmt::Display for StepError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.lines().join("\n"))
    }
}

impl Serialize for StepError {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for StepError {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(StepError {
            parts: vec![Part::Rendered(String::deserialize(d)?)],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_render_masked_and_survive_a_json_report() {
        let e = StepError::new("time-out after 30 s").and("card 4054695723100768 declined");
        assert_eq!(
            e.lines(),
            [
                "error: time-out after 30 s",
                "error: card ************0768 declined"
            ]
        );
        let json = serde_json::to_string(&e).unwrap();
        let back: StepError = serde_json::from_str(&json).unwrap();
        assert_eq!(back.to_string(), e.to_string());
    }

    #[test]
    fn a_located_error_quotes_the_flow_file() {
        let file = Arc::new(SourceFile::new(
            "f.yaml",
            "steps:\n  - http: { url: \"{{ nope }}\" }\n",
        ));
        let step: serde_saphyr::Spanned<serde_json::Value> =
            serde_saphyr::from_str("x").expect("a scalar");
        let at = step.referenced;
        let e = StepError::located(
            &file,
            &at,
            "`nope` is undefined".to_owned(),
            Some("define it"),
        );
        let text = e.to_string();
        assert!(
            text.starts_with("error: `nope` is undefined\n   --> f.yaml:1:1\n"),
            "{text}"
        );
        assert!(text.contains("= hint: define it"), "{text}");
    }
}
