//! APO result codes, shared by the client (to explain a result) and the sandbox (to answer).
//!
//! Every APO answer carries `result = {resultCode, resultStatus, resultMessage}`; the status is
//! `S` (success), `F` (failed, final) or `U` (unknown or in process: inquire or retry). The table
//! follows shared/reference/apo-api.md §5; codes the reference marks UNCONFIRMED for APO are
//! kept with the AMS wording, and the card decline codes (used as `paymentResultCode`) follow
//! the vaulting enumeration the reference recommends as a model.

use std::fmt;

use serde_json::{Value, json};

use super::endpoint::Endpoint;

/// The fixed acknowledgement a merchant returns for a notification (HTTP 200, this exact body;
/// shared/reference/apo-api.md §7.3). Anything else makes APO resend.
pub const NOTIFY_ACK_SUCCESS_BODY: &str =
    r#"{"result":{"resultCode":"SUCCESS","resultStatus":"S","resultMessage":"success"}}"#;

/// The `resultStatus` of an APO result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResultStatus {
    /// `S`: succeeded.
    Success,
    /// `F`: failed; final.
    Failed,
    /// `U`: unknown or in process; inquire, wait for the notification, or retry.
    Unknown,
}

impl ResultStatus {
    /// The one-letter wire form: `S`, `F` or `U`.
    pub fn letter(self) -> &'static str {
        match self {
            ResultStatus::Success => "S",
            ResultStatus::Failed => "F",
            ResultStatus::Unknown => "U",
        }
    }

    /// Parses `S`, `F` or `U`.
    pub fn from_letter(letter: &str) -> Option<Self> {
        match letter {
            "S" => Some(ResultStatus::Success),
            "F" => Some(ResultStatus::Failed),
            "U" => Some(ResultStatus::Unknown),
            _ => None,
        }
    }
}

impl fmt::Display for ResultStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.letter())
    }
}

