//! What only tests/library.rs needs: a small APO-like JSON server on 127.0.0.1:0 (volatile
//! ids, a card number to mask, a status chosen by the caller) and a temporary project to run
//! the real binary in (the generic parts are in tests/support/).

use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::OnceLock;

use axum::Router;
use axum::extract::Query;
use axum::routing::get;
use serde_json::{Value, json};

use crate::support::{Scratch, apoflow_in, files_under, serve};

/// A card number the server puts in every answer; it must never reach any output.
pub const CARD: &str = "4054695723100768";

/// The base URL of the one test server (started on first use).
pub fn server() -> &'static str {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| serve(Router::new().route("/inquiry", get(inquiry))))
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
    dir: Scratch,
}

impl Project {
    /// An empty project.
    pub fn new() -> Project {
        Project {
            dir: Scratch::new(),
        }
    }

    /// The project folder.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes a file (folders created).
    pub fn write(&self, rel: &str, text: &str) -> PathBuf {
        self.dir.write(rel, text)
    }

    /// `apoflow <args>` in the project, with a clean snapshot environment plus `env`.
    pub fn apoflow(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        apoflow_in(self.path(), args, env)
    }

    /// Every file under `rel`, relative to it, sorted; empty when `rel` does not exist.
    pub fn files(&self, rel: &str) -> Vec<String> {
        let dir = self.path().join(rel);
        if dir.is_dir() {
            files_under(&dir)
        } else {
            Vec::new()
        }
    }

    /// Every file's text under the project, concatenated.
    pub fn all_text(&self) -> String {
        self.files("")
            .iter()
            .map(|f| std::fs::read_to_string(self.path().join(f)).unwrap_or_default())
            .collect()
    }
}
