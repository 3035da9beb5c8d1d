//! The merchant under test, seen from the sandbox: the request journal (`/_sandbox/calls`),
//! the delivery journal with the merchant's answers and resends, faults scoped to a payment,
//! the default notify URL and the health route.

use serde_json::{Value, json};

use super::local::*;
use super::support::Sandbox;
use super::{VISA_OK, code, paid};

/// `GET /_sandbox/{path}` with its status and raw text.
async fn get(c: &Client, path: &str) -> (u16, String) {
    let r = c
        .http
        .get(format!("{}/_sandbox/{path}", c.base))
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

fn calls(v: &Value) -> Vec<Value> {
    v["calls"].as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn the_journal_records_every_call_with_its_verdict_and_answer() {
    let s = Sandbox::start(&[]);
    let c = Client::new(&s);
    let path = "/ams/sandbox/api/v1/payments/pay";

    // Arrange: one good pay, then the failures a merchant's server can produce.
    let rid = uid("journal");
    let good = c.call("pay", &pay_body(&rid, "1000", None)).await;
    let body = serde_json::to_vec(&pay_body(&uid("j"), "1000", None)).unwrap();
    let mut tampered = body.clone();
    tampered.push(b' ');
    c.send_unsigned_answer(path, &c.signed(path, &body), tampered)
        .await;
    let mut unsigned = c.signed(path, &body);
    unsigned.retain(|(k, _)| *k != "signature");
    c.send_unsigned_answer(path, &unsigned, body.clone()).await;
    let stranger = Client {
        client_id: "SANDBOX_NOBODY".to_owned(),
        ..Client::new(&s)
    };
    stranger
        .send(path, &stranger.signed(path, &body), body.clone())
        .await;
    let not_json = b"{\"paymentRequestId\": ".to_vec();
    c.send(path, &c.signed(path, &not_json), not_json.clone())
        .await;
    let bogus = "/ams/sandbox/api/v1/payments/bogus";
    c.send(bogus, &c.signed(bogus, b"{}"), b"{}".to_vec()).await;
    // Card data sent by mistake must not come back out of the control API.
    let mut leaky = pay_body(&uid("leak"), "1000", None);
    leaky["paymentMethod"]["card"] = json!({"cardNo": VISA_OK, "cvv": "987"});
    c.call("pay", &leaky).await;

    // Act
    let all = c.control("calls", None).await;

    // Assert
    let list = calls(&all);
    assert_eq!(all["dropped"], 0);
    let seen: Vec<(&str, &str, &str)> = list
        .iter()
        .map(|e| {
            (
                e["api"].as_str().unwrap(),
                e["signature"].as_str().unwrap(),
                e["resultCode"].as_str().unwrap_or("-"),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("pay", "valid", "PAYMENT_IN_PROCESS"),
            ("pay", "invalid", "INVALID_SIGNATURE"),
            ("pay", "missing", "INVALID_SIGNATURE"),
            ("pay", "unknown_client", "UNKNOWN_CLIENT"),
            ("pay", "valid", "PARAM_ILLEGAL"),
            ("unknown", "valid", "NO_INTERFACE_DEF"),
            ("pay", "valid", "PAYMENT_IN_PROCESS"),
        ]
    );
    let first = &list[0];
    assert_eq!(first["clientId"], CLIENT_ID);
    assert_eq!(first["path"], path);
    assert_eq!(first["requestTime"], "2026-11-25T10:00:00+00:00");
    assert_eq!(first["headers"]["client-id"], CLIENT_ID);
    assert_eq!(first["json"]["paymentRequestId"], rid.as_str());
    assert_eq!(first["paymentRequestId"], rid.as_str());
    assert_eq!(first["paymentId"], good["paymentId"]);
    assert_eq!(first["response"]["paymentId"], good["paymentId"]);
    assert_eq!(first["resultStatus"], "U");
    assert!(first["at"].as_str().unwrap().ends_with("+00:00"));
    let seqs: Vec<u64> = list.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    assert_eq!(list[4]["json"], Value::Null);
    assert_eq!(list[4]["body"], "{\"paymentRequestId\": ");
    let text = all.to_string();
    assert!(!text.contains(VISA_OK), "a card number leaked: {text}");
    // Quoted, as the CVV was sent: random ids and signatures may hold the digits 987.
    for cvv in [r#""987""#, r#"\"987\""#] {
        assert!(!text.contains(cvv), "a CVV leaked: {text}");
    }

    // Filters combine with AND.
    let pid = good["paymentId"].as_str().unwrap();
    let only = c.control(&format!("calls?paymentId={pid}"), None).await;
    assert_eq!(calls(&only).len(), 1);
    let later = c
        .control(&format!("calls?api=pay&after={}", seqs[4]), None)
        .await;
    assert_eq!(calls(&later).len(), 1);
    let by_rid = c
        .control(
            &format!("calls?paymentRequestId={rid}&clientId={CLIENT_ID}"),
            None,
        )
        .await;
    assert_eq!(calls(&by_rid).len(), 1);
    let (status, text) = get(&c, "calls?after=soon").await;
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("after"), "{text}");
    let (status, text) = get(&c, "calls?apii=pay").await;
    assert_eq!(status, 400, "{text}");

    // Reset clears it.
    c.control("reset", Some(json!({}))).await;
    assert!(calls(&c.control("calls", None).await).is_empty());
}

#[tokio::test]
async fn deliveries_keep_the_merchants_answers_and_resend_repeats_the_bytes() {
    let (_s, c, b, rx) = sandbox_and_receiver().await;
    rx.set_ack(false);
    let rid = uid("deliv");
    let body = manual(pay_body(&rid, "1000", Some(&rx.url)));
    let pid = paid(&c, &b, body, VISA_OK).await;
    let list = c
        .deliveries_until(|d| d.first().is_some_and(|d| d["attempts"][0].is_object()))
        .await;

    let d = &list[0];
    assert_eq!(d["notifyType"], "PAYMENT_RESULT");
    assert_eq!(d["clientId"], CLIENT_ID);
    assert_eq!(d["paymentId"], pid.as_str());
    assert_eq!(d["paymentRequestId"], rid.as_str());
    assert_eq!(
        (d["state"].as_str(), d["done"].as_bool()),
        (Some("pending"), Some(false))
    );
    assert!(d["seq"].is_u64() && d["nextAttemptAt"].is_string(), "{d}");
    let a = &d["attempts"][0];
    assert_eq!(a["status"], 500);
    assert_eq!(a["answer"], "down");
    assert_eq!(a["acknowledged"], false);
    assert_eq!(a["error"], Value::Null);
    assert!(a["latencyMs"].is_u64(), "{a}");
    assert_eq!(a["outcome"], "HTTP 500, not the SUCCESS acknowledgement");

    // Resend: the same bytes, signed afresh, answered now.
    rx.set_ack(true);
    let id = d["id"].as_u64().unwrap();
    let attempt = c
        .control(&format!("deliveries/{id}/resend"), Some(json!({})))
        .await;
    assert_eq!(attempt["status"], 200, "{attempt}");
    assert_eq!(attempt["acknowledged"], true);
    assert_eq!(attempt["resend"], true);
    assert!(attempt["answer"].as_str().unwrap().contains("SUCCESS"));
    let got = rx.of(&pid, "PAYMENT_RESULT");
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].raw, got[1].raw, "a resend repeats the exact bytes");
    let apo = apoflow::apo::keys::PublicKey::from_text(include_str!(
        "../../fixtures/keys/sandbox-apo-public.pem"
    ))
    .unwrap();
    let h = |n: &str| got[1].headers[n].to_str().unwrap().to_owned();
    apoflow::apo::sign::verify(
        &apo,
        &apoflow::apo::sign::SignedParts::post(
            &got[1].path,
            &h("client-id"),
            &h("request-time"),
            &got[1].raw,
        ),
        &h("signature"),
    )
    .expect("the resend is signed");
    let after = c
        .control(&format!("deliveries?paymentId={pid}"), None)
        .await;
    assert_eq!(
        after["deliveries"][0]["attempts"].as_array().unwrap().len(),
        2
    );
    assert_eq!(after["dropped"], 0);
    assert!(after["faults"].is_object());

    // Filters, and the errors of resend.
    let none = c.control("deliveries?type=REFUND_RESULT", None).await;
    assert!(none["deliveries"].as_array().unwrap().is_empty());
    let seq = d["seq"].as_u64().unwrap();
    let later = c.control(&format!("deliveries?after={seq}"), None).await;
    assert!(later["deliveries"].as_array().unwrap().is_empty());
    let mine = c
        .control(
            &format!("deliveries?type=PAYMENT_RESULT&clientId={CLIENT_ID}"),
            None,
        )
        .await;
    assert_eq!(mine["deliveries"].as_array().unwrap().len(), 1);
    for (path, status) in [("deliveries/999/resend", 404), ("deliveries/x/resend", 400)] {
        let r = c
            .http
            .post(format!("{}/_sandbox/{path}", c.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), status, "{path}");
    }
}

