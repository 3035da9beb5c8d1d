//! The sandbox state: payments, idempotency records and the token vault behind one mutex, with
//! one `handle_*` method per API and per hosted-page action. This is the only mutator.
//!
//! Every method takes the lock, does its work synchronously and returns the response body plus
//! the [`Notice`]s to send; the caller hands those to the notifier after the lock is gone. No
//! lock is ever held across an await or an outbound call. Because the check and the insert of
//! an idempotency key happen under the same lock, concurrent duplicates create one payment.
//!
//! With a state file, the payments and tokens a method changed are queued for it as the lock
//! is let go ([`Locked`]'s drop): a payment's row carries the idempotency records that name it.

use std::borrow::Cow;
use std::collections::HashMap;
use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Mutex, MutexGuard};

use jiff::Timestamp;
use serde_json::Value;

use super::cards::CardProfile;
use super::clock::Clock;
use super::error::ApoError;
use super::payment::{ChallengeAnswer, Next, Notice, Payment, Status};
use super::payment_index::{PaymentIndex, Place};
use super::persist::{Meta, Saved, StateFile, Table};
use super::tokens::Vault;
use super::validate::{self, Money, PaymentRef, RefundRef};
use crate::apo::result::ResultCode;

/// What an API handler returns: the response body and the notifications to send.
pub type Handled = Result<(Value, Vec<Notice>), ApoError>;

/// A repeated capture or refund (same request id) is the same call when the payment and amount
/// match; else REPEAT_REQ_INCONSISTENT with `inconsistent` as the message.
fn same_call(
    (stored_payment, stored_amount): (&str, &Money),
    (payment_id, amount): (&str, &Money),
    inconsistent: &str,
) -> Result<(), ApoError> {
    if stored_payment != payment_id || stored_amount != amount {
        return Err(ApoError::with(
            ResultCode::RepeatReqInconsistent,
            inconsistent,
        ));
    }
    Ok(())
}

/// How many payments the sandbox keeps. Beyond it the oldest finished payment (failed,
/// cancelled, or captured and refunded in full) is forgotten, with its idempotency records, or,
/// when none is finished, the oldest one; evictions are counted (`GET /_sandbox/health`).
pub const MAX_PAYMENTS: usize = 10_000;

/// The magic amount that risk control rejects (docs.antom.com/ac/ref/card).
pub const RISK_REJECT_AMOUNT: u64 = 11;

#[derive(Debug, Default)]
struct Store {
    /// Boxed: a payment is about 860 bytes, and a map of 10 000 that keeps evicting and
    /// inserting doubles its table once; inline values made that step about 14 MB.
    payments: HashMap<String, Box<Payment>>,
    /// (client id, paymentRequestId) → paymentId.
    by_request: HashMap<(String, String), String>,
    /// (client id, captureRequestId) → (paymentId, capture index, amount).
    captures: HashMap<(String, String), (String, usize, Money)>,
    /// (client id, refundRequestId) → (paymentId, refund index, amount).
    refunds: HashMap<(String, String), (String, usize, Money)>,
    /// refundId → (client id, refundRequestId).
    refund_ids: HashMap<String, (String, String)>,
    vault: Vault,
    /// Notices from time-driven transitions noticed during an API call; the notifier's sweep
    /// collects them, so they go out even when the call itself fails.
    outbox: Vec<Notice>,
    /// Payments forgotten to stay within the limit.
    evicted: u64,
    /// Payments changed (or forgotten) under the current lock, for the index and the state
    /// file: every change to a payment notes it here.
    dirty: Vec<String>,
    /// The payments by age and by due time, as of the last lock (see [`Store::reindex`]).
    index: PaymentIndex,
}

/// A payment's row in the state file: the payment and the idempotency records that name it
/// (`by_request` and `refund_ids` follow from the payment).
#[derive(serde::Serialize, serde::Deserialize)]
struct PaymentRow<'a> {
    /// Borrowed when written (no copy under the lock), owned when read back.
    payment: Cow<'a, Payment>,
    /// (captureRequestId, capture index, amount).
    captures: Vec<(String, usize, Money)>,
    /// (refundRequestId, refund index, amount).
    refunds: Vec<(String, usize, Money)>,
}

/// Where a payment stands in the [`PaymentIndex`].
fn place(p: &Payment) -> Place {
    Place {
        created: p.created,
        finished: p.is_finished(),
        due: p.next_due(),
    }
}

