//! The HTML report (`--html DIR` writes `DIR/index.html`): one self-contained page, no script,
//! no network, readable in any browser with scripts off. A projection of the finished cases
//! (and the checklist coverage, when there is one), written through the masked sink.
//!
//! ```text
//! apoflow report: FAILED                       summary: cases, passed, flaky, failed, … time
//! Failures  · Payment [card=visa]: step `pay` failed at flows/pay.yaml:11   (links)
//! Checklist coverage                           item, status, covering flows (with --checklist)
//! Cases     ▸ PASS Health check  flows/health.yaml  (12 ms)          <details>, failures open
//!           ▾ FAIL Payment [card=visa]  flows/pay.yaml  (48 ms)
//!               steps: status, name, flows/pay.yaml:7 (link), tries, time
//!               failed assertions: query, expected, actual, diff (- expected, + actual)
//!               ▸ messages (4): request, response, notification, acknowledgement (masked JSON)
//!               ▸ attempt 1 of 2 (failed): its steps, when the case was retried
//! ```
//! Links to flow files are relative to DIR (`../flows/pay.yaml#L11`), so they work when the
//! report is opened beside the project or published with it. Each message is shown up to
//! [`MAX_MESSAGE_CHARS`] characters.

use std::fmt::Write as _;
use std::path::{Component, Path, PathBuf};

use super::coverage::{Coverage, Status as ItemStatus};
use super::evidence::RunInfo;
use super::step_failure_lines;
use crate::engine::result::{
    Attempt, CaseResult, Message, MessageKind, RunSummary, Status, StepResult,
};
use crate::output::{self, FileKind};

/// How much of one message (its pretty JSON) the page shows.
pub const MAX_MESSAGE_CHARS: usize = 64 * 1024;

/// The file written in the report's folder.
pub const FILE: &str = "index.html";

/// What the page shows.
pub struct Page<'a> {
    /// Every case, in plan order.
    pub cases: &'a [CaseResult],
    /// The totals.
    pub summary: &'a RunSummary,
    /// About the run.
    pub run: &'a RunInfo,
    /// The checklist coverage, with `--checklist`.
    pub coverage: Option<&'a Coverage>,
    /// The working directory, which the cases' file paths are relative to.
    pub cwd: &'a Path,
}

/// Writes `DIR/index.html` (creating DIR); returns the file's path.
pub fn write(dir: &Path, page: &Page<'_>) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let path = dir.join(FILE);
    let html = render(page, &page.cwd.join(dir));
    output::write_file(&path, FileKind::Markup, &html)?;
    Ok(path)
}

/// The page, with links relative to `dir` (absolute).
fn render(page: &Page<'_>, dir: &Path) -> String {
    let s = page.summary;
    let verdict = if s.is_failure() { "FAILED" } else { "PASSED" };
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>apoflow report: {verdict}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
    );
    let _ = write!(
        h,
        "<header><h1>apoflow report: <span class=\"{}\">{verdict}</span></h1>\n<p class=\"meta\">\
         started {} · {:.2} s · target {}{}</p>\n",
        if s.is_failure() { "failed" } else { "passed" },
        esc(&page
            .run
            .started
            .strftime("%Y-%m-%d %H:%M:%S UTC")
            .to_string()),
        s.duration.as_secs_f64(),
        esc(&page.run.target),
        page.run
            .label
            .as_ref()
            .map(|l| format!(" · {}", esc(l)))
            .unwrap_or_default()
    );
    let total = s.passed + s.failed + s.errored + s.skipped;
    let _ = write!(
        h,
        "<table class=\"summary\"><tr><th>cases</th><th>passed</th><th>flaky</th><th>failed</th>\
         <th>errored</th><th>skipped</th></tr>\n<tr><td>{total}</td><td>{}</td><td>{}</td>\
         <td>{}</td><td>{}</td><td>{}</td></tr></table>\n</header>\n<main>\n",
        s.passed, s.flaky, s.failed, s.errored, s.skipped
    );
    failures(&mut h, page.cases, dir, page.cwd);
    if let Some(coverage) = page.coverage {
        coverage_table(&mut h, coverage);
    }
    let _ = writeln!(h, "<section id=\"cases\"><h2>Cases</h2>");
    for case in page.cases {
        case_html(&mut h, case, dir, page.cwd);
    }
    h.push_str("</section>\n</main>\n</body>\n</html>\n");
    h
}

