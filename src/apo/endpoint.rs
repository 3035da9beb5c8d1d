//! The six APO payment APIs a hosted-mode card integration calls: their names, paths and
//! idempotency keys, and the sandbox path rewrite the official SDKs apply.
//!
//! ```text
//! production:  POST {base}/ams/api/v1/payments/<name>
//! sandbox:     POST {base}/ams/sandbox/api/v1/payments/<name>   (client id starts with SANDBOX_)
//! ```
//!
//! The rewrite replaces the first `/ams/api` and happens before signing, so the signed path is
//! the sandbox path (shared/reference/apo-api.md §1.2).

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

/// Client ids of APO's sandbox start with this prefix.
pub const SANDBOX_CLIENT_PREFIX: &str = "SANDBOX_";

/// One APO payment API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// `pay`: start a payment (hosted mode: returns `normalUrl`).
    Pay,
    /// `inquiryPayment`: the status of a payment.
    InquiryPayment,
    /// `capture`: capture an authorized payment (manual capture).
    Capture,
    /// `cancel`: cancel a payment before capture.
    Cancel,
    /// `refund`: refund a captured payment, in full or in part.
    Refund,
    /// `inquiryRefund`: the status of a refund.
    InquiryRefund,
}

impl Endpoint {
    /// Every endpoint, in the order of a payment's life.
    pub const ALL: [Endpoint; 6] = [
        Endpoint::Pay,
        Endpoint::InquiryPayment,
        Endpoint::Capture,
        Endpoint::Cancel,
        Endpoint::Refund,
        Endpoint::InquiryRefund,
    ];

    /// The API name as APO spells it in the path, e.g. `inquiryPayment`.
    pub fn name(self) -> &'static str {
        match self {
            Endpoint::Pay => "pay",
            Endpoint::InquiryPayment => "inquiryPayment",
            Endpoint::Capture => "capture",
            Endpoint::Cancel => "cancel",
            Endpoint::Refund => "refund",
            Endpoint::InquiryRefund => "inquiryRefund",
        }
    }

    /// The flow step kinds that call them, in the order of [`Endpoint::ALL`] (design.md §3).
    pub const STEP_NAMES: [&'static str; 6] = [
        "pay",
        "inquiry",
        "capture",
        "cancel",
        "refund",
        "inquiry_refund",
    ];

    /// The flow step kind that calls it: `pay`, `inquiry`, `capture`, `cancel`, `refund`,
    /// `inquiry_refund`.
    pub fn step_name(self) -> &'static str {
        Self::STEP_NAMES[self as usize]
    }

    /// The production path, e.g. `/ams/api/v1/payments/pay`.
    pub fn path(self) -> &'static str {
        match self {
            Endpoint::Pay => "/ams/api/v1/payments/pay",
            Endpoint::InquiryPayment => "/ams/api/v1/payments/inquiryPayment",
            Endpoint::Capture => "/ams/api/v1/payments/capture",
            Endpoint::Cancel => "/ams/api/v1/payments/cancel",
            Endpoint::Refund => "/ams/api/v1/payments/refund",
            Endpoint::InquiryRefund => "/ams/api/v1/payments/inquiryRefund",
        }
    }

    /// The path a client with this id calls (and signs): the sandbox path for `SANDBOX_` ids.
    pub fn path_for(self, client_id: &str) -> Cow<'static, str> {
        path_for_client(self.path(), client_id)
    }

    /// The request field that makes a call idempotent, if the API has one.
    pub fn idempotency_field(self) -> Option<&'static str> {
        match self {
            Endpoint::Pay => Some("paymentRequestId"),
            Endpoint::Capture => Some("captureRequestId"),
            Endpoint::Refund => Some("refundRequestId"),
            Endpoint::InquiryPayment | Endpoint::Cancel | Endpoint::InquiryRefund => None,
        }
    }

    /// Finds the endpoint of a path, production or sandbox form (query string ignored).
    pub fn from_path(path: &str) -> Option<Endpoint> {
        let path = path.split('?').next().unwrap_or(path);
        let name = path
            .strip_prefix("/ams/api/v1/payments/")
            .or_else(|| path.strip_prefix("/ams/sandbox/api/v1/payments/"))?;
        Endpoint::ALL.into_iter().find(|e| e.name() == name)
    }
}

