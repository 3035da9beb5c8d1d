//! The scenario book: what `POST /_sandbox/scenarios` accepts, which calls a scenario
//! matches, and how many times it still applies.
//!
//! A scenario names one API and may narrow it to a client id, a payment (the call's
//! `paymentId`, or the payment its `paymentRequestId` / `refundRequestId` / `refundId` names), a
//! request id (the call's `paymentRequestId`, `captureRequestId` or `refundRequestId`) and an
//! amount (the `value` of `paymentAmount`, `captureAmount` or `refundAmount`). Every given field
//! must match. A call is governed by at most one scenario: the oldest matching one. With
//! `times: N` it applies to the next N matching calls and is then removed; without, until it
//! is deleted or the sandbox is reset.

use std::sync::{Mutex, MutexGuard};

use serde::Deserialize;
use serde_json::{Value, json};

use super::forced::Forced;
use crate::apo::endpoint::Endpoint;
use crate::apo::result::{ResultCode, documented_for};
use crate::sandbox::state::State;

/// How many scenarios the book holds at once; a POST beyond it is refused (400) until some
/// are used up, deleted or cleared.
pub const MAX_SCENARIOS: usize = 1000;

/// The longest `delayMs` accepted: two minutes, beyond any sensible client time-out.
pub const MAX_DELAY_MS: u64 = 120_000;

/// The request fields naming a call's idempotency key (a scenario's `requestId` matches any).
const REQUEST_ID_FIELDS: [&str; 3] = ["paymentRequestId", "captureRequestId", "refundRequestId"];

/// The body of `POST /_sandbox/scenarios`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ScenarioRequest {
    api: String,
    client_id: Option<String>,
    payment_id: Option<String>,
    request_id: Option<String>,
    amount: Option<String>,
    times: Option<u32>,
    result: Option<String>,
    delay_ms: Option<u64>,
    #[serde(default)]
    drop: bool,
}

impl ScenarioRequest {
    /// The fields `POST /_sandbox/scenarios` accepts.
    pub const FIELDS: &str =
        "api, clientId, paymentId, requestId, amount, times, result, delayMs, drop";
}

/// One stored scenario.
#[derive(Debug, Clone)]
struct Scenario {
    id: u64,
    endpoint: Endpoint,
    client_id: Option<String>,
    payment_id: Option<String>,
    request_id: Option<String>,
    amount: Option<String>,
    /// How many more calls it applies to; `None`: until deleted.
    times: Option<u32>,
    result: Option<ResultCode>,
    delay_ms: u64,
    drop: bool,
    /// How many calls it applied to so far.
    used: u64,
}

/// The API names a scenario accepts, in the order of a payment's life.
fn api_names() -> String {
    Endpoint::ALL.map(Endpoint::step_name).join(", ")
}

/// The field holding the call's amount, for the APIs that have one.
fn amount_field(endpoint: Endpoint) -> Option<&'static str> {
    match endpoint {
        Endpoint::Pay => Some("paymentAmount"),
        Endpoint::Capture => Some("captureAmount"),
        Endpoint::Refund => Some("refundAmount"),
        Endpoint::InquiryPayment | Endpoint::Cancel | Endpoint::InquiryRefund => None,
    }
}

