//! The `delivery` step: waits for the embedded sandbox's delivery of a notification to the
//! merchant (`GET /_sandbox/deliveries`) and observes how the merchant answered it.
//!
//! ```text
//! poll GET /_sandbox/deliveries?type=&after=<seq> every 100 ms (&paymentId= once found, or
//!   from the start when `match:` wants `$.paymentId` to equal a string; a failure then lists
//!   every delivery of the type, for its near misses)
//!   find the first delivery whose notification satisfies `match:`
//!   then watch it until it made `attempts` (default 1) attempts ─ by `within` (10s), else
//!   the step fails: none matched (the 3 nearest and why), or too few attempts (its state)
//! ```
//! Observed `$`: the delivery record (`id`, `notifyType`, `url`, `paymentId`, `state`,
//! `attempts`, `body`: the notification, …) plus `answer`: the merchant's answer to the
//! latest attempt, parsed when it is JSON, else its text. Bare names: `ack` (the latest
//! answer: `success` = the fixed SUCCESS acknowledgement, `fail` = JSON whose
//! `result.resultStatus` is not S, `wrong_format` = any other answer, `none` = no HTTP answer),
//! `latency_ms`, `attempts` (how many were made), `acknowledged`; `status` is the merchant's
//! HTTP status of the latest attempt.

use crate::engine::error::StepError;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::time::Instant;

use super::StepCtx;
use super::http::{Exchange, parse_body, quote};
use super::sandbox::{Listing, list};
use super::watch::{Cursor, Matcher, Nearest, pause, seq};
use crate::engine::result::{RequestSummary, ResponseSummary};
use crate::expect::Observed;
use crate::flow::model::DeliveryAction;
use crate::flow::plan::Check;

/// How a `delivery` step's exchange is named in reports.
const METHOD: &str = "DELIVERY";

/// How long a `delivery` step waits by default.
const DEFAULT_WITHIN: Duration = Duration::from_secs(10);

/// Waits for the delivery; an `Err` is an error (a template, a target that is not the
/// embedded sandbox, a sandbox that cannot list deliveries).
pub(super) async fn wait(
    action: &DeliveryAction,
    matches: &[Check],
    ctx: &StepCtx<'_>,
) -> Result<Exchange, StepError> {
    let notify_type = action.notify_type.value.as_str();
    let matcher = Matcher::render(ctx, matches)?;
    let within = ctx.duration(action.within.as_ref(), "within", DEFAULT_WITHIN)?;
    let wanted = action.attempts.as_ref().map_or(1, |a| a.value.max(1)) as usize;
    let deadline = Instant::now() + within;

    // A match on the notification's paymentId lists only that payment's deliveries, not every
    // delivery of the type so far (quadratic over a suite); a failure lists them all, for its
    // near misses.
    let whole = vec![("type", notify_type.to_owned())];
    let mut query = whole.clone();
    if let Some(id) = matcher.narrowing("$.paymentId") {
        query.push(("paymentId", id.to_owned()));
    }
    let narrowed = query.len() > whole.len();
    // Before a match: only deliveries after the last seen; after: from the match on, to see
    // its new attempts.
    let mut cursor = Cursor::default();
    let mut found: Option<(Value, Option<u64>)> = None;
    let mut seen = 0usize;
    let mut nearest = Nearest::default();
    loop {
        let mut page_query = query.clone();
        let from = match &found {
            Some((_, s)) => s.and_then(|s| s.checked_sub(1)),
            None => cursor.last(),
        };
        if let Some(from) = from {
            page_query.push(("after", from.to_string()));
        }
        // Once found, only its payment's deliveries are listed.
        if let Some(id) = found.as_ref().and_then(|(d, _)| d["paymentId"].as_str())
            && !narrowed
        {
            page_query.push(("paymentId", id.to_owned()));
        }
        let page = list(ctx, "delivery", Listing::Deliveries, &page_query).await?;
        let deliveries = page["deliveries"].as_array().map_or(&[][..], Vec::as_slice);
        match &mut found {
            Some((record, _)) => {
                if let Some(now) = deliveries.iter().find(|d| d["id"] == record["id"]) {
                    *record = now.clone();
                }
            }
            None => {
                for d in deliveries {
                    if !cursor.is_new(d) || !of_type(d, notify_type) {
                        continue;
                    }
                    seen += 1;
                    let misses = matcher.misses(&notification(d));
                    if misses.is_empty() {
                        found = Some((d.clone(), seq(d)));
                        break;
                    }
                    nearest.offer(label(d), misses);
                }
            }
        }
        let made = found.as_ref().map_or(0, |(d, _)| attempts(d).len());
        let done = found.as_ref().is_some_and(|(d, _)| d["done"] == true);
        if made >= wanted || done || Instant::now() >= deadline {
            break;
        }
        pause(deadline).await;
    }
    let Some((record, _)) = found else {
        if narrowed {
            let page = list(ctx, "delivery", Listing::Deliveries, &whole).await?;
            let deliveries = page["deliveries"].as_array().map_or(&[][..], Vec::as_slice);
            seen = 0;
            nearest = Nearest::default();
            for d in deliveries.iter().filter(|d| of_type(d, notify_type)) {
                seen += 1;
                nearest.offer(label(d), matcher.misses(&notification(d)));
            }
        }
        let failure = format!(
            "no {notify_type} delivery{} was made in {} ms; the sandbox made {seen} {notify_type} \
             {}{}\n  = hint: did the merchant give `paymentNotifyUrl` (or \
             `refundNotifyUrl`) in its request? Give it more time with `within:`",
            matcher.describe(),
            within.as_millis(),
            if seen == 1 { "delivery" } else { "deliveries" },
            nearest.describe()
        );
        return Ok(exchange(json!({}), Some(failure), METHOD));
    };
    let made = attempts(&record).len();
    let failure = (made < wanted).then(|| {
        let next = record["nextAttemptAt"]
            .as_str()
            .map_or_else(String::new, |at| format!(", next attempt at {at}"));
        let hint = if record["done"] == true {
            "the delivery is over: no more attempts will come (an acknowledged delivery is not \
             resent)"
        } else {
            "resends follow APO's schedule on the sandbox's virtual clock: move it with \
             `sandbox: { advance_clock: 2m }` before this step"
        };
        format!(
            "the {notify_type} delivery {} made {made} of {wanted} attempt(s) in {} ms (state \
             {}{next})\n  = hint: {hint}",
            record["id"],
            within.as_millis(),
            record["state"].as_str().unwrap_or("unknown"),
        )
    });
    Ok(exchange(record, failure, METHOD))
}