/// The failed cases, each with a link to its case and to the flow's line.
fn failures(h: &mut String, cases: &[CaseResult], dir: &Path, cwd: &Path) {
    let failed: Vec<&CaseResult> = cases.iter().filter(|c| c.status.is_failure()).collect();
    if failed.is_empty() {
        return;
    }
    let _ = writeln!(h, "<section id=\"failures\"><h2>Failures</h2><ul>");
    for case in failed {
        let _ = write!(
            h,
            "<li><a href=\"#case-{}\">{}</a>",
            case.index,
            esc(&case.title())
        );
        if let Some(step) = case.failing_step() {
            let _ = write!(
                h,
                ": step <code>{}</code> {} at {}",
                esc(&step.name),
                step.status.as_str(),
                source_link(&step.file, step.line, dir, cwd)
            );
        }
        h.push_str("</li>\n");
    }
    h.push_str("</ul></section>\n");
}

fn coverage_table(h: &mut String, coverage: &Coverage) {
    let counts = coverage.counts();
    let _ = write!(
        h,
        "<section id=\"coverage\"><h2>Checklist coverage</h2>\n<p>{} passed, {} failed, {} not \
         proven, {} missing</p>\n<table class=\"coverage\"><tr><th>item</th><th>title</th>\
         <th>status</th><th>covered by</th></tr>\n",
        counts.passed, counts.failed, counts.not_proven, counts.missing
    );
    for item in &coverage.items {
        let class = match item.status {
            ItemStatus::Passed => "passed",
            ItemStatus::Failed => "failed",
            ItemStatus::NotProven | ItemStatus::Missing => "missing",
        };
        let mut covered = item
            .flow_labels()
            .iter()
            .map(|l| esc(l))
            .collect::<Vec<_>>()
            .join("<br>");
        if let Some(line) = item.not_proven_line() {
            let _ = write!(covered, "<br><em>{}</em>", esc(&line));
        }
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td>{}</td><td class=\"{class}\">{}</td><td>{covered}</td></tr>",
            esc(&item.id),
            esc(&item.title),
            item.status.word()
        );
    }
    h.push_str("</table></section>\n");
}

fn case_html(h: &mut String, case: &CaseResult, dir: &Path, cwd: &Path) {
    let (class, label) = match case.status {
        Status::Passed if case.flaky => ("flaky", "FLAKY"),
        Status::Passed => ("passed", "PASS"),
        Status::Failed => ("failed", "FAIL"),
        Status::Errored => ("failed", "ERROR"),
        Status::Skipped => ("skipped", "SKIP"),
    };
    let open = if case.status.is_failure() || case.flaky {
        " open"
    } else {
        ""
    };
    let _ = writeln!(
        h,
        "<details id=\"case-{}\" class=\"case is-{class}\"{open}><summary><span class=\"badge \
         {class}\">{label}</span> {} <span class=\"file\">{}</span> <span class=\"time\">({} ms)\
         </span></summary>",
        case.index,
        esc(&case.title()),
        source_link(&case.file, 0, dir, cwd),
        case.duration.as_millis()
    );
    if !case.retries.is_empty() {
        let _ = writeln!(
            h,
            "<p class=\"retries\">{} after {} failed attempt{}.</p>",
            if case.flaky {
                "Flaky: passed"
            } else {
                "Failed again"
            },
            case.retries.len(),
            if case.retries.len() == 1 { "" } else { "s" }
        );
    }
    steps_html(h, &case.steps, dir, cwd);
    let total = case.retries.len() + 1;
    for (i, attempt) in case.retries.iter().enumerate() {
        attempt_html(h, attempt, i + 1, total, dir, cwd);
    }
    h.push_str("</details>\n");
}

fn attempt_html(h: &mut String, attempt: &Attempt, n: usize, of: usize, dir: &Path, cwd: &Path) {
    let _ = writeln!(
        h,
        "<details class=\"attempt\"><summary>attempt {n} of {of} ({}, {} ms)</summary>",
        attempt.status.as_str(),
        attempt.duration.as_millis()
    );
    steps_html(h, &attempt.steps, dir, cwd);
    h.push_str("</details>\n");
}

fn steps_html(h: &mut String, steps: &[StepResult], dir: &Path, cwd: &Path) {
    if steps.is_empty() {
        return;
    }
    h.push_str(
        "<table class=\"steps\"><tr><th>status</th><th>step</th><th>where</th><th>tries</th>\
         <th>time</th></tr>\n",
    );
    for step in steps {
        let _ = writeln!(
            h,
            "<tr><td class=\"{0}\">{0}</td><td>{1}</td><td>{2}</td><td>{3}</td>\
             <td>{4} ms</td></tr>",
            step.status.as_str(),
            esc(&step.name),
            source_link(&step.file, step.line, dir, cwd),
            step.tries,
            step.duration.as_millis()
        );
    }
    h.push_str("</table>\n");
    for step in steps.iter().filter(|s| s.status.is_failure()) {
        failure_html(h, step, dir, cwd);
    }
    for step in steps.iter().filter(|s| !s.messages.is_empty()) {
        messages_html(h, step);
    }
}