impl Scenario {
    /// Validates a request: a known API, a result code documented for it, a positive
    /// `times`, a bounded `delayMs`, and something to force.
    fn new(id: u64, r: ScenarioRequest) -> Result<Self, String> {
        let endpoint = Endpoint::ALL
            .into_iter()
            .find(|e| e.step_name() == r.api)
            .ok_or_else(|| format!("unknown api {:?}; apis: {}", r.api, api_names()))?;
        let result = match &r.result {
            None => None,
            Some(code) => Some(
                documented_for(endpoint)
                    .find(|c| c.code() == code)
                    .ok_or_else(|| {
                        let valid: Vec<&str> =
                            documented_for(endpoint).map(ResultCode::code).collect();
                        format!(
                            "result {code:?} is not a documented result code of {}; valid: {}",
                            r.api,
                            valid.join(", ")
                        )
                    })?,
            ),
        };
        if r.times == Some(0) {
            return Err("times must be at least 1 (leave it out: until cleared)".to_owned());
        }
        let delay_ms = r.delay_ms.unwrap_or(0);
        if delay_ms > MAX_DELAY_MS {
            return Err(format!("delayMs must be at most {MAX_DELAY_MS}"));
        }
        if result.is_none() && delay_ms == 0 && !r.drop {
            return Err("a scenario forces something: give result, delayMs or drop".to_owned());
        }
        if r.amount.is_some() && amount_field(endpoint).is_none() {
            return Err("amount narrows pay, capture and refund calls only".to_owned());
        }
        Ok(Scenario {
            id,
            endpoint,
            client_id: r.client_id,
            payment_id: r.payment_id,
            request_id: r.request_id,
            amount: r.amount,
            times: r.times,
            result,
            delay_ms,
            drop: r.drop,
            used: 0,
        })
    }

    fn matches(&self, call: &Subject<'_>) -> bool {
        let given = |field: &Option<String>, actual: Option<&str>| {
            field.as_deref().is_none_or(|f| Some(f) == actual)
        };
        self.endpoint == call.endpoint
            && given(&self.client_id, Some(call.client_id))
            && given(&self.payment_id, call.payment_id.as_deref())
            && given(&self.amount, call.amount)
            && self
                .request_id
                .as_deref()
                .is_none_or(|id| call.request_ids.contains(&Some(id)))
    }

    fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "api": self.endpoint.step_name(),
            "clientId": self.client_id,
            "paymentId": self.payment_id,
            "requestId": self.request_id,
            "amount": self.amount,
            "times": self.times,
            "result": self.result.map(ResultCode::code),
            "resultStatus": self.result.map(|c| c.status().letter()),
            "delayMs": self.delay_ms,
            "drop": self.drop,
            "used": self.used,
        })
    }
}

/// What a call is about, as far as scenarios care.
#[derive(Debug)]
struct Subject<'a> {
    endpoint: Endpoint,
    client_id: &'a str,
    payment_id: Option<String>,
    request_ids: [Option<&'a str>; 3],
    amount: Option<&'a str>,
}

impl<'a> Subject<'a> {
    fn of(endpoint: Endpoint, client_id: &'a str, body: &'a Value, state: &State) -> Self {
        Subject {
            endpoint,
            client_id,
            payment_id: state.payment_of(client_id, body),
            request_ids: REQUEST_ID_FIELDS.map(|f| body.get(f).and_then(Value::as_str)),
            amount: amount_field(endpoint)
                .and_then(|f| body.get(f))
                .and_then(|a| a.get("value"))
                .and_then(Value::as_str),
        }
    }
}

#[derive(Debug, Default)]
struct Book {
    scenarios: Vec<Scenario>,
    next_id: u64,
}

/// The error scenarios of one sandbox.
#[derive(Debug, Default)]
pub struct Scenarios {
    book: Mutex<Book>,
}

