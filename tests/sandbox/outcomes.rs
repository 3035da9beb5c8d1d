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