/// Runs the payment's due time-driven transitions, noting it in `dirty` when they changed it.
fn tick(
    p: &mut Payment,
    vault: &mut Vault,
    now: Timestamp,
    dirty: &mut Vec<String>,
) -> Vec<Notice> {
    let before = p.time_state();
    let notices = p.tick(vault, now);
    if p.time_state() != before {
        dirty.push(p.id.clone());
    }
    notices
}

impl Store {
    /// The store of a state file's payment rows and token rows.
    fn restore(payments: Vec<Vec<u8>>, tokens: Vec<(String, Vec<u8>)>) -> Result<Self, String> {
        let mut store = Store {
            vault: Vault::restore(tokens)?,
            ..Store::default()
        };
        for (n, row) in payments.into_iter().enumerate() {
            let row: PaymentRow = serde_json::from_slice(&row)
                .map_err(|e| format!("payment row {}: unreadable: {e}", n + 1))?;
            let p = row.payment.into_owned();
            let client = &p.client_id;
            store.by_request.insert(
                (client.clone(), p.req.payment_request_id.clone()),
                p.id.clone(),
            );
            for (rid, index, amount) in row.captures {
                store
                    .captures
                    .insert((client.clone(), rid), (p.id.clone(), index, amount));
            }
            for (rid, index, amount) in row.refunds {
                if let Some((txn, _)) = p.refunds.get(index) {
                    store
                        .refund_ids
                        .insert(txn.id.clone(), (client.clone(), rid.clone()));
                }
                store
                    .refunds
                    .insert((client.clone(), rid), (p.id.clone(), index, amount));
            }
            store.index.set(&p.id, place(&p));
            store.payments.insert(p.id.clone(), Box::new(p));
        }
        Ok(store)
    }

    /// Brings the index up to date with the payments changed (or forgotten) so far.
    fn reindex(&mut self) {
        for id in &self.dirty {
            match self.payments.get(id) {
                Some(p) => self.index.set(id, place(p)),
                None => self.index.remove(id),
            }
        }
    }

    /// The payment's row for the state file; `None` when it is not kept.
    fn row(&self, id: &str) -> Option<Vec<u8>> {
        let p = self.payments.get(id)?;
        let record = |map: &HashMap<(String, String), (String, usize, Money)>,
                      i: usize,
                      rid: &str| {
            match map.get(&(p.client_id.clone(), rid.to_owned())) {
                Some((pid, index, amount)) if pid == id && *index == i => {
                    Some((rid.to_owned(), i, amount.clone()))
                }
                _ => None,
            }
        };
        let row = PaymentRow {
            payment: Cow::Borrowed(p),
            captures: (p.captures.iter().enumerate())
                .filter_map(|(i, t)| record(&self.captures, i, &t.request_id))
                .collect(),
            refunds: (p.refunds.iter().enumerate())
                .filter_map(|(i, (t, _))| record(&self.refunds, i, &t.request_id))
                .collect(),
        };
        serde_json::to_vec(&row).ok()
    }

    /// Makes room for one more payment under `limit`: forgets the oldest finished payment,
    /// else the oldest, with every record that names it.
    fn make_room(&mut self, limit: usize) {
        if self.payments.len() < limit.max(1) {
            return;
        }
        self.reindex();
        while self.payments.len() >= limit.max(1) {
            let Some(id) = self.index.victim().map(str::to_owned) else {
                return;
            };
            self.forget(&id);
        }
    }

    /// Removes a payment and its idempotency records (each names a capture or refund of the
    /// payment, so they are found from it).
    fn forget(&mut self, id: &str) {
        let Some(p) = self.payments.remove(id) else {
            return;
        };
        self.index.remove(id);
        self.evicted += 1;
        self.dirty.push(id.to_owned());
        let client = &p.client_id;
        self.by_request
            .remove(&(client.clone(), p.req.payment_request_id.clone()));
        let names_it =
            |record: Option<&(String, usize, Money)>| record.is_some_and(|(pid, ..)| pid == id);
        for t in &p.captures {
            let key = (client.clone(), t.request_id.clone());
            if names_it(self.captures.get(&key)) {
                self.captures.remove(&key);
            }
        }
        for (t, _) in &p.refunds {
            let key = (client.clone(), t.request_id.clone());
            if names_it(self.refunds.get(&key)) {
                if self.refund_ids.get(&t.id) == Some(&key) {
                    self.refund_ids.remove(&t.id);
                }
                self.refunds.remove(&key);
            }
        }
    }

