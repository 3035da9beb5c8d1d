//! The sandbox under attack (issue 12): connection limits and time-outs, its own control API
//! out of reach of notifications, control characters in URLs, the control token, and the
//! hosted page's security headers.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::time::Duration;

use serde_json::json;

use super::local::*;
use super::support::Sandbox;

fn result_code(v: &serde_json::Value) -> (&str, &str) {
    (
        v["result"]["resultCode"].as_str().unwrap_or_default(),
        v["result"]["resultStatus"].as_str().unwrap_or_default(),
    )
}

/// Reads until the server closes the connection (or errs); returns what arrived. The read
/// time-out only stops a test that would otherwise hang.
fn read_until_closed(mut stream: TcpStream) -> Vec<u8> {
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return got,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return got,
            Err(e) => panic!("the sandbox never closed the connection: {e}"),
        }
    }
}

#[tokio::test]
async fn r12_idle_connections_are_closed_and_the_sandbox_keeps_serving() {
    let s = Sandbox::start(&["--max-connections", "16", "--idle-timeout", "1"]);
    let addr = s.url.trim_start_matches("http://").to_owned();
    // Arrange: far more idle connections than the limit, one of them half-way through its
    // headers (a slow client).
    let mut idle: Vec<TcpStream> = (0..300)
        .map(|_| TcpStream::connect(&addr).expect("connect"))
        .collect();
    idle[0]
        .write_all(b"POST /ams/api/v1/payments/pay HTTP/1.1\r\nhost: x\r\n")
        .unwrap();
    // Act + assert: every one is closed by the sandbox, without an answer (those over the limit
    // at once, the others after the idle time-out)…
    for stream in idle {
        assert_eq!(read_until_closed(stream), b"");
    }
    // … and it still answers signed calls.
    let c = Client::new(&s);
    let r = c.call("pay", &pay_body(&uid("p"), "100", None)).await;
    assert_eq!(result_code(&r), ("PAYMENT_IN_PROCESS", "U"), "{r}");
}

#[tokio::test]
async fn r12_a_kept_alive_connection_is_closed_once_idle() {
    let s = Sandbox::start(&["--idle-timeout", "1"]);
    let addr = s.url.trim_start_matches("http://").to_owned();
    let mut stream = TcpStream::connect(&addr).unwrap();
    stream
        .write_all(b"GET /_sandbox/health HTTP/1.1\r\nhost: x\r\n\r\n")
        .unwrap();
    let answer = String::from_utf8(read_until_closed(stream)).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("{\"ok\":true,"), "{answer}");
}

#[tokio::test]
async fn r12_a_body_that_never_finishes_gets_408() {
    let s = Sandbox::start(&["--body-timeout", "1"]);
    let addr = s.url.trim_start_matches("http://").to_owned();
    let mut stream = TcpStream::connect(&addr).unwrap();
    stream
        .write_all(
            b"POST /ams/api/v1/payments/pay HTTP/1.1\r\nhost: x\r\nclient-id: C\r\n\
              connection: close\r\ncontent-length: 100\r\n\r\n{\"a\"",
        )
        .unwrap();
    let answer = String::from_utf8(read_until_closed(stream)).unwrap();
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(
        answer.contains("the request body did not arrive within 1 seconds"),
        "{answer}"
    );
}

#[tokio::test]
async fn r12_oversized_headers_get_431() {
    let s = Sandbox::start(&[]);
    let addr = s.url.trim_start_matches("http://").to_owned();
    let mut stream = TcpStream::connect(&addr).unwrap();
    let big = "a".repeat(100 * 1024);
    stream
        .write_all(
            format!("GET /_sandbox/health HTTP/1.1\r\nhost: x\r\nx-big: {big}\r\n\r\n").as_bytes(),
        )
        .unwrap();
    let answer = String::from_utf8_lossy(&read_until_closed(stream)).into_owned();
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");
}

#[test]
fn r12_an_empty_control_token_is_refused() {
    for empty in ["", "  "] {
        let stderr = sandbox_exits_2(&["--listen", "127.0.0.1:0", "--control-token", empty]);
        assert!(stderr.contains("--control-token is empty"), "{stderr}");
    }
}

#[test]
fn r12_a_default_notify_url_at_the_control_api_is_refused() {
    let stderr = sandbox_exits_2(&[
        "--listen",
        "127.0.0.1:0",
        "--notify-url",
        "SANDBOX_APOFLOW_MERCHANT=http://127.0.0.1:8088/_sandbox/reset",
    ]);
    assert!(stderr.contains("is a sandbox control API"), "{stderr}");
}

