//! The process environment, captured once: the only place that reads environment variables.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::PathBuf;

/// What the rest of the crate may know about the process: its environment variables, the
/// working directory and whether output goes to a terminal.
#[derive(Debug, Clone)]
pub struct Context {
    /// A snapshot of the environment variables taken at start-up.
    pub env: BTreeMap<String, String>,
    /// The working directory at start-up.
    pub cwd: PathBuf,
    /// Whether standard output is a terminal (colours, progress).
    pub stdout_is_tty: bool,
    /// Whether standard error is a terminal.
    pub stderr_is_tty: bool,
}

impl Context {
    /// Captures the current process environment.
    pub fn capture() -> Self {
        Context {
            env: std::env::vars().collect(),
            cwd: std::env::current_dir().unwrap_or_else(|_| PathBuf::from(".")),
            stdout_is_tty: std::io::stdout().is_terminal(),
            stderr_is_tty: std::io::stderr().is_terminal(),
        }
    }

    /// The value of an environment variable, if set and not empty.
    pub fn var(&self, name: &str) -> Option<&str> {
        self.env
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// Whether the run is on CI (`CI` set to anything but `false`/`0`).
    pub fn is_ci(&self) -> bool {
        matches!(self.var("CI"), Some(v) if v != "false" && v != "0")
    }

    /// Whether coloured output is wanted on standard error.
    pub fn color_stderr(&self) -> bool {
        self.stderr_is_tty && self.var("NO_COLOR").is_none()
    }
}
