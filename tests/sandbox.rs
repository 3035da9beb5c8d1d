//! Integration tests of the embedded APO sandbox: the real `apoflow sandbox` binary over real
//! HTTP on 127.0.0.1.

#[path = "sandbox/local.rs"]
mod local;
#[path = "support/mod.rs"]
mod support;

#[path = "sandbox/hardening.rs"]
mod hardening;
#[path = "sandbox/journal.rs"]
mod journal;
#[path = "sandbox/outcomes.rs"]
mod outcomes;
#[path = "sandbox/scenarios.rs"]
mod scenarios;
#[path = "sandbox/tls.rs"]
mod tls;

use std::io::{Read as _, Write as _};

use apoflow::apo::keys::PublicKey;
use apoflow::apo::sign::{SignedParts, verify};
use local::*;
use serde_json::{Value, json};
use support::{Sandbox, apoflow_cmd, venv_python};

const VISA_OK: &str = "4054695723100768";

fn code(v: &Value) -> (&str, &str) {
    (
        v["result"]["resultCode"].as_str().unwrap_or_default(),
        v["result"]["resultStatus"].as_str().unwrap_or_default(),
    )
}

/// pay then the buyer pays with `card`; returns the paymentId.
async fn paid(c: &Client, b: &Buyer, body: Value, card: &str) -> String {
    let r = c.call("pay", &body).await;
    assert_eq!(code(&r), ("PAYMENT_IN_PROCESS", "U"), "{r}");
    let page = b
        .pay_with(r["normalUrl"].as_str().unwrap(), card, false)
        .await;
    assert_eq!(page.status, 303, "{}", page.html);
    r["paymentId"].as_str().unwrap().to_owned()
}

async fn inquiry(c: &Client, payment_id: &str) -> Value {
    c.call("inquiryPayment", &json!({ "paymentId": payment_id }))
        .await
}

#[tokio::test]
async fn pay_answers_in_process_with_every_redirect_field() {
    let s = Sandbox::start(&[]);
    let c = Client::new(&s);
    let r = c.call("pay", &pay_body(&uid("p"), "4200", None)).await;
    assert_eq!(code(&r), ("PAYMENT_IN_PROCESS", "U"));
    assert_eq!(r["result"]["resultMessage"], "Payment is processing.");
    let normal = r["normalUrl"].as_str().unwrap();
    assert!(normal.starts_with(&s.url));
    assert_eq!(r["redirectActionForm"]["redirectUrl"], normal);
    let form: Value = serde_json::from_str(r["paymentActionForm"].as_str().unwrap()).unwrap();
    assert_eq!(form["redirectUrl"], normal);
    assert!(r["authExpiryTime"].is_string() && r["paymentId"].is_string());
    // The production path works too.
    let path = "/ams/api/v1/payments/pay";
    let body = serde_json::to_vec(&pay_body(&uid("p"), "100", None)).unwrap();
    let a = c.send(path, &c.signed(path, &body), body).await;
    assert_eq!(code(&a.body), ("PAYMENT_IN_PROCESS", "U"));
    for h in ["client-id", "response-time", "signature"] {
        assert!(a.headers.contains_key(h), "missing {h}");
    }
    assert_eq!(a.headers["client-id"], CLIENT_ID);
}

#[tokio::test]
async fn gateway_errors_are_200_results_signed_unless_the_request_signature_is_bad() {
    let s = Sandbox::start(&[]);
    let c = Client::new(&s);
    let path = "/ams/sandbox/api/v1/payments/pay";
    let body = serde_json::to_vec(&pay_body(&uid("p"), "100", None)).unwrap();

    let mut h = c.signed(path, &body);
    h.retain(|(k, _)| *k != "signature");
    let a = c.send_unsigned_answer(path, &h, body.clone()).await;
    assert_eq!((a.status, code(&a.body)), (200, ("INVALID_SIGNATURE", "F")));

    let mut h = c.signed(path, &body);
    let mut tampered = body.clone();
    tampered.push(b' ');
    let a = c.send_unsigned_answer(path, &h, tampered).await;
    assert_eq!(code(&a.body), ("INVALID_SIGNATURE", "F"));

    h.retain(|(k, _)| *k != "client-id");
    h.push(("client-id", "SANDBOX_NOBODY".to_owned()));
    let a = c.send(path, &h, body.clone()).await;
    assert_eq!(code(&a.body), ("UNKNOWN_CLIENT", "F"));

    // No client to sign for: the answer is not signed.
    let mut h = c.signed(path, &body);
    h.retain(|(k, _)| *k != "client-id");
    let a = c.send_unsigned_answer(path, &h, body.clone()).await;
    assert_eq!(code(&a.body), ("INVALID_CLIENT", "F"));

    let p2 = "/ams/sandbox/api/v1/payments/teleport";
    let a = c.send(p2, &c.signed(p2, &body), body.clone()).await;
    assert_eq!(code(&a.body), ("NO_INTERFACE_DEF", "F"));
    let p3 = "/ams/api/v2/whatever";
    let a = c.send(p3, &c.signed(p3, &body), body.clone()).await;
    assert_eq!(code(&a.body), ("NO_INTERFACE_DEF", "F"));

    let bad = b"{\"productCode\": ".to_vec();
    let a = c.send(path, &c.signed(path, &bad), bad).await;
    assert_eq!(code(&a.body), ("PARAM_ILLEGAL", "F"));
    assert!(
        a.body["result"]["resultMessage"]
            .as_str()
            .unwrap()
            .starts_with("body: is not valid JSON")
    );

    let huge = vec![b' '; 300 * 1024];
    let a = c
        .send_unsigned_answer(path, &c.signed(path, &huge), huge)
        .await;
    assert_eq!(code(&a.body), ("PARAM_ILLEGAL", "F"));

    let resp = c.http.get(format!("{}{path}", s.url)).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(code(&v), ("METHOD_NOT_SUPPORTED", "F"));
}

