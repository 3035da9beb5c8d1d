//! Signed notifications with APO's retry schedule, on the virtual clock, with fault injection,
//! and the delivery journal (`GET /_sandbox/deliveries`): every attempt with what the merchant
//! answered.
//!
//! ```text
//! state ─Notice─► enqueue ─► Pending(next_due) ─ due on the virtual clock ─► send (signed POST)
//!                               ▲                                              │
//!                               └── not acknowledged: next_due += SCHEDULE[n] ─┤ HTTP 200 + SUCCESS body
//!                                   (8 attempts in all, then Failed)           ▼
//!                                                                          Delivered
//! POST /_sandbox/deliveries/{id}/resend ─► the same bytes, signed afresh, now (an extra attempt)
//! POST /_sandbox/notifications ─► a one-off delivery (a replay or a given body, maybe forged),
//!                                 sent now, once, never retried
//! ```
//! A delivery is acknowledged only by HTTP 200 with a JSON body whose `result.resultCode` is
//! `SUCCESS` and `result.resultStatus` is `S` (apo-api.md §7.3). Nothing is lost while the
//! receiver is down: the delivery stays pending and is retried. A background task wakes every
//! 100 ms, and at once when the clock is advanced or a notice is queued; it looks for payments'
//! time-driven transitions at most every [`SWEEP_EVERY`], or at once after the clock moved.
//!
//! Limits: at most [`MAX_DELIVERIES`] deliveries are kept (the oldest finished ones are evicted
//! first, then the oldest of any state; evictions are counted in `dropped`); each attempt keeps
//! at most [`MAX_ANSWER`] bytes of the merchant's answer and reads at most [`MAX_READ`]; a
//! delivery keeps its last [`MAX_RESENDS_KEPT`] manual resends.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};
use tokio::sync::Notify;

use super::clock::iso;
use super::faults::{FaultBook, Faults, Scope};
use super::journal::{Sequence, parse_after, read_query};
use super::payment::Notice;
use super::persist::{Known, Meta, StateFile, Table, known};
use super::state::State;
use crate::apo::keys::PrivateKey;
use crate::apo::notify::{Forge, is_acknowledged};

/// Wait before each send: 0, 2 min, 10 min, 10 min, 1 h, 2 h, 6 h, 15 h (apo-api.md §7.4).
pub const SCHEDULE: [SignedDuration; 8] = [
    SignedDuration::ZERO,
    SignedDuration::from_mins(2),
    SignedDuration::from_mins(10),
    SignedDuration::from_mins(10),
    SignedDuration::from_hours(1),
    SignedDuration::from_hours(2),
    SignedDuration::from_hours(6),
    SignedDuration::from_hours(15),
];

/// How long one send may take. It exceeds the receiver's claim grace (how long it holds an
/// answer while a flow step may claim the notification), so a held answer is still read.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// How many deliveries are kept. Beyond it the oldest finished (delivered or failed) delivery
/// is evicted, or, when none is finished, the oldest one (which is then never sent again).
pub const MAX_DELIVERIES: usize = 10_000;

/// How often the delivery loop looks for time-driven transitions (expiries, slow
/// authorizations, settling captures and refunds) when the clock has not been advanced.
pub const SWEEP_EVERY: Duration = Duration::from_millis(100);

/// How many manual resends (`POST /_sandbox/deliveries/{id}/resend`) a delivery keeps; beyond
/// it the oldest resend is forgotten (the attempts of the retry schedule are at most 16).
pub const MAX_RESENDS_KEPT: usize = 50;

/// How much of the merchant's answer an attempt keeps (`answer`, cut at a character boundary).
pub const MAX_ANSWER: usize = 4 * 1024;

/// How much of the merchant's answer is read to decide whether it acknowledges; the rest is
/// not read (no SUCCESS acknowledgement is that long).
pub const MAX_READ: usize = 64 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Pending,
    Held,
    InFlight,
    Delivered,
    Failed,
}

impl Stage {
    fn name(self) -> &'static str {
        match self {
            Stage::Pending => "pending",
            Stage::Held => "held",
            Stage::InFlight => "in_flight",
            Stage::Delivered => "delivered",
            Stage::Failed => "failed",
        }
    }

    fn is_done(self) -> bool {
        matches!(self, Stage::Delivered | Stage::Failed)
    }
}

/// Why an attempt had no answer (see [`Attempt`]'s `error`).
const ERRORS: [&str; 6] = [
    "timeout",
    "connect",
    "request",
    "invalid_url",
    "dropped",
    "refused",
];

fn attempt_error<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<&'static str>, D::Error> {
    let name = <Option<Cow<'de, str>> as serde::Deserialize>::deserialize(d)?;
    name.map(|n| {
        known(&n, &ERRORS)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown attempt error {n:?}")))
    })
    .transpose()
}

/// One send of a delivery and what came back.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct Attempt {
    at: Timestamp,
    outcome: String,
    acknowledged: bool,
    /// The HTTP status, when the merchant answered.
    status: Option<u16>,
    /// The answer's body (lossy UTF-8, at most [`MAX_ANSWER`] bytes), when it answered.
    answer: Option<String>,
    /// Real milliseconds from sending to the end of the answer.
    latency_ms: u64,
    /// Why there was no answer: `timeout`, `connect`, `request`, `invalid_url`, `dropped`,
    /// `refused` ([`ERRORS`]).
    #[serde(deserialize_with = "attempt_error")]
    error: Option<Known>,
    /// Sent by `POST /_sandbox/deliveries/{id}/resend`, outside the retry schedule.
    resend: bool,
}

impl Attempt {
    fn failed(at: Timestamp, error: &'static str, outcome: String) -> Self {
        Attempt {
            at,
            outcome,
            acknowledged: false,
            status: None,
            answer: None,
            latency_ms: 0,
            error: Some(error),
            resend: false,
        }
    }

    fn to_json(&self) -> Value {
        json!({
            "at": iso(self.at),
            "status": self.status,
            "answer": self.answer,
            "latencyMs": self.latency_ms,
            "acknowledged": self.acknowledged,
            "outcome": self.outcome,
            "error": self.error,
            "resend": self.resend,
        })
    }
}

#[derive(Debug)]
struct Delivery {
    id: u64,
    seq: u64,
    /// Its type, URL and client. The body is kept once, as the bytes sent (`body`), and parsed
    /// again when shown: `notice.body` is null.
    notice: Notice,
    body: Arc<Vec<u8>>,
    /// The body's `paymentId` and `paymentRequestId`, for filters and per-payment order.
    payment_id: Option<String>,
    payment_request_id: Option<String>,
    stage: Stage,
    /// The scope of the faults that held it for reordering, while [`Stage::Held`].
    held_under: Option<Scope>,
    next_due: Timestamp,
    /// Time its payment was moved on by while an attempt was in flight (`advance_clock` with
    /// `of:`): the resend that attempt schedules comes that much sooner.
    aged: SignedDuration,
    attempts: Vec<Attempt>,
    /// Sent by `POST /_sandbox/notifications` (how it was forged), not by APO's schedule.
    forge: Option<Forge>,
    /// The delivery it replays, when it is a replay.
    replay_of: Option<u64>,
}

