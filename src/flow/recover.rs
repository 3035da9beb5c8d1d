//! Error recovery for a flow file that does not parse: the errors after the first one.
//!
//! The flow model is read by serde, which stops at the first error. When that error is inside
//! a step of a block-style `steps:` list, the step is blanked out (its lines become empty, so
//! every line number stays the same) and the file is parsed again, like a compiler skipping to
//! the next statement; this repeats for each step in error, up to [`MAX_RECOVERIES`]. When the
//! rest parses, its checks run too, minus those that the removed steps could have satisfied
//! (step ids, saved variables, a non-empty list). An error outside the steps ends recovery.

use std::sync::Arc;

use super::check::{Role, check_file};
use super::error::{LoadError, LoadErrorKind, yaml_message};
use super::model;
use crate::diag::SourceFile;
use crate::project::Project;
use crate::template::Templates;

/// Steps blanked out at most in one file: enough for any real file, bounded for a hostile one.
pub(crate) const MAX_RECOVERIES: usize = 100;

/// The position and message of a serde-saphyr error (1-based line and column, width).
pub(crate) fn located(e: &serde_saphyr::Error) -> LoadError {
    let (line, column, width) = e.location().map_or((1, 1, 1), |l| {
        (l.line().max(1), l.column().max(1), l.span().len().max(1))
    });
    let message = yaml_message(&e.without_snippet().to_string());
    LoadError::new(line, column, width, LoadErrorKind::Yaml(message))
}

/// The errors after `first` (the first parse error of `source`), found by blanking out the step
/// that holds each one and parsing again.
pub(crate) fn further_errors(
    source: &Arc<SourceFile>,
    first: &LoadError,
    role: Role,
    templates: &Templates,
    cli_vars: &[String],
    project: &Project,
) -> Vec<LoadError> {
    let mut lines: Vec<String> = source.text.lines().map(str::to_owned).collect();
    let mut errors = Vec::new();
    // Steps with a line blanked: their later check errors may be caused by the blanking.
    let mut touched: Vec<std::ops::Range<usize>> = Vec::new();
    let mut at = first.line;
    for _ in 0..MAX_RECOVERIES {
        let Some(step) = step_lines(&lines, at) else {
            return errors;
        };
        let index = usize::try_from(at).map_or(step.start, |l| l.saturating_sub(1));
        // A `key: value` line inside the step goes alone, so the step's other keys are still
        // read; the step's first line, or a key that opens a block, takes the whole step.
        let whole = index == step.start || lines[index].trim_end().ends_with(':');
        let blanked = if whole {
            step.clone()
        } else {
            index..index + 1
        };
        for line in &mut lines[blanked.clone()] {
            line.clear();
        }
        touched.push(step);
        let text = lines.join("\n");
        match model::parse(&text) {
            Ok(flow) => {
                let rest = Arc::new(SourceFile::new(source.path.clone(), text));
                errors.extend(
                    check_file(
                        &rest,
                        &flow,
                        role,
                        templates,
                        cli_vars,
                        project,
                        &mut crate::expect::Queries::default(),
                    )
                    .errors
                    .into_iter()
                    .filter(|e| !depends_on_other_steps(&e.kind))
                    .filter(|e| {
                        let line = usize::try_from(e.line.saturating_sub(1)).unwrap_or(0);
                        !touched.iter().any(|r| r.contains(&line))
                    }),
                );
                return errors;
            }
            Err(e) => {
                let next = located(&e);
                // An error before what was blanked (`steps:` left empty) is caused by the
                // blanking; one at the same place again means no progress.
                let caused = usize::try_from(next.line).is_ok_and(|l| l <= blanked.start)
                    || errors.iter().any(|p: &LoadError| p.line == next.line);
                if caused {
                    return errors;
                }
                at = next.line;
                errors.push(next);
            }
        }
    }
    errors
}

/// Whether an error may be caused by a blanked-out step rather than by what is written.
fn depends_on_other_steps(kind: &LoadErrorKind) -> bool {
    matches!(
        kind,
        LoadErrorKind::UnknownStepId { .. }
            | LoadErrorKind::UndefinedVariable { .. }
            | LoadErrorKind::NoSteps
    )
}