#[tokio::test]
async fn faults_scoped_to_a_payment_leave_other_payments_alone() {
    let (_s, c, b, rx) = sandbox_and_receiver().await;
    let manual = |rid: &str| manual(pay_body(rid, "1000", Some(&rx.url)));
    let first = c.call("pay", &manual(&uid("a"))).await;
    let second = c.call("pay", &manual(&uid("b"))).await;
    let (pa, pb) = (
        first["paymentId"].as_str().unwrap(),
        second["paymentId"].as_str().unwrap(),
    );
    let answer = c
        .control("faults", Some(json!({"paymentId": pa, "drop_next": 1})))
        .await;
    assert_eq!(answer["paymentId"], pa);
    let faults = c.control("faults", None).await;
    assert_eq!(faults["drop_next"], 0);
    assert_eq!(faults["scoped"][0]["paymentId"], pa);
    assert_eq!(faults["scoped"][0]["drop_next"], 1);

    for r in [&first, &second] {
        let page = b
            .pay_with(r["normalUrl"].as_str().unwrap(), VISA_OK, false)
            .await;
        assert_eq!(page.status, 303);
    }
    rx.wait(1, |r| r.body["paymentId"] == pb).await;
    let list = c
        .deliveries_until(|d| d.len() == 2 && d.iter().all(|d| d["attempts"][0].is_object()))
        .await;
    let of = |pid: &str| list.iter().find(|d| d["paymentId"] == pid).unwrap().clone();
    assert_eq!(of(pa)["attempts"][0]["error"], "dropped");
    assert_eq!(of(pa)["state"], "pending");
    assert_eq!(of(pb)["state"], "delivered");
    assert!(rx.of(pa, "PAYMENT_RESULT").is_empty());

    // Posting the scope with no fault removes it.
    c.control("faults", Some(json!({"paymentId": pa}))).await;
    let faults = c.control("faults", None).await;
    assert!(faults["scoped"].as_array().unwrap().is_empty(), "{faults}");
}