#[tokio::test]
async fn absolute_form_request_targets_are_accepted() {
    let s = Sandbox::start(&[]);
    let c = Client::new(&s);
    let path = "/ams/sandbox/api/v1/payments/pay";
    let body = serde_json::to_vec(&pay_body(&uid("p"), "100", None)).unwrap();
    let host = s.url.trim_start_matches("http://");
    let mut req = format!(
        "POST https://{host}{path} HTTP/1.1\r\nhost: {host}\r\nconnection: close\r\ncontent-length: {}\r\n",
        body.len()
    );
    for (k, v) in c.signed(path, &body) {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    let mut tcp = std::net::TcpStream::connect(host).unwrap();
    tcp.write_all(req.as_bytes()).unwrap();
    tcp.write_all(&body).unwrap();
    let mut out = String::new();
    tcp.read_to_string(&mut out).unwrap();
    assert!(out.starts_with("HTTP/1.1 200"), "{out}");
    assert!(out.contains("PAYMENT_IN_PROCESS"), "{out}");
}

#[tokio::test]
async fn validation_names_the_field() {
    let s = Sandbox::start(&[]);
    let c = Client::new(&s);
    let cases: Vec<(&str, Value)> = vec![
        ("/productCode", json!("AGREEMENT_PAYMENT")),
        ("/paymentRequestId", json!("")),
        ("/paymentAmount/value", json!("-5")),
        ("/paymentAmount/value", json!(4200)),
        ("/paymentAmount/currency", json!("DOLLARS")),
        ("/paymentMethod/paymentMethodType", json!("WALLET")),
        (
            "/paymentMethod/paymentMethodMetaData/tokenizeMode",
            json!("SOMETIMES"),
        ),
        ("/paymentFactor/isAuthorization", json!(false)),
        ("/paymentFactor/captureMode", json!("LATER")),
        ("/paymentRedirectUrl", json!("http://shop.example/return")),
        ("/paymentNotifyUrl", json!("ftp://shop.example/notify")),
        ("/paymentExpiryTime", json!("tomorrow")),
        ("/order/orderDescription", json!("x".repeat(257))),
        ("/order/buyer", json!({"buyerName": {"fullName": "A"}})),
        ("/env/terminalType", json!("TV")),
        ("/env/clientIp", Value::Null),
    ];
    let mut lines = Vec::new();
    for (pointer, v) in cases {
        let mut body = pay_body(&uid("v"), "100", None);
        let (parent, key) = pointer.rsplit_once('/').unwrap();
        let parent = if parent.is_empty() {
            &mut body
        } else {
            body.pointer_mut(parent).unwrap()
        };
        parent[key] = v;
        let r = c.call("pay", &body).await;
        assert_eq!(code(&r), ("PARAM_ILLEGAL", "F"), "{pointer}");
        assert!(r.get("paymentId").is_none());
        lines.push(format!(
            "{pointer} → {}",
            r["result"]["resultMessage"].as_str().unwrap()
        ));
    }
    insta::assert_snapshot!("pay_param_illegal_messages", lines.join("\n"));
    // Other APIs' required fields.
    for (api, body, field) in [
        (
            "capture",
            json!({"paymentId": "x", "captureAmount": {"currency": "SGD", "value": "1"}}),
            "captureRequestId",
        ),
        (
            "refund",
            json!({"refundRequestId": "r", "paymentId": "x"}),
            "refundAmount",
        ),
        ("inquiryPayment", json!({}), "paymentId"),
        ("cancel", json!({}), "paymentId"),
        ("inquiryRefund", json!({}), "refundId"),
    ] {
        let r = c.call(api, &body).await;
        assert_eq!(code(&r), ("PARAM_ILLEGAL", "F"), "{api}");
        assert!(
            r["result"]["resultMessage"]
                .as_str()
                .unwrap()
                .starts_with(field),
            "{r}"
        );
    }
    // Plain http on loopback is allowed.
    let r = c
        .call(
            "pay",
            &pay_body(&uid("v"), "100", Some("http://127.0.0.1:9/notify")),
        )
        .await;
    assert_eq!(code(&r), ("PAYMENT_IN_PROCESS", "U"));
}

#[tokio::test]
async fn amount_11_is_rejected_by_risk_control() {
    let s = Sandbox::start(&[]);
    let c = Client::new(&s);
    let id = uid("risk");
    let r = c.call("pay", &pay_body(&id, "11", None)).await;
    assert_eq!(code(&r), ("RISK_REJECT", "F"));
    let r2 = c.call("pay", &pay_body(&id, "11", None)).await;
    assert_eq!(r2["paymentId"], r["paymentId"]);
    let q = c
        .call("inquiryPayment", &json!({"paymentRequestId": id}))
        .await;
    assert_eq!(q["paymentStatus"], "FAIL");
    assert_eq!(q["paymentResultCode"], "RISK_REJECT");
}

#[tokio::test]
async fn idempotency_and_concurrent_duplicates() {
    let s = Sandbox::start(&[]);
    let c = std::sync::Arc::new(Client::new(&s));
    let id = uid("dup");
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let c = c.clone();
        let body = pay_body(&id, "4200", None);
        tasks.push(tokio::spawn(async move { c.call("pay", &body).await }));
    }
    let mut ids = std::collections::BTreeSet::new();
    for t in tasks {
        let r = t.await.unwrap();
        assert_eq!(code(&r), ("PAYMENT_IN_PROCESS", "U"));
        ids.insert(r["paymentId"].as_str().unwrap().to_owned());
    }
    assert_eq!(
        ids.len(),
        1,
        "concurrent duplicates created {} payments",
        ids.len()
    );
    for (pointer, v) in [
        ("/paymentAmount/value", json!("4300")),
        ("/paymentAmount/currency", json!("USD")),
        ("/paymentMethod/paymentMethodId", json!("ctok_other")),
    ] {
        let mut body = pay_body(&id, "4200", None);
        body.pointer_mut("/paymentMethod").unwrap()["paymentMethodId"] = Value::Null;
        if pointer.ends_with("paymentMethodId") {
            body["paymentMethod"]["paymentMethodId"] = v;
        } else {
            *body.pointer_mut(pointer).unwrap() = v;
        }
        let r = c.call("pay", &body).await;
        assert_eq!(code(&r), ("REPEAT_REQ_INCONSISTENT", "F"), "{pointer}");
    }
}

