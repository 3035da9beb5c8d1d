//! Engine overhead: a flow of 1000 `http` steps (3 assertions each, a templated JSON body)
//! against a local axum server, run by the real binary. Prints figures, asserts nothing.
//!
//! ```text
//! per step      = (wall(run 1000-step flow) - wall(run 1-step flow)) / 999
//! load per step = (wall(validate 1000-step flow) - wall(validate 1-step flow)) / 999
//! engine cost   = per step - load per step - a bare reqwest round trip to the same route
//! peak memory   = "Maximum resident set size" from /usr/bin/time -v (when present)
//! ```
//! Run with `scripts/bench-engine.sh` (or `cargo bench --bench engine`).

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::post;
use serde_json::json;

const STEPS: usize = 1000;

fn main() {
    let rt = tokio::runtime::Runtime::new().expect("a runtime");
    let base = rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let app = Router::new().route(
            "/pay",
            post(
                |axum::Json(body): axum::Json<serde_json::Value>| async move {
                    axum::Json(json!({
                        "result": { "resultStatus": "S", "resultCode": "SUCCESS" },
                        "paymentId": body["paymentRequestId"],
                        "paymentAmount": { "currency": "SGD", "value": "4200" },
                    }))
                },
            ),
        );
        tokio::spawn(async move { axum::serve(listener, app).await });
        format!("http://{addr}")
    });

    let dir = tempfile::tempdir().expect("a temp dir");
    write_flow(&dir.path().join("big.yaml"), &base, STEPS);
    write_flow(&dir.path().join("one.yaml"), &base, 1);

    let baseline = rt.block_on(async {
        let client = reqwest::Client::new();
        let start = Instant::now();
        for i in 0..STEPS {
            let body = json!({ "paymentRequestId": format!("req-{i}"), "paymentAmount": { "currency": "SGD", "value": "4200" } });
            let r = client.post(format!("{base}/pay")).json(&body).send().await.expect("send");
            let _: serde_json::Value = r.json().await.expect("json");
        }
        start.elapsed() / STEPS as u32
    });

    let one = median(
        (0..5)
            .map(|_| run(dir.path(), "run", "one.yaml").0)
            .collect(),
    );
    let runs: Vec<_> = (0..3).map(|_| run(dir.path(), "run", "big.yaml")).collect();
    let big = median(runs.iter().map(|r| r.0).collect());
    let rss = runs.iter().filter_map(|r| r.1).max();
    let per_step = (big.saturating_sub(one)) / (STEPS as u32 - 1);
    let load_one = median(
        (0..5)
            .map(|_| run(dir.path(), "validate", "one.yaml").0)
            .collect(),
    );
    let load_big = median(
        (0..3)
            .map(|_| run(dir.path(), "validate", "big.yaml").0)
            .collect(),
    );
    let load_per_step = (load_big.saturating_sub(load_one)) / (STEPS as u32 - 1);

    println!("engine bench: {STEPS} http steps, 3 assertions each, templated JSON body");
    println!(
        "  1-step flow (process start-up, load, one request): {:>8.1} ms",
        ms(one)
    );
    println!(
        "  {STEPS}-step flow:                                   {:>8.1} ms",
        ms(big)
    );
    println!(
        "  per step:                                          {:>8.1} µs",
        us(per_step)
    );
    println!(
        "  of which loading and checking (validate):          {:>8.1} µs",
        us(load_per_step)
    );
    println!(
        "  bare reqwest round trip (same route):              {:>8.1} µs",
        us(baseline)
    );
    println!(
        "  engine overhead per step:                          {:>8.1} µs",
        us(per_step
            .saturating_sub(load_per_step)
            .saturating_sub(baseline))
    );
    match rss {
        Some(kb) => println!(
            "  peak memory (max RSS, {STEPS}-step run):             {:>8.1} MiB",
            kb as f64 / 1024.0
        ),
        None => println!("  peak memory: /usr/bin/time not found"),
    }
}

fn write_flow(path: &Path, base: &str, steps: usize) {
    let mut text =
        format!("name: Bench {steps}\nvars: {{ base: \"{base}\", amount: \"4200\" }}\nsteps:\n");
    for i in 0..steps {
        text.push_str(&format!(
            "  - id: s{i}\n    http: {{ url: \"{{{{ base }}}}/pay\", json: {{ paymentRequestId: \"req-{i}-{{{{ uuid() }}}}\", paymentAmount: {{ currency: SGD, value: \"{{{{ amount }}}}\" }} }} }}\n    expect:\n      status: 200\n      $.result.resultStatus: S\n      $.paymentAmount.value: {{ one_of: [\"{{{{ amount }}}}\"] }}\n"
        ));
    }
    std::fs::write(path, text).expect("write the flow");
}

/// Runs `apoflow <subcommand> <flow>`; the wall time, and the peak RSS in KiB when measurable.
fn run(dir: &Path, subcommand: &str, flow: &str) -> (Duration, Option<u64>) {
    let bin = env!("CARGO_BIN_EXE_apoflow");
    let timed = Path::new("/usr/bin/time").exists();
    let mut cmd = if timed {
        let mut c = Command::new("/usr/bin/time");
        c.arg("-v").arg(bin);
        c
    } else {
        Command::new(bin)
    };
    cmd.args([subcommand, flow]).current_dir(dir);
    let start = Instant::now();
    let out = cmd.output().expect("the binary runs");
    let wall = start.elapsed();
    assert!(
        out.status.success(),
        "the bench flow failed:\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let rss = String::from_utf8_lossy(&out.stderr).lines().find_map(|l| {
        l.trim()
            .strip_prefix("Maximum resident set size (kbytes): ")
            .and_then(|v| v.parse().ok())
    });
    (wall, rss)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}
