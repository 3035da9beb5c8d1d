//! Notifications, APO → merchant: how they are signed and what counts as acknowledged. Shared
//! by the sandbox's notifier (which sends them) and the runner's receiver (which answers them).
//!
//! ```text
//! POST {paymentNotifyUrl}   client-id, request-time, signature over "POST <url path>\n<client-id>.<time>.<body>"
//! <- HTTP 200 {"result":{"resultCode":"SUCCESS","resultStatus":"S","resultMessage":"success"}}   acknowledged
//! <- anything else (other status, other body, no answer)                                         resent later
//! ```
//!
//! [`Forge`] makes the deliberately wrong notifications a merchant must reject (no signature,
//! another key, a body changed after signing, another path, a stale request time).

use std::sync::LazyLock;
use std::time::Duration;

use serde_json::Value;
use url::Url;

use super::keys::{KeyError, PrivateKey};
use super::sign::{SignedParts, sign};

/// The path a notification to `url` is signed over: the URL's path with its query, domain
/// excluded (Java `WebhookTool`: "your webhook endpoint, domain part excluded").
pub fn signed_path(url: &Url) -> String {
    match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_owned(),
    }
}

/// The headers of a notification to `url`, signed with APO's (or the sandbox's) private key.
pub fn signed_headers(
    key: &PrivateKey,
    url: &Url,
    client_id: &str,
    request_time: &str,
    body: &[u8],
) -> Vec<(String, String)> {
    headers_signed_over(key, &signed_path(url), client_id, request_time, body)
}

/// The headers of a notification signed over `path`.
fn headers_signed_over(
    key: &PrivateKey,
    path: &str,
    client_id: &str,
    request_time: &str,
    body: &[u8],
) -> Vec<(String, String)> {
    let signature = sign(key, &SignedParts::post(path, client_id, request_time, body));
    vec![
        (
            "content-type".to_owned(),
            super::client::CONTENT_TYPE.to_owned(),
        ),
        ("client-id".to_owned(), client_id.to_owned()),
        ("request-time".to_owned(), request_time.to_owned()),
        ("signature".to_owned(), signature),
    ]
}

/// How a notification is made wrong on purpose, to see the merchant reject it (or not at all:
/// [`Forge::None`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Forge {
    /// A valid notification: signed with APO's key over the URL's path, fresh request time.
    #[default]
    None,
    /// No `signature` header.
    Unsigned,
    /// Signed with another RSA key (the fixed test merchant key, [`WRONG_KEY_PEM`]).
    WrongKey,
    /// Signed, then the body changed: a member `"tampered": true` is added to the JSON object
    /// (a body that is not a JSON object gets a space appended).
    Tampered,
    /// Signed over another path: `/other` before the URL's path.
    OtherPath,
    /// Signed, with a request time [`Forge::STALE_BY`] in the past.
    StaleTime,
}

/// A notification's headers (name, value) and the body to send.
pub type Forged = (Vec<(String, String)>, Vec<u8>);

/// The private key [`Forge::WrongKey`] signs with: the embedded test merchant's, never APO's.
pub const WRONG_KEY_PEM: &str = super::target::EMBEDDED_MERCHANT_PRIVATE_PEM;

static WRONG_KEY: LazyLock<Result<PrivateKey, KeyError>> =
    LazyLock::new(|| PrivateKey::from_text(WRONG_KEY_PEM));

impl Forge {
    /// Every forge, in the order of [`Forge::NAMES`].
    pub const ALL: [Forge; 6] = [
        Forge::None,
        Forge::Unsigned,
        Forge::WrongKey,
        Forge::Tampered,
        Forge::OtherPath,
        Forge::StaleTime,
    ];

    /// The names in flows and in the sandbox's control API.
    pub const NAMES: &[&str] = &[
        "none",
        "unsigned",
        "wrong_key",
        "tampered",
        "other_path",
        "stale_time",
    ];

    /// How far back [`Forge::StaleTime`] sets the request time: a day, beyond APO's whole
    /// retry window (each resend is signed afresh, so no genuine notification is this old).
    pub const STALE_BY: Duration = Duration::from_secs(24 * 3600);

    /// The forge's name (see [`Forge::NAMES`]).
    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .position(|f| *f == self)
            .and_then(|i| Self::NAMES.get(i))
            .copied()
            .unwrap_or("none")
    }

    /// The forge named `name`, if any.
    pub fn from_name(name: &str) -> Option<Forge> {
        let i = Self::NAMES.iter().position(|n| *n == name)?;
        Self::ALL.get(i).copied()
    }

    /// How far the request time is moved back: [`Forge::STALE_BY`] for `stale_time`, else 0.
    pub fn backdate(self) -> Duration {
        if self == Forge::StaleTime {
            Self::STALE_BY
        } else {
            Duration::ZERO
        }
    }

    /// The headers and the body of a notification to `url`, made wrong as this forge says:
    /// signed with `key` (APO's) unless [`Forge::Unsigned`] or [`Forge::WrongKey`]. The
    /// caller chooses `request_time`, already moved back by [`Forge::backdate`].
    pub fn request(
        self,
        key: &PrivateKey,
        url: &Url,
        client_id: &str,
        request_time: &str,
        body: &[u8],
    ) -> Result<Forged, KeyError> {
        let path = signed_path(url);
        let signed = |key: &PrivateKey, path: &str| {
            headers_signed_over(key, path, client_id, request_time, body)
        };
        Ok(match self {
            Forge::None | Forge::StaleTime => (signed(key, &path), body.to_vec()),
            Forge::Unsigned => {
                let mut headers = signed(key, &path);
                headers.retain(|(name, _)| name != "signature");
                (headers, body.to_vec())
            }
            Forge::WrongKey => {
                let wrong = WRONG_KEY.as_ref().map_err(Clone::clone)?;
                (signed(wrong, &path), body.to_vec())
            }
            Forge::Tampered => (signed(key, &path), tamper(body)),
            Forge::OtherPath => (signed(key, &format!("/other{path}")), body.to_vec()),
        })
    }
}

