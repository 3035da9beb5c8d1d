//! Run results as plain data: what the engine produces and every report reads.
//!
//! A run is a list of [`CaseResult`]s (one per flow or matrix case), each holding its
//! [`StepResult`]s in order. Failures (an assertion or a capture did not hold) and errors (a
//! time-out, a refused connection, a template that failed at run time) are kept apart, so
//! JUnit can say `<failure>` or `<error>`; both fail the run.
//!
//! The results serialize to the JSON report and deserialize back from it, so `apoflow report
//! merge` can feed the cases of several shards to the same reports as a single run.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::apo::endpoint::Endpoint;
pub use crate::expect::AssertionResult;

/// How a step or a case ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CaseResult {
    /// The case's position in the plan as loaded (stable across runs and shards; events refer
    /// to it).
    pub index: usize,
    /// The flow file.
    pub file: PathBuf,
    /// The flow's name.
    pub flow: String,
    /// The matrix case name (`card=visa, mode=MANUAL`), if any.
    pub case: Option<String>,
    /// When the case's last attempt started (evidence times count from it).
    #[serde(default)]
    pub started: Option<jiff::Timestamp>,
    /// The flow's tags.
    pub tags: Vec<String>,
    /// The checklist items the flow covers.
    #[serde(default)]
    pub covers: Vec<String>,
    /// Passed, failed, errored (a step errored and none failed before it), or skipped; the
    /// status of the last attempt.
    pub status: Status,
    /// Whether the case passed only after failing: never a silent pass.
    #[serde(default)]
    pub flaky: bool,
    /// The steps of the last attempt, in order (steps of a `use:` partial inline, named
    /// `partial › step`).
    pub steps: Vec<StepResult>,
    /// Wall time of the case, every attempt included.
    #[serde(with = "millis")]
    pub duration: Duration,
    /// The earlier attempts that failed, when the case was retried (`--retries`, `retries:`).
    #[serde(default)]
    pub retries: Vec<Attempt>,
}

impl CaseResult {
    /// A case with only its place, flow name and status: no steps, tags, covers or timing.
    pub fn new(index: usize, file: PathBuf, flow: String, status: Status) -> Self {
        CaseResult {
            index,
            file,
            flow,
            case: None,
            started: None,
            tags: Vec::new(),
            covers: Vec::new(),
            status,
            flaky: false,
            steps: Vec::new(),
            duration: Duration::ZERO,
            retries: Vec::new(),
        }
    }

    /// `Flow name` or `Flow name [case]`.
    pub fn title(&self) -> String {
        match &self.case {
            Some(case) => format!("{} [{case}]", self.flow),
            None => self.flow.clone(),
        }
    }

    /// The step that ended the case (the first failed or errored one), if any.
    pub fn failing_step(&self) -> Option<&StepResult> {
        self.steps.iter().find(|s| s.status.is_failure())
    }
}

/// An attempt of a case that failed and was run again.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Attempt {
    /// How it ended (failed or errored).
    pub status: Status,
    /// Its wall time.
    #[serde(with = "millis")]
    pub duration: Duration,
    /// Its steps, in order.
    pub steps: Vec<StepResult>,
}

impl Attempt {
    /// The step that ended the attempt, if any.
    pub fn failing_step(&self) -> Option<&StepResult> {
        self.steps.iter().find(|s| s.status.is_failure())
    }
}

/// One step and how it went.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StepResult {
    /// The step's name: its `name`, else its `id`, else its action (`http GET`, `sleep 1s`).
    pub name: String,
    /// The step's `id`, if it has one.
    pub id: Option<String>,
    /// What the step does (its action, and the API a `received` step observes), so checklist
    /// proof rules can ask for "a passed `delivery` step".
    #[serde(default)]
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
    pub assertions: Vec<AssertionResult>,
    /// Why the step errored or failed outside assertions, e.g. a time-out (masked when
    /// rendered).
    pub error: Option<super::error::StepError>,
    /// How many times the step ran (more than one when polling with `until:`).
    pub tries: u32,
    /// Wall time of the step, all tries included.
    #[serde(with = "millis")]
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
    #[serde(default)]
    pub messages: Vec<Message>,
    /// The accepted snapshot file the step's `snapshot:` was compared with (written or not).
    #[serde(default)]
    pub snapshot: Option<std::path::PathBuf>,
}

impl StepResult {
    /// A step at `file:line:column` with nothing recorded yet: no assertions, tries or
    /// exchanges.
    pub fn blank(
        name: String,
        kind: StepKind,
        file: PathBuf,
        at: (u64, u64),
        status: Status,
    ) -> Self {
        StepResult {
            name,
            id: None,
            kind,
            file,
            line: at.0,
            column: at.1,
            status,
            assertions: Vec::new(),
            error: None,
            tries: 0,
            duration: Duration::ZERO,
            request: None,
            response: None,
            notice: None,
            messages: Vec::new(),
            snapshot: None,
        }
    }

