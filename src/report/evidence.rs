//! The evidence bundle written by `--evidence DIR`: per checklist item, the masked requests,
//! responses, notifications and acknowledgements of every case covering it, the proof each
//! case met or lacked, and a summary that reads as a certification report.
//!
//! ```text
//! DIR/
//!   summary.json                  run (subject, label, tool), checklist, counts, every item
//!                                 with its verdict, proof and files
//!   summary.md                    the report for people: subject, date, tool, a table of
//!                                 verdicts, per item the proof met or missing, and its files
//!   HM-01/
//!     first-time-enabled.json     { item, flow, case, file, passed, proves, proof: [...],
//!                                   exchanges: [...] }
//!     first-time-askforconsent-ticked.json
//!   NT-03/
//!     notification-resent.json
//! ```
//!
//! Every byte written goes through the masked sink, [`crate::output`]: JSON as a value (secret
//! and expiry fields, card numbers in strings, numbers and keys, registered secrets), Markdown
//! as text, so a card number stored as a JSON number or a secret in a flow name is masked
//! too. Writing into a directory that holds an earlier bundle replaces that bundle's files
//! (`summary.*` and the item directories) and leaves anything else alone.

use std::fmt::Write as _;
use std::io;
use std::path::Path;
use std::time::Duration;

use serde::Serialize;
use serde_json::{Value, json};

use super::coverage::{CaseOutcome, Coverage, Held, ItemCoverage};
use crate::checklist::{Checklist, Requirement, check_matches, is_item_id};
use crate::mask;
use crate::output;

/// What kind of message an [`Exchange`] records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ExchangeKind {
    /// A request the runner sent (an APO call, an HTTP call, a hosted-page form).
    Request,
    /// The answer to a request.
    Response,
    /// A notification the receiver got.
    Notification,
    /// The receiver's answer to a notification.
    Acknowledgement,
}

/// One message of a case, in the order it happened.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Exchange {
    /// The step it belongs to (its id or name).
    pub step: String,
    /// That step's position in the case ([`CaseOutcome::steps`]).
    pub step_index: usize,
    /// What kind of message it is.
    pub kind: ExchangeKind,
    /// Milliseconds since the case started.
    pub at_ms: u64,
    /// One line for people: `POST /ams/api/v1/payments/pay`, `HTTP 200 U PAYMENT_IN_PROCESS`.
    pub summary: String,
    /// The message itself (headers, body, ...), unmasked; masked when written.
    pub data: Value,
}

/// A case's outcome and its messages.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseEvidence {
    /// The outcome (also fed to [`Coverage::compute`]).
    pub outcome: CaseOutcome,
    /// Its messages, in order.
    pub exchanges: Vec<Exchange>,
}

/// About the run, for the summary (and the JSON report, where the duration is the summary's).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct RunInfo {
    /// When the run started.
    pub started: jiff::Timestamp,
    /// How long it took.
    #[serde(skip)]
    pub duration: Duration,
    /// The target: `embedded sandbox (http://127.0.0.1:PORT)` or the live target's name and URL.
    pub target: String,
    /// The merchant under test (`--merchant NAME`), if any.
    pub subject: Option<Subject>,
    /// A free label for the run (`--evidence-label`), e.g. the merchant's commit.
    pub label: Option<String>,
}

/// The merchant under test, as `apoflow.toml` `[merchants.NAME]` configures it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Subject {
    /// Its name in the config.
    pub name: String,
    /// Its base URL.
    pub url: String,
    /// The command that started it.
    pub command: String,
}

/// The tool that wrote the bundle: `apoflow 0.1.0`.
const TOOL: &str = concat!("apoflow ", env!("CARGO_PKG_VERSION"));