/// Whether a client id belongs to APO's sandbox.
pub fn is_sandbox_client(client_id: &str) -> bool {
    client_id.starts_with(SANDBOX_CLIENT_PREFIX)
}

/// Rewrites the first `/ams/api` of a path to `/ams/sandbox/api` for sandbox client ids, as
/// every official SDK does before signing.
pub fn path_for_client<'a>(path: &'a str, client_id: &str) -> Cow<'a, str> {
    if is_sandbox_client(client_id) && path.contains("/ams/api") {
        Cow::Owned(path.replacen("/ams/api", "/ams/sandbox/api", 1))
    } else {
        Cow::Borrowed(path)
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An API name that is not one of the six.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown APO API `{0}` (expected one of: pay, inquiryPayment, capture, cancel, refund, inquiryRefund)"
)]
pub struct UnknownEndpoint(pub String);

impl FromStr for Endpoint {
    type Err = UnknownEndpoint;

    /// Accepts APO's names (`inquiryPayment`), snake case (`inquiry_payment`) and the step
    /// names (`inquiry`, `inquiry_refund`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let fold = |x: &str| -> String {
            x.chars()
                .filter(|c| *c != '_' && *c != '-')
                .collect::<String>()
                .to_ascii_lowercase()
        };
        let folded = fold(s);
        Endpoint::ALL
            .into_iter()
            .find(|e| fold(e.name()) == folded || fold(e.step_name()) == folded)
            .ok_or_else(|| UnknownEndpoint(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_names_follow_the_endpoints() {
        for (i, e) in Endpoint::ALL.into_iter().enumerate() {
            assert_eq!(e as usize, i);
        }
        assert_eq!(Endpoint::InquiryRefund.step_name(), "inquiry_refund");
        assert_eq!(Endpoint::InquiryPayment.step_name(), "inquiry");
    }

    #[test]
    fn paths_and_sandbox_rewrite() {
        assert_eq!(Endpoint::Pay.path(), "/ams/api/v1/payments/pay");
        assert_eq!(
            Endpoint::InquiryPayment.path_for("SANDBOX_5X00000000000000"),
            "/ams/sandbox/api/v1/payments/inquiryPayment"
        );
        assert_eq!(
            Endpoint::Refund.path_for("5X00000000000000"),
            "/ams/api/v1/payments/refund"
        );
        // Only the first occurrence is rewritten, as the SDKs do.
        assert_eq!(
            path_for_client("/ams/api/x/ams/api", "SANDBOX_1"),
            "/ams/sandbox/api/x/ams/api"
        );
        for e in Endpoint::ALL {
            assert!(e.path().ends_with(e.name()));
            assert_eq!(Endpoint::from_path(e.path()), Some(e));
            assert_eq!(Endpoint::from_path(&e.path_for("SANDBOX_X")), Some(e));
        }
        assert_eq!(Endpoint::from_path("/ams/api/v1/payments/consult"), None);
    }

    #[test]
    fn names_parse_in_both_spellings() {
        assert_eq!(
            "inquiryPayment".parse::<Endpoint>(),
            Ok(Endpoint::InquiryPayment)
        );
        assert_eq!(
            "inquiry_refund".parse::<Endpoint>(),
            Ok(Endpoint::InquiryRefund)
        );
        for e in Endpoint::ALL {
            assert_eq!(e.step_name().parse::<Endpoint>(), Ok(e));
        }
        let err = "payy".parse::<Endpoint>().unwrap_err().to_string();
        assert!(
            err.contains("`payy`") && err.contains("inquiryRefund"),
            "{err}"
        );
    }

    #[test]
    fn idempotency_fields() {
        assert_eq!(Endpoint::Pay.idempotency_field(), Some("paymentRequestId"));
        assert_eq!(
            Endpoint::Capture.idempotency_field(),
            Some("captureRequestId")
        );
        assert_eq!(
            Endpoint::Refund.idempotency_field(),
            Some("refundRequestId")
        );
        assert_eq!(Endpoint::Cancel.idempotency_field(), None);
    }
}
