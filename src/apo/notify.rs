//! Notifications, APO → merchant: how they are signed and what counts as acknowledged. Shared
//! by the sandbox's notifier (which sends them) and the runner's receiver (which answers them).
//!
//! ```text
//! POST {paymentNotifyUrl}   client-id, request-time, signature over "POST <url path>\n<client-id>.<time>.<body>"
//! <- HTTP 200 {"result":{"resultCode":"SUCCESS","resultStatus":"S","resultMessage":"success"}}   acknowledged
//! <- anything else (other status, other body, no answer)                                         resent later
//! ```

use serde_json::Value;
use url::Url;

use super::keys::PrivateKey;
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
    let path = signed_path(url);
    let signature = sign(
        key,
        &SignedParts::post(&path, client_id, request_time, body),
    );
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
