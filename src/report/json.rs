//! The JSON report (`--json FILE`): the summary and every case with its steps, assertions and
//! per-step timings (milliseconds), masked.
//!
//! ```json
//! { "summary": { "passed": 1, "failed": 1, "errored": 0, "skipped": 0, "duration": 60.1 },
//!   "cases": [ { "file": "flows/pay.yaml", "flow": "Payment", "case": "card=visa",
//!                "status": "failed", "duration": 48.2,
//!                "steps": [ { "name": "pay", "line": 7, "status": "failed", "tries": 1,
//!                             "duration": 40.3, "assertions": [ … ], "error": null,
//!                             "request": { "method": "POST", "url": "…" },
//!                             "response": { "status": 200, "body": "…" } } ] } ] }
//! ```

use std::path::Path;

use serde_json::json;

use crate::engine::result::{CaseResult, RunSummary};
use crate::mask::mask_json;

/// Builds the report document.
pub fn document(cases: &[CaseResult], summary: &RunSummary) -> serde_json::Value {
    let mut doc = json!({ "summary": summary, "cases": cases });
    mask_json(&mut doc);
    doc
}

/// Writes the report to `path`.
pub fn write(path: &Path, cases: &[CaseResult], summary: &RunSummary) -> std::io::Result<()> {
    let text =
        serde_json::to_string_pretty(&document(cases, summary)).map_err(std::io::Error::other)?;
    std::fs::write(path, text)
}