#[tokio::test]
async fn automatic_capture_flow_with_refunds_and_notifications() {
    let (_s, c, b, rx) = sandbox_and_receiver().await;
    let id = uid("auto");
    let r = c.call("pay", &pay_body(&id, "4200", Some(&rx.url))).await;
    let normal = r["normalUrl"].as_str().unwrap();
    let page = b.get(normal).await;
    assert_eq!(page.status, 200);
    for field in [
        "card_number",
        "expiry_month",
        "expiry_year",
        "cvv",
        "holder_name",
        "SGD 42.00",
        "Running shoes",
    ] {
        assert!(page.html.contains(field), "page lacks {field}");
    }
    assert!(!page.html.contains("save_card"));
    let done = b.pay_with(normal, VISA_OK, false).await;
    assert_eq!(done.status, 303);
    assert_eq!(
        done.location.as_deref(),
        Some("https://shop.example/return?order=1")
    );
    let pid = r["paymentId"].as_str().unwrap();

    let got = rx.wait(2, |r| r.body["paymentId"] == pid).await;
    let apo =
        PublicKey::from_text(include_str!("../fixtures/keys/sandbox-apo-public.pem")).unwrap();
    for n in &got {
        let h = |k: &str| n.headers[k].to_str().unwrap().to_owned();
        verify(
            &apo,
            &SignedParts::post(&n.path, &h("client-id"), &h("request-time"), &n.raw),
            &h("signature"),
        )
        .expect("notification signed over the notify path");
    }
    let pay_n = &rx.of(pid, "PAYMENT_RESULT")[0].body;
    assert_eq!(code(pay_n), ("SUCCESS", "S"));
    assert_eq!(pay_n["paymentResultInfo"]["cardNo"], "************0768");
    assert!(pay_n["paymentResultInfo"].get("cardToken").is_none());
    let cap_n = &rx.of(pid, "CAPTURE_RESULT")[0].body;
    assert_eq!(cap_n["captureAmount"]["value"], "4200");

    let q = inquiry(&c, pid).await;
    assert_eq!(q["paymentStatus"], "SUCCESS");
    let info = &q["paymentResultInfo"];
    assert_eq!(
        (
            info["cardNo"].as_str(),
            info["lastFour"].as_str(),
            info["cardBin"].as_str()
        ),
        (Some("************0768"), Some("0768"), Some("405469"))
    );
    assert_eq!(info["cardBrand"], "VISA");
    assert!(info["fingerprint"].is_string() && q["acquirerInfo"].is_object());
    assert!(!q.to_string().contains(VISA_OK), "full card number leaked");
    assert_eq!(q["transactions"][0]["transactionType"], "CAPTURE");

    // Refunds: partial, several, never above the captured amount; idempotent.
    let refund = |rid: &str, v: &str| {
        json!({"refundRequestId": rid, "paymentId": pid, "refundNotifyUrl": rx.url,
               "refundAmount": {"currency": "SGD", "value": v}})
    };
    let r1 = c.call("refund", &refund("rf1", "2000")).await;
    assert_eq!(code(&r1), ("SUCCESS", "S"));
    assert_eq!(
        c.call("refund", &refund("rf1", "2000")).await["refundId"],
        r1["refundId"]
    );
    assert_eq!(
        code(&c.call("refund", &refund("rf1", "2100")).await),
        ("REPEAT_REQ_INCONSISTENT", "F")
    );
    assert_eq!(
        code(&c.call("refund", &refund("rf2", "2201")).await),
        ("REFUND_AMOUNT_EXCEED", "F")
    );
    assert_eq!(
        code(&c.call("refund", &refund("rf3", "2200")).await),
        ("SUCCESS", "S")
    );
    rx.wait(2, |r| r.body["notifyType"] == "REFUND_RESULT")
        .await;
    let ir = c
        .call("inquiryRefund", &json!({"refundId": r1["refundId"]}))
        .await;
    assert_eq!(
        (ir["refundStatus"].as_str(), ir["refundRequestId"].as_str()),
        (Some("SUCCESS"), Some("rf1"))
    );
    let ir = c
        .call("inquiryRefund", &json!({"refundRequestId": "rf3"}))
        .await;
    assert_eq!(ir["refundAmount"]["value"], "2200");
    assert_eq!(
        code(
            &c.call("inquiryRefund", &json!({"refundRequestId": "nope"}))
                .await
        ),
        ("ORDER_NOT_EXIST", "F")
    );
    assert_eq!(
        inquiry(&c, pid).await["transactions"]
            .as_array()
            .unwrap()
            .len(),
        3
    );

    // Wrong-state calls.
    assert_eq!(
        code(&c.call("cancel", &json!({"paymentId": pid})).await),
        ("ORDER_STATUS_INVALID", "F")
    );
    let cap = json!({"captureRequestId": "c1", "paymentId": pid, "captureAmount": {"currency": "SGD", "value": "1"}});
    assert_eq!(
        code(&c.call("capture", &cap).await),
        ("ORDER_STATUS_INVALID", "F")
    );
    assert_eq!(
        code(&inquiry(&c, "P-unknown").await),
        ("ORDER_NOT_EXIST", "F")
    );
    // The page of a finished payment says so.
    let again = b.pay_with(normal, VISA_OK, false).await;
    assert_eq!(again.status, 409);
    // A repeated pay returns the final result.
    let r = c.call("pay", &pay_body(&id, "4200", Some(&rx.url))).await;
    assert_eq!(
        (code(&r), r["paymentId"].as_str()),
        (("SUCCESS", "S"), Some(pid))
    );
}