/// Writes the evidence bundle for a run into `dir` (created if needed). An error names the
/// path it is about.
pub fn write_evidence(
    dir: &Path,
    run: &RunInfo,
    checklist: &Checklist,
    coverage: &Coverage,
    cases: &[CaseEvidence],
) -> io::Result<()> {
    // Item ids become directory names: only well-formed ids (a checklist guarantees them).
    if let Some(item) = coverage.items.iter().find(|i| !is_item_id(&i.id)) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("`{}` is not an item id; no evidence written", item.id),
        ));
    }
    std::fs::create_dir_all(dir).map_err(failed("create", dir))?;
    clear_previous_bundle(dir)?;

    // The files of each item (in the order of `coverage.items`): one per covering case, named
    // after the case.
    let files: Files<'_> = coverage
        .items
        .iter()
        .map(|item| {
            let mut entries: Vec<(String, &CaseEvidence)> = Vec::new();
            for case in cases.iter().filter(|c| c.outcome.covers.contains(&item.id)) {
                let label = case.outcome.label();
                let name = unique_file_name(&slug(&mask::mask_text(&label)), &entries);
                entries.push((name, case));
            }
            entries
        })
        .collect();

    for (item, entries) in coverage.items.iter().zip(&files) {
        if entries.is_empty() {
            continue;
        }
        let proof = checklist
            .item(&item.id)
            .map_or(&[][..], |i| i.proof.as_slice());
        let item_dir = dir.join(&item.id);
        std::fs::create_dir_all(&item_dir).map_err(failed("create", &item_dir))?;
        for (name, case) in entries {
            let body = json!({
                "item": item.id,
                "flow": case.outcome.flow,
                "case": case.outcome.case,
                "file": case.outcome.file,
                "passed": case.outcome.passed,
                "proves": case.outcome.unmet(proof).is_empty(),
                "proof": case_proof(proof, case),
                "exchanges": case.exchanges,
            });
            write_json(&item_dir.join(name), body)?;
        }
    }

    write_json(
        &dir.join("summary.json"),
        summary_json(run, checklist, coverage, &files),
    )?;
    write_masked(
        &dir.join("summary.md"),
        &summary_markdown(run, checklist, coverage, &files),
    )
}

/// Per item of the coverage, in its order: each evidence file name and the case it holds.
type Files<'a> = Vec<Vec<(String, &'a CaseEvidence)>>;

/// How one requirement fared in one case: the step that met it (index and outcome), if any.
struct Met<'a> {
    requirement: &'a Requirement,
    step: Option<(usize, &'a super::coverage::StepOutcome)>,
}

/// Each requirement of `proof` in `case`, with the step that met it.
fn proof_in<'a>(proof: &'a [Requirement], case: &'a CaseEvidence) -> Vec<Met<'a>> {
    let steps = &case.outcome.steps;
    proof
        .iter()
        .zip(case.outcome.proving_steps(proof))
        .map(|(requirement, at)| Met {
            requirement,
            step: at
                .filter(|_| case.outcome.passed)
                .and_then(|i| steps.get(i).map(|s| (i, s))),
        })
        .collect()
}

/// The assertions of a proving step that count for `requirement`: those its checks name, or
/// every passed one when it names none.
fn proving_assertions<'a>(requirement: &Requirement, held: &'a [Held]) -> Vec<&'a Held> {
    held.iter()
        .filter(|a| {
            a.passed
                && (requirement.checks.is_empty()
                    || requirement
                        .checks
                        .iter()
                        .any(|c| check_matches(c, &a.query)))
        })
        .collect()
}

/// A case file's `proof`: per requirement, whether it was met, by which step, the assertions
/// that held, and that step's messages (journal entries, deliveries, merchant answers).
fn case_proof(proof: &[Requirement], case: &CaseEvidence) -> Value {
    let entries: Vec<Value> = proof_in(proof, case)
        .into_iter()
        .map(|met| match met.step {
            None => json!({ "requirement": met.requirement.to_string(), "met": false }),
            Some((index, step)) => json!({
                "requirement": met.requirement.to_string(),
                "met": true,
                "step": step.name,
                "assertions": proving_assertions(met.requirement, &step.assertions),
                "messages": case.exchanges.iter().filter(|e| e.step_index == index).collect::<Vec<_>>(),
            }),
        })
        .collect();
    Value::Array(entries)
}

/// The case that shows an item's proof best: the first that met it whole, else the one that
/// lacks the fewest requirements.
fn best_case<'a>(
    proof: &[Requirement],
    entries: &[(String, &'a CaseEvidence)],
) -> Option<&'a CaseEvidence> {
    entries
        .iter()
        .map(|(_, case)| *case)
        .min_by_key(|case| case.outcome.unmet(proof).len())
}

/// Removes what an earlier bundle in `dir` wrote: `summary.json`, `summary.md` and the
/// directories named like item ids. Only done when `summary.json` is there, so a directory
/// that never held a bundle is left untouched.
fn clear_previous_bundle(dir: &Path) -> io::Result<()> {
    if !dir.join("summary.json").is_file() {
        return Ok(());
    }
    for entry in std::fs::read_dir(dir).map_err(failed("read", dir))? {
        let entry = entry.map_err(failed("read", dir))?;
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let is_dir = entry.file_type().map_err(failed("read", &path))?.is_dir();
        if is_dir && is_item_id(&name) {
            std::fs::remove_dir_all(&path).map_err(failed("remove the earlier evidence", &path))?;
        } else if !is_dir && (name == "summary.json" || name == "summary.md") {
            std::fs::remove_file(&path).map_err(failed("remove the earlier evidence", &path))?;
        }
    }
    Ok(())
}

