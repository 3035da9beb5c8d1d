//! `apoflow run` through the real binary against a real HTTP server on 127.0.0.1: passing and
//! failing flows, every predicate, captures, polling, `use:`, matrix, `--var`, `--tags`,
//! `--jobs`, `--fail-fast`, JUnit and JSON reports (parsed back), exit codes, and a snapshot
//! of the terminal report of a failing run.

#[path = "run/local.rs"]
mod local;
#[path = "support/mod.rs"]
mod support;

use local::{Project, get_json, server, stable};
use quick_junit::{NonSuccessKind, Report, TestCaseStatus};
use serde_json::Value;
use support::{both, code};

fn json_report(p: &Project, rel: &str) -> Value {
    serde_json::from_str(&p.read(rel)).expect("the JSON report parses")
}

fn last_line(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .last()
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn a_passing_flow_exercises_every_predicate() {
    let p = Project::new();
    p.file(
        "flows/predicates.yaml",
        r#"
name: Every predicate
steps:
  - id: pay
    http: { url: "BASE/json" }
    expect:
      status: 200
      headers.X-Request-Id: req-42
      $.result.resultStatus: S
      $.paymentAmount.value: "4200"
      $.count: 42
      $.paymentAmount: { equals: { currency: SGD, value: "4200" } }
      $.result.resultMessage: { not: failed }
      $.paymentId: { matches: '^\d{19}$' }
      $['result']['resultMessage']: { contains: succ }
      $.transactions[*].transactionType: { contains: CAPTURE }
      $.result.resultCode: { starts_with: SUC }
      $.cardNo: { ends_with: "1111" }
      $.captured: { exists: true }
      $.refundId: { exists: false }
      $.paymentAmount.currency: { one_of: [USD, SGD] }
      $..value: { gt: 4000, gte: "4200", lt: 5000, lte: 4200 }
      $.transactions[1]: { type: object }
      $.note: { type: "null" }
      $.transactions: { length: 2 }
      $.transactions[0].transactionType: { length: { gte: 4 } }
      $.requestId: { is_uuid: true }
      $.result: { is_uuid: false }
      $.paymentTime: { is_datetime: true }
      $.ratio: { all_of: [{ gt: 0 }, { lt: 1 }] }
      $.result['resultStatus']: { any_of: [F, S] }
      $.transactions[?@.transactionType == 'CAPTURE'].transactionStatus: SUCCESS
"#,
    );
    let out = p.run(&["--json", "out.json"]);
    assert_eq!(code(&out), 0, "{}", both(&out));
    assert_eq!(last_line(&out), "1 passed, 0 failed, 0 errored, 0 skipped");
    let report = json_report(&p, "out.json");
    let step = &report["cases"][0]["steps"][0];
    assert_eq!(step["assertions"].as_array().unwrap().len(), 26);
    assert!(
        step["assertions"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["passed"] == true)
    );
}

#[test]
fn a_failing_run_reports_every_failed_assertion() {
    let p = Project::new();
    p.file(
        "flows/failing.yaml",
        r#"
name: Failing checks
steps:
  - id: pay
    http: { url: "BASE/json" }
    expect:
      status: 201
      $.paymentAmount.value: 4200
      $.result.resultStatus: S
      $.result.resultCode: { one_of: [PAYMENT_IN_PROCESS, FAIL] }
      $.transactions: { length: { gt: 5 } }
    save:
      token: $.cardToken
  - http: { url: "BASE/json" }
"#,
    )
    .file(
        "flows/ok.yaml",
        "name: Passing\nsteps:\n  - http: { url: \"BASE/json\" }\n    expect: { status: 200 }\n",
    );
    let out = p.run(&["--jobs", "1"]);
    assert_eq!(code(&out), 1, "{}", both(&out));
    assert!(out.stderr.is_empty(), "{}", both(&out));
    insta::assert_snapshot!(stable(&String::from_utf8_lossy(&out.stdout)));
}

#[test]
fn captures_requests_and_bodies_flow_between_steps() {
    let p = Project::new();
    p.file(
        "fixtures/order.json",
        r#"{ "order": { "id": "{{ order_id }}", "amount": { "currency": "SGD", "value": "100" } }, "keep": true }"#,
    )
    .file(
        "flows/captures.yaml",
        r#"
name: Captures
vars:
  order_id: "ORD-{{ random_digits(6) }}"
  amount: 4200
steps:
  - id: pay
    http: { url: "BASE/json" }
    save: { paymentId: $.paymentId, amount_value: $.paymentAmount.value }
  - id: send
    http:
      method: PUT
      url: "BASE/echo"
      headers: { x-payment: "{{ paymentId }}" }
      query: { page: 2 }
      body_file: fixtures/order.json
      body: { order: { amount: { value: "{{ amount_value }}" } }, extra: "{{ amount }}" }
    expect:
      $.method: PUT
      $.query.page: "2"
      $.headers['x-payment']: "2026112519400000001"
      $.body.order.id: { matches: '^ORD-\d{6}$' }
      $.body.order.amount: { equals: { currency: SGD, value: "4200" } }
      $.body.keep: true
      $.body.extra: 4200
  - id: form
    http: { url: "BASE/echo", form: { a: "{{ steps.send.response.body.body.order.id }}", n: 1 } }
    expect:
      $.method: POST
      $.body.a: "{{ steps.send.request.body.order.id }}"
      $.body.n: "1"
  - http: { url: "BASE/echo", method: POST, body: "raw {{ steps.pay.response.status }}" }
    expect:
      $.body: raw 200
  - http: { url: "BASE/text" }
    expect:
      $: plain text, not JSON
      headers.content-type: { starts_with: text/plain }
"#,
    );
    let out = p.run(&[]);
    assert_eq!(code(&out), 0, "{}", both(&out));
}

#[test]
fn a_capture_that_matches_nothing_fails_the_step() {
    let p = Project::new();
    p.file(
        "flows/nothing.yaml",
        "name: Nothing\nsteps:\n  - http: { url: \"BASE/json\" }\n    save: { token: $.cardToken }\n",
    );
    let out = p.run(&["--json", "r.json"]);
    assert_eq!(code(&out), 1, "{}", both(&out));
    let step = &json_report(&p, "r.json")["cases"][0]["steps"][0];
    assert_eq!(step["status"], "failed");
    assert!(
        step["assertions"][0]["message"]
            .as_str()
            .unwrap()
            .contains("matched nothing")
    );
}

#[test]
fn polling_succeeds_after_some_tries() {
    let p = Project::new();
    let key = format!("poll-ok-{}", std::process::id());
    p.file(
        "flows/poll.yaml",
        &format!(
            r#"
name: Polling
steps:
  - http: {{ url: "BASE/count/{key}" }}
    until: {{ $.status: DONE }}
    every: 10ms
    within: 10s
    expect: {{ $.count: 3 }}
"#
        ),
    );
    let out = p.run(&["--json", "r.json"]);
    assert_eq!(code(&out), 0, "{}", both(&out));
    let report = json_report(&p, "r.json");
    let step = &report["cases"][0]["steps"][0];
    assert_eq!(step["tries"], 3);
    // Per-step timings: polling slept at least twice 10 ms.
    assert!(step["duration"].as_f64().unwrap() >= 20.0, "{step}");
    assert!(report["cases"][0]["duration"].as_f64().unwrap() >= step["duration"].as_f64().unwrap());
    assert_eq!(step["request"]["method"], "GET");
    assert_eq!(step["response"]["status"], 200);
    // A report that keeps the cases has all of a passed step: its quoted body, its messages,
    // and what each assertion expected and found.
    assert!(
        step["response"]["body"].as_str().unwrap().contains("DONE"),
        "{step}"
    );
    assert_eq!(step["messages"].as_array().unwrap().len(), 2, "{step}");
    let assertion = &step["assertions"][0];
    assert_eq!(assertion["passed"], true);
    assert_eq!(assertion["expected"], "integer <3>");
    assert_eq!(assertion["actual"], "integer <3>");
}

#[test]
fn polling_gives_up_after_within_and_says_how_many_tries() {
    let p = Project::new();
    let key = format!("poll-late-{}", std::process::id());
    p.file(
        "flows/poll.yaml",
        &format!(
            r#"
name: Polling too long
steps:
  - http: {{ url: "BASE/count/{key}" }}
    until: {{ $.count: {{ gt: 1000 }} }}
    every: 20ms
    within: 600ms
"#
        ),
    );
    let out = p.run(&["--json", "r.json"]);
    assert_eq!(code(&out), 1, "{}", both(&out));
    let step = &json_report(&p, "r.json")["cases"][0]["steps"][0];
    let tries = step["tries"].as_u64().unwrap();
    assert!(tries >= 2, "{step}");
    assert_eq!(get_json(&format!("/peek/{key}"))["count"], tries);
    let error = step["error"].as_str().unwrap();
    assert!(error.contains(&format!("after {tries} tries")), "{error}");
    assert!(error.contains("last response: 200"), "{error}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("$.count"), "{stdout}");
}

#[test]
fn a_partial_runs_with_its_parameters_and_saves_back() {
    let p = Project::new();
    p.file(
        "flows/_login.yaml",
        r#"
vars:
  user: nobody
  greeting: "hello {{ user }}"
steps:
  - id: login
    http: { url: "BASE/echo", json: { user: "{{ user }}", greeting: "{{ greeting }}" } }
    save: { session: $.body.greeting }
  - sleep: 10ms
  - use: _audit.yaml
    with: { what: "{{ session }}" }
"#,
    )
    .file(
        "flows/_audit.yaml",
        r#"
steps:
  - http: { url: "BASE/echo", json: { audit: "{{ what }}" } }
    save: { audited: $.body.audit }
"#,
    )
    .file(
        "flows/main.yaml",
        r#"
name: Uses a partial
steps:
  - use: _login.yaml
    with: { user: "{{ who }}" }
  - http: { url: "BASE/echo", json: { s: "{{ session }}" } }
    expect: { $.body.s: hello alice }
  - http: { url: "BASE/echo", json: { a: "{{ audited }}" } }
    expect: { $.body.a: hello alice }
"#,
    );
    let out = p.run(&["--var", "who=alice", "--json", "r.json"]);
    assert_eq!(code(&out), 0, "{}", both(&out));
    let steps = &json_report(&p, "r.json")["cases"][0]["steps"];
    assert_eq!(steps[0]["name"], "use _login.yaml › login");
    assert_eq!(steps[1]["name"], "use _login.yaml › sleep 10 ms");
    assert_eq!(
        steps[2]["name"],
        "use _login.yaml › use _audit.yaml › POST BASE/echo".replace("BASE", server())
    );
    assert_eq!(steps.as_array().unwrap().len(), 5);
    assert!(steps[0]["file"].as_str().unwrap().ends_with("_login.yaml"));
}

#[test]
fn a_matrix_runs_one_case_per_combination_in_junit() {
    let p = Project::new();
    p.file(
        "flows/matrix.yaml",
        r#"
name: Matrix
matrix: { card: [visa, mc], mode: [AUTO, MANUAL] }
steps:
  - http: { url: "BASE/echo", json: { card: "{{ card }}", mode: "{{ mode }}" } }
    expect:
      $.body.card: "{{ card }}"
      $.body.mode: { one_of: [AUTO] }
"#,
    );
    let out = p.run(&["--junit", "junit.xml"]);
    assert_eq!(code(&out), 1, "{}", both(&out));
    let report = Report::deserialize_from_str(&p.read("junit.xml")).expect("JUnit parses");
    assert_eq!(report.test_suites.len(), 1);
    let suite = &report.test_suites[0];
    assert_eq!(suite.name.as_str(), "flows/matrix.yaml");
    let mut names: Vec<_> = suite
        .test_cases
        .iter()
        .map(|t| t.name.as_str().to_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "Matrix [card=mc, mode=AUTO]",
            "Matrix [card=mc, mode=MANUAL]",
            "Matrix [card=visa, mode=AUTO]",
            "Matrix [card=visa, mode=MANUAL]",
        ]
    );
    for t in &suite.test_cases {
        let manual = t.name.as_str().contains("MANUAL");
        match &t.status {
            TestCaseStatus::Success { .. } => assert!(!manual),
            TestCaseStatus::NonSuccess {
                kind: NonSuccessKind::Failure,
                message,
                description,
                ..
            } => {
                assert!(manual);
                assert!(message.as_ref().unwrap().as_str().contains("step"));
                assert!(
                    description
                        .as_ref()
                        .unwrap()
                        .as_str()
                        .contains("$.body.mode")
                );
            }
            other => panic!("unexpected status {other:?}"),
        }
    }
}

#[test]
fn vars_can_be_overridden_and_tags_filter() {
    let p = Project::new();
    p.file(
        "flows/a.yaml",
        "name: Smoke\ntags: [smoke, card]\nvars: { amount: \"1\" }\nsteps:\n  - http: { url: \"BASE/echo\", json: { a: \"{{ amount }}\" } }\n    expect: { $.body.a: \"4200\" }\n",
    )
    .file(
        "flows/b.yaml",
        "name: Slow\ntags: [card, slow]\nsteps:\n  - http: { url: \"BASE/status/500\" }\n    expect: { status: 200 }\n",
    );
    let out = p.run(&[
        "--var",
        "amount=4200",
        "--tags",
        "card and not slow",
        "--json",
        "r.json",
    ]);
    assert_eq!(code(&out), 0, "{}", both(&out));
    let report = json_report(&p, "r.json");
    assert_eq!(report["cases"].as_array().unwrap().len(), 1);
    assert_eq!(report["cases"][0]["flow"], "Smoke");
    // Without the override the flow's own value is used, and fails.
    let out = p.run(&["--tags", "smoke"]);
    assert_eq!(code(&out), 1, "{}", both(&out));
}

#[test]
fn fail_fast_skips_the_cases_not_yet_started() {
    let p = Project::new();
    p.file("flows/1.yaml", "name: First fails\nsteps:\n  - http: { url: \"BASE/status/500\" }\n    expect: { status: 200 }\n")
        .file("flows/2.yaml", "name: Second\nsteps:\n  - http: { url: \"BASE/json\" }\n")
        .file("flows/3.yaml", "name: Third\nsteps:\n  - http: { url: \"BASE/json\" }\n");
    let out = p.run(&[
        "--jobs",
        "1",
        "--fail-fast",
        "--json",
        "r.json",
        "--junit",
        "j.xml",
    ]);
    assert_eq!(code(&out), 1, "{}", both(&out));
    let report = json_report(&p, "r.json");
    assert_eq!(report["summary"]["failed"], 1);
    assert_eq!(report["summary"]["skipped"], 2);
    assert_eq!(last_line(&out), "0 passed, 1 failed, 0 errored, 2 skipped");
    let junit = Report::deserialize_from_str(&p.read("j.xml")).unwrap();
    let skipped = junit
        .test_suites
        .iter()
        .flat_map(|s| &s.test_cases)
        .filter(|t| matches!(t.status, TestCaseStatus::Skipped { .. }))
        .count();
    assert_eq!(skipped, 2);
    // Without --fail-fast, every case runs.
    let out = p.run(&["--jobs", "1", "--json", "r.json"]);
    assert_eq!(last_line(&out), "2 passed, 1 failed, 0 errored, 0 skipped");
}

#[test]
fn jobs_run_flows_at_the_same_time() {
    let p = Project::new();
    let key = format!("jobs-{}", std::process::id());
    for i in 0..3 {
        p.file(
            &format!("flows/{i}.yaml"),
            &format!("name: Flow {i}\nsteps:\n  - http: {{ url: \"BASE/barrier/{key}/3\" }}\n    expect: {{ $.met: true }}\n"),
        );
    }
    let out = p.run(&["--jobs", "3"]);
    assert_eq!(code(&out), 0, "{}", both(&out));
    // One at a time, the first flow waits for the others in vain.
    let key = format!("jobs1-{}", std::process::id());
    for i in 0..2 {
        p.file(
            &format!("flows/{i}.yaml"),
            &format!("name: Flow {i}\nsteps:\n  - http: {{ url: \"BASE/barrier/{key}/2?wait_ms=300\" }}\n    expect: {{ $.met: true }}\n"),
        );
    }
    std::fs::remove_file(p.path().join("flows/2.yaml")).unwrap();
    let out = p.run(&["--jobs", "1", "--json", "r.json"]);
    assert_eq!(code(&out), 1, "{}", both(&out));
    assert_eq!(json_report(&p, "r.json")["summary"]["passed"], 1);
}

#[test]
fn a_flow_that_moves_the_clock_runs_alone() {
    let p = Project::new();
    let key = format!("clock-{}", std::process::id());
    let barrier = format!("  - http: {{ url: \"BASE/barrier/{key}/2?wait_ms=500\" }}\n");
    // The barrier counts arrivals and answers `met` once two have arrived. Together (two
    // jobs, no exclusion) both flows would see `met: true`; one after the other, whichever
    // runs first waits in vain and only the second sees it, in either order.
    p.file(
        "flows/a-clock.yaml",
        &format!("name: Moves the clock\nsteps:\n  - sandbox: {{ advance_clock: 1s }}\n{barrier}"),
    )
    .file(
        "flows/b-other.yaml",
        &format!("name: Other\nsteps:\n{barrier}"),
    );
    let out = p.run(&["--jobs", "2", "--json", "r.json"]);
    assert_eq!(code(&out), 0, "{}", both(&out));
    let report = json_report(&p, "r.json");
    let met: Vec<bool> = report["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .map(|case| {
            let steps = case["steps"].as_array().expect("steps");
            let body = steps.last().expect("the barrier step")["response"]["body"]
                .as_str()
                .unwrap_or_default();
            body.contains("\"met\":true")
        })
        .collect();
    assert_eq!(
        met.iter().filter(|m| **m).count(),
        1,
        "the two flows overlapped: {met:?}\n{}",
        both(&out)
    );
}

