//! `apoflow schema`: print the JSON Schema (draft-07) of the flow format, for editors.
//! The repository ships the same text as `schema/flow.schema.json`.

use std::io::Write;

use super::exit;

/// Prints the schema on stdout.
pub fn run() -> u8 {
    let mut out = std::io::stdout().lock();
    match out.write_all(crate::flow::schema::flow_schema().as_bytes()) {
        Ok(()) => exit::SUCCESS,
        Err(e) => {
            eprintln!("error: failed to write the schema: {e}");
            exit::INVALID
        }
    }
}
