//! The payment state machine, pure: no HTTP, no locks, no clock of its own.
//!
//! ```text
//! pay ─► PROCESSING (U PAYMENT_IN_PROCESS, normalUrl)
//!          │ card entered on the hosted page ── 3DS requested? ─► challenge ─ cancel ─► card page
//!          │                                                      │ fail ─► FAIL
//!          ▼                                                      ▼ pass
//!        authorize: test card outcome ─► SUCCESS ─ AUTOMATIC ─► captured (CAPTURE_RESULT)
//!          │          (slow card: stays PROCESSING, or PENDING with   └ MANUAL ─► capture API (partial, ≤ auth)
//!          │           PAYMENT_PENDING, then settles)
//!          │                                         ├─ cancel (before any capture) ─► CANCELLED
//!          │                                         └─ refunds (several, Σ ≤ captured)
//!          └ decline ─► FAIL          expiry with no card ─► FAIL ORDER_IS_CLOSED
//! ```
//! Every final transition yields [`Notice`]s (PAYMENT_RESULT, CAPTURE_RESULT, REFUND_RESULT)
//! that the state hands to the notifier once its lock is released.

use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};

use super::cards::{self, CardProfile, ThreeDs};
use super::clock::iso;
use super::error::ApoError;
use super::tokens::Vault;
use super::validate::{CaptureRequest, Money, PayRequest, RefundRequest, TokenizeMode};
use crate::apo::result::{ResultCode, ResultStatus, result_json};

/// How long a payment waits for the buyer when the request gives no `paymentExpiryTime`.
pub const DEFAULT_PAYMENT_EXPIRY: SignedDuration = SignedDuration::from_mins(14);
/// How long an authorization can be captured (APO: 7 days).
pub const AUTH_VALIDITY: SignedDuration = SignedDuration::from_hours(7 * 24);
/// How long after its authorization a payment can be refunded; later, REFUND_WINDOW_EXCEED.
/// A sandbox choice (APO: per the acquirer contract, UNCONFIRMED).
pub const REFUND_WINDOW: SignedDuration = SignedDuration::from_hours(365 * 24);
/// The code of a failed 3-D Secure challenge.
pub const THREE_DS_FAILED: &str = ResultCode::UserPaymentVerificationFailed.code();

/// Where a payment stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Status {
    /// Waiting for the buyer (or for a slow authorization).
    Processing,
    /// Authorized.
    Success,
    /// Declined, rejected or expired.
    Fail,
    /// Cancelled by the merchant.
    Cancelled,
}

impl Status {
    /// The `paymentStatus` wire value.
    pub fn name(self) -> &'static str {
        match self {
            Status::Processing => "PROCESSING",
            Status::Success => "SUCCESS",
            Status::Fail => "FAIL",
            Status::Cancelled => "CANCELLED",
        }
    }
}

/// The notification types APO sends.
pub const NOTIFY_TYPES: [&str; 4] = [
    "PAYMENT_RESULT",
    "PAYMENT_PENDING",
    "CAPTURE_RESULT",
    "REFUND_RESULT",
];

fn notify_type<'de, D: serde::Deserializer<'de>>(d: D) -> Result<&'static str, D::Error> {
    let [a, b, c, e] = NOTIFY_TYPES;
    super::persist::de_known(d, &[a, b, c, e, "OTHER"])
}

/// A notification to send once the state lock is released.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Notice {
    /// PAYMENT_RESULT, PAYMENT_PENDING, CAPTURE_RESULT or REFUND_RESULT ([`NOTIFY_TYPES`]), or
    /// OTHER for a one-off notification of another type.
    #[serde(deserialize_with = "notify_type")]
    pub notify_type: super::persist::Known,
    /// Where it goes.
    pub url: String,
    /// The merchant's client id (the `client-id` header).
    pub client_id: String,
    /// The body.
    pub body: Value,
}

/// Where a capture or refund stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum TxnStatus {
    /// Done.
    Success,
    /// In process until `until`, then succeeds or (`fails`) fails.
    Processing {
        /// When it settles.
        until: Timestamp,
        /// Whether it then fails.
        fails: bool,
    },
    /// Failed (PROCESS_FAIL).
    Fail,
}

impl TxnStatus {
    /// The `transactionStatus` / `refundStatus` wire value.
    pub fn name(self) -> &'static str {
        match self {
            TxnStatus::Success => "SUCCESS",
            TxnStatus::Processing { .. } => "PROCESSING",
            TxnStatus::Fail => "FAIL",
        }
    }

    /// The status a capture or refund of `amount` starts in: the magic amounts `fail` and
    /// `slow` settle [`SETTLE_DELAY`] later as FAIL or SUCCESS; any other is done at once.
    fn for_amount(amount: u64, (fail, slow): (u64, u64), now: Timestamp) -> Self {
        let until = now.saturating_add(SETTLE_DELAY).unwrap_or(now);
        match amount {
            a if a == fail => TxnStatus::Processing { until, fails: true },
            a if a == slow => TxnStatus::Processing {
                until,
                fails: false,
            },
            _ => TxnStatus::Success,
        }
    }

    /// Counts towards the captured or refunded total (not failed).
    fn counts(self) -> bool {
        self != TxnStatus::Fail
    }

    /// The `result` of the transaction's notification or `transactionResult`.
    fn result(self, in_process: ResultCode) -> Value {
        match self {
            TxnStatus::Success => ResultCode::Success.to_json(),
            TxnStatus::Processing { .. } => in_process.to_json(),
            TxnStatus::Fail => ResultCode::ProcessFail.to_json(),
        }
    }
}

/// How long a slow or failing capture or refund (see the magic amounts) stays PROCESSING.
pub const SETTLE_DELAY: SignedDuration = SignedDuration::from_secs(60);
/// Capture amounts (minor units) that settle later: (as FAIL, as SUCCESS). An AUTOMATIC
/// capture captures the payment amount, so a pay of these amounts captures this way too.
pub const CAPTURE_MAGIC: (u64, u64) = (21, 22);
/// Refund amounts (minor units) that settle later: (as FAIL, as SUCCESS).
pub const REFUND_MAGIC: (u64, u64) = (31, 32);

fn txn_kind<'de, D: serde::Deserializer<'de>>(d: D) -> Result<&'static str, D::Error> {
    super::persist::de_known(d, &["CAPTURE", "REFUND", "CANCEL"])
}

/// A capture, refund or cancel.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Txn {
    /// CAPTURE, REFUND or CANCEL.
    #[serde(deserialize_with = "txn_kind")]
    pub kind: super::persist::Known,
    /// The merchant's request id (captureRequestId / refundRequestId).
    pub request_id: String,
    /// APO's id (captureId / refundId).
    pub id: String,
    /// The amount.
    pub amount: Money,
    /// When it happened.
    pub time: Timestamp,
    /// Where it stands.
    pub status: TxnStatus,
}

