//! The `keys` and `sign` commands of the real binary.

use apoflow::apo::sign::{SignedParts, verify};

use crate::local::merchant_keys;
use crate::support::apoflow_cmd;

const BODY: &str = r#"{"paymentRequestId":"r-1","note":"card 4054695723100768"}"#;

fn sign_cmd(dir: &std::path::Path, body: &str, extra: &[&str]) -> std::process::Output {
    std::fs::write(dir.join("body.json"), body).unwrap();
    apoflow_cmd(dir, &[])
        .args([
            "sign",
            "--embedded",
            "http://127.0.0.1:4010",
            "--api",
            "pay",
            "--body",
            "body.json",
            "--request-time",
            "1742178172000",
        ])
        .args(extra)
        .output()
        .unwrap()
}

#[test]
fn sign_prints_a_masked_curl_command_by_default() {
    let dir = tempfile::tempdir().unwrap();
    let out = sign_cmd(dir.path(), BODY, &[]);
    assert_eq!(out.status.code(), Some(0));
    insta::assert_snapshot!("sign_masked", String::from_utf8(out.stdout).unwrap());
    insta::assert_snapshot!("sign_masked_note", String::from_utf8(out.stderr).unwrap());
}

#[test]
fn sign_with_show_secrets_prints_a_request_that_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let out = sign_cmd(dir.path(), BODY, &["--show-secrets"]);
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        stdout.contains(&format!("--data-binary '{BODY}'")),
        "{stdout}"
    );
    let header = stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("-H 'signature: "))
        .and_then(|l| l.strip_suffix("' \\"))
        .expect("a signature header line");
    let (_, merchant_public) = merchant_keys();
    let parts = SignedParts::post(
        "/ams/sandbox/api/v1/payments/pay",
        "SANDBOX_APOFLOW_MERCHANT",
        "1742178172000",
        BODY.as_bytes(),
    );
    verify(&merchant_public, &parts, header).unwrap();
}

#[test]
fn sign_renders_a_body_with_templates_and_names_what_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let body =
        r#"{"paymentRedirectUrl": "{{ redirect_url }}", "paymentRequestId": "{{ uuid() }}"}"#;
    let out = sign_cmd(
        dir.path(),
        body,
        &[
            "--show-secrets",
            "--var",
            "redirect_url=https://shop.example/return",
        ],
    );
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let sent = stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("--data-binary '"))
        .and_then(|l| l.strip_suffix('\''))
        .expect("a body line");
    let sent: serde_json::Value = serde_json::from_str(sent).unwrap();
    assert_eq!(sent["paymentRedirectUrl"], "https://shop.example/return");
    assert_eq!(
        sent["paymentRequestId"].as_str().map(str::len),
        Some(36),
        "{sent}"
    );

    let out = sign_cmd(dir.path(), body, &[]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("`redirect_url` is undefined"), "{stderr}");
    assert!(stderr.contains("--var NAME=VALUE"), "{stderr}");
    assert!(
        out.stdout.is_empty(),
        "nothing is signed when a template fails"
    );
}

#[test]
fn sign_with_a_configured_target_reads_keys_from_env_and_files() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("apo-public.pem"),
        apoflow::apo::target::EMBEDDED_APO_PUBLIC_PEM,
    )
    .unwrap();
    std::fs::write(
        dir.path().join("apoflow.toml"),
        "[targets.sg]\nregion = \"sea\"\nclient_id = \"SANDBOX_5X00000000000000\"\n\
         private_key = { env = \"APO_TEST_MERCHANT_KEY\" }\n\
         apo_public_key = { file = \"apo-public.pem\" }\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("body.json"), "{}").unwrap();
    let run = |with_key: bool| {
        let mut cmd = apoflow_cmd(dir.path(), &[]);
        cmd.args([
            "sign",
            "--target",
            "sg",
            "--api",
            "refund",
            "--body",
            "body.json",
        ])
        .env_remove("APO_TEST_MERCHANT_KEY");
        if with_key {
            cmd.env(
                "APO_TEST_MERCHANT_KEY",
                apoflow::apo::target::EMBEDDED_MERCHANT_PRIVATE_PEM,
            );
        }
        cmd.output().unwrap()
    };
    let out = run(true);
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        stdout.starts_with(
            "curl -sS -X POST 'https://open-sea-global.alipay.com/ams/sandbox/api/v1/payments/refund'"
        ),
        "{stdout}"
    );
    let out = run(false);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    insta::assert_snapshot!(
        "sign_missing_env_key",
        stderr.replace(&dir.path().display().to_string(), "[DIR]")
    );
}