/// Adds what was being done, and to which path, to an I/O error.
fn failed(action: &'static str, path: &Path) -> impl FnOnce(io::Error) -> io::Error {
    let path = path.display().to_string();
    move |e| io::Error::new(e.kind(), format!("failed to {action} {path}: {e}"))
}

/// `summary.json`: the run, the checklist, the counts and every item with its files.
fn summary_json(
    run: &RunInfo,
    checklist: &Checklist,
    coverage: &Coverage,
    files: &Files<'_>,
) -> Value {
    let items: Vec<Value> = coverage
        .items
        .iter()
        .zip(files)
        .map(|(item, entries)| {
            let evidence: Vec<Value> = entries
                .iter()
                .map(|(name, case)| {
                    json!({
                        "flow": case.outcome.flow,
                        "case": case.outcome.case,
                        "passed": case.outcome.passed,
                        "path": format!("{}/{name}", item.id),
                    })
                })
                .collect();
            json!({
                "id": item.id,
                "title": item.title,
                "passing": checklist.item(&item.id).map(|i| i.passing.as_str()),
                "status": item.status,
                "flows": item.flows,
                "failed": item.failed,
                "proof": item.proof,
                "proven_by": item.proven_by,
                "not_proven": item.unmet.as_ref().map(|(case, unmet)| json!({ "closest": case, "lacks": unmet })),
                "evidence": evidence,
            })
        })
        .collect();
    json!({
        "checklist": { "name": checklist.name, "file": checklist.path },
        "run": {
            "started": run.started.to_string(),
            "duration_ms": u64::try_from(run.duration.as_millis()).unwrap_or(u64::MAX),
            "target": run.target,
            "subject": run.subject,
            "label": run.label,
            "tool": TOOL,
        },
        "ok": coverage.ok(),
        "counts": coverage.counts(),
        "items": items,
    })
}

/// `summary.md`, a certification report: the subject, date, tool and verdict; a table of
/// items; then per item what passing means, its verdict, each requirement of its proof as met
/// (by which step, with the assertions that held) or missing, and links to its evidence.
fn summary_markdown(
    run: &RunInfo,
    checklist: &Checklist,
    coverage: &Coverage,
    files: &Files<'_>,
) -> String {
    let mut md = String::new();
    let verdict = if coverage.ok() {
        "every item passed"
    } else {
        "NOT every item passed"
    };
    let _ = writeln!(md, "# Certification report: {}\n", inline(&checklist.name));
    match &run.subject {
        Some(subject) => {
            let _ = writeln!(
                md,
                "- Subject: merchant `{}` at {}, started with `{}`",
                inline(&subject.name),
                inline(&subject.url),
                inline(&subject.command)
            );
        }
        None => {
            let _ = writeln!(
                md,
                "- Subject: the flows' own calls (no merchant under test)"
            );
        }
    }
    if let Some(label) = &run.label {
        let _ = writeln!(md, "- Label: {}", inline(label));
    }
    let _ = writeln!(
        md,
        "- Date: {} (run took {:.1} s)",
        run.started,
        run.duration.as_secs_f64()
    );
    let _ = writeln!(md, "- Tool: {TOOL}");
    let _ = writeln!(md, "- Target: {}", inline(&run.target));
    let _ = writeln!(
        md,
        "- Checklist: `{}`",
        inline(&checklist.path.display().to_string())
    );
    let _ = writeln!(md, "- Verdict: {verdict}; {}\n", coverage.counts_line());

    let _ = writeln!(md, "| Item | Title | Verdict | Flows |");
    let _ = writeln!(md, "| --- | --- | --- | --- |");
    for item in &coverage.items {
        let labels = item.flow_labels();
        let flows = if labels.is_empty() {
            "-".to_owned()
        } else {
            labels
                .iter()
                .map(|f| cell(f))
                .collect::<Vec<_>>()
                .join("<br>")
        };
        let _ = writeln!(
            md,
            "| [{id}](#{anchor}) | {} | {} | {flows} |",
            cell(&item.title),
            item.status.word(),
            id = item.id,
            anchor = item.id.to_ascii_lowercase(),
        );
    }

    for (item, entries) in coverage.items.iter().zip(files) {
        let _ = writeln!(md, "\n## {}\n", item.id);
        let _ = writeln!(md, "{}\n", inline(&item.title));
        let proof = checklist
            .item(&item.id)
            .map_or(&[][..], |i| i.proof.as_slice());
        if let Some(checklist_item) = checklist.item(&item.id) {
            let _ = writeln!(md, "Passing means: {}\n", inline(&checklist_item.passing));
        }
        let _ = writeln!(md, "Verdict: **{}**\n", item.status.word());
        item_proof(&mut md, item, proof, entries);
        if entries.is_empty() {
            let _ = writeln!(md, "No flow covers this item.");
        } else {
            let _ = writeln!(md, "Evidence:\n");
        }
        for (name, case) in entries {
            let _ = writeln!(
                md,
                "- {} `{}` ({}): [{id}/{name}]({id}/{name}), {} messages",
                if case.outcome.passed {
                    "passed"
                } else {
                    "FAILED"
                },
                inline(&case.outcome.label()),
                case.outcome.file.display(),
                case.exchanges.len(),
                id = item.id,
            );
        }
    }
    md
}

