//! What the receiver keeps and how waiters find, claim and acknowledge notifications.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde_json::Value;
use tokio::sync::{Notify, oneshot};

use crate::apo::sign::VerifyError;

/// The fixed acknowledgement APO expects.
pub(crate) use crate::apo::result::NOTIFY_ACK_SUCCESS_BODY as SUCCESS_BODY;
/// The failure answer: a merchant saying it could not process the notification.
pub(crate) const FAIL_BODY: &str =
    r#"{"result":{"resultCode":"PROCESS_FAIL","resultStatus":"F","resultMessage":"fail"}}"#;
/// The wrong-format answer: HTTP 200 but not the fixed body.
pub(crate) const WRONG_FORMAT_BODY: &str = "success";

/// The most notifications one run keeps; more are refused (HTTP 503, so APO would resend).
pub const MAX_NOTIFICATIONS: usize = 10_000;
/// The most body bytes one run keeps, all notifications together.
pub const MAX_INBOX_BYTES: usize = 64 << 20;
/// The most recent notifications whose answer may still wait for a claim (the claim grace);
/// an older one still unclaimed gets the `success` answer at once. Each waiting answer holds
/// its sender's connection, so this stays well below the server's
/// [`crate::serve::MAX_CONNECTIONS`]: a suite of many fast flows whose capture results no step
/// waits for must not fill the connections the next notifications need.
pub const MAX_HELD: usize = 256;

/// Why a notification was not kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum InboxFull {
    /// [`MAX_NOTIFICATIONS`] are kept already.
    #[error("the receiver keeps {MAX_NOTIFICATIONS} notifications already")]
    Count,
    /// Keeping it would pass [`MAX_INBOX_BYTES`].
    #[error("the receiver keeps {MAX_INBOX_BYTES} bytes of notifications already")]
    Bytes,
}

/// How a notification is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Ack {
    /// HTTP 200 with the fixed success body: APO stops resending.
    Success,
    /// HTTP 500 with a `PROCESS_FAIL`/`F` result: APO resends.
    Fail,
    /// HTTP 200 with a body that is not the fixed format (`success` as plain text): APO resends.
    WrongFormat,
    /// No answer: the connection is held until the sender gives up (or the hold ends): APO
    /// resends.
    NoAnswer,
}

impl Ack {
    /// Every answer.
    pub const ALL: [Ack; 4] = [Ack::Success, Ack::Fail, Ack::WrongFormat, Ack::NoAnswer];

    /// The name used in flows and reports: `success`, `fail`, `wrong_format`, `none`.
    pub fn name(self) -> &'static str {
        match self {
            Ack::Success => "success",
            Ack::Fail => "fail",
            Ack::WrongFormat => "wrong_format",
            Ack::NoAnswer => "none",
        }
    }

    /// Parses a name written in a flow (`success`, `fail`, `wrong_format`, `none`).
    pub fn from_name(name: &str) -> Option<Ack> {
        Ack::ALL.into_iter().find(|a| a.name() == name)
    }

    /// The answer actually given to a notification with this `signature`: the receiver never
    /// acknowledges one whose signature is not valid (unsigned, another key, tampered, another
    /// path), so `success` becomes `fail` for it; other answers are given as asked.
    pub fn for_signature(self, signature: &SignatureVerdict) -> Ack {
        if self == Ack::Success && !signature.is_valid() {
            Ack::Fail
        } else {
            self
        }
    }
}

/// Whether a notification's signature verified with APO's public key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignatureVerdict {
    /// It verified over the path it arrived on.
    Valid,
    /// One of `client-id`, `request-time`, `signature` is absent.
    MissingHeader(&'static str),
    /// It did not verify.
    Invalid(VerifyError),
}

impl SignatureVerdict {
    /// Whether the signature is valid.
    pub fn is_valid(&self) -> bool {
        matches!(self, SignatureVerdict::Valid)
    }

