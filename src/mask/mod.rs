//! The one place that decides what is secret.
//!
//! - Card numbers ([`card`]: a brand's prefix and length, and Luhn; grouped by spaces, dashes
//!   or `+`; followed by more digits) are shown as APO shows them, `************1358`.
//! - Values of fields that hold a CVV, a password or a key are replaced by `***`: in JSON
//!   ([`mask_json`]) and in free text (`cvv=123`, `"cvv":"123"`, `\"cvv\":\"123\"`); expiry
//!   fields in JSON read `**`.
//! - The body of any PEM private key block is replaced by `***`.
//! - Secrets registered at run time (key material, tokens) are replaced wherever they appear,
//!   in any encoding ([`secrets`]: percent-encoded, base64/base64url, JSON-escaped, split
//!   across lines).
//!
//! Every output path (terminal, reports, snapshots, evidence, logs) goes through here.
//! docs/src/security.md lists the rules for users.

use std::borrow::Cow;
use std::sync::LazyLock;

use regex::Regex;
use serde_json::Value;

mod card;
mod secrets;

pub use card::{is_card_number, luhn_valid};

/// What a masked secret field reads as.
pub const MASKED: &str = "***";

/// A field that holds a secret, written `name=value`, `name: value` or `"name":"value"`
/// (JSON escaped inside a string too): the candidates, checked by [`is_secret_field`]. A value
/// that opens a map or a list (`private_key = { env = "K" }`) is where the secret comes from,
/// not the secret: left as it is.
static SECRET_FIELD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"(?i)([A-Za-z0-9_-]*(?:cvv|cvc|security[_-]?code|private[_-]?key|password)[A-Za-z0-9_-]*)((?:\\?["'])?\s*(?:[:=]|%3[AD])\s*(?:\\?["'])?)([^"'\\&\s,;}\]#{\[][^"'\\&\s,;}\]#]*)"#,
    )
    .expect("valid regex")
});

/// What every name [`SECRET_FIELD`] matches contains (any case): a text without one of these
/// skips the regex, whose leading `[A-Za-z0-9_-]*` leaves it no literal to look for.
static SECRET_STEMS: LazyLock<aho_corasick::AhoCorasick> = LazyLock::new(|| {
    aho_corasick::AhoCorasick::builder()
        .ascii_case_insensitive(true)
        .build(["cvv", "cvc", "security", "private", "password"])
        .expect("valid patterns")
});

/// The line that opens every block [`PEM_PRIVATE_KEY`] matches.
const PEM_PRIVATE_KEY_MARK: &str = "PRIVATE KEY-----";

/// The body of a PEM private key block, complete or cut short, with real or escaped newlines.
static PEM_PRIVATE_KEY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----)(?:[A-Za-z0-9+/=\s]|\\[nr])+")
        .expect("valid regex")
});

/// Registers a secret (a private key's base64 body, a token) to be masked wherever it appears,
/// in any encoding. Values shorter than 8 characters are ignored: masking them would garble
/// ordinary text.
pub fn register_secret(secret: &str) {
    if secrets::register(secret) {
        secrets::prepare();
    }
}

/// Registers the text of a key (PEM or base64): each line and the joined body.
pub fn register_key_text(text: &str) {
    let mut body = String::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with("-----") {
            continue;
        }
        secrets::register(line);
        body.push_str(line);
    }
    secrets::register(&body);
    // Once for the ~30 lines of a key, not once per line.
    secrets::prepare();
}

/// Masks a card number as APO does: every digit but the last four becomes `*`.
pub fn mask_pan(pan: &str) -> String {
    let digits: Vec<char> = pan.chars().filter(char::is_ascii_digit).collect();
    let keep = digits.len().saturating_sub(4);
    let mut out = "*".repeat(keep);
    out.extend(&digits[keep..]);
    out
}

/// Masks card numbers, secret fields, private key blocks and registered secrets in free text.
pub fn mask_text(text: &str) -> Cow<'_, str> {
    let mut out: Cow<'_, str> = Cow::Borrowed(text);
    let found = card::find(text);
    if !found.is_empty() {
        let mut s = String::with_capacity(text.len());
        let mut last = 0;
        for f in found {
            s.push_str(&text[last..f.range.start]);
            s.push_str(&mask_pan(&f.digits));
            last = f.range.end;
        }
        s.push_str(&text[last..]);
        out = Cow::Owned(s);
    }
    if SECRET_STEMS.is_match(out.as_ref())
        && let Cow::Owned(s) = SECRET_FIELD.replace_all(&out, |c: &regex::Captures<'_>| {
            if is_secret_field(&c[1]) {
                format!("{}{}{MASKED}", &c[1], &c[2])
            } else {
                c[0].to_owned()
            }
        })
    {
        out = Cow::Owned(s);
    }
    if out.contains(PEM_PRIVATE_KEY_MARK)
        && let Cow::Owned(s) = PEM_PRIVATE_KEY.replace_all(&out, format!("${{1}}{MASKED}"))
    {
        out = Cow::Owned(s);
    }
    secrets::mask(out, MASKED)
}

