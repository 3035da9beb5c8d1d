//! When snapshot files are written: the update mode, as insta users know it.
//!
//! | mode | snapshot missing | snapshot differs | snapshot matches |
//! | --- | --- | --- | --- |
//! | `new` (default) | write `<name>.snap.new`, fail | write `<name>.snap.new`, fail | pass (a leftover `.snap.new` is removed) |
//! | `always` | write `<name>.snap`, pass | overwrite `<name>.snap`, pass | pass |
//! | `no` | fail, write nothing | fail with the diff, write nothing | pass |
//! | CI | fail, write nothing | fail with the diff, write nothing | pass |
//!
//! Precedence, first match wins (see [`UpdateMode::resolve`]):
//! 1. `--update-snapshots` on the command line → `always`;
//! 2. `APOFLOW_UPDATE=always|new|no` → that mode (an explicit choice beats CI detection, as
//!    `INSTA_UPDATE` does);
//! 3. `CI` set to anything but `false`/`0` → CI;
//! 4. otherwise `new`.

use std::fmt;

/// When snapshot files are written. See the module documentation for the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UpdateMode {
    /// The default: a new or changed snapshot is written as `<name>.snap.new` for review and the
    /// step fails.
    #[default]
    New,
    /// Write (or overwrite) `<name>.snap` directly; the step passes.
    Always,
    /// Write nothing; a missing or different snapshot fails the step.
    No,
    /// On CI: write nothing; a missing or different snapshot fails the step with a message that
    /// says how to record it locally.
    Ci,
}

/// An `APOFLOW_UPDATE` value that is not one of the known modes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("APOFLOW_UPDATE has an unknown value `{value}`; use one of: always, new, no")]
pub struct ModeError {
    /// The rejected value.
    pub value: String,
}

impl UpdateMode {
    /// Decides the mode from the `--update-snapshots` flag, the `APOFLOW_UPDATE` variable and
    /// whether the run is on CI, in that order of precedence.
    ///
    /// ```
    /// use apoflow::snapshot::UpdateMode;
    /// assert_eq!(UpdateMode::resolve(false, None, false), Ok(UpdateMode::New));
    /// assert_eq!(UpdateMode::resolve(false, None, true), Ok(UpdateMode::Ci));
    /// assert_eq!(UpdateMode::resolve(false, Some("always"), true), Ok(UpdateMode::Always));
    /// assert_eq!(UpdateMode::resolve(true, Some("no"), true), Ok(UpdateMode::Always));
    /// assert!(UpdateMode::resolve(false, Some("sometimes"), false).is_err());
    /// ```
    pub fn resolve(
        update_flag: bool,
        apoflow_update: Option<&str>,
        ci: bool,
    ) -> Result<UpdateMode, ModeError> {
        if update_flag {
            return Ok(UpdateMode::Always);
        }
        match apoflow_update.map(str::trim).filter(|v| !v.is_empty()) {
            Some(v) => match v.to_ascii_lowercase().as_str() {
                "always" => Ok(UpdateMode::Always),
                "new" => Ok(UpdateMode::New),
                "no" => Ok(UpdateMode::No),
                _ => Err(ModeError {
                    value: v.to_owned(),
                }),
            },
            None if ci => Ok(UpdateMode::Ci),
            None => Ok(UpdateMode::New),
        }
    }

    /// Whether this mode may write files at all.
    pub fn writes(self) -> bool {
        match self {
            UpdateMode::New | UpdateMode::Always => true,
            UpdateMode::No | UpdateMode::Ci => false,
        }
    }
}

impl fmt::Display for UpdateMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            UpdateMode::New => "new",
            UpdateMode::Always => "always",
            UpdateMode::No => "no",
            UpdateMode::Ci => "ci",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precedence_flag_then_variable_then_ci() {
        assert_eq!(
            UpdateMode::resolve(true, Some("no"), true),
            Ok(UpdateMode::Always)
        );
        assert_eq!(
            UpdateMode::resolve(false, Some("NEW"), true),
            Ok(UpdateMode::New)
        );
        assert_eq!(
            UpdateMode::resolve(false, Some("no"), false),
            Ok(UpdateMode::No)
        );
        assert_eq!(
            UpdateMode::resolve(false, Some(" "), true),
            Ok(UpdateMode::Ci)
        );
        assert_eq!(UpdateMode::resolve(false, None, false), Ok(UpdateMode::New));
    }

    #[test]
    fn unknown_value_is_an_error_naming_it() {
        let err = UpdateMode::resolve(false, Some("force"), false).unwrap_err();
        assert_eq!(
            err.to_string(),
            "APOFLOW_UPDATE has an unknown value `force`; use one of: always, new, no"
        );
    }

    #[test]
    fn only_new_and_always_write() {
        assert!(UpdateMode::New.writes());
        assert!(UpdateMode::Always.writes());
        assert!(!UpdateMode::No.writes());
        assert!(!UpdateMode::Ci.writes());
    }
}