#[tokio::test]
async fn manual_capture_cancel_and_auth_expiry() {
    let s = Sandbox::start(&[]);
    let c = Client::new(&s);
    let b = Buyer::new(&s);
    let manual = |id: &str| manual(pay_body(id, "1000", None));
    let pid = paid(&c, &b, manual(&uid("m")), VISA_OK).await;
    let refund = json!({"refundRequestId": uid("r"), "paymentId": pid, "refundAmount": {"currency": "SGD", "value": "1"}});
    assert_eq!(
        code(&c.call("refund", &refund).await),
        ("ORDER_STATUS_INVALID", "F")
    );
    let cap = |rid: &str, v: &str| json!({"captureRequestId": rid, "paymentId": pid, "captureAmount": {"currency": "SGD", "value": v}});
    let c1 = c.call("capture", &cap("c1", "600")).await;
    assert_eq!(code(&c1), ("SUCCESS", "S"));
    assert_eq!(
        c.call("capture", &cap("c1", "600")).await["captureId"],
        c1["captureId"]
    );
    assert_eq!(
        code(&c.call("capture", &cap("c1", "700")).await),
        ("REPEAT_REQ_INCONSISTENT", "F")
    );
    assert_eq!(
        code(&c.call("capture", &cap("c2", "401")).await),
        ("CAPTURE_AMOUNT_EXCEED_AUTH_LIMIT", "F")
    );
    assert_eq!(
        code(&c.call("capture", &cap("c3", "400")).await),
        ("SUCCESS", "S")
    );
    let bad_currency = json!({"captureRequestId": "c4", "paymentId": pid, "captureAmount": {"currency": "USD", "value": "1"}});
    assert_eq!(
        code(&c.call("capture", &bad_currency).await),
        ("PARAM_ILLEGAL", "F")
    );
    let unknown = json!({"captureRequestId": "c5", "paymentId": "P-none", "captureAmount": {"currency": "SGD", "value": "1"}});
    assert_eq!(
        code(&c.call("capture", &unknown).await),
        ("AUTH_NOT_FOUND", "F")
    );

    // Cancel before capture; then capture is refused.
    let pid2 = paid(&c, &b, manual(&uid("m")), VISA_OK).await;
    let cancel = c.call("cancel", &json!({"paymentId": pid2})).await;
    assert_eq!(code(&cancel), ("SUCCESS", "S"));
    assert!(cancel["cancelTime"].is_string());
    assert_eq!(
        code(&c.call("cancel", &json!({"paymentId": pid2})).await),
        ("SUCCESS", "S")
    );
    let cap2 = json!({"captureRequestId": "x1", "paymentId": pid2, "captureAmount": {"currency": "SGD", "value": "1"}});
    assert_eq!(
        code(&c.call("capture", &cap2).await),
        ("AUTH_CANCELLED", "F")
    );
    let q = inquiry(&c, &pid2).await;
    assert_eq!(q["paymentStatus"], "CANCELLED");
    assert_eq!(q["transactions"][0]["transactionType"], "CANCEL");
    assert_eq!(
        code(&c.call("cancel", &json!({"paymentId": "P-none"})).await),
        ("ORDER_NOT_EXIST", "F")
    );

    // Authorization expiry: a late capture fails.
    let pid3 = paid(&c, &b, manual(&uid("m")), VISA_OK).await;
    c.advance(7 * 24 * 3600 + 1).await;
    let cap3 = json!({"captureRequestId": "late", "paymentId": pid3, "captureAmount": {"currency": "SGD", "value": "1"}});
    assert_eq!(code(&c.call("capture", &cap3).await), ("AUTH_EXPIRED", "F"));
}