/// Declares the code table once: the enum, its wire code, status and message.
macro_rules! result_codes {
    ($( $(#[$doc:meta])* $variant:ident = $code:literal, $status:ident, $message:literal; )+) => {
        /// A known APO result code.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ResultCode {
            $( $(#[$doc])* $variant, )+
        }

        impl ResultCode {
            /// Every known code.
            pub const ALL: &'static [ResultCode] = &[ $( ResultCode::$variant, )+ ];

            /// The wire code, e.g. `PAYMENT_IN_PROCESS`.
            pub const fn code(self) -> &'static str {
                match self { $( ResultCode::$variant => $code, )+ }
            }

            /// The status APO gives this code.
            pub const fn status(self) -> ResultStatus {
                match self { $( ResultCode::$variant => ResultStatus::$status, )+ }
            }

            /// APO's English message for this code.
            pub const fn message(self) -> &'static str {
                match self { $( ResultCode::$variant => $message, )+ }
            }
        }
    };
}

result_codes! {
    // Common to every API (§5.1).
    /// Success.
    Success = "SUCCESS", Success, "success.";
    /// Access is denied.
    AccessDenied = "ACCESS_DENIED", Failed, "Access is denied.";
    /// The called API is invalid or not active.
    InvalidApi = "INVALID_API", Failed, "The called API is invalid or not active.";
    /// The client id is invalid.
    InvalidClient = "INVALID_CLIENT", Failed, "The client is invalid.";
    /// The client id is unknown.
    UnknownClient = "UNKNOWN_CLIENT", Failed, "The client is unknown.";
    /// The request signature does not verify.
    InvalidSignature = "INVALID_SIGNATURE", Failed, "The signature is not validated. The private key used to sign a request does not match the public key of Antom Dashboard.";
    /// No key registered for the client.
    KeyNotFound = "KEY_NOT_FOUND", Failed, "The private key or public key of Alipay or the merchant is not found.";
    /// Unsupported media type.
    MediaTypeNotAcceptable = "MEDIA_TYPE_NOT_ACCEPTABLE", Failed, "The server does not implement the media type that is acceptable to the client.";
    /// Only POST is supported.
    MethodNotSupported = "METHOD_NOT_SUPPORTED", Failed, "The server does not implement the requested HTTP method. Only the POST method is supported.";
    /// No such API.
    NoInterfaceDef = "NO_INTERFACE_DEF", Failed, "API is not defined.";
    /// The merchant is not registered.
    MerchantNotRegistered = "MERCHANT_NOT_REGISTERED", Failed, "The merchant is not registered.";
    /// Missing or illegal parameters.
    ParamIllegal = "PARAM_ILLEGAL", Failed, "The required parameters are not passed, or illegal parameters exist. For example, a non-numeric input, an invalid date, or the length and type of the parameter are wrong.";
    /// A general business failure.
    ProcessFail = "PROCESS_FAIL", Failed, "A general business failure occurred. Do not retry.";
    /// Same idempotency key, different key fields.
    RepeatReqInconsistent = "REPEAT_REQ_INCONSISTENT", Failed, "The submitted request already exists and the parameter values in the current request are different from those of the existing request.";
    /// Rejected by risk control.
    RiskReject = "RISK_REJECT", Failed, "The transaction cannot be further processed because of security reasons. If the user has already paid for the transaction, the transaction will be refunded.";
    /// A system error.
    SystemError = "SYSTEM_ERROR", Failed, "A system error occurred. Do not retry.";
    /// Too many requests.
    RequestTrafficExceedLimit = "REQUEST_TRAFFIC_EXCEED_LIMIT", Unknown, "The request traffic exceeds the limit. Call again.";
    /// Unknown failure; call again.
    UnknownException = "UNKNOWN_EXCEPTION", Unknown, "An API call has failed, which is caused by unknown reasons. Call again.";

    // pay (§5.2).
    /// The payment is in process (hosted mode: redirect the buyer to `normalUrl`).
    PaymentInProcess = "PAYMENT_IN_PROCESS", Unknown, "Payment is processing.";
    /// The currency is not supported.
    CurrencyNotSupport = "CURRENCY_NOT_SUPPORT", Failed, "The currency is not supported.";
    /// The paymentRequestId belongs to a cancelled payment.
    OrderIsCanceled = "ORDER_IS_CANCELED", Failed, "The transaction is canceled. Use a new paymentRequestId.";
    /// The paymentRequestId belongs to a closed payment.
    OrderIsClosed = "ORDER_IS_CLOSED", Failed, "The transaction is closed. Use a new paymentRequestId.";
    /// No settlement contract for the requested `settlementStrategy.settlementCurrency`.
    SettleContractNotMatch = "SETTLE_CONTRACT_NOT_MATCH", Failed, "No matched settlement contract can be found.";
    /// The payment method metadata is invalid.
    InvalidPaymentMethodMetaData = "INVALID_PAYMENT_METHOD_META_DATA", Failed, "The payment method metadata is invalid.";

    // Lookups and state (§5.3–5.6).
    /// The payment or refund does not exist.
    OrderNotExist = "ORDER_NOT_EXIST", Failed, "The order does not exist. Check whether paymentId is correct.";
    /// The payment is not in a state that allows this call.
    OrderStatusInvalid = "ORDER_STATUS_INVALID", Failed, "The transaction status is abnormal; the operation cannot be performed.";

    // capture (§5.3).
    /// The authorization was cancelled.
    AuthCancelled = "AUTH_CANCELLED", Failed, "The payment authorization is cancelled. Use a new paymentRequestId.";
    /// The authorization expired.
    AuthExpired = "AUTH_EXPIRED", Failed, "The payment authorization is expired. Use a new paymentRequestId.";
    /// No authorization to capture.
    AuthNotFound = "AUTH_NOT_FOUND", Failed, "The payment authorization is not found.";
    /// Captures would exceed the authorized amount.
    CaptureAmountExceedAuthLimit = "CAPTURE_AMOUNT_EXCEED_AUTH_LIMIT", Failed, "The total capture amount exceeds the authorized amount.";
    /// The capture is in process.
    CaptureInProcess = "CAPTURE_IN_PROCESS", Unknown, "The capture is being processed.";
    /// Only one capture is allowed.
    MultiCaptureNotSupported = "MULTI_CAPTURE_NOT_SUPPORTED", Failed, "The transaction does not support multiple captures.";

    // cancel (§5.4).
    /// Too late to cancel.
    CancelWindowExceed = "CANCEL_WINDOW_EXCEED", Failed, "The cancellation window has passed.";

    // refund (§5.5).
    /// Refunds would exceed the captured amount.
    RefundAmountExceed = "REFUND_AMOUNT_EXCEED", Failed, "The total refund amount exceeds the original payment amount.";
    /// Too late to refund.
    RefundWindowExceed = "REFUND_WINDOW_EXCEED", Failed, "The refund window has passed.";
    /// The refund is in process.
    RefundInProcess = "REFUND_IN_PROCESS", Unknown, "The refund is being processed.";

    // Card outcomes, used as `paymentResultCode` (§5.6).
    /// The issuer declined.
    DoNotHonor = "DO_NOT_HONOR", Failed, "The issuing bank declined the payment.";
    /// The card has expired.
    CardExpired = "CARD_EXPIRED", Failed, "The card has expired.";
    /// The card is not supported.
    CardNotSupported = "CARD_NOT_SUPPORTED", Failed, "The card is not supported.";
    /// The card number is invalid.
    InvalidCardNumber = "INVALID_CARD_NUMBER", Failed, "The card number is invalid.";
    /// The CVV is invalid.
    InvalidCvv = "INVALID_CVV", Failed, "The CVV is invalid.";
    /// The expiry date is invalid.
    InvalidExpirationDate = "INVALID_EXPIRATION_DATE", Failed, "The expiration date is invalid.";
    /// Not enough funds.
    UserBalanceNotEnough = "USER_BALANCE_NOT_ENOUGH", Failed, "The user balance is not enough.";
    /// 3-D Secure (or another verification) failed.
    UserPaymentVerificationFailed = "USER_PAYMENT_VERIFICATION_FAILED", Failed, "The user failed the payment verification (3-D Secure).";
    /// Rejected as fraud.
    FraudReject = "FRAUD_REJECT", Failed, "The payment is rejected as fraudulent.";
}

impl ResultCode {
    /// Finds a known code by its wire form.
    pub fn from_code(code: &str) -> Option<Self> {
        ResultCode::ALL.iter().copied().find(|c| c.code() == code)
    }

    /// The `result` object APO sends: `{"resultCode", "resultStatus", "resultMessage"}`.
    pub fn to_json(self) -> Value {
        result_json(self.code(), self.status(), self.message())
    }
}

/// The result codes APO documents for every API (shared/reference/apo-api.md §5.1), besides
/// SUCCESS.
const COMMON: &[ResultCode] = &[
    ResultCode::AccessDenied,
    ResultCode::InvalidApi,
    ResultCode::InvalidClient,
    ResultCode::UnknownClient,
    ResultCode::InvalidSignature,
    ResultCode::KeyNotFound,
    ResultCode::MediaTypeNotAcceptable,
    ResultCode::MethodNotSupported,
    ResultCode::NoInterfaceDef,
    ResultCode::MerchantNotRegistered,
    ResultCode::ParamIllegal,
    ResultCode::ProcessFail,
    ResultCode::RepeatReqInconsistent,
    ResultCode::RiskReject,
    ResultCode::SystemError,
    ResultCode::RequestTrafficExceedLimit,
    ResultCode::UnknownException,
];

/// The result codes APO documents for one API besides [`COMMON`] (apo-api.md §5.2–§5.6; the
/// cancel, refund and inquiry tables are partly UNCONFIRMED there, and follow the sandbox's own
/// choices for those cases).
fn specific(endpoint: Endpoint) -> &'static [ResultCode] {
    use ResultCode as C;
    match endpoint {
        Endpoint::Pay => &[
            C::Success,
            C::PaymentInProcess,
            C::CurrencyNotSupport,
            C::OrderIsCanceled,
            C::OrderIsClosed,
            C::SettleContractNotMatch,
            C::InvalidPaymentMethodMetaData,
            C::UserBalanceNotEnough,
        ],
        Endpoint::InquiryPayment | Endpoint::InquiryRefund => &[C::OrderNotExist],
        Endpoint::Capture => &[
            C::AuthCancelled,
            C::AuthExpired,
            C::AuthNotFound,
            C::CaptureAmountExceedAuthLimit,
            C::CaptureInProcess,
            C::CurrencyNotSupport,
            C::MultiCaptureNotSupported,
            C::OrderIsCanceled,
            C::OrderStatusInvalid,
            C::UserBalanceNotEnough,
        ],
        Endpoint::Cancel => &[
            C::OrderNotExist,
            C::OrderStatusInvalid,
            C::CancelWindowExceed,
            C::OrderIsClosed,
        ],
        Endpoint::Refund => &[
            C::RefundAmountExceed,
            C::RefundWindowExceed,
            C::RefundInProcess,
            C::OrderNotExist,
            C::OrderStatusInvalid,
        ],
    }
}

