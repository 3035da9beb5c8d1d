//! Certification checklists: the items a run must cover, loaded from YAML with locations.
//!
//! ```yaml
//! # checklists/apo-card-hosted.yaml
//! name: APO card payments, hosted mode
//! items:
//!   - id: HM-01
//!     title: First-time card payment through the hosted page
//!     passing: pay answers U / PAYMENT_IN_PROCESS; the payment ends SUCCESS.
//!     proof:
//!       - { step: notify, checks: [signature, $.result.resultStatus] }
//! ```
//!
//! Flows name the items they cover with `covers: [HM-01, ...]`; an item's `proof` says what a
//! passing covering case must have asserted ([`Requirement`]). [`Checklist::load`] rejects
//! unknown keys, malformed or duplicate ids, empty fields and missing or malformed proofs; [`unknown_covers`] finds
//! `covers:` entries that name no item (a typo). Both answer with
//! [`Diagnostic`](crate::diag::Diagnostic)s, before anything runs (exit 2).
//! What a run made of the items is computed in [`crate::report::coverage`].

mod covers;
mod load;
mod proof;

pub use covers::{FlowCovers, unknown_covers};
pub(crate) use load::is_item_id;
pub use load::{Checklist, Item};
pub use proof::{Requirement, STEP_KINDS, StepView, check_matches, received_apis};
