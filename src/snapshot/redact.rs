//! Redaction for *stability*: volatile APO values (ids, times, signatures, tokens, fingerprints,
//! URLs with ids, ephemeral ports) become stable placeholders, so two runs compare equal.
//!
//! This is not masking. Secrets and card data are masked by [`crate::mask`] before redaction
//! runs; a redaction placeholder only says "this changes every run".
//!
//! The default redactions, applied to every snapshot (documented in docs/src/snapshots.md as well):
//!
//! | where | becomes |
//! | --- | --- |
//! | a field named in [`DEFAULT_FIELDS`] (`paymentId`, `captureId`, `cardToken`, `fingerprint`, …) | its placeholder, e.g. `[paymentId]` |
//! | a field named in [`TIME_FIELDS`] (`paymentCreateTime`, `captureTime`, …) | `[datetime]` |
//! | any other occurrence of a value redacted above (inside a URL, inside `paymentActionForm`) | the same placeholder |
//! | an ISO 8601 date-time anywhere in a string | `[datetime]` |
//! | a UUID anywhere in a string | `[uuid]` |
//! | the port of `127.0.0.1`, `localhost` or `[::1]` in a string | `[port]` |
//! | in a URL, a path segment or query value that looks like an id (12+ letters/digits/`-`/`_`, with a digit) | `[id]` |
//!
//! Per-step redactions ([`Redaction`]) select values by JSONPath (RFC 9535) and replace every
//! selected value by `[redacted]` or a named placeholder; they run before the defaults, so their
//! filters see the original values.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use jsonpath_rust::parser::model::JpQuery;
use jsonpath_rust::parser::parse_json_path;
use jsonpath_rust::query::js_path_process;
use jsonpath_rust::query::queryable::Queryable as _;
use regex::Regex;
use serde_json::Value;

/// The placeholder of a per-step redaction that names none.
pub const REDACTED: &str = "[redacted]";

/// Volatile APO fields and their placeholders (apo-api.md §4 and §7: ids issued per call,
/// idempotency keys, tokens, network references, 3-D Secure references, signatures).
pub const DEFAULT_FIELDS: &[(&str, &str)] = &[
    ("paymentId", "[paymentId]"),
    ("paymentRequestId", "[paymentRequestId]"),
    ("captureId", "[captureId]"),
    ("captureRequestId", "[captureRequestId]"),
    ("refundId", "[refundId]"),
    ("refundRequestId", "[refundRequestId]"),
    ("referenceRefundId", "[referenceRefundId]"),
    ("transactionId", "[transactionId]"),
    ("transactionRequestId", "[transactionRequestId]"),
    ("referenceOrderId", "[referenceOrderId]"),
    ("cardToken", "[cardToken]"),
    // A saved-card payment sends the card token as the payment method id.
    ("paymentMethodId", "[cardToken]"),
    ("fingerprint", "[fingerprint]"),
    ("networkTransactionId", "[networkTransactionId]"),
    ("acquirerReferenceNo", "[acquirerReferenceNo]"),
    ("acquirerTransactionId", "[acquirerTransactionId]"),
    ("referenceRequestId", "[referenceRequestId]"),
    ("authorizationCode", "[authorizationCode]"),
    ("rrn", "[rrn]"),
    ("arn", "[arn]"),
    ("cavv", "[cavv]"),
    ("xid", "[xid]"),
    ("dsTransactionId", "[dsTransactionId]"),
    ("signature", "[signature]"),
];

/// APO date-time fields, all redacted to `[datetime]`.
pub const TIME_FIELDS: &[&str] = &[
    "paymentCreateTime",
    "paymentTime",
    "paymentExpiryTime",
    "authExpiryTime",
    "captureTime",
    "cancelTime",
    "refundTime",
    "transactionTime",
];

/// The placeholder of every date-time.
const DATETIME: &str = "[datetime]";