/// The 0-based range of lines of the block-style `steps:` item that holds 1-based `line`.
fn step_lines(lines: &[String], line: u64) -> Option<std::ops::Range<usize>> {
    let target = usize::try_from(line).ok()?.checked_sub(1)?;
    let steps_key = lines.iter().position(|l| l.trim_end() == "steps:")?;
    let indent_of = |l: &str| l.len() - l.trim_start().len();
    let is_item =
        |l: &str, indent: usize| indent_of(l) == indent && l.trim_start().starts_with("- ");
    let first_item = (steps_key + 1..lines.len()).find(|&i| {
        let t = lines[i].trim_start();
        !t.is_empty() && !t.starts_with('#')
    })?;
    let indent = indent_of(&lines[first_item]);
    if !is_item(&lines[first_item], indent) || target < first_item {
        return None;
    }
    // Where the list ends: the first non-blank, non-comment line indented less than an item's
    // content (a top-level key after `steps:`).
    let end = (first_item..lines.len())
        .find(|&i| {
            let t = lines[i].trim_start();
            !t.is_empty()
                && !t.starts_with('#')
                && indent_of(&lines[i]) < indent + 1
                && !is_item(&lines[i], indent)
        })
        .unwrap_or(lines.len());
    if target >= end {
        return None;
    }
    let start = (first_item..=target)
        .rev()
        .find(|&i| is_item(&lines[i], indent))?;
    let stop = (start + 1..end)
        .find(|&i| is_item(&lines[i], indent))
        .unwrap_or(end);
    Some(start..stop)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors(yaml: &str) -> Vec<(u64, String)> {
        let source = Arc::new(SourceFile::new("f.yaml", yaml));
        let first = located(&model::parse(yaml).expect_err("the file does not parse"));
        let templates = Templates::new(Default::default());
        std::iter::once(first.clone())
            .chain(further_errors(
                &source,
                &first,
                Role::Runnable,
                &templates,
                &[],
                &Project::anywhere(),
            ))
            .map(|e| (e.line, e.kind.title()))
            .collect()
    }

    #[test]
    fn each_bad_step_is_reported() {
        let yaml = "name: x\nsteps:\n  - sleep: 5parsecs\n  - sleep: 1s\n  - http: { url: \"http://h\" }\n    within: 2 fortnights\n  - sleep: 1s\n    bogus: 1\n  - http: { url: \"http://h\" }\n    expect: { $.a: { start_with: x } }\n";
        let found = errors(yaml);
        let lines: Vec<u64> = found.iter().map(|(l, _)| *l).collect();
        assert_eq!(lines, [3, 6, 8, 10], "{found:?}");
        // Two errors in one step: the key line goes alone, the next key is still read.
        let yaml = "name: x\nsteps:\n  - sleep: 1s\n    within: 2 fortnights\n    bogus: 1\n";
        let lines: Vec<u64> = errors(yaml).iter().map(|(l, _)| *l).collect();
        assert_eq!(lines, [4, 5]);
        // The only step removed leaves `steps:` empty: not reported as an error of its own.
        assert_eq!(errors("name: x\nsteps:\n  - sleep: 5parsecs\n").len(), 1);
    }

    #[test]
    fn an_error_outside_the_steps_ends_recovery() {
        let yaml = "name: x\nmatrix: 3\nsteps:\n  - sleep: 5parsecs\n";
        assert_eq!(errors(yaml).len(), 1);
    }

    #[test]
    fn references_to_removed_steps_are_not_reported() {
        let yaml = "name: x\nsteps:\n  - id: pay\n    sleep: nope\n    save: { p: $.x }\n  - http: { url: \"http://h/{{ steps.pay.response.status }}/{{ p }}\" }\n";
        assert_eq!(errors(yaml).len(), 1);
    }

    #[test]
    fn step_lines_find_the_item() {
        let lines: Vec<String> =
            "name: x\nsteps:\n  # c\n  - a: 1\n    b: 2\n\n  - c: 3\ntags: [x]\n"
                .lines()
                .map(str::to_owned)
                .collect();
        assert_eq!(step_lines(&lines, 5), Some(3..6));
        assert_eq!(step_lines(&lines, 7), Some(6..7));
        assert_eq!(step_lines(&lines, 8), None);
        assert_eq!(step_lines(&lines, 1), None);
    }
}