/// `body` changed after signing: `"tampered": true` added to a JSON object, else a space
/// appended.
fn tamper(body: &[u8]) -> Vec<u8> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(mut map)) => {
            map.insert("tampered".to_owned(), Value::Bool(true));
            serde_json::to_vec(&map).unwrap_or_else(|_| body.to_vec())
        }
        _ => [body, b" "].concat(),
    }
}

/// Whether a merchant's answer acknowledges a notification: HTTP 200 and a JSON body whose
/// `result` has `resultCode` `SUCCESS` and `resultStatus` `S` (white space and key order do
/// not matter; `resultMessage` is not checked, as its exact text is not documented).
pub fn is_acknowledged(status: u16, body: &[u8]) -> bool {
    if status != 200 {
        return false;
    }
    let Ok(json) = serde_json::from_slice::<Value>(body) else {
        return false;
    };
    json["result"]["resultCode"] == "SUCCESS" && json["result"]["resultStatus"] == "S"
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apo::keys::PublicKey;
    use crate::apo::result::NOTIFY_ACK_SUCCESS_BODY;
    use crate::apo::sign::verify;
    use crate::apo::target::{EMBEDDED_APO_PRIVATE_PEM, EMBEDDED_APO_PUBLIC_PEM};

    #[test]
    fn notifications_are_signed_over_the_url_path_and_query() {
        let url = Url::parse("https://shop.example:8443/antom/notify?order=1").unwrap();
        assert_eq!(signed_path(&url), "/antom/notify?order=1");
        let key = PrivateKey::from_text(EMBEDDED_APO_PRIVATE_PEM).unwrap();
        let headers = signed_headers(&key, &url, "SANDBOX_X", "2025-03-17T02:22:52Z", b"{}");
        let get = |n: &str| headers.iter().find(|(k, _)| k == n).unwrap().1.as_str();
        let public = PublicKey::from_text(EMBEDDED_APO_PUBLIC_PEM).unwrap();
        verify(
            &public,
            &SignedParts::post(
                "/antom/notify?order=1",
                "SANDBOX_X",
                "2025-03-17T02:22:52Z",
                b"{}",
            ),
            get("signature"),
        )
        .unwrap();
    }

    /// Each forge against the verifier the receiver and the SDKs use: only `none` and
    /// `stale_time` verify, and a stale one carries the time it was given.
    #[test]
    fn each_forge_verifies_only_when_it_should() {
        let url = Url::parse("https://shop.example/apo/notify?x=1").unwrap();
        let key = PrivateKey::from_text(EMBEDDED_APO_PRIVATE_PEM).unwrap();
        let public = PublicKey::from_text(EMBEDDED_APO_PUBLIC_PEM).unwrap();
        let body = br#"{"notifyType":"PAYMENT_RESULT","paymentId":"P1"}"#;
        for forge in Forge::ALL {
            assert_eq!(Forge::from_name(forge.name()), Some(forge));
            let (headers, sent) = forge.request(&key, &url, "C", "T", body).unwrap();
            let get = |n: &str| {
                headers
                    .iter()
                    .find(|(k, _)| k == n)
                    .map(|(_, v)| v.as_str())
            };
            assert_eq!(get("request-time"), Some("T"));
            let verified = get("signature").is_some_and(|s| {
                verify(
                    &public,
                    &SignedParts::post("/apo/notify?x=1", "C", "T", &sent),
                    s,
                )
                .is_ok()
            });
            let expected = matches!(forge, Forge::None | Forge::StaleTime);
            assert_eq!(verified, expected, "{}", forge.name());
            assert_eq!(sent == body, forge != Forge::Tampered, "{}", forge.name());
        }
        let (_, tampered) = Forge::Tampered.request(&key, &url, "C", "T", body).unwrap();
        assert_eq!(
            tampered,
            br#"{"notifyType":"PAYMENT_RESULT","paymentId":"P1","tampered":true}"#
        );
        assert_eq!(tamper(b"x"), b"x ");
        assert_eq!(Forge::from_name("forged"), None);
        assert_eq!(Forge::StaleTime.backdate(), Forge::STALE_BY);
        assert_eq!(Forge::OtherPath.backdate(), Duration::ZERO);
    }

    #[test]
    fn only_the_fixed_success_answer_acknowledges() {
        assert!(is_acknowledged(200, NOTIFY_ACK_SUCCESS_BODY.as_bytes()));
        assert!(is_acknowledged(
            200,
            br#"{ "result": { "resultStatus": "S", "resultCode": "SUCCESS", "resultMessage": "ok" } }"#
        ));
        assert!(!is_acknowledged(500, NOTIFY_ACK_SUCCESS_BODY.as_bytes()));
        assert!(!is_acknowledged(200, b"success"));
        assert!(!is_acknowledged(200, b""));
        assert!(!is_acknowledged(
            200,
            br#"{"result":{"resultCode":"PROCESS_FAIL","resultStatus":"F","resultMessage":"fail"}}"#
        ));
    }
}
