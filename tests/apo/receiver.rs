//! The notification receiver over real HTTP: signature verdicts and each acknowledgement.

use std::time::Duration;

use apoflow::apo::notify::{Forge, is_acknowledged, signed_headers};
use apoflow::receiver::{Ack, Notification, ReceiverConfig, ReceiverHandle, SignatureVerdict};
use serde_json::json;

use crate::local::apo_keys;

const SUCCESS: &str =
    r#"{"result":{"resultCode":"SUCCESS","resultStatus":"S","resultMessage":"success"}}"#;

async fn receiver(claim_grace: Duration) -> (ReceiverHandle, apoflow::receiver::Inbox) {
    let (_, apo_public) = apo_keys();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let config = ReceiverConfig {
        claim_grace,
        no_answer_hold: Duration::from_secs(30),
        ..ReceiverConfig::new(apo_public)
    };
    apoflow::receiver::start(listener, config).unwrap()
}

fn body(payment_id: &str) -> String {
    json!({"notifyType": "PAYMENT_RESULT", "paymentId": payment_id,
           "result": {"resultCode": "SUCCESS", "resultStatus": "S", "resultMessage": "success."}})
    .to_string()
}

/// Posts a notification signed with `key` (APO's key unless a test forges it).
async fn post(
    handle: &ReceiverHandle,
    path: &str,
    body: String,
    key: Option<&apoflow::apo::keys::PrivateKey>,
    timeout: Duration,
) -> Result<(u16, String), reqwest::Error> {
    let time = "2025-03-17T02:22:52Z";
    let url = handle
        .local_url()
        .join(path.trim_start_matches('/'))
        .unwrap();
    let mut request = reqwest::Client::new().post(url.clone()).timeout(timeout);
    match key {
        // The sandbox's way of signing a notification, checked by the receiver.
        Some(key) => {
            for (name, value) in
                signed_headers(key, &url, "SANDBOX_APOFLOW_MERCHANT", time, body.as_bytes())
            {
                request = request.header(name, value);
            }
        }
        None => {
            request = request
                .header("client-id", "SANDBOX_APOFLOW_MERCHANT")
                .header("request-time", time);
        }
    }
    let response = request.body(body).send().await?;
    let status = response.status().as_u16();
    Ok((status, response.text().await?))
}

fn for_payment(id: &'static str) -> impl Fn(&Notification) -> bool {
    move |n| n.json.as_ref().and_then(|j| j["paymentId"].as_str()) == Some(id)
}

#[tokio::test]
async fn a_signed_notification_is_kept_verified_and_acknowledged_as_the_waiter_says() {
    let (handle, inbox) = receiver(Duration::from_secs(30)).await;
    let (apo_private, _) = apo_keys();
    let waiter = {
        let inbox = inbox.clone();
        tokio::spawn(async move {
            inbox
                .claim(for_payment("p-1"), Ack::Fail, Duration::from_secs(30))
                .await
        })
    };
    let (status, text) = post(
        &handle,
        "/notify/flow-1?x=1",
        body("p-1"),
        Some(&apo_private),
        Duration::from_secs(30),
    )
    .await
    .unwrap();
    assert_eq!(status, 500);
    assert!(!is_acknowledged(status, text.as_bytes()));
    assert_eq!(
        text,
        r#"{"result":{"resultCode":"PROCESS_FAIL","resultStatus":"F","resultMessage":"fail"}}"#
    );
    let got = waiter.await.unwrap().unwrap();
    assert_eq!(got.signature, SignatureVerdict::Valid);
    assert_eq!(got.path, "/notify/flow-1?x=1");
    assert_eq!(got.notify_type(), Some("PAYMENT_RESULT"));
    assert_eq!(got.ack, Some(Ack::Fail));

    // The resend: this time the fixed success answer, and the count shows two deliveries.
    let waiter = {
        let inbox = inbox.clone();
        tokio::spawn(async move {
            inbox
                .wait(for_payment("p-1"), Duration::from_secs(30))
                .await
        })
    };
    let (status, text) = post(
        &handle,
        "/notify/flow-1?x=1",
        body("p-1"),
        Some(&apo_private),
        Duration::from_secs(30),
    )
    .await
    .unwrap();
    assert_eq!((status, text.as_str()), (200, SUCCESS));
    assert!(is_acknowledged(status, text.as_bytes()));
    assert_eq!(waiter.await.unwrap().unwrap().seq, 2);
    assert_eq!(inbox.count(for_payment("p-1")), 2);
}

