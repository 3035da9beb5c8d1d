//! GitHub Actions: an `::error` workflow command per failed case, pointing at the failing
//! step's flow file and line (GitHub shows it on the pull request's diff), a `::warning` per
//! flaky case, and a Markdown job summary appended to `$GITHUB_STEP_SUMMARY`.
//!
//! ```text
//! ::error file=flows/pay.yaml,line=11,title=Payment [card=visa]%3A step `pay` failed::$.result.resultCode  (flows/pay.yaml:11:7)%0A  expected: string <S>%0A  actual:   string <F>
//! ::warning file=flows/notify.yaml,line=1,title=Notification arrives%3A flaky::passed on attempt 2 of 2
//! ```
//! Values are escaped as GitHub's runner reads them (`toolkit/packages/core/src/command.ts`):
//! in the message `%`, CR and LF become `%25`, `%0D`, `%0A`; in properties `:` and `,` also
//! become `%3A` and `%2C`. So no name or server value can end the command early or start
//! another one.

use std::fmt::Write as _;
use std::path::Path;

use super::{step_failure_lines, step_heading};
use crate::engine::result::{CaseResult, RunSummary, Status, StepResult};

/// The workflow command lines for a finished case (none when it simply passed or was skipped).
pub fn annotations(case: &CaseResult) -> Vec<String> {
    match case.status {
        Status::Failed | Status::Errored => {
            let Some(step) = case.failing_step() else {
                return vec![command(
                    "error",
                    &case.file,
                    1,
                    &format!("{}: {}", case.title(), case.status.as_str()),
                    case.status.as_str(),
                )];
            };
            let (file, line) = location(step, &case.file);
            vec![command(
                "error",
                &file,
                line,
                &format!("{}: {}", case.title(), step_heading_short(step)),
                &step_failure_lines(step).join("\n"),
            )]
        }
        Status::Passed if case.flaky => {
            let first = case.retries.first().and_then(|a| a.failing_step());
            let (file, line) = first.map_or((case.file.clone(), 1), |s| location(s, &case.file));
            let why = first.map(step_heading).unwrap_or_default();
            vec![command(
                "warning",
                &file,
                line,
                &format!("{}: flaky", case.title()),
                &format!(
                    "passed on attempt {} of {}; failed before: {why}",
                    case.retries.len() + 1,
                    case.retries.len() + 1
                ),
            )]
        }
        Status::Passed | Status::Skipped => Vec::new(),
    }
}

/// `step `pay` failed`: the heading without the location (the annotation has it).
fn step_heading_short(step: &StepResult) -> String {
    format!("step `{}` {}", step.name, step.status.as_str())
}

/// Where to point: the first failed assertion, else the step, else the flow file's top.
fn location(step: &StepResult, flow_file: &Path) -> (std::path::PathBuf, u64) {
    if let Some(a) = step.assertions.iter().find(|a| !a.passed && a.line > 0) {
        return (step.file.clone(), a.line);
    }
    if step.line > 0 {
        return (step.file.clone(), step.line);
    }
    (flow_file.to_path_buf(), 1)
}

/// `::LEVEL file=…,line=…,title=…::message`, escaped.
fn command(level: &str, file: &Path, line: u64, title: &str, message: &str) -> String {
    format!(
        "::{level} file={},line={line},title={}::{}",
        property(&file.display().to_string()),
        property(title),
        data(message)
    )
}

/// A command's message: `%`, CR, LF escaped.
fn data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// A command's property value: as [`data`], plus `:` and `,`.
fn property(text: &str) -> String {
    data(text).replace(':', "%3A").replace(',', "%2C")
}

/// The job summary: totals, then each failed and flaky case with where and why, in Markdown.
pub fn summary_markdown(cases: &[CaseResult], summary: &RunSummary) -> String {
    let mut md = String::new();
    let verdict = if summary.is_failure() {
        "❌ failed"
    } else {
        "✅ passed"
    };
    let total = summary.passed + summary.failed + summary.errored + summary.skipped;
    let _ = writeln!(md, "## apoflow: {verdict}\n");
    let _ = writeln!(
        md,
        "| cases | passed | flaky | failed | errored | skipped | time |"
    );
    let _ = writeln!(md, "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    let _ = writeln!(
        md,
        "| {total} | {} | {} | {} | {} | {} | {:.2} s |\n",
        summary.passed,
        summary.flaky,
        summary.failed,
        summary.errored,
        summary.skipped,
        summary.duration.as_secs_f64()
    );
    let failed: Vec<&CaseResult> = cases.iter().filter(|c| c.status.is_failure()).collect();
    if !failed.is_empty() {
        let _ = writeln!(md, "### Failed\n");
        for case in failed {
            let (heading, lines) = match case.failing_step() {
                Some(step) => (step_heading(step), step_failure_lines(step)),
                None => (case.status.as_str().to_owned(), Vec::new()),
            };
            let _ = writeln!(
                md,
                "- **{}** ({}): {}",
                markdown(&case.title()),
                markdown(&case.file.display().to_string()),
                markdown(&heading)
            );
            if !lines.is_empty() {
                let _ = writeln!(md, "  <pre>{}</pre>", html(&lines.join("\n")));
            }
        }
        md.push('\n');
    }
    let flaky: Vec<&CaseResult> = cases.iter().filter(|c| c.flaky).collect();
    if !flaky.is_empty() {
        let _ = writeln!(md, "### Flaky (passed after a retry)\n");
        for case in flaky {
            let _ = writeln!(
                md,
                "- **{}** ({}): passed on attempt {}",
                markdown(&case.title()),
                markdown(&case.file.display().to_string()),
                case.retries.len() + 1
            );
        }
        md.push('\n');
    }
    md
}

/// Text inside Markdown: the characters that start markup are escaped (HTML for `<`, `>`,
/// `&`, a backslash for the rest), line breaks become spaces.
fn markdown(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\n' | '\r' => out.push(' '),
            '\\' | '`' | '*' | '_' | '[' | ']' | '|' | '#' | '!' | '~' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

/// Text inside an HTML element.
fn html(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Appends the job summary to `path` (`$GITHUB_STEP_SUMMARY`), through the masked sink.
pub fn append_summary(
    path: &Path,
    cases: &[CaseResult],
    summary: &RunSummary,
) -> std::io::Result<()> {
    crate::output::append_file(path, &summary_markdown(cases, summary))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_cannot_end_or_start_a_command() {
        assert_eq!(
            command(
                "error",
                Path::new("f,1:x.yaml"),
                3,
                "a: b, 100%",
                "x\n::error::forged\r"
            ),
            "::error file=f%2C1%3Ax.yaml,line=3,title=a%3A b%2C 100%25::x%0A::error::forged%0D"
        );
    }

    #[test]
    fn markdown_escapes_markup() {
        assert_eq!(
            markdown("a|b <i>*x*</i>\n"),
            "a\\|b &lt;i&gt;\\*x\\*&lt;/i&gt; "
        );
    }
}
