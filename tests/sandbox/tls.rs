//! HTTPS: `apoflow sandbox --tls-dir` on its own loopback address, port 443, driven by the
//! stock official Python SDK (global-open-sdk-python 1.7.1, whose transport always dials 443
//! with verified TLS) trusting only the sandbox's CA.

use std::path::Path;
use std::process::Command;

use super::support::*;

/// A random 127.x.y.z, so parallel runs and other sandboxes do not clash on port 443.
fn random_loopback() -> String {
    format!(
        "127.{}.{}.{}",
        fastrand::u8(1..255),
        fastrand::u8(1..255),
        fastrand::u8(2..255)
    )
}

#[tokio::test]
async fn the_stock_open_sdk_pays_captures_refunds_and_cancels_over_tls() {
    let root = env!("CARGO_MANIFEST_DIR");
    let python = Path::new(root).join(".venv-open-sdk/bin/python");
    assert!(
        python.exists(),
        "the official open SDK is not installed: run scripts/sdk-venv.sh in {root} \
         (it creates .venv-open-sdk with global-open-sdk-python==1.7.1)"
    );
    let dir = tempfile::tempdir().unwrap();
    let ip = random_loopback();
    let tls_dir = dir.path().to_str().unwrap();
    let s = Sandbox::start_on(&format!("{ip}:443"), &["--tls-dir", tls_dir]);
    assert_eq!(s.url, format!("https://{ip}"));
    let ca = dir.path().join(apoflow::sandbox::CA_FILE);

    let out = Command::new(&python)
        .env("SSL_CERT_FILE", &ca)
        .arg(format!("{root}/tests/sandbox/open_sdk_tls.py"))
        .arg(&s.url)
        .arg(format!("{root}/fixtures/keys/merchant-private.pem"))
        .arg(format!("{root}/fixtures/keys/sandbox-apo-public.pem"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the open SDK over TLS failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("open sdk tls ok"), "{stdout}");

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
    let out = Command::new(&python)
        .env("SSL_CERT_FILE", "/nonexistent-ca.pem")
        .arg(format!("{root}/tests/sandbox/open_sdk_tls.py"))
        .arg(&s.url)
        .arg(format!("{root}/fixtures/keys/merchant-private.pem"))
        .arg(format!("{root}/fixtures/keys/sandbox-apo-public.pem"))
        .output()
        .unwrap();
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
    let out = Command::new(env!("CARGO_BIN_EXE_apoflow"))
        .args(["sandbox", "--listen", "127.0.0.1:0", "--tls-dir", tls_dir])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("{} is not a usable CA certificate", ca.display())),
        "{stderr}"
    );
    assert!(stderr.contains("delete ca.pem and ca-key.pem"), "{stderr}");
}