/// A delivery's attempts (none when the record has no list).
fn attempts(record: &Value) -> &[Value] {
    record["attempts"].as_array().map_or(&[], Vec::as_slice)
}

/// Whether a listed delivery is of the step's type (the sandbox filters by it already; this
/// is defensive).
fn of_type(record: &Value, notify_type: &str) -> bool {
    record["notifyType"]
        .as_str()
        .is_none_or(|t| t == notify_type)
}

/// A delivery's notification as an observation, for `match:`.
fn notification(record: &Value) -> Observed {
    Observed {
        body: record["body"].clone(),
        ..Observed::default()
    }
}

/// How a near miss is named in a failure: `#3 PAYMENT_RESULT to URL (state delivered)`.
fn label(record: &Value) -> String {
    let seq = seq(record).map_or_else(String::new, |s| format!("#{s} "));
    format!(
        "{seq}{} to {} (payment {}, state {})",
        record["notifyType"].as_str().unwrap_or("?"),
        record["url"].as_str().unwrap_or("?"),
        record["paymentId"].as_str().unwrap_or("?"),
        record["state"].as_str().unwrap_or("?"),
    )
}

/// What the merchant's answer to an attempt was: `success` (the fixed SUCCESS
/// acknowledgement), `none` (no HTTP answer), `fail` (JSON whose `result.resultStatus` is not
/// S), else `wrong_format`.
fn classify(attempt: &Value) -> &'static str {
    if attempt["acknowledged"] == true {
        return "success";
    }
    if !attempt["status"].is_u64() {
        return "none";
    }
    let answer = attempt["answer"]
        .as_str()
        .and_then(|text| serde_json::from_str::<Value>(text).ok());
    match answer.as_ref().map(|a| &a["result"]["resultStatus"]) {
        Some(Value::String(status)) if status != "S" => "fail",
        _ => "wrong_format",
    }
}