fn failure_html(h: &mut String, step: &StepResult, dir: &Path, cwd: &Path) {
    let tries = if step.tries > 1 {
        format!(" after {} tries", step.tries)
    } else {
        String::new()
    };
    let _ = writeln!(
        h,
        "<div class=\"failure\"><h4>step <code>{}</code> {} at {}{tries}</h4>",
        esc(&step.name),
        step.status.as_str(),
        source_link(&step.file, step.line, dir, cwd)
    );
    if let Some(error) = &step.error {
        let _ = writeln!(h, "<pre class=\"error\">{}</pre>", esc(&error.to_string()));
    }
    for a in step.assertions.iter().filter(|a| !a.passed) {
        let _ = writeln!(
            h,
            "<div class=\"assertion\"><p><code>{}</code> at {}</p>\
             <table class=\"expected\"><tr><th>expected</th><td><code>{}</code></td></tr>\
             <tr><th>actual</th><td><code>{}</code></td></tr></table>{}</div>",
            esc(&a.query),
            source_link(&step.file, a.line, dir, cwd),
            esc(&a.expected),
            esc(&a.actual),
            diff_html(&a.message)
        );
    }
    if step.error.is_none() && step.assertions.iter().all(|a| a.passed) {
        // A failure outside assertions (a capture): the shared lines say what.
        let _ = writeln!(
            h,
            "<pre class=\"error\">{}</pre>",
            esc(&step_failure_lines(step).join("\n"))
        );
    }
    h.push_str("</div>\n");
}

/// A failure message; a diff (lines starting with `-` expected, `+` actual) is coloured.
fn diff_html(message: &str) -> String {
    if message.is_empty() {
        return String::new();
    }
    if !message
        .lines()
        .any(|l| l.starts_with('-') || l.starts_with('+'))
    {
        return format!("<p class=\"why\">{}</p>", esc(message));
    }
    let mut out = String::from("<pre class=\"diff\">");
    for line in message.lines() {
        let class = match line.chars().next() {
            Some('-') => "del",
            Some('+') => "ins",
            _ => "ctx",
        };
        let _ = writeln!(out, "<span class=\"{class}\">{}</span>", esc(line));
    }
    out.push_str("</pre>");
    out
}

fn messages_html(h: &mut String, step: &StepResult) {
    let _ = writeln!(
        h,
        "<details class=\"messages\"><summary>messages of <code>{}</code> ({})</summary>",
        esc(&step.name),
        step.messages.len()
    );
    for m in &step.messages {
        message_html(h, m);
    }
    h.push_str("</details>\n");
}

fn message_html(h: &mut String, m: &Message) {
    let kind = match m.kind {
        MessageKind::Request => "request",
        MessageKind::Response => "response",
        MessageKind::Notification => "notification",
        MessageKind::Acknowledgement => "acknowledgement",
    };
    let mut text = output::render_json(&m.data);
    if text.chars().count() > MAX_MESSAGE_CHARS {
        text = text.chars().take(MAX_MESSAGE_CHARS).collect();
        text.push_str("\n[…cut]");
    }
    let _ = writeln!(
        h,
        "<h5 class=\"{kind}\">{kind}: {}</h5><pre class=\"message\">{}</pre>",
        esc(&m.summary),
        esc(&text)
    );
}

/// `<a href="../flows/pay.yaml#L11">flows/pay.yaml:11</a>` (no line when `line` is 0).
fn source_link(file: &Path, line: u64, dir: &Path, cwd: &Path) -> String {
    let text = match line {
        0 => file.display().to_string(),
        n => format!("{}:{n}", file.display()),
    };
    let href = relative(dir, &cwd.join(file))
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/");
    let anchor = if line > 0 {
        format!("#L{line}")
    } else {
        String::new()
    };
    format!(
        "<a href=\"{}{anchor}\">{}</a>",
        esc(&percent_encoding::utf8_percent_encode(&href, HREF).to_string()),
        esc(&text)
    )
}

