//! Load bench for the standalone sandbox (run by scripts/bench-sandbox.sh).
//!
//! `sandbox_bench BASE_URL CLIENTS PAYMENTS`: CLIENTS concurrent buyers each run
//! pay → hosted card page → PAYMENT_RESULT notification → inquiryPayment until PAYMENTS journeys
//! are done; prints payments/s and p50/p99 journey latency. Also prints this machine's RSA-2048
//! signing rate on one core, the unit of cost of the sandbox.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use apoflow::apo::keys::PrivateKey;
use apoflow::apo::sign::{SignedParts, sign};
use serde_json::{Value, json};
use tokio::sync::oneshot;

type Waiters = Arc<Mutex<HashMap<String, oneshot::Sender<()>>>>;

const KEY: &str = include_str!("../fixtures/keys/merchant-private.pem");
const CLIENT: &str = "SANDBOX_APOFLOW_MERCHANT";

fn signing_rate(key: &PrivateKey) -> f64 {
    let body = br#"{"paymentId":"P1"}"#;
    let n = 200;
    let start = Instant::now();
    for i in 0..n {
        let t = i.to_string();
        std::hint::black_box(sign(key, &SignedParts::post("/p", CLIENT, &t, body)));
    }
    f64::from(n) / start.elapsed().as_secs_f64()
}

async fn call(
    http: &reqwest::Client,
    key: &PrivateKey,
    base: &str,
    api: &str,
    body: &Value,
) -> Value {
    let path = format!("/ams/sandbox/api/v1/payments/{api}");
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    let time = "2026-11-25T00:00:00+00:00";
    let sig = sign(key, &SignedParts::post(&path, CLIENT, time, &bytes));
    let resp = http
        .post(format!("{base}{path}"))
        .header("client-id", CLIENT)
        .header("request-time", time)
        .header("signature", sig)
        .body(bytes)
        .send()
        .await
        .expect("sandbox answers");
    resp.json().await.expect("json")
}

async fn journey(
    http: &reqwest::Client,
    key: &PrivateKey,
    base: &str,
    notify: &str,
    waiters: &Waiters,
) {
    let rid = uuid::Uuid::new_v4().simple().to_string();
    let (tx, rx) = oneshot::channel();
    let body = json!({
        "productCode": "CASHIER_PAYMENT", "paymentRequestId": rid,
        "paymentAmount": {"currency": "SGD", "value": "1000"},
        "paymentMethod": {"paymentMethodType": "CARD"},
        "paymentFactor": {"isAuthorization": true, "captureMode": "MANUAL"},
        "paymentRedirectUrl": "https://shop.example/return", "paymentNotifyUrl": notify,
        "order": {"referenceOrderId": "B", "orderDescription": "bench",
                  "orderAmount": {"currency": "SGD", "value": "1000"}, "buyer": {"referenceBuyerId": "b"}},
        "env": {"terminalType": "WEB", "clientIp": "203.0.113.1"}
    });
    let r = call(http, key, base, "pay", &body).await;
    let pid = r["paymentId"].as_str().expect("paymentId").to_owned();
    waiters.lock().unwrap().insert(pid.clone(), tx);
    let page = http
        .post(r["normalUrl"].as_str().expect("normalUrl"))
        .form(&[
            ("card_number", "4054695723100768"),
            ("expiry_month", "12"),
            ("expiry_year", "39"),
            ("cvv", "123"),
            ("holder_name", "B"),
        ])
        .send()
        .await
        .expect("page");
    assert_eq!(page.status(), 303);
    tokio::time::timeout(Duration::from_secs(30), rx)
        .await
        .expect("notification")
        .ok();
    let q = call(
        http,
        key,
        base,
        "inquiryPayment",
        &json!({"paymentId": pid}),
    )
    .await;
    assert_eq!(q["paymentStatus"], "SUCCESS");
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, base, clients, payments] = args.as_slice() else {
        eprintln!("usage: sandbox_bench BASE_URL CLIENTS PAYMENTS");
        std::process::exit(2);
    };
    let clients: usize = clients.parse().expect("CLIENTS is a number");
    let payments: usize = payments.parse().expect("PAYMENTS is a number");
    if clients == 0 || payments == 0 {
        eprintln!("CLIENTS and PAYMENTS must be at least 1");
        std::process::exit(2);
    }
    let key = PrivateKey::from_text(KEY).expect("key");
    println!(
        "rsa-2048 signatures/s on one core: {:.0}",
        signing_rate(&key)
    );

    let waiters: Waiters = Arc::default();
    let w = waiters.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let notify = format!("http://{}/notify", listener.local_addr().expect("addr"));
    let app = axum::Router::new().fallback(move |body: axum::body::Bytes| {
        let w = w.clone();
        async move {
            let v: Value = serde_json::from_slice(&body).unwrap_or_default();
            if let Some(tx) = v["paymentId"]
                .as_str()
                .and_then(|p| w.lock().unwrap().remove(p))
            {
                let _ = tx.send(());
            }
            r#"{"result":{"resultCode":"SUCCESS","resultStatus":"S","resultMessage":"success"}}"#
        }
    });
    tokio::spawn(async move { axum::serve(listener, app).await });

    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let left = Arc::new(std::sync::atomic::AtomicUsize::new(payments));
    let latencies = Arc::new(Mutex::new(Vec::with_capacity(payments)));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (http, key, base, notify, waiters, left, lat) = (
            http.clone(),
            key.clone(),
            base.clone(),
            notify.clone(),
            waiters.clone(),
            left.clone(),
            latencies.clone(),
        );
        tasks.push(tokio::spawn(async move {
            while left
                .fetch_update(
                    std::sync::atomic::Ordering::SeqCst,
                    std::sync::atomic::Ordering::SeqCst,
                    |n| n.checked_sub(1),
                )
                .is_ok()
            {
                let t = Instant::now();
                journey(&http, &key, &base, &notify, &waiters).await;
                lat.lock().unwrap().push(t.elapsed());
            }
        }));
    }
    for t in tasks {
        t.await.expect("client task");
    }
    let elapsed = start.elapsed();
    let mut lat = latencies.lock().unwrap().clone();
    lat.sort();
    let pct = |p: f64| lat[((lat.len() as f64 * p) as usize).min(lat.len() - 1)];
    println!(
        "clients: {clients}, payments: {payments}, elapsed: {:.2?}",
        elapsed
    );
    println!("payments/s: {:.1}", payments as f64 / elapsed.as_secs_f64());
    println!(
        "journey latency p50: {:.1?}, p99: {:.1?}",
        pct(0.50),
        pct(0.99)
    );
}
