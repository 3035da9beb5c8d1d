//! Payment steps through the real binary: `apoflow run` starts the embedded sandbox and the
//! notification receiver on loopback ports, and flows pay, play the buyer on the hosted page,
//! wait for signed notifications and control the sandbox over real HTTP. Also: each step
//! kind's failure (snapshots of the report), negative tests (unsigned, wrongly signed, forged
//! notification), and `--target` against a standalone `apoflow sandbox` process. The
//! merchant-under-test steps (`redirect: { from: }`, `delivery`, `received`) run against a fake
//! shop (`payments/shop.rs`).

#[path = "payments/shop.rs"]
mod shop;
#[path = "support/mod.rs"]
mod support;

use std::path::PathBuf;
use std::process::Output;

use support::{Sandbox, Scratch, apoflow_in, both, code, copy_dir, repo};

/// A temporary project: the repository's `fixtures/` copied in, flows written by the test.
struct Project {
    dir: Scratch,
}

impl Project {
    fn new() -> Self {
        let dir = Scratch::new();
        copy_dir(&repo().join("fixtures"), &dir.path().join("fixtures"));
        Project { dir }
    }

    fn file(&self, rel: &str, text: &str) -> &Self {
        self.dir.write(rel, text);
        self
    }

    fn run(&self, args: &[&str]) -> Output {
        let args: Vec<&str> = ["run"].into_iter().chain(args.iter().copied()).collect();
        apoflow_in(self.dir.path(), &args, &[])
    }
}

/// Run output made stable: loopback ports, durations, ids and times the sandbox made up.
fn stable(text: &str) -> String {
    let rules = [
        (r"127\.0\.0\.1:\d+", "127.0.0.1:[PORT]"),
        (r"\(\d+ ms\)", "([MS] ms)"),
        (r"in \d+\.\d+ s", "in [SECS] s"),
        (r"\bP[0-9a-f]{32}\b", "[PAYMENT_ID]"),
        (
            r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
            "[UUID]",
        ),
        (r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d", "[TIME]"),
        (r"/tmp/\.tmp\w+", "[DIR]"),
    ];
    let mut text = text.to_owned();
    for (pattern, replacement) in rules {
        text = regex::Regex::new(pattern)
            .unwrap()
            .replace_all(&text, replacement)
            .into_owned();
    }
    text
}

/// The first steps of most flows: a first-time payment, its buyer and its result.
const PAY: &str = r#"
  - id: pay
    pay:
      body_file: fixtures/payloads/pay-card-first-time.json
      body:
        paymentAmount: { currency: SGD, value: "4200" }
        order: { orderAmount: { currency: SGD, value: "4200" } }
    expect:
      signature: valid
      $.result.resultCode: PAYMENT_IN_PROCESS
    save: { paymentId: $.paymentId, normalUrl: $.normalUrl }
"#;

#[test]
fn pay_redirect_notify_inquiry_passes() {
    let p = Project::new();
    p.file(
        "flows/happy.yaml",
        &format!(
            r#"
name: First-time card payment
steps:{PAY}
  - id: buyer
    redirect:
      url: "{{{{ normalUrl }}}}"
      card: visa_success
    expect:
      landed_on: {{ starts_with: "{{{{ redirect_url }}}}" }}
      messages: ""
  - id: result
    notify:
      type: PAYMENT_RESULT
      match: {{ $.paymentId: "{{{{ paymentId }}}}" }}
    expect:
      signature: valid
      ack: success
      count: 1
      $.result.resultStatus: S
      $.paymentResultInfo.cardNo: {{ matches: '^\*+0768$' }}
  - inquiry:
      body: {{ paymentId: "{{{{ paymentId }}}}" }}
    until: {{ $.paymentStatus: {{ one_of: [SUCCESS, FAIL] }} }}
    every: 100ms
    within: 5s
    expect:
      signature: valid
      $.paymentStatus: SUCCESS
      $.paymentRequestId: "{{{{ steps.pay.request.body.paymentRequestId }}}}"
  - http:
      url: "{{{{ target.endpoint }}}}_sandbox/clock"
    expect:
      status: 200
"#
        ),
    );
    let out = p.run(&["--json", "report.json"]);
    assert_eq!(code(&out), 0, "{}", both(&out));
    let text = both(&out);
    assert!(!text.contains("4054695723100768"), "no card number: {text}");
    let report = std::fs::read_to_string(p.dir.path().join("report.json")).unwrap();
    assert!(!report.contains("4054695723100768"));
}

#[test]
fn a_card_file_adds_cards_for_flows_and_the_sandbox_alike() {
    let p = Project::new();
    p.file(
        "my-cards.yaml",
        "cards:\n  - { name: amex_corporate, number: \"378282246310005\", brand: AMEX, \
         funding: CREDIT, country: US, issuer: \"OUR BANK\", outcome: SUCCESS, source: ours }\n\
         \x20 - { name: visa_success, number: \"4111111111111111\", brand: VISA, funding: DEBIT, \
         country: SG, issuer: \"OUR BANK\", outcome: DO_NOT_HONOR, source: ours }\n",
    )
    .file(
        "flows/ours.yaml",
        r#"name: Our cards
matrix:
  card: [amex_corporate, visa_success]
vars:
  status_of: { amex_corporate: S, visa_success: F }
steps:
  - pay: { body_file: fixtures/payloads/pay-card-first-time.json }
    save: { paymentId: $.paymentId, normalUrl: $.normalUrl }
  - redirect: { url: "{{ normalUrl }}", card: "{{ card }}" }
  - notify: { type: PAYMENT_RESULT, match: { $.paymentId: "{{ paymentId }}" } }
    expect:
      $.result.resultStatus: "{{ status_of[card] }}"
      $.paymentResultInfo.issuerName: OUR BANK
"#,
    );
    // Without the file the card name is unknown when the flow is loaded: nothing is sent.
    let out = p.run(&["flows/"]);
    assert_eq!(code(&out), 2, "{}", both(&out));
    assert!(
        both(&out).contains("unknown card `amex_corporate`"),
        "{}",
        both(&out)
    );
    // With it, the buyer types the card and the sandbox knows its issuer and outcome; a card
    // of a built-in name replaces the built-in one (here: a decline).
    let out = p.run(&["--cards", "my-cards.yaml", "flows/"]);
    assert_eq!(code(&out), 0, "{}", both(&out));
    assert!(both(&out).contains("2 passed"), "{}", both(&out));
}

/// The run's target as its JSON report names it.
fn reported_target(p: &Project, args: &[&str]) -> String {
    let args: Vec<&str> = args.iter().copied().chain(["--json", "r.json"]).collect();
    let out = p.run(&args);
    assert_eq!(code(&out), 0, "{}", both(&out));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(p.dir.path().join("r.json")).unwrap())
            .unwrap();
    report["run"]["target"].as_str().unwrap().to_owned()
}

