//! The documented exit codes of `apoflow`, decided in one place.

use std::process::ExitCode;

/// Every flow passed (or the subcommand succeeded).
pub const SUCCESS: u8 = 0;
/// At least one flow failed: an assertion did not hold, a step errored (time-out, connection
/// error, bad signature), or a checklist item failed or is missing.
pub const FAILED: u8 = 1;
/// The input or configuration is invalid: a flow file, a key, a config file or a flag. Nothing
/// was sent.
pub const INVALID: u8 = 2;

/// Turns one of the codes above into the process exit code.
pub fn code(code: u8) -> ExitCode {
    ExitCode::from(code)
}