impl Delivery {
    /// A delivery of `notice` as the bytes `body` (its body serialized, or a one-off's bytes),
    /// in `stage`, first due at `next_due`.
    fn new(
        (id, seq): (u64, u64),
        mut notice: Notice,
        body: Arc<Vec<u8>>,
        stage: Stage,
        next_due: Timestamp,
    ) -> Self {
        let parsed: Value = match notice.body.take() {
            Value::Null => serde_json::from_slice(&body).unwrap_or(Value::Null),
            given => given,
        };
        let field = |name: &str| parsed.get(name).and_then(Value::as_str).map(str::to_owned);
        Delivery {
            id,
            seq,
            payment_id: field("paymentId"),
            payment_request_id: field("paymentRequestId"),
            notice,
            body,
            stage,
            held_under: None,
            next_due,
            aged: SignedDuration::ZERO,
            attempts: Vec::new(),
            forge: None,
            replay_of: None,
        }
    }

    fn payment_id(&self) -> Option<&str> {
        self.payment_id.as_deref()
    }

    /// The notice with its body parsed back from the bytes.
    fn notice(&self) -> Notice {
        Notice {
            body: serde_json::from_slice(&self.body).unwrap_or(Value::Null),
            ..self.notice.clone()
        }
    }

    /// Attempts made by the retry schedule (resends do not count).
    fn scheduled_attempts(&self) -> usize {
        self.attempts.iter().filter(|a| !a.resend).count()
    }

    fn matches(&self, f: &DeliveryFilter) -> bool {
        f.after.is_none_or(|a| self.seq > a)
            && f.notify_type
                .as_deref()
                .is_none_or(|t| t == self.notice.notify_type)
            && f.payment_id
                .as_deref()
                .is_none_or(|p| Some(p) == self.payment_id())
            && f.client_id
                .as_deref()
                .is_none_or(|c| c == self.notice.client_id)
    }

    fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "seq": self.seq,
            "notifyType": self.notice.notify_type,
            "url": self.notice.url,
            "clientId": self.notice.client_id,
            "paymentId": self.payment_id,
            "paymentRequestId": self.payment_request_id,
            "state": self.stage.name(),
            "done": self.stage.is_done(),
            "nextAttemptAt": matches!(self.stage, Stage::Pending).then(|| iso(self.next_due)),
            "attempts": self.attempts.iter().map(Attempt::to_json).collect::<Vec<_>>(),
            "forge": self.forge.map(Forge::name),
            "replayOf": self.replay_of,
            "body": self.notice().body,
        })
    }

    fn job(&self, copies: u32, delay_ms: u64) -> Job {
        Job {
            id: self.id,
            payment_id: self.payment_id().map(str::to_owned),
            url: self.notice.url.clone(),
            client_id: self.notice.client_id.clone(),
            body: self.body.clone(),
            copies,
            delay_ms,
        }
    }
}

/// A delivery's row in the state file. A delivery pending, held or in flight is saved as
/// pending (faults are not saved, and an unrecorded send is sent again), except a one-off,
/// which is never retried: it is saved as failed.
#[derive(serde::Serialize, serde::Deserialize)]
struct DeliveryRow<'a> {
    id: u64,
    seq: u64,
    notice: Cow<'a, Notice>,
    /// The exact bytes sent (JSON, so UTF-8).
    bytes: Cow<'a, str>,
    done: Option<bool>,
    next_due: Timestamp,
    attempts: Cow<'a, [Attempt]>,
    forge: Option<String>,
    replay_of: Option<u64>,
}

impl<'a> DeliveryRow<'a> {
    /// The delivery's row, borrowing what it can (it is made under the notifier's lock).
    fn of(d: &'a Delivery) -> Self {
        let done = match d.stage {
            Stage::Delivered => Some(true),
            Stage::Failed => Some(false),
            Stage::Pending | Stage::Held | Stage::InFlight if d.forge.is_some() => Some(false),
            Stage::Pending | Stage::Held | Stage::InFlight => None,
        };
        DeliveryRow {
            id: d.id,
            seq: d.seq,
            notice: Cow::Borrowed(&d.notice),
            bytes: String::from_utf8_lossy(&d.body),
            done,
            next_due: d.next_due,
            attempts: Cow::Borrowed(&d.attempts),
            forge: d.forge.map(|f| f.name().to_owned()),
            replay_of: d.replay_of,
        }
    }

    fn into_delivery(self) -> Option<Delivery> {
        let forge = match self.forge {
            None => None,
            Some(name) => Some(Forge::from_name(&name)?),
        };
        let stage = match self.done {
            None => Stage::Pending,
            Some(true) => Stage::Delivered,
            Some(false) => Stage::Failed,
        };
        let body = Arc::new(self.bytes.into_owned().into_bytes());
        Some(Delivery {
            attempts: self.attempts.into_owned(),
            forge,
            replay_of: self.replay_of,
            ..Delivery::new(
                (self.id, self.seq),
                self.notice.into_owned(),
                body,
                stage,
                self.next_due,
            )
        })
    }
}

/// Which deliveries `GET /_sandbox/deliveries` lists; every given field must match (AND).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DeliveryFilter {
    /// The notification's `notifyType` (query parameter `type`).
    pub notify_type: Option<String>,
    /// The `paymentId` of the notification body.
    pub payment_id: Option<String>,
    /// The client id it is sent to.
    pub client_id: Option<String>,
    /// Only deliveries with a larger sequence number.
    pub after: Option<u64>,
}

impl DeliveryFilter {
    /// The query parameters this filter reads.
    pub const PARAMS: &str = "type, paymentId, clientId, after";

    /// Reads the filter from query parameters; an unknown parameter or a non-numeric `after`
    /// is an error naming it.
    pub fn from_query(query: &HashMap<String, String>) -> Result<Self, String> {
        let mut f = DeliveryFilter::default();
        read_query(query, Self::PARAMS, |k, v| {
            match k {
                "type" => f.notify_type = Some(v.to_owned()),
                "paymentId" => f.payment_id = Some(v.to_owned()),
                "clientId" => f.client_id = Some(v.to_owned()),
                "after" => f.after = Some(parse_after(v)?),
                _ => return Ok(false),
            }
            Ok(true)
        })?;
        Ok(f)
    }
}

/// Which deliveries wait for what, so that neither a wake of the delivery loop nor an eviction
/// walks every delivery. Told of a delivery whenever its stage changes ([`Queues::note`]), it
/// never forgets one by itself: an entry whose delivery has moved on since is skipped when
/// met, and an evicted delivery's entries are taken out.
#[derive(Debug, Default)]
struct Queues {
    /// (next_due, id) of the pending deliveries.
    due: BTreeSet<(Timestamp, u64)>,
    /// The finished deliveries, oldest (lowest id) first.
    done: BTreeSet<u64>,
    /// The deliveries held for reordering (at most one per fault scope).
    held: Vec<u64>,
}

impl Queues {
    /// Files `d` under its current stage.
    fn note(&mut self, d: &Delivery) {
        match d.stage {
            Stage::Pending => {
                self.due.insert((d.next_due, d.id));
            }
            Stage::Held => self.held.push(d.id),
            Stage::InFlight => {}
            Stage::Delivered | Stage::Failed => {
                self.done.insert(d.id);
            }
        }
    }

    /// Takes out every entry of `d` (evicted).
    fn forget(&mut self, d: &Delivery) {
        self.due.remove(&(d.next_due, d.id));
        self.done.remove(&d.id);
        self.held.retain(|id| *id != d.id);
    }