#[test]
fn a_flow_that_moves_only_its_payments_clock_runs_with_the_others() {
    let p = Project::new();
    support::copy_dir(
        &support::repo().join("fixtures"),
        &p.path().join("fixtures"),
    );
    let key = format!("own-clock-{}", std::process::id());
    let barrier = |n: u8| {
        format!(
            "  - http: {{ url: \"BASE/barrier/{key}-{n}/2?wait_ms=5000\" }}\n    expect: {{ $.met: true }}\n"
        )
    };
    let pay = "  - pay: { body_file: fixtures/payloads/pay-card-first-time.json }\n    save: { paymentId: $.paymentId }\n";
    let inquiry = support::inquiry_step;
    // Run alone, the first to reach a barrier would wait the whole 5 s and see `met: false`.
    // The other flow's payment, asked after the clock moved, is still waiting for its buyer.
    p.file(
        "flows/a-own-clock.yaml",
        &format!(
            "name: Moves its payment's clock\nsteps:\n{pay}{}  - sandbox: {{ advance_clock: 15m, of: \"{{{{ paymentId }}}}\" }}\n{}{}",
            barrier(1),
            barrier(2),
            inquiry("FAIL")
        ),
    )
    .file(
        "flows/b-other.yaml",
        &format!(
            "name: Other\nsteps:\n{pay}{}{}{}",
            barrier(1),
            barrier(2),
            inquiry("PROCESSING")
        ),
    );
    let out = p.run(&["--jobs", "2"]);
    assert_eq!(code(&out), 0, "{}", both(&out));
}