    /// A step that stands for what went wrong before any step could run (the case's `vars`,
    /// a case that panicked): errored, with `error`.
    pub fn errored(name: &str, file: PathBuf, error: super::error::StepError) -> Self {
        StepResult {
            error: Some(error),
            ..StepResult::blank(
                name.to_owned(),
                StepKind::default(),
                file,
                (0, 0),
                Status::Errored,
            )
        }
    }
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

impl StepKind {
    /// Every action name a step can have.
    pub fn action_names() -> impl Iterator<Item = &'static str> {
        crate::flow::action::ActionKind::ALL
            .into_iter()
            .map(crate::flow::action::ActionKind::name)
    }
}

impl Serialize for StepKind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        serde_json::json!({ "action": self.action, "api": self.api.map(Endpoint::step_name) })
            .serialize(s)
    }
}

impl<'de> Deserialize<'de> for StepKind {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Raw {
            action: String,
            api: Option<String>,
        }
        let raw = Raw::deserialize(d)?;
        let action = StepKind::action_names()
            .find(|a| *a == raw.action)
            .or_else(|| raw.action.is_empty().then_some(""))
            .ok_or_else(|| {
                serde::de::Error::custom(format!("`{}` is not a step action", raw.action))
            })?;
        let api = match raw.api {
            None => None,
            Some(name) => Some(
                Endpoint::ALL
                    .into_iter()
                    .find(|e| e.step_name() == name)
                    .ok_or_else(|| serde::de::Error::custom(format!("`{name}` is not an API")))?,
            ),
        };
        Ok(StepKind { action, api })
    }
}

/// One message of a step, in full.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    /// What kind of message it is.
    pub kind: MessageKind,
    /// One line for people: `POST http://…/pay`, `HTTP 200`, `ack success`.
    pub summary: String,
    /// When it happened: a request when it was sent, an answer or a notification when it was
    /// received, an acknowledgement when it was given.
    #[serde(default)]
    pub at: Option<jiff::Timestamp>,
    /// The message: `{method, url, headers, body}` or `{status, headers, body}`, or a
    /// notification and its acknowledgement.
    pub data: serde_json::Value,
}

/// What kind of message a [`Message`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
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
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RequestSummary {
    /// `GET`, `POST`, …
    pub method: String,
    /// The full URL with the query string.
    pub url: String,
}

/// A response as received, for reports (masked, body shortened).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ResponseSummary {
    /// The HTTP status.
    pub status: u16,
    /// The body, masked and cut to a readable length.
    pub body: String,
}

/// Totals of a finished run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunSummary {
    /// Cases that passed (flaky ones included).
    pub passed: usize,
    /// Cases that passed only after a retry (counted in `passed` too).
    #[serde(default)]
    pub flaky: usize,
    /// Cases that failed (an assertion or a capture).
    pub failed: usize,
    /// Cases that errored (and did not fail first).
    pub errored: usize,
    /// Cases not run (`--fail-fast`).
    pub skipped: usize,
    /// Wall time of the run.
    #[serde(with = "millis")]
    pub duration: Duration,
}

impl RunSummary {
    /// Counts a finished case.
    pub fn add(&mut self, status: Status, flaky: bool) {
        match status {
            Status::Passed => self.passed += 1,
            Status::Failed => self.failed += 1,
            Status::Errored => self.errored += 1,
            Status::Skipped => self.skipped += 1,
        }
        if flaky {
            self.flaky += 1;
        }
    }

    /// Whether any case failed or errored.
    pub fn is_failure(&self) -> bool {
        self.failed + self.errored > 0
    }
}

/// Durations as milliseconds (a float) in reports.
mod millis {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    /// Microsecond precision (`12.345`): a float with more fraction digits (`1.3869990000000002`)
    /// could read as a card number to the masker, and nobody needs nanoseconds.
    pub(super) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_micros() as f64 / 1000.0)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let ms = f64::deserialize(d)?;
        Duration::try_from_secs_f64(ms / 1000.0).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_milliseconds_to_the_microsecond_and_survive_masking() {
        let summary = RunSummary {
            duration: Duration::from_nanos(1_386_999_123),
            ..RunSummary::default()
        };
        let json = serde_json::to_value(summary).unwrap();
        assert_eq!(json["duration"], 1386.999);
        // A long fraction could read as a card number; this one stays a number.
        assert_eq!(crate::mask::masked_json(&json)["duration"], 1386.999);
        let back: RunSummary = serde_json::from_value(json).unwrap();
        assert_eq!(back.duration, Duration::from_micros(1_386_999));
    }
}
