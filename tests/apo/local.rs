//! What only tests/apo.rs needs: the test-only keys and the SDK's Python (the binary is run
//! with tests/support/).

use std::path::PathBuf;
use std::process::Command;

use apoflow::apo::keys::{PrivateKey, PublicKey};
use apoflow::apo::target::{
    EMBEDDED_APO_PRIVATE_PEM, EMBEDDED_APO_PUBLIC_PEM, EMBEDDED_MERCHANT_PRIVATE_PEM,
    EMBEDDED_MERCHANT_PUBLIC_PEM,
};

use crate::support::{repo, venv_python};

/// The fixture merchant key pair.
pub fn merchant_keys() -> (PrivateKey, PublicKey) {
    (
        PrivateKey::from_text(EMBEDDED_MERCHANT_PRIVATE_PEM).unwrap(),
        PublicKey::from_text(EMBEDDED_MERCHANT_PUBLIC_PEM).unwrap(),
    )
}

/// The fixture "APO" key pair of the embedded sandbox.
pub fn apo_keys() -> (PrivateKey, PublicKey) {
    (
        PrivateKey::from_text(EMBEDDED_APO_PRIVATE_PEM).unwrap(),
        PublicKey::from_text(EMBEDDED_APO_PUBLIC_PEM).unwrap(),
    )
}

/// The base64 body of a PEM (what the SDKs take).
pub fn pem_body(pem: &str) -> String {
    pem.lines()
        .filter(|l| !l.starts_with("-----"))
        .collect::<String>()
}

/// The Python of `.venv-sdk`; fails the test (never skips) when it is missing.
pub fn sdk_python() -> PathBuf {
    venv_python(
        ".venv-sdk",
        "the official Python SDK is not installed: run scripts/sdk-venv.sh first \
         (it creates .venv-sdk/ with global-alipay-sdk-python 1.0.1)",
    )
}

/// Runs tests/sdk/interop.py with a JSON request; returns its JSON answer.
pub fn sdk(request: &serde_json::Value) -> serde_json::Value {
    use std::io::Write as _;
    let script = repo().join("tests/sdk/interop.py");
    let mut child = Command::new(sdk_python())
        .arg(script)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start the SDK's python");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(request.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "interop.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("interop.py prints JSON")
}