/// What an href keeps as is: unreserved characters and `/`.
const HREF: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'/')
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// `to` relative to the folder `from` (both absolute): `../flows/pay.yaml`.
fn relative(from: &Path, to: &Path) -> PathBuf {
    let from: Vec<Component<'_>> = normal(from);
    let to: Vec<Component<'_>> = normal(to);
    let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
    let mut out = PathBuf::new();
    for _ in common..from.len() {
        out.push("..");
    }
    for c in &to[common..] {
        out.push(c.as_os_str());
    }
    out
}

/// The components of a path with `.` dropped and `..` applied.
fn normal(path: &Path) -> Vec<Component<'_>> {
    let mut out: Vec<Component<'_>> = Vec::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir if matches!(out.last(), Some(Component::Normal(_))) => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// Text inside HTML (element content or a quoted attribute).
fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "
body{font:15px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#1f2328;background:#fff}
header{padding:16px 24px;background:#f6f8fa;border-bottom:1px solid #d0d7de}
main{padding:8px 24px 32px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:24px 0 8px}h4{margin:8px 0 4px}h5{margin:8px 0 2px;font-size:13px}
.meta{color:#57606a;margin:0 0 8px}
table{border-collapse:collapse;margin:6px 0}th,td{border:1px solid #d0d7de;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#f6f8fa}table.coverage td:first-child{white-space:nowrap}table.summary td{text-align:right;min-width:56px}
.passed{color:#1a7f37}.failed,.errored{color:#cf222e}.flaky{color:#8250df}.skipped,.missing{color:#9a6700}
span.passed,span.failed{font-weight:bold}
.badge{display:inline-block;min-width:46px;font-weight:bold;font-family:ui-monospace,monospace}
details.case{border:1px solid #d0d7de;border-radius:6px;margin:6px 0;padding:4px 10px}
details.case.is-failed{border-color:#cf222e}details.case.is-flaky{border-color:#8250df}
summary{cursor:pointer}.file,.time{color:#57606a}
.failure{border-left:3px solid #cf222e;padding:2px 10px;margin:8px 0;background:#fff8f8}
.assertion{margin:6px 0 10px}.assertion p{margin:4px 0}table.expected th{width:80px}
pre{background:#f6f8fa;padding:6px 8px;overflow-x:auto;white-space:pre-wrap;word-break:break-all;font:12px/1.4 ui-monospace,monospace}
pre.diff .del{color:#cf222e}pre.diff .ins{color:#1a7f37}
code{font:13px ui-monospace,monospace}
details.attempt,details.messages{margin:6px 0 6px 8px}
";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_are_relative_to_the_report_folder() {
        assert_eq!(
            relative(Path::new("/p/out/html"), Path::new("/p/flows/pay.yaml")),
            PathBuf::from("../../flows/pay.yaml")
        );
        assert_eq!(
            source_link(
                Path::new("flows/a b.yaml"),
                7,
                Path::new("/p/report"),
                Path::new("/p")
            ),
            "<a href=\"../flows/a%20b.yaml#L7\">flows/a b.yaml:7</a>"
        );
    }

    #[test]
    fn any_name_leaves_the_page_well_formed_and_masked() {
        let case = CaseResult::new(
            0,
            "flows/a.yaml".into(),
            "Pay \u{fffe}\u{ffff}\x01 <b>&</b> 4111111111111111".to_owned(),
            Status::Passed,
        );
        let run = RunInfo {
            started: jiff::Timestamp::UNIX_EPOCH,
            duration: std::time::Duration::ZERO,
            target: "t".to_owned(),
            subject: None,
            label: None,
        };
        let page = Page {
            cases: std::slice::from_ref(&case),
            summary: &RunSummary::default(),
            run: &run,
            coverage: None,
            cwd: Path::new("/p"),
        };
        let html = output::render(FileKind::Markup, &render(&page, Path::new("/p/report")));
        assert!(!html.contains(['\u{fffe}', '\u{ffff}', '\x01']), "{html}");
        assert!(
            html.contains("Pay \\u{fffe}\\u{ffff}\\x01 &lt;b&gt;&amp;&lt;/b&gt; ************1111")
        );
    }

    #[test]
    fn text_is_escaped_and_diffs_are_coloured() {
        assert_eq!(
            esc("<a href='x'>&\"</a>"),
            "&lt;a href=&#39;x&#39;&gt;&amp;&quot;&lt;/a&gt;"
        );
        assert_eq!(
            diff_html(" {\n-  \"a\": 1\n+  \"a\": 2\n }"),
            "<pre class=\"diff\"><span class=\"ctx\"> {</span>\n<span class=\"del\">-  &quot;a&quot;: 1</span>\n<span class=\"ins\">+  &quot;a&quot;: 2</span>\n<span class=\"ctx\"> }</span>\n</pre>"
        );
    }
}
