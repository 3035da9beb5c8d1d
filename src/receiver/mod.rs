//! The runner's inbox for inbound notifications: an HTTP server on loopback that accepts a POST
//! on any path, keeps every notification with its signature verdict, and acknowledges each as
//! the waiting step asks. It knows no flows: waiters pass a matcher closure.
//!
//! ```text
//! APO / sandbox ─ POST {notify_url}/any/path ─> server ─ verify signature ─> Inbox (kept)
//!                                                  │ holds the answer until a waiter claims the
//!                                                  │ notification with its Ack (or claim_grace
//!                                                  │ passes: then the fixed success answer)
//!      <─ 200 fixed success | 500 fail | 200 wrong format | no answer ─┘
//! ```
//! A notification whose signature is not valid is never acknowledged: where the answer would
//! be the fixed success, it is `fail` ([`Ack::for_signature`]).

mod inbox;
mod server;

pub use inbox::{
    Ack, Inbox, InboxFull, MAX_INBOX_BYTES, MAX_NOTIFICATIONS, Notification, SignatureVerdict,
};
pub use server::{MAX_IN_FLIGHT, MAX_NOTIFICATION_BYTES, ReceiverConfig, ReceiverHandle, start};