/// Posts a notification forged as `forge` says, signed with APO's own key where it signs.
async fn post_forged(handle: &ReceiverHandle, forge: Forge, body: String) -> (u16, String) {
    let (apo_private, _) = apo_keys();
    let url = handle.local_url().join("n?x=1").unwrap();
    let (headers, sent) = forge
        .request(
            &apo_private,
            &url,
            "SANDBOX_APOFLOW_MERCHANT",
            "2025-03-17T02:22:52Z",
            body.as_bytes(),
        )
        .unwrap();
    let mut request = reqwest::Client::new()
        .post(url)
        .timeout(Duration::from_secs(30));
    for (name, value) in headers {
        request = request.header(name, value);
    }
    let response = request.body(sent).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

#[tokio::test]
async fn forged_notifications_are_never_acknowledged() {
    let (handle, inbox) = receiver(Duration::ZERO).await;
    let forged = [
        Forge::Unsigned,
        Forge::WrongKey,
        Forge::Tampered,
        Forge::OtherPath,
    ];
    for forge in forged {
        // Unclaimed within the grace: the fallback would be the success answer, but not for a
        // forgery.
        let (status, text) = post_forged(&handle, forge, body(forge.name())).await;
        assert!(
            !is_acknowledged(status, text.as_bytes()),
            "{}",
            forge.name()
        );
        assert_eq!(status, 500, "{}: {text}", forge.name());
    }
    // The genuine one is acknowledged.
    let (status, text) = post_forged(&handle, Forge::None, body("genuine")).await;
    assert_eq!((status, text.as_str()), (200, SUCCESS));
    let all = inbox.all();
    for (n, forge) in all.iter().zip(forged) {
        assert!(!n.signature.is_valid(), "{}", forge.name());
        assert_eq!(n.ack, Some(Ack::Fail), "{}", forge.name());
    }
    assert!(matches!(
        all[0].signature,
        SignatureVerdict::MissingHeader("signature")
    ));
    assert_eq!(all[4].ack, Some(Ack::Success));
    // A late waiter still finds one and learns how it was answered.
    let late = inbox
        .claim(for_payment("wrong_key"), Ack::Success, Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(late.ack, Some(Ack::Fail));
}

#[tokio::test]
async fn a_waiter_asking_success_for_a_forged_notification_gives_fail() {
    let (handle, inbox) = receiver(Duration::from_secs(30)).await;
    let waiter = {
        let inbox = inbox.clone();
        tokio::spawn(async move {
            inbox
                .claim(
                    for_payment("tampered"),
                    Ack::Success,
                    Duration::from_secs(30),
                )
                .await
        })
    };
    let (status, text) = post_forged(&handle, Forge::Tampered, body("tampered")).await;
    assert!(!is_acknowledged(status, text.as_bytes()), "{status} {text}");
    let claimed = waiter.await.unwrap().unwrap();
    assert_eq!(claimed.ack, Some(Ack::Fail));
    assert!(matches!(claimed.signature, SignatureVerdict::Invalid(_)));
}

#[tokio::test]
async fn wrong_format_and_no_answer() {
    let (handle, inbox) = receiver(Duration::from_secs(30)).await;
    let (apo_private, _) = apo_keys();
    let waiter = {
        let inbox = inbox.clone();
        tokio::spawn(async move {
            inbox
                .claim(for_payment("w"), Ack::WrongFormat, Duration::from_secs(30))
                .await
        })
    };
    let (status, text) = post(
        &handle,
        "/n",
        body("w"),
        Some(&apo_private),
        Duration::from_secs(30),
    )
    .await
    .unwrap();
    assert_eq!((status, text.as_str()), (200, "success"));
    assert!(!is_acknowledged(status, text.as_bytes()));
    waiter.await.unwrap().unwrap();

    let waiter = {
        let inbox = inbox.clone();
        tokio::spawn(async move {
            inbox
                .claim(
                    for_payment("silent"),
                    Ack::NoAnswer,
                    Duration::from_secs(30),
                )
                .await
        })
    };
    let err = post(
        &handle,
        "/n",
        body("silent"),
        Some(&apo_private),
        Duration::from_millis(300),
    )
    .await
    .unwrap_err();
    assert!(err.is_timeout(), "{err}");
    assert_eq!(waiter.await.unwrap().unwrap().ack, Some(Ack::NoAnswer));
}

#[tokio::test]
async fn the_public_url_is_what_apo_is_given_and_other_methods_are_refused() {
    let (_, apo_public) = apo_keys();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let config = ReceiverConfig {
        public_url: Some(url::Url::parse("https://tunnel.example/hook/").unwrap()),
        ..ReceiverConfig::new(apo_public)
    };
    let (handle, inbox) = apoflow::receiver::start(listener, config).unwrap();
    assert_eq!(handle.url().as_str(), "https://tunnel.example/hook/");
    assert!(handle.local_url().as_str().starts_with("http://127.0.0.1:"));
    let status = reqwest::get(handle.local_url().clone())
        .await
        .unwrap()
        .status();
    assert_eq!(status, 405);
    assert!(inbox.all().is_empty());
}
