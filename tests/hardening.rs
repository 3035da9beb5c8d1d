//! Issue 12 ("Secrets and hostile input") through the real binary: masked output, bounded
//! loading, files kept inside the project, runaway templates, server logs on stderr.

#[path = "support/mod.rs"]
mod support;

use axum::Json;
use axum::routing::get;
use serde_json::json;
use support::{Scratch, apoflow_in, both, code, serve};

#[test]
fn r12_card_forms_and_cvv_are_masked_but_epoch_millis_are_not() {
    let base = serve(axum::Router::new().route(
        "/order",
        get(|| async {
            Json(json!({
                "requestTime": 1764240000000_u64,
                "spaced": "4054 6957 2310 0768",
                "plussed": "card_number=5162+7741+1497+4622&cvv=123",
                "longer": "405469572310076899",
                "inner": "{\"cvv\":\"456\",\"cardNo\":\"4294097400915107\"}"
            }))
        }),
    ));
    let p = Scratch::new();
    p.write(
        "flows/leak.yaml",
        &format!(
            "name: leak\nsteps:\n  - http: {{ url: \"{base}/order\" }}\n    expect:\n      $.nothing: 1\n"
        ),
    );
    let out = apoflow_in(p.path(), &["run", "flows"], &[]);
    assert_eq!(code(&out), 1, "{}", both(&out));
    let text = both(&out);
    assert!(text.contains("1764240000000"), "{text}");
    for digits in [
        "405469572310",
        "4054 6957 2310",
        "5162+7741+1497",
        "429409740091",
        "123&",
        // Quoted: the run's random port may hold the digits (`127.0.0.1:45667`).
        "\"456",
    ] {
        assert!(!text.contains(digits), "`{digits}` leaked: {text}");
    }
    assert!(text.contains("************0768"), "{text}");
}

#[test]
fn r12_a_flow_cannot_include_a_file_outside_the_project() {
    let p = Scratch::new();
    p.write(
        "outside/secret.yaml",
        "steps:\n  - sleep: 1ms\n# TOKEN=hunter2hunter2\n",
    );
    p.write(
        "project/flows/a.yaml",
        "name: a\nsteps:\n  - use: ../../outside/secret.yaml\n",
    );
    p.write(
        "project/flows/env.yaml",
        "name: e\nsteps:\n  - use: /proc/self/environ\n",
    );
    let dir = p.path().join("project");
    let out = apoflow_in(
        &dir,
        &["validate", "flows"],
        &[("APOFLOW_PROBE", "s3cr3t-probe")],
    );
    assert_eq!(code(&out), 2, "{}", both(&out));
    let text = both(&out);
    assert_eq!(text.matches("outside the project").count(), 2, "{text}");
    assert!(text.contains("--allow-outside-project"), "{text}");
    assert!(
        !text.contains("s3cr3t-probe") && !text.contains("hunter2"),
        "{text}"
    );
    let out = apoflow_in(
        &dir,
        &["validate", "--allow-outside-project", "flows/a.yaml"],
        &[],
    );
    assert_eq!(code(&out), 0, "{}", both(&out));
}

#[test]
fn r12_a_huge_matrix_and_a_runaway_template_fail_fast() {
    let p = Scratch::new();
    let keys: Vec<String> = (0..10)
        .map(|k| format!("  k{k}: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]"))
        .collect();
    p.write(
        "flows/matrix.yaml",
        &format!(
            "name: m\nmatrix:\n{}\nsteps:\n  - sleep: 1ms\n",
            keys.join("\n")
        ),
    );
    let out = apoflow_in(p.path(), &["validate", "flows"], &[]);
    assert_eq!(code(&out), 2, "{}", both(&out));
    assert!(both(&out).contains("10000000000"), "{}", both(&out));

    p.write(
        "flows/matrix.yaml",
        "name: t\nsteps:\n  - http:\n      url: \"http://127.0.0.1:9/{% set ns = namespace(s='ab') %}{% for i in range(60) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s }}\"\n",
    );
    let out = apoflow_in(p.path(), &["run", "flows"], &[]);
    assert_eq!(code(&out), 1, "{}", both(&out));
    let text = both(&out);
    assert!(text.contains("too much work"), "{text}");
    assert!(text.contains("flows/matrix.yaml:4"), "{text}");
    assert!(text.len() < 10_000, "{} bytes", text.len());
}