impl Scenarios {
    fn lock(&self) -> MutexGuard<'_, Book> {
        self.book.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds a scenario from a `POST /_sandbox/scenarios` body; answers it as stored (with its
    /// `id`), or says what is wrong with the body.
    pub fn add(&self, body: &[u8]) -> Result<Value, String> {
        let request: ScenarioRequest = serde_json::from_slice(body)
            .map_err(|e| format!("invalid scenario: {e}; fields: {}", ScenarioRequest::FIELDS))?;
        let mut book = self.lock();
        if book.scenarios.len() >= MAX_SCENARIOS {
            return Err(format!(
                "the sandbox holds at most {MAX_SCENARIOS} scenarios; delete some \
                 (DELETE /_sandbox/scenarios[/ID]) or reset"
            ));
        }
        let scenario = Scenario::new(book.next_id + 1, request)?;
        book.next_id = scenario.id;
        let shown = scenario.to_json();
        book.scenarios.push(scenario);
        Ok(shown)
    }

    /// `{"scenarios": [...oldest first]}`.
    pub fn list(&self) -> Value {
        let book = self.lock();
        let list: Vec<Value> = book.scenarios.iter().map(Scenario::to_json).collect();
        json!({ "scenarios": list })
    }

    /// Removes every scenario; returns how many there were. Ids keep counting up.
    pub fn clear(&self) -> usize {
        std::mem::take(&mut self.lock().scenarios).len()
    }

    /// Removes one scenario; false when there is none with this id.
    pub fn remove(&self, id: u64) -> bool {
        let mut book = self.lock();
        let before = book.scenarios.len();
        book.scenarios.retain(|s| s.id != id);
        book.scenarios.len() != before
    }

    /// The scenario governing a verified call of `endpoint` with this raw body, if any: the
    /// oldest matching one, counted as used (and removed when its `times` run out).
    pub fn take(
        &self,
        endpoint: Endpoint,
        client_id: &str,
        body: &[u8],
        state: &State,
    ) -> Option<Forced> {
        // Most calls meet an empty book: no parsing, no state lookup.
        if self.lock().scenarios.is_empty() {
            return None;
        }
        let json: Value = serde_json::from_slice(body).ok()?;
        // The state's lock is taken (and released) before the book's, never inside it.
        let subject = Subject::of(endpoint, client_id, &json, state);
        let mut book = self.lock();
        let index = book.scenarios.iter().position(|s| s.matches(&subject))?;
        let s = &mut book.scenarios[index];
        s.used += 1;
        s.times = s.times.map(|n| n.saturating_sub(1));
        let forced = Forced::new(s.id, endpoint, s.result, s.delay_ms, s.drop);
        if s.times == Some(0) {
            book.scenarios.remove(index);
        }
        Some(forced)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> State {
        State::new("http://127.0.0.1:1".to_owned())
    }

    fn add(book: &Scenarios, body: Value) -> Result<Value, String> {
        book.add(body.to_string().as_bytes())
    }

    fn take(book: &Scenarios, endpoint: Endpoint, client: &str, body: Value) -> Option<u64> {
        book.take(endpoint, client, body.to_string().as_bytes(), &state())
            .and_then(|f| f.to_json()["id"].as_u64())
    }

    #[test]
    fn a_scenario_is_stored_with_its_id_and_defaults() {
        let book = Scenarios::default();
        let s = add(
            &book,
            json!({"api": "pay", "clientId": "C", "result": "UNKNOWN_EXCEPTION", "times": 1}),
        )
        .unwrap();
        assert_eq!(
            s,
            json!({"id": 1, "api": "pay", "clientId": "C", "paymentId": null, "requestId": null,
                   "amount": null, "times": 1, "result": "UNKNOWN_EXCEPTION",
                   "resultStatus": "U", "delayMs": 0, "drop": false, "used": 0})
        );
        assert_eq!(book.list()["scenarios"][0], s);
    }

    #[test]
    fn invalid_bodies_say_what_is_wrong() {
        let book = Scenarios::default();
        let err = |body: Value| add(&book, body).unwrap_err();
        assert!(err(json!({"api": "payy", "drop": true})).contains("inquiry_refund"));
        let e = err(json!({"api": "capture", "result": "PAYMENT_IN_PROCESS"}));
        assert!(e.contains("not a documented result code of capture"), "{e}");
        assert!(
            e.contains("CAPTURE_IN_PROCESS") && e.contains("UNKNOWN_EXCEPTION"),
            "{e}"
        );
        assert!(err(json!({"api": "refund", "result": "SUCCESS"})).contains("valid:"));
        assert!(err(json!({"api": "pay", "drop": true, "times": 0})).contains("times"));
        assert!(err(json!({"api": "pay", "delayMs": MAX_DELAY_MS + 1})).contains("delayMs"));
        assert!(err(json!({"api": "pay"})).contains("result, delayMs or drop"));
        assert!(err(json!({"api": "cancel", "drop": true, "amount": "1"})).contains("amount"));
        let e = err(json!({"api": "pay", "drop": true, "payment_id": "P"}));
        assert!(e.contains("payment_id") && e.contains("fields: api"), "{e}");
        assert!(book.list()["scenarios"].as_array().unwrap().is_empty());
    }

    #[test]
    fn the_oldest_matching_scenario_applies_and_times_run_out() {
        let book = Scenarios::default();
        add(
            &book,
            json!({"api": "capture", "paymentId": "P1", "drop": true, "times": 2}),
        )
        .unwrap();
        add(
            &book,
            json!({"api": "capture", "clientId": "C", "drop": true}),
        )
        .unwrap();
        let capture = |p: &str| json!({"paymentId": p, "captureRequestId": "c"});
        assert_eq!(take(&book, Endpoint::Capture, "C", capture("P1")), Some(1));
        assert_eq!(take(&book, Endpoint::Capture, "D", capture("P1")), Some(1));
        // Used up: removed, so the client-wide one governs P1 now.
        assert_eq!(take(&book, Endpoint::Capture, "C", capture("P1")), Some(2));
        assert_eq!(take(&book, Endpoint::Capture, "D", capture("P1")), None);
        assert_eq!(take(&book, Endpoint::Refund, "C", capture("P1")), None);
        let list = book.list();
        assert_eq!(list["scenarios"].as_array().unwrap().len(), 1);
        assert_eq!(list["scenarios"][0]["used"], 1);
        assert_eq!(list["scenarios"][0]["times"], Value::Null);
    }

    #[test]
    fn request_ids_and_amounts_narrow_a_scenario() {
        let book = Scenarios::default();
        add(
            &book,
            json!({"api": "pay", "requestId": "r1", "drop": true}),
        )
        .unwrap();
        add(&book, json!({"api": "pay", "amount": "4301", "drop": true})).unwrap();
        add(
            &book,
            json!({"api": "inquiry_refund", "requestId": "f1", "drop": true}),
        )
        .unwrap();
        let pay = |rid: &str, value: &str| json!({"paymentRequestId": rid, "paymentAmount": {"currency": "SGD", "value": value}});
        assert_eq!(take(&book, Endpoint::Pay, "C", pay("r1", "1")), Some(1));
        assert_eq!(take(&book, Endpoint::Pay, "C", pay("r2", "4301")), Some(2));
        assert_eq!(take(&book, Endpoint::Pay, "C", pay("r2", "4300")), None);
        let inquiry = json!({"refundRequestId": "f1"});
        assert_eq!(take(&book, Endpoint::InquiryRefund, "C", inquiry), Some(3));
        // A body that is not JSON matches nothing.
        assert!(book.take(Endpoint::Pay, "C", b"{", &state()).is_none());
    }

    #[test]
    fn the_book_is_bounded_and_can_be_emptied() {
        let book = Scenarios::default();
        for _ in 0..MAX_SCENARIOS {
            add(&book, json!({"api": "cancel", "drop": true})).unwrap();
        }
        let e = add(&book, json!({"api": "cancel", "drop": true})).unwrap_err();
        assert!(e.contains("at most 1000"), "{e}");
        assert!(book.remove(7));
        assert!(!book.remove(7));
        assert_eq!(
            add(&book, json!({"api": "cancel", "drop": true})).unwrap()["id"],
            1001
        );
        assert_eq!(book.clear(), MAX_SCENARIOS);
        assert_eq!(take(&book, Endpoint::Cancel, "C", json!({})), None);
    }
}
