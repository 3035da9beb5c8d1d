//! The merchant under test, end to end (issue 9): `apoflow run --merchant` starts the example
//! shop (examples/merchant-python: the official SDK `global-open-sdk-python`, unmodified, over
//! verified TLS on port 443) against the embedded sandbox, runs flows/merchant/ and stops it.
//!
//! - the clean shop passes every bundled merchant flow and every item of
//!   checklists/apo-merchant-hosted.yaml; each planted bug (`MERCHANT_BUG`) fails exactly its
//!   own checklist items, and a step that names what the merchant did wrong;
//! - a merchant that exits early, never gets ready or finds its port taken: exit 2 before any
//!   flow runs, with its last output lines; Ctrl-C stops it; nothing is left running;
//! - the example shop's worker processes stop with it (SIGTERM to the first one alone) and never
//!   outlive it (SIGKILL), and leave no temporary database;
//! - an independent shop (tests/shops/node, Node.js, written from the documented contract only)
//!   passes the same flows and items;
//! - `--target` with a `ca_file` runs the card library over HTTPS against a standalone
//!   `apoflow sandbox --tls-dir`.
//!
//! Each test gets its own loopback address for port 443 and its own ports, so they run at once.
//! Needs root (port 443) and `scripts/merchant-venv.sh` (`.ci/run` runs it).

#[path = "support/mod.rs"]
mod support;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use support::{
    Sandbox, Scratch, apoflow_cmd, apoflow_in, both, code, free_port, loopback_443, repo,
    venv_python,
};

/// The example shop's interpreter; the test fails (not skips) without it.
fn shop_python() -> PathBuf {
    let venv = "examples/merchant-python/.venv";
    venv_python(
        venv,
        &format!(
            "{} is missing: run `bash scripts/merchant-venv.sh` first (.ci/run does)",
            repo().join(venv).join("bin/python").display()
        ),
    )
}

/// A config whose `example` merchant is the repository's (apoflow.toml: its pace, `jobs` and
/// environment) on ports of its own, started without the venv step.
fn example_config(s: &Scratch) -> PathBuf {
    let shipped = std::fs::read_to_string(repo().join("apoflow.toml")).expect("apoflow.toml");
    let shipped: toml::Table = toml::from_str(&shipped).expect("apoflow.toml is TOML");
    let mut example = shipped["merchants"]["example"]
        .as_table()
        .expect("apoflow.toml has [merchants.example]")
        .clone();
    let shop = repo().join("examples/merchant-python/shop.py");
    let port = free_port();
    for (key, value) in [
        (
            "command",
            format!("exec '{}' '{}'", shop_python().display(), shop.display()),
        ),
        ("url", format!("http://127.0.0.1:{port}")),
        ("notify_url", format!("http://127.0.0.1:{port}/apo/notify")),
        ("ready_timeout", "60s".to_owned()),
        ("sandbox_listen", format!("{}:443", loopback_443())),
        ("tls_dir", "tls".to_owned()),
    ] {
        example.insert(key.to_owned(), toml::Value::String(value));
    }
    let mut merchants = toml::Table::new();
    merchants.insert("example".to_owned(), toml::Value::Table(example));
    let mut config = toml::Table::new();
    config.insert("merchants".to_owned(), toml::Value::Table(merchants));
    s.write("apoflow.toml", &config.to_string())
}

/// `apoflow run --merchant example --checklist checklists/apo-merchant-hosted.yaml
/// flows/merchant/` from the repository, with a bug planted.
fn run_example(bug: Option<&str>) -> Output {
    let s = Scratch::new();
    let config = example_config(&s);
    let config = config.to_str().expect("utf-8 path");
    let env: Vec<(&str, &str)> = bug.map(|b| ("MERCHANT_BUG", b)).into_iter().collect();
    apoflow_in(
        &repo(),
        &[
            "run",
            "--merchant",
            "example",
            "--config",
            config,
            "--checklist",
            "checklists/apo-merchant-hosted.yaml",
            "flows/merchant/",
        ],
        &env,
    )
}

/// The `(flow file, step)` pairs the terminal report says failed.
fn failed_steps(out: &Output) -> BTreeSet<(String, String)> {
    let text = String::from_utf8_lossy(&out.stdout);
    let mut failed = BTreeSet::new();
    let mut flow = String::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("FAIL  ") {
            flow = rest.split("  ").next().unwrap_or_default().to_owned();
        } else if let Some(rest) = line.trim_start().strip_prefix("step `")
            && let Some((step, _)) = rest.split_once("` failed at")
        {
            failed.insert((flow.clone(), step.to_owned()));
        }
    }
    failed
}