#[tokio::test]
async fn r12_notifications_never_reach_the_control_api() {
    let s = Sandbox::start(&[]);
    let c = Client::new(&s);
    let kept = c.call("pay", &pay_body(&uid("p"), "100", None)).await;
    for url in [
        format!("{}/_sandbox/reset", s.url),
        format!("{}//_sandbox/reset", s.url),
        format!("{}/%5Fsandbox/reset", s.url),
    ] {
        let r = c.call("pay", &pay_body(&uid("p"), "100", Some(&url))).await;
        assert_eq!(result_code(&r), ("PARAM_ILLEGAL", "F"), "{url}: {r}");
        assert_eq!(
            r["result"]["resultMessage"],
            "paymentNotifyUrl: must not point at a sandbox control API (/_sandbox/…)"
        );
    }
    let r = c
        .control_as(
            reqwest::Method::POST,
            "notifications",
            Some(
                json!({"body": {"notifyType": "PAYMENT_RESULT", "paymentId": "x"},
                        "clientId": CLIENT_ID,
                        "url": format!("{}/_sandbox/reset", s.url)}),
            ),
        )
        .await;
    assert_eq!(r.0, 400, "{}", r.1);
    // Nothing was reset: the first payment is still there.
    let again = c
        .call("inquiryPayment", &json!({"paymentId": kept["paymentId"]}))
        .await;
    assert_eq!(result_code(&again), ("SUCCESS", "S"), "{again}");
}

#[tokio::test]
async fn r12_control_characters_in_urls_are_param_illegal() {
    let s = Sandbox::start(&[]);
    let c = Client::new(&s);
    for (field, url) in [
        (
            "paymentRedirectUrl",
            "https://shop.example/back\r\nLocation: https://evil.example/",
        ),
        ("paymentRedirectUrl", "https://shop.example/ba\tck"),
        ("paymentNotifyUrl", "http://127.0.0.1:9/notify\n"),
    ] {
        let mut body = pay_body(&uid("p"), "100", None);
        body[field] = json!(url);
        let r = c.call("pay", &body).await;
        assert_eq!(result_code(&r), ("PARAM_ILLEGAL", "F"), "{r}");
        assert_eq!(
            r["result"]["resultMessage"],
            format!("{field}: must not contain control characters (CR, LF, tab, …)")
        );
    }
}

#[tokio::test]
async fn r12_the_hosted_page_sends_security_headers() {
    let s = Sandbox::start(&[]);
    let c = Client::new(&s);
    let r = c.call("pay", &pay_body(&uid("p"), "100", None)).await;
    let page = c
        .http
        .get(r["normalUrl"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let h = page.headers();
    let csp = h["content-security-policy"].to_str().unwrap();
    for part in [
        "default-src 'none'",
        "frame-ancestors 'none'",
        // The card form posts to the page; its 303 goes to the merchant's origin.
        "form-action 'self' https://shop.example",
    ] {
        assert!(csp.contains(part), "{csp} lacks {part}");
    }
    assert_eq!(h["x-frame-options"], "DENY");
    assert_eq!(h["cache-control"], "no-store");
    assert_eq!(h["referrer-policy"], "no-referrer");
    // The error answer to a bad card form shows the form again: the same headers.
    let b = Buyer::new(&s);
    let bad = b
        .http
        .post(r["normalUrl"].as_str().unwrap())
        .form(&[("card_number", "4054695723100769")])
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 422);
    assert_eq!(bad.headers()["cache-control"], "no-store");
    assert_eq!(bad.headers()["x-frame-options"], "DENY");
}

#[cfg(unix)]
#[tokio::test]
async fn sigterm_lets_the_request_in_flight_finish_then_exits_0() {
    let mut s = Sandbox::start(&[]);
    let c = Client::new(&s);
    let rid = uid("late");
    c.control(
        "scenarios",
        Some(json!({"api": "pay", "requestId": rid, "delayMs": 1500})),
    )
    .await;
    // Arrange: a pay whose answer the sandbox holds back.
    let in_flight = {
        let c = Client::new(&s);
        let body = pay_body(&rid, "100", None);
        tokio::spawn(async move { c.call("pay", &body).await })
    };
    loop {
        let calls = c.control("calls", None).await;
        if calls["calls"].as_array().is_some_and(|l| !l.is_empty()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Act
    let status = tokio::task::spawn_blocking(move || {
        let status = s.terminate();
        (status, s)
    })
    .await
    .unwrap();
    // Assert: the held answer still arrived, whole, and the sandbox exited cleanly.
    let answer = in_flight.await.unwrap();
    assert_eq!(
        result_code(&answer),
        ("PAYMENT_IN_PROCESS", "U"),
        "{answer}"
    );
    assert_eq!(status.0.code(), Some(0));
}
