//! The client against a tiny local APO: good, missing and forged response signatures,
//! non-200, time-out, connection refused.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use apoflow::apo::client::{CallError, CallOptions, ResponseSignatureProblem, Signing};
use apoflow::apo::keys::PrivateKey;
use apoflow::apo::sign::{SignedParts, VerifyError, sign, verify};
use apoflow::apo::{Client, Endpoint, Target};
use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use url::Url;

use crate::local::{apo_keys, merchant_keys};

/// How the fake APO answers.
#[derive(Clone, Copy)]
enum Mode {
    Signed,
    NoSignature,
    NoResponseTime,
    WrongKey,
    Status(u16),
    Slow,
    NotJson,
}

/// What the fake APO saw: path, headers, body, and whether the request signature verified.
type Seen = Arc<Mutex<Vec<(String, HeaderMap, Bytes, bool)>>>;

const ANSWER: &str = r#"{"result":{"resultCode":"SUCCESS","resultStatus":"S","resultMessage":"success."},"paymentStatus":"SUCCESS"}"#;

async fn fake_apo(mode: Mode) -> (Url, Seen) {
    let seen: Seen = Arc::default();
    let log = seen.clone();
    let handler = move |uri: Uri, headers: HeaderMap, body: Bytes| {
        let log = log.clone();
        async move {
            let path = uri.path().to_owned();
            let (_, merchant_public) = merchant_keys();
            let h = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).unwrap_or("");
            let valid = verify(
                &merchant_public,
                &SignedParts::post(&path, h("client-id"), h("request-time"), &body),
                h("signature"),
            )
            .is_ok();
            log.lock()
                .unwrap()
                .push((path.clone(), headers.clone(), body, valid));
            answer(mode, &path).await
        }
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = Url::parse(&format!("http://{}", listener.local_addr().unwrap())).unwrap();
    tokio::spawn(async move {
        axum::serve(listener, Router::new().fallback(handler))
            .await
            .unwrap();
    });
    (url, seen)
}

