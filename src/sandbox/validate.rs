//! Request validation: every pay field of apo-api.md §4.1 and the other APIs' required fields.
//! Each failure is PARAM_ILLEGAL naming the field (`paymentAmount.value: must be …`).
//!
//! URLs must be HTTPS; plain `http` is allowed only for loopback hosts (127.0.0.0/8, ::1,
//! `localhost`) so a local merchant server or the runner's receiver can be used.

use jiff::Timestamp;
use serde_json::{Map, Value};

use super::error::ApoError;
use crate::apo::result::ResultCode;

/// An amount in minor units.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Money {
    /// ISO 4217 code.
    pub currency: String,
    /// Minor units, positive.
    pub value: u64,
}

impl Money {
    /// `{"currency": …, "value": "…"}`.
    pub fn json(&self) -> Value {
        serde_json::json!({ "currency": self.currency, "value": self.value.to_string() })
    }
}

/// How the card is stored after the payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum TokenizeMode {
    /// Never store.
    Disabled,
    /// Always store.
    Enabled,
    /// Store when the buyer ticks "save card".
    AskForConsent,
}

/// A validated pay request.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct PayRequest {
    /// The idempotency key.
    pub payment_request_id: String,
    /// The amount.
    pub amount: Money,
    /// The saved card token, for saved-card payments.
    pub payment_method_id: Option<String>,
    /// Card storage.
    pub tokenize: TokenizeMode,
    /// Whether 3-D Secure is requested.
    pub three_ds: bool,
    /// AUTOMATIC (true) or MANUAL capture.
    pub auto_capture: bool,
    /// `paymentExpiryTime`, when given.
    pub expiry: Option<Timestamp>,
    /// Where the buyer goes after the hosted page.
    pub redirect_url: String,
    /// Where notifications go.
    pub notify_url: Option<String>,
    /// `order.referenceOrderId`.
    pub reference_order_id: String,
    /// `order.orderDescription`.
    pub order_description: String,
    /// `settlementStrategy.settlementCurrency`, when given.
    pub settlement_currency: Option<String>,
}

/// Which payment a call names: by APO's id or the merchant's request id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaymentRef {
    /// `paymentId` (wins when both are given).
    Id(String),
    /// `paymentRequestId`.
    RequestId(String),
}

/// A validated capture request.
#[derive(Debug, Clone)]
pub struct CaptureRequest {
    /// The idempotency key.
    pub capture_request_id: String,
    /// The payment.
    pub payment_id: String,
    /// The amount to capture.
    pub amount: Money,
}

/// A validated refund request.
#[derive(Debug, Clone)]
pub struct RefundRequest {
    /// The idempotency key.
    pub refund_request_id: String,
    /// The payment.
    pub payment_id: String,
    /// The amount to refund.
    pub amount: Money,
    /// Where the REFUND_RESULT goes (falls back to the payment's notify URL).
    pub notify_url: Option<String>,
}

/// Which refund inquiryRefund names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefundRef {
    /// `refundId` (wins when both are given).
    Id(String),
    /// `refundRequestId`.
    RequestId(String),
}

/// The body as a JSON object, or PARAM_ILLEGAL.
pub fn object(body: &Value) -> Result<&Map<String, Value>, ApoError> {
    body.as_object()
        .ok_or_else(|| ApoError::param("body", "must be a JSON object"))
}

fn child<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    obj.get(key).filter(|v| !v.is_null())
}

fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_owned()
    } else {
        format!("{prefix}.{key}")
    }
}

/// An optional string field of at most `max` characters; empty counts as absent.
fn opt_str<'a>(
    obj: &'a Map<String, Value>,
    prefix: &str,
    key: &str,
    max: usize,
) -> Result<Option<&'a str>, ApoError> {
    match child(obj, key) {
        None => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) if s.chars().count() > max => Err(ApoError::param(
            &join(prefix, key),
            &format!("must be at most {max} characters"),
        )),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(ApoError::param(&join(prefix, key), "must be a string")),
    }
}

/// A required string field of at most `max` characters.
fn req_str<'a>(
    obj: &'a Map<String, Value>,
    prefix: &str,
    key: &str,
    max: usize,
) -> Result<&'a str, ApoError> {
    opt_str(obj, prefix, key, max)?
        .ok_or_else(|| ApoError::param(&join(prefix, key), "is required"))
}