#[test]
fn the_embedded_sandbox_starts_only_when_a_case_needs_apo() {
    let p = Project::new();
    p.file(
        "flows/plain.yaml",
        r#"
name: Only http
steps:
  - http: { url: "{{ notify_url }}", method: GET }
    expect: { status: 405 }
"#,
    );
    assert_eq!(
        reported_target(&p, &["flows/plain.yaml"]),
        "embedded (not started: no case calls APO)"
    );
    // A step inside a partial, and a template that reads `target`, each need it.
    p.file(
        "flows/_clock.yaml",
        "steps:\n  - sandbox: { advance_clock: 1s }\n",
    );
    p.file(
        "flows/partial.yaml",
        "name: Through a partial\nsteps:\n  - use: _clock.yaml\n",
    );
    p.file(
        "flows/reads.yaml",
        "name: Reads the target\nsteps:\n  - http: { url: \"{{ target.endpoint }}_sandbox/clock\" }\n    expect: { status: 200 }\n",
    );
    for flow in ["flows/partial.yaml", "flows/reads.yaml"] {
        let target = reported_target(&p, &["flows/plain.yaml", flow]);
        assert!(
            target.starts_with("embedded (http://127.0.0.1:"),
            "{flow}: {target}"
        );
    }
}

#[test]
fn runner_variables_are_provided() {
    let p = Project::new();
    p.file(
        "flows/vars.yaml",
        r#"
name: Runner variables
steps:
  - http: { url: "{{ target.endpoint }}_sandbox/clock" }
    expect:
      status: 200
      $.now: { is_datetime: true }
  - http: { url: "{{ notify_url }}", method: GET }
    expect:
      status: 405
  - http: { url: "http://127.0.0.1:9/{{ target.name }}/{{ target.client_id }}/{{ 'sandbox' if sandbox else 'live' }}/{{ redirect_url | length > 0 }}" }
    expect: { status: 999 }
"#,
    );
    let out = p.run(&[]);
    assert_eq!(code(&out), 1, "{}", both(&out));
    // The last step fails to connect; its URL shows the rendered variables.
    assert!(
        both(&out).contains("/embedded/SANDBOX_APOFLOW_MERCHANT/sandbox/True"),
        "{}",
        both(&out)
    );
}

#[test]
fn a_wrong_expectation_on_an_apo_call_fails_with_expected_and_actual() {
    let p = Project::new();
    p.file(
        "flows/wrong.yaml",
        r#"
name: Wrong expectation
steps:
  - id: pay
    pay:
      body_file: fixtures/payloads/pay-card-first-time.json
    expect:
      $.result.resultCode: SUCCESS
"#,
    );
    let out = p.run(&[]);
    assert_eq!(code(&out), 1, "{}", both(&out));
    insta::assert_snapshot!(stable(&both(&out)));
}

