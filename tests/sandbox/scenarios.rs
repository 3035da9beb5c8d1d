//! Error scenarios (`/_sandbox/scenarios`): forced result codes, answers held past the
//! client's time-out, dropped connections, `times`, scopes, and what each does to the state.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use super::local::*;
use super::support::Sandbox;
use super::{VISA_OK, code, inquiry, paid};

/// Adds a scenario; returns it as stored.
async fn force(c: &Client, scenario: Value) -> Value {
    let (status, body) = c
        .control_as(Method::POST, "scenarios", Some(scenario))
        .await;
    assert_eq!(status, 200, "{body}");
    body
}

/// The journaled calls of one API for one paymentRequestId.
async fn journaled(c: &Client, api: &str, payment_request_id: &str) -> Vec<Value> {
    let list = c
        .control(
            &format!("calls?api={api}&paymentRequestId={payment_request_id}"),
            None,
        )
        .await;
    list["calls"].as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn an_unknown_pay_result_still_creates_the_payment_and_a_retry_gets_the_real_answer() {
    let s = Sandbox::start(&[]);
    let c = Client::new(&s);
    let rid = uid("lost");
    force(
        &c,
        json!({"api": "pay", "clientId": CLIENT_ID, "requestId": rid, "times": 1,
               "result": "UNKNOWN_EXCEPTION"}),
    )
    .await;

    let first = c.call("pay", &pay_body(&rid, "4200", None)).await;
    let retry = c.call("pay", &pay_body(&rid, "4200", None)).await;

    assert_eq!(
        first,
        json!({"result": {"resultCode": "UNKNOWN_EXCEPTION",
        "resultStatus": "U",
        "resultMessage": "An API call has failed, which is caused by unknown reasons. Call again."}})
    );
    assert_eq!(code(&retry), ("PAYMENT_IN_PROCESS", "U"));
    assert!(retry["normalUrl"].is_string(), "{retry}");
    let found = c
        .call("inquiryPayment", &json!({"paymentRequestId": rid}))
        .await;
    assert_eq!(found["paymentId"], retry["paymentId"]);
    assert_eq!(found["paymentStatus"], "PROCESSING");
    // The journal shows which answer was forced, and by which scenario.
    let calls = journaled(&c, "pay", &rid).await;
    let forced: Vec<&Value> = calls.iter().map(|e| &e["forced"]).collect();
    assert_eq!(forced, [&json!(true), &json!(false)]);
    assert_eq!(calls[0]["resultCode"], "UNKNOWN_EXCEPTION");
    assert_eq!(
        calls[0]["scenario"],
        json!({"id": 1, "result": "UNKNOWN_EXCEPTION", "delayMs": 0, "drop": false})
    );
    // Used up, so gone.
    let list = c.control("scenarios", None).await;
    assert_eq!(list, json!({"scenarios": []}));
}

#[tokio::test]
async fn an_answer_held_past_the_clients_time_out_is_a_time_out_but_the_payment_exists() {
    let s = Sandbox::start(&[]);
    let impatient = Client {
        http: reqwest::Client::builder()
            .timeout(Duration::from_millis(300))
            .build()
            .unwrap(),
        ..Client::new(&s)
    };
    let c = Client::new(&s);
    let rid = uid("slow");
    force(
        &c,
        json!({"api": "pay", "requestId": rid, "times": 1, "delayMs": 2000}),
    )
    .await;

    let err = impatient
        .try_call("pay", &pay_body(&rid, "4200", None))
        .await
        .unwrap_err();

    assert!(err.is_timeout(), "{err:?}");
    let found = c
        .call("inquiryPayment", &json!({"paymentRequestId": rid}))
        .await;
    assert_eq!(code(&found), ("SUCCESS", "S"));
    let calls = journaled(&c, "pay", &rid).await;
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0]["resultCode"], "PAYMENT_IN_PROCESS");
    assert_eq!(calls[0]["scenario"]["delayMs"], 2000);
}