/// The observation of a delivery record (`{}` when none matched): `$` is the record plus
/// `answer` (the latest attempt's, parsed), the bare names are the latest attempt's; `method`
/// names the exchange in reports (`DELIVERY`). Shared with `notify_merchant`, whose sends are
/// observed as one such record.
pub(super) fn exchange(mut record: Value, failure: Option<String>, method: &str) -> Exchange {
    let latest = attempts(&record).last().cloned();
    let mut observed = Observed::default();
    let answer = latest.as_ref().map_or(Value::Null, |a| {
        a["answer"].as_str().map_or(Value::Null, parse_body)
    });
    if let Some(a) = &latest {
        observed.status = a["status"].as_u64().and_then(|s| u16::try_from(s).ok());
        observed
            .extra
            .insert("ack".to_owned(), Value::from(classify(a)));
        observed
            .extra
            .insert("latency_ms".to_owned(), a["latencyMs"].clone());
        observed
            .extra
            .insert("acknowledged".to_owned(), a["acknowledged"].clone());
    }
    observed
        .extra
        .insert("attempts".to_owned(), Value::from(attempts(&record).len()));
    if let Value::Object(map) = &mut record {
        map.insert("answer".to_owned(), answer.clone());
    }
    let notification = record["body"].clone();
    let url = record["url"].as_str().unwrap_or_default().to_owned();
    let ack = observed.extra.get("ack").cloned().unwrap_or(Value::Null);
    let text = record.to_string();
    observed.body = record;
    Exchange {
        request_summary: RequestSummary {
            method: method.to_owned(),
            url: crate::mask::mask_text(&url).into_owned(),
        },
        response_summary: ResponseSummary {
            status: observed.status.unwrap_or(0),
            body: quote(&text, &observed.body),
        },
        unquoted: None,
        request: json!({ "method": "POST", "url": url, "body": notification }),
        response: json!({ "status": observed.status, "ack": ack, "body": answer }),
        observed,
        guards: Vec::new(),
        failure,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expect::eval_entry;

    fn attempt(status: Option<u16>, answer: &str, acknowledged: bool) -> Value {
        json!({ "at": "2026-11-27T10:00:00Z", "outcome": "x", "acknowledged": acknowledged,
                "status": status, "answer": answer, "latencyMs": 12, "error": null })
    }

    #[test]
    fn answers_are_classified() {
        let ok =
            r#"{"result":{"resultCode":"SUCCESS","resultStatus":"S","resultMessage":"success"}}"#;
        assert_eq!(classify(&attempt(Some(200), ok, true)), "success");
        let failed = r#"{"result":{"resultCode":"SYSTEM_ERROR","resultStatus":"F"}}"#;
        assert_eq!(classify(&attempt(Some(200), failed, false)), "fail");
        assert_eq!(classify(&attempt(Some(500), failed, false)), "fail");
        assert_eq!(classify(&attempt(Some(200), "OK", false)), "wrong_format");
        // S but not the fixed body (e.g. another resultCode): not the acknowledgement.
        let s_other = r#"{"result":{"resultCode":"OK","resultStatus":"S"}}"#;
        assert_eq!(
            classify(&attempt(Some(200), s_other, false)),
            "wrong_format"
        );
        assert_eq!(classify(&attempt(Some(200), "", false)), "wrong_format");
        assert_eq!(classify(&attempt(None, "", false)), "none");
        assert_eq!(classify(&json!({})), "none");
    }

    #[test]
    fn the_observation_is_the_record_with_the_latest_answer() {
        let record = json!({
            "id": 7, "seq": 7, "notifyType": "PAYMENT_RESULT", "url": "http://127.0.0.1:1/notify",
            "paymentId": "P1", "state": "delivered", "done": true,
            "body": { "notifyType": "PAYMENT_RESULT", "paymentId": "P1" },
            "attempts": [
                attempt(Some(500), "oops", false),
                attempt(Some(200), r#"{"result":{"resultStatus":"S","resultCode":"SUCCESS"}}"#, true),
            ],
        });
        assert!(notification(&record).body["paymentId"] == "P1");
        let e = exchange(record, None, METHOD);
        let o = &e.observed;
        for (query, expected) in [
            ("ack", json!("success")),
            ("status", json!(200)),
            ("attempts", json!(2)),
            ("acknowledged", json!(true)),
            ("latency_ms", json!({ "lt": 10000 })),
            ("$.body.paymentId", json!("P1")),
            ("$.answer.result.resultStatus", json!("S")),
            ("$.attempts[0].status", json!(500)),
        ] {
            let r = eval_entry(query, &expected, o, 1, 1);
            assert!(r.passed, "{query}: {}", r.message);
        }
        assert_eq!(e.response["ack"], "success");
        assert_eq!(
            label(&o.body),
            "#7 PAYMENT_RESULT to http://127.0.0.1:1/notify (payment P1, state delivered)"
        );
    }

    use super::super::watch::fake;
    use std::sync::{Arc, Mutex};

    fn record(seq: u64, payment_id: &str, attempts: Vec<Value>) -> Value {
        json!({ "id": seq, "seq": seq, "notifyType": "PAYMENT_RESULT", "url": "http://127.0.0.1:1/n",
                "paymentId": payment_id, "state": "pending", "done": false,
                "nextAttemptAt": "2026-11-27T10:02:00Z",
                "body": { "notifyType": "PAYMENT_RESULT", "paymentId": payment_id },
                "attempts": attempts })
    }

    #[tokio::test]
    async fn the_step_waits_for_the_attempts_asked_for() {
        let entries: fake::Entries = Arc::new(Mutex::new(vec![
            record(1, "P0", vec![]),
            record(2, "P1", vec![attempt(Some(500), "no", false)]),
        ]));
        let (parts, asked) = fake::start(
            "/_sandbox/deliveries",
            "deliveries",
            &[("type", "notifyType"), ("paymentId", "paymentId")],
            entries.clone(),
        )
        .await;
        let later = entries.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(250)).await;
            let mut list = later.lock().unwrap();
            list[1]["attempts"]
                .as_array_mut()
                .unwrap()
                .push(attempt(None, "", false));
        });
        let a: DeliveryAction = serde_saphyr::from_str(
            "type: PAYMENT_RESULT\nmatch: { $.paymentId: P1 }\nattempts: 2\nwithin: 5s\n",
        )
        .unwrap();
        let e = wait(&a, &fake::checks(&a.matches), &parts.ctx())
            .await
            .unwrap();
        assert_eq!(e.failure, None);
        assert_eq!(e.observed.extra["attempts"], 2);
        assert_eq!(e.observed.extra["ack"], "none");
        // The match on `$.paymentId` narrows every listing to that payment's deliveries.
        let queries = std::mem::take(&mut *asked.lock().unwrap());
        assert!(
            queries
                .iter()
                .all(|q| q.get("paymentId").map(String::as_str) == Some("P1")),
            "{queries:?}"
        );

        // Too few attempts in time: the state and the next attempt are told.
        let a: DeliveryAction = serde_saphyr::from_str(
            "type: PAYMENT_RESULT\nmatch: { $.paymentId: P0 }\nwithin: 300ms\n",
        )
        .unwrap();
        let failure = wait(&a, &fake::checks(&a.matches), &parts.ctx())
            .await
            .unwrap()
            .failure
            .unwrap();
        assert!(
            failure.starts_with("the PAYMENT_RESULT delivery 1 made 0 of 1 attempt(s) in 300 ms (state pending, next attempt at 2026-11-27T10:02:00Z)"),
            "{failure}"
        );

        // A finished delivery gets no more attempts: the step does not wait for them.
        let mut done = record(3, "P3", vec![attempt(Some(200), "{}", true)]);
        done["done"] = json!(true);
        done["state"] = json!("delivered");
        entries.lock().unwrap().push(done);
        let a: DeliveryAction = serde_saphyr::from_str(
            "type: PAYMENT_RESULT\nmatch: { $.paymentId: P3 }\nattempts: 2\nwithin: 30s\n",
        )
        .unwrap();
        let started = Instant::now();
        let failure = wait(&a, &fake::checks(&a.matches), &parts.ctx())
            .await
            .unwrap()
            .failure
            .unwrap();
        assert!(started.elapsed() < Duration::from_secs(10));
        assert!(failure.contains("made 1 of 2 attempt(s)"), "{failure}");
        assert!(failure.contains("the delivery is over"), "{failure}");
        entries.lock().unwrap().pop();

        // None matching: the nearest are quoted.
        let a: DeliveryAction = serde_saphyr::from_str(
            "type: PAYMENT_RESULT\nmatch: { $.paymentId: P7 }\nwithin: 300ms\n",
        )
        .unwrap();
        let failure = wait(&a, &fake::checks(&a.matches), &parts.ctx())
            .await
            .unwrap()
            .failure
            .unwrap();
        assert!(failure.starts_with("no PAYMENT_RESULT delivery with $.paymentId = P7 was made in 300 ms; the sandbox made 2 PAYMENT_RESULT deliveries"), "{failure}");
        assert!(
            failure.contains("$.paymentId: expected string <P7>, got string <P1>"),
            "{failure}"
        );
    }

    #[test]
    fn a_record_without_attempts_or_fields_does_not_panic() {
        let e = exchange(
            json!({ "id": 1, "state": "pending" }),
            Some("few".into()),
            METHOD,
        );
        assert_eq!(e.observed.extra["attempts"], 0);
        assert!(!e.observed.extra.contains_key("ack"));
        assert_eq!(e.observed.status, None);
        let e = exchange(json!("junk"), None, METHOD);
        assert_eq!(e.observed.body, json!("junk"));
        assert_eq!(label(&json!(null)), "? to ? (payment ?, state ?)");
    }
}
