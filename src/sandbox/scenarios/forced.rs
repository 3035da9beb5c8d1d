//! A forced answer: what a matching scenario does to one call, its answer and its delivery.
//!
//! | forced `result` | the call | the answer |
//! | --- | --- | --- |
//! | `UNKNOWN_EXCEPTION` | happens for real (a pay creates the payment, a capture captures) | only `result` (U): no paymentId, no normalUrl; a retry with the same request id gets the real answer |
//! | `PAYMENT_IN_PROCESS`, `CAPTURE_IN_PROCESS`, `REFUND_IN_PROCESS` | happens for real | the real answer with this `result` (U), without what only a finished call has (pay: `normalUrl`, `redirectActionForm`, `paymentActionForm`; capture: `captureId`, `captureTime`, `acquirerReferenceNo`; refund: `refundTime`, `acquirerReferenceNo`; a refund keeps its `refundId`, as a real refund in process does); the notification settles it |
//! | `SUCCESS` (pay only) | happens for real and the payment is authorized at once (its saved card, else `visa_success`): PAYMENT_RESULT, and with AUTOMATIC capture CAPTURE_RESULT, are sent | the real pay answer, now S |
//! | any other documented code | refused: nothing happens | that code, its status and message from `apo::result` |
//!
//! A real answer that is already F (PARAM_ILLEGAL, RISK_REJECT, …) is kept as it is by the
//! in-process codes and SUCCESS. `delayMs` holds the answer back (real time) after the call
//! happened; `drop` closes the connection instead of answering. The journal records the answer
//! the sandbox meant to give, marked with the scenario.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::response::Response;
use serde_json::{Value, json};
use tokio::io::{AsyncRead, ReadBuf};
use tokio_util::io::ReaderStream;

use crate::apo::endpoint::Endpoint;
use crate::apo::result::ResultCode;
use crate::sandbox::cards::{self, CardProfile};
use crate::sandbox::error::ApoError;
use crate::sandbox::state::{Handled, State};

/// What a forced result code does besides being the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// The call happens; only its answer is lost (UNKNOWN_EXCEPTION).
    Lost,
    /// The call happens; its answer says it is still in process.
    InProcess,
    /// The pay happens and is authorized at once (SUCCESS).
    Authorized,
    /// Nothing happens: the call is refused with the code.
    Refused,
}

impl Effect {
    /// The effect of forcing `code`.
    pub fn of(code: ResultCode) -> Self {
        match code {
            ResultCode::UnknownException => Effect::Lost,
            ResultCode::PaymentInProcess
            | ResultCode::CaptureInProcess
            | ResultCode::RefundInProcess => Effect::InProcess,
            ResultCode::Success => Effect::Authorized,
            _ => Effect::Refused,
        }
    }
}

/// The answer fields only a finished call has, which an in-process answer leaves out.
fn finished_fields(endpoint: Endpoint) -> &'static [&'static str] {
    match endpoint {
        Endpoint::Pay => &["normalUrl", "redirectActionForm", "paymentActionForm"],
        Endpoint::Capture => &["captureId", "captureTime", "acquirerReferenceNo"],
        Endpoint::Refund => &["refundTime", "acquirerReferenceNo"],
        Endpoint::InquiryPayment | Endpoint::Cancel | Endpoint::InquiryRefund => &[],
    }
}

/// Whether a real answer is a final failure (kept as it is).
fn failed(body: &Value) -> bool {
    body["result"]["resultStatus"] == "F"
}

/// The card a forced SUCCESS authorizes with when the payment has no saved card.
fn default_card() -> Option<CardProfile> {
    let card = cards::by_name(cards::DEFAULT_CARD)?;
    Some(CardProfile::from_number(
        &card.number,
        "APOFLOW FORCED SUCCESS",
    ))
}

/// What one scenario forces on one call.
#[derive(Debug, Clone)]
pub struct Forced {
    id: u64,
    endpoint: Endpoint,
    result: Option<ResultCode>,
    delay_ms: u64,
    drop: bool,
}

impl Forced {
    /// Scenario `id`'s forcing of a call of `endpoint`.
    pub fn new(
        id: u64,
        endpoint: Endpoint,
        result: Option<ResultCode>,
        delay_ms: u64,
        drop: bool,
    ) -> Self {
        Forced {
            id,
            endpoint,
            result,
            delay_ms,
            drop,
        }
    }