fn opt_obj<'a>(
    obj: &'a Map<String, Value>,
    prefix: &str,
    key: &str,
) -> Result<Option<&'a Map<String, Value>>, ApoError> {
    match child(obj, key) {
        None => Ok(None),
        Some(Value::Object(o)) => Ok(Some(o)),
        Some(_) => Err(ApoError::param(&join(prefix, key), "must be an object")),
    }
}

fn req_obj<'a>(
    obj: &'a Map<String, Value>,
    prefix: &str,
    key: &str,
) -> Result<&'a Map<String, Value>, ApoError> {
    opt_obj(obj, prefix, key)?.ok_or_else(|| ApoError::param(&join(prefix, key), "is required"))
}

/// A boolean, given as JSON `true`/`false` or the strings `"true"`/`"false"` (SDKs send both).
fn opt_bool(obj: &Map<String, Value>, prefix: &str, key: &str) -> Result<Option<bool>, ApoError> {
    match child(obj, key) {
        None => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(Value::String(s)) if s == "true" => Ok(Some(true)),
        Some(Value::String(s)) if s == "false" => Ok(Some(false)),
        Some(_) => Err(ApoError::param(&join(prefix, key), "must be true or false")),
    }
}

/// ISO 4217 codes in active use.
const CURRENCIES: &str = "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND \
BOB BRL BSD BTN BWP BYN BZD CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR \
FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS \
KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN \
MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG \
SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD UYU UZS \
VES VND VUV WST XAF XCD XOF XPF YER ZAR ZMW ZWL";

/// A required amount: ISO currency and a positive integer string of minor units.
fn req_money(obj: &Map<String, Value>, prefix: &str, key: &str) -> Result<Money, ApoError> {
    let path = join(prefix, key);
    let m = req_obj(obj, prefix, key)?;
    let currency = req_str(m, &path, "currency", 64)?;
    if currency.len() != 3 || !CURRENCIES.split(' ').any(|c| c == currency) {
        return Err(ApoError::param(
            &join(&path, "currency"),
            "must be an ISO 4217 currency code such as USD",
        ));
    }
    let value_path = join(&path, "value");
    let value = match child(m, "value") {
        None => return Err(ApoError::param(&value_path, "is required")),
        Some(Value::String(s)) => s,
        Some(_) => {
            return Err(ApoError::param(
                &value_path,
                "must be a string of digits in minor units, e.g. \"4200\"",
            ));
        }
    };
    let positive = !value.is_empty()
        && value.len() <= 16
        && value.bytes().all(|b| b.is_ascii_digit())
        && !value.starts_with('0');
    if !positive {
        return Err(ApoError::param(
            &value_path,
            "must be a positive integer in minor units, as a string (e.g. \"4200\")",
        ));
    }
    let value = value
        .parse()
        .map_err(|_| ApoError::param(&value_path, "is too large"))?;
    Ok(Money {
        currency: currency.to_owned(),
        value,
    })
}

/// Whether a URL is acceptable: no control characters (the URL parser would silently drop
/// CR, LF and tab, and the URL later breaks a redirect), HTTPS or http on a loopback host, and
/// not a sandbox's own control API (a notification must never reset or steer a sandbox).
fn check_url(path: &str, s: &str) -> Result<(), ApoError> {
    if s.chars().any(char::is_control) {
        return Err(ApoError::param(
            path,
            "must not contain control characters (CR, LF, tab, …)",
        ));
    }
    let url = url::Url::parse(s).map_err(|_| ApoError::param(path, "must be an absolute URL"))?;
    if targets_control_api(&url) {
        return Err(ApoError::param(
            path,
            "must not point at a sandbox control API (/_sandbox/…)",
        ));
    }
    let loopback = match url.host() {
        Some(url::Host::Domain(d)) => d == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    match url.scheme() {
        "https" if url.host().is_some() => Ok(()),
        "http" if loopback => Ok(()),
        _ => Err(ApoError::param(
            path,
            "must be an https URL (plain http is accepted only for loopback hosts)",
        )),
    }
}

/// Whether `url` names a sandbox control API: a path under `/_sandbox` once percent-decoded
/// and with repeated leading slashes ignored, on any host (another sandbox's control API is
/// no notification target either).
pub fn targets_control_api(url: &url::Url) -> bool {
    let path = percent_encoding::percent_decode_str(url.path()).decode_utf8_lossy();
    let rest = path.trim_start_matches('/');
    rest.strip_prefix("_sandbox")
        .is_some_and(|tail| tail.is_empty() || tail.starts_with('/'))
}

fn opt_url<'a>(
    obj: &'a Map<String, Value>,
    key: &str,
    max: usize,
) -> Result<Option<&'a str>, ApoError> {
    let s = opt_str(obj, "", key, max)?;
    if let Some(s) = s {
        check_url(key, s)?;
    }
    Ok(s)
}