#[tokio::test]
async fn every_test_card() {
    let (_s, c, b, rx) = sandbox_and_receiver().await;
    for card in apoflow::sandbox::cards::all() {
        let body = manual(pay_body(&uid(&card.name), "1000", Some(&rx.url)));
        let pid = paid(&c, &b, body, &card.number).await;
        if card.processing_seconds > 0 {
            let waiting = if card.pending {
                "PENDING"
            } else {
                "PROCESSING"
            };
            assert_eq!(
                inquiry(&c, &pid).await["paymentStatus"],
                waiting,
                "{}",
                card.name
            );
            if card.pending {
                let n = rx
                    .wait(1, |r| {
                        r.body["paymentId"] == pid.as_str()
                            && r.body["notifyType"] == "PAYMENT_PENDING"
                    })
                    .await;
                assert_eq!(code(&n[0].body), ("SUCCESS", "S"), "{}", card.name);
            }
            c.advance(card.processing_seconds).await;
        }
        let q = inquiry(&c, &pid).await;
        let want = if card.outcome == "SUCCESS" {
            "SUCCESS"
        } else {
            "FAIL"
        };
        assert_eq!(q["paymentStatus"], want, "{}", card.name);
        assert_eq!(
            q["paymentResultCode"],
            card.outcome.as_str(),
            "{}",
            card.name
        );
        assert_eq!(
            q["paymentResultInfo"]["cardBrand"],
            card.brand.as_str(),
            "{}",
            card.name
        );
        let n = rx
            .wait(1, |r| {
                r.body["paymentId"] == pid.as_str() && r.body["notifyType"] == "PAYMENT_RESULT"
            })
            .await;
        let status = if card.outcome == "SUCCESS" { "S" } else { "F" };
        assert_eq!(
            code(&n[0].body),
            (card.outcome.as_str(), status),
            "{}",
            card.name
        );
    }
}

#[tokio::test]
async fn hosted_page_validates_and_escapes() {
    let s = Sandbox::start(&[]);
    let c = Client::new(&s);
    let b = Buyer::new(&s);
    let mut body = pay_body(&uid("esc"), "1000", None);
    body["order"]["orderDescription"] = json!("<script>alert(1)</script> & \"co\"");
    let r = c.call("pay", &body).await;
    let normal = r["normalUrl"].as_str().unwrap();
    let page = b.get(normal).await;
    assert!(!page.html.contains("<script>alert(1)"));
    assert!(
        page.html
            .contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;co&quot;")
    );
    let bad = b
        .post(
            normal,
            &[
                ("card_number", "4054695723100769"),
                ("expiry_month", "13"),
                ("expiry_year", "30"),
                ("cvv", "99"),
                ("holder_name", ""),
            ],
        )
        .await;
    assert_eq!(bad.status, 422);
    for msg in [
        "not valid: check the digits",
        "month must be 01 to 12",
        "CVV must be the 3 digits",
        "Enter the name",
    ] {
        assert!(bad.html.contains(msg), "missing message {msg}");
    }
    assert!(
        !bad.html.contains("4054695723100769"),
        "card number echoed in clear"
    );
    let expired = b
        .post(
            normal,
            &[
                ("card_number", VISA_OK),
                ("expiry_month", "01"),
                ("expiry_year", "2001"),
                ("cvv", "123"),
                ("holder_name", "A"),
            ],
        )
        .await;
    assert!(expired.html.contains("This card has expired"));
    assert_eq!(b.get("/page/pay/P-nothing").await.status, 404);
}