/// Every result code APO documents for `endpoint`'s answer: the API's own codes, then the
/// common ones. SUCCESS is listed for pay only, where it means a synchronous authorization;
/// the other APIs answer SUCCESS whenever the call itself is valid.
pub fn documented_for(endpoint: Endpoint) -> impl Iterator<Item = ResultCode> {
    specific(endpoint).iter().chain(COMMON).copied()
}

/// A `result` object with any code, status and message (a specific message instead of the
/// table's, or a code outside the table, such as a test card's outcome).
pub fn result_json(code: &str, status: ResultStatus, message: &str) -> Value {
    json!({ "resultCode": code, "resultStatus": status.letter(), "resultMessage": message })
}

impl fmt::Display for ResultCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_round_trip() {
        let mut seen = std::collections::HashSet::new();
        for &c in ResultCode::ALL {
            assert!(seen.insert(c.code()), "duplicate {}", c.code());
            assert_eq!(ResultCode::from_code(c.code()), Some(c));
            assert!(!c.message().is_empty());
        }
        assert_eq!(ResultCode::from_code("NOPE"), None);
    }

    #[test]
    fn every_api_documents_unknown_exception_and_its_own_codes_once() {
        for endpoint in Endpoint::ALL {
            let codes: Vec<ResultCode> = documented_for(endpoint).collect();
            let unique: std::collections::HashSet<_> = codes.iter().collect();
            assert_eq!(unique.len(), codes.len(), "{endpoint:?} lists a code twice");
            assert!(codes.contains(&ResultCode::UnknownException));
            assert_eq!(
                codes.contains(&ResultCode::Success),
                endpoint == Endpoint::Pay
            );
        }
        assert!(documented_for(Endpoint::Capture).any(|c| c == ResultCode::CaptureInProcess));
        assert!(!documented_for(Endpoint::Pay).any(|c| c == ResultCode::CaptureInProcess));
    }

    #[test]
    fn statuses_follow_the_reference() {
        assert_eq!(ResultCode::Success.status(), ResultStatus::Success);
        assert_eq!(ResultCode::PaymentInProcess.status(), ResultStatus::Unknown);
        assert_eq!(ResultCode::RiskReject.status(), ResultStatus::Failed);
        assert_eq!(
            ResultCode::ParamIllegal.to_json(),
            json!({"resultCode": "PARAM_ILLEGAL", "resultStatus": "F",
                   "resultMessage": ResultCode::ParamIllegal.message()})
        );
        for l in ["S", "F", "U"] {
            assert_eq!(ResultStatus::from_letter(l).unwrap().letter(), l);
        }
    }
}