#[test]
fn with_several_jobs_the_flows_that_run_alone_start_first() {
    let p = Project::new();
    for name in ["a", "b", "c"] {
        p.file(
            &format!("flows/{name}.yaml"),
            &format!("name: Plain {name}\nsteps:\n  - http: {{ url: \"BASE/json\" }}\n"),
        );
    }
    p.file(
        "flows/z-clock.yaml",
        "name: Moves the clock\nsteps:\n  - sandbox: { advance_clock: 1s }\n",
    );
    let started = |jobs: &str| -> Vec<String> {
        let out = p.run(&["--jobs", jobs, "--json", "r.json"]);
        assert_eq!(code(&out), 0, "{}", both(&out));
        let report = json_report(&p, "r.json");
        let mut cases: Vec<(String, String)> = report["cases"]
            .as_array()
            .expect("cases")
            .iter()
            .map(|c| {
                let at = c["started"].as_str().expect("started").to_owned();
                (at, c["flow"].as_str().expect("flow").to_owned())
            })
            .collect();
        cases.sort();
        cases.into_iter().map(|(_, flow)| flow).collect()
    };
    // It waits for nothing and nothing drains around it later.
    assert_eq!(started("2")[0], "Moves the clock");
    // One job: plan order.
    assert_eq!(
        started("1").last().map(String::as_str),
        Some("Moves the clock")
    );
}