#[tokio::test]
async fn a_dropped_connection_gets_no_answer() {
    let s = Sandbox::start(&[]);
    let c = Client::new(&s);
    let rid = uid("drop");
    force(&c, json!({"api": "pay", "requestId": rid, "drop": true})).await;

    let err = c
        .try_call("pay", &pay_body(&rid, "4200", None))
        .await
        .unwrap_err();

    assert!(!err.is_timeout() && err.is_request(), "{err:?}");
    let calls = journaled(&c, "pay", &rid).await;
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0]["scenario"]["drop"], true);
    // Until cleared: the next pay of that id is dropped too; cleared, it is answered.
    assert!(
        c.try_call("pay", &pay_body(&rid, "4200", None))
            .await
            .is_err()
    );
    let (status, cleared) = c.control_as(Method::DELETE, "scenarios", None).await;
    assert_eq!((status, cleared), (200, json!({"cleared": 1})));
    let r = c.call("pay", &pay_body(&rid, "4200", None)).await;
    assert_eq!(code(&r), ("PAYMENT_IN_PROCESS", "U"));
}

#[tokio::test]
async fn times_counts_the_matching_calls_and_scopes_keep_other_calls_out() {
    let s = Sandbox::start(&[]);
    let c = Client::new(&s);
    let b = Buyer::new(&s);
    let mine = paid(&c, &b, manual(pay_body(&uid("a"), "1000", None)), VISA_OK).await;
    let other = paid(&c, &b, manual(pay_body(&uid("b"), "1000", None)), VISA_OK).await;
    force(
        &c,
        json!({"api": "inquiry", "paymentId": mine, "times": 2, "result": "SYSTEM_ERROR"}),
    )
    .await;
    force(
        &c,
        json!({"api": "inquiry", "clientId": "SANDBOX_SOMEONE_ELSE", "result": "SYSTEM_ERROR"}),
    )
    .await;

    let other_answer = inquiry(&c, &other).await;
    let mine_answers = [
        inquiry(&c, &mine).await,
        inquiry(&c, &mine).await,
        inquiry(&c, &mine).await,
    ];

    assert_eq!(code(&other_answer), ("SUCCESS", "S"));
    let codes: Vec<(&str, &str)> = mine_answers.iter().map(code).collect();
    assert_eq!(
        codes,
        [
            ("SYSTEM_ERROR", "F"),
            ("SYSTEM_ERROR", "F"),
            ("SUCCESS", "S")
        ]
    );
    assert_eq!(
        mine_answers[0]["result"]["resultMessage"],
        "A system error occurred. Do not retry."
    );
    // Only the other client's scenario is left; a reset clears it too.
    let list = c.control("scenarios", None).await;
    assert_eq!(list["scenarios"].as_array().map(Vec::len), Some(1));
    assert_eq!(list["scenarios"][0]["clientId"], "SANDBOX_SOMEONE_ELSE");
    c.control("reset", Some(json!({}))).await;
    assert_eq!(c.control("scenarios", None).await, json!({"scenarios": []}));
}

#[tokio::test]
async fn a_refused_call_changes_nothing() {
    let s = Sandbox::start(&[]);
    let c = Client::new(&s);
    let rid = uid("busy");
    force(
        &c,
        json!({"api": "pay", "requestId": rid, "times": 1, "result": "REQUEST_TRAFFIC_EXCEED_LIMIT"}),
    )
    .await;

    let refused = c.call("pay", &pay_body(&rid, "4200", None)).await;
    let found = c
        .call("inquiryPayment", &json!({"paymentRequestId": rid}))
        .await;

    assert_eq!(code(&refused), ("REQUEST_TRAFFIC_EXCEED_LIMIT", "U"));
    assert_eq!(code(&found), ("ORDER_NOT_EXIST", "F"));
}

#[tokio::test]
async fn an_unknown_code_or_field_is_a_400_naming_the_valid_ones() {
    let s = Sandbox::start(&[]);
    let c = Client::new(&s);

    let (status, body) = c
        .control_as(
            Method::POST,
            "scenarios",
            Some(json!({"api": "capture", "result": "REFUND_IN_PROCESS"})),
        )
        .await;
    let (field_status, field) = c
        .control_as(
            Method::POST,
            "scenarios",
            Some(json!({"api": "pay", "drop": true, "delay": 5})),
        )
        .await;
    let (gone, _) = c.control_as(Method::DELETE, "scenarios/9", None).await;

    assert_eq!(status, 400);
    let message = body["error"].as_str().unwrap();
    assert!(
        message.contains("not a documented result code of capture")
            && message.contains("CAPTURE_IN_PROCESS")
            && message.contains("UNKNOWN_EXCEPTION"),
        "{message}"
    );
    assert_eq!(field_status, 400);
    assert!(
        field["error"].as_str().unwrap().contains("delayMs"),
        "{field}"
    );
    assert_eq!(gone, 404);
}