#[test]
fn config_errors_point_at_the_line_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("apoflow.toml"),
        "[targets.sg]\nregion = \"asia\"\nclient_id = \"X\"\n\
         private_key = { env = \"K\" }\napo_public_key = { env = \"P\" }\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("body.json"), "{}").unwrap();
    let out = apoflow_cmd(dir.path(), &[])
        .args([
            "sign",
            "--target",
            "sg",
            "--api",
            "pay",
            "--body",
            "body.json",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    insta::assert_snapshot!(
        "config_unknown_region",
        String::from_utf8(out.stderr)
            .unwrap()
            .replace(&dir.path().display().to_string(), "[DIR]")
    );
}

#[test]
fn keys_generate_writes_the_dashboard_format_and_never_prints_the_private_key() {
    let dir = tempfile::tempdir().unwrap();
    let out = apoflow_cmd(dir.path(), &[])
        .args(["keys", "generate", "--out", "keys"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let private_path = dir.path().join("keys/merchant-private-key.txt");
    let private = std::fs::read_to_string(&private_path).unwrap();
    let public = std::fs::read_to_string(dir.path().join("keys/merchant-public-key.txt")).unwrap();
    assert_eq!(private.lines().count(), 1);
    assert!(private.starts_with("MIIE"), "base64 PKCS#8");
    assert!(
        public.starts_with("MIIBIjAN"),
        "base64 X.509 SPKI of RSA-2048"
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(!stdout.contains(&private.trim()[40..80]));
    insta::assert_snapshot!(
        "keys_generate",
        stdout.replace(&dir.path().display().to_string(), "[DIR]")
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&private_path)
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let key = apoflow::apo::keys::PrivateKey::from_text(&private).unwrap();
    assert_eq!(
        key.public_key().to_spki_base64().unwrap(),
        public.trim(),
        "the two files are one pair"
    );
    // A second run refuses to overwrite.
    let again = apoflow_cmd(dir.path(), &[])
        .args(["keys", "generate", "--out", "keys"])
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8(again.stderr).unwrap().contains("--force"));
}

#[test]
fn r12_keys_generate_never_writes_through_a_symbolic_link() {
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys");
    std::fs::create_dir(&keys).unwrap();
    let elsewhere = dir.path().join("elsewhere.txt");
    std::fs::write(&elsewhere, "untouched\n").unwrap();
    std::os::unix::fs::symlink(&elsewhere, keys.join("merchant-private-key.txt")).unwrap();
    for args in [
        &["keys", "generate", "--out", "keys"][..],
        &["keys", "generate", "--out", "keys", "--force"],
    ] {
        let out = apoflow_cmd(dir.path(), &[]).args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert!(stderr.contains("merchant-private-key.txt"), "{stderr}");
        assert_eq!(std::fs::read_to_string(&elsewhere).unwrap(), "untouched\n");
    }
    // A dangling link is no way around it either.
    let target = dir.path().join("new-file.txt");
    std::fs::remove_file(keys.join("merchant-private-key.txt")).unwrap();
    std::os::unix::fs::symlink(&target, keys.join("merchant-private-key.txt")).unwrap();
    let out = apoflow_cmd(dir.path(), &[])
        .args(["keys", "generate", "--out", "keys", "--force"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8(out.stderr)
            .unwrap()
            .contains("symbolic link")
    );
    assert!(!target.exists());
}
