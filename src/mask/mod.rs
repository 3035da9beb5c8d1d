//! The one place that decides what is secret.
//!
//! Card numbers (any run of 13 to 19 digits that passes the Luhn check and is not glued to
//! letters, as digits inside a hexadecimal id are) are shown as APO shows them,
//! `************1358`. Values of fields that hold a CVV, an expiry or a key are replaced
//! by `***`. Secrets registered at run time (key material, signatures) are replaced wherever they
//! appear. Every output path (terminal, reports, snapshots, evidence, logs) goes through here.

use std::borrow::Cow;
use std::sync::{LazyLock, RwLock};

use regex::Regex;
use serde_json::Value;

/// What a masked secret field reads as.
pub const MASKED: &str = "***";

static PAN_CANDIDATE: LazyLock<Regex> =
    // A run glued to a letter is part of an identifier (`pay_81a2…`, a UUID's hex), not a card
    // number: masking it would corrupt ids that evidence and filters must keep.
    LazyLock::new(|| {
        Regex::new(r"(?:^|[^0-9A-Za-z])([0-9]{13,19})(?:[^0-9A-Za-z]|$)").expect("valid regex")
    });

/// Secrets registered at run time, replaced verbatim in every masked text.
static SECRETS: LazyLock<RwLock<Vec<String>>> = LazyLock::new(|| RwLock::new(Vec::new()));

/// Registers a secret (a private key's base64 body, a token) to be masked wherever it appears.
/// Values shorter than 8 characters are ignored: masking them would garble ordinary text.
pub fn register_secret(secret: &str) {
    let secret = secret.trim();
    if secret.len() < 8 {
        return;
    }
    let mut secrets = SECRETS.write().unwrap_or_else(|e| e.into_inner());
    if !secrets.iter().any(|s| s == secret) {
        secrets.push(secret.to_owned());
    }
}

/// Whether `digits` (ASCII digits only) passes the Luhn check.
pub fn luhn_valid(digits: &str) -> bool {
    let mut sum = 0u32;
    for (i, c) in digits.bytes().rev().enumerate() {
        if !c.is_ascii_digit() {
            return false;
        }
        let mut d = u32::from(c - b'0');
        if i % 2 == 1 {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        sum += d;
    }
    !digits.is_empty() && sum.is_multiple_of(10)
}

/// Masks a card number as APO does: every digit but the last four becomes `*`.
pub fn mask_pan(pan: &str) -> String {
    let digits: Vec<char> = pan.chars().filter(char::is_ascii_digit).collect();
    let keep = digits.len().saturating_sub(4);
    let mut out = "*".repeat(keep);
    out.extend(&digits[keep..]);
    out
}

/// Masks card numbers and registered secrets in free text.
pub fn mask_text(text: &str) -> Cow<'_, str> {
    let mut out: Cow<'_, str> = Cow::Borrowed(text);
    if PAN_CANDIDATE.is_match(text) {
        let mut s = String::with_capacity(text.len());
        let mut last = 0;
        let mut pos = 0;
        while let Some(caps) = PAN_CANDIDATE.captures_at(text, pos) {
            let m = caps.get(1).expect("group 1 always participates");
            if luhn_valid(m.as_str()) {
                s.push_str(&text[last..m.start()]);
                s.push_str(&mask_pan(m.as_str()));
                last = m.end();
            }
            pos = m.end();
        }
        if last > 0 {
            s.push_str(&text[last..]);
            out = Cow::Owned(s);
        }
    }
    let secrets = SECRETS.read().unwrap_or_else(|e| e.into_inner());
    for secret in secrets.iter() {
        if out.contains(secret.as_str()) {
            out = Cow::Owned(out.replace(secret.as_str(), MASKED));
        }
    }
    out
}

/// Whether a JSON field or form field of this name holds a secret that is never shown at all.
pub fn is_secret_field(name: &str) -> bool {
    let n = name.to_ascii_lowercase().replace(['_', '-'], "");
    matches!(
        n.as_str(),
        "cvv" | "cvc" | "cvv2" | "cvc2" | "securitycode" | "cardcvv" | "privatekey" | "password"
    ) || n.contains("privatekey")
}

/// Whether a field of this name holds a card expiry (shown as `**`, as APO shows it).
pub fn is_expiry_field(name: &str) -> bool {
    let n = name.to_ascii_lowercase().replace(['_', '-'], "");
    matches!(
        n.as_str(),
        "expiry" | "expirydate" | "expirymonth" | "expiryyear" | "expmonth" | "expyear" | "exp"
    )
}

/// Masks a JSON value in place: secret fields, expiry fields, card numbers in any string, and
/// registered secrets.
pub fn mask_json(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                if is_secret_field(k) && !v.is_null() {
                    *v = Value::String(MASKED.to_owned());
                } else if is_expiry_field(k) && (v.is_string() || v.is_number()) {
                    *v = Value::String("**".to_owned());
                } else {
                    mask_json(v);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(mask_json),
        Value::String(s) => {
            if let Cow::Owned(masked) = mask_text(s) {
                *s = masked;
            }
        }
        Value::Number(n) => {
            // A card number sent as a JSON number is still a card number.
            let digits = n.to_string();
            if (13..=19).contains(&digits.len()) && luhn_valid(&digits) {
                *value = Value::String(mask_pan(&digits));
            }
        }
        Value::Null | Value::Bool(_) => {}
    }
}

/// Returns a masked copy of a JSON value.
pub fn masked_json(value: &Value) -> Value {
    let mut v = value.clone();
    mask_json(&mut v);
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn luhn() {
        assert!(luhn_valid("4111111111111111"));
        assert!(luhn_valid("5555555555554444"));
        assert!(!luhn_valid("4111111111111112"));
        assert!(!luhn_valid(""));
    }

    #[test]
    fn pans_in_text_are_masked_like_apo() {
        assert_eq!(
            mask_text("card 4111111111111111 ok"),
            "card ************1111 ok"
        );
        assert_eq!(
            mask_text("{\"cardNo\":\"5555555555554444\"}"),
            "{\"cardNo\":\"************4444\"}"
        );
        // Not Luhn-valid: an id, left alone.
        assert_eq!(mask_text("id 4111111111111112"), "id 4111111111111112");
        // Too long to be a card number.
        assert_eq!(mask_text("20250317102252000001"), "20250317102252000001");
        // Digits inside a hexadecimal id (a Luhn-valid run between letters) are part of the id.
        assert_eq!(
            mask_text("pay_81a4111111111111111fd55"),
            "pay_81a4111111111111111fd55"
        );
        assert_eq!(mask_text("pan_4111111111111111"), "pan_************1111");
    }

    #[test]
    fn secret_and_expiry_fields_are_masked_in_json() {
        let mut v = json!({"card": {"cvv": "123", "expiryMonth": "12", "number": "4111 1111 1111 1111"},
                           "pan": "4111111111111111", "asNumber": 4054695723100768_u64, "amount": 4200});
        mask_json(&mut v);
        assert_eq!(v["card"]["cvv"], "***");
        assert_eq!(v["card"]["expiryMonth"], "**");
        assert_eq!(v["pan"], "************1111");
        assert_eq!(v["asNumber"], "************0768");
        assert_eq!(v["amount"], 4200);
    }

    #[test]
    fn registered_secrets_are_masked() {
        register_secret("MIIEvQIBADANBgkqhkiG9w0BAQEFAASC");
        assert_eq!(
            mask_text("key=MIIEvQIBADANBgkqhkiG9w0BAQEFAASC!"),
            "key=***!"
        );
    }
}
