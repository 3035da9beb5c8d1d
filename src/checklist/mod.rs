//! Certification checklists: the items a run must cover, loaded from YAML with locations.
//!
//! ```yaml
//! # checklists/apo-card-hosted.yaml
//! name: APO card payments, hosted mode
//! items:
//!   - id: HM-01
//!     title: First-time card payment through the hosted page
//!     passing: pay answers U / PAYMENT_IN_PROCESS; the payment ends SUCCESS.
//! ```
//!
//! Flows name the items they cover with `covers: [HM-01, ...]`. [`Checklist::load`] rejects
//! unknown keys, malformed or duplicate ids, and empty fields, each with `file:line:col`;
//! [`unknown_covers`] finds `covers:` entries that name no item (a typo), before anything runs.
//! What a run made of the items is computed in [`crate::report::coverage`].

mod covers;
mod load;

pub use covers::{FlowCovers, UnknownCover, unknown_covers};
pub(crate) use load::is_item_id;
pub use load::{Checklist, ChecklistError, Item};
