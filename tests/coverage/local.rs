//! A realistic run against the bundled checklist: a few flows, a matrix, a failure, items left
//! missing or not proven (the flows assert no inquiry), and exchanges and assertions carrying
//! card data and a registered secret.

use std::path::{Path, PathBuf};
use std::time::Duration;

use apoflow::checklist::Checklist;
use apoflow::report::coverage::{CaseOutcome, Held, StepOutcome};
use apoflow::report::evidence::{CaseEvidence, Exchange, ExchangeKind, RunInfo, Subject};
use serde_json::json;

/// A Luhn-valid test card number that must never reach a file.
pub const PAN: &str = "4054695723100768";
/// The CVV sent with it.
pub const CVV: &str = "8642";
/// Its expiry.
pub const EXPIRY: &str = "12/29";
/// A secret registered with the masker (a private key body, say).
pub const SECRET: &str = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC";

/// The bundled checklist, by the relative path a user would type.
pub fn bundled() -> Checklist {
    Checklist::load(Path::new("checklists/apo-card-hosted.yaml")).expect("bundled checklist")
}

/// A fixed run, so the summary is stable.
pub fn run_info() -> RunInfo {
    RunInfo {
        started: "2026-11-25T21:00:00Z".parse().expect("timestamp"),
        duration: Duration::from_millis(12_345),
        target: "embedded sandbox (http://127.0.0.1:41234)".to_owned(),
        subject: Some(Subject {
            name: "example".to_owned(),
            url: "http://127.0.0.1:8710".to_owned(),
            command: "python shop.py".to_owned(),
        }),
        label: Some("shop@1a2b3c4".to_owned()),
    }
}

/// A step of the support run, with its assertions (query, expected, actual), all holding
/// unless `passed` is false.
pub fn step(
    name: &str,
    kind: &str,
    passed: bool,
    assertions: &[(&str, &str, &str)],
) -> StepOutcome {
    StepOutcome {
        name: name.to_owned(),
        kind: kind.to_owned(),
        api: None,
        passed,
        assertions: assertions
            .iter()
            .map(|(query, expected, actual)| Held {
                query: (*query).to_owned(),
                expected: (*expected).to_owned(),
                actual: (*actual).to_owned(),
                passed,
            })
            .collect(),
    }
}

/// One passed case covering every item of `checklist`, with one step per requirement of each
/// item's proof that asserts exactly what it asks.
pub fn proving_everything(checklist: &Checklist) -> CaseOutcome {
    let steps = checklist
        .items
        .iter()
        .flat_map(|item| &item.proof)
        .map(|r| {
            let checks: Vec<(&str, &str, &str)> = if r.checks.is_empty() {
                vec![("status", "integer <200>", "integer <200>")]
            } else {
                r.checks.iter().map(|c| (c.as_str(), "x", "x")).collect()
            };
            let mut s = step("proof", r.step.as_deref().unwrap_or("http"), true, &checks);
            s.api.clone_from(&r.api);
            s
        })
        .collect();
    CaseOutcome {
        file: PathBuf::from("flows/all.yaml"),
        flow: "Everything".to_owned(),
        case: None,
        covers: checklist.items.iter().map(|i| i.id.clone()).collect(),
        passed: true,
        steps,
    }
}

/// The steps behind [`payment_exchanges`]: pay, the buyer, the notification (failed when the
/// case failed). No inquiry: items whose proof asks for one are not proven.
fn payment_steps(passed: bool) -> Vec<StepOutcome> {
    vec![
        step(
            "pay",
            "pay",
            true,
            &[
                ("signature", "string <valid>", "string <valid>"),
                (
                    "$.result.resultCode",
                    "string <PAYMENT_IN_PROCESS>",
                    "string <PAYMENT_IN_PROCESS>",
                ),
            ],
        ),
        step(
            "buyer",
            "redirect",
            true,
            &[(
                "landed_on",
                "starts with string <http://127.0.0.1:41235/return>",
                "string <http://127.0.0.1:41235/return>",
            )],
        ),
        step(
            "authorized",
            "notify",
            passed,
            &[
                ("signature", "string <valid>", "string <valid>"),
                ("ack", "string <success>", "string <success>"),
                ("$.result.resultStatus", "string <S>", "string <S>"),
                (
                    "$.paymentResultInfo.cardToken",
                    "something",
                    // An assertion's actual value is masked too.
                    &format!("string <tok-1 for {PAN}>"),
                ),
            ],
        ),
    ]
}

fn outcome(
    file: &str,
    flow: &str,
    case: Option<&str>,
    covers: &[&str],
    passed: bool,
) -> CaseOutcome {
    CaseOutcome {
        file: PathBuf::from(file),
        flow: flow.to_owned(),
        case: case.map(str::to_owned),
        covers: covers.iter().map(|c| (*c).to_owned()).collect(),
        passed,
        steps: payment_steps(passed),
    }
}

