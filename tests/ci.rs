//! CI at scale, through the real binary against a real HTTP server on 127.0.0.1: retries and
//! flaky cases (also against a live target), sharding with `--partition` and `apoflow report
//! merge`, GitHub annotations and JUnit locations, the masked and escaped outputs, the progress
//! line on a pseudo-terminal (`script`), the HTML report in headless Chromium (read back with
//! `pdftotext`), real evidence times, and a report that cannot be written.

#[allow(dead_code)] // the parts tests/run.rs uses
#[path = "run/local.rs"]
mod local;
#[path = "support/mod.rs"]
mod support;

use local::{Project, stable};
use quick_junit::{Report, TestCaseStatus};
use serde_json::Value;
use support::{both, code};

fn json_report(p: &Project, rel: &str) -> Value {
    serde_json::from_str(&p.read(rel)).expect("the JSON report parses")
}

/// A key of the test server's counters that no other test uses.
fn unique(name: &str) -> String {
    format!("{name}-{}", fastrand::u64(..))
}

/// A flow whose check holds from the second call on: it fails once, then passes.
fn fails_once(key: &str, extra: &str) -> String {
    format!(
        "name: Fails once\n{extra}steps:\n  - id: call\n    http: {{ url: \"BASE/count/{key}\" }}\n    expect:\n      $.count: {{ gte: 2 }}\n"
    )
}

