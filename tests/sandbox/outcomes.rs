//! Outcomes APO produces that the sandbox reproduces (issue 11, items 2 and 3): unsupported
//! currencies and settlement contracts, the cancel and refund windows, the 7-day automatic
//! cancel, PENDING payments, and failing or slow captures and refunds.

use serde_json::{Value, json};

use super::local::*;
use super::support::Sandbox;

fn result_code(v: &Value) -> (&str, &str) {
    (
        v["result"]["resultCode"].as_str().unwrap_or_default(),
        v["result"]["resultStatus"].as_str().unwrap_or_default(),
    )
}

/// pay then the buyer pays with visa_success; returns the paymentId.
async fn paid(c: &Client, b: &Buyer, body: Value) -> String {
    let r = c.call("pay", &body).await;
    assert_eq!(result_code(&r), ("PAYMENT_IN_PROCESS", "U"), "{r}");
    let page = b
        .pay_with(r["normalUrl"].as_str().unwrap(), "4054695723100768", false)
        .await;
    assert_eq!(page.status, 303, "{}", page.html);
    r["paymentId"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn unsupported_currencies_and_settlement_contracts_are_refused() {
    let s = Sandbox::start(&[]);
    let c = Client::new(&s);
    let mut body = pay_body(&uid("p"), "100", None);
    body["paymentAmount"]["currency"] = json!("ZWL");
    body["order"]["orderAmount"]["currency"] = json!("ZWL");
    let r = c.call("pay", &body).await;
    assert_eq!(result_code(&r), ("CURRENCY_NOT_SUPPORT", "F"), "{r}");
    assert!(r.get("paymentId").is_none(), "{r}");

    let mut body = pay_body(&uid("p"), "100", None);
    body["settlementStrategy"] = json!({"settlementCurrency": "BRL"});
    let r = c.call("pay", &body).await;
    assert_eq!(result_code(&r), ("SETTLE_CONTRACT_NOT_MATCH", "F"), "{r}");
    body["settlementStrategy"] = json!({"settlementCurrency": "USD"});
    let r = c.call("pay", &body).await;
    assert_eq!(result_code(&r), ("PAYMENT_IN_PROCESS", "U"), "{r}");
}

#[tokio::test]
async fn an_uncaptured_authorization_is_cancelled_after_7_days() {
    let s = Sandbox::start(&[]);
    let c = Client::new(&s);
    let b = Buyer::new(&s);
    let pid = paid(&c, &b, manual(pay_body(&uid("m"), "1000", None))).await;
    c.advance(7 * 24 * 3600).await;
    let q = c.call("inquiryPayment", &json!({ "paymentId": pid })).await;
    assert_eq!(q["paymentStatus"], "CANCELLED", "{q}");
    assert_eq!(q["transactions"][0]["transactionType"], "CANCEL", "{q}");
    let cancel = c.call("cancel", &json!({ "paymentId": pid })).await;
    assert_eq!(
        result_code(&cancel),
        ("CANCEL_WINDOW_EXCEED", "F"),
        "{cancel}"
    );
    let capture = json!({"captureRequestId": uid("c"), "paymentId": pid,
                         "captureAmount": {"currency": "SGD", "value": "1"}});
    let r = c.call("capture", &capture).await;
    assert_eq!(result_code(&r), ("AUTH_EXPIRED", "F"), "{r}");
}

#[tokio::test]
async fn refunds_close_after_a_year() {
    let s = Sandbox::start(&[]);
    let c = Client::new(&s);
    let b = Buyer::new(&s);
    let pid = paid(&c, &b, pay_body(&uid("a"), "1000", None)).await;
    c.advance(365 * 24 * 3600).await;
    let refund = json!({"refundRequestId": uid("r"), "paymentId": pid,
                        "refundAmount": {"currency": "SGD", "value": "100"}});
    let r = c.call("refund", &refund).await;
    assert_eq!(result_code(&r), ("REFUND_WINDOW_EXCEED", "F"), "{r}");
}

#[tokio::test]
async fn a_pending_card_is_pending_with_a_payment_pending_notification() {
    let (_s, c, b, rx) = sandbox_and_receiver().await;
    let r = c
        .call("pay", &pay_body(&uid("p"), "1000", Some(&rx.url)))
        .await;
    let pid = r["paymentId"].as_str().unwrap().to_owned();
    let page = b
        .pay_with(r["normalUrl"].as_str().unwrap(), "4000000000007791", false)
        .await;
    assert_eq!(page.status, 303, "{}", page.html);
    let q = c.call("inquiryPayment", &json!({ "paymentId": pid })).await;
    assert_eq!(q["paymentStatus"], "PENDING", "{q}");
    let pending = rx
        .wait(1, |n| {
            n.body["paymentId"] == pid.as_str() && n.body["notifyType"] == "PAYMENT_PENDING"
        })
        .await;
    assert_eq!(result_code(&pending[0].body), ("SUCCESS", "S"));
    assert!(pending[0].body.get("paymentTime").is_none());
    c.advance(60).await;
    let done = rx
        .wait(1, |n| {
            n.body["paymentId"] == pid.as_str() && n.body["notifyType"] == "PAYMENT_RESULT"
        })
        .await;
    assert_eq!(result_code(&done[0].body), ("SUCCESS", "S"));
    let q = c.call("inquiryPayment", &json!({ "paymentId": pid })).await;
    assert_eq!(q["paymentStatus"], "SUCCESS", "{q}");
}

#[tokio::test]
async fn advancing_one_payments_time_settles_it_alone() {
    let (_s, c, b, rx) = sandbox_and_receiver().await;
    let mut slow = Vec::new();
    for _ in 0..2 {
        let pid = paid(&c, &b, manual(pay_body(&uid("m"), "1000", Some(&rx.url)))).await;
        let capture = json!({"captureRequestId": uid("c"), "paymentId": pid,
                             "captureAmount": {"currency": "SGD", "value": "22"}});
        let r = c.call("capture", &capture).await;
        assert_eq!(result_code(&r), ("CAPTURE_IN_PROCESS", "U"), "{r}");
        slow.push(pid);
    }
    let before = c.control("clock", None).await;
    let moved = c
        .control(
            "clock/advance",
            Some(json!({ "seconds": 60, "paymentId": slow[0] })),
        )
        .await;
    // The clock did not move on by the minute: only the payment is a minute older.
    let time = |v: &Value| {
        v["now"]
            .as_str()
            .unwrap()
            .parse::<jiff::Timestamp>()
            .unwrap()
    };
    let (before, after) = (time(&before), time(&moved));
    assert!(
        after < before + jiff::SignedDuration::from_secs(60),
        "{before} {after}"
    );
    let done = rx
        .wait(1, |n| n.body["notifyType"] == "CAPTURE_RESULT")
        .await;
    assert_eq!(done[0].body["paymentId"], slow[0].as_str());
    let status = |q: &Value| q["transactions"][0]["transactionStatus"].clone();
    let q = c
        .call("inquiryPayment", &json!({ "paymentId": slow[0] }))
        .await;
    assert_eq!(status(&q), "SUCCESS", "{q}");
    let q = c
        .call("inquiryPayment", &json!({ "paymentId": slow[1] }))
        .await;
    assert_eq!(
        status(&q),
        "PROCESSING",
        "the other payment's capture still waits: {q}"
    );

    let (code, body) = c
        .control_as(
            reqwest::Method::POST,
            "clock/advance",
            Some(json!({ "seconds": 60, "paymentId": "NOPE" })),
        )
        .await;
    assert_eq!(
        (code, body["error"].as_str()),
        (404, Some("no payment NOPE in this sandbox"))
    );
    let (code, _) = c
        .control_as(
            reqwest::Method::POST,
            "clock/advance",
            Some(json!({ "seconds": 60, "paymentId": 7 })),
        )
        .await;
    assert_eq!(code, 400);
}

#[tokio::test]
async fn a_capture_of_21_fails_later_and_one_of_22_succeeds_later() {
    let (_s, c, b, rx) = sandbox_and_receiver().await;
    let pid = paid(&c, &b, manual(pay_body(&uid("m"), "1000", Some(&rx.url)))).await;
    let capture = |rid: &str, v: &str| {
        json!({"captureRequestId": rid, "paymentId": pid,
                                             "captureAmount": {"currency": "SGD", "value": v}})
    };
    let (bad, slow) = (uid("c"), uid("c"));
    for (rid, v) in [(&bad, "21"), (&slow, "22")] {
        let r = c.call("capture", &capture(rid, v)).await;
        assert_eq!(result_code(&r), ("CAPTURE_IN_PROCESS", "U"), "{r}");
        assert!(
            r.get("captureId").is_none() && r.get("captureTime").is_none(),
            "{r}"
        );
    }
    let q = c.call("inquiryPayment", &json!({ "paymentId": pid })).await;
    assert_eq!(
        q["transactions"][0]["transactionStatus"], "PROCESSING",
        "{q}"
    );
    c.advance(60).await;
    let results = rx
        .wait(2, |n| {
            n.body["paymentId"] == pid.as_str() && n.body["notifyType"] == "CAPTURE_RESULT"
        })
        .await;
    let of = |rid: &str| {
        results
            .iter()
            .find(|n| n.body["captureRequestId"] == rid)
            .map(|n| n.body.clone())
            .unwrap()
    };
    let failed = of(&bad);
    assert_eq!(result_code(&failed), ("PROCESS_FAIL", "F"), "{failed}");
    assert!(failed.get("captureTime").is_none(), "{failed}");
    let done = of(&slow);
    assert_eq!(result_code(&done), ("SUCCESS", "S"), "{done}");
    for field in [
        "captureId",
        "captureTime",
        "acquirerInfo",
        "paymentResultInfo",
    ] {
        assert!(done.get(field).is_some(), "{field} missing: {done}");
    }
    // A retry with the same captureRequestId now gets the settled answer.
    let again = c.call("capture", &capture(&slow, "22")).await;
    assert_eq!(result_code(&again), ("SUCCESS", "S"), "{again}");
    let again = c.call("capture", &capture(&bad, "21")).await;
    assert_eq!(result_code(&again), ("PROCESS_FAIL", "F"), "{again}");
    let q = c.call("inquiryPayment", &json!({ "paymentId": pid })).await;
    let statuses: Vec<&str> = q["transactions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["transactionStatus"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["FAIL", "SUCCESS"], "{q}");
}

#[tokio::test]
async fn a_refund_of_31_fails_later_and_one_of_32_succeeds_later() {
    let (_s, c, b, rx) = sandbox_and_receiver().await;
    let pid = paid(&c, &b, pay_body(&uid("a"), "1000", Some(&rx.url))).await;
    let refund = |rid: &str, v: &str| {
        json!({"refundRequestId": rid, "paymentId": pid, "refundNotifyUrl": rx.url,
               "refundAmount": {"currency": "SGD", "value": v}})
    };
    let (bad, slow) = (uid("r"), uid("r"));
    for (rid, v) in [(&bad, "31"), (&slow, "32")] {
        let r = c.call("refund", &refund(rid, v)).await;
        assert_eq!(result_code(&r), ("REFUND_IN_PROCESS", "U"), "{r}");
        assert!(r.get("refundTime").is_none(), "{r}");
        let q = c
            .call("inquiryRefund", &json!({ "refundRequestId": rid }))
            .await;
        assert_eq!(result_code(&q), ("SUCCESS", "S"), "{q}");
        assert_eq!(q["refundStatus"], "PROCESSING", "{q}");
    }
    c.advance(60).await;
    let results = rx
        .wait(2, |n| {
            n.body["paymentId"] == pid.as_str() && n.body["notifyType"] == "REFUND_RESULT"
        })
        .await;
    let of = |rid: &str| {
        results
            .iter()
            .find(|n| n.body["refundRequestId"] == rid)
            .map(|n| n.body.clone())
            .unwrap()
    };
    let failed = of(&bad);
    assert_eq!(result_code(&failed), ("PROCESS_FAIL", "F"), "{failed}");
    assert_eq!(failed["refundStatus"], "FAIL");
    let done = of(&slow);
    assert_eq!(result_code(&done), ("SUCCESS", "S"), "{done}");
    assert_eq!(done["refundStatus"], "SUCCESS");
    assert!(done["refundTime"].is_string(), "{done}");
    for (rid, status) in [(&bad, "FAIL"), (&slow, "SUCCESS")] {
        let q = c
            .call("inquiryRefund", &json!({ "refundRequestId": rid }))
            .await;
        assert_eq!(q["refundStatus"], status, "{q}");
    }
    // The failed refund does not count: 1000 - 32 can still be refunded.
    let rest = c.call("refund", &refund(&uid("r"), "968")).await;
    assert_eq!(result_code(&rest), ("SUCCESS", "S"), "{rest}");
}

#[tokio::test]
async fn an_automatic_capture_uses_the_payment_request_id_and_every_card_payment_has_3ds_result() {
    let (_s, c, b, rx) = sandbox_and_receiver().await;
    let rid = uid("a");
    let pid = paid(&c, &b, pay_body(&rid, "1000", Some(&rx.url))).await;
    let capture = rx
        .wait(1, |n| {
            n.body["paymentId"] == pid.as_str() && n.body["notifyType"] == "CAPTURE_RESULT"
        })
        .await;
    assert_eq!(capture[0].body["captureRequestId"], rid.as_str());
    let q = c.call("inquiryPayment", &json!({ "paymentId": pid })).await;
    let txn = &q["transactions"][0];
    assert_eq!(txn["transactionRequestId"], rid.as_str(), "{q}");
    assert!(
        txn["acquirerInfo"]["acquirerTransactionId"].is_string(),
        "{q}"
    );
    // The guide's non-3DS inquiry sample.
    assert_eq!(q["acquirerInfo"]["acquirerResultCode"], "SUCCESS", "{q}");
    assert!(
        q["acquirerInfo"]["acquirerResultMessage"].is_string(),
        "{q}"
    );
    assert!(q["paymentRedirectUrl"].is_string(), "{q}");
    let info = &q["paymentResultInfo"];
    assert_eq!(info["paymentMethodRegion"], "GLOBAL", "{q}");
    assert_eq!(
        info["threeDSResult"],
        json!({"cavv": "", "challengeCancel": "", "eci": "", "threeDSOffered": false,
               "threeDStransactionStatusReason": ""}),
        "{q}"
    );
    for field in [
        "avsResultRaw",
        "cvvResultRaw",
        "cardCategory",
        "credentialTypeUsed",
        "paymentMethodRegion",
    ] {
        assert!(info.get(field).is_some(), "{field} missing: {q}");
    }
}

#[tokio::test]
async fn a_failed_pay_answers_with_result_only() {
    let s = Sandbox::start(&[]);
    let c = Client::new(&s);
    let body = pay_body(&uid("p"), "11", None);
    let r = c.call("pay", &body).await;
    assert_eq!(result_code(&r), ("RISK_REJECT", "F"), "{r}");
    assert_eq!(r.as_object().unwrap().len(), 1, "{r}");
    // A repeat gets the same answer.
    assert_eq!(c.call("pay", &body).await, r);
}

#[tokio::test]
async fn with_no_resends_an_unacknowledged_notification_is_sent_once() {
    let s = Sandbox::start(&["--no-resends"]);
    let (c, b) = (Client::new(&s), Buyer::new(&s));
    let rx = Receiver::start().await;
    rx.set_ack(false);
    let pid = paid(&c, &b, manual(pay_body(&uid("n"), "1000", Some(&rx.url)))).await;
    rx.wait(1, |n| n.body["paymentId"] == pid.as_str()).await;
    c.advance(2 * 24 * 3600).await;
    let list = c
        .deliveries_until(|l| {
            l.iter()
                .filter(|d| d["paymentId"] == pid.as_str())
                .all(|d| d["state"] == "failed")
        })
        .await;
    let mine: Vec<&Value> = list
        .iter()
        .filter(|d| d["paymentId"] == pid.as_str())
        .collect();
    assert_eq!(mine.len(), 1);
    assert_eq!(
        mine[0]["attempts"].as_array().unwrap().len(),
        1,
        "{}",
        mine[0]
    );
    assert_eq!(rx.of(&pid, "PAYMENT_RESULT").len(), 1);
}

#[tokio::test]
async fn a_payment_cancelled_before_the_buyer_paid_can_still_be_paid() {
    let (_s, c, b, rx) = sandbox_and_receiver().await;
    let r = c
        .call("pay", &manual(pay_body(&uid("x"), "1000", Some(&rx.url))))
        .await;
    let pid = r["paymentId"].as_str().unwrap().to_owned();
    let cancel = c.call("cancel", &json!({ "paymentId": pid })).await;
    assert_eq!(result_code(&cancel), ("SUCCESS", "S"), "{cancel}");
    let normal = r["normalUrl"].as_str().unwrap();
    // The page still offers the card form, and the buyer can pay.
    assert!(b.get(normal).await.html.contains("card_number"));
    let page = b.pay_with(normal, "4054695723100768", false).await;
    assert_eq!(page.status, 303, "{}", page.html);
    let q = c.call("inquiryPayment", &json!({ "paymentId": pid })).await;
    assert_eq!(q["paymentStatus"], "SUCCESS", "{q}");
    let n = rx.wait(1, |n| n.body["paymentId"] == pid.as_str()).await;
    assert_eq!(result_code(&n[0].body), ("SUCCESS", "S"));
    // Once the payment would have expired, a cancelled one is no longer payable.
    let r = c.call("pay", &pay_body(&uid("y"), "1000", None)).await;
    let pid = r["paymentId"].as_str().unwrap().to_owned();
    c.call("cancel", &json!({ "paymentId": pid })).await;
    c.advance(15 * 60).await;
    let page = b.get(r["normalUrl"].as_str().unwrap()).await;
    assert!(page.html.contains("Payment cancelled"), "{}", page.html);
    let q = c.call("inquiryPayment", &json!({ "paymentId": pid })).await;
    assert_eq!(q["paymentStatus"], "CANCELLED", "{q}");
}