#[test]
fn unsigned_and_wrongly_signed_requests_get_invalid_signature() {
    let p = Project::new();
    p.file(
        "flows/negative.yaml",
        r#"
name: Negative signing
steps:
  - pay:
      body_file: fixtures/payloads/pay-card-first-time.json
      sign: false
      verify_response: false
    expect:
      $.result.resultCode: INVALID_SIGNATURE
      $.result.resultStatus: F
  - pay:
      body_file: fixtures/payloads/pay-card-first-time.json
      sign_with: fixtures/keys/sandbox-apo-private.pem
      verify_response: false
    expect:
      $.result.resultCode: INVALID_SIGNATURE
  - pay:
      body_file: fixtures/payloads/pay-card-first-time.json
      headers: { signature: null }
      verify_response: false
    expect:
      $.result.resultCode: INVALID_SIGNATURE
  - pay:
      raw_body: '{"not": "json"'
    expect:
      $.result.resultStatus: F
"#,
    );
    let out = p.run(&[]);
    assert_eq!(code(&out), 0, "{}", both(&out));
    // The same forged request with a wrong expectation fails: the check is real.
    p.file(
        "flows/negative.yaml",
        r#"
name: Forged request that is not rejected
steps:
  - pay:
      body_file: fixtures/payloads/pay-card-first-time.json
      sign_with: fixtures/keys/sandbox-apo-private.pem
      verify_response: false
    expect:
      $.result.resultCode: PAYMENT_IN_PROCESS
"#,
    );
    let out = p.run(&[]);
    assert_eq!(code(&out), 1, "{}", both(&out));
    assert!(both(&out).contains("INVALID_SIGNATURE"), "{}", both(&out));
}

#[test]
fn the_buyer_sees_validation_messages_and_can_fail_3ds_or_abandon() {
    let p = Project::new();
    p.file(
        "flows/buyer.yaml",
        &format!(
            r#"
name: Buyer choices
steps:{PAY}
  - redirect:
      url: "{{{{ normalUrl }}}}"
      card: {{ number: "4054695723100768", expiry: "12/40", cvv: "12" }}
    expect:
      messages: {{ contains: CVV }}
      landed_on: {{ starts_with: "{{{{ target.endpoint }}}}" }}
  - redirect:
      url: "{{{{ normalUrl }}}}"
      abandon: true
    expect:
      landed_on: "{{{{ normalUrl }}}}"
  - redirect:
      url: "{{{{ normalUrl }}}}"
      card: visa_fail
  - notify:
      type: PAYMENT_RESULT
      match: {{ $.paymentId: "{{{{ paymentId }}}}" }}
    expect:
      $.result.resultStatus: F
"#
        ),
    );
    let out = p.run(&[]);
    assert_eq!(code(&out), 0, "{}", both(&out));
    assert!(!both(&out).contains("4054695723100768"));
}

#[test]
fn a_card_number_that_is_not_a_test_card_is_declined_with_a_clear_message() {
    let p = Project::new();
    p.file(
        "flows/unknown-card.yaml",
        &format!(
            r#"
name: Unknown card
steps:{PAY}
  - redirect:
      url: "{{{{ normalUrl }}}}"
      card: {{ number: "4111111111111111", expiry: "12/40", cvv: "123" }}
  - notify:
      type: PAYMENT_RESULT
      match: {{ $.paymentId: "{{{{ paymentId }}}}" }}
    expect:
      $.result.resultStatus: F
      $.result.resultCode: CARD_NOT_SUPPORTED
  - inquiry:
      body: {{ paymentId: "{{{{ paymentId }}}}" }}
    expect:
      $.paymentStatus: FAIL
      $.paymentResultMessage: {{ contains: "not a test card of this sandbox" }}
"#
        ),
    );
    let out = p.run(&[]);
    assert_eq!(code(&out), 0, "{}", both(&out));
    assert!(!both(&out).contains("4111111111111111"));
}

#[test]
fn a_notification_resent_after_a_failed_ack_is_counted() {
    let p = Project::new();
    p.file(
        "flows/resend.yaml",
        &format!(
            r#"
name: Resend
steps:{PAY}
  - redirect: {{ url: "{{{{ normalUrl }}}}", card: visa_success }}
  - notify:
      type: PAYMENT_RESULT
      match: {{ $.paymentId: "{{{{ paymentId }}}}" }}
      ack: fail
    expect: {{ ack: fail, count: 1 }}
  - sandbox: {{ advance_clock: 2m }}
  - notify:
      type: PAYMENT_RESULT
      match: {{ $.paymentId: "{{{{ paymentId }}}}" }}
      count: 2
    expect: {{ ack: success, count: 2, signature: valid, $.result.resultStatus: S }}
"#
        ),
    );
    let out = p.run(&[]);
    assert_eq!(code(&out), 0, "{}", both(&out));
}

#[test]
fn a_notify_time_out_says_what_arrived() {
    let p = Project::new();
    p.file(
        "flows/timeout.yaml",
        &format!(
            r#"
name: Nothing arrives
steps:{PAY}
  - notify:
      type: PAYMENT_RESULT
      match: {{ $.paymentId: "{{{{ paymentId }}}}" }}
      within: 300ms
"#
        ),
    );
    let out = p.run(&[]);
    assert_eq!(code(&out), 1, "{}", both(&out));
    insta::assert_snapshot!(stable(&both(&out)));
}