impl Txn {
    /// The entry in inquiryPayment's `transactions`, with the acquirer's view of it.
    fn json(&self, acquirer: Value) -> Value {
        let in_process = match self.kind {
            "REFUND" => ResultCode::RefundInProcess,
            _ => ResultCode::CaptureInProcess,
        };
        json!({
            "transactionType": self.kind,
            "transactionStatus": self.status.name(),
            "transactionRequestId": self.request_id,
            "transactionId": self.id,
            "transactionAmount": self.amount.json(),
            "transactionTime": iso(self.time),
            "transactionResult": self.status.result(in_process),
            "acquirerInfo": acquirer,
        })
    }

    /// Settles a due capture or refund; whether it did.
    fn settle(&mut self, now: Timestamp) -> bool {
        match self.status {
            TxnStatus::Processing { until, fails } if until <= now => {
                self.status = if fails {
                    TxnStatus::Fail
                } else {
                    TxnStatus::Success
                };
                self.time = until;
                true
            }
            _ => false,
        }
    }
}

/// What the hosted page shows next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// The card form (again).
    CardPage,
    /// The 3-D Secure challenge.
    Challenge,
    /// Back to the merchant's `paymentRedirectUrl`.
    Merchant,
}

/// The buyer's answer on the 3-D Secure page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChallengeAnswer {
    /// Authenticated.
    Pass,
    /// Authentication failed.
    Fail,
    /// Closed the challenge.
    Cancel,
}

/// One payment and everything that happened to it.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Payment {
    /// APO's paymentId.
    pub id: String,
    /// The merchant that created it.
    pub client_id: String,
    /// The validated pay request.
    pub req: PayRequest,
    /// The hosted page URL.
    pub normal_url: String,
    /// Creation time.
    pub created: Timestamp,
    /// When an unpaid payment closes.
    pub expiry: Timestamp,
    /// Until when it can be captured.
    pub auth_expiry: Timestamp,
    /// Where it stands.
    pub status: Status,
    /// paymentResultCode.
    pub result_code: String,
    /// Authorization time.
    pub paid_at: Option<Timestamp>,
    /// The card entered (or behind the token).
    pub card: Option<CardProfile>,
    /// Whether the buyer ticked "save card".
    pub consent: bool,
    /// The stored card's token.
    pub token: Option<String>,
    /// Whether 3-D Secure ran, and whether the buyer was challenged.
    pub three_ds: Option<bool>,
    /// A card entered, waiting for the 3-D Secure answer.
    pub awaiting_challenge: bool,
    /// A slow authorization settles at this time.
    pub pending_until: Option<Timestamp>,
    /// Captures.
    pub captures: Vec<Txn>,
    /// Refunds, each with its notify URL.
    pub refunds: Vec<(Txn, Option<String>)>,
    /// The cancel.
    pub cancel: Option<Txn>,
    /// Cancelled by APO itself: authorized, never captured within [`AUTH_VALIDITY`].
    pub auto_cancelled: bool,
    /// The 3-D Secure challenge failed: the payment fails, and is notified, when it closes
    /// (the guide: "APO will only send an asynchronous notification after the order is
    /// closed").
    pub three_ds_failed: bool,
    /// Cancelled before the buyer submitted anything: the buyer may still pay on the hosted
    /// page until the payment would have expired (apo-api.md §4.4, quoting APO's docs).
    pub cancelled_unpaid: bool,
}

impl Payment {
    /// A new payment waiting for the buyer. A saved-card payment carries the stored card.
    pub fn new(
        id: String,
        client_id: &str,
        req: PayRequest,
        normal_url: String,
        saved: Option<(String, CardProfile)>,
        now: Timestamp,
    ) -> Self {
        let expiry = req
            .expiry
            .unwrap_or_else(|| now.saturating_add(DEFAULT_PAYMENT_EXPIRY).unwrap_or(now));
        let (token, card) = saved.unzip();
        Payment {
            id,
            client_id: client_id.to_owned(),
            req,
            normal_url,
            created: now,
            expiry,
            auth_expiry: now.saturating_add(AUTH_VALIDITY).unwrap_or(now),
            status: Status::Processing,
            result_code: ResultCode::PaymentInProcess.code().to_owned(),
            paid_at: None,
            card,
            consent: false,
            token,
            three_ds: None,
            awaiting_challenge: false,
            pending_until: None,
            captures: Vec::new(),
            refunds: Vec::new(),
            cancel: None,
            auto_cancelled: false,
            three_ds_failed: false,
            cancelled_unpaid: false,
        }
    }

    /// A payment rejected by risk control at pay time (amount "11").
    pub fn reject(&mut self) {
        self.status = Status::Fail;
        self.result_code = ResultCode::RiskReject.code().to_owned();
    }

    /// Whether a repeated pay has the same key fields (amount, currency, paymentMethodId).
    pub fn same_key(&self, other: &PayRequest) -> bool {
        self.req.amount == other.amount && self.req.payment_method_id == other.payment_method_id
    }

    /// Whether nothing can happen to the payment any more: failed, cancelled, or captured and
    /// refunded in full with nothing in process.
    pub fn is_finished(&self) -> bool {
        let settled = |t: &Txn| !matches!(t.status, TxnStatus::Processing { .. });
        match self.status {
            Status::Fail | Status::Cancelled => true,
            Status::Processing => false,
            Status::Success => {
                self.captures.iter().all(settled)
                    && self.refunds.iter().all(|(t, _)| settled(t))
                    && self.settled_captured() > 0
                    && self.refunded() == self.settled_captured()
            }
        }
    }

    /// Whether the buyer may still pay a payment cancelled before they submitted anything
    /// (until it would have expired).
    pub fn payable_after_cancel(&self, now: Timestamp) -> bool {
        self.status == Status::Cancelled && self.cancelled_unpaid && now < self.expiry
    }

    /// The buyer submits on the hosted page of a payment cancelled before they paid: the
    /// payment waits for them again, as if the cancel had not happened. Whether it did.
    pub fn reopen_for_buyer(&mut self, now: Timestamp) -> bool {
        if !self.payable_after_cancel(now) {
            return false;
        }
        self.status = Status::Processing;
        self.result_code = ResultCode::PaymentInProcess.code().to_owned();
        self.cancel = None;
        self.cancelled_unpaid = false;
        true
    }

    /// Makes the payment `by` older: every time it holds (creation, expiry, authorization,
    /// its captures', refunds' and cancel's times and settling deadlines) moves `by` earlier,
    /// so what would come due within `by` is due now, for this payment alone.
    pub fn age(&mut self, by: SignedDuration) {
        let back = |t: &mut Timestamp| *t = t.saturating_sub(by).unwrap_or(*t);
        back(&mut self.created);
        back(&mut self.expiry);
        back(&mut self.auth_expiry);
        self.paid_at.iter_mut().for_each(back);
        self.pending_until.iter_mut().for_each(back);
        let txns = (self.captures.iter_mut())
            .chain(self.refunds.iter_mut().map(|(t, _)| t))
            .chain(self.cancel.iter_mut());
        for t in txns {
            back(&mut t.time);
            if let TxnStatus::Processing { until, .. } = &mut t.status {
                back(until);
            }
        }
    }