/// A pay request with the card entered inline, its response, the notification and the ack.
fn payment_exchanges() -> Vec<Exchange> {
    let ex = |step: &str, kind, at_ms, summary: &str, data| Exchange {
        step: step.to_owned(),
        step_index: ["pay", "buyer", "authorized"]
            .iter()
            .position(|s| *s == step)
            .unwrap_or(0),
        kind,
        at_ms,
        summary: summary.to_owned(),
        data,
    };
    vec![
        ex(
            "pay",
            ExchangeKind::Request,
            0,
            "POST /ams/api/v1/payments/pay",
            json!({
                "headers": { "client-id": "SANDBOX_5YBZ1A", "signature": format!("algorithm=RSA256,keyVersion=1,signature={SECRET}") },
                "body": {
                    "paymentRequestId": "req-1",
                    "paymentAmount": { "currency": "SGD", "value": "4200" },
                    "paymentMethod": { "paymentMethodType": "CARD", "paymentMethodMetaData": {
                        "cardNo": PAN, "cvv": CVV, "expiryDate": EXPIRY, "cardholderName": "A Tester" } }
                }
            }),
        ),
        ex(
            "pay",
            ExchangeKind::Response,
            41,
            "HTTP 200 U PAYMENT_IN_PROCESS",
            json!({ "status": 200, "body": { "result": { "resultStatus": "U", "resultCode": "PAYMENT_IN_PROCESS" },
                    "paymentId": "pay-1", "normalUrl": "http://127.0.0.1:41234/hosted/pay-1" } }),
        ),
        ex(
            "buyer",
            ExchangeKind::Request,
            60,
            &format!("POST /hosted/pay-1 card {PAN}"),
            // A form posted to the hosted page: the card number as a JSON number too.
            json!({ "form": { "card_number": PAN.parse::<u64>().expect("digits"), "cvc": CVV, "exp": EXPIRY } }),
        ),
        ex(
            "authorized",
            ExchangeKind::Notification,
            230,
            "PAYMENT_RESULT S",
            json!({ "body": { "notifyType": "PAYMENT_RESULT", "result": { "resultStatus": "S" },
                    "paymentResultInfo": { "cardNo": "************0768", "cardToken": "tok-1" } } }),
        ),
        ex(
            "authorized",
            ExchangeKind::Acknowledgement,
            231,
            "HTTP 200 SUCCESS",
            json!({ "status": 200, "body": { "result": { "resultCode": "SUCCESS", "resultStatus": "S", "resultMessage": "success" } } }),
        ),
    ]
}

/// The run: most items covered and passed, HM-02 failed in one matrix case, the rest missing.
pub fn cases() -> Vec<CaseEvidence> {
    apoflow::mask::register_secret(SECRET);
    let case = |outcome| CaseEvidence {
        outcome,
        exchanges: payment_exchanges(),
    };
    vec![
        case(outcome(
            "flows/card/first-time.yaml",
            "First-time payment, tokenize ENABLED",
            None,
            &["HM-01", "HM-03", "NT-01", "NT-02", "CP-01", "AT-01"],
            true,
        )),
        case(outcome(
            "flows/card/terminal-types.yaml",
            "Terminal types",
            Some("terminalType=WEB"),
            &["HM-02"],
            true,
        )),
        case(outcome(
            "flows/card/terminal-types.yaml",
            "Terminal types",
            Some("terminalType=WAP"),
            &["HM-02"],
            true,
        )),
        case(outcome(
            "flows/card/terminal-types.yaml",
            "Terminal types",
            Some("terminalType=APP"),
            &["HM-02"],
            false,
        )),
        case(outcome(
            "flows/card/consent.yaml",
            "Ask for consent | ticked",
            None,
            &["HM-04", "HM-01"],
            true,
        )),
        case(outcome(
            "flows/card/manual-capture.yaml",
            "Manual capture, full",
            None,
            &["CP-02"],
            true,
        )),
        case(outcome(
            "flows/card/manual-capture-twin.yaml",
            "Manual capture, full",
            None,
            &["CP-02"],
            true,
        )),
        case(outcome(
            &format!("flows/card/{PAN}.yaml"),
            &format!("Card {PAN} declined"),
            None,
            &["HM-08"],
            true,
        )),
    ]
}

/// All the files under `dir`, as (path relative to `dir`, text), sorted.
pub fn files_under(dir: &Path) -> Vec<(String, String)> {
    crate::support::files_under(dir)
        .into_iter()
        .map(|rel| {
            let text = std::fs::read_to_string(dir.join(&rel)).expect("utf-8 file");
            (rel, text)
        })
        .collect()
}