#[test]
fn a_forged_notification_fails_the_step() {
    let p = Project::new();
    p.file(
        "flows/forged.yaml",
        r#"
name: Forged notification
steps:
  - http:
      url: "{{ notify_url }}"
      json: { notifyType: PAYMENT_RESULT, paymentId: forged-1, result: { resultStatus: S } }
      headers: { client-id: SANDBOX_APOFLOW_MERCHANT, request-time: "1", signature: "algorithm=RSA256,keyVersion=1,signature=Zm9yZ2Vk" }
  - notify:
      type: PAYMENT_RESULT
      match: { $.paymentId: forged-1 }
      within: 5s
    expect:
      $.result.resultStatus: S
"#,
    );
    // A negative test expects the forgery (both flows run at once: each post is held for the
    // receiver's claim grace).
    p.file(
        "flows/forged-expected.yaml",
        r#"
name: Forged notification, expected
steps:
  - http:
      url: "{{ notify_url }}"
      json: { notifyType: PAYMENT_RESULT, paymentId: forged-2 }
  - notify:
      type: PAYMENT_RESULT
      match: { $.paymentId: forged-2 }
    expect: { signature: missing }
"#,
    );
    let out = p.run(&["--jobs", "2"]);
    assert_eq!(code(&out), 1, "{}", both(&out));
    let text = both(&out);
    assert!(text.contains("PASS  flows/forged-expected.yaml"), "{text}");
    let failing: Vec<&str> = text.lines().filter(|l| !l.starts_with("PASS ")).collect();
    insta::assert_snapshot!(stable(&failing.join("\n")));
}

#[test]
fn or_inquiry_passes_on_the_inquiry_when_no_notification_comes() {
    let p = Project::new();
    p.file(
        "flows/race.yaml",
        &format!(
            r#"
name: Race
steps:{PAY}
  - redirect: {{ url: "{{{{ normalUrl }}}}", card: visa_success }}
  - notify:
      type: PAYMENT_RESULT
      match: {{ $.paymentId: "{{{{ paymentId }}}}" }}
      or_inquiry: true
    expect: {{ $.result.resultStatus: S, $.paymentStatus: SUCCESS }}
"#
        ),
    );
    // The notification itself cannot arrive: the pay body sends it nowhere useful.
    let body = std::fs::read_to_string(repo().join("fixtures/payloads/pay-card-first-time.json"))
        .unwrap()
        .replace("{{ notify_url }}", "http://127.0.0.1:9/nobody");
    p.file("fixtures/payloads/pay-card-first-time.json", &body);
    let out = p.run(&[]);
    assert_eq!(code(&out), 0, "{}", both(&out));
}

fn config_for(sandbox: &Sandbox) -> String {
    let keys: PathBuf = repo().join("fixtures/keys");
    format!(
        r#"[targets.local]
endpoint = "{}"
client_id = "SANDBOX_APOFLOW_MERCHANT"
private_key = {{ file = "{}" }}
apo_public_key = {{ file = "{}" }}
"#,
        sandbox.url,
        keys.join("merchant-private.pem").display(),
        keys.join("sandbox-apo-public.pem").display()
    )
}

#[test]
fn a_configured_target_is_used_and_sandbox_steps_fail_on_it() {
    let sandbox = Sandbox::start(&[]);
    let p = Project::new();
    p.file("apoflow.toml", &config_for(&sandbox));
    p.file(
        "flows/pay.yaml",
        &format!(
            r#"
name: Pay against a configured target
steps:{PAY}
  - redirect: {{ url: "{{{{ normalUrl }}}}", card: visa_success }}
  - notify:
      type: PAYMENT_RESULT
      match: {{ $.paymentId: "{{{{ paymentId }}}}" }}
    expect: {{ signature: valid, $.result.resultStatus: S }}
  - http: {{ url: "http://127.0.0.1:9/{{{{ target.name }}}}/{{{{ 'sandbox' if sandbox else 'live' }}}}" }}
    expect: {{ status: 999 }}
"#
        ),
    );
    let out = p.run(&["--target", "local"]);
    assert_eq!(code(&out), 1, "{}", both(&out));
    assert!(both(&out).contains("/local/live"), "{}", both(&out));
    let pay_passed = !both(&out).contains("step `pay` failed");
    assert!(pay_passed, "{}", both(&out));

    p.file(
        "flows/pay.yaml",
        "name: A sandbox step on a configured target\nsteps:\n  - sandbox: { advance_clock: 2m }\n",
    );
    let out = p.run(&["--target", "local"]);
    assert_eq!(code(&out), 1, "{}", both(&out));
    insta::assert_snapshot!(stable(&both(&out)).replace(&sandbox.url, "[SANDBOX]"));
}