/// The latest custom `paymentExpiryTime`, after the request (the SDK: "less than 10 minutes
/// after the request" for card payments).
pub const MAX_CUSTOM_EXPIRY: jiff::SignedDuration = jiff::SignedDuration::from_mins(10);

/// Validates a pay request (apo-api.md §4.1), given the virtual `now` for `paymentExpiryTime`.
pub fn pay(body: &Value, now: Timestamp) -> Result<PayRequest, ApoError> {
    let o = object(body)?;
    match req_str(o, "", "productCode", 32)? {
        "CASHIER_PAYMENT" => {}
        _ => return Err(ApoError::param("productCode", "must be CASHIER_PAYMENT")),
    }
    let payment_request_id = req_str(o, "", "paymentRequestId", 64)?.to_owned();
    let amount = req_money(o, "", "paymentAmount")?;

    let pm = req_obj(o, "", "paymentMethod")?;
    if req_str(pm, "paymentMethod", "paymentMethodType", 64)? != "CARD" {
        return Err(ApoError::param(
            "paymentMethod.paymentMethodType",
            "must be CARD",
        ));
    }
    let payment_method_id =
        opt_str(pm, "paymentMethod", "paymentMethodId", 128)?.map(str::to_owned);
    let meta_path = "paymentMethod.paymentMethodMetaData";
    let (tokenize, three_ds) = match opt_obj(pm, "paymentMethod", "paymentMethodMetaData")? {
        None => (TokenizeMode::Disabled, false),
        Some(meta) => {
            let tokenize = match opt_str(meta, meta_path, "tokenizeMode", 32)? {
                None | Some("DISABLED") => TokenizeMode::Disabled,
                Some("ENABLED") => TokenizeMode::Enabled,
                Some("ASKFORCONSENT") => TokenizeMode::AskForConsent,
                Some(_) => {
                    return Err(ApoError::param(
                        &join(meta_path, "tokenizeMode"),
                        "must be ENABLED, DISABLED or ASKFORCONSENT",
                    ));
                }
            };
            opt_bool(meta, meta_path, "isCardOnFile")?;
            let three_ds = opt_bool(meta, meta_path, "is3DSAuthentication")?.unwrap_or(false);
            (tokenize, three_ds)
        }
    };

    let pf = req_obj(o, "", "paymentFactor")?;
    if opt_bool(pf, "paymentFactor", "isAuthorization")? != Some(true) {
        return Err(ApoError::param(
            "paymentFactor.isAuthorization",
            "is required and must be true",
        ));
    }
    let auto_capture = match opt_str(pf, "paymentFactor", "captureMode", 64)? {
        None | Some("AUTOMATIC") => true,
        Some("MANUAL") => false,
        Some(_) => {
            return Err(ApoError::param(
                "paymentFactor.captureMode",
                "must be AUTOMATIC or MANUAL",
            ));
        }
    };

    let expiry = match opt_str(o, "", "paymentExpiryTime", 64)? {
        None => None,
        Some(s) => {
            let t: Timestamp = s.parse().map_err(|_| {
                ApoError::param(
                    "paymentExpiryTime",
                    "must be an ISO 8601 date-time with an offset, e.g. 2025-03-17T10:22:52+08:00",
                )
            })?;
            if t <= now {
                return Err(ApoError::param(
                    "paymentExpiryTime",
                    "must be in the future",
                ));
            }
            if t > now.saturating_add(MAX_CUSTOM_EXPIRY).unwrap_or(now) {
                return Err(ApoError::param(
                    "paymentExpiryTime",
                    "must be at most 10 minutes after the request (leave it out for APO's \
                     default of 14 minutes)",
                ));
            }
            Some(t)
        }
    };
    let redirect_url = opt_url(o, "paymentRedirectUrl", 2048)?
        .ok_or_else(|| ApoError::param("paymentRedirectUrl", "is required"))?
        .to_owned();
    let notify_url = opt_url(o, "paymentNotifyUrl", 2048)?.map(str::to_owned);
    let settlement_currency = match opt_obj(o, "", "settlementStrategy")? {
        Some(s) => opt_str(s, "settlementStrategy", "settlementCurrency", 3)?.map(str::to_owned),
        None => None,
    };
    opt_str(o, "", "merchantRegion", 2)?;
    opt_str(o, "", "merchantAccountId", 32)?;

    let order = req_obj(o, "", "order")?;
    let reference_order_id = req_str(order, "order", "referenceOrderId", 64)?.to_owned();
    let order_description = req_str(order, "order", "orderDescription", 256)?.to_owned();
    req_money(order, "order", "orderAmount")?;
    let buyer = req_obj(order, "order", "buyer")?;
    let ids = [
        opt_str(buyer, "order.buyer", "referenceBuyerId", 64)?,
        opt_str(buyer, "order.buyer", "buyerPhoneNo", 24)?,
        opt_str(buyer, "order.buyer", "buyerEmail", 64)?,
    ];
    if ids.iter().all(Option::is_none) {
        return Err(ApoError::param(
            "order.buyer",
            "needs at least one of referenceBuyerId, buyerPhoneNo, buyerEmail",
        ));
    }
    if let Some(name) = opt_obj(buyer, "order.buyer", "buyerName")? {
        for key in ["firstName", "middleName", "lastName"] {
            opt_str(name, "order.buyer.buyerName", key, 32)?;
        }
        opt_str(name, "order.buyer.buyerName", "fullName", 128)?;
    }
    goods(order)?;
    if let Some(s) = opt_obj(order, "order", "shipping")? {
        opt_str(s, "order.shipping", "shippingPhoneNo", 16)?;
        opt_str(s, "order.shipping", "shipToEmail", 64)?;
    }

    let env = req_obj(o, "", "env")?;
    match req_str(env, "env", "terminalType", 16)? {
        "WEB" | "WAP" | "APP" | "MINI_APP" => {}
        _ => {
            return Err(ApoError::param(
                "env.terminalType",
                "must be WEB, WAP, APP or MINI_APP",
            ));
        }
    }
    req_str(env, "env", "clientIp", 64)?;
    match opt_str(env, "env", "osType", 16)? {
        None | Some("IOS" | "ANDROID") => {}
        Some(_) => return Err(ApoError::param("env.osType", "must be IOS or ANDROID")),
    }

    Ok(PayRequest {
        payment_request_id,
        amount,
        payment_method_id,
        tokenize,
        three_ds,
        auto_capture,
        expiry,
        redirect_url,
        notify_url,
        reference_order_id,
        order_description,
        settlement_currency,
    })
}

