//! Test support shared by the integration test binaries: the real `apoflow` binary run in a
//! folder, its output, a scratch project folder, free ports and loopback addresses, a local
//! axum server on a runtime of its own, and the standalone `apoflow sandbox`. Include it with
//! `#[path = "support/mod.rs"] mod support;`; what only one binary needs stays beside it.

#![allow(dead_code)] // each test binary uses part of it

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

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

/// The Python of the virtual environment `venv` (relative to the repository); fails the test
/// (never skips) saying `missing` when it is not there.
pub fn venv_python(venv: &str, missing: &str) -> PathBuf {
    let python = repo().join(venv).join("bin/python");
    assert!(python.exists(), "{missing}");
    python
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

/// Copies the folder `from` to `to`, recursively (files and folders only).
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("folders");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).expect("copy");
        }
    }
}

/// A flow step (YAML, indented for `steps:`) that inquires the payment `{{ paymentId }}` and
/// expects its `paymentStatus` to be `status`.
pub fn inquiry_step(status: &str) -> String {
    format!(
        "  - inquiry: {{ body: {{ paymentId: \"{{{{ paymentId }}}}\" }} }}\n    expect: {{ $.paymentStatus: {status} }}\n"
    )
}

/// Every file under `dir`, relative to it (with `/`), sorted; fails on a folder it cannot read.
pub fn files_under(dir: &Path) -> Vec<String> {
    fn walk(dir: &Path, rel: &Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).expect("read dir") {
            let entry = entry.expect("entry");
            let name = rel.join(entry.file_name());
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                walk(&entry.path(), &name, out);
            } else {
                out.push(name.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, Path::new(""), &mut out);
    out.sort();
    out
}

/// Serves `app` on 127.0.0.1:0 from a runtime on a thread of its own, for as long as the test
/// binary runs; returns its base URL (`http://127.0.0.1:PORT`).
pub fn serve(app: axum::Router) -> String {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Runtime::new().expect("a runtime");
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            tx.send(listener.local_addr().expect("addr"))
                .expect("send addr");
            axum::serve(listener, app).await.expect("serve");
        });
    });
    format!("http://{}", rx.recv().expect("the server starts"))
}

/// The standalone `apoflow sandbox`, killed on drop.
pub struct Sandbox {
    child: Child,
    pub url: String,
}

impl Sandbox {
    /// The sandbox on 127.0.0.1:0 with `extra` arguments.
    pub fn start(extra: &[&str]) -> Self {
        Self::start_on("127.0.0.1:0", extra)
    }

    /// The sandbox listening on `listen`, run in the temporary folder (not the repository,
    /// whose apoflow.toml would register its merchants too).
    pub fn start_on(listen: &str, extra: &[&str]) -> Self {
        Self::start_in(&std::env::temp_dir(), listen, extra)
    }

    /// The sandbox listening on `listen`, run in `dir` (whose apoflow.toml it reads); its URL
    /// is read from the banner's first line.
    pub fn start_in(dir: &Path, listen: &str, extra: &[&str]) -> Self {
        let mut child = apoflow_cmd(dir, &["sandbox", "--listen", listen])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("apoflow starts");
        let mut first = String::new();
        let mut out = BufReader::new(child.stdout.take().expect("stdout"));
        out.read_line(&mut first).expect("first line");
        // Keep draining stdout so the sandbox never writes into a closed pipe.
        std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
        let url = first
            .trim()
            .rsplit(' ')
            .next()
            .expect("url on the first line")
            .to_owned();
        assert!(
            url.starts_with("http://127.0.0.1:") || url.starts_with("https://127."),
            "unexpected first line {first:?}"
        );
        Sandbox { child, url }
    }
}

impl Sandbox {
    /// Sends SIGTERM and waits for the sandbox to exit; its exit status.
    #[cfg(unix)]
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let pid = i32::try_from(self.child.id()).expect("a pid");
        // SAFETY: kill(2) with a pid this test started and a standard signal.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        self.child.wait().expect("the sandbox exits")
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