/// Whether a JSON field or form field of this name holds a secret that is never shown at all.
pub fn is_secret_field(name: &str) -> bool {
    let n = name.to_ascii_lowercase().replace(['_', '-'], "");
    ["cvv", "cvc", "cvv2", "cvc2", "securitycode"]
        .iter()
        .any(|end| n.ends_with(end))
        || n.contains("privatekey")
        || n == "password"
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
            if let Cow::Owned(masked) = mask_text(&digits) {
                *value = Value::String(masked);
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
    fn card_numbers_in_every_written_form() {
        for (text, masked) in [
            ("4111 1111 1111 1111", "************1111"),
            (
                "card_number=4111+1111+1111+1111&cvv",
                "card_number=************1111&cvv",
            ),
            ("4111-1111-1111-1111", "************1111"),
            ("405469572310076899", "************076899"),
            (
                "{\"n\":\"4054 6957 2310 0768 123\"}",
                "{\"n\":\"************0768 123\"}",
            ),
        ] {
            assert_eq!(mask_text(text), masked, "{text}");
        }
        for card in crate::sandbox::cards::all() {
            let text = format!("cardNo={}&x", card.number);
            assert_eq!(
                mask_text(&text),
                format!("cardNo={}&x", mask_pan(&card.number)),
                "{}",
                card.name
            );
        }
    }

    #[test]
    fn epoch_milliseconds_are_not_card_numbers() {
        for text in [
            "request-time: 1764240000000",
            "{\"requestTime\":1764237600000}",
            "1764240000000",
        ] {
            assert_eq!(mask_text(text), text);
        }
        let v = json!({ "request-time": 1764240000000_u64 });
        assert_eq!(masked_json(&v), v);
    }

    #[test]
    fn cvv_in_forms_queries_and_json_text() {
        for (text, masked) in [
            (
                "card_number=x&cvv=123&save=1",
                "card_number=x&cvv=***&save=1",
            ),
            ("/pay?cvv=123#top", "/pay?cvv=***#top"),
            ("{\"cvv\":\"123\"}", "{\"cvv\":\"***\"}"),
            ("{\"cvv\": 123}", "{\"cvv\": ***}"),
            (
                "\"body\":\"{\\\"cardCvv\\\":\\\"123\\\"}\"",
                "\"body\":\"{\\\"cardCvv\\\":\\\"***\\\"}\"",
            ),
            ("securityCode: '1234'", "securityCode: '***'"),
            ("cvv%3D123%26x", "cvv%3D***"),
            // Any case (the prefilter too).
            ("CARD_CVV=123", "CARD_CVV=***"),
            ("{\"PassWord\":\"hunter22\"}", "{\"PassWord\":\"***\"}"),
            ("SECURITY-CODE: 9999", "SECURITY-CODE: ***"),
            // Not a field holding a CVV.
            ("cvvResult=MATCH", "cvvResult=MATCH"),
            ("the cvv is required", "the cvv is required"),
            // A structure, not a value: `apoflow.toml` says where a key comes from.
            (
                "private_key = { env = \"APO_KEY\" }",
                "private_key = { env = \"APO_KEY\" }",
            ),
            ("private_key = \"MIIEvQ\"", "private_key = \"***\""),
        ] {
            assert_eq!(mask_text(text), masked, "{text}");
        }
        let v = json!({ "body": "{\"cvv\":\"123\"}" });
        assert_eq!(masked_json(&v)["body"], "{\"cvv\":\"***\"}");
    }

    #[test]
    fn a_key_field_that_names_its_source_is_left_readable() {
        let config = r#"private_key = { env = "APO_KEY" }"#;
        assert_eq!(mask_text(config), config);
        assert_eq!(mask_text("private_key=MIIEvQIBADAN"), "private_key=***");
    }

    #[test]
    fn private_key_blocks_are_masked_whole_or_cut() {
        let pem = crate::apo::target::EMBEDDED_APO_PRIVATE_PEM;
        let masked = mask_text(pem);
        assert!(
            masked.starts_with("-----BEGIN PRIVATE KEY-----***"),
            "{masked}"
        );
        assert!(!masked.contains("MII"), "{masked}");
        let escaped = serde_json::to_string(&pem[..200]).unwrap();
        let masked = mask_text(&escaped);
        assert!(!masked.contains("MII"), "{masked}");
    }

    #[test]
    fn registered_secrets_are_masked_in_every_encoding() {
        use base64::Engine as _;
        use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
        let secret = "tok+/Zq9~x:y=wW3";
        register_secret(secret);
        let percent =
            percent_encoding::utf8_percent_encode(secret, percent_encoding::NON_ALPHANUMERIC)
                .to_string();
        let json = serde_json::to_string(&json!({ "t": secret })).unwrap();
        let escaped = secret.replace('/', "\\/").replace('+', "\\u002b");
        let split = format!("{}\n    {}", &secret[..7], &secret[7..]);
        let split_json = format!("{}\\n{}", &secret[..5], &secret[5..]);
        let lower_hex = regex::Regex::new("%[0-9A-F]{2}")
            .unwrap()
            .replace_all(&percent, |c: &regex::Captures<'_>| c[0].to_lowercase())
            .into_owned();
        let mut forms = vec![percent, lower_hex, json, escaped, split, split_json];
        for prefix in ["", "u", "us", "user:"] {
            let plain = format!("{prefix}{secret}!");
            forms.push(STANDARD.encode(&plain));
            forms.push(URL_SAFE_NO_PAD.encode(&plain));
        }
        for form in forms {
            let text = format!("before {form} after");
            let masked = mask_text(&text);
            assert!(masked.contains(MASKED), "{form} → {masked}");
            assert!(
                masked.starts_with("before ") && masked.ends_with(" after"),
                "{masked}"
            );
            assert!(!masked.contains("Zq9"), "{form} → {masked}");
        }
    }

    #[test]
    fn registered_secrets_are_masked() {
        register_secret("MIIEvQIBADANBgkqhkiG9w0BAQEFAASC");
        assert_eq!(
            mask_text("key=MIIEvQIBADANBgkqhkiG9w0BAQEFAASC!"),
            "key=***!"
        );
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        /// A card number of a brand: its prefix, random digits, the Luhn check digit.
        fn card_number() -> impl Strategy<Value = String> {
            let brands = prop_oneof![
                Just(("4", 16)),
                Just(("4", 19)),
                Just(("52", 16)),
                Just(("2221", 16)),
                Just(("37", 15)),
                Just(("6011", 16)),
                Just(("62", 19)),
                Just(("3530", 16)),
                Just(("9490", 16)),
            ];
            (brands, proptest::collection::vec(0u8..10, 19)).prop_map(|((prefix, len), rest)| {
                let mut n: String = prefix.to_owned();
                n.extend(
                    rest.iter()
                        .take(len - prefix.len() - 1)
                        .map(|d| char::from(b'0' + d)),
                );
                (0..10u8)
                    .map(|d| format!("{n}{d}"))
                    .find(|c| luhn_valid(c))
                    .expect("one check digit fits")
            })
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]

            #[test]
            fn a_card_number_never_shows_more_than_its_last_four(
                pan in card_number(),
                sep in prop_oneof![Just(""), Just(" "), Just("-"), Just("+")],
                before in "[a-z !#(),.:;<>?@{}~\"=&_]{0,12}",
                after in "[0-9]{0,3}",
                tail in "[ ,;}\"&]{1}[a-z ]{0,8}",
            ) {
                let grouped: Vec<&str> = pan.as_bytes().chunks(4)
                    .map(|c| std::str::from_utf8(c).unwrap()).collect();
                let text = format!("{before} {}{}{after}{tail}", grouped.join(sep),
                    if sep.is_empty() { "" } else { sep });
                let text = text.trim_end_matches(['-', '+', ' ']).to_owned();
                let masked = mask_text(&text);
                let digits: String = masked.chars().filter(char::is_ascii_digit).collect();
                prop_assert!(!digits.contains(&pan[..pan.len() - 4]), "{} → {}", text, masked);
            }

            #[test]
            fn epoch_milliseconds_are_left_alone(ms in 1_000_000_000_000u64..2_000_000_000_000) {
                let text = format!("request-time: {ms}");
                prop_assert_eq!(mask_text(&text), text.as_str());
            }

            #[test]
            fn any_text_masks_without_panicking(text in "\\PC{0,64}", secret in "[a-zA-Z0-9+/=é]{8,12}") {
                register_secret(&secret);
                let _ = mask_text(&text);
                let with_secret = format!("{text}{secret}{text}");
                prop_assert!(!mask_text(&with_secret).contains(&secret));
            }
        }
    }
}