/// The currencies a payment may be made in (`paymentAmount.currency`); any other ISO 4217 code
/// is CURRENCY_NOT_SUPPORT. A sandbox choice (APO's list depends on the merchant's contract).
pub const PAYMENT_CURRENCIES: &[&str] = &[
    "AUD", "BRL", "CAD", "CHF", "CLP", "CNY", "CZK", "DKK", "EUR", "GBP", "HKD", "IDR", "INR",
    "JPY", "KRW", "MXN", "MYR", "NOK", "NZD", "PEN", "PHP", "PLN", "SEK", "SGD", "THB", "TWD",
    "USD", "VND",
];

/// The settlement currencies every sandbox merchant has a contract for; any other
/// `settlementStrategy.settlementCurrency` is SETTLE_CONTRACT_NOT_MATCH.
pub const SETTLEMENT_CURRENCIES: &[&str] = &["USD", "EUR", "GBP", "HKD", "SGD", "JPY"];

/// The pay's business checks after its fields are valid: a supported payment currency and a
/// settlement currency under contract.
pub fn contract(req: &PayRequest) -> Result<(), ApoError> {
    let currency = req.amount.currency.as_str();
    if !PAYMENT_CURRENCIES.contains(&currency) {
        return Err(ApoError::with(
            ResultCode::CurrencyNotSupport,
            format!(
                "The currency {currency} is not supported; the sandbox accepts {}.",
                PAYMENT_CURRENCIES.join(", ")
            ),
        ));
    }
    if let Some(settle) = req.settlement_currency.as_deref()
        && !SETTLEMENT_CURRENCIES.contains(&settle)
    {
        return Err(ApoError::with(
            ResultCode::SettleContractNotMatch,
            format!(
                "No matched settlement contract can be found for {settle}; the sandbox \
                 merchants settle in {}.",
                SETTLEMENT_CURRENCIES.join(", ")
            ),
        ));
    }
    Ok(())
}

