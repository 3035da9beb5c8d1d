//! Both directions against the official Python SDK's own signing code.

use apoflow::apo::sign::{SignedParts, sign, verify};
use apoflow::apo::target::{EMBEDDED_APO_PUBLIC_PEM, EMBEDDED_MERCHANT_PRIVATE_PEM};
use serde_json::json;

use crate::local::{apo_keys, merchant_keys, pem_body, sdk};

/// Request bodies as the SDKs send them: compact, `indent=3` with ASCII escapes, raw UTF-8.
fn cases() -> serde_json::Value {
    json!([
        {"id": "pay-ms", "path": "/ams/api/v1/payments/pay", "client_id": "5X00000000000000",
         "time": "1742178172000",
         "body": "{\"paymentRequestId\":\"r-1\",\"paymentAmount\":{\"currency\":\"SGD\",\"value\":\"4200\"}}"},
        {"id": "inquiry-sandbox-iso", "path": "/ams/sandbox/api/v1/payments/inquiryPayment",
         "client_id": "SANDBOX_5X00000000000000", "time": "2025-03-17T02:22:52+00:00",
         "body": "{\n   \"paymentRequestId\": \"r-1\",\n   \"note\": \"caf\\u00e9\"\n}"},
        {"id": "refund-utf8-dotnet-time", "path": "/ams/api/v1/payments/refund",
         "client_id": "5X00000000000000", "time": "2025-03-17T02:22:52.1234567Z",
         "body": "{\"refundReason\":\"remboursé 退款\"}"},
    ])
}

#[test]
fn requests_signed_by_the_sdk_verify_with_apoflow() {
    let (_, merchant_public) = merchant_keys();
    let answer = sdk(&json!({
        "mode": "sign",
        "merchant_private_key": pem_body(EMBEDDED_MERCHANT_PRIVATE_PEM),
        "cases": cases(),
    }));
    let cases = cases();
    for case in cases.as_array().unwrap() {
        let id = case["id"].as_str().unwrap();
        let header = answer["signatures"][id].as_str().unwrap();
        let s = |k: &str| case[k].as_str().unwrap();
        let parts = SignedParts::post(s("path"), s("client_id"), s("time"), s("body").as_bytes());
        verify(&merchant_public, &parts, header)
            .unwrap_or_else(|e| panic!("{id}: the SDK's signature does not verify: {e}"));
        // Same key, same content: apoflow's own signature is byte-identical (PKCS#1 v1.5).
        let (merchant_private, _) = merchant_keys();
        assert_eq!(sign(&merchant_private, &parts), header, "{id}");
        // And the check can fail: one changed byte of body.
        let tampered = format!("{} ", s("body"));
        let parts = SignedParts::post(s("path"), s("client_id"), s("time"), tampered.as_bytes());
        assert!(verify(&merchant_public, &parts, header).is_err(), "{id}");
    }
}

#[test]
fn responses_and_notifications_signed_by_apoflow_pass_the_sdk() {
    let (apo_private, _) = apo_keys();
    let mut verify_cases = Vec::new();
    for case in cases().as_array().unwrap() {
        let id = case["id"].as_str().unwrap();
        let s = |k: &str| case[k].as_str().unwrap().to_owned();
        for kind in ["response", "notification"] {
            let path = if kind == "notification" {
                "/antom/notify/payment?shop=1".to_owned()
            } else {
                s("path")
            };
            let header = sign(
                &apo_private,
                &SignedParts::post(&path, &s("client_id"), &s("time"), s("body").as_bytes()),
            );
            let mut good = json!({
                "id": format!("{id}/{kind}"), "kind": kind, "path": path,
                "client_id": s("client_id"), "time": s("time"), "body": s("body"),
                "signature_header": header,
            });
            verify_cases.push(good.clone());
            // The SDK must reject the same signature over another body (proves it checks).
            good["id"] = json!(format!("{id}/{kind}/tampered"));
            good["body"] = json!(format!("{}x", s("body")));
            verify_cases.push(good);
        }
    }
    let answer = sdk(&json!({
        "mode": "verify",
        "apo_public_key": pem_body(EMBEDDED_APO_PUBLIC_PEM),
        "cases": verify_cases,
    }));
    let verified = answer["verified"].as_object().unwrap();
    assert_eq!(verified.len(), 12);
    for (id, ok) in verified {
        let expected = !id.ends_with("/tampered");
        assert_eq!(ok.as_bool(), Some(expected), "{id}");
    }
}

