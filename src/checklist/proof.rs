//! Proof rules: what a passing covering case must have shown before an item counts as passed.
//!
//! ```yaml
//! - id: MR-05
//!   proof:                                   # every entry, met by one passing covering case
//!     - { step: delivery, checks: [ack] }    # a passed `delivery` step that asserted `ack`
//! - id: HM-01
//!   proof:
//!     - { step: redirect }                   # a passed `redirect` step with any assertion
//!     - { step: notify, checks: [signature] }
//! - id: MR-01
//!   proof:
//!     - { step: received, api: pay, checks: [signature, count] }
//! - id: X
//!   proof: [ { assertion: any } ]            # the minimum: any passed assertion in the case
//! ```
//!
//! A step meets a [`Requirement`] when it **passed**, is of the named kind (and observes the
//! named API), holds at least one assertion, and every named check matches one of its
//! assertions ([`check_matches`]). A step without assertions proves nothing; so does `sleep`,
//! which a proof cannot name.

use std::fmt;
use std::sync::LazyLock;

use crate::apo::endpoint::Endpoint;

/// The step kinds a proof can name: every action a step can have but `sleep` and `use`, which
/// observe nothing.
pub static STEP_KINDS: LazyLock<Vec<&'static str>> = LazyLock::new(|| {
    crate::engine::result::StepKind::action_names()
        .filter(|a| !matches!(*a, "sleep" | "use"))
        .collect()
});

/// The APIs a `received` requirement can name (`api: pay`).
pub fn received_apis() -> impl Iterator<Item = &'static str> {
    Endpoint::ALL.into_iter().map(Endpoint::step_name)
}

/// One entry of an item's `proof:`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    /// The step kind asked for (`delivery`); `None` for `assertion: any` (any step).
    pub step: Option<String>,
    /// For `received`: the API the step observes.
    pub api: Option<String>,
    /// Assertion queries the step must have passed, each matched by [`check_matches`].
    pub checks: Vec<String>,
}

/// What a step did, as a requirement reads it.
#[derive(Debug, Clone, Copy)]
pub struct StepView<'a> {
    /// The step's action (`delivery`).
    pub kind: &'a str,
    /// The API of a `received` step.
    pub api: Option<&'a str>,
    /// Whether the step passed.
    pub passed: bool,
    /// Its assertions' queries, with whether each held.
    pub assertions: &'a [(&'a str, bool)],
}

impl Requirement {
    /// Whether `step` meets this requirement: it passed, is of the kind (and API) asked for,
    /// holds at least one assertion, and every check matches a passed assertion.
    pub fn met_by(&self, step: &StepView<'_>) -> bool {
        let held: Vec<&str> = step
            .assertions
            .iter()
            .filter(|(_, passed)| *passed)
            .map(|(query, _)| *query)
            .collect();
        step.passed
            && !held.is_empty()
            && self.step.as_deref().is_none_or(|kind| kind == step.kind)
            && self.api.as_deref().is_none_or(|api| Some(api) == step.api)
            && self
                .checks
                .iter()
                .all(|check| held.iter().any(|query| check_matches(check, query)))
    }
}

/// How a requirement reads in reports: "a passed `delivery` step asserting `ack`".
impl fmt::Display for Requirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.step {
            None => f.write_str("a passed assertion in any step")?,
            Some(kind) => write!(f, "a passed `{kind}` step")?,
        }
        if let Some(api) = &self.api {
            write!(f, " on `{api}`")?;
        }
        if self.checks.is_empty() {
            if self.step.is_some() {
                f.write_str(" with a passed assertion")?;
            }
            return Ok(());
        }
        let checks: Vec<String> = self.checks.iter().map(|c| format!("`{c}`")).collect();
        write!(f, " asserting {}", checks.join(", "))
    }
}

/// Whether the proof check `check` names the assertion query `query`: equal, or a prefix of it
/// followed by `.` or `[` (`$.result` matches `$.result.resultCode` and `$.result[0]`,
/// `return_page` matches `return_page.body`; `status` does not match `status_code`).
pub fn check_matches(check: &str, query: &str) -> bool {
    match query.strip_prefix(check) {
        Some("") => true,
        Some(rest) => !check.is_empty() && (rest.starts_with('.') || rest.starts_with('[')),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn requirement(step: Option<&str>, api: Option<&str>, checks: &[&str]) -> Requirement {
        Requirement {
            step: step.map(str::to_owned),
            api: api.map(str::to_owned),
            checks: checks.iter().map(|c| (*c).to_owned()).collect(),
        }
    }

    fn step<'a>(kind: &'a str, passed: bool, assertions: &'a [(&'a str, bool)]) -> StepView<'a> {
        StepView {
            kind,
            api: None,
            passed,
            assertions,
        }
    }

    #[test]
    fn checks_match_whole_queries_and_their_children() {
        assert!(check_matches("ack", "ack"));
        assert!(check_matches("$.result", "$.result.resultStatus"));
        assert!(check_matches("$.attempts", "$.attempts[*].acknowledged"));
        assert!(check_matches("return_page", "return_page.body"));
        assert!(!check_matches("status", "status_code"));
        assert!(!check_matches("$.result.resultCode", "$.result"));
        assert!(!check_matches("", "ack"));
        assert!(!check_matches("ack", ""));
    }

    #[test]
    fn a_step_proves_only_when_it_passed_with_assertions() {
        let ack = requirement(Some("delivery"), None, &["ack"]);
        assert!(ack.met_by(&step("delivery", true, &[("ack", true), ("status", true)])));
        assert!(!ack.met_by(&step("delivery", false, &[("ack", true)])));
        assert!(!ack.met_by(&step("delivery", true, &[("status", true)])));
        assert!(!ack.met_by(&step("notify", true, &[("ack", true)])));
        let any_redirect = requirement(Some("redirect"), None, &[]);
        assert!(!any_redirect.met_by(&step("redirect", true, &[])));
        assert!(any_redirect.met_by(&step("redirect", true, &[("return_page.status", true)])));
        let any = requirement(None, None, &[]);
        assert!(any.met_by(&step("http", true, &[("status", true)])));
        assert!(!any.met_by(&step("sleep", true, &[])));
    }

    #[test]
    fn a_received_requirement_can_name_its_api() {
        let pay = requirement(Some("received"), Some("pay"), &["signature"]);
        let assertions = [("signature", true)];
        let mut seen = step("received", true, &assertions);
        assert!(!pay.met_by(&seen));
        seen.api = Some("capture");
        assert!(!pay.met_by(&seen));
        seen.api = Some("pay");
        assert!(pay.met_by(&seen));
    }

    #[test]
    fn requirements_read_as_sentences() {
        assert_eq!(
            requirement(Some("received"), Some("pay"), &["signature", "count"]).to_string(),
            "a passed `received` step on `pay` asserting `signature`, `count`"
        );
        assert_eq!(
            requirement(Some("redirect"), None, &[]).to_string(),
            "a passed `redirect` step with a passed assertion"
        );
        assert_eq!(
            requirement(None, None, &[]).to_string(),
            "a passed assertion in any step"
        );
    }

    #[test]
    fn every_apo_call_is_a_step_kind() {
        for api in received_apis() {
            assert!(STEP_KINDS.contains(&api), "{api}");
        }
    }
}