/// The checklist items the coverage table does not show as passed, with their status.
fn unpassed_items(out: &Output) -> BTreeSet<String> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.starts_with("MR-"))
        .filter(|l| !l.trim_end().ends_with("passed"))
        .filter_map(|l| {
            let id = l.split_whitespace().next()?;
            let status = l.split_whitespace().last()?;
            Some(format!("{id} {status}"))
        })
        .collect()
}

#[test]
fn an_independent_shop_written_from_the_contract_passes_every_flow_and_item() {
    // tests/shops/node: Node.js, no SDK, written from the documented contract only.
    let s = Scratch::new();
    let shop = repo().join("tests/shops/node/shop.mjs");
    let config = s.write(
        "apoflow.toml",
        &format!(
            "[merchants.node]\ncommand = \"exec node '{}'\"\nurl = \"http://127.0.0.1:{}\"\nready = \"/health\"\napi_timeout = \"3s\"\nenv = {{ APO_TIMEOUT_MS = \"3000\" }}\nsandbox_listen = \"{}:443\"\ntls_dir = \"tls\"\n",
            shop.display(),
            free_port(),
            loopback_443()
        ),
    );
    let out = apoflow_in(
        &repo(),
        &[
            "run",
            "--jobs",
            "8",
            "--merchant",
            "node",
            "--config",
            config.to_str().expect("utf-8"),
            "--checklist",
            "checklists/apo-merchant-hosted.yaml",
            "flows/merchant/",
        ],
        &[],
    );
    let text = both(&out);
    assert_eq!(code(&out), 0, "{text}");
    assert!(
        text.contains("14 items: 14 passed, 0 failed, 0 not proven, 0 missing"),
        "{text}"
    );
}

#[test]
fn the_clean_example_shop_passes_every_merchant_flow_and_checklist_item() {
    let out = run_example(None);
    let text = both(&out);
    assert_eq!(code(&out), 0, "{text}");
    assert!(text.contains(" 0 failed, 0 errored"), "{text}");
    assert!(
        text.contains("14 items: 14 passed, 0 failed, 0 not proven, 0 missing"),
        "{text}"
    );
    assert!(
        !text.contains("4054695723100768"),
        "a card number leaked:\n{text}"
    );
}

/// Runs the shop with `bug`: exactly `items` fail, and `step` of `flow` is among the failed
/// steps, naming what the merchant did wrong.
fn assert_bug_caught(bug: &str, items: &[&str], (flow, step): (&str, &str)) {
    let out = run_example(Some(bug));
    let text = both(&out);
    assert_eq!(
        code(&out),
        1,
        "MERCHANT_BUG={bug} must fail the run:\n{text}"
    );
    let expected: BTreeSet<String> = items.iter().map(|i| format!("{i} FAILED")).collect();
    assert_eq!(
        unpassed_items(&out),
        expected,
        "MERCHANT_BUG={bug}:\n{text}"
    );
    let failed = failed_steps(&out);
    assert!(
        failed.contains(&(flow.to_owned(), step.to_owned())),
        "MERCHANT_BUG={bug}: expected `{step}` of {flow} to fail; failed: {failed:#?}\n{text}"
    );
    // After a failure the shop's own last lines explain it.
    assert!(text.contains("merchant `example` stopped"), "{text}");
}

#[test]
fn a_wrong_acknowledgement_is_caught() {
    assert_bug_caught(
        "wrong_ack",
        &[
            "MR-01", "MR-04", "MR-05", "MR-06", "MR-07", "MR-08", "MR-10", "MR-11", "MR-13",
            "MR-14",
        ],
        (
            "flows/merchant/auto-capture.yaml",
            "the webhook acknowledges PAYMENT_RESULT in the fixed format, in time",
        ),
    );
}

#[test]
fn a_return_page_that_trusts_the_buyer_is_caught() {
    assert_bug_caught(
        "trust_return",
        &["MR-09"],
        (
            "flows/merchant/return-page-truth.yaml",
            "the buyer returns and the page shows what APO says",
        ),
    );
}

#[test]
fn a_notification_processed_twice_is_caught() {
    assert_bug_caught(
        "non_idempotent",
        &["MR-07", "MR-08"],
        (
            "flows/merchant/resend-processed-once.yaml",
            "the shop applied the payment result once",
        ),
    );
}

#[test]
fn a_webhook_that_skips_verification_is_caught() {
    assert_bug_caught(
        "skip_verify",
        &["MR-05"],
        (
            "flows/merchant/forged-notifications.yaml",
            "a forged CAPTURE_RESULT (unsigned) is rejected",
        ),
    );
}