#[tokio::test]
async fn the_default_notify_url_stands_in_for_the_dashboards() {
    let rx = Receiver::start().await;
    let flag = format!("{CLIENT_ID}={}", rx.url);
    let s = Sandbox::start(&["--notify-url", &flag]);
    let c = Client::new(&s);
    let b = Buyer::new(&s);
    let pid = paid(&c, &b, pay_body(&uid("dash"), "1000", None), VISA_OK).await;
    // AUTOMATIC capture: CAPTURE_RESULT goes to the same URL, in either order.
    let got = rx
        .wait(1, |r| {
            r.body["paymentId"] == pid.as_str() && r.body["notifyType"] == "PAYMENT_RESULT"
        })
        .await;
    assert_eq!(code(&got[0].body), ("SUCCESS", "S"));
}

#[tokio::test]
async fn a_refund_without_its_own_url_is_notified_at_the_dashboards_not_the_pays() {
    let dashboard = Receiver::start().await;
    let pay_url = Receiver::start().await;
    let flag = format!("{CLIENT_ID}={}", dashboard.url);
    let s = Sandbox::start(&["--notify-url", &flag]);
    let c = Client::new(&s);
    let b = Buyer::new(&s);
    let pid = paid(
        &c,
        &b,
        pay_body(&uid("rf"), "1000", Some(&pay_url.url)),
        VISA_OK,
    )
    .await;
    pay_url
        .wait(1, |r| r.body["notifyType"] == "CAPTURE_RESULT")
        .await;
    let refund = json!({"refundRequestId": uid("r"), "paymentId": pid,
                        "refundAmount": {"currency": "SGD", "value": "100"}});
    assert_eq!(code(&c.call("refund", &refund).await), ("SUCCESS", "S"));
    // refundNotifyUrl overrides the dashboard's URL (reference §7.1); the pay's is not used.
    let got = dashboard
        .wait(1, |r| r.body["notifyType"] == "REFUND_RESULT")
        .await;
    assert_eq!(got[0].body["paymentId"], pid.as_str());
    assert!(pay_url.of(&pid, "REFUND_RESULT").is_empty());
}