async fn start(c: &Client, body: Value) -> (String, String) {
    let r = c.call("pay", &body).await;
    (
        r["paymentId"].as_str().unwrap().to_owned(),
        r["normalUrl"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test]
async fn three_d_secure_challenge() {
    let s = Sandbox::start(&[]);
    let c = Client::new(&s);
    let b = Buyer::new(&s);
    let three_ds = || {
        let mut body = pay_body(&uid("3ds"), "1000", None);
        body["paymentMethod"]["paymentMethodMetaData"]["is3DSAuthentication"] = json!(true);
        body
    };
    let mut closing = Vec::new();
    for (card, answer, status, result) in [
        (VISA_OK, "pass", "SUCCESS", "SUCCESS"),
        (VISA_OK, "fail", "FAIL", "USER_PAYMENT_VERIFICATION_FAILED"),
        (
            "4000000000003006",
            "pass",
            "FAIL",
            "USER_PAYMENT_VERIFICATION_FAILED",
        ),
    ] {
        let (pid, normal) = start(&c, three_ds()).await;
        let p = b.pay_with(&normal, card, false).await;
        let challenge = p.location.unwrap();
        assert_eq!(challenge, format!("/page/3ds/{pid}"));
        let page = b.get(&challenge).await;
        assert!(page.html.contains("name=\"outcome\" value=\"pass\""));
        let done = b.post(&challenge, &[("outcome", answer)]).await;
        assert_eq!(
            done.location.as_deref(),
            Some("https://shop.example/return?order=1")
        );
        if status == "FAIL" {
            // A failed challenge fails the payment only when the order closes.
            let q = inquiry(&c, &pid).await;
            assert_eq!(q["paymentStatus"], "PROCESSING", "{card} {answer}");
            closing.push((pid, result));
            continue;
        }
        let q = inquiry(&c, &pid).await;
        assert_eq!(
            (q["paymentStatus"].as_str(), q["paymentResultCode"].as_str()),
            (Some(status), Some(result)),
            "{card} {answer}"
        );
        assert_eq!(q["paymentResultInfo"]["threeDSResult"]["challenged"], true);
    }
    c.advance(14 * 60).await;
    for (pid, result) in closing {
        let q = inquiry(&c, &pid).await;
        assert_eq!(
            (q["paymentStatus"].as_str(), q["paymentResultCode"].as_str()),
            (Some("FAIL"), Some(result)),
        );
        assert_eq!(q["paymentResultInfo"]["threeDSResult"]["challenged"], true);
    }
    // Cancel goes back to the card page; the payment still waits.
    let (pid, normal) = start(&c, three_ds()).await;
    let p = b.pay_with(&normal, VISA_OK, false).await;
    let back = b
        .post(p.location.as_deref().unwrap(), &[("outcome", "cancel")])
        .await;
    assert_eq!(back.location, Some(format!("/page/pay/{pid}")));
    assert_eq!(inquiry(&c, &pid).await["paymentStatus"], "PROCESSING");
    // The exemption card is never challenged.
    let (pid, normal) = start(&c, three_ds()).await;
    let p = b.pay_with(&normal, "4035501000000008", false).await;
    assert_eq!(
        p.location.as_deref(),
        Some("https://shop.example/return?order=1")
    );
    assert_eq!(
        inquiry(&c, &pid).await["paymentResultInfo"]["threeDSResult"]["challenged"],
        false
    );
}

#[tokio::test]
async fn card_tokens_and_saved_card_payments() {
    let dir = tempfile::tempdir().unwrap();
    let vectors: Value = serde_json::from_str(include_str!("data/signature-vectors.json")).unwrap();
    let other_pub = dir.path().join("other.pem");
    std::fs::write(
        &other_pub,
        vectors["keys"]["public_key_x509_spki_base64"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    let s = Sandbox::start(&[
        "--merchant",
        &format!("SANDBOX_OTHER={}", other_pub.display()),
    ]);
    let c = Client::new(&s);
    let b = Buyer::new(&s);

    let mut enabled = pay_body(&uid("tok"), "1000", None);
    enabled["paymentMethod"]["paymentMethodMetaData"]["tokenizeMode"] = json!("ENABLED");
    let pid = paid(&c, &b, enabled, VISA_OK).await;
    let token = inquiry(&c, &pid).await["paymentResultInfo"]["cardToken"]
        .as_str()
        .unwrap()
        .to_owned();

    // ASKFORCONSENT: the box is offered; a token only when ticked.
    for (tick, stored) in [(false, false), (true, true)] {
        let mut ask = pay_body(&uid("ask"), "1000", None);
        ask["paymentMethod"]["paymentMethodMetaData"]["tokenizeMode"] = json!("ASKFORCONSENT");
        let r = c.call("pay", &ask).await;
        let normal = r["normalUrl"].as_str().unwrap();
        assert!(b.get(normal).await.html.contains("name=\"save_card\""));
        b.pay_with(normal, "5162774114974622", tick).await;
        let q = inquiry(&c, r["paymentId"].as_str().unwrap()).await;
        assert_eq!(q["paymentResultInfo"].get("cardToken").is_some(), stored);
    }

    // Saved-card payment: the continuation page, no card entry.
    let mut saved = pay_body(&uid("saved"), "500", None);
    saved["paymentMethod"]["paymentMethodId"] = json!(token);
    saved["paymentMethod"]["paymentMethodMetaData"]["isCardOnFile"] = json!(true);
    let r = c.call("pay", &saved).await;
    assert_eq!(code(&r), ("PAYMENT_IN_PROCESS", "U"));
    let normal = r["normalUrl"].as_str().unwrap();
    let page = b.get(normal).await;
    assert!(page.html.contains("************0768") && !page.html.contains("card_number"));
    let done = b.post(normal, &[("action", "pay")]).await;
    assert_eq!(done.status, 303);
    let q = inquiry(&c, r["paymentId"].as_str().unwrap()).await;
    assert_eq!(
        (
            q["paymentStatus"].as_str(),
            q["paymentResultInfo"]["cardToken"].as_str()
        ),
        (Some("SUCCESS"), Some(token.as_str()))
    );

    // Unknown tokens and tokens of another client are rejected.
    saved["paymentRequestId"] = json!(uid("saved"));
    saved["paymentMethod"]["paymentMethodId"] = json!("ctok_unknown");
    let r = c.call("pay", &saved).await;
    assert_eq!(code(&r), ("PARAM_ILLEGAL", "F"));
    assert!(
        r["result"]["resultMessage"]
            .as_str()
            .unwrap()
            .starts_with("paymentMethod.paymentMethodId")
    );
    let mut other = Client::new(&s);
    other.client_id = "SANDBOX_OTHER".to_owned();
    other.key = apoflow::apo::keys::PrivateKey::from_text(
        vectors["keys"]["merchant_private_key_pkcs8_base64"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    saved["paymentMethod"]["paymentMethodId"] = json!(token);
    assert_eq!(
        code(&other.call("pay", &saved).await),
        ("PARAM_ILLEGAL", "F")
    );
    // …and another client cannot see this client's payment.
    assert_eq!(code(&inquiry(&other, &pid).await), ("ORDER_NOT_EXIST", "F"));
}

#[tokio::test]
async fn expiry_closes_an_abandoned_payment_with_a_fail_notification() {
    let s = Sandbox::start(&[]);
    let c = Client::new(&s);
    let rx = Receiver::start().await;
    let r = c
        .call("pay", &pay_body(&uid("abandon"), "1000", Some(&rx.url)))
        .await;
    let pid = r["paymentId"].as_str().unwrap();
    c.advance(14 * 60 + 1).await;
    let n = rx.wait(1, |r| r.body["paymentId"] == pid).await;
    assert_eq!(code(&n[0].body), ("ORDER_IS_CLOSED", "F"));
    assert_eq!(inquiry(&c, pid).await["paymentStatus"], "FAIL");
    assert_eq!(
        code(
            &c.call(
                "pay",
                &pay_body(
                    r["paymentRequestId"].as_str().unwrap(),
                    "1000",
                    Some(&rx.url)
                )
            )
            .await
        ),
        ("ORDER_IS_CLOSED", "F")
    );
    // A custom paymentExpiryTime.
    let mut body = pay_body(&uid("abandon"), "1000", Some(&rx.url));
    let clock = c.control("clock", None).await;
    let now: jiff::Timestamp = clock["now"].as_str().unwrap().parse().unwrap();
    let expiry = now
        .saturating_add(jiff::SignedDuration::from_mins(3))
        .unwrap();
    body["paymentExpiryTime"] = json!(expiry.strftime("%Y-%m-%dT%H:%M:%S+00:00").to_string());
    let pid = c.call("pay", &body).await["paymentId"]
        .as_str()
        .unwrap()
        .to_owned();
    c.advance(2 * 60).await;
    assert_eq!(inquiry(&c, &pid).await["paymentStatus"], "PROCESSING");
    c.advance(61).await;
    assert_eq!(inquiry(&c, &pid).await["paymentStatus"], "FAIL");
    let mut past = pay_body(&uid("abandon"), "1000", None);
    past["paymentExpiryTime"] = json!("2001-01-01T00:00:00+08:00");
    assert_eq!(code(&c.call("pay", &past).await), ("PARAM_ILLEGAL", "F"));
}

#[tokio::test]
async fn the_full_retry_schedule_on_the_virtual_clock() {
    let (_s, c, b, rx) = sandbox_and_receiver().await;
    rx.set_ack(false);
    let body = manual(pay_body(&uid("retry"), "1000", Some(&rx.url)));
    let pid = paid(&c, &b, body, VISA_OK).await;
    let attempts = |list: &[Value]| -> usize {
        list.iter()
            .find(|d| d["paymentId"] == pid.as_str())
            .map_or(0, |d| d["attempts"].as_array().unwrap().len())
    };
    c.deliveries_until(|l| attempts(l) == 1).await;
    // Each retry waits for its interval: a second short of it sends nothing.
    for (n, wait) in [120u64, 600, 600, 3600, 7200, 21600, 54000]
        .into_iter()
        .enumerate()
    {
        c.advance(wait - 1).await;
        let list = c.deliveries_until(|_| true).await;
        assert_eq!(attempts(&list), n + 1, "sent early before retry {}", n + 2);
        c.advance(1).await;
        c.deliveries_until(|l| attempts(l) == n + 2).await;
    }
    let list = c
        .deliveries_until(|l| {
            l.iter()
                .any(|d| d["paymentId"] == pid.as_str() && d["state"] == "failed")
        })
        .await;
    assert_eq!(attempts(&list), 8);
    assert_eq!(rx.of(&pid, "PAYMENT_RESULT").len(), 8);
}

#[tokio::test]
async fn a_receiver_that_comes_back_gets_the_notification() {
    let (_s, c, b, rx) = sandbox_and_receiver().await;
    rx.set_ack(false);
    let pid = paid(
        &c,
        &b,
        pay_body(&uid("back"), "1000", Some(&rx.url)),
        VISA_OK,
    )
    .await;
    rx.wait(2, |r| r.body["paymentId"] == pid.as_str()).await;
    rx.set_ack(true);
    c.advance(120).await;
    let list = c
        .deliveries_until(|l| {
            l.iter()
                .filter(|d| d["paymentId"] == pid.as_str())
                .all(|d| d["state"] == "delivered")
        })
        .await;
    assert!(
        list.iter()
            .all(|d| d["attempts"].as_array().unwrap().len() == 2)
    );
}

#[tokio::test]
async fn delivery_faults_drop_duplicate_reorder() {
    let (_s, c, b, rx) = sandbox_and_receiver().await;
    let manual = |id: &str| manual(pay_body(id, "1000", Some(&rx.url)));
    // Drop: the first attempt is lost, the retry after 2 minutes arrives.
    c.control("faults", Some(json!({"drop_next": 1}))).await;
    let pid = paid(&c, &b, manual(&uid("drop")), VISA_OK).await;
    let list = c
        .deliveries_until(|l| {
            l.iter().any(|d| {
                d["paymentId"] == pid.as_str() && d["attempts"].as_array().unwrap().len() == 1
            })
        })
        .await;
    assert!(
        list[0]["attempts"][0]["outcome"]
            .as_str()
            .unwrap()
            .contains("dropped")
    );
    assert!(rx.of(&pid, "PAYMENT_RESULT").is_empty());
    c.advance(120).await;
    rx.wait(1, |r| r.body["paymentId"] == pid.as_str()).await;

    // Duplicate: sent twice.
    c.control("faults", Some(json!({"duplicate_next": 1})))
        .await;
    let pid = paid(&c, &b, manual(&uid("dup")), VISA_OK).await;
    let list = c
        .deliveries_until(|l| {
            l.iter().any(|d| {
                d["paymentId"] == pid.as_str() && d["attempts"].as_array().unwrap().len() == 2
            })
        })
        .await;
    assert!(list.iter().all(|d| d["state"] == "delivered"), "{list:#?}");
    rx.wait(2, |r| r.body["paymentId"] == pid.as_str()).await;

    // Reorder: the capture result of a second capture arrives before the first one's.
    c.control("faults", Some(json!({}))).await;
    let pid = paid(&c, &b, manual(&uid("ord")), VISA_OK).await;
    rx.wait(1, |r| r.body["paymentId"] == pid.as_str()).await;
    c.control("faults", Some(json!({"reorder_next": true})))
        .await;
    for (rid, v) in [("first", "100"), ("second", "200")] {
        c.call("capture", &json!({"captureRequestId": rid, "paymentId": pid, "captureAmount": {"currency": "SGD", "value": v}})).await;
    }
    let caps = rx
        .wait(2, |r| {
            r.body["paymentId"] == pid.as_str() && r.body["notifyType"] == "CAPTURE_RESULT"
        })
        .await;
    assert_eq!(caps[0].body["captureRequestId"], "second");
    assert_eq!(caps[1].body["captureRequestId"], "first");
}

#[tokio::test]
async fn control_api_token_and_reset() {
    let s = Sandbox::start(&["--control-token", "s3cret-token"]);
    let c = Client::new(&s);
    let url = format!("{}/_sandbox/deliveries", s.url);
    assert_eq!(c.http.get(&url).send().await.unwrap().status(), 403);
    let ok = c
        .http
        .get(&url)
        .header("x-sandbox-token", "s3cret-token")
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    let bad = c
        .http
        .post(format!("{}/_sandbox/clock/advance", s.url))
        .header("x-sandbox-token", "s3cret-token")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);

    let s = Sandbox::start(&[]);
    let c = Client::new(&s);
    let r = c.call("pay", &pay_body("same-id", "1000", None)).await;
    c.control("reset", Some(json!({}))).await;
    assert_eq!(
        code(&inquiry(&c, r["paymentId"].as_str().unwrap()).await),
        ("ORDER_NOT_EXIST", "F")
    );
}

#[test]
fn bad_merchant_flag_exits_2() {
    let stderr = sandbox_exits_2(&["--listen", "127.0.0.1:0", "--merchant", "NOEQUALS"]);
    assert!(stderr.contains("expected CLIENT_ID=PUBLIC_KEY_FILE"));
    sandbox_exits_2(&["--listen", "not-an-address"]);
}

#[test]
fn official_python_sdk_interop() {
    let root = env!("CARGO_MANIFEST_DIR");
    let python = venv_python(
        ".venv-sdk",
        &format!(
            "the official Python SDK is not installed: run `python3 -m venv .venv-sdk && \
             .venv-sdk/bin/pip install global-alipay-sdk-python==1.0.1 'cryptography<45'` \
             (or scripts/sdk-venv.sh) in {root}"
        ),
    );
    let s = Sandbox::start(&[]);
    let out = sdk_script(&python, "sdk_interop.py", &s.url, None);
    assert_sdk_script_ok(&out, "SDK interop", "sdk interop ok");
}

#[tokio::test]
async fn delay_fault_holds_sends_back() {
    let (_s, c, b, rx) = sandbox_and_receiver().await;
    c.control("faults", Some(json!({"delay_ms": 1500}))).await;
    let body = manual(pay_body(&uid("delay"), "1000", Some(&rx.url)));
    let pid = paid(&c, &b, body, VISA_OK).await;
    let list = c.control("deliveries", None).await;
    let d = &list["deliveries"][0];
    assert!(d["state"] == "pending" || d["state"] == "in_flight", "{d}");
    assert_eq!(d["attempts"].as_array().unwrap().len(), 0);
    assert!(rx.of(&pid, "PAYMENT_RESULT").is_empty());
    rx.wait(1, |r| r.body["paymentId"] == pid.as_str()).await;
}

#[test]
fn startup_banner() {
    let mut child = apoflow_cmd(
        &std::env::temp_dir(),
        &[
            "sandbox",
            "--listen",
            "127.0.0.1:0",
            "--control-token",
            "tok-123456",
        ],
    )
    .stdout(std::process::Stdio::piped())
    .spawn()
    .unwrap();
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut banner = String::new();
    for _ in 0..7 {
        std::io::BufRead::read_line(&mut out, &mut banner).unwrap();
    }
    let _ = child.kill();
    let _ = child.wait();
    insta::with_settings!({filters => vec![
        (r"127\.0\.0\.1:\d+", "127.0.0.1:[PORT]"),
        (env!("CARGO_MANIFEST_DIR"), "[REPO]"),
        (r"/[^ ]*/apoflow-merchant-\d+-\d+", "[KEYS]"),
    ]}, {
        insta::assert_snapshot!("sandbox_banner", banner);
    });
}