#[test]
fn an_unknown_target_is_invalid_input() {
    let p = Project::new();
    p.file("apoflow.toml", "[targets.other]\nregion = \"sea\"\nclient_id = \"X\"\nprivate_key = { env = \"NOPE\" }\napo_public_key = { env = \"NOPE\" }\n");
    p.file("flows/a.yaml", "name: a\nsteps:\n  - sleep: 1ms\n");
    let out = p.run(&["--target", "live"]);
    assert_eq!(code(&out), 2, "{}", both(&out));
    insta::assert_snapshot!(stable(&both(&out)));
}

#[test]
fn a_manual_redirect_prints_the_page_and_drives_nothing() {
    let p = Project::new();
    p.file(
        "flows/manual.yaml",
        &format!(
            r#"
name: Manual buyer
steps:{PAY}
  - id: buyer
    redirect: {{ url: "{{{{ normalUrl }}}}", manual: true }}
  - inquiry:
      body: {{ paymentId: "{{{{ paymentId }}}}" }}
    expect: {{ $.paymentStatus: PROCESSING }}
"#
        ),
    );
    let out = p.run(&[]);
    assert_eq!(code(&out), 0, "{}", both(&out));
    insta::assert_snapshot!(stable(&both(&out)));
}

#[test]
fn a_dropped_delivery_is_retried_on_the_sandbox_clock() {
    let p = Project::new();
    p.file(
        "flows/faults.yaml",
        r#"
name: Dropped delivery
steps:
  - sandbox: { faults: { drop: 1 } }
    expect: { $.drop_next: 1 }
  - id: pay
    pay:
      body_file: fixtures/payloads/pay-card-first-time.json
      body: { paymentFactor: { captureMode: MANUAL } }
    save: { paymentId: $.paymentId, normalUrl: $.normalUrl }
  - redirect: { url: "{{ normalUrl }}", card: visa_success }
  - http: { url: "{{ target.endpoint }}_sandbox/deliveries" }
    until: { "$.deliveries[0].attempts": { length: 1 } }
    every: 20ms
    within: 5s
  - sandbox: { advance_clock: 2m, faults: {} }
  - notify:
      type: PAYMENT_RESULT
      match: { $.paymentId: "{{ paymentId }}" }
      within: 10s
    expect: { count: 1, signature: valid }
  # The notify step answers the sandbox's retry; the sandbox records the attempt once the
  # answer is back, so wait for it rather than race it.
  - http: { url: "{{ target.endpoint }}_sandbox/deliveries" }
    until:
      $.deliveries[?@.notifyType == 'PAYMENT_RESULT'].attempts: { length: 2 }
    every: 20ms
    within: 5s
    expect:
      $.deliveries[?@.notifyType == 'PAYMENT_RESULT'].attempts: { length: 2 }
"#,
    );
    let out = p.run(&[]);
    assert_eq!(code(&out), 0, "{}", both(&out));
}

#[test]
fn a_card_page_without_a_card_is_a_clear_error() {
    let p = Project::new();
    p.file(
        "flows/nocard.yaml",
        &format!(
            r#"
name: No card
steps:{PAY}
  - redirect: {{ url: "{{{{ normalUrl }}}}" }}
"#
        ),
    );
    p.file(
        "flows/unknown.yaml",
        &format!(
            r#"
name: Unknown card, found out at run time
steps:{PAY}
  - redirect: {{ url: "{{{{ normalUrl }}}}", card: "{{{{ 'no_such_card' }}}}" }}
"#
        ),
    );
    let out = p.run(&["--jobs", "1"]);
    assert_eq!(code(&out), 1, "{}", both(&out));
    insta::assert_snapshot!(stable(&both(&out)));
}

#[test]
fn a_public_notify_url_is_what_flows_give_apo() {
    let p = Project::new();
    p.file(
        "flows/public.yaml",
        "name: Public URL\nsteps:\n  - http: { url: \"{{ notify_url }}?return={{ redirect_url | urlencode }}\" }\n",
    );
    let out = p.run(&["--notify-public-url", "http://127.0.0.1:9/tunnel/"]);
    assert_eq!(code(&out), 1, "{}", both(&out));
    // The step cannot connect to the (absent) tunnel; its URL shows both variables.
    assert!(
        both(&out).contains(
            "http://127.0.0.1:9/tunnel/notify?return=http%3A//127.0.0.1%3A9/tunnel/return"
        ),
        "{}",
        both(&out)
    );
}

/// A payment whose buyer returns to, and whose notifications go to, the fake shop; `notify` is
/// the shop's acknowledgement (`success`, `fail`, `wrong`).
fn shop_pay(notify: &str) -> String {
    format!(
        r#"
  - id: pay
    pay:
      body_file: fixtures/payloads/pay-card-first-time.json
      body:
        paymentAmount: {{ currency: SGD, value: "4200" }}
        order: {{ orderAmount: {{ currency: SGD, value: "4200" }} }}
        paymentRedirectUrl: "{{{{ shop }}}}/return"
        paymentNotifyUrl: "{{{{ shop }}}}/notify/{notify}"
    save: {{ paymentId: $.paymentId, normalUrl: $.normalUrl }}
"#
    )
}