/// An item's proof in `summary.md`: each requirement, met (by which case and step, with the
/// assertions that held) or missing, shown for the case that proves it best.
fn item_proof(
    md: &mut String,
    item: &ItemCoverage,
    proof: &[Requirement],
    entries: &[(String, &CaseEvidence)],
) {
    let Some(case) = best_case(proof, entries) else {
        let _ = writeln!(md, "Proof required:\n");
        for requirement in proof {
            let _ = writeln!(md, "- missing: {requirement}");
        }
        let _ = writeln!(md);
        return;
    };
    let _ = writeln!(md, "Proof, in `{}`:\n", inline(&case.outcome.label()));
    for met in proof_in(proof, case) {
        let Some((_, step)) = met.step else {
            let _ = writeln!(md, "- MISSING: {}", met.requirement);
            continue;
        };
        let _ = writeln!(
            md,
            "- met: {}, by step `{}`",
            met.requirement,
            inline(&step.name)
        );
        for held in proving_assertions(met.requirement, &step.assertions) {
            let _ = writeln!(
                md,
                "  - `{}`: expected {}, got {}",
                inline(&held.query),
                inline(&held.expected),
                inline(&held.actual)
            );
        }
    }
    if let Some((closest, unmet)) = &item.unmet {
        let _ = writeln!(
            md,
            "\nNot proven: no passing covering case met the whole proof; the closest, `{}`, \
             lacks {}.",
            inline(closest),
            unmet.join("; and ")
        );
    }
    let _ = writeln!(md);
}

/// Text safe on one Markdown line or in a code span: no line breaks, no backticks.
fn inline(text: &str) -> String {
    text.replace(['\r', '\n'], " ").replace('`', "'")
}

/// Text safe inside a Markdown table cell: [`inline`], and `|` escaped.
fn cell(text: &str) -> String {
    inline(text).replace('|', "\\|")
}

/// A file-name-safe slug: lowercase ASCII letters and digits, runs of anything else as one
/// `-`, at most 80 characters; `case` when nothing is left.
fn slug(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let out: String = out.trim_matches('-').chars().take(80).collect();
    let out = out.trim_end_matches('-');
    if out.is_empty() {
        "case".to_owned()
    } else {
        out.to_owned()
    }
}

/// `slug.json`, or `slug-2.json`, `slug-3.json`, ... when that name is taken.
fn unique_file_name<T>(slug: &str, taken: &[(String, T)]) -> String {
    let mut name = format!("{slug}.json");
    let mut n = 2;
    while taken.iter().any(|(t, _)| *t == name) {
        name = format!("{slug}-{n}.json");
        n += 1;
    }
    name
}

/// Writes a JSON value, masked field by field and then as text.
fn write_json(path: &Path, value: Value) -> io::Result<()> {
    let mut text = output::render_json(&value);
    text.push('\n');
    std::fs::write(path, text).map_err(failed("write", path))
}

/// Writes a text file through the masked sink.
fn write_masked(path: &Path, text: &str) -> io::Result<()> {
    output::write_file(path, output::FileKind::Text, text).map_err(failed("write", path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs() {
        assert_eq!(
            slug("First-time payment, tokenize ENABLED"),
            "first-time-payment-tokenize-enabled"
        );
        assert_eq!(
            slug("PARAM_ILLEGAL [field=paymentAmount.value]"),
            "param-illegal-field-paymentamount-value"
        );
        assert_eq!(slug("***"), "case");
        assert_eq!(slug("Ünïcode only ✓"), "n-code-only");
        assert_eq!(slug(&"x".repeat(200)).len(), 80);
        assert_eq!(slug(&format!("{}-{}", "a".repeat(79), "b")), "a".repeat(79));
    }

    #[test]
    fn unique_names() {
        let taken = [("a.json".to_owned(), ()), ("a-2.json".to_owned(), ())];
        assert_eq!(unique_file_name("a", &taken), "a-3.json");
        assert_eq!(unique_file_name("b", &taken), "b.json");
    }

    #[test]
    fn cells_cannot_break_the_table() {
        assert_eq!(cell("a | b\nc `d`"), "a \\| b c 'd'");
    }
}