#[test]
fn a_new_request_id_on_retry_is_caught() {
    assert_bug_caught(
        "new_id_on_retry",
        &["MR-02", "MR-03"],
        (
            "flows/merchant/pay-pending-inquiry.yaml",
            "the shop tried pay three times, always with the same paymentRequestId",
        ),
    );
}

#[test]
fn an_order_left_pending_after_a_failure_is_caught() {
    assert_bug_caught(
        "ignore_fail",
        &["MR-04", "MR-09", "MR-10"],
        ("flows/merchant/risk-rejected.yaml", "the order is failed"),
    );
}

#[test]
fn a_shop_that_never_inquires_is_caught() {
    assert_bug_caught(
        "no_inquiry",
        &["MR-02", "MR-03", "MR-09"],
        (
            "flows/merchant/pay-pending-inquiry.yaml",
            "then asked APO, which has the payment waiting for the buyer",
        ),
    );
}

/// The duplicate comes after the capture's answer, while the steps after "called capture once"
/// run: that step watches in the background, and its window still sees it.
#[test]
fn a_capture_repeated_on_its_notification_is_caught() {
    assert_bug_caught(
        "capture_on_notify",
        &["MR-01", "MR-06", "MR-10", "MR-11", "MR-13", "MR-14"],
        (
            "flows/merchant/manual-capture-refund.yaml",
            "the shop called capture once, signed, for the full amount",
        ),
    );
}

/// A project with one flow against a merchant configured as `[merchants.m]` with `extra`;
/// `PORT` in the command is the merchant's port.
fn tiny_project(command: &str, extra: &str) -> (Scratch, u16) {
    let s = Scratch::new();
    let port = free_port();
    let command = command.replace("PORT", &port.to_string());
    s.write(
        "apoflow.toml",
        &format!(
            "[merchants.m]\ncommand = \"{command}\"\nurl = \"http://127.0.0.1:{port}\"\n{extra}"
        ),
    );
    s.write(
        "flows/up.yaml",
        "name: up\ntags: [merchant]\nsteps:\n  - http: { url: \"{{ merchant.url }}/\" }\n    expect: { status: 200 }\n  - sleep: 30s\n",
    );
    (s, port)
}

#[test]
fn a_merchant_that_exits_early_is_invalid_input_with_its_last_lines() {
    let (s, _) = tiny_project(
        "echo starting; echo 'bad key 4054695723100768' >&2; exit 3",
        "",
    );
    let out = apoflow_in(s.path(), &["run", "--merchant", "m"], &[]);
    let text = both(&out);
    assert_eq!(code(&out), 2, "{text}");
    assert!(
        text.contains("merchant `m` exited (exit status: 3) before it was ready"),
        "{text}"
    );
    assert!(text.contains("| stdout: starting"), "{text}");
    assert!(
        text.contains("************0768") && !text.contains("4054695723100768"),
        "{text}"
    );
    assert!(
        !text.contains("PASS") && !text.contains("FAIL"),
        "no flow may run:\n{text}"
    );
}

#[test]
fn a_merchant_never_ready_or_whose_port_is_taken_is_invalid_input() {
    let (s, _) = tiny_project("sleep 30", "ready_timeout = \"500ms\"\n");
    let started = Instant::now();
    let out = apoflow_in(s.path(), &["run", "--merchant", "m"], &[]);
    let text = both(&out);
    assert_eq!(code(&out), 2, "{text}");
    assert!(text.contains("merchant `m` was not ready within"), "{text}");
    // The `sleep 30` was stopped with its group, not waited for.
    assert!(started.elapsed() < Duration::from_secs(20), "{text}");

    let (s, port) = tiny_project("exec python3 -m http.server PORT --bind 127.0.0.1", "");
    let taken = std::net::TcpListener::bind(("127.0.0.1", port)).expect("bind");
    let out = apoflow_in(s.path(), &["run", "--merchant", "m"], &[]);
    drop(taken);
    let text = both(&out);
    assert_eq!(code(&out), 2, "{text}");
    assert!(text.contains("is already in use"), "{text}");
}

