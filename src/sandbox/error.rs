//! Business failures of the sandbox.
//!
//! Every failure of an APO call becomes an [`ApoError`]; `api.rs` turns it into HTTP 200 with a
//! signed `{"result": {resultCode, resultStatus, resultMessage}}` body, as APO does (the SDKs
//! treat any other status as a transport error). Codes, statuses and default messages come
//! from [`crate::apo::result`]; the sandbox adds a specific message where it can say more
//! (PARAM_ILLEGAL naming the field, amounts, the missing header).

use serde_json::{Value, json};

use crate::apo::result::{ResultCode, result_json};

/// A failed APO call: the code and a message that says what is wrong (naming the field for
/// PARAM_ILLEGAL).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApoError {
    /// The result code.
    pub code: ResultCode,
    /// The message sent as `resultMessage`.
    pub message: String,
}

impl ApoError {
    /// An error with the code's documented message.
    pub fn new(code: ResultCode) -> Self {
        ApoError {
            code,
            message: code.message().to_owned(),
        }
    }

    /// An error with a specific message.
    pub fn with(code: ResultCode, message: impl Into<String>) -> Self {
        ApoError {
            code,
            message: message.into(),
        }
    }

    /// PARAM_ILLEGAL naming the field: `"<field>: <problem>"`.
    pub fn param(field: &str, problem: &str) -> Self {
        ApoError::with(ResultCode::ParamIllegal, format!("{field}: {problem}"))
    }

    /// The response body: `{"result": …}`.
    pub fn body(&self) -> Value {
        json!({ "result": result_json(self.code.code(), self.code.status(), &self.message) })
    }
}
