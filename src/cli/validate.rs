//! `apoflow validate [PATHS]...`: load and check flow files, run nothing.
//!
//! ```text
//! error: unknown predicate `matchs`
//!  --> flows/pay.yaml:12:14
//! ...
//! 2 errors in 1 file; nothing was run
//! ```

use std::io::Write;
use std::path::PathBuf;

use super::{Context, exit};
use crate::diag::Diagnostic;
use crate::flow::{LoadOptions, load};
use crate::project::Project;

/// Runs `validate`; prints each error on stderr and a summary line; returns 0 or 2.
pub fn run(paths: &[PathBuf], allow_outside_project: bool, ctx: &Context) -> u8 {
    let opts = LoadOptions {
        project: Project::new(&ctx.cwd, paths, allow_outside_project),
        ..LoadOptions::default()
    };
    match load(paths, &opts) {
        Ok(plan) => {
            if let Some(note) = plan.skipped_note() {
                crate::output::Sink::stderr().print(&format!("{note}\n"));
            }
            let flows = plan
                .cases
                .iter()
                .map(|c| (&c.file.path, &c.flow_name))
                .collect::<std::collections::BTreeSet<_>>()
                .len();
            let cases = plan.cases.len();
            let line = format!(
                "ok: {flows} {} ({cases} {}), no errors",
                plural(flows, "flow", "flows"),
                plural(cases, "case", "cases"),
            );
            crate::output::Sink::stdout().print(&format!("{line}\n"));
            exit::SUCCESS
        }
        Err(diags) => {
            print_diagnostics(&diags, ctx);
            exit::INVALID
        }
    }
}

/// Prints load errors on stderr, then a summary line (shared by every subcommand that loads
/// flows).
pub fn print_diagnostics(diags: &[Diagnostic], ctx: &Context) {
    // Through the masked sink: a diagnostic may quote a secret from a config or flow file.
    let mut err = crate::output::Sink::stderr();
    for d in diags {
        let _ = writeln!(err, "{}", d.render(ctx.color_stderr()));
    }
    let files = diags
        .iter()
        .filter(|d| !d.file.as_os_str().is_empty())
        .map(|d| &d.file)
        .collect::<std::collections::BTreeSet<_>>()
        .len();
    let mut summary = format!("{} {}", diags.len(), plural(diags.len(), "error", "errors"));
    if files > 0 {
        summary.push_str(&format!(" in {files} {}", plural(files, "file", "files")));
    }
    let _ = writeln!(err, "{summary}; nothing was run");
}

fn plural(n: usize, one: &'static str, many: &'static str) -> &'static str {
    if n == 1 { one } else { many }
}