fn goods(order: &Map<String, Value>) -> Result<(), ApoError> {
    let Some(goods) = child(order, "goods") else {
        return Ok(());
    };
    let Some(items) = goods.as_array() else {
        return Err(ApoError::param("order.goods", "must be an array"));
    };
    if items.len() > 100 {
        return Err(ApoError::param(
            "order.goods",
            "must have at most 100 items",
        ));
    }
    for (i, item) in items.iter().enumerate() {
        let path = format!("order.goods[{i}]");
        let g = item
            .as_object()
            .ok_or_else(|| ApoError::param(&path, "must be an object"))?;
        opt_str(g, &path, "referenceGoodsId", 64)?;
        opt_str(g, &path, "goodsName", 256)?;
        opt_str(g, &path, "goodsCategory", 64)?;
        opt_str(g, &path, "goodsUrl", 2048)?;
        if child(g, "goodsUnitAmount").is_some() {
            req_money(g, &path, "goodsUnitAmount")?;
        }
    }
    Ok(())
}

/// Validates inquiryPayment and cancel: `paymentId` and/or `paymentRequestId`.
pub fn payment_ref(body: &Value) -> Result<PaymentRef, ApoError> {
    let o = object(body)?;
    opt_str(o, "", "merchantAccountId", 32)?;
    let id = opt_str(o, "", "paymentId", 64)?;
    let request_id = opt_str(o, "", "paymentRequestId", 64)?;
    match (id, request_id) {
        (Some(id), _) => Ok(PaymentRef::Id(id.to_owned())),
        (None, Some(r)) => Ok(PaymentRef::RequestId(r.to_owned())),
        (None, None) => Err(ApoError::param(
            "paymentId",
            "paymentId or paymentRequestId is required",
        )),
    }
}

/// Validates a capture request.
pub fn capture(body: &Value) -> Result<CaptureRequest, ApoError> {
    let o = object(body)?;
    Ok(CaptureRequest {
        capture_request_id: req_str(o, "", "captureRequestId", 64)?.to_owned(),
        payment_id: req_str(o, "", "paymentId", 64)?.to_owned(),
        amount: req_money(o, "", "captureAmount")?,
    })
}

/// Validates a refund request.
pub fn refund(body: &Value) -> Result<RefundRequest, ApoError> {
    let o = object(body)?;
    let refund_request_id = req_str(o, "", "refundRequestId", 64)?.to_owned();
    let payment_id = req_str(o, "", "paymentId", 64)?.to_owned();
    let amount = req_money(o, "", "refundAmount")?;
    opt_str(o, "", "referenceRefundId", 64)?;
    opt_str(o, "", "refundReason", 256)?;
    let notify_url = opt_url(o, "refundNotifyUrl", 1024)?.map(str::to_owned);
    Ok(RefundRequest {
        refund_request_id,
        payment_id,
        amount,
        notify_url,
    })
}