#[tokio::test]
async fn a_capture_in_process_is_settled_by_its_notification() {
    let s = Sandbox::start(&[]);
    let c = Client::new(&s);
    let b = Buyer::new(&s);
    let r = Receiver::start().await;
    let pid = paid(
        &c,
        &b,
        manual(pay_body(&uid("cap"), "1000", Some(&r.url))),
        VISA_OK,
    )
    .await;
    force(
        &c,
        json!({"api": "capture", "paymentId": pid, "times": 1, "result": "CAPTURE_IN_PROCESS"}),
    )
    .await;
    let capture = json!({"captureRequestId": uid("c"), "paymentId": pid,
                         "captureAmount": {"currency": "SGD", "value": "1000"}});

    let answer = c.call("capture", &capture).await;
    let settled = r
        .wait(1, |n| n.body["notifyType"] == "CAPTURE_RESULT")
        .await;
    let retry = c.call("capture", &capture).await;

    assert_eq!(code(&answer), ("CAPTURE_IN_PROCESS", "U"));
    assert_eq!(answer["captureId"], Value::Null);
    assert_eq!(answer["paymentId"], pid);
    assert_eq!(settled[0].body["result"]["resultStatus"], "S");
    assert_eq!(code(&retry), ("SUCCESS", "S"));
    assert_eq!(retry["captureId"], settled[0].body["captureId"]);
    let txns = inquiry(&c, &pid).await["transactions"].clone();
    assert_eq!(txns.as_array().map(Vec::len), Some(1), "{txns}");
}

#[tokio::test]
async fn a_forced_pay_success_really_authorizes_and_notifies() {
    let s = Sandbox::start(&[]);
    let c = Client::new(&s);
    let r = Receiver::start().await;
    let rid = uid("sync");
    force(
        &c,
        json!({"api": "pay", "requestId": rid, "times": 1, "result": "SUCCESS"}),
    )
    .await;

    let answer = c.call("pay", &pay_body(&rid, "4200", Some(&r.url))).await;
    let pid = answer["paymentId"].as_str().unwrap_or_default().to_owned();
    let notified = r.wait(2, |n| n.body["paymentId"] == pid.as_str()).await;

    assert_eq!(code(&answer), ("SUCCESS", "S"));
    assert_eq!(answer["normalUrl"], Value::Null);
    // Both are due at once and sent concurrently: their arrival order is not part of the
    // contract (APO does not promise one either).
    let mut types: Vec<&str> = notified
        .iter()
        .filter_map(|n| n.body["notifyType"].as_str())
        .collect();
    types.sort_unstable();
    assert_eq!(types, ["CAPTURE_RESULT", "PAYMENT_RESULT"]);
    assert_eq!(inquiry(&c, &pid).await["paymentStatus"], "SUCCESS");
}

/// The keys of an answer, sorted.
fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default();
    k.sort();
    k
}

#[tokio::test]
async fn a_forced_in_process_answer_has_the_shape_of_a_real_one() {
    let s = Sandbox::start(&[]);
    let c = Client::new(&s);
    let b = Buyer::new(&s);
    let pid = paid(&c, &b, manual(pay_body(&uid("cap"), "2000", None)), VISA_OK).await;
    // (api, id field, amount field, a magic amount that settles later for real, an amount
    // forced in process, the code). The capture comes first: the refunds need what it captured.
    let cases = [
        (
            "capture",
            "captureRequestId",
            "captureAmount",
            "21",
            "1000",
            "CAPTURE_IN_PROCESS",
        ),
        (
            "refund",
            "refundRequestId",
            "refundAmount",
            "31",
            "500",
            "REFUND_IN_PROCESS",
        ),
    ];
    for (api, id, amount, magic, other, in_process) in cases {
        let call = |value: &str| {
            let money = json!({"currency": "SGD", "value": value});
            json!({id: uid(api), "paymentId": pid, amount: money})
        };
        let real = c.call(api, &call(magic)).await;
        force(
            &c,
            json!({"api": api, "paymentId": pid, "times": 1, "result": in_process}),
        )
        .await;
        let forced = c.call(api, &call(other)).await;
        assert_eq!(code(&real), (in_process, "U"), "{real}");
        assert_eq!(code(&forced), (in_process, "U"), "{forced}");
        assert_eq!(keys(&forced), keys(&real), "{forced}\n{real}");
    }
}
