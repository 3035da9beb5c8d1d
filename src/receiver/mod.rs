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

mod inbox;
mod server;

use std::time::Duration;

use url::Url;

use crate::apo::keys::PublicKey;

pub use inbox::{Ack, Inbox, Notification, SignatureVerdict};
pub use server::{ReceiverHandle, start};

/// How the receiver behaves.
#[derive(Debug, Clone)]
pub struct ReceiverConfig {
    /// APO's public key (the target's), to verify notification signatures.
    pub apo_public_key: PublicKey,
    /// The URL APO should call when it cannot reach loopback (a tunnel to this receiver, for
    /// live targets); [`ReceiverHandle::url`] returns it instead of the local URL.
    pub public_url: Option<Url>,
    /// How long an unclaimed notification's answer is held for a waiter to choose the
    /// acknowledgement; after that it gets the fixed success answer.
    pub claim_grace: Duration,
    /// How long `Ack::NoAnswer` holds the connection open before giving up on it.
    pub no_answer_hold: Duration,
}

impl ReceiverConfig {
    /// The default hold for unclaimed notifications.
    pub const DEFAULT_CLAIM_GRACE: Duration = Duration::from_secs(5);
    /// The default hold for `Ack::NoAnswer`.
    pub const DEFAULT_NO_ANSWER_HOLD: Duration = Duration::from_secs(60);

    /// A config with the defaults and no public URL.
    pub fn new(apo_public_key: PublicKey) -> Self {
        ReceiverConfig {
            apo_public_key,
            public_url: None,
            claim_grace: Self::DEFAULT_CLAIM_GRACE,
            no_answer_hold: Self::DEFAULT_NO_ANSWER_HOLD,
        }
    }
}
