//! The command line: clap definitions and one function per subcommand; nothing else.

pub mod context;
pub mod exit;
pub mod keys;
pub mod query;
pub mod sign;
pub mod snapshots;

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
}

/// Parses the command line and runs the chosen subcommand; returns the process exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let ctx = Context::capture();
    exit::code(dispatch(cli.command, &ctx))
}

/// Runs one subcommand; returns one of the codes in [`exit`].
fn dispatch(command: Command, ctx: &Context) -> u8 {
    match command {
        Command::Query { jsonpath, file } => query::run(&jsonpath, file.as_ref()),
        Command::Keys(args) => keys::run(&args, ctx),
        Command::Sign(args) => sign::run(&args, ctx),
        Command::Snapshots(command) => snapshots::run(command, ctx),
    }
}