    /// Whether the buyer enters a card (false: saved-card continuation page).
    pub fn is_saved_card(&self) -> bool {
        self.req.payment_method_id.is_some()
    }

    /// The amount captured or being captured (failed captures do not count).
    fn captured(&self) -> u64 {
        self.captures
            .iter()
            .filter(|t| t.status.counts())
            .map(|t| t.amount.value)
            .sum()
    }

    /// The amount whose capture is done: what can be refunded.
    fn settled_captured(&self) -> u64 {
        self.captures
            .iter()
            .filter(|t| t.status == TxnStatus::Success)
            .map(|t| t.amount.value)
            .sum()
    }

    /// The amount refunded or being refunded (failed refunds do not count).
    fn refunded(&self) -> u64 {
        self.refunds
            .iter()
            .filter(|(t, _)| t.status.counts())
            .map(|(t, _)| t.amount.value)
            .sum()
    }

    /// The pay response for this payment (first call and repeats alike). A failed or
    /// cancelled payment answers with `result` only, as the guide's failure sample does.
    pub fn pay_body(&self) -> Value {
        let result = match self.status {
            Status::Processing => ResultCode::PaymentInProcess,
            Status::Success => ResultCode::Success,
            Status::Fail if self.result_code == ResultCode::RiskReject.code() => {
                ResultCode::RiskReject
            }
            Status::Fail => ResultCode::OrderIsClosed,
            Status::Cancelled => ResultCode::OrderIsCanceled,
        };
        if matches!(self.status, Status::Fail | Status::Cancelled) {
            return json!({ "result": result.to_json() });
        }
        let mut body = json!({
            "result": result.to_json(),
            "paymentRequestId": self.req.payment_request_id,
            "paymentId": self.id,
            "paymentAmount": self.req.amount.json(),
            "paymentCreateTime": iso(self.created),
        });
        if self.status == Status::Processing {
            let form = json!({
                "method": "GET",
                "paymentActionFormType": "RedirectActionForm",
                "redirectUrl": self.normal_url,
            });
            body["authExpiryTime"] = json!(iso(self.auth_expiry));
            body["normalUrl"] = json!(self.normal_url);
            body["redirectActionForm"] = json!({
                "method": "GET",
                "redirectUrl": self.normal_url,
                "actionFormType": "RedirectActionForm",
            });
            body["paymentActionForm"] = json!(form.to_string());
        }
        body
    }

    fn result_info(&self) -> Option<Value> {
        let card = self.card.as_ref()?;
        if self.status == Status::Processing && self.pending_until.is_none() {
            return None;
        }
        let mut info = json!({
            "cardNo": card.masked(),
            "cardBrand": card.brand,
            "funding": card.funding,
            "issuingCountry": card.country,
            "issuerName": card.issuer,
            "cardBin": card.bin,
            "lastFour": card.last_four,
            "expiryMonth": "**",
            "expiryYear": "**",
            "cardholderName": card.holder,
            "fingerprint": card.fingerprint,
            "networkTransactionId": format!("nt_{}", &self.id[self.id.len().saturating_sub(12)..]),
            // As in the guide's samples: AVS "I" (not verified), no CVV result code.
            "avsResultRaw": "I",
            "cvvResultRaw": "",
            "cardCategory": "CONSUMER",
            "credentialTypeUsed": if self.token.is_some() && self.is_saved_card() { "NETWORK_TOKEN" } else { "PAN" },
            // The card networks' region, as in the guide's non-3DS sample (`GLOBAL`); the
            // issuing country is `issuingCountry`.
            "paymentMethodRegion": "GLOBAL",
        });
        info["threeDSResult"] = match self.three_ds {
            Some(challenged) => json!({
                "threeDSVersion": "2.2.0",
                "eci": if challenged { "05" } else { "07" },
                "cavv": "",
                "xid": format!("xid-{}", self.id),
                "threeDSType": "INTERNAL",
                "challenged": challenged,
                "challengeCancel": "",
                "threeDStransactionStatusReason": "",
                "threeDSOffered": true,
            }),
            // The guide's non-3DS sample, key for key.
            None => json!({
                "cavv": "",
                "challengeCancel": "",
                "eci": "",
                "threeDSOffered": false,
                "threeDStransactionStatusReason": "",
            }),
        };
        if let Some(token) = &self.token {
            info["cardToken"] = json!(token);
        }
        Some(info)
    }

    /// The acquirer's view of the payment; its result once the payment has one (the guide's
    /// non-3DS inquiry sample).
    fn acquirer_info(&self) -> Value {
        let mut info = json!({
            "acquirerName": "APOFLOW_SANDBOX",
            "referenceRequestId": self.req.payment_request_id,
            "acquirerTransactionId": format!("acq_{}", self.id),
            "acquirerMerchantId": format!("sandbox_{}", self.client_id),
        });
        if matches!(
            self.status,
            Status::Success | Status::Fail | Status::Cancelled
        ) {
            info["acquirerResultCode"] = json!(self.result_code);
            info["acquirerResultMessage"] = json!(self.result_message());
        }
        info
    }

    /// The acquirer's view of a capture, refund or cancel (each has its own acquirer
    /// transaction, as in the guide's inquiry sample).
    fn txn_acquirer_info(&self, txn: &Txn) -> Value {
        json!({
            "acquirerName": "APOFLOW_SANDBOX",
            "referenceRequestId": txn.request_id,
            "acquirerTransactionId": format!("act_{}", txn.id),
            "acquirerMerchantId": format!("sandbox_{}", self.client_id),
        })
    }

    /// The `paymentResultMessage`: what the sandbox did where that says more than the code's
    /// default message (apo::result), else that default.
    pub fn result_message(&self) -> &str {
        match self.result_code.as_str() {
            "ORDER_IS_CLOSED" => "The payment expired before the buyer completed it.",
            "PROCESS_FAIL" => "The card was declined by the issuer.",
            "USER_BALANCE_NOT_ENOUGH" => "Insufficient funds.",
            "DO_NOT_HONOR" => "The issuer declined the card (do not honor).",
            cards::NOT_A_TEST_CARD_CODE
                if self.card.as_ref().is_some_and(|c| c.test_card().is_none()) =>
            {
                "The card number is not a test card of this sandbox: pay with a test card, or add \
                 the card with --cards FILE."
            }
            THREE_DS_FAILED => "3-D Secure authentication failed.",
            code => ResultCode::from_code(code).map_or("The payment failed.", ResultCode::message),
        }
    }