    /// The call's outcome under this scenario; `handle` is the real handling, run unless the
    /// forced code refuses the call.
    pub fn run(&self, state: &State, client: &str, handle: impl FnOnce() -> Handled) -> Handled {
        let Some(code) = self.result else {
            return handle();
        };
        match Effect::of(code) {
            Effect::Refused => Err(ApoError::new(code)),
            Effect::Lost => {
                let notices = handle().map(|(_, n)| n).unwrap_or_default();
                Ok((json!({ "result": code.to_json() }), notices))
            }
            Effect::InProcess => {
                let (mut body, notices) = handle()?;
                if !failed(&body) {
                    body["result"] = code.to_json();
                    if let Some(o) = body.as_object_mut() {
                        for field in finished_fields(self.endpoint) {
                            o.remove(*field);
                        }
                    }
                }
                Ok((body, notices))
            }
            Effect::Authorized => {
                let (body, mut notices) = handle()?;
                let id = body["paymentId"].as_str().filter(|_| !failed(&body));
                let authorized = id
                    .zip(default_card())
                    .and_then(|(id, card)| state.authorize_now(client, id, card));
                match authorized {
                    Some((body, more)) => {
                        notices.extend(more);
                        Ok((body, notices))
                    }
                    None => Ok((body, notices)),
                }
            }
        }
    }

    /// The scenario as the journal shows it beside the call.
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "result": self.result.map(ResultCode::code),
            "delayMs": self.delay_ms,
            "drop": self.drop,
        })
    }

    /// Delivers the signed answer: after `delayMs` (real time), or, with `drop`, not at all.
    pub async fn deliver(&self, response: Response) -> Response {
        if self.delay_ms > 0 {
            tokio::time::sleep(Duration::from_millis(self.delay_ms)).await;
        }
        if self.drop { dropped() } else { response }
    }
}

/// A response whose body fails at once: hyper then closes the connection without writing
/// anything (the head is only buffered until the first body frame), so the caller sees the
/// connection closed without an answer.
fn dropped() -> Response {
    Response::new(Body::from_stream(ReaderStream::new(Broken)))
}

/// A reader that fails on the first read.
struct Broken;

impl AsyncRead for Broken {
    fn poll_read(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        _: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Poll::Ready(Err(io::Error::other(
            "connection dropped by an error scenario",
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::payment::Notice;

    fn forced(endpoint: Endpoint, code: ResultCode) -> Forced {
        Forced::new(1, endpoint, Some(code), 0, false)
    }

    fn notice() -> Notice {
        Notice {
            notify_type: "CAPTURE_RESULT",
            url: "https://m.example/notify".to_owned(),
            client_id: "C".to_owned(),
            body: json!({}),
        }
    }

    fn real(body: Value) -> impl FnOnce() -> Handled {
        move || Ok((body, vec![notice()]))
    }

    #[test]
    fn each_code_has_its_effect() {
        assert_eq!(Effect::of(ResultCode::UnknownException), Effect::Lost);
        assert_eq!(Effect::of(ResultCode::CaptureInProcess), Effect::InProcess);
        assert_eq!(Effect::of(ResultCode::Success), Effect::Authorized);
        assert_eq!(Effect::of(ResultCode::SystemError), Effect::Refused);
        assert_eq!(
            Effect::of(ResultCode::RequestTrafficExceedLimit),
            Effect::Refused
        );
    }

    #[test]
    fn a_lost_answer_keeps_the_call_and_its_notices() {
        let state = State::new("http://127.0.0.1:1".to_owned());
        let f = forced(Endpoint::Capture, ResultCode::UnknownException);
        let (body, notices) = f
            .run(&state, "C", real(json!({"result": {}, "captureId": "X"})))
            .unwrap();
        assert_eq!(
            body,
            json!({"result": ResultCode::UnknownException.to_json()})
        );
        assert_eq!(notices.len(), 1);
    }

    #[test]
    fn a_refused_call_never_happens() {
        let state = State::new("http://127.0.0.1:1".to_owned());
        let f = forced(Endpoint::Pay, ResultCode::SystemError);
        let err = f
            .run(&state, "C", || panic!("the call must not happen"))
            .unwrap_err();
        assert_eq!(err, ApoError::new(ResultCode::SystemError));
    }

    #[test]
    fn in_process_hides_what_only_a_finished_call_has() {
        let state = State::new("http://127.0.0.1:1".to_owned());
        let f = forced(Endpoint::Capture, ResultCode::CaptureInProcess);
        let ok = json!({"result": ResultCode::Success.to_json(), "captureId": "X",
                        "captureTime": "t", "paymentId": "P"});
        let (body, notices) = f.run(&state, "C", real(ok)).unwrap();
        assert_eq!(
            body,
            json!({"result": ResultCode::CaptureInProcess.to_json(), "paymentId": "P"})
        );
        assert_eq!(notices.len(), 1);
        // A real failure stays what it is.
        let fail = json!({"result": ResultCode::OrderStatusInvalid.to_json()});
        let (body, _) = f.run(&state, "C", real(fail.clone())).unwrap();
        assert_eq!(body, fail);
    }

    #[test]
    fn without_a_result_the_real_answer_goes_out() {
        let state = State::new("http://127.0.0.1:1".to_owned());
        let f = Forced::new(3, Endpoint::Pay, None, 10, true);
        let (body, _) = f.run(&state, "C", real(json!({"a": 1}))).unwrap();
        assert_eq!(body, json!({"a": 1}));
        assert_eq!(
            f.to_json(),
            json!({"id": 3, "result": null, "delayMs": 10, "drop": true})
        );
    }
}