#[test]
fn an_interrupted_run_stops_the_merchant() {
    let s = Scratch::new();
    let pidfile = s.path().join("merchant.pid");
    let (project, port) = tiny_project(
        &format!(
            "echo $$ > {}; exec python3 -m http.server PORT --bind 127.0.0.1",
            pidfile.display()
        ),
        "",
    );
    let child = apoflow_cmd(project.path(), &["run", "--merchant", "m"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("apoflow starts");
    // Wait until the merchant is up and the flow is in its sleep step.
    let deadline = Instant::now() + Duration::from_secs(20);
    let pid = loop {
        if let Ok(pid) = std::fs::read_to_string(&pidfile)
            && std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        {
            break pid.trim().to_owned();
        }
        assert!(Instant::now() < deadline, "the merchant did not start");
        std::thread::sleep(Duration::from_millis(50));
    };
    std::thread::sleep(Duration::from_millis(300));
    let killed = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(killed.success());
    let out = child.wait_with_output().expect("apoflow ends");
    assert_eq!(code(&out), 130, "{}", both(&out));
    std::thread::sleep(Duration::from_millis(200));
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let running = stat
        .rsplit_once(") ")
        .is_some_and(|(_, rest)| !rest.starts_with('Z'));
    assert!(!running, "the merchant (pid {pid}) outlived Ctrl-C: {stat}");
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "the merchant still listens"
    );
}

/// The example shop started by hand (no APO needed until a checkout), with its workers; returns
/// the process and the path of the temporary database its "listening" line names.
fn start_shop(port: u16) -> (std::process::Child, PathBuf) {
    use std::io::{BufRead, BufReader};
    use std::os::unix::process::CommandExt;
    let mut child = std::process::Command::new(shop_python())
        .arg(repo().join("examples/merchant-python/shop.py"))
        .current_dir(repo())
        .env("APO_GATEWAY_URL", "https://127.0.0.1")
        .env("APO_CLIENT_ID", "SANDBOX_WORKERS_TEST")
        .env(
            "APO_MERCHANT_PRIVATE_KEY_FILE",
            "fixtures/keys/merchant-private.pem",
        )
        .env(
            "APO_PUBLIC_KEY_FILE",
            "fixtures/keys/sandbox-apo-public.pem",
        )
        .env("MERCHANT_URL", format!("http://127.0.0.1:{port}"))
        .env("MERCHANT_WORKERS", "2")
        .env_remove("MERCHANT_DB")
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the shop starts");
    let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
    let listening = lines
        .by_ref()
        .map_while(Result::ok)
        .find(|l| l.starts_with("shop: listening"))
        .expect("the shop says it listens");
    assert!(listening.contains(" workers=2"), "{listening}");
    let db = listening
        .split(' ')
        .find_map(|f| f.strip_prefix("db="))
        .expect("the line names the database");
    // Keep reading, so the shop never blocks on a full pipe.
    std::thread::spawn(move || lines.for_each(drop));
    (child, PathBuf::from(db))
}

/// Whether something accepts connections on the port, within `wait`.
fn port_freed(port: u16, wait: Duration) -> bool {
    let deadline = Instant::now() + wait;
    while Instant::now() < deadline {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

#[test]
fn the_example_shops_workers_stop_with_it_and_never_outlive_it() {
    // SIGTERM to the first process alone (not its group): it stops the others and removes the
    // temporary database it made. Every process wakes for a new connection and one accepts it;
    // the other must not then wait in accept, deaf to the signal (a race: three rounds).
    for _ in 0..3 {
        let port = free_port();
        let (mut shop, db) = start_shop(port);
        for _ in 0..100 {
            use std::io::{Read, Write};
            let mut c =
                std::net::TcpStream::connect(("127.0.0.1", port)).expect("the shop accepts");
            c.write_all(b"GET /health HTTP/1.1\r\nHost: shop\r\nConnection: close\r\n\r\n")
                .expect("request sent");
            let mut answer = String::new();
            c.read_to_string(&mut answer).expect("answer read");
            assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        }
        let term = std::process::Command::new("kill")
            .args(["-TERM", &shop.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(term.success());
        let deadline = Instant::now() + Duration::from_secs(10);
        let status = loop {
            if let Some(status) = shop.try_wait().expect("the shop's status") {
                break status;
            }
            if Instant::now() > deadline {
                let _ = std::process::Command::new("kill")
                    .args(["-KILL", "--", &format!("-{}", shop.id())])
                    .status();
                panic!("the shop did not stop within 10 s of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        assert!(status.success(), "{status}");
        assert!(
            port_freed(port, Duration::from_secs(5)),
            "a worker still listens"
        );
        for suffix in ["", "-wal", "-shm"] {
            let file = PathBuf::from(format!("{}{suffix}", db.display()));
            assert!(!file.exists(), "{} was left behind", file.display());
        }
    }

    // SIGKILL to the first process: the other notices and stops, so the port is free again.
    let port = free_port();
    let (mut shop, db) = start_shop(port);
    shop.kill().expect("kill");
    shop.wait().expect("reaped");
    assert!(
        port_freed(port, Duration::from_secs(10)),
        "a worker outlived the first process"
    );
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
}

/// `apoflow sandbox --listen IP:443 --tls-dir TLS` in `s`, listening.
fn tls_sandbox(s: &Scratch, ip: &str, tls: &std::path::Path) -> Sandbox {
    let listen = format!("{ip}:443");
    let tls = tls.to_str().expect("utf-8");
    Sandbox::start_in(s.path(), &listen, &["--tls-dir", tls])
}

#[test]
fn the_card_library_runs_over_https_against_a_standalone_tls_sandbox() {
    let s = Scratch::new();
    let ip = loopback_443();
    let tls = s.path().join("tls");
    let sandbox = tls_sandbox(&s, &ip, &tls);
    let keys = repo().join("fixtures/keys");
    let config = s.write(
        "apoflow.toml",
        &format!(
            r#"[targets.tls]
endpoint = "https://{ip}"
client_id = "SANDBOX_APOFLOW_MERCHANT"
private_key = {{ file = "{keys}/merchant-private.pem" }}
apo_public_key = {{ file = "{keys}/sandbox-apo-public.pem" }}
ca_file = "tls/ca.pem"
"#,
            keys = keys.display()
        ),
    );
    let config = config.to_str().expect("utf-8");
    let run = |extra: &str| {
        let mut args = vec!["run", "--target", "tls", "--config", config];
        args.extend(["--tags", "not sandbox-only", "flows/"]);
        if !extra.is_empty() {
            args.push(extra);
        }
        apoflow_in(&repo(), &args, &[])
    };
    let out = run("");
    drop(sandbox);
    let text = both(&out);
    assert_eq!(code(&out), 0, "{text}");
    assert!(text.contains("passed, 0 failed, 0 errored"), "{text}");

    // Without the CA the same target fails verification: the trust really comes from ca_file.
    let bad = std::fs::read_to_string(s.path().join("apoflow.toml"))
        .expect("config")
        .replace("ca_file = \"tls/ca.pem\"\n", "");
    std::fs::write(s.path().join("apoflow.toml"), bad).expect("config");
    let sandbox = tls_sandbox(&s, &ip, &tls);
    let out = apoflow_in(
        &repo(),
        &[
            "run",
            "--target",
            "tls",
            "--config",
            config,
            "flows/card/declined.yaml",
        ],
        &[],
    );
    drop(sandbox);
    let text = both(&out);
    assert_eq!(code(&out), 1, "{text}");
    assert!(text.to_lowercase().contains("certificate"), "{text}");
}

#[test]
fn the_standalone_sandbox_registers_the_configured_merchants_and_says_how_to_start_them() {
    use std::io::BufRead;
    use std::os::unix::fs::PermissionsExt;
    let s = Scratch::new();
    s.write(
        "apoflow.toml",
        "[merchants.shop]\ncommand = \"true\"\nurl = \"http://127.0.0.1:8710\"\nnotify_url = \"http://127.0.0.1:8710/apo/notify\"\n",
    );
    let mut child = apoflow_cmd(s.path(), &["sandbox", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the sandbox starts");
    let mut banner = String::new();
    let mut out = std::io::BufReader::new(child.stdout.take().expect("stdout"));
    while !banner.contains("Press Ctrl-C") {
        if out.read_line(&mut banner).expect("banner") == 0 {
            break;
        }
    }
    let key_file = banner
        .lines()
        .find_map(|l| l.trim().strip_prefix("APO_MERCHANT_PRIVATE_KEY_FILE="))
        .map(PathBuf::from);
    let mode = key_file
        .as_ref()
        .and_then(|f| std::fs::metadata(f).ok())
        .map(|m| m.permissions().mode() & 0o777);
    let _ = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status();
    let _ = child.wait();
    assert!(
        banner.contains("merchant `shop` (SANDBOX_APOFLOW_SHOP), notifications to http://127.0.0.1:8710/apo/notify"),
        "{banner}"
    );
    assert!(
        banner.contains("APO_CLIENT_ID=SANDBOX_APOFLOW_SHOP"),
        "{banner}"
    );
    assert!(
        banner.contains("APO_GATEWAY_URL=http://127.0.0.1:"),
        "{banner}"
    );
    assert_eq!(mode, Some(0o600), "{banner}");
    // The key files go with the sandbox.
    assert!(!key_file.expect("a key file").exists());
}