    /// The pending deliveries due at or before `now`, by id; their entries are taken out (the
    /// caller sends or reschedules them, and notes them again).
    fn take_due(&mut self, deliveries: &BTreeMap<u64, Box<Delivery>>, now: Timestamp) -> Vec<u64> {
        let mut ids = Vec::new();
        while let Some(&(at, id)) = self.due.first()
            && at <= now
        {
            self.due.pop_first();
            let current = deliveries
                .get(&id)
                .is_some_and(|d| d.stage == Stage::Pending && d.next_due == at);
            if current {
                ids.push(id);
            }
        }
        ids.sort_unstable();
        ids
    }
}

#[derive(Debug, Default)]
struct Book {
    /// By id: ids grow as deliveries are made, so this is also their age order. Boxed: a
    /// delivery is 320 bytes, and appended in id order the tree's nodes stay about half
    /// full; inline, that half would be about 2 MB of deliveries that are not there.
    deliveries: BTreeMap<u64, Box<Delivery>>,
    queues: Queues,
    faults: FaultBook,
    next_id: u64,
    dropped: u64,
    /// Deliveries created, changed or evicted under the current lock, for the state file.
    dirty: Vec<u64>,
}

impl Book {
    /// Adds a delivery (with an id above every kept one).
    fn add(&mut self, d: Delivery) {
        self.queues.note(&d);
        self.deliveries.insert(d.id, Box::new(d));
    }

    /// Evicts beyond [`MAX_DELIVERIES`]: the oldest finished first, else the oldest.
    fn evict(&mut self) {
        while self.deliveries.len() > MAX_DELIVERIES {
            let finished = loop {
                match self.queues.done.pop_first() {
                    Some(id) if self.deliveries.get(&id).is_some_and(|d| d.stage.is_done()) => {
                        break Some(id);
                    }
                    Some(_) => {}
                    None => break None,
                }
            };
            let Some(id) = finished.or_else(|| self.deliveries.keys().next().copied()) else {
                return;
            };
            if let Some(gone) = self.deliveries.remove(&id) {
                self.queues.forget(&gone);
            }
            self.dirty.push(id);
            self.dropped += 1;
        }
    }

    /// How many deliveries are kept, how many of them are not done, and the largest sequence
    /// number among them (0 when none).
    fn counts(&self) -> (usize, usize, u64) {
        let open = self
            .deliveries
            .values()
            .filter(|d| !d.stage.is_done())
            .count();
        let seq = self.deliveries.values().map(|d| d.seq).max().unwrap_or(0);
        (self.deliveries.len(), open, seq)
    }

    fn find(&mut self, id: u64) -> Option<&mut Delivery> {
        self.deliveries.get_mut(&id).map(|d| &mut **d)
    }
}

struct Job {
    id: u64,
    /// The payment it is about, if any: one payment's notifications go out in order.
    payment_id: Option<String>,
    url: String,
    client_id: String,
    body: Arc<Vec<u8>>,
    copies: u32,
    delay_ms: u64,
}

/// The book under its lock; when the lock is let go, the deliveries that changed go to the
/// state file (if any), queued, never written under the lock.
struct Locked<'a> {
    book: MutexGuard<'a, Book>,
    file: Option<&'a StateFile>,
    seq: &'a Sequence,
}

impl Deref for Locked<'_> {
    type Target = Book;
    fn deref(&self) -> &Book {
        &self.book
    }
}

impl DerefMut for Locked<'_> {
    fn deref_mut(&mut self) -> &mut Book {
        &mut self.book
    }
}

impl Drop for Locked<'_> {
    fn drop(&mut self) {
        let book = &mut *self.book;
        let mut dirty = std::mem::take(&mut book.dirty);
        let Some(file) = self.file else { return };
        if dirty.is_empty() {
            return;
        }
        dirty.sort_unstable();
        dirty.dedup();
        for id in dirty {
            let row = book
                .find(id)
                .map(|d| serde_json::to_vec(&DeliveryRow::of(d)).unwrap_or_default());
            file.set(Table::Deliveries, id.to_string(), row);
        }
        let int = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        file.set_meta(Meta::DeliveryId, int(book.next_id));
        file.set_meta(Meta::DeliveriesDropped, int(book.dropped));
        file.set_meta(Meta::Sequence, int(self.seq.last()));
    }
}

/// The notification sender.
#[derive(Debug)]
pub struct Notifier {
    book: Mutex<Book>,
    /// Where every change of a delivery is also written (`--state FILE`).
    file: Option<Arc<StateFile>>,
    wake: Notify,
    http: reqwest::Client,
    key: PrivateKey,
    seq: Arc<Sequence>,
    /// Whether an unacknowledged notification is resent on [`SCHEDULE`] (production APO), or
    /// sent once (APO's sandbox: "if you do not return the fixed format, notifications are not
    /// re-sent").
    resends: AtomicBool,
    /// The clock moved since the last sweep ([`Notifier::poke`]).
    clock_moved: AtomicBool,
}

impl Notifier {
    /// A notifier signing with the sandbox's APO key and sending through `http` (the client
    /// built by `apo::client`, lent; each send is limited to [`SEND_TIMEOUT`]), numbering its
    /// deliveries from `seq` (shared with the request journal).
    pub fn new(key: PrivateKey, http: reqwest::Client, seq: Arc<Sequence>) -> Self {
        Notifier {
            book: Mutex::default(),
            file: None,
            wake: Notify::new(),
            http,
            key,
            seq,
            resends: AtomicBool::new(true),
            clock_moved: AtomicBool::new(false),
        }
    }

    /// Resumes the deliveries saved in a state file (`rows`, by id; the last delivery id
    /// handed out and the dropped count), writing every later change to it; pending ones go
    /// out when due. An unreadable row is an error naming it.
    pub fn restore(
        &mut self,
        file: Arc<StateFile>,
        rows: Vec<Vec<u8>>,
        (last_id, dropped): (i64, i64),
    ) -> Result<(), String> {
        let mut book = Book {
            dropped: u64::try_from(dropped).unwrap_or(0),
            next_id: u64::try_from(last_id).unwrap_or(0),
            ..Book::default()
        };
        for (n, row) in rows.into_iter().enumerate() {
            let d = serde_json::from_slice::<DeliveryRow>(&row)
                .ok()
                .and_then(DeliveryRow::into_delivery)
                .ok_or_else(|| format!("delivery row {}: unreadable", n + 1))?;
            book.next_id = book.next_id.max(d.id);
            book.add(d);
        }
        self.book = Mutex::new(book);
        self.file = Some(file);
        Ok(())
    }

    /// How many deliveries are kept, how many of them are still to be delivered, and the
    /// largest sequence number among them.
    pub fn counts(&self) -> (usize, usize, u64) {
        self.lock().counts()
    }

    /// Turns resends on (the default, as production APO) or off (as APO's own sandbox).
    pub fn set_resends(&self, on: bool) {
        self.resends.store(on, Ordering::Relaxed);
    }

