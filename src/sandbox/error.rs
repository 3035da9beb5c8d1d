//! Business failures of the sandbox and the result-code table it answers with.
//!
//! Every failure of an APO call becomes an [`ApoError`]; `api.rs` turns it into HTTP 200 with a
//! signed `{"result": {resultCode, resultStatus, resultMessage}}` body, as APO does (the SDKs
//! treat any other status as a transport error). This table lives here until it is unified with
//! `apo::result` (see README, "The embedded sandbox").

use serde_json::{Value, json};

/// The result codes the sandbox produces. Status and default message follow apo-api.md §5.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    /// U: the payment waits for the buyer on the hosted page.
    PaymentInProcess,
    /// F: a required parameter is missing or a parameter is illegal.
    ParamIllegal,
    /// F: the request signature did not verify.
    InvalidSignature,
    /// F: the `client-id` header is missing or blank.
    InvalidClient,
    /// F: no merchant is registered under this `client-id`.
    UnknownClient,
    /// F: a method other than POST.
    MethodNotSupported,
    /// F: no API at this path.
    NoInterfaceDef,
    /// F: same idempotency key, different key fields.
    RepeatReqInconsistent,
    /// F: rejected by risk control (amount "11").
    RiskReject,
    /// F: no payment / refund with this id for this client.
    OrderNotExist,
    /// F: the payment is in a state that does not allow the call.
    OrderStatusInvalid,
    /// F: the payment was cancelled.
    OrderIsCanceled,
    /// F: the payment closed (expired or failed).
    OrderIsClosed,
    /// F: capture on an unknown payment.
    AuthNotFound,
    /// F: capture after cancel.
    AuthCancelled,
    /// F: capture after the authorization expired.
    AuthExpired,
    /// F: total capture above the authorized amount.
    CaptureAmountExceedAuthLimit,
    /// F: total refund above the captured amount.
    RefundAmountExceed,
}

impl Code {
    /// The wire name, e.g. `PARAM_ILLEGAL`.
    pub fn name(self) -> &'static str {
        match self {
            Code::PaymentInProcess => "PAYMENT_IN_PROCESS",
            Code::ParamIllegal => "PARAM_ILLEGAL",
            Code::InvalidSignature => "INVALID_SIGNATURE",
            Code::InvalidClient => "INVALID_CLIENT",
            Code::UnknownClient => "UNKNOWN_CLIENT",
            Code::MethodNotSupported => "METHOD_NOT_SUPPORTED",
            Code::NoInterfaceDef => "NO_INTERFACE_DEF",
            Code::RepeatReqInconsistent => "REPEAT_REQ_INCONSISTENT",
            Code::RiskReject => "RISK_REJECT",
            Code::OrderNotExist => "ORDER_NOT_EXIST",
            Code::OrderStatusInvalid => "ORDER_STATUS_INVALID",
            Code::OrderIsCanceled => "ORDER_IS_CANCELED",
            Code::OrderIsClosed => "ORDER_IS_CLOSED",
            Code::AuthNotFound => "AUTH_NOT_FOUND",
            Code::AuthCancelled => "AUTH_CANCELLED",
            Code::AuthExpired => "AUTH_EXPIRED",
            Code::CaptureAmountExceedAuthLimit => "CAPTURE_AMOUNT_EXCEED_AUTH_LIMIT",
            Code::RefundAmountExceed => "REFUND_AMOUNT_EXCEED",
        }
    }

    /// `S`, `F` or `U`.
    pub fn status(self) -> &'static str {
        match self {
            Code::PaymentInProcess => "U",
            _ => "F",
        }
    }

    /// APO's documented message.
    pub fn message(self) -> &'static str {
        match self {
            Code::PaymentInProcess => "Payment is processing.",
            Code::ParamIllegal => "Illegal parameters.",
            Code::InvalidSignature => "The signature is not validated.",
            Code::InvalidClient => "The client is invalid.",
            Code::UnknownClient => "The client is unknown.",
            Code::MethodNotSupported => {
                "The server does not implement the requested HTTP method. Only the POST method is supported."
            }
            Code::NoInterfaceDef => "API is not defined.",
            Code::RepeatReqInconsistent => {
                "The submitted request already exists and the parameter values differ."
            }
            Code::RiskReject => {
                "The transaction cannot be further processed because of security reasons. If the user has already paid for the transaction, the transaction will be refunded."
            }
            Code::OrderNotExist => "The order does not exist.",
            Code::OrderStatusInvalid => "The transaction status is abnormal.",
            Code::OrderIsCanceled => "The transaction is cancelled.",
            Code::OrderIsClosed => "The transaction is closed.",
            Code::AuthNotFound => "The payment authorization is not found.",
            Code::AuthCancelled => "The payment authorization is cancelled.",
            Code::AuthExpired => "The payment authorization is expired.",
            Code::CaptureAmountExceedAuthLimit => {
                "Total capture amount exceeds the authorized amount."
            }
            Code::RefundAmountExceed => "The total refund amount exceeds the captured amount.",
        }
    }
}

/// A `result` object: code, status and message.
pub fn result_json(code: &str, status: &str, message: &str) -> Value {
    json!({ "resultCode": code, "resultStatus": status, "resultMessage": message })
}

/// A failed APO call: the code and a message that says what is wrong (naming the field for
/// PARAM_ILLEGAL).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApoError {
    /// The result code.
    pub code: Code,
    /// The message sent as `resultMessage`.
    pub message: String,
}

impl ApoError {
    /// An error with the code's documented message.
    pub fn new(code: Code) -> Self {
        ApoError {
            code,
            message: code.message().to_owned(),
        }
    }

    /// An error with a specific message.
    pub fn with(code: Code, message: impl Into<String>) -> Self {
        ApoError {
            code,
            message: message.into(),
        }
    }

    /// PARAM_ILLEGAL naming the field: `"<field>: <problem>"`.
    pub fn param(field: &str, problem: &str) -> Self {
        ApoError::with(Code::ParamIllegal, format!("{field}: {problem}"))
    }

    /// The response body: `{"result": …}`.
    pub fn body(&self) -> Value {
        json!({ "result": result_json(self.code.name(), self.code.status(), &self.message) })
    }
}