#[test]
fn a_key_pair_from_keys_generate_works_with_the_sdk() {
    let dir = tempfile::tempdir().unwrap();
    let out = crate::support::apoflow_cmd(&crate::support::repo(), &[])
        .args(["keys", "generate", "--out"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success());
    let private = std::fs::read_to_string(dir.path().join("merchant-private-key.txt")).unwrap();
    let public = std::fs::read_to_string(dir.path().join("merchant-public-key.txt")).unwrap();
    let case = json!({"id": "k", "path": "/ams/api/v1/payments/pay", "client_id": "C",
                      "time": "1", "body": "{}"});
    let answer = sdk(&json!({
        "mode": "sign", "merchant_private_key": private.trim(), "cases": [case],
    }));
    let public = apoflow::apo::keys::PublicKey::from_text(&public).unwrap();
    verify(
        &public,
        &SignedParts::post("/ams/api/v1/payments/pay", "C", "1", b"{}"),
        answer["signatures"]["k"].as_str().unwrap(),
    )
    .unwrap();
}

/// A one-route APO over real HTTP: verifies the request with apoflow and answers signed by
/// apoflow (with `key`), in lowercase headers, as the sandbox must.
async fn apo_over_http(
    key: apoflow::apo::keys::PrivateKey,
) -> (
    url::Url,
    std::sync::Arc<std::sync::Mutex<Vec<(String, bool)>>>,
) {
    use axum::body::Bytes;
    use axum::http::{HeaderMap, Uri};
    use axum::response::IntoResponse;

    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    let handler = move |uri: Uri, headers: HeaderMap, body: Bytes| {
        let log = log.clone();
        let key = key.clone();
        async move {
            let (_, merchant_public) = merchant_keys();
            let h = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).unwrap_or("");
            let parts = SignedParts::post(uri.path(), h("client-id"), h("request-time"), &body);
            let valid = verify(&merchant_public, &parts, h("signature")).is_ok();
            log.lock()
                .unwrap()
                .push((h("request-time").to_owned(), valid));
            let answer = r#"{"result":{"resultCode":"SUCCESS","resultStatus":"S","resultMessage":"success."},"paymentStatus":"PROCESSING"}"#;
            let time = "2025-03-17T10:22:53+08:00";
            let signature = sign(
                &key,
                &SignedParts::post(uri.path(), h("client-id"), time, answer.as_bytes()),
            );
            (
                [
                    ("client-id", h("client-id").to_owned()),
                    ("response-time", time.to_owned()),
                    ("signature", signature),
                ],
                answer,
            )
                .into_response()
        }
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = url::Url::parse(&format!("http://{}", listener.local_addr().unwrap())).unwrap();
    tokio::spawn(async move {
        axum::serve(listener, axum::Router::new().fallback(handler))
            .await
            .unwrap();
    });
    (url, seen)
}

fn sdk_call(url: &url::Url) -> serde_json::Value {
    sdk(&json!({
        "mode": "call",
        "gateway_url": url.as_str().trim_end_matches('/'),
        "client_id": "SANDBOX_5X00000000000000",
        "merchant_private_key": pem_body(EMBEDDED_MERCHANT_PRIVATE_PEM),
        "apo_public_key": pem_body(EMBEDDED_APO_PUBLIC_PEM),
        "payment_request_id": "r-1",
    }))
}

#[tokio::test(flavor = "multi_thread")]
async fn the_sdk_client_and_apoflow_agree_over_http() {
    let (apo_private, _) = apo_keys();
    let (url, seen) = apo_over_http(apo_private).await;
    let answer = tokio::task::spawn_blocking(move || sdk_call(&url))
        .await
        .unwrap();
    assert!(
        answer["body"]
            .as_str()
            .is_some_and(|b| b.contains("PROCESSING")),
        "the SDK accepted apoflow's response signature: {answer}"
    );
    let seen = seen.lock().unwrap();
    assert!(seen[0].1, "apoflow verified the SDK's request signature");
    assert!(
        seen[0].0.contains('T'),
        "the SDK sends ISO 8601 request-time: {}",
        seen[0].0
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_sdk_client_rejects_a_response_signed_with_the_wrong_key() {
    let (merchant_private, _) = merchant_keys();
    let (url, _) = apo_over_http(merchant_private).await;
    let answer = tokio::task::spawn_blocking(move || sdk_call(&url))
        .await
        .unwrap();
    assert!(
        answer["error"]
            .as_str()
            .is_some_and(|e| e.contains("verify")),
        "{answer}"
    );
}
