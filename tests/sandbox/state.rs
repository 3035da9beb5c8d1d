//! `apoflow sandbox --state FILE`: a sandbox stopped with SIGTERM mid-run and started again on
//! the same file answers for its old payments, delivers what was pending and goes on numbering;
//! files it cannot use are refused with exit code 2.

use serde_json::{Value, json};

use super::local::*;
use super::support::{Sandbox, Scratch};
use super::{VISA_OK, code, inquiry, paid};

/// The sandbox on a free port keeping its state in `file`.
fn with_state(file: &std::path::Path) -> Sandbox {
    Sandbox::start(&["--state", file.to_str().unwrap()])
}

/// The journal's sequence numbers, oldest first.
async fn call_seqs(c: &Client) -> Vec<u64> {
    let calls = c.control("calls", None).await;
    calls["calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["seq"].as_u64().unwrap())
        .collect()
}

#[cfg(unix)]
#[tokio::test]
async fn a_sandbox_stopped_mid_run_resumes_from_its_state_file() {
    let dir = Scratch::new();
    let file = dir.path().join("sandbox.db");
    let rx = Receiver::start().await;
    // The merchant's endpoint answers errors: the notifications stay pending.
    rx.set_ack(false);

    let mut first = with_state(&file);
    let (c, b) = (Client::new(&first), Buyer::new(&first));
    let manual_id = uid("keep");
    let manual_pay = manual(pay_body(&manual_id, "1000", Some(&rx.url)));
    let held = paid(&c, &b, manual_pay.clone(), VISA_OK).await;
    let captured = paid(
        &c,
        &b,
        pay_body(&uid("auto"), "2500", Some(&rx.url)),
        VISA_OK,
    )
    .await;
    let refund_id = uid("refund");
    let refund = c
        .call(
            "refund",
            &json!({"refundRequestId": refund_id, "paymentId": captured,
                    "refundAmount": {"currency": "SGD", "value": "500"},
                    "refundNotifyUrl": rx.url}),
        )
        .await;
    assert_eq!(code(&refund), ("SUCCESS", "S"), "{refund}");
    // Each notification has had its first attempt, refused.
    rx.wait(1, |r| r.body["paymentId"] == held.as_str()).await;
    let before = c
        .deliveries_until(|l| {
            l.len() == 4
                && l.iter()
                    .all(|d| d["attempts"].as_array().unwrap().len() == 1)
        })
        .await;
    assert!(before.iter().all(|d| d["state"] == "pending"), "{before:?}");
    let held_before = inquiry(&c, &held).await;
    let captured_before = inquiry(&c, &captured).await;
    let seqs_before = call_seqs(&c).await;
    let status = first.terminate();
    assert!(status.success(), "SIGTERM: {status:?}");

    let second = with_state(&file);
    let c = Client::new(&second);
    let health = c.control("health", None).await;
    assert_eq!(health["state"]["persisted"], true, "{health}");
    assert_eq!(health["state"]["file"], file.to_str().unwrap());
    assert_eq!(
        (&health["payments"], &health["pendingDeliveries"]),
        (&json!(2), &json!(4)),
        "{health}"
    );
    // Inquiries for the old payments answer as before.
    assert_eq!(inquiry(&c, &held).await, held_before);
    assert_eq!(inquiry(&c, &captured).await, captured_before);
    let refund_inquiry = c
        .call("inquiryRefund", &json!({ "refundRequestId": refund_id }))
        .await;
    assert_eq!(
        refund_inquiry["refundStatus"], "SUCCESS",
        "{refund_inquiry}"
    );
    // Idempotency still holds: the same pay is the same payment; a changed one is refused.
    let again = c.call("pay", &manual_pay).await;
    assert_eq!(again["paymentId"], held.as_str(), "{again}");
    let mut changed = manual_pay.clone();
    changed["paymentAmount"]["value"] = json!("1001");
    changed["order"]["orderAmount"]["value"] = json!("1001");
    let refused = c.call("pay", &changed).await;
    assert_eq!(code(&refused), ("REPEAT_REQ_INCONSISTENT", "F"));
    // Journal numbers go on: the old entries are kept and the new ones come after them.
    let seqs = call_seqs(&c).await;
    assert_eq!(seqs[..seqs_before.len()], seqs_before[..]);
    assert!(
        seqs[seqs_before.len()..]
            .iter()
            .all(|s| s > seqs_before.last().unwrap())
    );

    // The merchant is up again; the retries go out on their schedule (2 minutes later).
    rx.set_ack(true);
    c.advance(120).await;
    let after = c
        .deliveries_until(|l| {
            l.iter()
                .filter(|d| d["id"].as_u64() <= before.last().unwrap()["id"].as_u64())
                .all(|d| d["state"] == "delivered")
        })
        .await;
    for d in &before {
        let now = after.iter().find(|a| a["id"] == d["id"]).unwrap();
        assert_eq!(now["attempts"].as_array().unwrap().len(), 2, "{now}");
        assert_eq!(now["seq"], d["seq"]);
    }
    let received = rx.of(&held, "PAYMENT_RESULT");
    assert_eq!(received.len(), 2, "one refused, one acknowledged");
    assert_eq!(
        received[0].raw, received[1].raw,
        "the same bytes are resent"
    );

    // New deliveries take new ids and sequence numbers.
    let b = Buyer::new(&second);
    let new = paid(&c, &b, pay_body(&uid("new"), "700", Some(&rx.url)), VISA_OK).await;
    let list = c
        .deliveries_until(|l| l.iter().any(|d| d["paymentId"] == new.as_str()))
        .await;
    let fresh = list
        .iter()
        .find(|d| d["paymentId"] == new.as_str())
        .unwrap();
    let old_max = |key: &str| before.iter().map(|d| d[key].as_u64().unwrap()).max();
    assert!(fresh["id"].as_u64() > old_max("id"), "{fresh}");
    assert!(fresh["seq"].as_u64() > old_max("seq"), "{fresh}");
}

#[tokio::test]
async fn a_reset_clears_the_state_file_too() {
    let dir = Scratch::new();
    let file = dir.path().join("sandbox.db");
    let mut first = with_state(&file);
    let c = Client::new(&first);
    let r = c.call("pay", &pay_body(&uid("gone"), "1000", None)).await;
    let pid = r["paymentId"].as_str().unwrap().to_owned();
    c.control("reset", Some(json!({}))).await;
    first.terminate();
    let second = with_state(&file);
    let c = Client::new(&second);
    let health = c.control("health", None).await;
    assert_eq!(
        (&health["payments"], &health["calls"]),
        (&json!(0), &json!(0))
    );
    assert_eq!(code(&inquiry(&c, &pid).await), ("ORDER_NOT_EXIST", "F"));
}

#[tokio::test]
async fn without_a_state_file_health_says_so() {
    let s = Sandbox::start(&[]);
    let health: Value = Client::new(&s).control("health", None).await;
    assert_eq!(health["state"], json!({"persisted": false, "file": null}));
}

/// `apoflow sandbox --state FILE` refuses `file`: its message, with the path replaced.
fn refused(file: &std::path::Path) -> String {
    sandbox_exits_2(&["--listen", "127.0.0.1:0", "--state", file.to_str().unwrap()])
        .replace(file.to_str().unwrap(), "[FILE]")
}

#[test]
fn unusable_state_files_are_refused_with_what_to_do() {
    let dir = Scratch::new();
    let text = dir.write("notes.txt", &"not a database at all\n".repeat(20));
    insta::assert_snapshot!("state_file_not_sqlite", refused(&text));

    let newer = dir.path().join("newer.db");
    let db = rusqlite::Connection::open(&newer).unwrap();
    db.pragma_update(None, "user_version", apoflow::sandbox::SCHEMA_VERSION + 1)
        .unwrap();
    drop(db);
    insta::assert_snapshot!("state_file_newer", refused(&newer));

    let used = dir.path().join("used.db");
    let _running = with_state(&used);
    insta::assert_snapshot!("state_file_in_use", refused(&used));

    insta::assert_snapshot!("state_file_is_a_folder", refused(dir.path()));
}
