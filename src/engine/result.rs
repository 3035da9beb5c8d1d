//! Run results as plain data: what the engine produces and every report reads.
//!
//! A run is a list of [`CaseResult`]s (one per flow or matrix case), each holding its
//! [`StepResult`]s in order. Failures (an assertion or a capture did not hold) and errors (a
//! time-out, a refused connection, a template that failed at run time) are kept apart, so
//! JUnit can say `<failure>` or `<error>`; both fail the run.

use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

pub use crate::expect::AssertionResult;

/// How a step or a case ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Everything held.
    Passed,
    /// An assertion or a capture did not hold.
    Failed,
    /// The step could not be carried out (time-out, connection error, run-time template error).
    Errored,
    /// Not run: an earlier step failed, or `--fail-fast` stopped the run.
    Skipped,
}

impl Status {
    /// The word for reports: `passed`, `failed`, `errored`, `skipped`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Passed => "passed",
            Status::Failed => "failed",
            Status::Errored => "errored",
            Status::Skipped => "skipped",
        }
    }

    /// Whether this status fails the run.
    pub fn is_failure(self) -> bool {
        matches!(self, Status::Failed | Status::Errored)
    }
}

/// One flow case and how it went.
#[derive(Debug, Clone, Serialize)]
pub struct CaseResult {
    /// The case's position in the plan (stable across runs; events refer to it).
    pub index: usize,
    /// The flow file.
    pub file: PathBuf,
    /// The flow's name.
    pub flow: String,
    /// The matrix case name (`card=visa, mode=MANUAL`), if any.
    pub case: Option<String>,
    /// The flow's tags.
    pub tags: Vec<String>,
    /// Passed, failed, errored (a step errored and none failed before it), or skipped.
    pub status: Status,
    /// The steps in order (steps of a `use:` partial inline, named `partial › step`).
    pub steps: Vec<StepResult>,
    /// Wall time of the case.
    #[serde(serialize_with = "millis")]
    pub duration: Duration,
}

impl CaseResult {
    /// `Flow name` or `Flow name [case]`.
    pub fn title(&self) -> String {
        match &self.case {
            Some(case) => format!("{} [{case}]", self.flow),
            None => self.flow.clone(),
        }
    }
}

/// One step and how it went.
#[derive(Debug, Clone, Serialize)]
pub struct StepResult {
    /// The step's name: its `name`, else its `id`, else its action (`http GET`, `sleep 1s`).
    pub name: String,
    /// The step's `id`, if it has one.
    pub id: Option<String>,
    /// What the step does (its action, and the API a `received` step observes), so checklist
    /// proof rules can ask for "a passed `delivery` step".
    #[serde(skip)]
    pub kind: StepKind,
    /// The file the step is written in (a partial's file for steps inside a partial).
    pub file: PathBuf,
    /// 1-based line of the step.
    pub line: u64,
    /// 1-based column of the step.
    pub column: u64,
    /// How the step ended.
    pub status: Status,
    /// Every `expect:` assertion, evaluated on the last try (and failed captures).
    #[serde(serialize_with = "assertions")]
    pub assertions: Vec<AssertionResult>,
    /// Why the step errored or failed outside assertions (masked), e.g. a time-out.
    pub error: Option<String>,
    /// How many times the step ran (more than one when polling with `until:`).
    pub tries: u32,
    /// Wall time of the step, all tries included.
    #[serde(serialize_with = "millis")]
    pub duration: Duration,
    /// The last request sent, if any.
    pub request: Option<RequestSummary>,
    /// The last response received, if any.
    pub response: Option<ResponseSummary>,
    /// A message for the person running the flow, printed as soon as the step finishes (the
    /// page to open for `redirect: { manual: true }`).
    pub notice: Option<String>,
    /// The step's messages in full and in order (requests, responses, notifications,
    /// acknowledgements), for the evidence bundle; unmasked here, masked when written.
    #[serde(skip)]
    pub messages: Vec<Message>,
    /// The accepted snapshot file the step's `snapshot:` was compared with (written or not).
    #[serde(skip)]
    pub snapshot: Option<std::path::PathBuf>,
}

/// What a step does, as checklist proof rules name it (small: every step result carries it).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StepKind {
    /// The action's name in flows: `http`, `pay`, `redirect`, `notify`, `received`,
    /// `delivery`, `sleep`, `use`, …; empty for a result that is no step (`vars`).
    pub action: &'static str,
    /// For `received`, the API it observes.
    pub api: Option<crate::apo::endpoint::Endpoint>,
}

/// One message of a step, in full.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// What kind of message it is.
    pub kind: MessageKind,
    /// One line for people: `POST http://…/pay`, `HTTP 200`, `ack success`.
    pub summary: String,
    /// The message: `{method, url, headers, body}` or `{status, headers, body}`, or a
    /// notification and its acknowledgement.
    pub data: serde_json::Value,
}

/// What kind of message a [`Message`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageKind {
    /// A request the runner sent.
    Request,
    /// The answer to a request.
    Response,
    /// A notification the receiver got.
    Notification,
    /// The receiver's answer to a notification.
    Acknowledgement,
}

/// A request as sent, for reports (masked).
#[derive(Debug, Clone, Serialize)]
pub struct RequestSummary {
    /// `GET`, `POST`, …
    pub method: String,
    /// The full URL with the query string.
    pub url: String,
}

/// A response as received, for reports (masked, body shortened).
#[derive(Debug, Clone, Serialize)]
pub struct ResponseSummary {
    /// The HTTP status.
    pub status: u16,
    /// The body, masked and cut to a readable length.
    pub body: String,
}

/// Totals of a finished run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RunSummary {
    /// Cases that passed.
    pub passed: usize,
    /// Cases that failed (an assertion or a capture).
    pub failed: usize,
    /// Cases that errored (and did not fail first).
    pub errored: usize,
    /// Cases not run (`--fail-fast`).
    pub skipped: usize,
    /// Wall time of the run.
    #[serde(serialize_with = "millis")]
    pub duration: Duration,
}

impl RunSummary {
    /// Counts a finished case.
    pub fn add(&mut self, status: Status) {
        match status {
            Status::Passed => self.passed += 1,
            Status::Failed => self.failed += 1,
            Status::Errored => self.errored += 1,
            Status::Skipped => self.skipped += 1,
        }
    }

    /// Whether any case failed or errored.
    pub fn is_failure(&self) -> bool {
        self.failed + self.errored > 0
    }
}

fn millis<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64() * 1000.0)
}

fn assertions<S: serde::Serializer>(list: &[AssertionResult], s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeSeq;
    let mut seq = s.serialize_seq(Some(list.len()))?;
    for a in list {
        seq.serialize_element(&serde_json::json!({
            "query": a.query,
            "line": a.line,
            "column": a.column,
            "passed": a.passed,
            "expected": a.expected,
            "actual": a.actual,
            "message": a.message,
        }))?;
    }
    seq.end()
}
