//! Both directions against the official Python SDK's own signing code.

use apoflow::apo::sign::{SignedParts, sign, verify};
use apoflow::apo::target::{EMBEDDED_APO_PUBLIC_PEM, EMBEDDED_MERCHANT_PRIVATE_PEM};
use serde_json::json;

use crate::support::{apo_keys, merchant_keys, pem_body, sdk};

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
    let out = crate::support::apoflow()
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