/// Values shorter than this are not replaced where they reappear inside other strings: a short
/// value (an `rrn` of `123`) would garble unrelated text.
const MIN_REUSED_LEN: usize = 6;

static DATETIME_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?")
        .expect("valid regex")
});
static UUID_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b")
        .expect("valid regex")
});
static LOCAL_PORT_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(127\.0\.0\.1|localhost|\[::1\]):\d{1,5}").expect("valid regex"));
static URL_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"https?://[^\s"'<>\\]+"#).expect("valid regex"));
static ID_LIKE_RE: LazyLock<Regex> = LazyLock::new(|| {
    // Segments of 12+ id characters; whether they hold a digit is checked separately.
    Regex::new(r"[A-Za-z0-9_-]{12,}").expect("valid regex")
});

/// A per-step redaction: a compiled JSONPath and the placeholder for what it selects.
#[derive(Debug, Clone)]
pub struct Redaction {
    path: String,
    query: JpQuery,
    placeholder: String,
}

/// A per-step redaction whose JSONPath does not compile.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid JSONPath `{path}` in `redact`: {message}")]
pub struct RedactionError {
    /// The JSONPath as written.
    pub path: String,
    /// What the parser said.
    pub message: String,
}

impl Redaction {
    /// Compiles a redaction; `placeholder` defaults to [`REDACTED`].
    ///
    /// ```
    /// use apoflow::snapshot::Redaction;
    /// let r = Redaction::new("$.order.goods[*].referenceGoodsId", Some("[goodsId]")).unwrap();
    /// assert_eq!(r.placeholder(), "[goodsId]");
    /// assert!(Redaction::new("order.goods", None).is_err());
    /// ```
    pub fn new(path: &str, placeholder: Option<&str>) -> Result<Redaction, RedactionError> {
        let query = parse_json_path(path).map_err(|e| RedactionError {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        Ok(Redaction {
            path: path.to_owned(),
            query,
            placeholder: placeholder.unwrap_or(REDACTED).to_owned(),
        })
    }

    /// The JSONPath as written.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// What selected values become.
    pub fn placeholder(&self) -> &str {
        &self.placeholder
    }

    /// Replaces every value this redaction selects; returns how many were replaced.
    fn apply(&self, value: &mut Value) -> usize {
        let paths: Vec<String> = match js_path_process(&self.query, &*value) {
            Ok(found) => found.into_iter().map(|r| r.path).collect(),
            // A query that cannot be evaluated against this value selects nothing.
            Err(_) => return 0,
        };
        let mut replaced = 0;
        for path in paths {
            if let Some(target) = value.reference_mut(path) {
                *target = Value::String(self.placeholder.clone());
                replaced += 1;
            }
        }
        replaced
    }
}

impl PartialEq for Redaction {
    fn eq(&self, other: &Self) -> bool {
        self.path == other.path && self.placeholder == other.placeholder
    }
}

/// Applies the per-step redactions, then the default ones, in place.
///
/// ```
/// use apoflow::snapshot::{redact, Redaction};
/// use serde_json::json;
/// let mut v = json!({
///     "paymentId": "202511250000000001",
///     "normalUrl": "https://127.0.0.1:41234/hosted/202511250000000001?lang=en",
///     "paymentCreateTime": "2025-11-25T21:00:00+08:00",
///     "order": {"referenceBuyerId": "buyer-7"}
/// });
/// redact(&mut v, &[Redaction::new("$.order.referenceBuyerId", None).unwrap()]);
/// assert_eq!(v, json!({
///     "paymentId": "[paymentId]",
///     "normalUrl": "https://127.0.0.1:[port]/hosted/[paymentId]?lang=en",
///     "paymentCreateTime": "[datetime]",
///     "order": {"referenceBuyerId": "[redacted]"}
/// }));
/// ```
pub fn redact(value: &mut Value, extra: &[Redaction]) {
    for r in extra {
        r.apply(value);
    }
    let mut known = BTreeMap::new();
    redact_fields(value, &mut known);
    // Longest first, so a value that contains another is replaced whole.
    let mut known: Vec<(String, &'static str)> = known.into_iter().collect();
    known.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then_with(|| a.0.cmp(&b.0)));
    redact_strings(value, &known);
}

/// Replaces the values of the default fields; records each replaced value and its placeholder.
fn redact_fields(value: &mut Value, known: &mut BTreeMap<String, &'static str>) {
    match value {
        Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                let placeholder = DEFAULT_FIELDS
                    .iter()
                    .find(|(name, _)| name == key)
                    .map(|(_, p)| *p)
                    .or_else(|| TIME_FIELDS.contains(&key.as_str()).then_some(DATETIME));
                match (placeholder, &*v) {
                    (Some(p), Value::String(s)) if !s.is_empty() => {
                        if s.len() >= MIN_REUSED_LEN && p != DATETIME {
                            known.insert(s.clone(), p);
                        }
                        *v = Value::String(p.to_owned());
                    }
                    (Some(p), Value::Number(n)) => {
                        let s = n.to_string();
                        if s.len() >= MIN_REUSED_LEN {
                            known.insert(s, p);
                        }
                        *v = Value::String(p.to_owned());
                    }
                    _ => redact_fields(v, known),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| redact_fields(v, known)),
        Value::Null | Value::Bool(_) | Value::Number(_) | Value::String(_) => {}
    }
}

/// Redacts volatile text inside every string (see the module table).
fn redact_strings(value: &mut Value, known: &[(String, &'static str)]) {
    match value {
        Value::Object(map) => map.values_mut().for_each(|v| redact_strings(v, known)),
        Value::Array(items) => items.iter_mut().for_each(|v| redact_strings(v, known)),
        Value::String(s) => {
            let redacted = redact_text(s, known);
            if redacted != *s {
                *s = redacted;
            }
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

/// Redacts one string: known values, date-times, UUIDs, loopback ports, ids in URLs.
fn redact_text(text: &str, known: &[(String, &'static str)]) -> String {
    let mut out = text.to_owned();
    for (value, placeholder) in known {
        if out.contains(value.as_str()) {
            out = out.replace(value.as_str(), placeholder);
        }
    }
    let out = DATETIME_RE.replace_all(&out, DATETIME);
    let out = UUID_RE.replace_all(&out, "[uuid]");
    let out = LOCAL_PORT_RE.replace_all(&out, "$1:[port]");
    URL_RE
        .replace_all(&out, |caps: &regex::Captures<'_>| redact_url_ids(&caps[0]))
        .into_owned()
}

/// In a URL (after the host), replaces id-like segments and query values with `[id]`.
fn redact_url_ids(url: &str) -> String {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    let path_start = url[after_scheme..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| after_scheme + i);
    let (head, tail) = url.split_at(path_start);
    let tail = ID_LIKE_RE.replace_all(tail, |caps: &regex::Captures<'_>| {
        let m = &caps[0];
        if m.bytes().any(|b| b.is_ascii_digit()) {
            "[id]".to_owned()
        } else {
            m.to_owned()
        }
    });
    format!("{head}{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn notification(payment_id: &str, token: &str, time: &str) -> Value {
        json!({
            "notifyType": "PAYMENT_RESULT",
            "paymentId": payment_id,
            "paymentRequestId": "c0a8e5d2-5f0b-4b8e-9f3e-1d2c3b4a5f60",
            "paymentTime": time,
            "paymentCreateTime": time,
            "result": {"resultCode": "SUCCESS", "resultStatus": "S"},
            "paymentResultInfo": {
                "cardToken": token,
                "fingerprint": format!("fp{token}"),
                "cardNo": "************1111",
                "threeDSResult": {"eci": "05", "xid": "649335d6-aaaa-bbbb-cccc-1234567890ab"}
            },
            "transactions": [
                {"transactionType": "CAPTURE", "transactionId": format!("{payment_id}C"),
                 "transactionTime": time}
            ],
            "paymentActionForm": format!(
                "{{\"method\":\"GET\",\"redirectUrl\":\"http://localhost:8123/pay/{payment_id}\"}}"
            )
        })
    }

    #[test]
    fn two_runs_with_different_ids_compare_equal() {
        let mut a = notification(
            "2025112500000001",
            "ctok_4a8b9c7d6e5f",
            "2025-11-25T10:00:00Z",
        );
        let mut b = notification(
            "2025112599999999",
            "ctok_0000000111aa",
            "2025-11-26T23:59:59.123+08:00",
        );
        redact(&mut a, &[]);
        redact(&mut b, &[]);
        assert_eq!(a, b);
        assert_eq!(a["paymentId"], "[paymentId]");
        assert_eq!(a["paymentResultInfo"]["cardToken"], "[cardToken]");
        assert_eq!(a["paymentResultInfo"]["fingerprint"], "[fingerprint]");
        assert_eq!(a["paymentResultInfo"]["cardNo"], "************1111");
        assert_eq!(a["paymentResultInfo"]["threeDSResult"]["eci"], "05");
        assert_eq!(a["paymentTime"], "[datetime]");
        assert_eq!(
            a["paymentActionForm"],
            "{\"method\":\"GET\",\"redirectUrl\":\"http://localhost:[port]/pay/[paymentId]\"}"
        );
    }

    #[test]
    fn stable_values_are_kept() {
        let original = json!({
            "paymentAmount": {"currency": "SGD", "value": "4200"},
            "result": {"resultCode": "PAYMENT_IN_PROCESS", "resultMessage": "Payment is processing."},
            "normalUrl": "https://checkout.example.com/hosted/card?lang=en_US",
            "rrn": "123"
        });
        let mut v = original.clone();
        redact(&mut v, &[]);
        assert_eq!(v["paymentAmount"], original["paymentAmount"]);
        assert_eq!(v["result"], original["result"]);
        assert_eq!(v["normalUrl"], original["normalUrl"]);
        // A short id is still redacted where it is a field, just not searched for elsewhere.
        assert_eq!(v["rrn"], "[rrn]");
    }

    #[test]
    fn ids_in_urls_become_id() {
        let mut v = json!({"normalUrl": "https://sandbox.example/hosted/sess_9f8e7d6c5b4a3?t=abc123def456ghi&lang=en"});
        redact(&mut v, &[]);
        assert_eq!(
            v["normalUrl"],
            "https://sandbox.example/hosted/[id]?t=[id]&lang=en"
        );
    }

    #[test]
    fn per_step_redactions_run_first_with_named_placeholders() {
        let mut v = json!({
            "transactions": [
                {"transactionType": "CAPTURE", "transactionAmount": {"value": "100"}},
                {"transactionType": "REFUND", "transactionAmount": {"value": "50"}}
            ],
            "custom": "x"
        });
        let rs = [
            Redaction::new(
                "$.transactions[?@.transactionType == 'REFUND'].transactionAmount.value",
                Some("[amount]"),
            )
            .unwrap(),
            Redaction::new("$.custom", None).unwrap(),
            Redaction::new("$.absent", None).unwrap(),
        ];
        redact(&mut v, &rs);
        assert_eq!(v["transactions"][0]["transactionAmount"]["value"], "100");
        assert_eq!(
            v["transactions"][1]["transactionAmount"]["value"],
            "[amount]"
        );
        assert_eq!(v["custom"], "[redacted]");
    }

    #[test]
    fn invalid_jsonpath_is_an_error_naming_it() {
        let e = Redaction::new("$.a[", None).unwrap_err();
        assert_eq!(e.path, "$.a[");
        assert!(
            e.to_string()
                .starts_with("invalid JSONPath `$.a[` in `redact`: ")
        );
    }
}
