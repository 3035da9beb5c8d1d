//! Test support shared by the integration test binaries: the real `apoflow` binary run in a
//! folder, its output, free ports and loopback addresses. Include it with
//! `#[path = "support/mod.rs"] mod support;`.

#![allow(dead_code)] // each test binary uses part of it

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository root (where flows/, fixtures/ and apoflow.toml are).
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `apoflow <args>` in `dir`, as a command to adjust: no colour, and none of the variables that
/// change snapshot modes.
pub fn apoflow_cmd(dir: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_apoflow"));
    cmd.args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("CI")
        .env_remove("APOFLOW_UPDATE")
        .env_remove("MERCHANT_BUG");
    cmd
}

/// `apoflow <args>` in `dir` with `env` added; waits for it.
pub fn apoflow_in(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = apoflow_cmd(dir, args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("the apoflow binary runs")
}

/// The exit code (-1 when killed by a signal).
pub fn code(out: &Output) -> i32 {
    out.status.code().unwrap_or(-1)
}

/// stdout + stderr as text.
pub fn both(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A port free on 127.0.0.1 right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// A loopback address of its own (127.x.y.z, never 127.0.0.1) whose port 443 is free, so tests
/// that need an HTTPS sandbox on 443 (the official SDKs dial 443) can run at once.
pub fn loopback_443() -> String {
    loop {
        let ip = format!(
            "127.{}.{}.{}",
            fastrand::u8(1..=254),
            fastrand::u8(1..=254),
            fastrand::u8(1..=254)
        );
        if TcpListener::bind(format!("{ip}:443")).is_ok() {
            return ip;
        }
    }
}

/// A temporary folder with files written into it; removed on drop.
pub struct Scratch {
    dir: tempfile::TempDir,
}

impl Scratch {
    /// An empty folder.
    pub fn new() -> Self {
        Scratch {
            dir: tempfile::tempdir().expect("a temporary folder"),
        }
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes `text` to `rel` (creating folders); returns the full path.
    pub fn write(&self, rel: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("folders");
        }
        std::fs::write(&path, text).expect("write");
        path
    }
}