#[test]
fn r12_sandbox_errors_reach_stderr_with_rust_log() {
    let p = Scratch::new();
    p.write(
        "flows/bad.yaml",
        "name: bad pay\nsteps:\n  - pay: { body: { paymentRequestId: x } }\n    expect:\n      $.result.resultStatus: F\n",
    );
    let quiet = apoflow_in(p.path(), &["run", "flows"], &[]);
    assert_eq!(code(&quiet), 0, "{}", both(&quiet));
    assert!(!both(&quiet).contains("sandbox call failed"));
    let logged = apoflow_in(
        p.path(),
        &["run", "flows"],
        &[("RUST_LOG", "apoflow=debug")],
    );
    assert_eq!(code(&logged), 0, "{}", both(&logged));
    let stderr = String::from_utf8_lossy(&logged.stderr);
    assert!(stderr.contains("sandbox call failed"), "{stderr}");
}

/// Property tests with a bounded number of cases, run with the normal suite: hostile input to
/// the flow loader and to the sandbox's request parsing never panics, hangs or answers 5xx.
mod fuzz {
    use std::sync::LazyLock;

    use apoflow::apo::keys::PrivateKey;
    use apoflow::apo::sign::{SignedParts, sign};
    use apoflow::apo::target::{EMBEDDED_CLIENT_ID, EMBEDDED_MERCHANT_PRIVATE_PEM};
    use apoflow::flow::{LoadOptions, load};
    use proptest::prelude::*;

    /// Fragments that tend to break YAML loaders and template checks.
    const TOKENS: &[&str] = &[
        "{{",
        "}}",
        "{%",
        "!bogus ",
        "&a ",
        "*a",
        "<<: *a\n",
        "- ",
        ": ",
        "\n",
        "\t",
        "'",
        "\"",
        "use: _p.yaml",
        "matrix: { k: [1, 2] }",
        "body_file: /etc/passwd",
        "steps:",
        "\u{feff}",
        "4111 1111 1111 1111",
        "${",
        "[",
        "]",
        "{",
        "}",
        "#",
        "%",
        "\\",
        "é",
        "\u{202e}",
    ];

    fn mutated_flow() -> impl Strategy<Value = String> {
        let good =
            std::fs::read_to_string(super::support::repo().join("tests/corpus/good/payment.yaml"))
                .expect("the corpus flow");
        proptest::collection::vec(
            (
                any::<prop::sample::Index>(),
                0usize..16,
                prop::sample::select(TOKENS),
            ),
            1..6,
        )
        .prop_map(move |edits| {
            let mut text = good.clone();
            for (at, cut, token) in edits {
                let mut i = at.index(text.len() + 1);
                while !text.is_char_boundary(i) {
                    i -= 1;
                }
                let mut end = (i + cut).min(text.len());
                while !text.is_char_boundary(end) {
                    end -= 1;
                }
                text.replace_range(i..end, token);
            }
            text
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 128, failure_persistence: None, ..ProptestConfig::default() })]