    /// The payment's own fields, shared by the inquiryPayment response and PAYMENT_RESULT.
    fn add_payment_fields(&self, body: &mut Value) {
        for (key, value) in [
            ("paymentRequestId", json!(self.req.payment_request_id)),
            ("paymentId", json!(self.id)),
            ("paymentAmount", self.req.amount.json()),
            ("paymentCreateTime", json!(iso(self.created))),
            ("authExpiryTime", json!(iso(self.auth_expiry))),
            ("paymentMethodType", json!("CARD")),
            ("acquirerReferenceNo", json!(format!("acq_{}", self.id))),
            ("acquirerInfo", self.acquirer_info()),
        ] {
            body[key] = value;
        }
        if let Some(t) = self.paid_at {
            body["paymentTime"] = json!(iso(t));
        }
        if let Some(info) = self.result_info() {
            body["paymentResultInfo"] = info;
        }
    }

    /// The inquiryPayment response.
    pub fn inquiry_body(&self) -> Value {
        let mut body = json!({
            "result": ResultCode::Success.to_json(),
            "paymentStatus": self.status_name(),
            "paymentResultCode": self.result_code,
            "paymentResultMessage": self.result_message(),
        });
        self.add_payment_fields(&mut body);
        body["paymentRedirectUrl"] = json!(self.req.redirect_url);
        let txns: Vec<Value> = self
            .captures
            .iter()
            .chain(self.refunds.iter().map(|(t, _)| t))
            .chain(self.cancel.iter())
            .map(|t| t.json(self.txn_acquirer_info(t)))
            .collect();
        body["transactions"] = Value::Array(txns);
        if self.status == Status::Processing {
            body["redirectActionForm"] = json!({
                "method": "GET",
                "redirectUrl": self.normal_url,
                "actionFormType": "RedirectActionForm",
            });
        }
        body
    }

    fn payment_notice(&self) -> Option<Notice> {
        let url = self.req.notify_url.clone()?;
        let success = self.status == Status::Success;
        let mut body = json!({
            "notifyType": "PAYMENT_RESULT",
            "result": result_json(
                &self.result_code,
                if success {
                    ResultStatus::Success
                } else {
                    ResultStatus::Failed
                },
                self.result_message(),
            ),
        });
        self.add_payment_fields(&mut body);
        Some(self.notice("PAYMENT_RESULT", url, body))
    }

    /// Whether the buyer has paid and the final result is pending (APO's PENDING): a card
    /// whose slow authorization is marked `pending`.
    fn is_pending(&self) -> bool {
        self.status == Status::Processing
            && self.pending_until.is_some()
            && self
                .card
                .as_ref()
                .and_then(|c| c.test_card())
                .is_some_and(|c| c.pending)
    }

