//! `apoflow list [PATHS]... [--tags EXPR] [--json]`: the flows (one line per flow or matrix
//! case) with their tags and the checklist items they cover.
//!
//! ```text
//! flows/card/pay.yaml  First-time card payment  [smoke, card]  covers: HM-01, NT-01
//! flows/card/pay.yaml  Matrix payment (card=visa)  [card]
//! ```

use std::path::PathBuf;

use serde_json::json;

use super::validate::print_diagnostics;
use super::{Context, exit};
use crate::flow::plan::Case;
use crate::flow::{LoadOptions, load};
use crate::project::Project;

/// Runs `list`; returns 0, or 2 when a flow file is invalid.
pub fn run(
    paths: &[PathBuf],
    tags: Option<String>,
    allow_outside_project: bool,
    as_json: bool,
    ctx: &Context,
) -> u8 {
    let project = Project::new(&ctx.cwd, paths, allow_outside_project);
    let plan = match load(
        paths,
        &LoadOptions {
            tags,
            project,
            ..LoadOptions::default()
        },
    ) {
        Ok(plan) => plan,
        Err(diags) => {
            print_diagnostics(&diags, ctx);
            return exit::INVALID;
        }
    };
    if let Some(note) = plan.skipped_note() {
        crate::output::Sink::stderr().print(&format!("{note}\n"));
    }
    let text = if as_json {
        let list: Vec<_> = plan.cases.iter().map(case_json).collect();
        serde_json::to_string_pretty(&list).unwrap_or_else(|_| "[]".to_owned())
    } else {
        plan.cases
            .iter()
            .map(case_line)
            .collect::<Vec<_>>()
            .join("\n")
    };
    if !text.is_empty() {
        crate::output::Sink::stdout().print(&format!("{text}\n"));
    }
    exit::SUCCESS
}

fn case_line(c: &Case) -> String {
    let mut line = format!("{}  {}", c.file.path.display(), c.title());
    if !c.tags.is_empty() {
        line.push_str(&format!("  tags: {}", c.tags.join(", ")));
    }
    if !c.covers.is_empty() {
        line.push_str(&format!("  covers: {}", c.covers.join(", ")));
    }
    line
}

fn case_json(c: &Case) -> serde_json::Value {
    json!({
        "file": c.file.path.display().to_string(),
        "flow": c.flow_name,
        "case": c.case_name,
        "tags": c.tags,
        "covers": c.covers,
        "steps": c.steps.len(),
    })
}
