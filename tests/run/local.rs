//! What only tests/run.rs needs: its local HTTP server's routes and a temporary project folder
//! whose flows point at it (the generic parts are in tests/support/).

use std::collections::HashMap;
use std::path::Path;
use std::process::Output;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use serde_json::{Value, json};
use tokio::sync::Notify;

use crate::support::{Scratch, apoflow_in, serve};

/// Per-key counters and barriers, shared by the routes.
#[derive(Default)]
struct Shared {
    counters: Mutex<HashMap<String, u64>>,
    barriers: Mutex<HashMap<String, u64>>,
    arrived: Notify,
}

/// The base URL of the one test server (started on first use, lives as long as the tests).
pub fn server() -> &'static str {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| serve(app()))
}

fn app() -> Router {
    Router::new()
        .route("/json", get(payment))
        .route("/echo", any(echo))
        .route("/count/{key}", get(count))
        .route("/peek/{key}", get(peek))
        .route("/barrier/{key}/{n}", get(barrier))
        .route("/slow", get(slow))
        .route("/text", get(|| async { "plain text, not JSON" }))
        .route("/status/{code}", get(status))
        .with_state(Arc::new(Shared::default()))
}

/// A payment-like JSON document for predicates.
async fn payment() -> impl IntoResponse {
    (
        [("x-request-id", "req-42")],
        axum::Json(json!({
            "result": { "resultStatus": "S", "resultCode": "SUCCESS", "resultMessage": "success." },
            "paymentId": "2026112519400000001",
            "paymentAmount": { "currency": "SGD", "value": "4200" },
            "count": 42,
            "ratio": 0.5,
            "captured": true,
            "note": null,
            "requestId": "3f2504e0-4f89-41d3-9a0c-0305e82c3301",
            "paymentTime": "2026-11-25T21:00:00+08:00",
            "transactions": [
                { "transactionType": "AUTH", "transactionStatus": "SUCCESS" },
                { "transactionType": "CAPTURE", "transactionStatus": "SUCCESS" }
            ],
            "cardNo": "************1111"
        })),
    )
}

/// Echoes the request: method, query, headers (lowercase), body (JSON, form or text).
async fn echo(
    method: Method,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> impl IntoResponse {
    let text = String::from_utf8_lossy(&body).into_owned();
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let body = if content_type.starts_with("application/json") {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    } else if content_type.starts_with("application/x-www-form-urlencoded") {
        Value::Object(
            url::form_urlencoded::parse(text.as_bytes())
                .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
                .collect(),
        )
    } else {
        Value::String(text)
    };
    let headers: serde_json::Map<String, Value> = headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_owned(),
                Value::String(v.to_str().unwrap_or("").to_owned()),
            )
        })
        .collect();
    axum::Json(json!({ "method": method.as_str(), "query": q, "headers": headers, "body": body }))
}

/// Counts calls per key; `status` is DONE from the third call on.
async fn count(State(s): State<Arc<Shared>>, UrlPath(key): UrlPath<String>) -> impl IntoResponse {
    let n = {
        let mut counters = s.counters.lock().unwrap();
        let n = counters.entry(key).or_default();
        *n += 1;
        *n
    };
    axum::Json(json!({ "count": n, "status": if n >= 3 { "DONE" } else { "PENDING" } }))
}

/// How many times `/count/{key}` was called, without counting.
async fn peek(State(s): State<Arc<Shared>>, UrlPath(key): UrlPath<String>) -> impl IntoResponse {
    let n = s.counters.lock().unwrap().get(&key).copied().unwrap_or(0);
    axum::Json(json!({ "count": n }))
}

/// Waits until `n` requests for `key` have arrived (at most `?wait_ms`, default 5000):
/// `{"met": true}` only when they were in flight together.
async fn barrier(
    State(s): State<Arc<Shared>>,
    UrlPath((key, n)): UrlPath<(String, u64)>,
    Query(q): Query<HashMap<String, u64>>,
) -> impl IntoResponse {
    {
        *s.barriers.lock().unwrap().entry(key.clone()).or_default() += 1;
    }
    s.arrived.notify_waiters();
    let wait = Duration::from_millis(q.get("wait_ms").copied().unwrap_or(5000));
    let met = tokio::time::timeout(wait, async {
        loop {
            let notified = s.arrived.notified();
            if s.barriers.lock().unwrap().get(&key).copied().unwrap_or(0) >= n {
                return;
            }
            notified.await;
        }
    })
    .await
    .is_ok();
    axum::Json(json!({ "met": met }))
}

async fn slow() -> impl IntoResponse {
    tokio::time::sleep(Duration::from_secs(3)).await;
    axum::Json(json!({}))
}

async fn status(UrlPath(code): UrlPath<u16>) -> Response {
    let code = StatusCode::from_u16(code).unwrap_or(StatusCode::BAD_REQUEST);
    (code, axum::Json(json!({ "status": code.as_u16() }))).into_response()
}

/// A temporary project folder with flow files in it.
pub struct Project {
    pub dir: Scratch,
}

impl Project {
    /// An empty project.
    pub fn new() -> Self {
        Project {
            dir: Scratch::new(),
        }
    }

    /// Writes a file (folders created), `BASE` replaced by the server URL.
    pub fn file(&self, rel: &str, text: &str) -> &Self {
        self.dir.write(rel, &text.replace("BASE", server()));
        self
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Runs `apoflow run ARGS` in the project.
    pub fn run(&self, args: &[&str]) -> Output {
        let args: Vec<&str> = ["run"].into_iter().chain(args.iter().copied()).collect();
        apoflow_in(self.path(), &args, &[])
    }

    /// Reads a report file the run wrote.
    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path().join(rel)).expect("the report exists")
    }
}

/// Fetches JSON from the test server (to see what a run did to it).
pub fn get_json(path: &str) -> Value {
    let url = format!("{}{path}", server());
    std::thread::spawn(move || {
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async {
            reqwest::get(url)
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        })
    })
    .join()
    .unwrap()
}

/// Makes run output stable: the server's port, durations.
pub fn stable(text: &str) -> String {
    let text = text.replace(server(), "http://127.0.0.1:[PORT]");
    // `(12 ms)`, and the time at the end of `(attempt 1 of 3 failed, 12 ms)`.
    let ms = regex::Regex::new(r"(\(|, )\d+ ms\)").unwrap();
    let secs = regex::Regex::new(r"in \d+\.\d+ s").unwrap();
    let within = regex::Regex::new(r"in \d+ ms;").unwrap();
    let text = ms.replace_all(&text, "${1}[MS] ms)");
    let text = secs.replace_all(&text, "in [SECS] s");
    within.replace_all(&text, "in [MS] ms;").into_owned()
}