    /// The client's payment, after its due time-driven transitions (whose notices go to the
    /// outbox).
    fn ticked(&mut self, client: &str, r: &PaymentRef, now: Timestamp) -> Option<&mut Payment> {
        let id = match r {
            PaymentRef::Id(id) => id.clone(),
            PaymentRef::RequestId(rid) => self
                .by_request
                .get(&(client.to_owned(), rid.clone()))?
                .clone(),
        };
        let p = self
            .payments
            .get_mut(&id)
            .filter(|p| p.client_id == client)?;
        self.outbox
            .extend(tick(p, &mut self.vault, now, &mut self.dirty));
        Some(p)
    }
}

/// Why a hosted-page action could not happen.
#[derive(Debug, Clone)]
pub enum PageError {
    /// No such payment.
    NotFound,
    /// The payment is no longer waiting for this action.
    NotWaiting(Box<Payment>),
}

/// A page action's result (where to go next and the payment as it now stands) and the notices
/// to send, which exist even when the action was refused (an expiry noticed on the way).
pub type PageResult = (Result<(Next, Box<Payment>), PageError>, Vec<Notice>);

/// The store under its lock; when the lock is let go, what changed goes to the state file
/// (if any): the lock is held while rows are queued, never while they are written.
struct Locked<'a> {
    store: MutexGuard<'a, Store>,
    file: Option<&'a StateFile>,
}

impl Deref for Locked<'_> {
    type Target = Store;
    fn deref(&self) -> &Store {
        &self.store
    }
}

impl DerefMut for Locked<'_> {
    fn deref_mut(&mut self) -> &mut Store {
        &mut self.store
    }
}

impl Drop for Locked<'_> {
    fn drop(&mut self) {
        let store = &mut *self.store;
        store.reindex();
        let mut dirty = std::mem::take(&mut store.dirty);
        let tokens = store.vault.take_changed();
        let Some(file) = self.file else { return };
        dirty.sort_unstable();
        dirty.dedup();
        for id in &dirty {
            file.set(Table::Payments, id.clone(), store.row(id));
        }
        for token in tokens {
            let row = store.vault.row(&token);
            file.set(Table::Tokens, token, row);
        }
        if !dirty.is_empty() {
            file.set_meta(
                Meta::PaymentsEvicted,
                i64::try_from(store.evicted).unwrap_or(i64::MAX),
            );
        }
    }
}

/// How much the state holds (`GET /_sandbox/health`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    /// Payments kept.
    pub payments: usize,
    /// Payments forgotten to stay within the limit.
    pub evicted: u64,
    /// Card tokens kept.
    pub tokens: usize,
}

/// The sandbox state. Create one per sandbox.
#[derive(Debug)]
pub struct State {
    store: Mutex<Store>,
    max_payments: usize,
    /// The virtual clock.
    pub clock: Clock,
    base_url: String,
    /// Where every change is also written (`--state FILE`).
    file: Option<Arc<StateFile>>,
}

impl State {
    /// An empty state whose hosted pages live under `base_url` (no trailing slash).
    pub fn new(base_url: String) -> Self {
        Self::with_limit(base_url, MAX_PAYMENTS)
    }

    /// An empty state that keeps at most `max_payments` payments.
    pub fn with_limit(base_url: String, max_payments: usize) -> Self {
        State {
            store: Mutex::default(),
            max_payments,
            clock: Clock::default(),
            base_url,
            file: None,
        }
    }

    /// The state saved in a state file (its payments, tokens, clock and eviction count; the
    /// rows are taken out of `saved`), writing every later change to it. An unreadable row is
    /// an error naming it.
    pub fn restore(
        base_url: String,
        file: Arc<StateFile>,
        saved: &mut Saved,
    ) -> Result<Self, String> {
        let mut store = Store::restore(
            std::mem::take(&mut saved.payments),
            std::mem::take(&mut saved.tokens),
        )?;
        store.evicted = u64::try_from(saved.meta(Meta::PaymentsEvicted)).unwrap_or(0);
        Ok(State {
            store: Mutex::new(store),
            max_payments: MAX_PAYMENTS,
            clock: Clock::with_offset_ms(saved.meta(Meta::ClockOffsetMs)),
            base_url,
            file: Some(file),
        })
    }

