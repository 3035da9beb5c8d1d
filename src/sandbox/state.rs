//! The sandbox state: payments, idempotency records and the token vault behind one mutex, with
//! one `handle_*` method per API and per hosted-page action. This is the only mutator.
//!
//! Every method takes the lock, does its work synchronously and returns the response body plus
//! the [`Notice`]s to send; the caller hands those to the notifier after the lock is gone. No
//! lock is ever held across an await or an outbound call. Because the check and the insert of
//! an idempotency key happen under the same lock, concurrent duplicates create one payment.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use jiff::Timestamp;
use serde_json::Value;

use super::cards::CardProfile;
use super::clock::Clock;
use super::error::ApoError;
use super::payment::{ChallengeAnswer, Next, Notice, Payment, Status};
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
    payments: HashMap<String, Payment>,
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
}

impl Store {
    /// Makes room for one more payment under `limit`: forgets the oldest finished payment,
    /// else the oldest, with every record that names it.
    fn make_room(&mut self, limit: usize) {
        while self.payments.len() >= limit.max(1) {
            let victim = self
                .payments
                .values()
                .filter(|p| p.is_finished())
                .min_by_key(|p| p.created)
                .or_else(|| self.payments.values().min_by_key(|p| p.created))
                .map(|p| p.id.clone());
            let Some(id) = victim else { return };
            self.forget(&id);
        }
    }

    /// Removes a payment and its idempotency records.
    fn forget(&mut self, id: &str) {
        let Some(p) = self.payments.remove(id) else {
            return;
        };
        self.evicted += 1;
        self.by_request
            .remove(&(p.client_id.clone(), p.req.payment_request_id.clone()));
        self.captures.retain(|_, (pid, ..)| pid != id);
        let mut gone = Vec::new();
        self.refunds.retain(|key, (pid, ..)| {
            let keep = pid != id;
            if !keep {
                gone.push(key.clone());
            }
            keep
        });
        self.refund_ids.retain(|_, key| !gone.contains(key));
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
        self.outbox.extend(p.tick(&mut self.vault, now));
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

/// The sandbox state. Create one per sandbox.
#[derive(Debug)]
pub struct State {
    store: Mutex<Store>,
    max_payments: usize,
    /// The virtual clock.
    pub clock: Clock,
    base_url: String,
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
        }
    }

    fn lock(&self) -> MutexGuard<'_, Store> {
        // A panic while holding the lock cannot leave a half-applied change that matters
        // more than refusing every later request, so keep serving.
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Forgets every payment, token and idempotency record, and resets the clock.
    pub fn reset(&self) {
        *self.lock() = Store::default();
        self.clock.reset();
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
        store.payments.insert(id, payment);
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
        Ok((p.cancel(now)?, Vec::new()))
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
        let now = self.clock.now();
        let mut store = self.lock();
        let Store {
            payments, vault, ..
        } = &mut *store;
        let p = payments
            .get_mut(payment_id)
            .filter(|p| p.client_id == client)?;
        let mut notices = p.tick(vault, now);
        notices.extend(p.authorize_at_once(card, vault, now));
        Some((p.pay_body(), notices))
    }

    /// Time-driven transitions of every payment (expiry, slow authorizations), plus the
    /// notices of transitions noticed during API calls.
    pub fn sweep(&self) -> Vec<Notice> {
        let now = self.clock.now();
        let mut store = self.lock();
        let Store {
            payments,
            vault,
            outbox,
            ..
        } = &mut *store;
        let mut notices = std::mem::take(outbox);
        notices.extend(payments.values_mut().flat_map(|p| p.tick(vault, now)));
        notices
    }

    /// The payment as the hosted page shows it (after due time-driven transitions).
    pub fn page_payment(&self, id: &str) -> (Option<Payment>, Vec<Notice>) {
        let now = self.clock.now();
        let mut store = self.lock();
        let Store {
            payments, vault, ..
        } = &mut *store;
        match payments.get_mut(id) {
            None => (None, Vec::new()),
            Some(p) => {
                let notices = p.tick(vault, now);
                (Some(p.clone()), notices)
            }
        }
    }

    /// How many payments are kept, and how many were forgotten to stay within the limit.
    pub fn counts(&self) -> (usize, u64) {
        let store = self.lock();
        (store.payments.len(), store.evicted)
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
        let now = self.clock.now();
        let mut store = self.lock();
        let Store {
            payments, vault, ..
        } = &mut *store;
        let Some(p) = payments.get_mut(id) else {
            return (Err(PageError::NotFound), Vec::new());
        };
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
        assert_eq!(state.counts(), (3, 1));
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
        assert_eq!(state.counts(), (3, 2));
        assert_eq!(inquire("a").unwrap_err().code, ResultCode::OrderNotExist);
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
