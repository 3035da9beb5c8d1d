//! Flow snapshots: pin the whole shape of a response, request or notification in a `.snap`
//! file beside the flow, in insta's file format, and report drift as a readable diff.
//!
//! ```text
//! engine step ── value ──> check(value, spec, ctx)
//!                             mask::mask_json      secrets and card data  (secrecy)
//!                             redact               ids, times, tokens     (stability)
//!                             render               sorted, pretty JSON
//!                             compare with __snapshots__/<..>.snap
//!                             write per UpdateMode  ──> Outcome (passed? + describe())
//! apoflow snapshots review|accept|reject|check  ──> review / stale
//! ```
//!
//! The engine calls [`check`] once per step that has a `snapshot:` ([`SnapshotSpec`], which
//! deserializes from the flow YAML and compiles its JSONPaths there), with the mode from
//! [`UpdateMode::resolve`] (`crate::cli::snapshots::update_mode` reads it from the `Context`;
//! its error is an invalid configuration, exit 2):
//!
//! ```
//! use std::path::Path;
//! use apoflow::snapshot::{check, CheckContext, SnapshotSpec, UpdateMode};
//! # let dir = tempfile::tempdir().unwrap();
//! # let flow_file = dir.path().join("refund.yaml");
//! # let root = dir.path();
//! # let body = serde_json::json!({"paymentStatus": "SUCCESS"});
//! let spec: SnapshotSpec = serde_saphyr::from_str("{ name: after-refund, of: response }").unwrap();
//! let ctx = CheckContext {
//!     flow_file: &flow_file,          // as the run names it
//!     root,                           // `source:` is relative to this
//!     case: "Refund [card=visa]",     // flow name + matrix case
//!     step: "after-refund",
//!     mode: UpdateMode::resolve(false, None, false).unwrap(),
//!     color: false,
//! };
//! let outcome = check(&body, &spec, &ctx)?;  // Err: unreadable or malformed .snap (a step error)
//! if !outcome.passed() {
//!     let failure_text = outcome.describe(&spec, &ctx); // names flow, step, file; has the diff
//!     # assert!(failure_text.contains("after-refund"));
//! }
//! # Ok::<(), apoflow::snapshot::SnapshotError>(())
//! ```

mod diff;
mod discover;
mod format;
mod mode;
mod redact;
mod review;
mod spec;
mod stale;
mod store;

pub use diff::unified_diff;
pub use discover::{Kind, find};
pub use format::{FormatError, SnapFile};
pub use mode::{ModeError, UpdateMode};
pub use redact::{DEFAULT_FIELDS, REDACTED, Redaction, RedactionError, TIME_FIELDS, redact};
pub use review::{ReviewSummary, accept, accepted_path, reject, review};
pub use spec::{Of, SnapshotSpec};
pub use stale::{Expected, Stale, StaleReason, find_stale};
pub use store::{
    CheckContext, Outcome, PENDING_SUFFIX, SNAP_EXT, SNAPSHOT_DIR, SnapshotError, check,
    pending_path, read_snap, render, snapshot_path,
};
