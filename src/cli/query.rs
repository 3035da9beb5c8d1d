//! `apoflow query JSONPATH [FILE]`: evaluate a JSONPath (RFC 9535) against JSON from a file or
//! standard input and print the matched values as a JSON array, so flow authors can try a path.

use std::io::Read as _;
use std::path::PathBuf;

use super::exit;

/// Runs the query; prints the matches on stdout, or an error on stderr.
pub fn run(path: &str, file: Option<&PathBuf>) -> u8 {
    let (name, text) = match file {
        Some(f) => match std::fs::read_to_string(f) {
            Ok(t) => (f.display().to_string(), t),
            Err(e) => {
                eprintln!("error: cannot read {}: {e}", f.display());
                return exit::INVALID;
            }
        },
        None => {
            let mut t = String::new();
            if let Err(e) = std::io::stdin().read_to_string(&mut t) {
                eprintln!("error: cannot read standard input: {e}");
                return exit::INVALID;
            }
            ("<stdin>".to_owned(), t)
        }
    };
    let value: serde_json::Value = match serde_json::from_str(&text) {
        Ok(v) => v,
        Err(e) => {
            eprintln!(
                "error: {name}:{}:{}: not valid JSON: {e}",
                e.line(),
                e.column()
            );
            return exit::INVALID;
        }
    };
    match crate::expect::select_all(path, &value) {
        Ok(found) => {
            let out = serde_json::to_string_pretty(&found).unwrap_or_else(|_| "[]".to_owned());
            crate::output::Sink::stdout().print(&format!("{out}\n"));
            exit::SUCCESS
        }
        Err(e) => {
            crate::output::Sink::stderr().print(&format!("error: {}\n", e.message));
            if let Some(hint) = &e.hint {
                eprintln!("hint: {hint}");
            }
            exit::INVALID
        }
    }
}