async fn answer(mode: Mode, path: &str) -> Response {
    let time = "2025-03-17T10:22:52+08:00";
    let signed_by = |key: &PrivateKey| {
        sign(
            key,
            &SignedParts::post(path, "SANDBOX_APOFLOW_MERCHANT", time, ANSWER.as_bytes()),
        )
    };
    let (apo_private, _) = apo_keys();
    let (merchant_private, _) = merchant_keys();
    let headers = |signature: Option<String>, with_time: bool| {
        let mut h = vec![("client-id", "SANDBOX_APOFLOW_MERCHANT".to_owned())];
        if with_time {
            h.push(("response-time", time.to_owned()));
        }
        if let Some(s) = signature {
            h.push(("signature", s));
        }
        h
    };
    let respond = |h: Vec<(&'static str, String)>, body: &'static str| {
        let mut r = (StatusCode::OK, body).into_response();
        for (k, v) in h {
            r.headers_mut().insert(k, v.parse().unwrap());
        }
        r
    };
    match mode {
        Mode::Signed => respond(headers(Some(signed_by(&apo_private)), true), ANSWER),
        Mode::NoSignature => respond(headers(None, true), ANSWER),
        Mode::NoResponseTime => respond(headers(Some(signed_by(&apo_private)), false), ANSWER),
        Mode::WrongKey => respond(headers(Some(signed_by(&merchant_private)), true), ANSWER),
        Mode::Status(code) => (
            StatusCode::from_u16(code).unwrap(),
            "upstream broke, card 4054695723100768",
        )
            .into_response(),
        Mode::Slow => {
            tokio::time::sleep(Duration::from_secs(30)).await;
            respond(headers(None, true), ANSWER)
        }
        Mode::NotJson => respond(headers(None, true), "<html>gateway</html>"),
    }
}

async fn call(
    mode: Mode,
    options: CallOptions,
) -> (Result<apoflow::apo::ApoResponse, CallError>, Seen) {
    let (url, seen) = fake_apo(mode).await;
    let target = Target::embedded(url);
    let client = Client::new().unwrap();
    let result = client
        .call(
            &target,
            Endpoint::InquiryPayment,
            br#"{"paymentId":"p-1"}"#.to_vec(),
            &options,
        )
        .await;
    (result, seen)
}

#[tokio::test]
async fn a_signed_answer_is_verified_and_the_request_was_signed() {
    let (result, seen) = call(Mode::Signed, CallOptions::default()).await;
    let response = result.unwrap();
    assert!(response.signature_verified);
    assert_eq!(response.status, 200);
    assert_eq!(response.json["paymentStatus"], "SUCCESS");
    assert_eq!(response.body, ANSWER.as_bytes());
    assert_eq!(
        response.request.signed_path,
        "/ams/sandbox/api/v1/payments/inquiryPayment"
    );
    let seen = seen.lock().unwrap();
    let (path, headers, body, valid) = &seen[0];
    assert_eq!(path, "/ams/sandbox/api/v1/payments/inquiryPayment");
    assert!(valid, "the fake APO verified the request signature");
    assert_eq!(body.as_ref(), br#"{"paymentId":"p-1"}"#);
    assert_eq!(headers["content-type"], "application/json; charset=UTF-8");
    assert_eq!(headers["client-id"], "SANDBOX_APOFLOW_MERCHANT");
    assert!(
        headers["request-time"]
            .to_str()
            .unwrap()
            .parse::<u64>()
            .is_ok()
    );
}

#[tokio::test]
async fn a_missing_response_signature_is_named() {
    let (result, _) = call(Mode::NoSignature, CallOptions::default()).await;
    let err = result.unwrap_err();
    assert!(matches!(
        &err,
        CallError::ResponseSignature {
            problem: ResponseSignatureProblem::MissingHeader("signature"),
            ..
        }
    ));
    assert_eq!(
        err.to_string(),
        "inquiryPayment: the response has no `signature` header, so its signature cannot be verified"
    );
    let (result, _) = call(Mode::NoResponseTime, CallOptions::default()).await;
    assert!(
        result
            .unwrap_err()
            .to_string()
            .contains("no `response-time` header")
    );
}

#[tokio::test]
async fn a_forged_response_signature_is_rejected_but_the_response_kept() {
    let (result, _) = call(Mode::WrongKey, CallOptions::default()).await;
    match result.unwrap_err() {
        CallError::ResponseSignature {
            problem, response, ..
        } => {
            assert_eq!(
                problem,
                ResponseSignatureProblem::Invalid(VerifyError::Mismatch)
            );
            assert_eq!(response.json["paymentStatus"], "SUCCESS");
        }
        other => panic!("expected a signature error, got {other}"),
    }
}

#[tokio::test]
async fn verification_can_be_skipped_for_negative_tests() {
    let options = CallOptions {
        skip_response_verification: true,
        signing: Signing::Unsigned,
        ..CallOptions::default()
    };
    let (result, seen) = call(Mode::NoSignature, options).await;
    assert!(!result.unwrap().signature_verified);
    let seen = seen.lock().unwrap();
    assert!(seen[0].1.get("signature").is_none());
    assert!(!seen[0].3);
}

#[tokio::test]
async fn non_200_is_an_error_with_a_masked_body() {
    let (result, _) = call(Mode::Status(502), CallOptions::default()).await;
    let err = result.unwrap_err();
    assert!(matches!(err, CallError::Status { status: 502, .. }));
    assert_eq!(
        err.to_string(),
        "inquiryPayment answered HTTP 502 (APO answers every business result with HTTP 200): \
         upstream broke, card ************0768"
    );
}

#[tokio::test]
async fn a_200_that_is_not_json_is_an_error() {
    let (result, _) = call(Mode::NotJson, CallOptions::default()).await;
    let err = result.unwrap_err().to_string();
    assert!(
        err.contains("not JSON") && err.contains("<html>gateway</html>"),
        "{err}"
    );
}

#[tokio::test]
async fn a_time_out_is_an_error() {
    let options = CallOptions {
        timeout: Some(Duration::from_millis(200)),
        ..CallOptions::default()
    };
    let (result, _) = call(Mode::Slow, options).await;
    let err = result.unwrap_err();
    assert!(matches!(err, CallError::Timeout { .. }), "{err}");
    assert!(err.to_string().contains("timed out"), "{err}");
    assert!(err.request().header("signature").is_some());
}

#[tokio::test]
async fn a_refused_connection_is_an_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = Url::parse(&format!("http://{}", listener.local_addr().unwrap())).unwrap();
    drop(listener);
    let client = Client::new().unwrap();
    let err = client
        .call(
            &Target::embedded(url),
            Endpoint::Pay,
            b"{}".to_vec(),
            &CallOptions::default(),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, CallError::Connect { .. }), "{err}");
    assert!(err.to_string().contains("cannot connect"), "{err}");
}

#[tokio::test]
async fn an_unsendable_header_override_is_an_error_not_a_panic() {
    let options = CallOptions {
        headers: vec![("bad name".into(), Some("x\ny".into()))],
        ..CallOptions::default()
    };
    let (result, seen) = call(Mode::Signed, options).await;
    let err = result.unwrap_err();
    assert!(matches!(err, CallError::Transport { .. }), "{err}");
    assert!(seen.lock().unwrap().is_empty(), "nothing was sent");
}