    fn lock(&self) -> Locked<'_> {
        Locked {
            book: self.book.lock().unwrap_or_else(|e| e.into_inner()),
            file: self.file.as_deref(),
            seq: &self.seq,
        }
    }

    /// Queues notices for immediate sending; returns their delivery ids.
    pub fn enqueue(&self, notices: Vec<Notice>, now: Timestamp) -> Vec<u64> {
        if notices.is_empty() {
            return Vec::new();
        }
        let mut book = self.lock();
        let mut ids = Vec::with_capacity(notices.len());
        for notice in notices {
            book.next_id += 1;
            let id = book.next_id;
            ids.push(id);
            let mut bytes = serde_json::to_vec(&notice.body).unwrap_or_default();
            // Kept for as long as the delivery: without the room the serializer grew into.
            bytes.shrink_to_fit();
            let body = Arc::new(bytes);
            book.dirty.push(id);
            let seq = self.seq.next();
            book.add(Delivery::new((id, seq), notice, body, Stage::Pending, now));
        }
        book.evict();
        drop(book);
        self.wake.notify_one();
        ids
    }

    /// Waits until each of these deliveries has had its first attempt (or is held, or gone),
    /// for at most `limit`.
    pub async fn first_attempts(&self, ids: &[u64], limit: Duration) {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let waiting = {
                let book = self.lock();
                ids.iter().any(|id| {
                    book.deliveries.get(id).is_some_and(|d| {
                        d.attempts.is_empty() && matches!(d.stage, Stage::Pending | Stage::InFlight)
                    })
                })
            };
            if !waiting || tokio::time::Instant::now() >= deadline {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Makes the pending deliveries of one payment `by` older (`advance_clock` with `of:`): a
    /// resend due within `by` is due now. Walks the kept deliveries: a control call, not a hot
    /// path.
    pub fn age_payment(&self, payment_id: &str, by: jiff::SignedDuration) {
        let mut book = self.lock();
        let Book {
            deliveries,
            queues,
            dirty,
            ..
        } = &mut *book;
        for d in deliveries.values_mut() {
            if d.payment_id() != Some(payment_id) {
                continue;
            }
            match d.stage {
                Stage::Pending => {
                    d.next_due = d.next_due.saturating_sub(by).unwrap_or(d.next_due);
                    // The entry at the old time is stale now: skipped when met.
                    queues.note(d);
                    dirty.push(d.id);
                }
                // Its answer may not be in yet (a flow that just answered moves on at once):
                // the resend it schedules counts the time too.
                Stage::InFlight => d.aged = d.aged.saturating_add(by),
                Stage::Held | Stage::Delivered | Stage::Failed => {}
            }
        }
    }

    /// Wakes the delivery loop after the clock moved: it sweeps the payments at once.
    pub fn poke(&self) {
        self.clock_moved.store(true, Ordering::Relaxed);
        self.wake.notify_one();
    }

    /// Replaces the faults of `scope`; a delivery held for reordering under that scope is
    /// released.
    pub fn set_faults(&self, scope: Scope, faults: Faults) {
        let mut book = self.lock();
        let Book {
            deliveries, queues, ..
        } = &mut *book;
        for id in std::mem::take(&mut queues.held) {
            let Some(d) = deliveries.get_mut(&id) else {
                continue;
            };
            if d.stage == Stage::Held && d.held_under.as_ref() == Some(&scope) {
                d.stage = Stage::Pending;
                d.held_under = None;
            }
            queues.note(d);
        }
        book.faults.set(scope, faults);
        drop(book);
        self.wake.notify_one();
    }

    /// Every set of faults, as JSON (see [`FaultBook::to_json`]).
    pub fn faults(&self) -> Value {
        self.lock().faults.to_json()
    }

    /// Forgets every delivery and fault (the sequence goes on), in the state file too.
    pub fn reset(&self) {
        let mut book = self.lock();
        *book = Book::default();
        if let Some(file) = &self.file {
            file.clear(Table::Deliveries);
            file.set_meta(Meta::DeliveryId, 0);
            file.set_meta(Meta::DeliveriesDropped, 0);
        }
    }

    /// The deliveries matching `filter` with their attempts, oldest first, as JSON (for
    /// `/_sandbox/deliveries`): `{"faults": …, "deliveries": [...], "dropped": N}`.
    pub fn list(&self, filter: &DeliveryFilter) -> Value {
        let book = self.lock();
        let items: Vec<Value> = book
            .deliveries
            .values()
            .filter(|d| d.matches(filter))
            .map(|d| d.to_json())
            .collect();
        json!({ "faults": book.faults.to_json(), "deliveries": items, "dropped": book.dropped })
    }

    /// Sends delivery `id` again now: its exact bytes, signed afresh with the current time,
    /// outside the retry schedule and untouched by faults. The attempt is recorded (with
    /// `resend: true`) without changing the delivery's state; it is returned as JSON. `None`
    /// when there is no such delivery (never was, evicted, or reset).
    pub async fn resend(&self, state: &State, id: u64) -> Option<Value> {
        let (url, client_id, body) = {
            let mut book = self.lock();
            let d = book.find(id)?;
            (
                d.notice.url.clone(),
                d.notice.client_id.clone(),
                d.body.clone(),
            )
        };
        let mut attempt = self
            .attempt(state, &url, &client_id, &body, Forge::None)
            .await;
        attempt.resend = true;
        let shown = attempt.to_json();
        let mut book = self.lock();
        if let Some(d) = book.find(id) {
            d.attempts.push(attempt);
            if d.attempts.iter().filter(|a| a.resend).count() > MAX_RESENDS_KEPT
                && let Some(oldest) = d.attempts.iter().position(|a| a.resend)
            {
                d.attempts.remove(oldest);
            }
            book.dirty.push(id);
        }
        Some(shown)
    }

    /// What a replay of delivery `id` sends: its notice (URL, client, type, body) and its
    /// exact bytes, unforged. `None` when there is no such delivery.
    pub fn replay_of(&self, id: u64) -> Option<OneOff> {
        let mut book = self.lock();
        let d = book.find(id)?;
        Some(OneOff {
            notice: d.notice(),
            bytes: d.body.clone(),
            forge: Forge::None,
            replay_of: Some(id),
        })
    }

    /// The URL and client of APO's first delivery about `payment_id` (one-off sends do not
    /// count), to send another notification about that payment to the same place.
    pub fn first_for_payment(&self, payment_id: &str) -> Option<(String, String)> {
        let book = self.lock();
        book.deliveries
            .values()
            .find(|d| d.forge.is_none() && d.payment_id() == Some(payment_id))
            .map(|d| (d.notice.url.clone(), d.notice.client_id.clone()))
    }

    /// Sends `one` now, once, forged as it says: a new delivery in the journal (with `forge`
    /// and `replayOf`), never retried, delivered or failed by this one attempt, untouched by
    /// faults. Returns the attempt as JSON with `deliveryId` and `url`.
    pub async fn send_one_off(&self, state: &State, one: OneOff) -> Value {
        let id = {
            let mut book = self.lock();
            book.next_id += 1;
            let id = book.next_id;
            let seq = self.seq.next();
            let (notice, bytes) = (one.notice.clone(), one.bytes.clone());
            book.add(Delivery {
                forge: Some(one.forge),
                replay_of: one.replay_of,
                ..Delivery::new((id, seq), notice, bytes, Stage::InFlight, state.clock.now())
            });
            book.dirty.push(id);
            book.evict();
            id
        };
        let attempt = self
            .attempt(
                state,
                &one.notice.url,
                &one.notice.client_id,
                &one.bytes,
                one.forge,
            )
            .await;
        let mut shown = attempt.to_json();
        shown["deliveryId"] = Value::from(id);
        shown["url"] = Value::from(one.notice.url.as_str());
        let mut book = self.lock();
        let Book {
            deliveries,
            queues,
            dirty,
            ..
        } = &mut *book;
        if let Some(d) = deliveries.get_mut(&id) {
            d.stage = if attempt.acknowledged {
                Stage::Delivered
            } else {
                Stage::Failed
            };
            d.attempts.push(attempt);
            queues.note(d);
            dirty.push(id);
        }
        shown
    }

    /// Records a scheduled attempt; after the last copy of a send (`last`: whether any copy
    /// was acknowledged), schedules what follows.
    fn record(&self, id: u64, attempt: Attempt, last: Option<bool>) {
        let mut book = self.lock();
        let Book {
            deliveries,
            queues,
            dirty,
            ..
        } = &mut *book;
        let Some(d) = deliveries.get_mut(&id) else {
            return;
        };
        let at = attempt.at;
        d.attempts.push(attempt);
        if let Some(acknowledged) = last {
            schedule_next(d, at, acknowledged, self.resends.load(Ordering::Relaxed));
            queues.note(d);
        }
        dirty.push(id);
    }

    fn take_due(&self, now: Timestamp) -> Vec<Vec<Job>> {
        let resends = self.resends.load(Ordering::Relaxed);
        let mut book = self.lock();
        let Book {
            deliveries,
            queues,
            faults,
            dirty,
            ..
        } = &mut *book;
        // Due jobs, grouped by the scope of the faults that govern them (in order of first
        // appearance, each group in delivery order).
        let mut groups: Vec<(Scope, Vec<Job>)> = Vec::new();
        for id in queues.take_due(deliveries, now) {
            let Some(d) = deliveries.get_mut(&id) else {
                continue;
            };
            let scope = faults.scope_of(d.payment_id(), &d.notice.client_id);
            let f = faults.get_mut(&scope);
            if f.drop_next > 0 {
                f.drop_next -= 1;
                d.attempts.push(Attempt::failed(
                    now,
                    "dropped",
                    "dropped (fault injection)".to_owned(),
                ));
                schedule_next(d, now, false, resends);
                queues.note(d);
                dirty.push(d.id);
                continue;
            }
            let copies = if f.duplicate_next > 0 {
                f.duplicate_next -= 1;
                2
            } else {
                1
            };
            d.stage = Stage::InFlight;
            let job = d.job(copies, f.delay_ms);
            match groups.iter_mut().find(|(s, _)| *s == scope) {
                Some((_, jobs)) => jobs.push(job),
                None => groups.push((scope, vec![job])),
            }
        }
        let mut batches = Vec::new();
        for (scope, mut due) in groups {
            let f = faults.get_mut(&scope);
            let held_id = (queues.held.iter().copied())
                .filter(|id| {
                    deliveries.get(id).is_some_and(|d| {
                        d.stage == Stage::Held && d.held_under.as_ref() == Some(&scope)
                    })
                })
                .min();
            if let Some(id) = held_id {
                queues.held.retain(|h| *h != id);
            }
            match held_id.and_then(|id| deliveries.get_mut(&id)) {
                // Reorder: hold the first due delivery until a later one is due, then send the
                // later one first, in one sequential batch.
                None if f.reorder_next && due.len() > 1 => {
                    // Two already due together: send the first one last.
                    f.reorder_next = false;
                    due.rotate_left(1);
                    batches.push(due);
                }
                None if f.reorder_next => {
                    f.reorder_next = false;
                    let first = due.remove(0);
                    if let Some(d) = deliveries.get_mut(&first.id) {
                        d.stage = Stage::Held;
                        d.held_under = Some(scope);
                        queues.note(d);
                    }
                    batches.extend(per_payment(due));
                }
                Some(d) => {
                    d.stage = Stage::InFlight;
                    d.held_under = None;
                    due.push(d.job(1, f.delay_ms));
                    batches.push(due);
                }
                None => batches.extend(per_payment(due)),
            }
        }
        batches
    }

    /// One signed POST of `body` to `url` (forged as `forge` says), and what came back.
    async fn attempt(
        &self,
        state: &State,
        url: &str,
        client_id: &str,
        body: &[u8],
        forge: Forge,
    ) -> Attempt {
        let at = state.clock.now();
        let Ok(url) = url::Url::parse(url) else {
            return Attempt::failed(
                at,
                "invalid_url",
                "not delivered: request failed".to_owned(),
            );
        };
        // A default notify URL or a one-off order is not checked like a pay's URLs; the
        // notifier itself never calls a sandbox control API.
        if super::validate::targets_control_api(&url) {
            return Attempt::failed(
                at,
                "refused",
                "not delivered: the URL points at a sandbox control API (/_sandbox/…)".to_owned(),
            );
        }
        let backdate = SignedDuration::try_from(forge.backdate()).unwrap_or(SignedDuration::ZERO);
        let time = iso(at.saturating_sub(backdate).unwrap_or(at));
        let (headers, body) = match forge.request(&self.key, &url, client_id, &time, body) {
            Ok(request) => request,
            Err(e) => {
                return Attempt::failed(at, "request", format!("not delivered: {e}"));
            }
        };
        let mut request = self.http.post(url.clone()).timeout(SEND_TIMEOUT).body(body);
        for (name, value) in headers {
            request = request.header(name, value);
        }
        let started = Instant::now();
        let answered = match request.send().await {
            Ok(resp) => read_answer(resp).await,
            Err(e) => Err(e),
        };
        let latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        match answered {
            Err(e) => {
                let (error, what) = error_kind(&e);
                Attempt {
                    latency_ms,
                    ..Attempt::failed(at, error, format!("not delivered: {what}"))
                }
            }
            Ok((status, answer)) => {
                let acknowledged = is_acknowledged(status, &answer);
                let what = if acknowledged {
                    "acknowledged"
                } else {
                    "not the SUCCESS acknowledgement"
                };
                Attempt {
                    at,
                    outcome: format!("HTTP {status}, {what}"),
                    acknowledged,
                    status: Some(status),
                    answer: Some(truncated(&answer, MAX_ANSWER)),
                    latency_ms,
                    error: None,
                    resend: false,
                }
            }
        }
    }

    async fn send(&self, state: &State, job: &Job) {
        if job.delay_ms > 0 {
            tokio::time::sleep(Duration::from_millis(job.delay_ms)).await;
        }
        // Every copy is an attempt; the delivery stays in flight until the last one is recorded,
        // so nobody sees it done between the copies of a duplicate.
        let mut acknowledged = false;
        for copy in 1..=job.copies {
            let attempt = self
                .attempt(state, &job.url, &job.client_id, &job.body, Forge::None)
                .await;
            acknowledged |= attempt.acknowledged;
            let last = (copy == job.copies).then_some(acknowledged);
            self.record(job.id, attempt, last);
        }
    }

    /// The delivery loop; runs until the sandbox shuts down. It sends what is due at every
    /// wake, and sweeps the payments for time-driven transitions at most every
    /// [`SWEEP_EVERY`], or at once after the clock moved (under load the loop wakes after
    /// every send). A wake and a sweep each visit only what is due, never every delivery or
    /// payment.
    pub async fn run(self: Arc<Self>, state: Arc<State>) {
        let mut swept: Option<Instant> = None;
        loop {
            let clock_moved = self.clock_moved.swap(false, Ordering::Relaxed);
            if clock_moved || swept.is_none_or(|at| at.elapsed() >= SWEEP_EVERY) {
                let notices = state.sweep();
                self.enqueue(notices, state.clock.now());
                swept = Some(Instant::now());
            }
            for batch in self.take_due(state.clock.now()) {
                let me = self.clone();
                let st = state.clone();
                tokio::spawn(async move {
                    for job in &batch {
                        me.send(&st, job).await;
                    }
                    me.wake.notify_one();
                });
            }
            tokio::select! {
                () = self.wake.notified() => {}
                () = tokio::time::sleep(SWEEP_EVERY) => {}
            }
        }
    }
}

/// A notification sent once on request (`POST /_sandbox/notifications`).
#[derive(Debug, Clone)]
pub struct OneOff {
    /// Where it goes, for whom, its type and its body as the journal shows it.
    pub notice: Notice,
    /// The exact bytes signed (a forge may change what is sent: see [`Forge`]).
    pub bytes: Arc<Vec<u8>>,
    /// How it is made wrong, if at all.
    pub forge: Forge,
    /// The delivery it replays, if it is a replay.
    pub replay_of: Option<u64>,
}

/// Due jobs as batches sent side by side, one per payment (in queue order within it, so a
/// PAYMENT_RESULT goes before the CAPTURE_RESULT it caused), one per job without a payment.
fn per_payment(due: Vec<Job>) -> Vec<Vec<Job>> {
    let mut batches: Vec<Vec<Job>> = Vec::new();
    for job in due {
        let same = job.payment_id.as_ref().and_then(|pid| {
            batches
                .iter_mut()
                .find(|b| b[0].payment_id.as_ref() == Some(pid))
        });
        match same {
            Some(batch) => batch.push(job),
            None => batches.push(vec![job]),
        }
    }
    batches
}

/// The status and the first [`MAX_READ`] bytes of the answer's body.
async fn read_answer(mut resp: reqwest::Response) -> Result<(u16, Vec<u8>), reqwest::Error> {
    let status = resp.status().as_u16();
    let mut body = Vec::new();
    while body.len() < MAX_READ {
        match resp.chunk().await? {
            Some(chunk) => body.extend_from_slice(&chunk),
            None => break,
        }
    }
    body.truncate(MAX_READ);
    Ok((status, body))
}

/// The body as text, cut to at most `max` bytes at a character boundary.
fn truncated(body: &[u8], max: usize) -> String {
    let mut text = String::from_utf8_lossy(body).into_owned();
    if text.len() > max {
        let mut end = max;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}

/// After an attempt: delivered, pending the next send of the schedule, or failed (the schedule
/// is spent, or, with `resends` off, after the first attempt).
fn schedule_next(d: &mut Delivery, at: Timestamp, acknowledged: bool, resends: bool) {
    let sent = d.scheduled_attempts();
    let aged = std::mem::replace(&mut d.aged, SignedDuration::ZERO);
    d.stage = if acknowledged {
        Stage::Delivered
    } else if let Some(wait) = SCHEDULE.get(sent).filter(|_| resends || sent == 0) {
        let wait = wait.saturating_sub(aged);
        d.next_due = at.saturating_add(wait).unwrap_or(at);
        Stage::Pending
    } else {
        Stage::Failed
    };
}

/// The attempt's `error` and the outcome's words.
fn error_kind(e: &reqwest::Error) -> (&'static str, &'static str) {
    if e.is_timeout() {
        ("timeout", "timed out")
    } else if e.is_connect() {
        ("connect", "connection failed")
    } else {
        ("request", "request failed")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_saved_delivery_comes_back_pending_with_its_schedule_and_bytes() {
        let n = notifier();
        let now: Timestamp = "2026-11-25T10:00:00Z".parse().unwrap();
        let ids = n.enqueue(vec![notice(7)], now);
        let mut book = n.lock();
        let d = book.find(ids[0]).unwrap();
        d.stage = Stage::InFlight;
        d.attempts
            .push(Attempt::failed(now, "connect", "not delivered".to_owned()));
        d.next_due = now.saturating_add(SCHEDULE[1]).unwrap();
        let row = serde_json::to_vec(&DeliveryRow::of(d)).unwrap();
        let back = serde_json::from_slice::<DeliveryRow>(&row)
            .unwrap()
            .into_delivery()
            .unwrap();
        assert_eq!(
            back.stage,
            Stage::Pending,
            "an unrecorded send is made again"
        );
        assert_eq!(
            (back.id, back.seq, back.next_due),
            (d.id, d.seq, d.next_due)
        );
        assert_eq!(back.body, d.body);
        assert_eq!(back.attempts[0].error, Some("connect"));
        assert_eq!(back.notice().body, json!({ "n": 7 }));
        // A one-off is never retried: saved while in flight, it comes back failed.
        d.forge = Some(Forge::None);
        let row = serde_json::to_vec(&DeliveryRow::of(d)).unwrap();
        let back = serde_json::from_slice::<DeliveryRow>(&row).unwrap();
        assert_eq!(back.into_delivery().unwrap().stage, Stage::Failed);
    }

    #[tokio::test]
    async fn a_delivery_keeps_its_last_manual_resends() {
        let n = notifier();
        let state = State::new("http://127.0.0.1:1".to_owned());
        let ids = n.enqueue(vec![notice(1)], state.clock.now());
        for _ in 0..MAX_RESENDS_KEPT + 5 {
            n.resend(&state, ids[0]).await.unwrap();
        }
        let mut book = n.lock();
        let d = book.find(ids[0]).unwrap();
        assert_eq!(
            d.attempts.iter().filter(|a| a.resend).count(),
            MAX_RESENDS_KEPT
        );
    }

    #[test]
    fn schedule_totals_about_a_day() {
        let total: i64 = SCHEDULE.iter().map(|d| d.as_secs()).sum();
        assert_eq!(total, 22 * 60 + 24 * 3600);
    }

    fn notice(n: u32) -> Notice {
        Notice {
            notify_type: "PAYMENT_RESULT",
            url: "http://127.0.0.1:1/n".to_owned(),
            client_id: "C".to_owned(),
            body: json!({ "n": n }),
        }
    }

    #[test]
    fn a_send_outlasts_the_receivers_claim_grace() {
        assert!(SEND_TIMEOUT > crate::receiver::ReceiverConfig::DEFAULT_CLAIM_GRACE);
    }

    fn notifier() -> Notifier {
        Notifier::new(key(), reqwest::Client::new(), Arc::default())
    }

    fn key() -> PrivateKey {
        PrivateKey::from_text(crate::apo::target::EMBEDDED_APO_PRIVATE_PEM).unwrap()
    }

    /// One notification through a lent client to a local receiver: the request carries the
    /// lent client's user agent and a signature that verifies, and the SUCCESS answer marks it
    /// delivered.
    #[tokio::test]
    async fn sends_signed_through_the_lent_client() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/notify?x=1", listener.local_addr().unwrap());
        let receiver = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut seen = Vec::new();
            let mut buf = [0u8; 4096];
            while !seen.ends_with(b"{\"n\":1}") {
                let n = socket.read(&mut buf).await.unwrap();
                assert!(n > 0, "connection closed early");
                seen.extend_from_slice(&buf[..n]);
            }
            let ack = crate::apo::result::NOTIFY_ACK_SUCCESS_BODY;
            let answer = format!(
                "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{ack}",
                ack.len()
            );
            socket.write_all(answer.as_bytes()).await.unwrap();
            String::from_utf8(seen).unwrap()
        });
        let http = reqwest::Client::builder()
            .user_agent("lent-client")
            .build()
            .unwrap();
        let n = Notifier::new(key(), http, Arc::default());
        let state = State::new("http://127.0.0.1:9".to_owned());
        let now = state.clock.now();
        n.enqueue(vec![Notice { url, ..notice(1) }], now);
        for job in n.take_due(now).iter().flatten() {
            n.send(&state, job).await;
        }
        let request = receiver.await.unwrap();
        let header = |name: &str| {
            request
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(": ")?;
                    k.eq_ignore_ascii_case(name).then(|| v.to_owned())
                })
                .unwrap_or_else(|| panic!("no {name} header in {request}"))
        };
        assert!(request.starts_with("POST /notify?x=1 "), "{request}");
        assert_eq!(header("user-agent"), "lent-client");
        assert_eq!(header("client-id"), "C");
        let public =
            crate::apo::keys::PublicKey::from_text(crate::apo::target::EMBEDDED_APO_PUBLIC_PEM)
                .unwrap();
        crate::apo::sign::verify(
            &public,
            &crate::apo::sign::SignedParts::post(
                "/notify?x=1",
                "C",
                &header("request-time"),
                br#"{"n":1}"#,
            ),
            &header("signature"),
        )
        .unwrap();
        let list = n.list(&DeliveryFilter::default());
        let d = &list["deliveries"][0];
        assert_eq!(d["state"], "delivered", "{list}");
        assert_eq!(d["done"], true);
        assert_eq!(
            (d["seq"].as_u64(), d["clientId"].as_str()),
            (Some(1), Some("C"))
        );
        let a = &d["attempts"][0];
        assert_eq!(a["status"], 200);
        assert_eq!(a["answer"], crate::apo::result::NOTIFY_ACK_SUCCESS_BODY);
        assert_eq!(
            (a["acknowledged"].as_bool(), a["error"].as_str()),
            (Some(true), None)
        );
        assert!(a["latencyMs"].is_u64(), "{a}");
    }

    /// Faults that drop the next delivery.
    fn drop_one() -> Faults {
        Faults {
            drop_next: 1,
            ..Faults::default()
        }
    }

    #[test]
    fn drop_counts_as_a_failed_attempt_and_schedules_the_retry() {
        let n = notifier();
        let now = Timestamp::now();
        n.set_faults(Scope::default(), drop_one());
        n.enqueue(vec![notice(1)], now);
        assert!(n.take_due(now).is_empty());
        let list = n.list(&DeliveryFilter::default());
        assert_eq!(
            list["deliveries"][0]["attempts"].as_array().unwrap().len(),
            1
        );
        assert!(
            n.take_due(now.saturating_add(SignedDuration::from_secs(119)).unwrap())
                .is_empty()
        );
        assert_eq!(
            n.take_due(now.saturating_add(SCHEDULE[1]).unwrap()).len(),
            1
        );
    }

    #[test]
    fn without_resends_an_unacknowledged_notification_fails_after_one_attempt() {
        let n = notifier();
        n.set_resends(false);
        let now = Timestamp::now();
        n.set_faults(Scope::default(), drop_one());
        let ids = n.enqueue(vec![notice(1)], now);
        assert!(n.take_due(now).is_empty());
        let list = n.list(&DeliveryFilter::default());
        let d = &list["deliveries"][0];
        assert_eq!(d["id"], ids[0]);
        assert_eq!(d["state"], "failed", "{d}");
        assert_eq!(d["attempts"].as_array().unwrap().len(), 1);
    }

    #[test]
    fn one_payments_notifications_go_out_in_order_in_one_batch() {
        let n = notifier();
        let now = Timestamp::now();
        let ids = n.enqueue(
            vec![
                notice_of("P1", "C"),
                notice_of("P2", "C"),
                notice_of("P1", "C"),
            ],
            now,
        );
        let batches: Vec<Vec<u64>> = n
            .take_due(now)
            .iter()
            .map(|b| b.iter().map(|j| j.id).collect())
            .collect();
        assert_eq!(batches, [vec![ids[0], ids[2]], vec![ids[1]]]);
    }

    #[test]
    fn reorder_holds_one_until_the_next_or_until_released() {
        let n = notifier();
        let now = Timestamp::now();
        n.set_faults(
            Scope::default(),
            Faults {
                reorder_next: true,
                ..Faults::default()
            },
        );
        n.enqueue(vec![notice(1)], now);
        assert!(n.take_due(now).is_empty());
        n.enqueue(vec![notice(2)], now);
        let batches = n.take_due(now);
        let ids: Vec<u64> = batches.iter().flatten().map(|j| j.id).collect();
        assert_eq!(ids, [2, 1]);
        // A lone held delivery is released when the faults are set again.
        n.set_faults(
            Scope::default(),
            Faults {
                reorder_next: true,
                ..Faults::default()
            },
        );
        n.enqueue(vec![notice(3)], now);
        assert!(n.take_due(now).is_empty());
        n.set_faults(Scope::default(), Faults::default());
        assert_eq!(n.take_due(now).len(), 1);
    }

    fn notice_of(payment: &str, client: &str) -> Notice {
        Notice {
            client_id: client.to_owned(),
            body: json!({ "paymentId": payment, "paymentRequestId": format!("r-{payment}") }),
            ..notice(0)
        }
    }

    fn ids(batches: &[Vec<Job>]) -> Vec<u64> {
        batches.iter().flatten().map(|j| j.id).collect()
    }

    #[test]
    fn scoped_faults_touch_only_their_payment_or_client() {
        let n = notifier();
        let now = Timestamp::now();
        let scope = |p: Option<&str>, c: Option<&str>| Scope {
            payment_id: p.map(str::to_owned),
            client_id: c.map(str::to_owned),
        };
        n.set_faults(scope(Some("P1"), None), drop_one());
        n.set_faults(scope(None, Some("B")), drop_one());
        n.set_faults(
            scope(Some("P3"), None),
            Faults {
                duplicate_next: 1,
                delay_ms: 7,
                ..Faults::default()
            },
        );
        n.enqueue(
            vec![
                notice_of("P1", "A"),
                notice_of("P2", "A"),
                notice_of("P2", "A"),
                notice_of("P4", "B"),
                notice_of("P3", "A"),
            ],
            now,
        );
        let batches = n.take_due(now);
        // P1's first attempt and B's first delivery are dropped; the rest go, P3 twice after 7 ms.
        assert_eq!(ids(&batches), [2, 3, 5]);
        let p3 = batches.iter().flatten().find(|j| j.id == 5).unwrap();
        assert_eq!((p3.copies, p3.delay_ms), (2, 7));
        let faults = n.faults();
        assert_eq!(faults["drop_next"], 0);
        assert_eq!(faults["scoped"].as_array().unwrap().len(), 3, "{faults}");
        // The exhausted scoped drop does not drop P1's retry.
        let later = now.saturating_add(SCHEDULE[1]).unwrap();
        assert_eq!(ids(&n.take_due(later)), [1, 4]);
    }

    #[test]
    fn a_scoped_reorder_holds_only_within_its_scope() {
        let n = notifier();
        let now = Timestamp::now();
        let p1 = Scope {
            payment_id: Some("P1".to_owned()),
            client_id: None,
        };
        n.set_faults(
            p1.clone(),
            Faults {
                reorder_next: true,
                ..Faults::default()
            },
        );
        n.enqueue(vec![notice_of("P1", "A"), notice_of("P2", "A")], now);
        // P1's first is held; P2 is not affected.
        assert_eq!(ids(&n.take_due(now)), [2]);
        n.enqueue(vec![notice_of("P2", "A")], now);
        assert_eq!(ids(&n.take_due(now)), [3]);
        n.enqueue(vec![notice_of("P1", "A")], now);
        let batches = n.take_due(now);
        assert_eq!(batches.len(), 1);
        assert_eq!(ids(&batches), [4, 1]);
    }

    #[test]
    fn the_list_filters_and_shows_every_field() {
        let n = notifier();
        let now = Timestamp::now();
        n.enqueue(vec![notice_of("P1", "A"), notice_of("P2", "B")], now);
        let q = |pairs: &[(&str, &str)]| {
            let map = pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect();
            let list = n.list(&DeliveryFilter::from_query(&map).unwrap());
            list["deliveries"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| d["id"].as_u64().unwrap())
                .collect::<Vec<_>>()
        };
        assert_eq!(q(&[]), [1, 2]);
        assert_eq!(q(&[("paymentId", "P2")]), [2]);
        assert_eq!(q(&[("clientId", "A"), ("type", "PAYMENT_RESULT")]), [1]);
        assert_eq!(q(&[("type", "REFUND_RESULT")]), Vec::<u64>::new());
        assert_eq!(q(&[("after", "1")]), [2]);
        let bad: HashMap<String, String> = [("kind".to_owned(), "x".to_owned())].into();
        assert!(
            DeliveryFilter::from_query(&bad)
                .unwrap_err()
                .contains("kind")
        );
        let list = n.list(&DeliveryFilter::default());
        let d = &list["deliveries"][0];
        assert_eq!(d["paymentRequestId"], "r-P1");
        assert_eq!(
            (d["done"].as_bool(), d["state"].as_str()),
            (Some(false), Some("pending"))
        );
        assert!(d["nextAttemptAt"].is_string());
        assert_eq!(list["dropped"], 0);
        assert!(list["faults"]["scoped"].is_array());
    }

    #[test]
    fn eviction_takes_the_oldest_finished_first() {
        let n = notifier();
        let now = Timestamp::now();
        let many: Vec<Notice> = (0..MAX_DELIVERIES).map(|_| notice(0)).collect();
        n.enqueue(many, now);
        // Delivery 5 finishes; the next one in evicts it rather than the pending delivery 1.
        n.record(
            5,
            Attempt {
                acknowledged: true,
                ..Attempt::failed(now, "x", String::new())
            },
            Some(true),
        );
        n.enqueue(vec![notice(1)], now);
        let list = n.list(&DeliveryFilter::default());
        assert_eq!(list["dropped"], 1);
        let all = list["deliveries"].as_array().unwrap();
        assert_eq!(all.len(), MAX_DELIVERIES);
        assert_eq!(all[0]["id"], 1);
        assert!(all.iter().all(|d| d["id"] != 5));
        // With nothing finished, the oldest goes.
        n.enqueue(vec![notice(2)], now);
        let list = n.list(&DeliveryFilter::default());
        assert_eq!(list["deliveries"][0]["id"], 2);
        assert_eq!(list["dropped"], 2);
    }

    #[test]
    fn the_queues_give_what_is_due_by_id_and_skip_deliveries_that_moved_on() {
        let t0: Timestamp = "2026-11-25T10:00:00Z".parse().unwrap();
        let at = |s: i64| t0.saturating_add(SignedDuration::from_secs(s)).unwrap();
        let delivery = |id: u64, stage: Stage, due: i64| {
            let body = Arc::new(b"{}".to_vec());
            Delivery::new((id, id), notice(0), body, stage, at(due))
        };
        let mut deliveries = BTreeMap::new();
        let mut queues = Queues::default();
        for d in [
            delivery(1, Stage::Pending, 5),
            delivery(2, Stage::Pending, 1),
            delivery(3, Stage::Delivered, 0),
            delivery(4, Stage::Pending, 0),
            delivery(5, Stage::Pending, 0),
            delivery(6, Stage::Pending, 15),
            delivery(7, Stage::Failed, 0),
        ] {
            queues.note(&d);
            deliveries.insert(d.id, Box::new(d));
        }
        assert_eq!(queues.done.iter().copied().collect::<Vec<_>>(), [3, 7]);
        // 5 went in flight and 1 was put off without the queues being told; 4 is evicted.
        deliveries.get_mut(&5).unwrap().stage = Stage::InFlight;
        let d = deliveries.get_mut(&1).unwrap();
        d.next_due = at(20);
        queues.note(d);
        let gone = deliveries.remove(&4).unwrap();
        queues.forget(&gone);
        assert_eq!(queues.take_due(&deliveries, at(10)), [2]);
        assert_eq!(queues.take_due(&deliveries, at(10)), Vec::<u64>::new());
        assert_eq!(queues.take_due(&deliveries, at(30)), [1, 6]);
        assert!(queues.due.is_empty());
    }

    #[test]
    fn a_payment_moved_on_while_its_notification_is_in_flight_gets_the_resend_sooner() {
        let n = notifier();
        let now = Timestamp::now();
        let mut payment_notice = notice(0);
        payment_notice.body = json!({ "paymentId": "P1" });
        n.enqueue(vec![payment_notice, notice(1)], now);
        assert_eq!(
            n.take_due(now).iter().flatten().count(),
            2,
            "both in flight"
        );
        // The flow answered the first attempt with a failure and moved P1 on two minutes
        // before the notifier recorded that answer.
        n.age_payment("P1", SignedDuration::from_mins(2));
        for id in [1, 2] {
            n.record(id, Attempt::failed(now, "x", String::new()), Some(false));
        }
        let due: Vec<u64> = n.take_due(now).iter().flatten().map(|j| j.id).collect();
        assert_eq!(
            due,
            [1],
            "P1's resend is due now, the other's in two minutes"
        );
    }

    #[test]
    fn a_duplicated_send_is_in_flight_until_its_last_copy() {
        let n = notifier();
        let now = Timestamp::now();
        n.enqueue(vec![notice(0)], now);
        assert_eq!(n.take_due(now).len(), 1);
        let acked = || Attempt {
            acknowledged: true,
            ..Attempt::failed(now, "x", String::new())
        };
        let state =
            |n: &Notifier| n.list(&DeliveryFilter::default())["deliveries"][0]["state"].clone();
        n.record(1, acked(), None);
        assert_eq!(state(&n), "in_flight");
        n.record(1, Attempt::failed(now, "x", String::new()), Some(true));
        assert_eq!(state(&n), "delivered");
    }

    #[test]
    fn answers_are_cut_at_a_character_boundary() {
        assert_eq!(truncated(b"short", MAX_ANSWER), "short");
        let long = "\u{e9}".repeat(MAX_ANSWER);
        let cut = truncated(long.as_bytes(), MAX_ANSWER);
        assert_eq!(cut.len(), MAX_ANSWER);
        assert_eq!(truncated("a\u{e9}".as_bytes(), 2), "a");
    }
}