/// Runs the flow `yaml`, written to `file` in a new project, with `shop` set to the fake
/// shop's URL.
fn run_at_the_shop(file: &str, yaml: &str) -> Output {
    let p = Project::new();
    p.file(file, yaml);
    let shop = format!("shop={}", shop::url());
    p.run(&["--var", &shop])
}

/// The run failed (exit 1) at exactly one step, saying each of `expected`.
fn assert_fails_at_one_step_saying(out: &Output, expected: &[&str]) {
    let text = both(out);
    assert_eq!(code(out), 1, "{text}");
    for expected in expected {
        assert!(text.contains(expected), "{expected}\n{text}");
    }
    assert_eq!(text.matches("failed at").count(), 1, "{text}");
}

#[test]
fn the_buyer_starts_at_the_shop_and_its_return_page_and_webhook_answer_are_observed() {
    let out = run_at_the_shop(
        "flows/shop.yaml",
        &format!(
            r#"
name: Shop front door
matrix: {{ door: [checkout, checkout.json] }}
steps:{}
  - redirect:
      from: "{{{{ shop }}}}/{{{{ door }}}}?to={{{{ normalUrl | urlencode }}}}"
      card: visa_success
    expect:
      landed_on: {{ starts_with: "{{{{ shop }}}}/return" }}
      return_page.status: 200
      return_page.url: "{{{{ shop }}}}/thanks"
      return_page.body: {{ contains: Paid }}
      $.return_page.body: {{ contains: Paid }}
  - delivery:
      type: PAYMENT_RESULT
      match: {{ $.paymentId: "{{{{ paymentId }}}}" }}
    expect:
      ack: success
      acknowledged: true
      attempts: 1
      $.body.paymentId: "{{{{ paymentId }}}}"
      $.body.result.resultStatus: S
"#,
            shop_pay("success")
        ),
    );
    assert_eq!(code(&out), 0, "{}", both(&out));
}

#[test]
fn a_resend_is_an_attempt_and_a_delivery_that_never_matches_names_the_nearest() {
    let out = run_at_the_shop(
        "flows/resend.yaml",
        &format!(
            r#"
name: Resend after a failed answer
steps:{}
  - redirect: {{ url: "{{{{ normalUrl }}}}", card: visa_success }}
  - delivery:
      type: PAYMENT_RESULT
      match: {{ $.paymentId: "{{{{ paymentId }}}}" }}
    expect: {{ attempts: 1, acknowledged: false }}
  - sandbox: {{ advance_clock: 2m }}
  - delivery:
      type: PAYMENT_RESULT
      match: {{ $.paymentId: "{{{{ paymentId }}}}" }}
      attempts: 2
    expect: {{ attempts: 2, acknowledged: false }}
  - delivery:
      type: PAYMENT_RESULT
      match: {{ $.paymentId: nope }}
      within: 300ms
"#,
            shop_pay("fail")
        ),
    );
    // Only the last step failed: the resend was seen.
    assert_fails_at_one_step_saying(
        &out,
        &[
            "no PAYMENT_RESULT delivery with $.paymentId = nope was made in 300 ms",
            "nearest:",
            "$.paymentId: expected string <nope>, got string <P",
        ],
    );
}

/// The sandbox's request journal (`GET /_sandbox/calls`) and the merchant's answers in
/// `GET /_sandbox/deliveries` (status, answer, latency).
#[test]
fn the_journal_and_the_merchant_answers_are_observed() {
    let out = run_at_the_shop(
        "flows/journal.yaml",
        &format!(
            r#"
name: Journal
steps:{}
  - id: paid
    received:
      api: pay
      match: {{ $.request.paymentRequestId: "{{{{ steps.pay.request.body.paymentRequestId }}}}" }}
      client_id: "{{{{ target.client_id }}}}"
    expect:
      count: 1
      signature: valid
      $.request.paymentAmount.value: "4200"
      $.response.paymentId: "{{{{ paymentId }}}}"
    save: {{ journalId: $.response.paymentId }}
  - redirect: {{ url: "{{{{ normalUrl }}}}", card: visa_success }}
  - delivery:
      type: PAYMENT_RESULT
      match: {{ $.paymentId: "{{{{ journalId }}}}" }}
    expect:
      ack: fail
      status: 200
      latency_ms: {{ lt: 10000 }}
      $.answer.result.resultStatus: F
  - received:
      api: refund
      match: {{ $.request.paymentId: "{{{{ paymentId }}}}" }}
      within: 300ms
      settle: 300ms
    expect: {{ count: 0 }}
  - received:
      api: pay
      match: {{ $.request.paymentRequestId: nope }}
      within: 300ms
"#,
            shop_pay("fail")
        ),
    );
    assert_fails_at_one_step_saying(
        &out,
        &[
            "no `pay` call with $.request.paymentRequestId = nope reached the sandbox in 300 ms",
            "nearest:",
            "$.request.paymentRequestId: expected string <nope>",
        ],
    );
}

