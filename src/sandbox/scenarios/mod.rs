//! Error scenarios (`/_sandbox/scenarios`): answers forced on the merchant's own API calls, so
//! a test can check how the merchant copes with unknown results, time-outs and lost
//! connections (APO's Dashboard "error scenario simulation", apo-api.md §8.2; "faults aimed
//! at the merchant", merchant-testing.md capability 7).
//!
//! ```text
//! POST /_sandbox/scenarios {"api": "pay", "clientId": "C", "times": 1, "result": "UNKNOWN_EXCEPTION"}
//!        └─► book.rs: Scenarios (validated, at most MAX_SCENARIOS, oldest first)
//! api.rs: verified call ─► Scenarios::take: the oldest matching scenario (times − 1) ─► Forced
//!         Forced::run(real handling) ─► answer, signed ─► journal ("forced": true)
//!         Forced::deliver: wait delayMs, then the answer, or close the connection (drop)
//! ```
//! What a forced code does to the sandbox's state is decided per code in `forced.rs`
//! ([`forced::Effect`]): UNKNOWN_EXCEPTION loses only the answer (the call really happens),
//! the in-process codes and a pay SUCCESS happen for real and change the answer, every other
//! code refuses the call before anything happens.

mod book;
mod control;
mod forced;

pub use book::Scenarios;
pub(super) use control::{add, clear, list, remove};
pub use forced::Forced;
