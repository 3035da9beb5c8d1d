//! Measures APO signing and verification (RSA-2048, PKCS#1 v1.5, SHA-256) in µs per operation.
//!
//! Run with: `cargo run --release --example sign_bench [ITERATIONS]`

use std::hint::black_box;
use std::time::Instant;

use apoflow::apo::keys::{PrivateKey, PublicKey};
use apoflow::apo::sign::{SignedParts, sign, verify};
use apoflow::apo::target::{EMBEDDED_MERCHANT_PRIVATE_PEM, EMBEDDED_MERCHANT_PUBLIC_PEM};

fn main() {
    let iterations: u32 = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(2000);
    let private = PrivateKey::from_text(EMBEDDED_MERCHANT_PRIVATE_PEM).expect("fixture key");
    let public = PublicKey::from_text(EMBEDDED_MERCHANT_PUBLIC_PEM).expect("fixture key");
    // A realistic hosted-mode pay body (~1 KB).
    let body = format!(
        r#"{{"productCode":"CASHIER_PAYMENT","paymentRequestId":"bench-1","paymentAmount":{{"currency":"SGD","value":"4200"}},"paymentMethod":{{"paymentMethodType":"CARD","paymentMethodMetaData":{{"tokenizeMode":"ENABLED"}}}},"order":{{"referenceOrderId":"o-1","orderDescription":"{}","orderAmount":{{"currency":"SGD","value":"4200"}},"buyer":{{"referenceBuyerId":"b-1"}}}},"env":{{"terminalType":"WEB","clientIp":"1.2.3.4"}},"paymentRedirectUrl":"https://shop.example/return","paymentNotifyUrl":"https://shop.example/notify"}}"#,
        "x".repeat(600)
    );
    let parts = SignedParts::post(
        "/ams/sandbox/api/v1/payments/pay",
        "SANDBOX_APOFLOW_MERCHANT",
        "1742178172000",
        body.as_bytes(),
    );
    let header = sign(&private, &parts);
    // Warm up.
    for _ in 0..20 {
        black_box(sign(&private, &parts));
        black_box(verify(&public, &parts, &header)).expect("verifies");
    }
    let started = Instant::now();
    for _ in 0..iterations {
        black_box(sign(black_box(&private), black_box(&parts)));
    }
    let sign_us = started.elapsed().as_secs_f64() * 1e6 / f64::from(iterations);
    let started = Instant::now();
    for _ in 0..iterations {
        black_box(verify(
            black_box(&public),
            black_box(&parts),
            black_box(&header),
        ))
        .expect("verifies");
    }
    let verify_us = started.elapsed().as_secs_f64() * 1e6 / f64::from(iterations);
    println!(
        "body {} bytes, {iterations} iterations, one thread",
        body.len()
    );
    println!("sign   {sign_us:9.1} µs/op  ({:7.0} op/s)", 1e6 / sign_us);
    println!(
        "verify {verify_us:9.1} µs/op  ({:7.0} op/s)",
        1e6 / verify_us
    );
}