    /// The `paymentStatus`: the status's name, or PENDING (see [`Payment::is_pending`]).
    fn status_name(&self) -> &'static str {
        if self.is_pending() {
            "PENDING"
        } else {
            self.status.name()
        }
    }

    /// PAYMENT_PENDING, when the payment became pending: result S (the call that tells of a
    /// payment being processed; the exact resultCode is UNCONFIRMED, the sandbox sends SUCCESS).
    fn pending_notice(&self) -> Option<Notice> {
        if !self.is_pending() {
            return None;
        }
        let url = self.req.notify_url.clone()?;
        let mut body = json!({
            "notifyType": "PAYMENT_PENDING",
            "result": result_json(
                ResultCode::Success.code(),
                ResultStatus::Success,
                "The buyer has paid; the final result is pending.",
            ),
        });
        self.add_payment_fields(&mut body);
        Some(self.notice("PAYMENT_PENDING", url, body))
    }

    fn notice(&self, notify_type: &'static str, url: String, body: Value) -> Notice {
        Notice {
            notify_type,
            url,
            client_id: self.client_id.clone(),
            body,
        }
    }

    /// CAPTURE_RESULT for a settled capture, with the fields of apo-api.md §7.2 (`captureTime`
    /// only for a successful one).
    fn capture_notice(&self, txn: &Txn) -> Option<Notice> {
        let url = self.req.notify_url.clone()?;
        let mut body = json!({
            "notifyType": "CAPTURE_RESULT",
            "result": txn.status.result(ResultCode::CaptureInProcess),
            "captureRequestId": txn.request_id,
            "paymentId": self.id,
            "captureId": txn.id,
            "captureAmount": txn.amount.json(),
            "acquirerReferenceNo": format!("acq_{}", self.id),
            "acquirerInfo": self.txn_acquirer_info(txn),
        });
        if txn.status == TxnStatus::Success {
            body["captureTime"] = json!(iso(txn.time));
        }
        if let Some(info) = self.result_info() {
            body["paymentResultInfo"] = info;
        }
        Some(self.notice("CAPTURE_RESULT", url, body))
    }

    /// The capture answer for the capture at `index` as it now stands: S with `captureId` and
    /// `captureTime`, U CAPTURE_IN_PROCESS without them, or F PROCESS_FAIL.
    pub fn capture_answer(&self, index: usize) -> Option<Value> {
        let txn = self.captures.get(index)?;
        let mut body = json!({
            "result": txn.status.result(ResultCode::CaptureInProcess),
            "captureRequestId": txn.request_id,
            "paymentId": self.id,
            "captureAmount": txn.amount.json(),
        });
        if txn.status == TxnStatus::Success {
            body["captureId"] = json!(txn.id);
            body["captureTime"] = json!(iso(txn.time));
            body["acquirerReferenceNo"] = json!(format!("acq_{}", self.id));
        }
        Some(body)
    }

    /// Settles due captures and refunds; their CAPTURE_RESULT / REFUND_RESULT notices.
    fn settle_due(&mut self, now: Timestamp) -> Vec<Notice> {
        let mut notices = Vec::new();
        for i in 0..self.captures.len() {
            if self.captures[i].settle(now) {
                notices.extend(self.capture_notice(&self.captures[i]));
            }
        }
        for i in 0..self.refunds.len() {
            if self.refunds[i].0.settle(now) {
                notices.extend(self.refund_notice(i));
            }
        }
        notices
    }

    /// The card the buyer entered on the hosted page.
    pub fn enter_card(
        &mut self,
        card: CardProfile,
        consent: bool,
        vault: &mut Vault,
        now: Timestamp,
    ) -> (Next, Vec<Notice>) {
        self.card = Some(card);
        self.consent = consent;
        self.proceed(vault, now)
    }

    /// The buyer confirmed a saved-card payment on the continuation page.
    pub fn confirm_saved(&mut self, vault: &mut Vault, now: Timestamp) -> (Next, Vec<Notice>) {
        self.proceed(vault, now)
    }

    fn proceed(&mut self, vault: &mut Vault, now: Timestamp) -> (Next, Vec<Notice>) {
        if self.card.as_ref().is_some_and(|c| c.test_card().is_none()) {
            return (
                Next::Merchant,
                self.finish(cards::NOT_A_TEST_CARD_CODE, vault, now),
            );
        }
        let three_ds = self
            .card
            .as_ref()
            .and_then(|c| c.test_card())
            .map(|c| c.three_ds);
        if self.req.three_ds {
            if three_ds == Some(ThreeDs::Exempt) {
                self.three_ds = Some(false);
            } else {
                self.awaiting_challenge = true;
                return (Next::Challenge, Vec::new());
            }
        }
        (Next::Merchant, self.authorize(vault, now))
    }

    /// The buyer's answer to the 3-D Secure challenge.
    pub fn answer_challenge(
        &mut self,
        answer: ChallengeAnswer,
        vault: &mut Vault,
        now: Timestamp,
    ) -> (Next, Vec<Notice>) {
        self.awaiting_challenge = false;
        let fails = self
            .card
            .as_ref()
            .and_then(|c| c.test_card())
            .map(|c| c.three_ds)
            == Some(ThreeDs::Fails);
        match answer {
            ChallengeAnswer::Cancel => {
                if !self.is_saved_card() {
                    self.card = None;
                }
                (Next::CardPage, Vec::new())
            }
            ChallengeAnswer::Fail => self.fail_challenge(),
            ChallengeAnswer::Pass if fails => self.fail_challenge(),
            ChallengeAnswer::Pass => {
                self.three_ds = Some(true);
                (Next::Merchant, self.authorize(vault, now))
            }
        }
    }

    /// A failed challenge: the buyer goes back to the merchant, and nothing more happens until
    /// the order closes (see [`Payment::tick`]).
    fn fail_challenge(&mut self) -> (Next, Vec<Notice>) {
        self.three_ds = Some(true);
        self.three_ds_failed = true;
        (Next::Merchant, Vec::new())
    }

    fn authorize(&mut self, vault: &mut Vault, now: Timestamp) -> Vec<Notice> {
        let Some(card) = self.card.as_ref().and_then(|c| c.test_card()) else {
            return Vec::new();
        };
        if card.processing_seconds > 0 {
            let wait = SignedDuration::from_secs(
                i64::try_from(card.processing_seconds).unwrap_or(i64::MAX),
            );
            self.pending_until = Some(now.saturating_add(wait).unwrap_or(now));
            return self.pending_notice().into_iter().collect();
        }
        self.finish(&card.outcome, vault, now)
    }

    /// Authorizes a payment still waiting for the buyer at once, as a synchronous `S` pay does
    /// (an error scenario forcing SUCCESS): with its saved card, else with `card`; no 3-D
    /// Secure, no slow authorization. Returns the PAYMENT_RESULT (and, with AUTOMATIC
    /// capture, CAPTURE_RESULT) notices; nothing happens to a payment no longer waiting.
    pub fn authorize_at_once(
        &mut self,
        card: CardProfile,
        vault: &mut Vault,
        now: Timestamp,
    ) -> Vec<Notice> {
        if self.status != Status::Processing || self.pending_until.is_some() {
            return Vec::new();
        }
        self.awaiting_challenge = false;
        if self.card.is_none() {
            self.card = Some(card);
        }
        self.finish(ResultCode::Success.code(), vault, now)
    }

    /// What a time-driven transition ([`Payment::tick`]) can change: the status, a slow
    /// authorization's due time and how many captures and refunds are still in process. Equal
    /// before and after a tick when it changed nothing.
    pub fn time_state(&self) -> (Status, Option<Timestamp>, usize) {
        let processing = self
            .captures
            .iter()
            .chain(self.refunds.iter().map(|(t, _)| t))
            .filter(|t| matches!(t.status, TxnStatus::Processing { .. }))
            .count();
        (self.status, self.pending_until, processing)
    }

    /// The earliest time at which [`Payment::tick`] changes the payment: a capture or refund
    /// settles, a slow authorization settles, an unpaid payment expires or an uncaptured
    /// authorization lapses; `None` when no time-driven transition is left. A tick before it
    /// changes nothing, so a sweep need not visit the payment until then.
    pub fn next_due(&self) -> Option<Timestamp> {
        let settling = (self.captures.iter())
            .chain(self.refunds.iter().map(|(t, _)| t))
            .filter_map(|t| match t.status {
                TxnStatus::Processing { until, .. } => Some(until),
                TxnStatus::Success | TxnStatus::Fail => None,
            });
        let own = match self.status {
            Status::Processing => Some(self.pending_until.unwrap_or(self.expiry)),
            Status::Success if self.captured() == 0 && !self.req.auto_capture => {
                Some(self.auth_expiry)
            }
            Status::Success | Status::Fail | Status::Cancelled => None,
        };
        settling.chain(own).min()
    }

    /// Time-driven transitions: a slow authorization settles, an unpaid payment expires, an
    /// authorization never captured within [`AUTH_VALIDITY`] is cancelled.
    pub fn tick(&mut self, vault: &mut Vault, now: Timestamp) -> Vec<Notice> {
        let mut notices = self.settle_due(now);
        notices.extend(self.tick_payment(vault, now));
        notices
    }

    fn tick_payment(&mut self, vault: &mut Vault, now: Timestamp) -> Vec<Notice> {
        if self.status == Status::Success
            && self.captured() == 0
            && !self.req.auto_capture
            && now >= self.auth_expiry
        {
            self.status = Status::Cancelled;
            self.auto_cancelled = true;
            self.cancel = Some(Txn {
                kind: "CANCEL",
                request_id: self.req.payment_request_id.clone(),
                id: format!("{}X", self.id),
                amount: self.req.amount.clone(),
                time: self.auth_expiry,
                status: TxnStatus::Success,
            });
        }
        if self.status != Status::Processing {
            return Vec::new();
        }
        if let Some(until) = self.pending_until {
            if until <= now {
                self.pending_until = None;
                let outcome = self
                    .card
                    .as_ref()
                    .and_then(|c| c.test_card())
                    .map_or("SUCCESS", |c| c.outcome.as_str());
                return self.finish(outcome, vault, now);
            }
            return Vec::new();
        }
        if self.expiry <= now {
            self.awaiting_challenge = false;
            let code = if self.three_ds_failed {
                THREE_DS_FAILED
            } else {
                ResultCode::OrderIsClosed.code()
            };
            return self.finish(code, vault, now);
        }
        Vec::new()
    }

    fn finish(&mut self, outcome: &str, vault: &mut Vault, now: Timestamp) -> Vec<Notice> {
        self.result_code = outcome.to_owned();
        let mut notices = Vec::new();
        if outcome != "SUCCESS" {
            self.status = Status::Fail;
            notices.extend(self.payment_notice());
            return notices;
        }
        self.status = Status::Success;
        self.paid_at = Some(now);
        let store = match self.req.tokenize {
            TokenizeMode::Enabled => true,
            TokenizeMode::AskForConsent => self.consent,
            TokenizeMode::Disabled => false,
        };
        if let (true, None, Some(card)) = (store, &self.token, &self.card) {
            self.token = Some(vault.issue(&self.client_id, card));
        }
        notices.extend(self.payment_notice());
        if self.req.auto_capture {
            // As in the guide's sample: the automatic capture's transactionRequestId (and
            // captureRequestId) is the paymentRequestId.
            let txn = Txn {
                kind: "CAPTURE",
                request_id: self.req.payment_request_id.clone(),
                id: format!("{}C1", self.id),
                amount: self.req.amount.clone(),
                time: now,
                status: TxnStatus::for_amount(self.req.amount.value, CAPTURE_MAGIC, now),
            };
            if txn.status == TxnStatus::Success {
                notices.extend(self.capture_notice(&txn));
            }
            self.captures.push(txn);
        }
        notices
    }

    /// A capture (MANUAL mode): partial allowed, never above the authorized amount.
    pub fn capture(
        &mut self,
        req: &CaptureRequest,
        now: Timestamp,
    ) -> Result<(Value, Vec<Notice>), ApoError> {
        match self.status {
            Status::Cancelled if self.auto_cancelled => {
                return Err(ApoError::with(
                    ResultCode::AuthExpired,
                    "The authorization was not captured within 7 days and was cancelled.",
                ));
            }
            Status::Cancelled => return Err(ApoError::new(ResultCode::AuthCancelled)),
            Status::Processing | Status::Fail => {
                return Err(ApoError::with(
                    ResultCode::OrderStatusInvalid,
                    format!(
                        "The payment is {}; only a SUCCESS payment can be captured.",
                        self.status.name()
                    ),
                ));
            }
            Status::Success => {}
        }
        if self.req.auto_capture {
            return Err(ApoError::with(
                ResultCode::OrderStatusInvalid,
                "The payment uses captureMode AUTOMATIC and was captured automatically.",
            ));
        }
        if now >= self.auth_expiry {
            return Err(ApoError::new(ResultCode::AuthExpired));
        }
        if req.amount.currency != self.req.amount.currency {
            return Err(ApoError::param(
                "captureAmount.currency",
                &format!("must be the payment currency {}", self.req.amount.currency),
            ));
        }
        if self.captured().saturating_add(req.amount.value) > self.req.amount.value {
            return Err(ApoError::with(
                ResultCode::CaptureAmountExceedAuthLimit,
                format!(
                    "Total capture amount {} exceeds the authorized amount {}.",
                    self.captured().saturating_add(req.amount.value),
                    self.req.amount.value
                ),
            ));
        }
        let txn = Txn {
            kind: "CAPTURE",
            request_id: req.capture_request_id.clone(),
            id: format!("{}C{}", self.id, self.captures.len() + 1),
            amount: req.amount.clone(),
            time: now,
            status: TxnStatus::for_amount(req.amount.value, CAPTURE_MAGIC, now),
        };
        let notices = match txn.status {
            TxnStatus::Success => self.capture_notice(&txn).into_iter().collect(),
            _ => Vec::new(),
        };
        self.captures.push(txn);
        let body = self
            .capture_answer(self.captures.len() - 1)
            .unwrap_or_default();
        Ok((body, notices))
    }

    /// A cancel: allowed before any capture.
    pub fn cancel(&mut self, now: Timestamp) -> Result<Value, ApoError> {
        match self.status {
            Status::Cancelled if self.auto_cancelled => {
                return Err(ApoError::with(
                    ResultCode::CancelWindowExceed,
                    "The authorization was not captured within 7 days and APO cancelled it; \
                     the cancellation window has passed.",
                ));
            }
            Status::Cancelled => {}
            Status::Fail => {
                return Err(ApoError::with(
                    ResultCode::OrderIsClosed,
                    "The payment failed or expired; there is nothing to cancel.",
                ));
            }
            Status::Processing | Status::Success if self.captured() > 0 => {
                return Err(ApoError::with(
                    ResultCode::OrderStatusInvalid,
                    "The payment is already captured; refund it instead.",
                ));
            }
            Status::Processing | Status::Success => {
                if self.status == Status::Processing {
                    self.result_code = ResultCode::OrderIsCanceled.code().to_owned();
                    self.cancelled_unpaid = !self.awaiting_challenge
                        && self.pending_until.is_none()
                        && !self.three_ds_failed
                        && (self.card.is_none() || self.is_saved_card());
                }
                self.status = Status::Cancelled;
                self.pending_until = None;
                self.awaiting_challenge = false;
                self.cancel = Some(Txn {
                    kind: "CANCEL",
                    request_id: self.req.payment_request_id.clone(),
                    id: format!("{}X", self.id),
                    amount: self.req.amount.clone(),
                    time: now,
                    status: TxnStatus::Success,
                });
            }
        }
        let time = self.cancel.as_ref().map_or(now, |t| t.time);
        Ok(json!({
            "result": ResultCode::Success.to_json(),
            "paymentId": self.id,
            "paymentRequestId": self.req.payment_request_id,
            "cancelTime": iso(time),
        }))
    }

    /// A refund: after capture, several allowed, total never above the captured amount.
    pub fn refund(
        &mut self,
        req: &RefundRequest,
        now: Timestamp,
    ) -> Result<(Value, Vec<Notice>), ApoError> {
        if self.settled_captured() == 0 {
            return Err(ApoError::with(
                ResultCode::OrderStatusInvalid,
                format!(
                    "The payment is {} and not captured; only captured payments can be refunded.",
                    self.status.name()
                ),
            ));
        }
        if self
            .paid_at
            .is_some_and(|t| now >= t.saturating_add(REFUND_WINDOW).unwrap_or(t))
        {
            return Err(ApoError::with(
                ResultCode::RefundWindowExceed,
                format!(
                    "The refund window ({} days after the payment) has passed.",
                    REFUND_WINDOW.as_hours() / 24
                ),
            ));
        }
        if req.amount.currency != self.req.amount.currency {
            return Err(ApoError::param(
                "refundAmount.currency",
                &format!("must be the payment currency {}", self.req.amount.currency),
            ));
        }
        let total = self.refunded().saturating_add(req.amount.value);
        if total > self.settled_captured() {
            return Err(ApoError::with(
                ResultCode::RefundAmountExceed,
                format!(
                    "Total refund amount {total} exceeds the captured amount {}.",
                    self.settled_captured()
                ),
            ));
        }
        let txn = Txn {
            kind: "REFUND",
            request_id: req.refund_request_id.clone(),
            id: format!("{}R{}", self.id, self.refunds.len() + 1),
            amount: req.amount.clone(),
            time: now,
            status: TxnStatus::for_amount(req.amount.value, REFUND_MAGIC, now),
        };
        let url = req.notify_url.clone();
        let done = txn.status == TxnStatus::Success;
        self.refunds.push((txn, url));
        let index = self.refunds.len() - 1;
        let body = self.refund_answer(index).unwrap_or_default();
        let notices = if done {
            self.refund_notice(index).into_iter().collect()
        } else {
            Vec::new()
        };
        Ok((body, notices))
    }

    /// A refund's fields as the refund answer, inquiryRefund and REFUND_RESULT share them:
    /// `refundTime` and `acquirerReferenceNo` only once it succeeded; `refundId` always (it is
    /// given when the refund is accepted, one to one with `refundRequestId`).
    fn refund_fields(&self, txn: &Txn) -> Value {
        let in_process = txn.status.result(ResultCode::RefundInProcess);
        let mut b = json!({
            "result": in_process,
            "refundRequestId": txn.request_id,
            "refundId": txn.id,
            "paymentId": self.id,
            "refundAmount": txn.amount.json(),
            "acquirerInfo": self.txn_acquirer_info(txn),
        });
        if txn.status == TxnStatus::Success {
            b["refundTime"] = json!(iso(txn.time));
            b["acquirerReferenceNo"] = json!(format!("acq_{}", txn.id));
        }
        b
    }

    /// The refund answer for the refund at `index` as it now stands: S, U REFUND_IN_PROCESS
    /// (without `refundTime`), or F PROCESS_FAIL.
    pub fn refund_answer(&self, index: usize) -> Option<Value> {
        let (txn, _) = self.refunds.get(index)?;
        Some(self.refund_fields(txn))
    }

    /// REFUND_RESULT for a settled refund, when it has a URL to go to.
    fn refund_notice(&self, index: usize) -> Option<Notice> {
        let (txn, url) = self.refunds.get(index)?;
        let url = url.clone()?;
        let mut body = self.refund_fields(txn);
        body["notifyType"] = json!("REFUND_RESULT");
        body["refundStatus"] = json!(txn.status.name());
        Some(self.notice("REFUND_RESULT", url, body))
    }

    /// The inquiryRefund response for one of this payment's refunds: the inquiry itself
    /// succeeded; `refundStatus` says where the refund stands.
    pub fn refund_inquiry_body(&self, index: usize) -> Option<Value> {
        let (txn, _) = self.refunds.get(index)?;
        let mut b = self.refund_fields(txn);
        b["result"] = ResultCode::Success.to_json();
        b["refundStatus"] = json!(txn.status.name());
        if let Some(o) = b.as_object_mut() {
            o.remove("paymentId");
        }
        Some(b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::validate;

    fn payment(manual: bool) -> Payment {
        let body = json!({
            "productCode": "CASHIER_PAYMENT", "paymentRequestId": "r1",
            "paymentAmount": {"currency": "USD", "value": "1000"},
            "paymentMethod": {"paymentMethodType": "CARD"},
            "paymentFactor": {"isAuthorization": true, "captureMode": if manual {"MANUAL"} else {"AUTOMATIC"}},
            "paymentRedirectUrl": "https://m.example/back",
            "paymentNotifyUrl": "https://m.example/notify",
            "order": {"referenceOrderId": "o", "orderDescription": "d",
                      "orderAmount": {"currency": "USD", "value": "1000"}, "buyer": {"buyerEmail": "a@b.c"}},
            "env": {"terminalType": "WEB", "clientIp": "1.1.1.1"}
        });
        let req = validate::pay(&body, Timestamp::now()).unwrap();
        Payment::new("P1".into(), "C", req, "u".into(), None, Timestamp::now())
    }

    fn card(n: &str) -> CardProfile {
        CardProfile::from_number(n, "H")
    }

    fn money(v: u64) -> Money {
        Money {
            currency: "USD".into(),
            value: v,
        }
    }

    #[test]
    fn auto_capture_notifies_payment_and_capture() {
        let mut p = payment(false);
        let mut v = Vault::default();
        let (next, n) = p.enter_card(card("4054695723100768"), false, &mut v, Timestamp::now());
        assert_eq!(next, Next::Merchant);
        let types: Vec<_> = n.iter().map(|n| n.notify_type).collect();
        assert_eq!(types, ["PAYMENT_RESULT", "CAPTURE_RESULT"]);
        assert!(p.cancel(Timestamp::now()).is_err());
    }

    #[test]
    fn a_number_that_is_not_a_test_card_is_declined_not_approved() {
        let mut p = payment(false);
        let mut v = Vault::default();
        // Luhn-valid, but in no card table.
        let (next, n) = p.enter_card(card("4111111111111111"), false, &mut v, Timestamp::now());
        assert_eq!(next, Next::Merchant);
        assert_eq!(p.status, Status::Fail);
        assert_eq!(p.result_code, "CARD_NOT_SUPPORTED");
        assert!(
            p.result_message().contains("--cards"),
            "{}",
            p.result_message()
        );
        let types: Vec<_> = n.iter().map(|n| n.notify_type).collect();
        assert_eq!(types, ["PAYMENT_RESULT"]);
    }

    #[test]
    fn manual_capture_limits_and_refunds() {
        let mut p = payment(true);
        let mut v = Vault::default();
        let now = Timestamp::now();
        p.enter_card(card("4054695723100768"), false, &mut v, now);
        let cap = |id: &str, a| CaptureRequest {
            capture_request_id: id.into(),
            payment_id: "P1".into(),
            amount: money(a),
        };
        let refund = |id: &str, a| RefundRequest {
            refund_request_id: id.into(),
            payment_id: "P1".into(),
            amount: money(a),
            notify_url: None,
        };
        assert_eq!(
            p.refund(&refund("r0", 1), now).unwrap_err().code,
            ResultCode::OrderStatusInvalid
        );
        p.capture(&cap("c1", 600), now).unwrap();
        assert_eq!(
            p.capture(&cap("c2", 500), now).unwrap_err().code,
            ResultCode::CaptureAmountExceedAuthLimit
        );
        p.refund(&refund("r1", 400), now).unwrap();
        assert_eq!(
            p.refund(&refund("r2", 201), now).unwrap_err().code,
            ResultCode::RefundAmountExceed
        );
        p.refund(&refund("r3", 200), now).unwrap();
        let late = now.saturating_add(AUTH_VALIDITY).unwrap();
        assert_eq!(
            p.capture(&cap("c3", 1), late).unwrap_err().code,
            ResultCode::AuthExpired
        );
    }

    #[test]
    fn authorizing_at_once_pays_and_notifies_only_a_waiting_payment() {
        let mut p = payment(false);
        let mut v = Vault::default();
        let now = Timestamp::now();
        let n = p.authorize_at_once(card("4054695723100768"), &mut v, now);
        assert_eq!(p.status, Status::Success);
        assert_eq!(p.pay_body()["result"]["resultCode"], "SUCCESS");
        let types: Vec<_> = n.iter().map(|n| n.notify_type).collect();
        assert_eq!(types, ["PAYMENT_RESULT", "CAPTURE_RESULT"]);
        assert!(
            p.authorize_at_once(card("4054695723100768"), &mut v, now)
                .is_empty()
        );
    }

    #[test]
    fn an_uncaptured_authorization_is_cancelled_after_7_days() {
        let mut p = payment(true);
        let mut v = Vault::default();
        let now = Timestamp::now();
        p.enter_card(card("4054695723100768"), false, &mut v, now);
        let late = now.saturating_add(AUTH_VALIDITY).unwrap();
        assert!(p.tick(&mut v, late).is_empty());
        assert_eq!(p.status, Status::Cancelled);
        let q = p.inquiry_body();
        assert_eq!(q["paymentStatus"], "CANCELLED");
        assert_eq!(q["transactions"][0]["transactionType"], "CANCEL");
        assert_eq!(
            p.cancel(late).unwrap_err().code,
            ResultCode::CancelWindowExceed
        );
        let cap = CaptureRequest {
            capture_request_id: "c".into(),
            payment_id: "P1".into(),
            amount: money(1),
        };
        assert_eq!(
            p.capture(&cap, late).unwrap_err().code,
            ResultCode::AuthExpired
        );
    }

    #[test]
    fn refunds_close_after_the_refund_window() {
        let mut p = payment(false);
        let mut v = Vault::default();
        let now = Timestamp::now();
        p.enter_card(card("4054695723100768"), false, &mut v, now);
        let refund = RefundRequest {
            refund_request_id: "r".into(),
            payment_id: "P1".into(),
            amount: money(1),
            notify_url: None,
        };
        let late = now.saturating_add(REFUND_WINDOW).unwrap();
        assert_eq!(
            p.refund(&refund, late).unwrap_err().code,
            ResultCode::RefundWindowExceed
        );
        assert!(p.refund(&refund, now).is_ok());
    }

    #[test]
    fn a_payment_cancelled_before_the_buyer_paid_can_still_be_paid_until_it_expires() {
        let mut p = payment(true);
        let mut v = Vault::default();
        let now = Timestamp::now();
        p.cancel(now).unwrap();
        assert_eq!(p.status, Status::Cancelled);
        let late = p.expiry;
        assert!(!p.payable_after_cancel(late));
        assert!(p.reopen_for_buyer(now));
        p.enter_card(card("4054695723100768"), false, &mut v, now);
        assert_eq!(p.status, Status::Success);
        assert!(p.cancel.is_none());
        // Cancelled after the buyer paid: final.
        p.cancel(now).unwrap();
        assert!(!p.reopen_for_buyer(now));
    }

    /// Whether a tick at `at` changes a copy of `p` (its time-driven state or its notices).
    fn tick_changes(p: &Payment, at: Timestamp) -> bool {
        let mut p = p.clone();
        let before = p.time_state();
        let notices = p.tick(&mut Vault::default(), at);
        p.time_state() != before || !notices.is_empty()
    }

    #[test]
    fn next_due_is_when_a_tick_first_changes_the_payment() {
        let now = Timestamp::now();
        let mut v = Vault::default();
        let waiting = payment(true);
        let mut slow = payment(true);
        slow.enter_card(card("4000000000007775"), false, &mut v, now);
        assert!(slow.pending_until.is_some(), "a slow card waits");
        let mut authorized = payment(true);
        authorized.enter_card(card("4054695723100768"), false, &mut v, now);
        let mut capturing = authorized.clone();
        let slow_capture = CaptureRequest {
            capture_request_id: "c".into(),
            payment_id: "P1".into(),
            amount: money(CAPTURE_MAGIC.1),
        };
        capturing.capture(&slow_capture, now).unwrap();
        let mut refunding = payment(false);
        refunding.enter_card(card("4054695723100768"), false, &mut v, now);
        let captured = refunding.clone();
        let slow_refund = RefundRequest {
            refund_request_id: "r".into(),
            payment_id: "P1".into(),
            amount: money(REFUND_MAGIC.1),
            notify_url: None,
        };
        refunding.refund(&slow_refund, now).unwrap();
        let mut declined = payment(true);
        declined.reject();
        let mut cancelled = payment(true);
        cancelled.cancel(now).unwrap();

        let far = now.saturating_add(REFUND_WINDOW).unwrap();
        let cases = [
            ("waiting", &waiting, Some(waiting.expiry)),
            ("slow", &slow, slow.pending_until),
            ("authorized", &authorized, Some(authorized.auth_expiry)),
            (
                "capturing",
                &capturing,
                Some(now.saturating_add(SETTLE_DELAY).unwrap()),
            ),
            (
                "refunding",
                &refunding,
                Some(now.saturating_add(SETTLE_DELAY).unwrap()),
            ),
            ("captured", &captured, None),
            ("declined", &declined, None),
            ("cancelled", &cancelled, None),
        ];
        for (name, p, due) in cases {
            assert_eq!(p.next_due(), due, "{name}");
            match due {
                Some(due) => {
                    let before = due.saturating_sub(SignedDuration::from_millis(1)).unwrap();
                    assert!(
                        !tick_changes(p, before),
                        "{name}: changed before it was due"
                    );
                    assert!(tick_changes(p, due), "{name}: unchanged when due");
                }
                None => assert!(!tick_changes(p, far), "{name}: changed with nothing due"),
            }
        }
    }

    #[test]
    fn expiry_closes_with_a_fail_notice() {
        let mut p = payment(false);
        let mut v = Vault::default();
        let later = Timestamp::now()
            .saturating_add(DEFAULT_PAYMENT_EXPIRY)
            .unwrap();
        let n = p.tick(&mut v, later);
        assert_eq!(p.status, Status::Fail);
        assert_eq!(n[0].body["result"]["resultStatus"], "F");
    }

    #[test]
    fn an_aged_payment_comes_due_now_as_if_the_time_had_passed() {
        let mut v = Vault::default();
        // Waiting for the buyer: aged past its expiry, it closes at once.
        let mut waiting = payment(false);
        let now = Timestamp::now();
        let created = waiting.created;
        assert!(waiting.tick(&mut v, now).is_empty());
        waiting.age(DEFAULT_PAYMENT_EXPIRY);
        assert_eq!(
            waiting.created,
            created.saturating_sub(DEFAULT_PAYMENT_EXPIRY).unwrap()
        );
        let n = waiting.tick(&mut v, now);
        assert_eq!(waiting.status, Status::Fail);
        assert_eq!(n[0].body["result"]["resultCode"], "ORDER_IS_CLOSED");
        // A slow capture settles once aged by its delay, not before.
        let mut capturing = payment(true);
        capturing.enter_card(card("4054695723100768"), false, &mut v, now);
        let slow = CaptureRequest {
            capture_request_id: "c".into(),
            payment_id: "P1".into(),
            amount: money(CAPTURE_MAGIC.1),
        };
        capturing.capture(&slow, now).unwrap();
        capturing.age(SignedDuration::from_secs(30));
        assert!(capturing.tick(&mut v, now).is_empty(), "half the delay");
        capturing.age(SignedDuration::from_secs(30));
        let n = capturing.tick(&mut v, now);
        assert_eq!(n[0].notify_type, "CAPTURE_RESULT");
    }
}