#[test]
fn errors_are_kept_apart_from_failures() {
    let p = Project::new();
    p.file(
        "flows/timeout.yaml",
        "name: Times out\nsteps:\n  - http: { url: \"BASE/slow\", timeout: 100ms }\n",
    )
    .file(
        "flows/template.yaml",
        "name: Undefined at run time\nsteps:\n  - id: first\n    http: { url: \"BASE/json\" }\n  - http: { url: \"BASE/echo?x={{ steps.first.response.body.nope.deeper }}\" }\n",
    )
    .file("flows/refused.yaml", "name: Refused\nsteps:\n  - http: { url: \"http://127.0.0.1:1/\" }\n")
    .file(
        "flows/vars.yaml",
        "name: Unset env\nvars: { key: \"{{ env('APOFLOW_TEST_SURELY_UNSET') }}\" }\nsteps:\n  - http: { url: \"BASE/json\" }\n",
    );
    let out = p.run(&["--junit", "j.xml", "--json", "r.json"]);
    assert_eq!(code(&out), 1, "{}", both(&out));
    let junit = Report::deserialize_from_str(&p.read("j.xml")).unwrap();
    for t in junit.test_suites.iter().flat_map(|s| &s.test_cases) {
        assert!(
            matches!(
                t.status,
                TestCaseStatus::NonSuccess {
                    kind: NonSuccessKind::Error,
                    ..
                }
            ),
            "{t:?}"
        );
    }
    let report = json_report(&p, "r.json");
    assert_eq!(report["summary"]["errored"], 4);
    let errors: Vec<String> = report["cases"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| c["steps"].as_array().unwrap())
        .filter_map(|s| s["error"].as_str().map(str::to_owned))
        .collect();
    assert!(
        errors.iter().any(|e| e.contains("timed out after 100 ms")),
        "{errors:?}"
    );
    assert!(
        errors
            .iter()
            .any(|e| e.contains("nope") && e.contains("flows/template.yaml:5")),
        "{errors:?}"
    );
    assert!(
        errors.iter().any(|e| e.contains("failed to connect")),
        "{errors:?}"
    );
    // The step after a failed one is reported as skipped.
    let template = report["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["flow"] == "Undefined at run time")
        .unwrap();
    assert_eq!(template["steps"][0]["status"], "passed");
    assert_eq!(template["steps"][1]["status"], "errored");
}

#[test]
fn invalid_input_exits_2_and_sends_nothing() {
    let p = Project::new();
    let key = format!("invalid-{}", std::process::id());
    p.file(
        "flows/good.yaml",
        &format!("name: Good\nsteps:\n  - http: {{ url: \"BASE/count/{key}\" }}\n"),
    )
    .file(
        "flows/bad.yaml",
        "name: Bad\nsteps:\n  - http: { url: \"BASE/json\" }\n    expect: { $.x: { matchs: y } }\n",
    );
    let out = p.run(&[]);
    assert_eq!(code(&out), 2, "{}", both(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("flows/bad.yaml:4:22"),
        "{}",
        both(&out)
    );
    std::fs::remove_file(p.path().join("flows/bad.yaml")).unwrap();
    let out = p.run(&["--var", "no-equals"]);
    assert_eq!(code(&out), 2, "{}", both(&out));
    insta::assert_snapshot!(String::from_utf8_lossy(&out.stderr));
    let out = p.run(&["--tags", "no-such-tag"]);
    assert_eq!(code(&out), 2, "{}", both(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("none matches --tags `no-such-tag`"));
    let out = p.run(&["--junit", "missing/dir/j.xml"]);
    assert_eq!(code(&out), 2, "{}", both(&out));
    assert_eq!(get_json(&format!("/peek/{key}"))["count"], 0);
    let out = p.run(&[]);
    assert_eq!(code(&out), 0, "{}", both(&out));
    assert_eq!(get_json(&format!("/peek/{key}"))["count"], 1);
}

#[test]
fn card_numbers_never_reach_the_output() {
    let p = Project::new();
    p.file(
        "flows/card.yaml",
        "name: Card\nsteps:\n  - http: { url: \"BASE/echo\", json: { cardNo: \"4111111111111111\", cvv: \"123\" } }\n    expect: { $.body.cardNo: \"0000\" }\n",
    );
    let out = p.run(&["--junit", "j.xml", "--json", "r.json"]);
    assert_eq!(code(&out), 1, "{}", both(&out));
    for text in [both(&out), p.read("j.xml"), p.read("r.json")] {
        assert!(!text.contains("4111111111111111"), "{text}");
        assert!(!text.contains("\"123\""), "{text}");
        assert!(text.contains("1111"), "{text}");
    }
}

#[test]
fn a_run_time_template_error_points_at_the_flow() {
    let p = Project::new();
    p.file(
        "flows/undefined.yaml",
        r#"name: Undefined at run time
vars: { base: "BASE" }
steps:
  - id: first
    http: { url: "{{ base }}/json" }
  - http: { url: "{{ base }}/echo?id={{ steps.first.response.body.nope.deeper }}" }
  - http: { url: "BASE/json" }
"#,
    );
    let out = p.run(&[]);
    assert_eq!(code(&out), 1, "{}", both(&out));
    insta::assert_snapshot!(stable(&String::from_utf8_lossy(&out.stdout)));
}

#[test]
fn a_duration_may_be_a_template_read_when_the_step_runs() {
    let p = Project::new();
    p.file(
        "flows/every.yaml",
        r#"name: A pause rendered to nothing
vars: { pause: 5, every: "0s" }
steps:
  - sleep: "{{ pause }}ms"
  - name: polls with a pause of nothing
    http: { url: "BASE/json" }
    until: { status: 200 }
    every: "{{ every }}"
"#,
    );
    p.file(
        "flows/timeout.yaml",
        r#"name: A time-out that is not a duration
vars: { soon: soon, quick: 2 }
steps:
  - http: { url: "BASE/json", timeout: "{{ quick }}s" }
  - http: { url: "BASE/json", timeout: "{{ soon }}" }
"#,
    );
    let out = p.run(&["-j", "1"]);
    assert_eq!(code(&out), 1, "{}", both(&out));
    insta::assert_snapshot!(stable(&String::from_utf8_lossy(&out.stdout)));
}