        #[test]
        fn the_loader_survives_mutated_flows(text in mutated_flow()) {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("f.yaml");
            std::fs::write(&path, &text).unwrap();
            std::fs::write(dir.path().join("_p.yaml"), "steps:\n  - use: f.yaml\n").unwrap();
            if let Err(diags) = load(std::slice::from_ref(&path), &LoadOptions::default()) {
                for d in diags {
                    let shown = d.render(false);
                    prop_assert!(shown.len() < 4000, "{shown}");
                    prop_assert!(!shown.contains("4111 1111 1111 1111"), "{shown}");
                }
            }
        }
    }

    static MERCHANT_KEY: LazyLock<PrivateKey> =
        LazyLock::new(|| PrivateKey::from_text(EMBEDDED_MERCHANT_PRIVATE_PEM).unwrap());

    /// One embedded sandbox for every case, on a runtime of its own.
    static SANDBOX: LazyLock<String> = LazyLock::new(|| {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Runtime::new().unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                let config = apoflow::sandbox::Config::embedded().unwrap();
                let handle = apoflow::sandbox::start(listener, config).unwrap();
                tx.send(handle.url().to_owned()).unwrap();
                std::future::pending::<()>().await;
            });
        });
        rx.recv().unwrap()
    });

    /// A pay body with some fields replaced by hostile values, or raw bytes.
    fn body() -> impl Strategy<Value = Vec<u8>> {
        let value = prop_oneof![
            Just(serde_json::json!(null)),
            Just(serde_json::json!(-1)),
            Just(serde_json::json!("")),
            Just(serde_json::json!("x".repeat(10_000))),
            Just(serde_json::json!("https://a.test/\r\nSet-Cookie: x")),
            Just(serde_json::json!({"value": "1e9999", "currency": "\u{0}"})),
            Just(serde_json::json!([[[[]]]])),
            any::<i64>().prop_map(|n| serde_json::json!(n)),
            "\\PC{0,12}".prop_map(|s| serde_json::json!(s)),
        ];
        let fields = prop::sample::select(
            &[
                "paymentRequestId",
                "paymentAmount",
                "order",
                "paymentMethod",
                "paymentNotifyUrl",
                "paymentRedirectUrl",
                "productCode",
                "paymentFactor",
                "settlementStrategy",
                "env",
            ][..],
        );
        prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..64),
            proptest::collection::vec((fields, value), 0..5).prop_map(|edits| {
                let mut body = serde_json::json!({
                    "productCode": "CASHIER_PAYMENT",
                    "paymentRequestId": "fuzz",
                    "order": { "referenceOrderId": "o", "orderDescription": "d",
                               "orderAmount": { "currency": "SGD", "value": "100" } },
                    "paymentAmount": { "currency": "SGD", "value": "100" },
                    "paymentMethod": { "paymentMethodType": "CARD" },
                    "paymentRedirectUrl": "https://shop.test/return",
                    "paymentNotifyUrl": "https://shop.test/notify",
                    "settlementStrategy": { "settlementCurrency": "SGD" },
                    "env": { "terminalType": "WEB" }
                });
                for (field, value) in edits {
                    body[field] = value;
                }
                serde_json::to_vec(&body).unwrap()
            }),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 96, failure_persistence: None, ..ProptestConfig::default() })]

        #[test]
        fn the_sandbox_answers_hostile_requests_without_a_server_error(
            body in body(),
            api in prop::sample::select(&["pay", "inquiryPayment", "capture", "cancel", "refund", "nope"][..]),
            signed in any::<bool>(),
            time in prop_oneof![Just("2026-11-25T10:00:00+00:00".to_owned()), "[ -~]{0,12}"],
        ) {
            let path = format!("/ams/sandbox/api/v1/payments/{api}");
            let mut headers = vec![
                ("content-type", "application/json; charset=UTF-8".to_owned()),
                ("client-id", EMBEDDED_CLIENT_ID.to_owned()),
                ("request-time", time.clone()),
            ];
            if signed {
                let parts = SignedParts::post(&path, EMBEDDED_CLIENT_ID, &time, &body);
                headers.push(("signature", sign(&MERCHANT_KEY, &parts)));
            }
            let status = post(&format!("{}{path}", *SANDBOX), &headers, &body);
            prop_assert!(status < 500, "{api}: HTTP {status} for {}", String::from_utf8_lossy(&body));
        }
    }

    /// POSTs and returns the status (599 when no answer came).
    fn post(url: &str, headers: &[(&str, String)], body: &[u8]) -> u16 {
        static RUNTIME: LazyLock<tokio::runtime::Runtime> =
            LazyLock::new(|| tokio::runtime::Runtime::new().unwrap());
        RUNTIME.block_on(async {
            let mut request = reqwest::Client::new().post(url).body(body.to_vec());
            for (k, v) in headers {
                request = request.header(*k, v.as_str());
            }
            request
                .send()
                .await
                .map(|r| r.status().as_u16())
                .unwrap_or(599)
        })
    }
}

#[test]
fn r12_a_replayed_notification_is_recognisable() {
    let p = Scratch::new();
    let payload =
        std::fs::read_to_string(support::repo().join("fixtures/payloads/pay-card-first-time.json"))
            .unwrap();
    p.write("fixtures/payloads/pay-card-first-time.json", &payload);
    p.write(
        "flows/replay.yaml",
        r#"
name: Replay
steps:
  - id: pay
    pay:
      body_file: fixtures/payloads/pay-card-first-time.json
    save: { paymentId: $.paymentId, normalUrl: $.normalUrl }
  - redirect:
      url: "{{ normalUrl }}"
      card: visa_success
  - id: first
    notify:
      type: PAYMENT_RESULT
      match: { $.paymentId: "{{ paymentId }}" }
    expect:
      signature: valid
      replayed: false
  - id: replay
    http:
      method: POST
      url: "{{ notify_url }}"
      headers:
        client-id: "{{ steps.first.request.headers['client-id'] }}"
        request-time: "{{ steps.first.request.headers['request-time'] }}"
        signature: "{{ steps.first.request.headers.signature }}"
      json: "{{ steps.first.request.body }}"
  - notify:
      type: PAYMENT_RESULT
      match: { $.paymentId: "{{ paymentId }}" }
    expect:
      replayed: true
"#,
    );
    let out = apoflow_in(p.path(), &["run", "flows"], &[]);
    assert_eq!(code(&out), 0, "{}", both(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("a replayed delivery"), "{stderr}");
}