    fn lock(&self) -> Locked<'_> {
        // A panic while holding the lock cannot leave a half-applied change that matters
        // more than refusing every later request, so keep serving.
        Locked {
            store: self.store.lock().unwrap_or_else(|e| e.into_inner()),
            file: self.file.as_deref(),
        }
    }

    /// Forgets every payment, token and idempotency record (in the state file too), and
    /// resets the clock.
    pub fn reset(&self) {
        let mut store = self.lock();
        *store = Store::default();
        if let Some(file) = &self.file {
            file.clear(Table::Payments);
            file.clear(Table::Tokens);
            file.set_meta(Meta::PaymentsEvicted, 0);
            file.set_meta(Meta::ClockOffsetMs, 0);
        }
        self.clock.reset();
    }

    /// Moves the virtual clock forward (and keeps its offset in the state file).
    pub fn advance_clock(&self, by: jiff::SignedDuration) {
        self.clock.advance(by);
        if let Some(file) = &self.file {
            file.set_meta(Meta::ClockOffsetMs, self.clock.offset_ms());
        }
    }

    /// Makes one payment `by` older, the clock unchanged (`advance_clock` with `of:`): what
    /// would come due for it within `by` happens now. The notices of what it did; `None` for
    /// an unknown payment.
    pub fn age_payment(&self, id: &str, by: jiff::SignedDuration) -> Option<Vec<Notice>> {
        self.change_payment(id, |p, vault, now| {
            p.age(by);
            p.tick(vault, now)
        })
    }

    /// Runs `f` on payment `id` under the lock, with the vault and the virtual time, and
    /// notes the payment as changed; `None` for an unknown payment.
    fn change_payment<R>(
        &self,
        id: &str,
        f: impl FnOnce(&mut Payment, &mut Vault, Timestamp) -> R,
    ) -> Option<R> {
        let now = self.clock.now();
        let mut store = self.lock();
        let Store {
            payments,
            vault,
            dirty,
            ..
        } = &mut *store;
        let p = payments.get_mut(id)?;
        dirty.push(p.id.clone());
        Some(f(p, vault, now))
    }

    /// pay. Without a `paymentNotifyUrl`, notifications go to `default_notify_url` (the
    /// client's dashboard-level URL), and with neither none are sent.
    pub fn handle_pay(
        &self,
        client: &str,
        body: &Value,
        default_notify_url: Option<&str>,
    ) -> Handled {
        let now = self.clock.now();
        let mut req = validate::pay(body, now)?;
        validate::contract(&req)?;
        if req.notify_url.is_none() {
            req.notify_url = default_notify_url.map(str::to_owned);
        }
        let mut store = self.lock();
        let key = (client.to_owned(), req.payment_request_id.clone());
        if let Some(id) = store.by_request.get(&key).cloned() {
            let p = store
                .payments
                .get(&id)
                .ok_or_else(|| ApoError::new(ResultCode::OrderNotExist))?;
            if !p.same_key(&req) {
                return Err(ApoError::with(
                    ResultCode::RepeatReqInconsistent,
                    "The paymentRequestId was used with a different amount, currency or paymentMethodId.",
                ));
            }
            let p = store
                .ticked(client, &PaymentRef::Id(id), now)
                .ok_or_else(|| ApoError::new(ResultCode::OrderNotExist))?;
            return Ok((p.pay_body(), Vec::new()));
        }
        let saved = match &req.payment_method_id {
            None => None,
            Some(token) => match store.vault.card(client, token) {
                Some(card) => Some((token.clone(), card.clone())),
                None => {
                    return Err(ApoError::param(
                        "paymentMethod.paymentMethodId",
                        "unknown card token for this client id (use the cardToken of an earlier payment)",
                    ));
                }
            },
        };
        let id = format!("P{}", uuid::Uuid::new_v4().simple());
        let normal_url = format!("{}/page/pay/{id}", self.base_url);
        let risk = req.amount.value == RISK_REJECT_AMOUNT;
        let mut payment = Payment::new(id.clone(), client, req, normal_url, saved, now);
        if risk {
            payment.reject();
        }
        let body = payment.pay_body();
        store.make_room(self.max_payments);
        store.by_request.insert(key, id.clone());
        store.dirty.push(id.clone());
        store.payments.insert(id, Box::new(payment));
        Ok((body, Vec::new()))
    }

    /// inquiryPayment.
    pub fn handle_inquiry_payment(&self, client: &str, body: &Value) -> Handled {
        let r = validate::payment_ref(body)?;
        let now = self.clock.now();
        let mut store = self.lock();
        let p = store
            .ticked(client, &r, now)
            .ok_or_else(|| ApoError::new(ResultCode::OrderNotExist))?;
        Ok((p.inquiry_body(), Vec::new()))
    }

    /// capture.
    pub fn handle_capture(&self, client: &str, body: &Value) -> Handled {
        let req = validate::capture(body)?;
        let now = self.clock.now();
        let mut store = self.lock();
        let key = (client.to_owned(), req.capture_request_id.clone());
        if let Some((pid, index, amount)) = store.captures.get(&key).cloned() {
            same_call(
                (&pid, &amount),
                (&req.payment_id, &req.amount),
                "The captureRequestId was used with a different paymentId or captureAmount.",
            )?;
            // The capture as it now stands (a slow one may have settled since).
            let p = store
                .ticked(client, &PaymentRef::Id(pid), now)
                .ok_or_else(|| ApoError::new(ResultCode::AuthNotFound))?;
            let body = p
                .capture_answer(index)
                .ok_or_else(|| ApoError::new(ResultCode::AuthNotFound))?;
            return Ok((body, Vec::new()));
        }
        let p = store
            .ticked(client, &PaymentRef::Id(req.payment_id.clone()), now)
            .ok_or_else(|| ApoError::new(ResultCode::AuthNotFound))?;
        let (body, notices) = p.capture(&req, now)?;
        let index = p.captures.len() - 1;
        store.dirty.push(req.payment_id.clone());
        store
            .captures
            .insert(key, (req.payment_id, index, req.amount));
        Ok((body, notices))
    }

    /// cancel.
    pub fn handle_cancel(&self, client: &str, body: &Value) -> Handled {
        let r = validate::payment_ref(body)?;
        let now = self.clock.now();
        let mut store = self.lock();
        let p = store
            .ticked(client, &r, now)
            .ok_or_else(|| ApoError::new(ResultCode::OrderNotExist))?;
        let id = p.id.clone();
        let answer = p.cancel(now)?;
        store.dirty.push(id);
        Ok((answer, Vec::new()))
    }

    /// refund. Without a `refundNotifyUrl`, REFUND_RESULT goes to `default_notify_url` (the
    /// client's dashboard-level URL, which `refundNotifyUrl` overrides: reference §7.1), and
    /// with neither none is sent.
    pub fn handle_refund(
        &self,
        client: &str,
        body: &Value,
        default_notify_url: Option<&str>,
    ) -> Handled {
        let mut req = validate::refund(body)?;
        if req.notify_url.is_none() {
            req.notify_url = default_notify_url.map(str::to_owned);
        }
        let now = self.clock.now();
        let mut store = self.lock();
        let key = (client.to_owned(), req.refund_request_id.clone());
        if let Some((pid, index, amount)) = store.refunds.get(&key).cloned() {
            same_call(
                (&pid, &amount),
                (&req.payment_id, &req.amount),
                "The refundRequestId was used with a different paymentId or refundAmount.",
            )?;
            // The refund as it now stands (a slow one may have settled since).
            let p = store
                .ticked(client, &PaymentRef::Id(pid), now)
                .ok_or_else(|| ApoError::new(ResultCode::OrderNotExist))?;
            let body = p
                .refund_answer(index)
                .ok_or_else(|| ApoError::new(ResultCode::OrderNotExist))?;
            return Ok((body, Vec::new()));
        }
        let p = store
            .ticked(client, &PaymentRef::Id(req.payment_id.clone()), now)
            .ok_or_else(|| ApoError::new(ResultCode::OrderNotExist))?;
        let (body, notices) = p.refund(&req, now)?;
        let index = p.refunds.len() - 1;
        let refund_id = p.refunds[index].0.id.clone();
        store.dirty.push(req.payment_id.clone());
        store.refund_ids.insert(refund_id, key.clone());
        store
            .refunds
            .insert(key, (req.payment_id, index, req.amount));
        Ok((body, notices))
    }

    /// inquiryRefund.
    pub fn handle_inquiry_refund(&self, client: &str, body: &Value) -> Handled {
        let r = validate::refund_ref(body)?;
        let mut store = self.lock();
        let key = match r {
            RefundRef::RequestId(rid) => (client.to_owned(), rid),
            RefundRef::Id(id) => match store.refund_ids.get(&id) {
                Some(k) if k.0 == client => k.clone(),
                _ => return Err(ApoError::new(ResultCode::OrderNotExist)),
            },
        };
        let (pid, index, _) = store
            .refunds
            .get(&key)
            .cloned()
            .ok_or_else(|| ApoError::new(ResultCode::OrderNotExist))?;
        let now = self.clock.now();
        let body = store
            .ticked(client, &PaymentRef::Id(pid), now)
            .and_then(|p| p.refund_inquiry_body(index))
            .ok_or_else(|| ApoError::new(ResultCode::OrderNotExist))?;
        Ok((body, Vec::new()))
    }

    /// The paymentId a call is about: its `paymentId`, else the payment of its
    /// `paymentRequestId`, else the payment refunded by its `refundRequestId` or `refundId`
    /// (for this client); `None` when the call names no payment the sandbox knows.
    pub fn payment_of(&self, client: &str, body: &Value) -> Option<String> {
        let field = |name: &str| body.get(name).and_then(Value::as_str);
        if let Some(id) = field("paymentId") {
            return Some(id.to_owned());
        }
        let store = self.lock();
        if let Some(rid) = field("paymentRequestId") {
            return store
                .by_request
                .get(&(client.to_owned(), rid.to_owned()))
                .cloned();
        }
        let key = match (field("refundRequestId"), field("refundId")) {
            (Some(rid), _) => (client.to_owned(), rid.to_owned()),
            (None, Some(id)) => store.refund_ids.get(id).filter(|k| k.0 == client)?.clone(),
            (None, None) => return None,
        };
        store.refunds.get(&key).map(|(pid, ..)| pid.clone())
    }

    /// Authorizes the client's payment at once (an error scenario forcing a synchronous `S`
    /// on pay; see [`Payment::authorize_at_once`]), with `card` unless it has a saved one.
    /// Returns its pay answer and the notices; `None` for an unknown payment.
    pub fn authorize_now(
        &self,
        client: &str,
        payment_id: &str,
        card: CardProfile,
    ) -> Option<(Value, Vec<Notice>)> {
        self.change_payment(payment_id, |p, vault, now| {
            (p.client_id == client).then(|| {
                let mut notices = p.tick(vault, now);
                notices.extend(p.authorize_at_once(card, vault, now));
                (p.pay_body(), notices)
            })
        })
        .flatten()
    }

    /// Time-driven transitions of every payment whose time has come (expiry, slow
    /// authorizations, settling captures and refunds: the index knows which), plus the
    /// notices of transitions noticed during API calls.
    pub fn sweep(&self) -> Vec<Notice> {
        let now = self.clock.now();
        let mut store = self.lock();
        let Store {
            payments,
            vault,
            outbox,
            dirty,
            index,
            ..
        } = &mut *store;
        let mut notices = std::mem::take(outbox);
        for id in index.due_by(now) {
            match payments.get_mut(&*id) {
                Some(p) => {
                    notices.extend(tick(p, vault, now, dirty));
                    index.set(&id, place(p));
                }
                None => index.remove(&id),
            }
        }
        notices
    }

    /// The payment as the hosted page shows it (after due time-driven transitions).
    pub fn page_payment(&self, id: &str) -> (Option<Payment>, Vec<Notice>) {
        let now = self.clock.now();
        let mut store = self.lock();
        let Store {
            payments,
            vault,
            dirty,
            ..
        } = &mut *store;
        match payments.get_mut(id) {
            None => (None, Vec::new()),
            Some(p) => {
                let notices = tick(p, vault, now, dirty);
                (Some(Payment::clone(p)), notices)
            }
        }
    }

    /// How many payments and tokens are kept, and how many payments were forgotten to stay
    /// within the limit.
    pub fn counts(&self) -> Counts {
        let store = self.lock();
        Counts {
            payments: store.payments.len(),
            evicted: store.evicted,
            tokens: store.vault.len(),
        }
    }

    /// The state file, if the state is kept in one.
    pub fn file(&self) -> Option<&StateFile> {
        self.file.as_deref()
    }

    /// The payment's `paymentRedirectUrl` (no time-driven transition runs).
    pub fn redirect_url(&self, id: &str) -> Option<String> {
        self.lock()
            .payments
            .get(id)
            .map(|p| p.req.redirect_url.clone())
    }

    /// The buyer submitted a valid card.
    pub fn handle_card(&self, id: &str, card: CardProfile, consent: bool) -> PageResult {
        self.page_action(id, |p, vault, now| {
            if p.is_saved_card() || p.awaiting_challenge || p.card.is_some() || p.three_ds_failed {
                return Err(());
            }
            Ok(p.enter_card(card, consent, vault, now))
        })
    }

    /// The buyer confirmed a saved-card payment.
    pub fn handle_confirm_saved(&self, id: &str) -> PageResult {
        self.page_action(id, |p, vault, now| {
            if !p.is_saved_card()
                || p.awaiting_challenge
                || p.pending_until.is_some()
                || p.three_ds_failed
            {
                return Err(());
            }
            Ok(p.confirm_saved(vault, now))
        })
    }

    /// The buyer answered the 3-D Secure challenge.
    pub fn handle_challenge(&self, id: &str, answer: ChallengeAnswer) -> PageResult {
        self.page_action(id, |p, vault, now| {
            if !p.awaiting_challenge {
                return Err(());
            }
            Ok(p.answer_challenge(answer, vault, now))
        })
    }

    fn page_action(
        &self,
        id: &str,
        f: impl FnOnce(&mut Payment, &mut Vault, Timestamp) -> Result<(Next, Vec<Notice>), ()>,
    ) -> PageResult {
        let acted = self.change_payment(id, |p, vault, now| {
            let mut notices = p.tick(vault, now);
            p.reopen_for_buyer(now);
            if p.status != Status::Processing {
                return (Err(PageError::NotWaiting(Box::new(p.clone()))), notices);
            }
            match f(p, vault, now) {
                Ok((next, n)) => {
                    notices.extend(n);
                    (Ok((next, Box::new(p.clone()))), notices)
                }
                Err(()) => (Err(PageError::NotWaiting(Box::new(p.clone()))), notices),
            }
        });
        acted.unwrap_or((Err(PageError::NotFound), Vec::new()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A MANUAL-capture pay to `notify` (or without a `paymentNotifyUrl`).
    fn pay_body(notify: Option<&str>) -> Value {
        let mut body = json!({
            "productCode": "CASHIER_PAYMENT", "paymentRequestId": "r1",
            "paymentAmount": {"currency": "USD", "value": "1000"},
            "paymentMethod": {"paymentMethodType": "CARD"},
            "paymentFactor": {"isAuthorization": true, "captureMode": "MANUAL"},
            "paymentRedirectUrl": "https://m.example/back",
            "paymentNotifyUrl": notify,
            "order": {"referenceOrderId": "o", "orderDescription": "d",
                      "orderAmount": {"currency": "USD", "value": "1000"}, "buyer": {"buyerEmail": "a@b.c"}},
            "env": {"terminalType": "WEB", "clientIp": "1.1.1.1"}
        });
        if let (Some(o), None) = (body.as_object_mut(), notify) {
            o.remove("paymentNotifyUrl");
        }
        body
    }

    #[test]
    fn payments_beyond_the_limit_evict_the_oldest_finished_first() {
        let state = State::with_limit("http://127.0.0.1:1".to_owned(), 3);
        let pay = |rid: &str, value: &str| {
            let mut body = pay_body(None);
            body["paymentRequestId"] = json!(rid);
            body["paymentAmount"]["value"] = json!(value);
            body["order"]["orderAmount"]["value"] = json!(value);
            state.handle_pay("C", &body, None).unwrap().0
        };
        let waiting = pay("a", "1000");
        let rejected = pay("b", "11"); // RISK_REJECT: finished
        pay("c", "1000");
        pay("d", "1000");
        let counts = |s: &State| (s.counts().payments, s.counts().evicted);
        assert_eq!(counts(&state), (3, 1));
        let inquire = |rid: &str| {
            state
                .handle_inquiry_payment("C", &json!({ "paymentRequestId": rid }))
                .map(|(b, _)| b)
        };
        assert_eq!(
            inquire("b").unwrap_err().code,
            ResultCode::OrderNotExist,
            "{rejected}"
        );
        assert_eq!(inquire("a").unwrap()["paymentId"], waiting["paymentId"]);
        // None finished: the oldest goes.
        pay("e", "1000");
        assert_eq!(counts(&state), (3, 2));
        assert_eq!(inquire("a").unwrap_err().code, ResultCode::OrderNotExist);
    }

    #[test]
    fn a_restored_state_keeps_payments_and_their_idempotency_records() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        let (file, mut saved) = StateFile::open(&path).unwrap();
        let state =
            State::restore("http://127.0.0.1:1".into(), Arc::new(file), &mut saved).unwrap();
        let (pay, _) = state.handle_pay("C", &pay_body(None), None).unwrap();
        let pid = pay["paymentId"].clone();
        state
            .authorize_now("C", pid.as_str().unwrap(), test_card())
            .unwrap();
        let capture = json!({"captureRequestId": "c1", "paymentId": pid,
                             "captureAmount": {"currency": "USD", "value": "1000"}});
        let (captured, _) = state.handle_capture("C", &capture).unwrap();
        let refund = json!({"refundRequestId": "f1", "paymentId": pid,
                            "refundAmount": {"currency": "USD", "value": "300"}});
        let (refunded, _) = state.handle_refund("C", &refund, None).unwrap();
        state.file().unwrap().flush().unwrap();
        let inquiry = state
            .handle_inquiry_payment("C", &json!({ "paymentId": pid }))
            .unwrap()
            .0;
        drop(state);

        let (file, mut saved) = StateFile::open(&path).unwrap();
        let state =
            State::restore("http://127.0.0.1:1".into(), Arc::new(file), &mut saved).unwrap();
        let again = |api: fn(&State, &str, &Value) -> Handled, body: &Value| {
            api(&state, "C", body).unwrap().0
        };
        assert_eq!(
            again(State::handle_inquiry_payment, &json!({ "paymentId": pid })),
            inquiry
        );
        let repeated = state.handle_pay("C", &pay_body(None), None).unwrap().0;
        assert_eq!(repeated["paymentId"], pid);
        assert_eq!(again(State::handle_capture, &capture), captured);
        let repeated = state.handle_refund("C", &refund, None).unwrap().0;
        assert_eq!(repeated, refunded);
        let by_id = json!({ "refundId": refunded["refundId"] });
        assert_eq!(
            again(State::handle_inquiry_refund, &by_id)["refundRequestId"],
            "f1"
        );
        let mut changed = capture.clone();
        changed["captureAmount"]["value"] = json!("999");
        let err = state.handle_capture("C", &changed).unwrap_err();
        assert_eq!(err.code, ResultCode::RepeatReqInconsistent);
    }

    fn test_card() -> CardProfile {
        CardProfile::from_number("4054695723100768", "X")
    }

    #[test]
    fn an_expiry_noticed_by_a_failing_call_is_still_notified() {
        let state = State::new("http://127.0.0.1:1".to_owned());
        let body = pay_body(Some("https://m.example/notify"));
        let (pay, _) = state.handle_pay("C", &body, None).unwrap();
        state.clock.advance(jiff::SignedDuration::from_mins(15));
        let capture = json!({"captureRequestId": "c", "paymentId": pay["paymentId"],
                             "captureAmount": {"currency": "USD", "value": "1"}});
        let err = state.handle_capture("C", &capture).unwrap_err();
        assert_eq!(err.code, ResultCode::OrderStatusInvalid);
        let notices = state.sweep();
        assert_eq!(notices.len(), 1);
        assert_eq!(notices[0].body["result"]["resultCode"], "ORDER_IS_CLOSED");
    }

    #[test]
    fn a_sweep_settles_what_an_api_call_made_due_and_only_once_it_is_due() {
        let state = State::new("http://127.0.0.1:1".to_owned());
        let (pay, _) = state
            .handle_pay("C", &pay_body(Some("https://m.example/notify")), None)
            .unwrap();
        let pid = pay["paymentId"].clone();
        state
            .authorize_now("C", pid.as_str().unwrap(), test_card())
            .unwrap();
        // A slow capture settles SETTLE_DELAY later, long before the payment would expire.
        let capture = json!({"captureRequestId": "c", "paymentId": pid,
                             "captureAmount": {"currency": "USD", "value": "22"}});
        state.handle_capture("C", &capture).unwrap();
        assert!(state.sweep().is_empty());
        state.clock.advance(super::super::payment::SETTLE_DELAY);
        let notices = state.sweep();
        let types: Vec<_> = notices.iter().map(|n| n.notify_type).collect();
        assert_eq!(types, ["CAPTURE_RESULT"]);
        assert!(state.sweep().is_empty(), "settled once");
    }

    #[test]
    fn the_default_notify_url_stands_in_for_a_missing_payment_notify_url() {
        let state = State::new("http://127.0.0.1:1".to_owned());
        let default = Some("https://m.example/dashboard");
        let mut body = pay_body(None);
        body["paymentRequestId"] = json!("a");
        state.handle_pay("C", &body, default).unwrap();
        body["paymentRequestId"] = json!("b");
        state.handle_pay("C", &body, None).unwrap();
        let mut body = pay_body(Some("https://m.example/own"));
        body["paymentRequestId"] = json!("c");
        state.handle_pay("C", &body, default).unwrap();
        state.clock.advance(jiff::SignedDuration::from_mins(15));
        let mut urls: Vec<String> = state.sweep().into_iter().map(|n| n.url).collect();
        urls.sort();
        // "b" had neither URL: no notification at all.
        assert_eq!(
            urls,
            ["https://m.example/dashboard", "https://m.example/own"]
        );
    }
}