#[test]
fn a_case_that_fails_once_then_passes_is_reported_flaky_everywhere() {
    let p = Project::new();
    p.file("flows/flaky.yaml", &fails_once(&unique("flaky"), ""));
    let out = p.run(&["--retries", "2", "--json", "out.json", "--junit", "out.xml"]);
    let text = both(&out);
    assert_eq!(code(&out), 0, "{text}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("RETRY flows/flaky.yaml  Fails once  (attempt 1 of 3 failed,"),
        "{text}"
    );
    assert!(
        stdout.contains("FLAKY flows/flaky.yaml  Fails once  (passed on attempt 2,"),
        "{text}"
    );
    assert!(
        stdout.ends_with("1 passed (1 flaky), 0 failed, 0 errored, 0 skipped\n"),
        "{text}"
    );

    let json = json_report(&p, "out.json");
    assert_eq!(json["summary"]["flaky"], 1);
    let case = &json["cases"][0];
    assert_eq!(case["status"], "passed");
    assert_eq!(case["flaky"], true);
    assert_eq!(case["retries"].as_array().unwrap().len(), 1);
    assert_eq!(case["retries"][0]["status"], "failed");
    assert_eq!(
        case["retries"][0]["steps"][0]["assertions"][0]["actual"],
        "integer <1>"
    );

    let junit = Report::deserialize_from_str(&p.read("out.xml")).unwrap();
    let test = &junit.test_suites[0].test_cases[0];
    match &test.status {
        TestCaseStatus::Success { flaky_runs } => assert_eq!(flaky_runs.len(), 1),
        other => panic!("a flaky case is a success with flaky runs, not {other:?}"),
    }
    assert!(p.read("out.xml").contains("<flakyFailure"));
}

#[test]
fn the_terminal_report_of_a_run_with_retries() {
    let p = Project::new();
    p.file("flows/a-flaky.yaml", &fails_once(&unique("snap"), "retries: 2\n"))
        .file(
            "flows/b-fails.yaml",
            "name: Always fails\nretries: 1\nsteps:\n  - id: pay\n    http: { url: \"BASE/json\" }\n    expect:\n      $.result.resultCode: FAIL\n",
        );
    let out = p.run(&["--jobs", "1"]);
    assert_eq!(code(&out), 1, "{}", both(&out));
    // The key of the counter differs each run.
    let key = regex::Regex::new(r"snap-\d+").unwrap();
    let text = stable(&String::from_utf8_lossy(&out.stdout));
    let text = regex::Regex::new(r#"last response: 200 \{.*\}"#)
        .unwrap()
        .replace_all(&text, "last response: 200 {…}");
    insta::assert_snapshot!(key.replace_all(&text, "snap-[KEY]"));
}

#[test]
fn a_flow_says_how_many_retries_it_gets_and_running_out_fails() {
    let p = Project::new();
    // The flow's `retries: 0` wins over `--retries 3`: one attempt, failed.
    p.file(
        "flows/never.yaml",
        &fails_once(&unique("never"), "retries: 0\n"),
    );
    let out = p.run(&["--retries", "3", "--junit", "out.xml"]);
    assert_eq!(code(&out), 1, "{}", both(&out));
    assert!(!both(&out).contains("RETRY"), "{}", both(&out));

    // Three calls are needed; `retries: 1` allows two: it fails after two attempts.
    let p = Project::new();
    let key = unique("twice");
    p.file(
        "flows/twice.yaml",
        &format!(
            "name: Needs three\nretries: 1\nsteps:\n  - http: {{ url: \"BASE/count/{key}\" }}\n    expect:\n      $.count: {{ gte: 3 }}\n"
        ),
    );
    let out = p.run(&["--junit", "out.xml", "--json", "out.json"]);
    assert_eq!(code(&out), 1, "{}", both(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("FAIL  flows/twice.yaml  Needs three  (2 attempts,"),
        "{stdout}"
    );
    assert!(
        p.read("out.xml").contains("<rerunFailure"),
        "{}",
        p.read("out.xml")
    );
    let json = json_report(&p, "out.json");
    assert_eq!(json["cases"][0]["flaky"], false);
    assert_eq!(json["cases"][0]["retries"].as_array().unwrap().len(), 1);
}

#[test]
fn too_many_retries_are_refused_before_anything_runs() {
    let p = Project::new();
    p.file(
        "flows/many.yaml",
        &fails_once(&unique("many"), "retries: 11\n"),
    );
    let out = p.run(&[]);
    assert_eq!(code(&out), 2, "{}", both(&out));
    assert!(both(&out).contains("at most 10 times"), "{}", both(&out));
    assert!(both(&out).contains("many.yaml:2"), "{}", both(&out));
    let out = p.run(&["--retries", "11"]);
    assert_eq!(code(&out), 2, "{}", both(&out));
}

/// A suite of 12 cases: flows, a matrix, a failure, covering the items of a small checklist.
fn suite(p: &Project) {
    for i in 0..6 {
        p.file(
            &format!("flows/f{i}.yaml"),
            &format!(
                "name: Flow {i}\ncovers: [TS-0{}]\nsteps:\n  - id: get\n    http: {{ url: \"BASE/json\" }}\n    expect:\n      status: 200\n      $.count: {}\n",
                i % 3 + 1,
                if i == 4 { 41 } else { 42 }
            ),
        );
    }
    p.file(
        "flows/matrix.yaml",
        "name: Matrix\ncovers: [TS-03]\nmatrix: { card: [visa, mc, amex], mode: [A, B] }\nsteps:\n  - http: { url: \"BASE/json?c={{ card }}&m={{ mode }}\" }\n    expect:\n      $.count: 42\n",
    );
    p.file(
        "checklist.yaml",
        "name: Test checklist\nitems:\n  - { id: TS-01, title: One, passing: one, proof: [{ step: http, checks: [status] }] }\n  - { id: TS-02, title: Two, passing: two, proof: [{ step: http, checks: [status] }] }\n  - { id: TS-03, title: Three, passing: three, proof: [{ assertion: any }] }\n",
    );
}

/// The JSON report without what differs between two runs of the same cases: timings and
/// times, when and where the run happened (each run has its own sandbox port), and `date`
/// headers.
fn normalised(mut v: Value) -> Value {
    fn strip(v: &mut Value) {
        match v {
            Value::Object(map) => {
                for volatile in ["duration", "date", "started", "at"] {
                    map.remove(volatile);
                }
                map.values_mut().for_each(strip);
            }
            Value::Array(items) => items.iter_mut().for_each(strip),
            _ => {}
        }
    }
    v.as_object_mut().unwrap().remove("run");
    strip(&mut v);
    v
}

fn case_indexes(report: &Value) -> Vec<u64> {
    report["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["index"].as_u64().unwrap())
        .collect()
}

#[test]
fn three_shards_run_every_case_once_and_merge_into_the_unsharded_reports() {
    let p = Project::new();
    suite(&p);
    let full = p.run(&["--json", "full.json", "--junit", "full.xml"]);
    assert_eq!(code(&full), 1, "{}", both(&full));
    let full_json = json_report(&p, "full.json");
    assert_eq!(case_indexes(&full_json), (0..12).collect::<Vec<_>>());

    let mut seen = Vec::new();
    for k in 1..=3 {
        let part = format!("{k}/3");
        let out = p.run(&["--partition", &part, "--json", &format!("s{k}.json")]);
        assert!(matches!(code(&out), 0 | 1), "{}", both(&out));
        let shard = json_report(&p, &format!("s{k}.json"));
        assert_eq!(shard["partition"], part.as_str());
        let runs = case_indexes(&shard).len();
        assert!(
            both(&out).contains(&format!("note: shard {part} runs {runs} of the 12 cases")),
            "{}",
            both(&out)
        );
        seen.extend(case_indexes(&shard));
    }
    seen.sort_unstable();
    assert_eq!(
        seen,
        (0..12).collect::<Vec<_>>(),
        "every case runs exactly once"
    );

    let out = support::apoflow_in(
        p.path(),
        &[
            "report",
            "merge",
            "s1.json",
            "s2.json",
            "s3.json",
            "--json",
            "merged.json",
            "--junit",
            "merged.xml",
            "--checklist",
            "checklist.yaml",
            "--evidence",
            "evidence",
            "--html",
            "html",
            "--annotations",
            "github",
        ],
        &[("GITHUB_STEP_SUMMARY", "summary.md")],
    );
    assert_eq!(
        code(&out),
        1,
        "a failed case fails the merge too: {}",
        both(&out)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.starts_with("merged 3 reports\nPASS  flows/f0.yaml  Flow 0  ("),
        "{stdout}"
    );
    assert!(
        stdout.contains("FAIL  flows/f4.yaml  Flow 4  ("),
        "{stdout}"
    );
    assert!(stdout.contains("12 cases in "), "{stdout}");
    let commands: Vec<&str> = stdout.lines().filter(|l| l.starts_with("::")).collect();
    assert_eq!(commands.len(), 1, "{stdout}");
    assert!(
        commands[0].starts_with("::error file=flows/f4.yaml,line=8,"),
        "{stdout}"
    );
    assert!(p.read("summary.md").contains("| 12 | 11 | 0 | 1 | 0 | 0 |"));
    assert!(p.read("html/index.html").contains("Flow 4"));
    assert!(
        stdout.contains("\n11 passed, 1 failed, 0 errored, 0 skipped\n"),
        "{stdout}"
    );
    let (merged, full) = (
        normalised(json_report(&p, "merged.json")),
        normalised(full_json),
    );
    for (m, f) in merged["cases"]
        .as_array()
        .unwrap()
        .iter()
        .zip(full["cases"].as_array().unwrap())
    {
        assert_eq!(
            m, f,
            "the merged JSON report's cases are the unsharded run's"
        );
    }
    assert_eq!(
        merged, full,
        "the merged JSON report is the unsharded run's"
    );
    let junit = |rel: &str| {
        let mut r = Report::deserialize_from_str(&p.read(rel)).unwrap();
        r.time = None;
        r.timestamp = None;
        for s in &mut r.test_suites {
            s.time = None;
            for t in &mut s.test_cases {
                t.time = None;
            }
        }
        r
    };
    assert_eq!(junit("merged.xml"), junit("full.xml"));
    // The checklist verdict of the merged run: TS-02 is covered by the failing flow 4.
    assert!(stdout.contains("TS-02"), "{stdout}");
    assert!(p.path().join("evidence/summary.json").is_file());
    let summary: Value =
        serde_json::from_str(&p.read("evidence/summary.json")).expect("summary parses");
    let items = summary["items"].as_array().expect("items");
    assert_eq!(items.len(), 3, "{summary}");
}

#[test]
fn merging_refuses_a_missing_shard_and_a_shard_with_a_checklist_is_refused() {
    let p = Project::new();
    suite(&p);
    let out = p.run(&["--partition", "1/2", "--json", "s1.json"]);
    assert!(matches!(code(&out), 0 | 1), "{}", both(&out));
    let out = support::apoflow_in(p.path(), &["report", "merge", "s1.json"], &[]);
    assert_eq!(code(&out), 2, "{}", both(&out));
    assert!(both(&out).contains("shard 2/2 missing"), "{}", both(&out));

    let out = p.run(&["--partition", "1/2", "--checklist", "checklist.yaml"]);
    assert_eq!(code(&out), 2, "{}", both(&out));
    assert!(
        both(&out).contains("apoflow report merge --checklist"),
        "{}",
        both(&out)
    );

    let out = p.run(&["--partition", "0/2"]);
    assert_eq!(code(&out), 2, "{}", both(&out));
    assert!(both(&out).contains("write K/N"), "{}", both(&out));
}

/// GitHub's own unescaping of a workflow command value.
fn unescape(text: &str) -> String {
    text.replace("%0A", "\n")
        .replace("%0D", "\r")
        .replace("%3A", ":")
        .replace("%2C", ",")
        .replace("%25", "%")
}

#[test]
fn on_github_actions_each_failure_is_an_annotation_at_its_step_and_a_job_summary() {
    let p = Project::new();
    let key = unique("gh");
    // A hostile name: a comma, a colon, a percent sign and a line that would be a command.
    p.file(
        "flows/fail.yaml",
        "name: \"Pay, 100%: ok\\n::error file=x::forged\"\nsteps:\n  - id: ok\n    http: { url: \"BASE/json\" }\n  - id: pay\n    http: { url: \"BASE/json\" }\n    expect:\n      status: 200\n      $.result.resultCode: FAIL\n",
    )
    .file("flows/flaky.yaml", &fails_once(&key, "retries: 1\n"))
    .file("flows/ok.yaml", "name: Fine\nsteps:\n  - http: { url: \"BASE/json\" }\n");
    let summary = p.path().join("summary.md");
    std::fs::write(&summary, "earlier step's summary\n").unwrap();
    let out = support::apoflow_in(
        p.path(),
        &["run", "--jobs", "1", "--junit", "out.xml"],
        &[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_STEP_SUMMARY", summary.to_str().unwrap()),
        ],
    );
    assert_eq!(code(&out), 1, "{}", both(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let command =
        regex::Regex::new(r"^::(error|warning) file=([^,:]*),line=(\d+),title=([^:]*)::(.*)$")
            .unwrap();
    let commands: Vec<_> = stdout.lines().filter(|l| l.starts_with("::")).collect();
    assert_eq!(
        commands.len(),
        2,
        "one error, one warning, nothing forged: {stdout}"
    );
    let error = command.captures(commands[0]).expect(commands[0]);
    assert_eq!(&error[1], "error");
    assert_eq!(&error[2], "flows/fail.yaml");
    assert_eq!(&error[3], "9", "the failed assertion's line");
    assert_eq!(
        unescape(&error[4]),
        "Pay, 100%: ok\n::error file=x::forged: step `pay` failed"
    );
    let message = unescape(&error[5]);
    assert!(
        message.contains("$.result.resultCode  (flows/fail.yaml:9:7)"),
        "{message}"
    );
    assert!(message.contains("expected: string <FAIL>"), "{message}");
    let warning = command.captures(commands[1]).expect(commands[1]);
    assert_eq!(
        (&warning[1], &warning[2], &warning[3]),
        ("warning", "flows/flaky.yaml", "7")
    );
    assert!(
        unescape(&warning[4]).ends_with(": flaky"),
        "{}",
        &warning[4]
    );

    let md = std::fs::read_to_string(&summary).unwrap();
    assert!(
        md.starts_with("earlier step's summary\n## apoflow: ❌ failed\n"),
        "{md}"
    );
    assert!(md.contains("| 3 | 2 | 1 | 1 | 0 | 0 |"), "{md}");
    assert!(
        md.contains("### Failed") && md.contains("### Flaky"),
        "{md}"
    );

    // GitLab: each testcase says where it is.
    let xml = p.read("out.xml");
    assert!(xml.contains(r#"file="flows/fail.yaml" line="5""#), "{xml}");
    assert!(xml.contains(r#"file="flows/ok.yaml" line="1""#), "{xml}");

    // Without GITHUB_ACTIONS, or with --annotations none: no commands.
    for env in [&[][..], &[("GITHUB_ACTIONS", "true")][..]] {
        let args: &[&str] = if env.is_empty() {
            &["run"]
        } else {
            &["run", "--annotations", "none"]
        };
        let out = support::apoflow_in(p.path(), args, env);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(!stdout.lines().any(|l| l.starts_with("::")), "{stdout}");
    }
}

#[test]
fn names_cannot_forge_terminal_lines_or_break_the_junit_xml() {
    let p = Project::new();
    // An ESC sequence and a line break in a flow name, trying to print a green PASS line; a
    // carriage return and U+FFFE (which XML forbids) in a step name.
    p.file(
        "flows/forge.yaml",
        "name: \"Forged\\n\\e[1;32mPASS \\e[0m flows/ok.yaml  All good  (1 ms)\\e[2K\"\nsteps:\n  - name: \"pay\\r\\uFFFE\\e]0;title\\a\"\n    http: { url: \"BASE/json\" }\n    expect:\n      status: 201\n",
    );
    let out = p.run(&["--junit", "out.xml", "--json", "out.json"]);
    assert_eq!(code(&out), 1, "{}", both(&out));
    assert!(
        !out.stdout.contains(&0x1b) && !out.stdout.contains(&b'\r'),
        "no control character reaches the terminal: {:?}",
        String::from_utf8_lossy(&out.stdout)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!stdout.lines().any(|l| l.starts_with("PASS")), "{stdout}");
    assert!(
        stdout.starts_with(
            "FAIL  flows/forge.yaml  Forged\\n\\x1b[1;32mPASS \\x1b[0m flows/ok.yaml  All good  (1 ms)\\x1b[2K  ("
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("step `pay\\r\\u{fffe}\\x1b]0;title\\x07` failed"),
        "{stdout}"
    );

    let xml = p.read("out.xml");
    assert!(!xml.contains('\u{fffe}'), "{xml}");
    let junit = Report::deserialize_from_str(&xml).expect("the JUnit XML stays well-formed");
    let message = match &junit.test_suites[0].test_cases[0].status {
        TestCaseStatus::NonSuccess { message, .. } => message.clone().unwrap(),
        other => panic!("{other:?}"),
    };
    assert!(message.contains("\\u{fffe}"), "{message:?}");
    // The JSON report keeps the name as it is (JSON escapes every character).
    let json = json_report(&p, "out.json");
    assert_eq!(
        json["cases"][0]["steps"][0]["name"],
        "pay\r\u{fffe}\x1b]0;title\x07"
    );
}

/// `apoflow run` in `dir` on a pseudo-terminal (util-linux `script`), with `env`; its output.
fn run_on_a_terminal(dir: &std::path::Path, env: &[(&str, &str)]) -> String {
    let mut cmd = std::process::Command::new("script");
    cmd.args([
        "-qec",
        &format!("{} run --jobs 2", env!("CARGO_BIN_EXE_apoflow")),
        "/dev/null",
    ])
    .current_dir(dir)
    .env_remove("CI")
    .env_remove("GITHUB_ACTIONS");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("`script` (util-linux) runs");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn progress_shows_on_a_terminal_only_and_never_on_ci() {
    let p = Project::new();
    for i in 0..3 {
        p.file(
            &format!("flows/s{i}.yaml"),
            &format!("name: Slow {i}\nsteps:\n  - sleep: 300ms\n"),
        );
    }
    let tty = run_on_a_terminal(p.path(), &[]);
    assert!(tty.contains("/3 cases · "), "{tty:?}");
    assert!(tty.contains("running · Slow"), "{tty:?}");
    assert!(tty.contains("3 passed, 0 failed"), "{tty:?}");
    let ci = run_on_a_terminal(p.path(), &[("CI", "true")]);
    assert!(!ci.contains("cases · "), "{ci:?}");
    assert!(ci.contains("3 passed, 0 failed"), "{ci:?}");
    // A pipe.
    let out = p.run(&[]);
    assert!(!both(&out).contains("cases · "), "{}", both(&out));
}

/// Runs headless Chromium (Debian's `chromium`) on `args` with a fresh profile.
fn chromium(profile: &std::path::Path, args: &[&str]) {
    let status = std::process::Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--no-first-run",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .expect("chromium runs (apt-get install -y chromium poppler-utils; .ci/run does)");
    assert!(status.success(), "chromium {args:?}: {status}");
}

#[test]
fn the_html_report_reads_in_a_browser_without_scripts_or_network() {
    let p = Project::new();
    let key = unique("html");
    p.file(
        "flows/fail.yaml",
        "name: \"Pay <script>alert(1)</script>\"\nsteps:\n  - id: pay\n    http: { url: \"BASE/echo\", json: { card: \"4111111111111111\" } }\n  - id: check\n    http: { url: \"BASE/json\" }\n    expect:\n      $.paymentAmount: { equals: { currency: SGD, value: \"4300\" } }\n",
    )
    .file("flows/flaky.yaml", &fails_once(&key, "retries: 1\n"))
    .file(
        "flows/ok.yaml",
        "name: Fine\nsteps:\n  - name: quiet-passing-step\n    http: { url: \"BASE/json\" }\n",
    );
    let out = p.run(&["--html", "out/report", "--jobs", "1"]);
    assert_eq!(code(&out), 1, "{}", both(&out));
    assert!(
        both(&out).contains("html report written to out/report/index.html"),
        "{}",
        both(&out)
    );
    let html = p.read("out/report/index.html");
    // Self-contained and script-free: nothing fetched, nothing run.
    for banned in [
        "<script", "<link", "src=", "@import", "url(", " onload", " onclick",
    ] {
        assert!(!html.contains(banned), "`{banned}` in the page");
    }
    assert!(
        !html.contains("4111111111111111"),
        "a card number in the page"
    );
    assert!(html.contains("************1111"));
    assert!(
        html.contains("href=\"../../flows/fail.yaml#L8\""),
        "a link to the failed line"
    );

    let pdf = p.path().join("report.pdf");
    chromium(
        &p.path().join("profile"),
        &[
            "--no-pdf-header-footer",
            &format!("--print-to-pdf={}", pdf.display()),
            &format!(
                "file://{}",
                p.path().join("out/report/index.html").display()
            ),
        ],
    );
    let text = std::process::Command::new("pdftotext")
        .args(["-layout", pdf.to_str().unwrap(), "-"])
        .output()
        .expect("pdftotext (poppler-utils) runs");
    let visible = String::from_utf8_lossy(&text.stdout);
    for shown in [
        "apoflow report: FAILED",
        "Failures",
        "Pay <script>alert(1)</script>",
        "step check failed at flows/fail.yaml:5",
        "$.paymentAmount",
        "flows/fail.yaml:8",
        "FLAKY",
        "Flaky: passed after 1 failed attempt.",
        "FAIL",
        "PASS Fine",
    ] {
        assert!(
            visible.contains(shown),
            "`{shown}` is not visible:\n{visible}"
        );
    }
    // A diff of the objects, expected (-) against actual (+).
    let line = |sign: &str, value: &str| {
        regex::Regex::new(&format!(r#"(?m)^\s*\{sign}\s+"value": "{value}"$"#)).unwrap()
    };
    assert!(line("-", "4300").is_match(&visible), "{visible}");
    assert!(line("+", "4200").is_match(&visible), "{visible}");
    // A passing case is folded: its steps are in the page, not on screen.
    assert!(html.contains("quiet-passing-step"));
    assert!(!visible.contains("quiet-passing-step"), "{visible}");

    let png = p.path().join("shot.png");
    chromium(
        &p.path().join("profile2"),
        &[
            "--window-size=1200,900",
            &format!("--screenshot={}", png.display()),
            &format!(
                "file://{}",
                p.path().join("out/report/index.html").display()
            ),
        ],
    );
    let bytes = std::fs::read(&png).expect("a screenshot");
    assert!(bytes.starts_with(b"\x89PNG"), "a PNG");
}

#[test]
fn a_report_that_cannot_be_written_after_the_run_exits_1_and_says_so() {
    let p = Project::new();
    p.file(
        "flows/ok.yaml",
        "name: Fine\nsteps:\n  - http: { url: \"BASE/json\" }\n",
    );
    // A folder where the JUnit file should go: the flows run, the file cannot be written.
    std::fs::create_dir_all(p.path().join("taken.xml")).unwrap();
    let out = p.run(&["--junit", "taken.xml", "--json", "ok.json"]);
    assert_eq!(code(&out), 1, "{}", both(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("error: failed to write the JUnit report taken.xml"),
        "{stderr}"
    );
    assert!(
        stderr.contains("error: the flows ran, but 1 report could not be written (exit 1)"),
        "{stderr}"
    );
    // The other reports are still written.
    assert_eq!(json_report(&p, "ok.json")["summary"]["passed"], 1);
}

#[test]
fn evidence_times_are_when_the_messages_happened() {
    let p = Project::new();
    let key = unique("times");
    // The third call answers DONE: the request kept is the one of the last try, sent after two
    // waits of 200 ms (at least 400 ms after the case started).
    p.file(
        "flows/poll.yaml",
        &format!(
            "name: Polls\ncovers: [TS-01]\nsteps:\n  - http: {{ url: \"BASE/count/{key}\" }}\n    until: {{ $.status: DONE }}\n    every: 200ms\n    within: 10s\n    expect:\n      status: 200\n"
        ),
    )
    .file(
        "checklist.yaml",
        "name: Test checklist\nitems:\n  - { id: TS-01, title: One, passing: one, proof: [{ step: http, checks: [status] }] }\n",
    );
    let out = p.run(&["--checklist", "checklist.yaml", "--evidence", "ev"]);
    assert_eq!(code(&out), 0, "{}", both(&out));
    let item: Value = serde_json::from_str(&p.read("ev/TS-01/polls.json")).expect("evidence");
    let exchanges = item["exchanges"].as_array().expect("exchanges");
    let at = |kind: &str| {
        exchanges
            .iter()
            .find(|e| e["kind"] == kind)
            .and_then(|e| e["at_ms"].as_u64())
            .expect(kind)
    };
    assert!(at("request") >= 400, "{item}");
    assert!(at("response") >= at("request"), "{item}");
}

#[test]
fn on_a_live_target_a_case_that_changes_state_is_retried_only_when_its_flow_allows_it() {
    let sandbox = support::Sandbox::start(&[]);
    let keys = support::repo().join("fixtures/keys");
    let p = Project::new();
    p.file(
        "apoflow.toml",
        &format!(
            "[targets.live]\nendpoint = \"{}\"\nclient_id = \"SANDBOX_APOFLOW_MERCHANT\"\nprivate_key = {{ file = \"{}\" }}\napo_public_key = {{ file = \"{}\" }}\n",
            sandbox.url,
            keys.join("merchant-private.pem").display(),
            keys.join("sandbox-apo-public.pem").display()
        ),
    )
    // A POST changes state: not retried on a live target...
    .file(
        "flows/post.yaml",
        "name: Posts\nsteps:\n  - http: { url: \"BASE/count/x\", method: POST }\n    expect: { status: 200 }\n",
    )
    // ...unless the flow says so.
    .file(
        "flows/post-allowed.yaml",
        "name: Posts, allowed\nretry_live: true\nsteps:\n  - http: { url: \"BASE/count/x\", method: POST }\n    expect: { status: 200 }\n",
    )
    // A GET is safe to repeat.
    .file("flows/get.yaml", &fails_once(&unique("live"), ""));
    let out = p.run(&["--target", "live", "--retries", "1", "--jobs", "1"]);
    assert_eq!(code(&out), 1, "{}", both(&out));
    let text = both(&out);
    assert!(
        text.contains("note: 1 case not retried: it changes state on the live target (flows/post.yaml); add `retry_live: true` to a flow to allow it"),
        "{text}"
    );
    assert!(text.contains("FAIL  flows/post.yaml  Posts  ("), "{text}");
    assert!(!text.contains("RETRY flows/post.yaml"), "{text}");
    assert!(
        text.contains("FAIL  flows/post-allowed.yaml  Posts, allowed  (2 attempts,"),
        "{text}"
    );
    assert!(
        text.contains("FLAKY flows/get.yaml  Fails once  (passed on attempt 2,"),
        "{text}"
    );
}
