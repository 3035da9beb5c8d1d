//! The `snapshot:` check of a step, run after `expect:`: picks the value the spec asks for and
//! hands it to [`crate::snapshot::check`], which masks, redacts, compares and writes.
//!
//! The outcome becomes one assertion (query `snapshot`) so it is reported like any other
//! check; an unreadable or malformed `.snap` file, or asking for a value the step does not
//! have, is a step error.

use std::path::{Path, PathBuf};

use serde_json::Value;
use serde_saphyr::Spanned;

use crate::expect::AssertionResult;
use crate::snapshot::{self, CheckContext, Of, SnapshotSpec, UpdateMode};

/// Where the case runs: its flow file and title (the snapshot file is named after both).
#[derive(Debug, Clone, Copy)]
pub(crate) struct CaseRef<'a> {
    /// The case's flow file (not a partial's: snapshots live beside the flow that runs them).
    pub(crate) flow_file: &'a Path,
    /// The flow name, plus the matrix case for matrix flows.
    pub(crate) title: &'a str,
}

/// The values a step kind can offer a snapshot; `None` where the step has no such value.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Values<'a> {
    /// The request body sent.
    pub(crate) request: Option<&'a Value>,
    /// The response body received.
    pub(crate) response: Option<&'a Value>,
    /// The notification body received.
    pub(crate) notification: Option<&'a Value>,
    /// The return page a `redirect` fetched: `{ status, body }`.
    pub(crate) return_page: Option<&'a Value>,
}

/// What `apoflow run` decided about snapshots for the whole run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Settings<'a> {
    /// When files are written.
    pub(crate) mode: UpdateMode,
    /// The directory `source:` headers are relative to.
    pub(crate) root: &'a Path,
}

/// Checks `spec` for the step `step` of `case`: `Ok` is the assertion to record (passed or
/// not; its message names the flow file, step and snapshot file, with the diff) and the
/// accepted snapshot's path; `Err` is a step error.
pub(crate) fn check(
    spec: &Spanned<SnapshotSpec>,
    values: Values<'_>,
    case: CaseRef<'_>,
    step: &str,
    settings: Settings<'_>,
) -> Result<(AssertionResult, PathBuf), String> {
    let of = spec.value.of;
    let value = match of {
        Of::Request => values.request,
        Of::Response => values.response,
        Of::Notification => values.notification,
        Of::ReturnPage => values.return_page,
    }
    .ok_or_else(|| {
        format!(
            "snapshot `{}`: this step has no {of} to snapshot; use `of: {}`",
            spec.value.name,
            if values.notification.is_some() {
                "notification"
            } else {
                "response"
            }
        )
    })?;
    let ctx = CheckContext {
        flow_file: case.flow_file,
        root: settings.root,
        case: case.title,
        step,
        mode: settings.mode,
        color: false,
    };
    let outcome = snapshot::check(value, &spec.value, &ctx)
        .map_err(|e| crate::mask::mask_text(&e.to_string()).into_owned())?;
    let passed = outcome.passed();
    let assertion = AssertionResult {
        query: "snapshot".to_owned(),
        line: spec.referenced.line(),
        column: spec.referenced.column(),
        passed,
        expected: format!("the {of} to match snapshot `{}`", spec.value.name),
        actual: outcome.summary(),
        message: if passed {
            String::new()
        } else {
            outcome.describe(&spec.value, &ctx)
        },
    };
    Ok((assertion, outcome.path().to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(yaml: &str) -> Spanned<SnapshotSpec> {
        serde_saphyr::from_str(yaml).unwrap()
    }

    #[test]
    fn a_missing_value_is_a_step_error_naming_what_to_use() {
        let dir = tempfile::tempdir().unwrap();
        let flow = dir.path().join("f.yaml");
        let body = serde_json::json!({"a": 1});
        let err = check(
            &spec("{ name: n, of: notification }"),
            Values {
                response: Some(&body),
                ..Values::default()
            },
            CaseRef {
                flow_file: &flow,
                title: "F",
            },
            "s",
            Settings {
                mode: UpdateMode::New,
                root: dir.path(),
            },
        )
        .unwrap_err();
        assert!(err.contains("no notification"), "{err}");
        assert!(err.contains("of: response"), "{err}");
    }

    #[test]
    fn new_snapshot_fails_then_matches_once_accepted() {
        let dir = tempfile::tempdir().unwrap();
        let flow = dir.path().join("f.yaml");
        let body = serde_json::json!({"paymentStatus": "SUCCESS"});
        let values = Values {
            response: Some(&body),
            ..Values::default()
        };
        let case = CaseRef {
            flow_file: &flow,
            title: "F",
        };
        let run = |mode| {
            check(
                &spec("after"),
                values,
                case,
                "inquiry",
                Settings {
                    mode,
                    root: dir.path(),
                },
            )
            .unwrap()
            .0
        };
        let first = run(UpdateMode::New);
        assert!(!first.passed);
        assert!(first.message.contains("is new"), "{}", first.message);
        assert!(run(UpdateMode::Always).passed);
        let again = run(UpdateMode::Ci);
        assert!(again.passed, "{}", again.message);
        assert!(again.actual.starts_with("matches"));
    }
}