#[test]
fn a_front_door_that_does_not_lead_to_the_hosted_page_is_a_clear_error() {
    let out = run_at_the_shop(
        "flows/door.yaml",
        r#"
name: A shop page that is not a front door
steps:
  - redirect: { from: "{{ shop }}/thanks", card: visa_success }
"#,
    );
    let text = both(&out);
    assert_eq!(code(&out), 1, "{text}");
    assert!(
        text.contains("/thanks (HTTP 200) does not lead to the hosted page: expected a redirect (3xx with Location) or JSON with `redirectUrl`; it answered <h1>Paid</h1>"),
        "{text}"
    );
}

/// `notify_merchant`: replays (byte for byte, several times, changed, forged) and a given body,
/// each observed with the merchant's answer; a replay of nothing fails the step.
#[test]
fn notify_merchant_sends_as_apo_and_observes_the_answer() {
    let out = run_at_the_shop(
        "flows/notify-merchant.yaml",
        &format!(
            r#"
name: Notify the merchant
steps:{}
  - redirect: {{ url: "{{{{ normalUrl }}}}", card: visa_success }}
  - delivery:
      type: PAYMENT_RESULT
      match: {{ $.paymentId: "{{{{ paymentId }}}}" }}
    expect: {{ ack: success }}
  - notify_merchant: {{ replay: PAYMENT_RESULT, of: "{{{{ paymentId }}}}", times: 2 }}
    expect:
      ack: success
      status: 200
      attempts: 2
      latency_ms: {{ lt: 10000 }}
      $.attempts[*].acknowledged: [true, true]
      $.body.paymentId: "{{{{ paymentId }}}}"
      $.forge: none
  - notify_merchant:
      replay: PAYMENT_RESULT
      of: "{{{{ paymentId }}}}"
      forge: wrong_key
      change: {{ $.paymentAmount.value: "1" }}
      url: "{{{{ shop }}}}/notify/fail"
    expect:
      ack: fail
      acknowledged: false
      $.answer.result.resultStatus: F
      $.body.paymentAmount.value: "1"
      $.url: {{ ends_with: /notify/fail }}
  - notify_merchant:
      body: {{ notifyType: PAYMENT_RESULT, paymentId: never-made }}
      url: "{{{{ shop }}}}/notify/wrong"
      client_id: "{{{{ target.client_id }}}}"
    expect: {{ ack: wrong_format }}
  - delivery:
      type: PAYMENT_RESULT
      match: {{ $.paymentId: "{{{{ paymentId }}}}" }}
    expect: {{ attempts: 1, ack: success }}
  - notify_merchant: {{ replay: CAPTURE_RESULT, of: nope, within: 300ms }}
"#,
            shop_pay("success")
        ),
    );
    let text = both(&out);
    assert_eq!(code(&out), 1, "{text}");
    assert!(
        text.contains("no CAPTURE_RESULT delivery for payment nope to replay in 300 ms"),
        "{text}"
    );
    assert_eq!(text.matches("failed at").count(), 1, "{text}");
}

/// r12: a hosted page whose card form posts to another origin gets no card data.
#[test]
fn r12_the_buyer_never_posts_card_data_to_another_origin() {
    // Arrange: a "hosted page" whose card form posts elsewhere.
    let collected = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = collected.clone();
    let evil = support::serve(axum::Router::new().route(
        "/collect",
        axum::routing::post(move || {
            seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            async { "thanks" }
        }),
    ));
    let form = format!(
        r#"<form method="post" action="{evil}/collect">
        <input name="card_number" autocomplete="cc-number"><input name="cvv" autocomplete="cc-csc">
        <button type="submit">Pay</button></form>"#
    );
    let page = support::serve(axum::Router::new().route(
        "/page",
        axum::routing::get(move || {
            let form = form.clone();
            async move { axum::response::Html(form) }
        }),
    ));
    let p = Project::new();
    p.file(
        "flows/evil.yaml",
        &format!(
            "name: Evil page\nsteps:\n  - redirect:\n      url: \"{page}/page\"\n      card: visa_success\n"
        ),
    );
    // Act
    let out = p.run(&[]);
    // Assert
    assert_eq!(code(&out), 1, "{}", both(&out));
    assert!(both(&out).contains("another origin"), "{}", both(&out));
    assert_eq!(collected.load(std::sync::atomic::Ordering::SeqCst), 0);
    assert!(!both(&out).contains("4054695723100768"));
}