    /// `valid`, or a sentence saying what is wrong.
    pub fn describe(&self) -> String {
        match self {
            SignatureVerdict::Valid => "valid".to_owned(),
            SignatureVerdict::MissingHeader(h) => format!("missing: no `{h}` header"),
            SignatureVerdict::Invalid(e) => format!("invalid: {e}"),
        }
    }
}

/// One notification as received.
#[derive(Debug, Clone)]
pub struct Notification {
    /// Arrival order, from 1.
    pub seq: u64,
    /// The path it was posted to, with the query if any.
    pub path: String,
    /// The request headers, names in lowercase.
    pub headers: Vec<(String, String)>,
    /// The raw body.
    pub body: Vec<u8>,
    /// The body as JSON, when it is JSON.
    pub json: Option<Value>,
    /// When it arrived.
    pub received_at: jiff::Timestamp,
    /// The signature verdict.
    pub signature: SignatureVerdict,
    /// How it was (or is being) answered; `None` while no answer has been chosen.
    pub ack: Option<Ack>,
    /// The `seq` of an earlier notification with the same `signature` and `request-time`: this
    /// one is a copy of it, replayed (APO signs each delivery anew).
    pub replay_of: Option<u64>,
}

impl Notification {
    /// The value of a header (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// `$.notifyType` (`PAYMENT_RESULT`, `CAPTURE_RESULT`, `REFUND_RESULT`, …).
    pub fn notify_type(&self) -> Option<&str> {
        self.json.as_ref()?.get("notifyType")?.as_str()
    }

    /// `$.paymentId`, when it is a string.
    pub fn payment_id(&self) -> Option<&str> {
        self.json.as_ref()?.get("paymentId")?.as_str()
    }
}

/// What a replay copies: the signature and the request time it signs.
fn replay_key(n: &Notification) -> Option<(&str, &str)> {
    Some((n.header("signature")?, n.header("request-time")?))
}

struct Entry {
    notification: Notification,
    claimed: bool,
    /// Present until the answer is chosen; the server's handler waits on the other end.
    answer: Option<oneshot::Sender<Ack>>,
}

#[derive(Default)]
struct State {
    entries: Vec<Entry>,
    /// The body bytes kept.
    bytes: usize,
    /// The seqs of the last [`MAX_HELD`] notifications, oldest first: only these may still
    /// have an answer waiting.
    recent: std::collections::VecDeque<u64>,
    /// The first notification of each signature and request time ([`replay_key`]): a later
    /// one with the same is a replay of it.
    signed: std::collections::HashMap<(String, String), u64>,
    /// The seqs of each payment's notifications (their `paymentId`), in arrival order: a
    /// step that names the payment looks at these, not at the whole run's.
    by_payment: std::collections::HashMap<String, Vec<u64>>,
}

impl State {
    /// The entries a step looks at, oldest first: the payment's when it names one (`$.paymentId`),
    /// else all.
    fn among<'a>(&'a self, payment: Option<&'a str>) -> Box<dyn Iterator<Item = usize> + 'a> {
        match payment {
            Some(p) => Box::new(
                self.by_payment
                    .get(p)
                    .into_iter()
                    .flatten()
                    .map(|&seq| seq as usize - 1),
            ),
            None => Box::new(0..self.entries.len()),
        }
    }
}

#[derive(Default)]
struct Shared {
    state: Mutex<State>,
    arrived: Notify,
}

/// Gives an unanswered notification `ack` (`fail` instead of `success` when its signature is
/// not valid: [`Ack::for_signature`]) and records it; `None` when it was answered already.
fn answer_now(entry: &mut Entry, ack: Ack) -> Option<Ack> {
    let tx = entry.answer.take()?;
    let ack = ack.for_signature(&entry.notification.signature);
    entry.notification.ack = Some(ack);
    // The handler may have gone (the sender disconnected); the answer is still recorded.
    let _ = tx.send(ack);
    Some(ack)
}

/// The notifications received so far; cheap to clone (shared inside).
#[derive(Clone, Default)]
pub struct Inbox {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Inbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inbox")
            .field("received", &self.lock().entries.len())
            .finish()
    }
}

