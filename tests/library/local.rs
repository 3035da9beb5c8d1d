//! Support for tests/library.rs: a small APO-like JSON server on 127.0.0.1:0 (volatile ids,
//! a card number to mask, a status chosen by the caller) and the real binary run in a
//! temporary project or in the repository.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use axum::Router;
use axum::extract::Query;
use axum::routing::get;
use serde_json::{Value, json};

/// A card number the server puts in every answer; it must never reach any output.
pub const CARD: &str = "4054695723100768";

/// The base URL of the one test server (started on first use).
pub fn server() -> &'static str {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Runtime::new().expect("a runtime");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                    .await
                    .expect("bind");
                tx.send(listener.local_addr().expect("addr"))
                    .expect("send addr");
                let app = Router::new().route("/inquiry", get(inquiry));
                axum::serve(listener, app).await.expect("serve");
            });
        });
        format!("http://{}", rx.recv().expect("the server starts"))
    })
}

/// An inquiryPayment-like answer: a fresh paymentId and time on every call, the card number
/// in clear, and `paymentStatus` from `?status=`.
async fn inquiry(Query(q): Query<std::collections::HashMap<String, String>>) -> axum::Json<Value> {
    let status = q.get("status").cloned().unwrap_or_else(|| "SUCCESS".into());
    axum::Json(json!({
        "result": { "resultCode": "SUCCESS", "resultStatus": "S", "resultMessage": "success." },
        "paymentId": format!("P{}", uuid::Uuid::new_v4().simple()),
        "paymentTime": jiff::Timestamp::now().to_string(),
        "paymentStatus": status,
        "paymentResultInfo": { "cardNo": CARD, "cardBrand": "VISA" },
    }))
}

/// A temporary project folder with flow files and a checklist.
pub struct Project {
    dir: tempfile::TempDir,
}

impl Project {
    /// An empty project.
    pub fn new() -> Project {
        Project {
            dir: tempfile::tempdir().expect("a temp dir"),
        }
    }

    /// The project folder.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes a file (folders created).
    pub fn write(&self, rel: &str, text: &str) -> PathBuf {
        let path = self.path().join(rel);
        std::fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
        std::fs::write(&path, text).expect("write");
        path
    }

    /// `apoflow <args>` in the project, with a clean snapshot environment plus `env`.
    pub fn apoflow(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        apoflow_in(self.path(), args, env)
    }

    /// Every file under `rel`, relative to it, sorted; empty when `rel` does not exist.
    pub fn files(&self, rel: &str) -> Vec<String> {
        let mut out = Vec::new();
        walk(&self.path().join(rel), Path::new(""), &mut out);
        out.sort();
        out
    }

    /// Every file's text under the project, concatenated.
    pub fn all_text(&self) -> String {
        self.files("")
            .iter()
            .map(|f| std::fs::read_to_string(self.path().join(f)).unwrap_or_default())
            .collect()
    }
}

fn walk(dir: &Path, rel: &Path, out: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = rel.join(e.file_name());
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            walk(&e.path(), &name, out);
        } else {
            out.push(name.to_string_lossy().replace('\\', "/"));
        }
    }
}

/// `apoflow <args>` in `dir`: no colour, and none of the variables that change snapshot modes
/// unless `env` sets them.
pub fn apoflow_in(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_apoflow"));
    cmd.args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("CI")
        .env_remove("APOFLOW_UPDATE");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("the apoflow binary runs")
}

/// The exit code.
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