#[tokio::test]
async fn health_is_open_and_says_ok() {
    let s = Sandbox::start(&["--control-token", "tok-health-123"]);
    let c = Client::new(&s);
    let (status, text) = get(&c, "health").await;
    assert_eq!(
        (status, text.as_str()),
        (200, r#"{"ok":true,"payments":0,"paymentsEvicted":0}"#)
    );
    c.call("pay", &pay_body(&uid("h"), "100", None)).await;
    let (_, text) = get(&c, "health").await;
    assert_eq!(text, r#"{"ok":true,"payments":1,"paymentsEvicted":0}"#);
    // The rest of the control API still wants the token.
    assert_eq!(get(&c, "calls").await.0, 403);
}

#[test]
fn a_bad_notify_url_flag_exits_2() {
    let stderr = sandbox_exits_2(&["--listen", "127.0.0.1:0", "--notify-url", "NOURL"]);
    assert!(stderr.contains("expected CLIENT_ID=URL"));
}

/// `POST /_sandbox/notifications`: a replay (byte for byte) or a given body, signed as APO
/// does or forged each way; apoflow's own verifier (`apo::sign`) accepts exactly the genuine
/// and the stale ones. Each send is a new, finished delivery; the replayed one is untouched.
#[tokio::test]
async fn notifications_on_request_are_replayed_or_forged_and_journaled() {
    use apoflow::apo::notify::Forge;
    let (_s, c, b, rx) = sandbox_and_receiver().await;
    let rid = uid("forge");
    let body = manual(pay_body(&rid, "1000", Some(&rx.url)));
    let pid = paid(&c, &b, body, VISA_OK).await;
    let list = c
        .deliveries_until(|d| d.first().is_some_and(|d| d["done"] == true))
        .await;
    let original = &list[0];
    let id = original["id"].as_u64().unwrap();
    let apo = apoflow::apo::keys::PublicKey::from_text(include_str!(
        "../../fixtures/keys/sandbox-apo-public.pem"
    ))
    .unwrap();
    let first = rx.of(&pid, "PAYMENT_RESULT");
    assert_eq!(first.len(), 1);

    for (n, forge) in Forge::ALL.into_iter().enumerate() {
        let answer = c
            .control(
                "notifications",
                Some(json!({ "replay": id, "forge": forge.name() })),
            )
            .await;
        assert_eq!(answer["status"], 200, "{}: {answer}", forge.name());
        assert_eq!(answer["acknowledged"], true, "the fake merchant acks all");
        assert_eq!(answer["url"], original["url"]);
        assert!(answer["deliveryId"].as_u64().unwrap() > id);
        let got = rx.of(&pid, "PAYMENT_RESULT");
        assert_eq!(got.len(), n + 2, "{}", forge.name());
        let sent = got.last().unwrap();
        let h = |name: &str| sent.headers.get(name).and_then(|v| v.to_str().ok());
        let verified = h("signature").is_some_and(|sig| {
            apoflow::apo::sign::verify(
                &apo,
                &apoflow::apo::sign::SignedParts::post(
                    &sent.path,
                    h("client-id").unwrap_or_default(),
                    h("request-time").unwrap_or_default(),
                    &sent.raw,
                ),
                sig,
            )
            .is_ok()
        });
        assert_eq!(
            verified,
            matches!(forge, Forge::None | Forge::StaleTime),
            "{}",
            forge.name()
        );
        assert_eq!(
            sent.raw == first[0].raw,
            forge != Forge::Tampered,
            "a replay repeats the bytes ({})",
            forge.name()
        );
        if forge == Forge::StaleTime {
            let at: jiff::Timestamp = h("request-time").unwrap().parse().unwrap();
            let now: jiff::Timestamp = c.control("clock", None).await["now"]
                .as_str()
                .unwrap()
                .parse()
                .unwrap();
            assert!(now.duration_since(at).as_hours() >= 23, "{at} vs {now}");
        }
    }

    // A given body goes where the payment's notifications go, signed.
    let mut changed = original["body"].clone();
    changed["paymentAmount"]["value"] = json!("1");
    let answer = c
        .control("notifications", Some(json!({ "body": changed })))
        .await;
    assert_eq!(answer["acknowledged"], true, "{answer}");
    let sent = rx.of(&pid, "PAYMENT_RESULT").pop().unwrap();
    assert_eq!(sent.body["paymentAmount"]["value"], "1");

    // Each send is a finished delivery of its own; the original keeps its one attempt.
    let all = c
        .control(&format!("deliveries?paymentId={pid}"), None)
        .await;
    let all = all["deliveries"].as_array().unwrap();
    assert_eq!(all.len(), 1 + Forge::ALL.len() + 1);
    assert_eq!(all[0]["attempts"].as_array().unwrap().len(), 1);
    assert_eq!(all[0]["forge"], Value::Null);
    assert_eq!(
        (all[3]["forge"].as_str(), all[3]["replayOf"].as_u64()),
        (Some("wrong_key"), Some(id))
    );
    assert_eq!(all[3]["state"], "delivered");
    assert_eq!(
        (all[7]["forge"].as_str(), &all[7]["replayOf"]),
        (Some("none"), &Value::Null)
    );

    // Errors: 400 saying what is wrong, 404 for an unknown delivery.
    for (order, status, says) in [
        (
            json!({ "replay": id, "forge": "wrong-key" }),
            400,
            "wrong_key",
        ),
        (json!({ "replay": id, "body": {} }), 400, "exactly one"),
        (json!({}), 400, "exactly one"),
        (json!({ "replay": 999 }), 404, "no delivery 999"),
        (json!({ "body": [] }), 400, "JSON object"),
        (
            json!({ "body": { "notifyType": "PAYMENT_RESULT" } }),
            400,
            "clientId",
        ),
        (json!({ "replay": id, "url": "ftp://x" }), 400, "http(s)"),
        (
            json!({ "replay": id, "times": 2 }),
            400,
            "fields: url, replay, body, clientId, forge",
        ),
    ] {
        let r = c
            .http
            .post(format!("{}/_sandbox/notifications", c.base))
            .json(&order)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), status, "{order}");
        let text = r.text().await.unwrap();
        assert!(text.contains(says), "{order}: {text}");
    }
}