impl Inbox {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the list half-updated: recover it.
        self.shared.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Keeps a new notification (flagging a replay); returns where its answer will be sent,
    /// or why it was not kept.
    pub(super) fn push(
        &self,
        mut notification: Notification,
    ) -> Result<(u64, oneshot::Receiver<Ack>), InboxFull> {
        let (tx, rx) = oneshot::channel();
        let seq = {
            let mut state = self.lock();
            if state.entries.len() >= MAX_NOTIFICATIONS {
                return Err(InboxFull::Count);
            }
            if state.bytes + notification.body.len() > MAX_INBOX_BYTES {
                return Err(InboxFull::Bytes);
            }
            let seq = state.entries.len() as u64 + 1;
            notification.seq = seq;
            let key = replay_key(&notification).map(|(s, t)| (s.to_owned(), t.to_owned()));
            notification.replay_of = key.as_ref().and_then(|k| state.signed.get(k).copied());
            if let Some(key) = key {
                state.signed.entry(key).or_insert(seq);
            }
            if let Some(payment) = notification.payment_id() {
                state
                    .by_payment
                    .entry(payment.to_owned())
                    .or_default()
                    .push(seq);
            }
            if let Some(of) = notification.replay_of {
                tracing::warn!(
                    "notification #{seq} repeats the signature and request-time of #{of}: a replayed delivery"
                );
            }
            state.bytes += notification.body.len();
            state.entries.push(Entry {
                notification,
                claimed: false,
                answer: Some(tx),
            });
            state.recent.push_back(seq);
            if state.recent.len() > MAX_HELD
                && let Some(oldest) = state.recent.pop_front()
            {
                answer_now(&mut state.entries[oldest as usize - 1], Ack::Success);
            }
            seq
        };
        self.shared.arrived.notify_waiters();
        Ok((seq, rx))
    }

    /// Chooses the answer of a notification nobody claimed in time (the server's fallback);
    /// returns the answer actually given (`fail` instead of `success` for a notification whose
    /// signature is not valid: [`Ack::for_signature`]).
    pub(super) fn answer_unclaimed(&self, seq: u64, ack: Ack) -> Ack {
        let mut state = self.lock();
        let Some(entry) = state.entries.get_mut(seq as usize - 1) else {
            return ack;
        };
        answer_now(entry, ack).unwrap_or_else(|| entry.notification.ack.unwrap_or(ack))
    }

    /// Waits up to `within` for a notification the matcher accepts and that no waiter has
    /// claimed yet (including ones that arrived earlier), claims it and acknowledges it with
    /// the fixed success answer if it is still unanswered.
    pub async fn wait(
        &self,
        matcher: impl Fn(&Notification) -> bool,
        within: Duration,
    ) -> Option<Notification> {
        self.claim(matcher, Ack::Success, within).await
    }

    /// Like [`Inbox::wait`], answering with `ack`. The returned notification's `ack` says the
    /// answer actually given: an earlier one if it was already answered (after the receiver's
    /// claim grace), which the caller should report.
    pub async fn claim(
        &self,
        matcher: impl Fn(&Notification) -> bool,
        ack: Ack,
        within: Duration,
    ) -> Option<Notification> {
        self.claim_of(None, matcher, ack, within).await
    }

