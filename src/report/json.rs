//! The JSON report (`--json FILE`): the run, the summary and every case with its steps,
//! assertions, messages and per-step timings (milliseconds), masked. It holds everything the
//! other reports are made from, so `apoflow report merge` reads it back ([`read`]) to build
//! one set of reports from the shards of a run.
//!
//! ```json
//! { "run": { "started": "2026-11-27T12:00:00Z", "target": "embedded sandbox (http://…)",
//!            "subject": null, "label": null },
//!   "partition": "1/3",
//!   "summary": { "passed": 1, "flaky": 0, "failed": 1, "errored": 0, "skipped": 0,
//!                "duration": 60.1 },
//!   "cases": [ { "index": 0, "file": "flows/pay.yaml", "flow": "Payment", "case": "card=visa",
//!                "tags": [], "covers": ["HM-01"], "status": "failed", "flaky": false,
//!                "duration": 48.2, "retries": [],
//!                "steps": [ { "name": "pay", "kind": { "action": "pay", "api": null },
//!                             "line": 7, "status": "failed", "tries": 1, "duration": 40.3,
//!                             "assertions": [ … ], "error": null,
//!                             "request": { "method": "POST", "url": "…" },
//!                             "response": { "status": 200, "body": "…" },
//!                             "messages": [ { "kind": "request", "summary": "…",
//!                                             "data": { … } } ] } ] } ] }
//! ```

use std::path::Path;

use serde::Deserialize;
use serde_json::json;

use super::evidence::RunInfo;
use crate::engine::result::{CaseResult, RunSummary};

/// The largest JSON report `read` accepts (a shard's report with every message in it).
pub const MAX_READ_BYTES: u64 = 512 * 1024 * 1024;

/// A JSON report read back.
#[derive(Debug, Clone, Deserialize)]
pub struct JsonReport {
    /// About the run.
    pub run: RunInfo,
    /// `K/N` when the run was one shard of a partitioned suite.
    #[serde(default)]
    pub partition: Option<String>,
    /// The totals.
    pub summary: RunSummary,
    /// Every case, in plan order.
    pub cases: Vec<CaseResult>,
}

/// Builds the report document (unmasked: [`write()`] masks it on the way out).
pub fn document(
    cases: &[CaseResult],
    summary: &RunSummary,
    run: &RunInfo,
    partition: Option<&str>,
) -> serde_json::Value {
    json!({
        "run": run,
        "partition": partition,
        "summary": summary,
        "cases": cases,
    })
}

/// Writes the report to `path`.
pub fn write(
    path: &Path,
    cases: &[CaseResult],
    summary: &RunSummary,
    run: &RunInfo,
    partition: Option<&str>,
) -> std::io::Result<()> {
    crate::output::write_json(path, &document(cases, summary, run, partition))
}

/// Reads a JSON report written by `--json`; the error names the file and what is wrong.
pub fn read(path: &Path) -> Result<JsonReport, String> {
    let meta = std::fs::metadata(path)
        .map_err(|e| format!("failed to read the JSON report {}: {e}", path.display()))?;
    if !meta.is_file() {
        return Err(format!(
            "{} is not a file: give the JSON reports the shards wrote with --json",
            path.display()
        ));
    }
    if meta.len() > MAX_READ_BYTES {
        return Err(format!(
            "{} is {} bytes, more than the {} MiB a JSON report may have",
            path.display(),
            meta.len(),
            MAX_READ_BYTES / 1024 / 1024
        ));
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("failed to read the JSON report {}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| {
        format!(
            "{}:{}:{}: not a JSON report of `apoflow run --json`: {e}",
            path.display(),
            e.line(),
            e.column()
        )
    })
}
