//! The command line: clap definitions and one function per subcommand; nothing else.

pub mod context;
pub mod exit;
pub mod keys;
pub mod list;
mod logging;
pub mod query;
pub mod report;
pub mod run;
mod run_checklist;
pub mod sandbox;
pub mod schema;
pub mod sign;
pub mod snapshots;
pub mod validate;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub use context::Context;

/// Test card-payment integrations against APO (Antom Payment Orchestration).
#[derive(Debug, Parser)]
#[command(name = "apoflow", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// The subcommand to run.
    #[command(subcommand)]
    pub command: Command,
    /// Test cards to add to the built-in ones (a card of the same name or number replaces the
    /// built-in one), in the format of fixtures/cards.yaml; for flows and the sandbox alike.
    #[arg(long, global = true, value_name = "FILE", env = "APOFLOW_CARDS")]
    pub cards: Option<PathBuf>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Evaluate a JSONPath against JSON from a file or standard input; print the matches as a
    /// JSON array.
    Query {
        /// The JSONPath (RFC 9535), e.g. `$.result.resultCode`.
        jsonpath: String,
        /// The JSON file; standard input when absent.
        file: Option<PathBuf>,
    },
    /// Manage merchant keys (`keys generate`).
    Keys(keys::KeysArgs),
    /// Print a signed APO request as a curl command (secrets masked unless --show-secrets).
    Sign(sign::SignArgs),
    /// Review, accept, reject and clean up flow snapshots (`__snapshots__/*.snap`).
    #[command(subcommand)]
    Snapshots(snapshots::SnapshotsCommand),
    /// Load and check flow files without running anything; exit 0 when valid, 2 when not.
    Validate {
        /// Flow files or folders (searched recursively for *.yaml / *.yml).
        #[arg(default_value = "flows")]
        paths: Vec<PathBuf>,
        /// Let flows name files outside the project (`use:`, `body_file:`, `sign_with:`
        /// beyond the working directory and the flows' folders).
        #[arg(long)]
        allow_outside_project: bool,
    },
    /// List the flows (one line per flow or matrix case) with their tags and what they cover.
    List {
        /// Flow files or folders (searched recursively for *.yaml / *.yml).
        #[arg(default_value = "flows")]
        paths: Vec<PathBuf>,
        /// Only flows whose tags match, e.g. `smoke` or `card and not slow`.
        #[arg(long, value_name = "EXPR")]
        tags: Option<String>,
        /// Let flows name files outside the project (`use:`, `body_file:`, `sign_with:`
        /// beyond the working directory and the flows' folders).
        #[arg(long)]
        allow_outside_project: bool,
        /// Print a JSON array instead of lines.
        #[arg(long)]
        json: bool,
    },
    /// Run flows over HTTP and report; exit 0 when all passed, 1 when one failed, 2 when the
    /// input is invalid.
    Run(Box<run::RunArgs>),
    /// Work with the reports of runs (`report merge`: combine the shards of a run).
    #[command(subcommand)]
    Report(report::ReportCommand),
    /// Print the JSON Schema (draft-07) of the flow format, for editor completion.
    Schema,
    /// Run the embedded APO sandbox standalone (point a merchant server or an SDK at it).
    Sandbox(sandbox::SandboxArgs),
}

/// Parses the command line and runs the chosen subcommand; returns the process exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let ctx = Context::capture();
    logging::init(&ctx);
    if let Some(file) = &cli.cards
        && let Err(diag) = crate::sandbox::cards::install_file(&ctx.cwd.join(file))
    {
        validate::print_diagnostics(&[*diag], &ctx);
        return exit::code(exit::INVALID);
    }
    exit::code(dispatch(cli.command, &ctx))
}

/// Runs one subcommand; returns one of the codes in [`exit`].
fn dispatch(command: Command, ctx: &Context) -> u8 {
    match command {
        Command::Query { jsonpath, file } => query::run(&jsonpath, file.as_ref()),
        Command::Keys(args) => keys::run(&args, ctx),
        Command::Sign(args) => sign::run(&args, ctx),
        Command::Snapshots(command) => snapshots::run(command, ctx),
        Command::Validate {
            paths,
            allow_outside_project,
        } => validate::run(&paths, allow_outside_project, ctx),
        Command::List {
            paths,
            tags,
            allow_outside_project,
            json,
        } => list::run(&paths, tags, allow_outside_project, json, ctx),
        Command::Run(args) => run::run(*args, ctx),
        Command::Report(command) => report::run(command, ctx),
        Command::Schema => schema::run(),
        Command::Sandbox(args) => sandbox::run(args, ctx),
    }
}