    /// [`Inbox::claim`] among one payment's notifications when `payment` names it (those
    /// whose `paymentId` it is; the matcher still decides), else among all.
    pub async fn claim_of(
        &self,
        payment: Option<&str>,
        matcher: impl Fn(&Notification) -> bool,
        ack: Ack,
        within: Duration,
    ) -> Option<Notification> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let arrived = self.shared.arrived.notified();
            tokio::pin!(arrived);
            // Register before looking, so an arrival between the look and the wait is seen.
            arrived.as_mut().enable();
            if let Some(found) = self.try_claim(payment, &matcher, ack) {
                return Some(found);
            }
            if tokio::time::timeout_at(deadline, arrived).await.is_err() {
                return None;
            }
        }
    }

    fn try_claim(
        &self,
        payment: Option<&str>,
        matcher: &impl Fn(&Notification) -> bool,
        ack: Ack,
    ) -> Option<Notification> {
        let mut state = self.lock();
        let at = state.among(payment).find(|&i| {
            let e = &state.entries[i];
            !e.claimed && matcher(&e.notification)
        })?;
        let entry = &mut state.entries[at];
        entry.claimed = true;
        answer_now(entry, ack);
        Some(entry.notification.clone())
    }

    /// Every notification received so far, in arrival order.
    pub fn all(&self) -> Vec<Notification> {
        self.lock()
            .entries
            .iter()
            .map(|e| e.notification.clone())
            .collect()
    }

    /// How many notifications received so far the matcher accepts (claimed or not): e.g. how
    /// often a notification was resent.
    pub fn count(&self, matcher: impl Fn(&Notification) -> bool) -> usize {
        self.count_of(None, matcher)
    }

    /// [`Inbox::count`] among one payment's notifications when `payment` names it, else among
    /// all.
    pub fn count_of(
        &self,
        payment: Option<&str>,
        matcher: impl Fn(&Notification) -> bool,
    ) -> usize {
        let state = self.lock();
        state
            .among(payment)
            .filter(|&i| matcher(&state.entries[i].notification))
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn note(kind: &str) -> Notification {
        Notification {
            seq: 0,
            path: "/n".into(),
            headers: Vec::new(),
            body: Vec::new(),
            json: Some(serde_json::json!({"notifyType": kind})),
            received_at: jiff::Timestamp::UNIX_EPOCH,
            signature: SignatureVerdict::Valid,
            ack: None,
            replay_of: None,
        }
    }

    #[test]
    fn a_copy_of_a_signed_delivery_is_flagged_as_a_replay() {
        let inbox = Inbox::default();
        let signed = |sig: &str, time: &str| Notification {
            headers: vec![
                ("signature".into(), sig.into()),
                ("request-time".into(), time.into()),
            ],
            ..note("PAYMENT_RESULT")
        };
        inbox.push(signed("s1", "t1")).unwrap();
        // APO's own resend is signed anew: not a replay.
        inbox.push(signed("s2", "t2")).unwrap();
        inbox.push(signed("s1", "t1")).unwrap();
        inbox.push(note("PAYMENT_RESULT")).unwrap();
        let flags: Vec<_> = inbox.all().iter().map(|n| n.replay_of).collect();
        assert_eq!(flags, [None, None, Some(1), None]);
    }

    #[test]
    fn the_inbox_is_bounded_in_count_and_bytes() {
        let inbox = Inbox::default();
        let big = || Notification {
            body: vec![b'x'; super::super::MAX_NOTIFICATION_BYTES],
            ..note("PAYMENT_RESULT")
        };
        let fits = MAX_INBOX_BYTES / super::super::MAX_NOTIFICATION_BYTES;
        for _ in 0..fits {
            inbox.push(big()).unwrap();
        }
        assert_eq!(inbox.push(big()).unwrap_err(), InboxFull::Bytes);
        let inbox = Inbox::default();
        for _ in 0..MAX_NOTIFICATIONS {
            inbox.push(note("PAYMENT_RESULT")).unwrap();
        }
        assert_eq!(
            inbox.push(note("PAYMENT_RESULT")).unwrap_err(),
            InboxFull::Count
        );
    }

    #[tokio::test]
    async fn a_step_that_names_the_payment_looks_only_at_its_notifications() {
        let inbox = Inbox::default();
        let of = |payment: &str| Notification {
            json: Some(serde_json::json!({"notifyType": "PAYMENT_RESULT", "paymentId": payment})),
            ..note("PAYMENT_RESULT")
        };
        inbox.push(of("P1")).unwrap();
        inbox.push(of("P2")).unwrap();
        inbox.push(note("CAPTURE_RESULT")).unwrap();
        let got = inbox
            .claim_of(Some("P2"), |_| true, Ack::Success, Duration::ZERO)
            .await
            .unwrap();
        assert_eq!(got.seq, 2);
        assert_eq!(inbox.count_of(Some("P1"), |_| true), 1);
        assert_eq!(inbox.count_of(Some("P9"), |_| true), 0);
        assert_eq!(inbox.count_of(None, |_| true), 3);
        assert!(
            inbox
                .claim_of(Some("P2"), |_| true, Ack::Success, Duration::ZERO)
                .await
                .is_none()
        );
    }

    #[tokio::test]
    async fn only_the_latest_answers_wait_for_a_claim() {
        let inbox = Inbox::default();
        let mut answers: Vec<_> = (0..=MAX_HELD)
            .map(|_| inbox.push(note("CAPTURE_RESULT")).unwrap().1)
            .collect();
        // One more than may wait: the oldest got the success answer, the others still wait.
        assert_eq!(answers[0].try_recv(), Ok(Ack::Success));
        assert!(answers[1].try_recv().is_err());
        assert!(answers[MAX_HELD].try_recv().is_err());
        let first = inbox
            .claim(|n| n.seq == 1, Ack::Fail, Duration::ZERO)
            .await
            .unwrap();
        assert_eq!(first.ack, Some(Ack::Success), "answered before the claim");
        let second = inbox
            .claim(|n| n.seq == 2, Ack::Fail, Duration::ZERO)
            .await
            .unwrap();
        assert_eq!(second.ack, Some(Ack::Fail));
        assert_eq!(answers[1].try_recv(), Ok(Ack::Fail));
    }

    #[tokio::test]
    async fn a_waiter_claims_each_notification_once_and_chooses_its_answer() {
        let inbox = Inbox::default();
        let (_, mut first) = inbox.push(note("PAYMENT_RESULT")).unwrap();
        let (_, mut second) = inbox.push(note("PAYMENT_RESULT")).unwrap();
        let is_payment = |n: &Notification| n.notify_type() == Some("PAYMENT_RESULT");
        let got = inbox
            .claim(is_payment, Ack::Fail, Duration::from_millis(10))
            .await
            .unwrap();
        assert_eq!((got.seq, got.ack), (1, Some(Ack::Fail)));
        assert_eq!(first.try_recv(), Ok(Ack::Fail));
        let got = inbox.wait(is_payment, Duration::ZERO).await.unwrap();
        assert_eq!((got.seq, got.ack), (2, Some(Ack::Success)));
        assert_eq!(second.try_recv(), Ok(Ack::Success));
        assert!(
            inbox
                .wait(is_payment, Duration::from_millis(5))
                .await
                .is_none()
        );
        assert_eq!(inbox.count(is_payment), 2);
        assert_eq!(inbox.all().len(), 2);
    }

    #[test]
    fn ack_names_round_trip() {
        for ack in Ack::ALL {
            assert_eq!(Ack::from_name(ack.name()), Some(ack));
        }
        assert_eq!(Ack::from_name("ok"), None);
    }

    #[tokio::test]
    async fn a_waiter_sees_a_later_arrival() {
        let inbox = Inbox::default();
        let later = inbox.clone();
        let waiter = tokio::spawn(async move {
            later
                .wait(
                    |n| n.notify_type() == Some("REFUND_RESULT"),
                    Duration::from_secs(5),
                )
                .await
        });
        tokio::task::yield_now().await;
        inbox.push(note("CAPTURE_RESULT")).unwrap();
        inbox.push(note("REFUND_RESULT")).unwrap();
        let got = waiter.await.unwrap().unwrap();
        assert_eq!(got.seq, 2);
    }

    #[tokio::test]
    async fn an_answer_given_by_the_fallback_is_reported_to_a_late_waiter() {
        let inbox = Inbox::default();
        let (seq, _rx) = inbox.push(note("PAYMENT_RESULT")).unwrap();
        assert_eq!(inbox.answer_unclaimed(seq, Ack::Success), Ack::Success);
        let got = inbox
            .claim(|_| true, Ack::Fail, Duration::ZERO)
            .await
            .unwrap();
        assert_eq!(
            got.ack,
            Some(Ack::Success),
            "the earlier answer is reported"
        );
    }
}
