//! What a step does: the one list of step kinds. Every other place that names step kinds (the
//! engine's dispatch, the checks, checklist proof rules, report data) derives from
//! [`ActionKind`], so a new kind is one variant here and the compiler finds the rest.

use serde_saphyr::Spanned;

use crate::apo::Endpoint;

use super::model::Step;

/// A step's action, as flows name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ActionKind {
    /// `http`: any HTTP call.
    Http,
    /// `pay`, `inquiry`, `capture`, `cancel`, `refund`, `inquiry_refund`: a signed APO call.
    Apo(Endpoint),
    /// `redirect`: the buyer on the hosted page.
    Redirect,
    /// `notify`: wait for a notification at the runner's receiver.
    Notify,
    /// `sandbox`: control the embedded sandbox.
    Sandbox,
    /// `received`: the APO calls the merchant made, from the sandbox's journal.
    Received,
    /// `delivery`: the sandbox's delivery of a notification to the merchant.
    Delivery,
    /// `notify_merchant`: the sandbox sends the merchant's webhook a notification.
    NotifyMerchant,
    /// `sleep`: wait.
    Sleep,
    /// `use`: a partial flow.
    Use,
}

impl ActionKind {
    /// Every kind, in the order messages list them: `http`, `sleep`, `use`, the APO calls in
    /// the order of [`Endpoint::ALL`], then the others.
    pub const ALL: [ActionKind; 15] = [
        ActionKind::Http,
        ActionKind::Sleep,
        ActionKind::Use,
        ActionKind::Apo(Endpoint::Pay),
        ActionKind::Apo(Endpoint::InquiryPayment),
        ActionKind::Apo(Endpoint::Capture),
        ActionKind::Apo(Endpoint::Cancel),
        ActionKind::Apo(Endpoint::Refund),
        ActionKind::Apo(Endpoint::InquiryRefund),
        ActionKind::Redirect,
        ActionKind::Notify,
        ActionKind::Sandbox,
        ActionKind::Received,
        ActionKind::Delivery,
        ActionKind::NotifyMerchant,
    ];

    /// The kind's key in flows: `http`, `pay`, `inquiry_refund`, `notify_merchant`, `use`, …
    pub fn name(self) -> &'static str {
        match self {
            ActionKind::Http => "http",
            ActionKind::Apo(endpoint) => endpoint.step_name(),
            ActionKind::Redirect => "redirect",
            ActionKind::Notify => "notify",
            ActionKind::Sandbox => "sandbox",
            ActionKind::Received => "received",
            ActionKind::Delivery => "delivery",
            ActionKind::NotifyMerchant => "notify_merchant",
            ActionKind::Sleep => "sleep",
            ActionKind::Use => "use",
        }
    }

    /// The kind named `name` in flows, if there is one.
    pub fn named(name: &str) -> Option<ActionKind> {
        ActionKind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// Every action a step has, with where its key's value is written (1-based line and
    /// column), in the order of [`ActionKind::ALL`]: exactly one in a checked flow.
    pub fn all_of(step: &Step) -> impl Iterator<Item = (ActionKind, (u64, u64))> + '_ {
        ActionKind::ALL
            .into_iter()
            .filter_map(|k| k.written_in(step).map(|at| (k, at)))
    }

    /// The step's action (the first of [`ActionKind::all_of`]); `None` for a step without one
    /// (refused by the checks).
    pub fn of(step: &Step) -> Option<ActionKind> {
        ActionKind::all_of(step).next().map(|(kind, _)| kind)
    }

    /// Where `step` writes this action, if it has it.
    fn written_in(self, step: &Step) -> Option<(u64, u64)> {
        fn at<T>(s: &Spanned<T>) -> (u64, u64) {
            (s.referenced.line(), s.referenced.column())
        }
        match self {
            ActionKind::Http => step.http.as_deref().map(at),
            ActionKind::Apo(endpoint) => step.apo_call(endpoint).map(at),
            ActionKind::Redirect => step.redirect.as_deref().map(at),
            ActionKind::Notify => step.notify.as_deref().map(at),
            ActionKind::Sandbox => step.sandbox.as_deref().map(at),
            ActionKind::Received => step.received.as_deref().map(at),
            ActionKind::Delivery => step.delivery.as_deref().map(at),
            ActionKind::NotifyMerchant => step.notify_merchant.as_deref().map(at),
            ActionKind::Sleep => step.sleep.as_ref().map(at),
            ActionKind::Use => step.use_flow.as_ref().map(at),
        }
    }

    /// The bare-name queries (`ack`, `landed_on`) the action provides to `expect:`, `until:`
    /// and `save:`; `status`, `headers` and JSONPaths are for every action.
    pub fn provides(self) -> &'static [&'static str] {
        match self {
            ActionKind::Apo(_) => &["signature"],
            ActionKind::Redirect => &[
                "landed_on",
                "messages",
                "pages",
                "return_page",
                "return_page.status",
                "return_page.body",
                "return_page.url",
            ],
            ActionKind::Notify => &["signature", "ack", "count", "source", "tries", "replayed"],
            ActionKind::Received => &["count", "signature"],
            ActionKind::Delivery | ActionKind::NotifyMerchant => {
                &["ack", "latency_ms", "attempts", "acknowledged"]
            }
            ActionKind::Http | ActionKind::Sandbox | ActionKind::Sleep | ActionKind::Use => &[],
        }
    }

    /// Whether the action talks to APO: to the target (on the embedded sandbox, its hosted
    /// page, journal, deliveries or control API) or waits for what it sends the runner's
    /// receiver. `http`, `sleep` and `use` itself do not (a partial's steps may).
    pub fn talks_to_apo(self) -> bool {
        match self {
            ActionKind::Apo(_)
            | ActionKind::Redirect
            | ActionKind::Notify
            | ActionKind::Sandbox
            | ActionKind::Received
            | ActionKind::Delivery
            | ActionKind::NotifyMerchant => true,
            ActionKind::Http | ActionKind::Sleep | ActionKind::Use => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_found_again() {
        let mut names: Vec<&str> = ActionKind::ALL.iter().map(|k| k.name()).collect();
        for kind in ActionKind::ALL {
            assert_eq!(ActionKind::named(kind.name()), Some(kind));
        }
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ActionKind::ALL.len());
        assert_eq!(
            ActionKind::named("inquiry"),
            Some(ActionKind::Apo(Endpoint::InquiryPayment))
        );
        assert_eq!(ActionKind::named("bogus"), None);
    }

    #[test]
    fn a_step_has_the_kinds_it_is_written_with() {
        let flow = super::super::model::parse(
            "steps:\n  - http: { url: \"http://x\" }\n  - inquiry_refund: {}\n  - use: _p.yaml\n  - sleep: 1ms\n  - {}\n",
        )
        .unwrap();
        let kinds: Vec<Option<ActionKind>> = flow
            .steps
            .iter()
            .map(|s| ActionKind::of(&s.value))
            .collect();
        assert_eq!(
            kinds,
            [
                Some(ActionKind::Http),
                Some(ActionKind::Apo(Endpoint::InquiryRefund)),
                Some(ActionKind::Use),
                Some(ActionKind::Sleep),
                None
            ]
        );
        assert!(!ActionKind::Http.talks_to_apo());
        assert!(ActionKind::Apo(Endpoint::Pay).talks_to_apo());
        assert!(ActionKind::Notify.talks_to_apo());
    }
}
