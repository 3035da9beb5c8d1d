//! HTTPS: `apoflow sandbox --tls-dir` on its own loopback address, port 443, driven by the
//! stock official Python SDK (global-open-sdk-python 1.7.1, whose transport always dials 443
//! with verified TLS) trusting only the sandbox's CA.

use std::path::Path;

use super::local::*;
use super::support::{Sandbox, loopback_443, venv_python};

#[tokio::test]
async fn the_stock_open_sdk_pays_captures_refunds_and_cancels_over_tls() {
    let root = env!("CARGO_MANIFEST_DIR");
    let python = venv_python(
        ".venv-open-sdk",
        &format!(
            "the official open SDK is not installed: run scripts/sdk-venv.sh in {root} \
             (it creates .venv-open-sdk with global-open-sdk-python==1.7.1)"
        ),
    );
    let dir = tempfile::tempdir().unwrap();
    let ip = loopback_443();
    let tls_dir = dir.path().to_str().unwrap();
    let s = Sandbox::start_on(&format!("{ip}:443"), &["--tls-dir", tls_dir]);
    assert_eq!(s.url, format!("https://{ip}"));
    let ca = dir.path().join(apoflow::sandbox::CA_FILE);

    let out = sdk_script(&python, "open_sdk_tls.py", &s.url, Some(&ca));
    assert_sdk_script_ok(&out, "the open SDK over TLS", "open sdk tls ok");

    // The journal saw the SDK's calls, every one signed and verified.
    let pem = std::fs::read(&ca).unwrap();
    let http = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap())
        .build()
        .unwrap();
    let c = Client {
        http,
        ..Client::new(&s)
    };
    let journal = c.control("calls", None).await;
    let seen: Vec<(&str, &str)> = journal["calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["api"].as_str().unwrap(), e["signature"].as_str().unwrap()))
        .collect();
    let valid = |api| (api, "valid");
    assert_eq!(
        seen,
        ["pay", "inquiry", "capture", "refund", "pay", "cancel"].map(valid)
    );
    let agent = &journal["calls"][0]["headers"]["user-agent"];
    assert_eq!(agent, "global-open-sdk-python/1.7.1");

    // Without the CA, the SDK's verified TLS refuses the sandbox.
    let out = sdk_script(
        &python,
        "open_sdk_tls.py",
        &s.url,
        Some(Path::new("/nonexistent-ca.pem")),
    );
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("CERTIFICATE_VERIFY_FAILED"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_ca_is_reused_and_a_broken_one_exits_2_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let tls_dir = dir.path().to_str().unwrap();
    let first = Sandbox::start_on("127.0.0.1:0", &["--tls-dir", tls_dir]);
    assert!(first.url.starts_with("https://127.0.0.1:"), "{}", first.url);
    drop(first);
    let ca = dir.path().join(apoflow::sandbox::CA_FILE);
    let pem = std::fs::read_to_string(&ca).unwrap();
    drop(Sandbox::start_on("127.0.0.1:0", &["--tls-dir", tls_dir]));
    assert_eq!(
        std::fs::read_to_string(&ca).unwrap(),
        pem,
        "the CA is reused"
    );

    std::fs::write(&ca, "not a certificate").unwrap();
    let stderr = sandbox_exits_2(&["--listen", "127.0.0.1:0", "--tls-dir", tls_dir]);
    assert!(
        stderr.contains(&format!("{} is not a usable CA certificate", ca.display())),
        "{stderr}"
    );
    assert!(stderr.contains("delete ca.pem and ca-key.pem"), "{stderr}");
}
