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
        "456",
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