/// Validates inquiryRefund: `refundId` and/or `refundRequestId`.
pub fn refund_ref(body: &Value) -> Result<RefundRef, ApoError> {
    let o = object(body)?;
    opt_str(o, "", "merchantAccountId", 32)?;
    let id = opt_str(o, "", "refundId", 64)?;
    let request_id = opt_str(o, "", "refundRequestId", 64)?;
    match (id, request_id) {
        (Some(id), _) => Ok(RefundRef::Id(id.to_owned())),
        (None, Some(r)) => Ok(RefundRef::RequestId(r.to_owned())),
        (None, None) => Err(ApoError::param(
            "refundId",
            "refundId or refundRequestId is required",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn valid() -> Value {
        json!({
            "productCode": "CASHIER_PAYMENT",
            "paymentRequestId": "r1",
            "paymentAmount": {"currency": "SGD", "value": "4200"},
            "paymentMethod": {"paymentMethodType": "CARD"},
            "paymentFactor": {"isAuthorization": true},
            "paymentRedirectUrl": "https://shop.example/back",
            "order": {"referenceOrderId": "o1", "orderDescription": "Shoes",
                      "orderAmount": {"currency": "SGD", "value": "4200"},
                      "buyer": {"referenceBuyerId": "b1"}},
            "env": {"terminalType": "WEB", "clientIp": "1.2.3.4"}
        })
    }

    fn message(mut body: Value, path: &[&str], v: Value) -> String {
        let mut at = &mut body;
        for p in &path[..path.len() - 1] {
            at = &mut at[*p];
        }
        at[path[path.len() - 1]] = v;
        pay(&body, Timestamp::now()).unwrap_err().message
    }

    #[test]
    fn accepts_the_minimal_pay() {
        let p = pay(&valid(), Timestamp::now()).unwrap();
        assert_eq!(p.amount.value, 4200);
        assert!(p.auto_capture);
    }

    #[test]
    fn names_the_field() {
        let cases = [
            (
                &["paymentAmount", "value"][..],
                json!("0"),
                "paymentAmount.value",
            ),
            (
                &["paymentAmount", "value"][..],
                json!(42),
                "paymentAmount.value",
            ),
            (
                &["paymentAmount", "value"][..],
                json!("4.2"),
                "paymentAmount.value",
            ),
            (
                &["paymentAmount", "currency"][..],
                json!("XXX"),
                "paymentAmount.currency",
            ),
            (&["productCode"][..], json!("AGREEMENT"), "productCode"),
            (
                &["paymentFactor", "isAuthorization"][..],
                json!(false),
                "paymentFactor.isAuthorization",
            ),
            (
                &["paymentRedirectUrl"][..],
                json!("http://shop.example/"),
                "paymentRedirectUrl",
            ),
            (
                &["paymentRequestId"][..],
                json!("x".repeat(65)),
                "paymentRequestId",
            ),
            (&["order", "buyer"][..], json!({}), "order.buyer"),
            (
                &["env", "terminalType"][..],
                json!("PC"),
                "env.terminalType",
            ),
        ];
        for (path, v, field) in cases {
            let m = message(valid(), path, v);
            assert!(m.starts_with(field), "{m} should name {field}");
        }
    }

    #[test]
    fn urls_with_control_characters_or_at_a_control_api_are_refused() {
        for (url, problem) in [
            (
                "https://shop.example/back\r\nSet-Cookie: x=1",
                "control characters",
            ),
            ("https://shop.example/ba\tck", "control characters"),
            ("https://shop.example/\u{7f}", "control characters"),
            ("http://127.0.0.1:8088/_sandbox/reset", "control API"),
            ("http://127.0.0.1:8088//_sandbox/reset", "control API"),
            ("http://localhost:8088/%5Fsandbox/reset", "control API"),
            ("https://other.example/x/../_sandbox", "control API"),
        ] {
            let m = message(valid(), &["paymentRedirectUrl"], json!(url));
            assert!(
                m.starts_with("paymentRedirectUrl") && m.contains(problem),
                "{url}: {m}"
            );
        }
        let mut b = valid();
        b["paymentNotifyUrl"] = json!("http://127.0.0.1:9000/_sandboxes/notify");
        assert!(pay(&b, Timestamp::now()).is_ok());
        let mut r = json!({"refundRequestId": "r", "paymentId": "p",
                           "refundAmount": {"currency": "SGD", "value": "1"},
                           "refundNotifyUrl": "http://127.0.0.1:1/_sandbox/clock/advance"});
        assert!(
            refund(&r)
                .unwrap_err()
                .message
                .starts_with("refundNotifyUrl")
        );
        r["refundNotifyUrl"] = json!("http://127.0.0.1:1/notify\n");
        assert!(
            refund(&r)
                .unwrap_err()
                .message
                .contains("control characters")
        );
    }

    #[test]
    fn unsupported_currencies_and_settlements_are_refused() {
        let check = |body: Value| contract(&pay(&body, Timestamp::now()).unwrap());
        assert!(check(valid()).is_ok());
        let mut b = valid();
        b["paymentAmount"]["currency"] = json!("ZWL");
        assert_eq!(check(b).unwrap_err().code, ResultCode::CurrencyNotSupport);
        let mut b = valid();
        b["settlementStrategy"] = json!({"settlementCurrency": "USD"});
        assert!(check(b.clone()).is_ok());
        b["settlementStrategy"] = json!({"settlementCurrency": "BRL"});
        assert_eq!(
            check(b).unwrap_err().code,
            ResultCode::SettleContractNotMatch
        );
    }

    #[test]
    fn a_custom_expiry_is_at_most_10_minutes_ahead() {
        let now = Timestamp::now();
        let at = |mins: i64| {
            let mut b = valid();
            let t = now
                .saturating_add(jiff::SignedDuration::from_mins(mins))
                .unwrap();
            b["paymentExpiryTime"] = json!(t.strftime("%Y-%m-%dT%H:%M:%S+00:00").to_string());
            pay(&b, now)
        };
        assert!(at(9).is_ok());
        assert!(at(11).unwrap_err().message.contains("at most 10 minutes"));
    }

    /// A random JSON value: scalars of every kind (odd strings included), small arrays and
    /// objects.
    fn random_value(rng: &mut fastrand::Rng, depth: u32) -> Value {
        const STRINGS: [&str; 10] = [
            "",
            "0",
            "-1",
            "4200",
            "99999999999999999999",
            "USD",
            "https://shop.example/x",
            "http://127.0.0.1:1/_sandbox/reset",
            "a\r\nb",
            "\u{0}\u{7f}é😀",
        ];
        match rng.u8(0..8) {
            0 => Value::Null,
            1 => json!(rng.bool()),
            2 => json!(rng.i64(..)),
            3 => json!(rng.f64()),
            4 => json!(STRINGS[rng.usize(..STRINGS.len())]),
            5 => json!("x".repeat(rng.usize(0..3000))),
            6 if depth < 3 => Value::Array(
                (0..rng.usize(0..4))
                    .map(|_| random_value(rng, depth + 1))
                    .collect(),
            ),
            _ if depth < 3 => Value::Object(
                (0..rng.usize(0..4))
                    .map(|i| (format!("k{i}"), random_value(rng, depth + 1)))
                    .collect(),
            ),
            _ => json!("leaf"),
        }
    }

    /// Every path to a value in `v` (object keys only).
    fn paths(v: &Value, prefix: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
        if let Value::Object(o) = v {
            for (k, child) in o {
                prefix.push(k.clone());
                out.push(prefix.clone());
                paths(child, prefix, out);
                prefix.pop();
            }
        }
    }

    /// Property: whatever a field of a valid pay (or of the other APIs' bodies) is replaced
    /// with, validation never panics, and a refusal is PARAM_ILLEGAL naming a field of the body.
    #[test]
    fn any_mutation_is_accepted_or_refused_naming_a_field() {
        let mut rng = fastrand::Rng::with_seed(12);
        let mut all = Vec::new();
        paths(&valid(), &mut Vec::new(), &mut all);
        let now = Timestamp::now();
        for _ in 0..3000 {
            let mut body = valid();
            let path = &all[rng.usize(..all.len())];
            let mut at = &mut body;
            for key in &path[..path.len() - 1] {
                at = &mut at[key.as_str()];
            }
            at[path[path.len() - 1].as_str()] = random_value(&mut rng, 0);
            if let Err(e) = pay(&body, now) {
                assert_eq!(e.code, ResultCode::ParamIllegal, "{body}");
                let field = e.message.split(':').next().unwrap_or_default();
                let top = field.split(['.', '[']).next().unwrap_or_default();
                assert!(
                    top == "body" || valid().get(top).is_some() || top == "paymentNotifyUrl",
                    "{} names no field of {body}",
                    e.message
                );
            }
            let other = random_value(&mut rng, 0);
            for check in [
                |v: &Value| payment_ref(v).err(),
                |v: &Value| capture(v).err(),
                |v: &Value| refund(v).err(),
                |v: &Value| refund_ref(v).err(),
            ] {
                if let Some(e) = check(&other) {
                    assert_eq!(e.code, ResultCode::ParamIllegal, "{other}");
                }
            }
        }
    }

    #[test]
    fn loopback_http_is_allowed() {
        let mut b = valid();
        b["paymentNotifyUrl"] = json!("http://127.0.0.1:9000/notify");
        assert!(pay(&b, Timestamp::now()).is_ok());
        b["paymentNotifyUrl"] = json!("http://10.0.0.1/notify");
        assert!(pay(&b, Timestamp::now()).is_err());
    }
}
