//! Retries: how many times a failed case runs again from its first step, and which cases may
//! not be retried at all.
//!
//! A flow's `retries:` replaces `--retries` for that flow. Against a live target (anything
//! but the embedded sandbox), running a case again repeats what it did there: a second
//! payment, capture, refund or cancel, a second purchase on the hosted page, a second POST to
//! a merchant's server. So a case with such a step is not retried on a live target unless its
//! flow says `retry_live: true`. Only GET/HEAD/OPTIONS `http` calls, inquiries, waits for
//! notifications or journal entries, and `sleep` are taken as safe to repeat.

use crate::apo::endpoint::Endpoint;
use crate::flow::action::ActionKind;
use crate::flow::plan::{Case, PlannedStep};

/// How a case may be retried in this run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// How many times a failed attempt runs again (0: never).
    pub retries: u32,
    /// Retries were asked for but refused: the case changes state on a live target and its
    /// flow does not say `retry_live: true`.
    pub refused: bool,
}

/// The retries `case` gets: its flow's `retries:`, else `default` (`--retries`); none when it
/// changes state on a live target (`live`) without `retry_live: true`.
pub fn policy(case: &Case, default: u32, live: bool) -> RetryPolicy {
    let asked = case.retries.unwrap_or(default);
    let refused = asked > 0 && live && !case.retry_live && changes_state(&case.steps);
    RetryPolicy {
        retries: if refused { 0 } else { asked },
        refused,
    }
}

/// Whether a step (partials included) does something that running it twice repeats on the
/// target: an APO call other than an inquiry, the buyer's redirect, a notification sent to the
/// merchant, a sandbox control call, or an `http` call whose method is not GET/HEAD/OPTIONS.
pub fn changes_state(steps: &[PlannedStep]) -> bool {
    steps.iter().any(|planned| {
        let step = &planned.step;
        let apo = matches!(planned.kind, ActionKind::Apo(e)
            if !matches!(e, Endpoint::InquiryPayment | Endpoint::InquiryRefund));
        let http = step.http.as_ref().is_some_and(|h| {
            let method = h.value.method.as_ref().map_or_else(
                || super::step::default_method_name(&h.value),
                |m| m.value.clone(),
            );
            !matches!(method.as_str(), "GET" | "HEAD" | "OPTIONS")
        });
        apo || http
            || step.redirect.is_some()
            || step.notify_merchant.is_some()
            || step.sandbox.is_some()
            || planned
                .partial
                .as_ref()
                .is_some_and(|p| changes_state(&p.steps))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::{LoadOptions, load};

    fn case(yaml: &str) -> Case {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.yaml");
        std::fs::write(&path, yaml).unwrap();
        let mut plan = load(&[path], &LoadOptions::default()).unwrap();
        plan.cases.remove(0)
    }

    #[test]
    fn state_changing_cases_are_not_retried_on_a_live_target_unless_the_flow_allows_it() {
        let pay = "name: p\nsteps:\n  - pay: { body: { a: 1 } }\n";
        let get = "name: g\nretries: 2\nsteps:\n  - http: { url: \"http://x/\" }\n  - inquiry: { body: { a: 1 } }\n";
        let post = "name: h\nsteps:\n  - http: { url: \"http://x/\", method: POST }\n";
        let allowed = "name: p\nretry_live: true\nsteps:\n  - pay: { body: { a: 1 } }\n";
        assert_eq!(
            policy(&case(pay), 3, true),
            RetryPolicy {
                retries: 0,
                refused: true
            }
        );
        assert_eq!(
            policy(&case(pay), 3, false),
            RetryPolicy {
                retries: 3,
                refused: false
            }
        );
        assert_eq!(
            policy(&case(pay), 0, true),
            RetryPolicy {
                retries: 0,
                refused: false
            }
        );
        // The flow's own `retries:` replaces `--retries`.
        assert_eq!(
            policy(&case(get), 5, true),
            RetryPolicy {
                retries: 2,
                refused: false
            }
        );
        assert!(policy(&case(post), 1, true).refused);
        assert_eq!(
            policy(&case(allowed), 1, true),
            RetryPolicy {
                retries: 1,
                refused: false
            }
        );
    }
}