/// An id the masker takes for a card number (a Visa test number as the paymentRequestId) is
/// masked in every output, yet `received` still matches it: the step reads the sandbox's
/// journal as the merchant sent it. Reading the masked listing, it matched nothing.
#[test]
fn an_id_that_looks_like_a_card_number_is_matched_and_still_masked_in_the_reports() {
    let p = Project::new();
    p.file(
        "flows/card-like-id.yaml",
        "name: Card-like id\nsteps:\n  - pay:\n      body_file: fixtures/payloads/pay-card-first-time.json\n      body: { paymentRequestId: \"4111111111111111\" }\n  - received:\n      api: pay\n      match: { $.request.paymentRequestId: \"4111111111111111\" }\n      within: 2s\n    expect:\n      count: 1\n      signature: valid\n",
    );
    let out = p.run(&["--json", "report.json"]);
    assert_eq!(code(&out), 0, "{}", both(&out));
    let report = std::fs::read_to_string(p.dir.path().join("report.json")).expect("the report");
    assert!(report.contains("************1111"), "{report}");
    for text in [both(&out), report] {
        assert!(!text.contains("4111111111111111"), "{text}");
    }
}

/// `received` with `background: true`: the steps after it run while its window is open and may
/// use what it saved; a matching call a later step makes is seen when the window closes at the
/// end of the case, also when a later step ended the case. Blocking, the first two cases
/// would pass: their later calls would come after the window.
#[test]
fn a_background_window_stays_open_while_the_next_steps_run() {
    let p = Project::new();
    let pay = |amount: u32| {
        format!(
            "  - pay:\n      body_file: fixtures/payloads/pay-card-first-time.json\n      body: {{ paymentAmount: {{ currency: SGD, value: \"{amount}\" }}, order: {{ orderAmount: {{ currency: SGD, value: \"{amount}\" }} }} }}\n"
        )
    };
    let watch = |amount: u32, window: &str, count: u32| {
        format!(
            "  - received:\n      api: pay\n      match: {{ $.request.paymentAmount.value: \"{amount}\" }}\n{window}      background: true\n    expect: {{ count: {count} }}\n"
        )
    };
    let once = "      settle: 3s\n";
    let inquiry = support::inquiry_step;
    p.file(
        "flows/a-once.yaml",
        &format!(
            "name: Called twice\nsteps:\n{}{}    save: {{ paymentId: $.response.paymentId }}\n{}{}",
            pay(4301),
            watch(4301, once, 1),
            inquiry("PROCESSING"),
            pay(4301)
        ),
    )
    .file(
        "flows/b-never.yaml",
        &format!(
            "name: Never, then called\nsteps:\n{}{}",
            watch(4302, "      within: 3s\n      settle: 0s\n", 0),
            pay(4302)
        ),
    )
    .file(
        "flows/c-stopped.yaml",
        &format!(
            "name: Stopped by a later step\nsteps:\n{}{}    save: {{ paymentId: $.response.paymentId }}\n{}{}",
            pay(4303),
            watch(4303, "      settle: 1s\n", 1),
            inquiry("SUCCESS"),
            pay(4303)
        ),
    )
    .file(
        "flows/d-passes.yaml",
        &format!(
            "name: Passes\nsteps:\n{}{}    save: {{ paymentId: $.response.paymentId }}\n{}",
            pay(4304),
            watch(4304, "      settle: 1s\n", 1),
            inquiry("PROCESSING")
        ),
    );
    // It saves when it opens, from the first match: a later one is not there yet.
    p.file(
        "flows/e-saves-later.yaml",
        &format!(
            "name: Saves the second\nsteps:\n{}{}    save:\n      paymentId: $.calls[1].response.paymentId\n",
            pay(4305),
            watch(4305, "      settle: 1s\n", 2),
        ),
    );
    let out = p.run(&["--jobs", "5", "--json", "r.json"]);
    assert_eq!(code(&out), 1, "{}", both(&out));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(p.dir.path().join("r.json")).unwrap())
            .unwrap();
    let steps = |flow: &str| -> Vec<String> {
        let case = report["cases"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["flow"] == flow)
            .unwrap_or_else(|| panic!("{flow} is reported"));
        case["steps"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["status"].as_str().unwrap().to_owned())
            .collect()
    };
    let text = both(&out);
    assert_eq!(
        steps("Called twice"),
        ["passed", "failed", "passed", "passed"],
        "{text}"
    );
    assert_eq!(steps("Never, then called"), ["failed", "passed"], "{text}");
    assert_eq!(
        steps("Stopped by a later step"),
        ["passed", "passed", "failed", "skipped"],
        "{text}"
    );
    assert_eq!(steps("Passes"), ["passed", "passed", "passed"], "{text}");
    assert_eq!(steps("Saves the second"), ["passed", "failed"], "{text}");
    assert!(
        text.contains("the step saves from the first match when it opens; later matches (`$.calls[1]`) are not there yet"),
        "{text}"
    );
    // How the failure of a background step reads (the quoted journal entry left out).
    let mut lines = text.lines().skip_while(|l| !l.contains("Called twice"));
    let block: Vec<&str> = lines
        .next()
        .into_iter()
        .chain(lines.take_while(|l| l.starts_with(' ')))
        .filter(|l| !l.trim_start().starts_with("last response:"))
        .collect();
    insta::assert_snapshot!(stable(&block.join("\n")));
}
