//! The `received` step: waits for APO calls the merchant's server made to the embedded
//! sandbox, read from its request journal (`GET /_sandbox/calls`), and observes them.
//!
//! ```text
//! poll GET /_sandbox/calls?api=&clientId=&after=<seq> every 100 ms
//!   (&paymentRequestId= / &paymentId= when `match:` wants the request's own id to equal a
//!   string: only that payment's calls are listed; a failure lists the client's, for its hints)
//!   no settle: stop at the first match ─── none by `within` (10s) → the step fails, quoting
//!                                            the 3 nearest calls and why each did not match
//!   settle: S: watch until S after the first match reached the sandbox (its `ageMs`), then
//!              count; none by `within` → count 0
//!   background: the opening waits for the first match if the step saves from it (`save:`,
//!              `id:`), else looks once; the case goes on; at its end the step runs again
//!              in full, `within` counted from the opening: its window is by then mostly or
//!              wholly past
//! ```
//! The whole journal of the run is searched (calls made before the step count too): a flow
//! isolates its own calls by `match:` on its own ids (`$.request.paymentRequestId`).
//! `sandbox: { reset: true }` starts a fresh journal.
//!
//! Observed `$`: the first match's `request` (the parsed JSON body, `null` when not JSON),
//! `response` (what the sandbox answered), `headers`, `path`, `clientId`, `requestTime`,
//! `at`, `signature`, `seq`, `api`, `body` (the raw text), plus `calls`: every match in that
//! shape. Bare names: `count` (matches), `signature` (the first match's verdict: valid,
//! missing, invalid, unknown_client). `headers.<name>` are the first match's request headers.

use crate::engine::error::StepError;
use std::time::Duration;

use serde_json::{Map, Value, json};
use tokio::time::Instant;

use super::StepCtx;
use super::http::{Exchange, quote, render_spanned_str};
use super::sandbox::{Listing, list};
use super::watch::{Cursor, Matcher, Nearest, pause};
use crate::engine::result::{RequestSummary, ResponseSummary};
use crate::expect::Observed;
use crate::flow::model::ReceivedAction;
use crate::flow::plan::Check;

/// How long a `received` step waits for the first match by default.
const DEFAULT_WITHIN: Duration = Duration::from_secs(10);

/// Which run of a `received` step this is.
#[derive(Debug, Clone, Copy)]
pub(super) enum Phase {
    /// A step without `background`: the one and only run.
    Whole,
    /// A `background` step's first run: it stops at the first match instead of watching the
    /// `settle` window, or (`waits: false`, the step saves nothing) after one look.
    Opening {
        /// Whether it waits for the first match.
        waits: bool,
    },
    /// A `background` step's run at the end of its case: a whole run whose `within` counts
    /// from when the step opened.
    Closing {
        /// When the opening began.
        opened: std::time::Instant,
    },
}

/// Waits for the calls; an `Err` is an error (a template, a target that is not the embedded
/// sandbox, a sandbox without a journal).
pub(super) async fn wait(
    action: &ReceivedAction,
    matches: &[Check],
    ctx: &StepCtx<'_>,
    phase: Phase,
) -> Result<Exchange, StepError> {
    let api = action.api.value.as_str();
    let matcher = Matcher::render(ctx, matches)?;
    let client_id = match &action.client_id {
        Some(c) => Some(render_spanned_str(ctx, c, "client_id")?),
        None => None,
    };
    let within = ctx.duration(action.within.as_ref(), "within", DEFAULT_WITHIN)?;
    let settle = match &action.settle {
        Some(s) => Some(ctx.duration(Some(s), "settle", Duration::ZERO)?),
        None => None,
    };
    let deadline = match phase {
        Phase::Closing { opened } => Instant::from_std(opened) + within,
        Phase::Whole | Phase::Opening { .. } => Instant::now() + within,
    };

    let mut query = vec![("api", api.to_owned())];
    if let Some(client) = &client_id {
        query.push(("clientId", client.clone()));
    }
    // A match on the request's own id lets the sandbox list only that payment's calls: a
    // superset of the matches (it files a call under its request's ids first), so the step
    // reads a few calls, not every call of the client so far (quadratic over a suite).
    let whole = query.clone();
    for (field, param) in JOURNAL_IDS {
        if let Some(id) = matcher.narrowing(field) {
            query.push((param, id.to_owned()));
        }
    }
    let narrowed = query.len() > whole.len();
    let mut cursor = Cursor::default();
    let mut seen = 0usize;
    let mut matches: Vec<Value> = Vec::new();
    let mut nearest = Nearest::default();
    let mut settled_at: Option<Instant> = None;
    let mut first_age = Duration::ZERO;
    loop {
        let mut page_query = query.clone();
        if let Some(last) = cursor.last() {
            page_query.push(("after", last.to_string()));
        }
        let page = list(ctx, "received", Listing::Calls, &page_query).await?;
        let calls = page["calls"].as_array().map_or(&[][..], Vec::as_slice);
        for call in calls {
            if !cursor.is_new(call) || !listed(call, api, client_id.as_deref()) {
                continue;
            }
            seen += 1;
            let entry = shape(call);
            let misses = matcher.misses(&observe(&entry));
            if misses.is_empty() {
                if matches.is_empty() {
                    first_age = age(call);
                }
                matches.push(entry);
            } else {
                nearest.offer(label(&entry), misses);
            }
        }
        let now = Instant::now();
        let until = match settle {
            None if !matches.is_empty() => break,
            _ if matches!(phase, Phase::Opening { waits: false }) => break,
            Some(_) if matches!(phase, Phase::Opening { .. }) && !matches.is_empty() => break,
            None => deadline,
            // `settle` after the first match reached the sandbox (it may have been a while).
            Some(settle) if !matches.is_empty() => {
                *settled_at.get_or_insert_with(|| now + settle.saturating_sub(first_age))
            }
            Some(_) => deadline,
        };
        if now >= until {
            break;
        }
        pause(until).await;
    }
    if matches.is_empty() && settle.is_none() && narrowed {
        // The failure names the client's nearest calls, which the narrowed listing left out.
        let page = list(ctx, "received", Listing::Calls, &whole).await?;
        let calls = page["calls"].as_array().map_or(&[][..], Vec::as_slice);
        seen = 0;
        nearest = Nearest::default();
        for call in calls
            .iter()
            .filter(|c| listed(c, api, client_id.as_deref()))
        {
            seen += 1;
            let entry = shape(call);
            nearest.offer(label(&entry), matcher.misses(&observe(&entry)));
        }
    }
    let failure = (matches.is_empty() && settle.is_none()).then(|| {
        let from = client_id
            .as_deref()
            .map_or_else(String::new, |c| format!(" from {c}"));
        format!(
            "no `{api}` call{from}{} reached the sandbox in {} ms; its journal has {seen} `{api}` \
             {}{from}{}\n  = hint: did the merchant's server make the call (an earlier step \
             starts it)? Give it more time with `within:`",
            matcher.describe(),
            within.as_millis(),
            if seen == 1 { "call" } else { "calls" },
            nearest.describe()
        )
    });
    Ok(exchange(api, matches, failure))
}

/// The `match:` queries the sandbox's journal can narrow its listing by, and the parameter
/// that does it.
const JOURNAL_IDS: [(&str, &str); 2] = [
    ("$.request.paymentRequestId", "paymentRequestId"),
    ("$.request.paymentId", "paymentId"),
];

/// Whether a listed call is of the step's API and client (the sandbox filters by them
/// already; this is defensive).
fn listed(call: &Value, api: &str, client_id: Option<&str>) -> bool {
    call["api"].as_str().is_none_or(|a| a == api)
        && client_id.is_none_or(|c| call["clientId"].as_str().is_none_or(|got| got == c))
}

/// How long ago the sandbox recorded a call (its `ageMs` when listed; zero from a sandbox that
/// does not say).
fn age(call: &Value) -> Duration {
    Duration::from_millis(call["ageMs"].as_u64().unwrap_or(0))
}

/// A journal entry in the shape flows query: `request` and `response` parsed, the rest as
/// recorded.
fn shape(call: &Value) -> Value {
    let mut entry = Map::new();
    entry.insert("request".to_owned(), call["json"].clone());
    for key in [
        "response",
        "headers",
        "path",
        "clientId",
        "requestTime",
        "at",
        "signature",
        "seq",
        "api",
        "body",
    ] {
        entry.insert(key.to_owned(), call[key].clone());
    }
    Value::Object(entry)
}

/// An entry as an observation, for `match:`: `$` is the entry, `headers.<name>` its request
/// headers, `signature` its verdict.
fn observe(entry: &Value) -> Observed {
    let headers = entry["headers"]
        .as_object()
        .map(|h| {
            h.iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        v.as_str().map_or_else(|| v.to_string(), str::to_owned),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let mut o = Observed {
        status: None,
        headers,
        body: entry.clone(),
        extra: Default::default(),
    };
    o.extra
        .insert("signature".to_owned(), entry["signature"].clone());
    o
}

/// How a near miss is named in a failure: `#12 POST /ams/api/v1/payments/pay from X at T
/// (signature valid)`.
fn label(entry: &Value) -> String {
    let text = |key: &str| entry[key].as_str().unwrap_or("?").to_owned();
    let seq = entry["seq"]
        .as_u64()
        .map_or_else(String::new, |s| format!("#{s} "));
    format!(
        "{seq}POST {} from {} at {} (signature {})",
        text("path"),
        text("clientId"),
        text("at"),
        text("signature")
    )
}

/// The observation: the first match's fields, `calls`, and `count` / `signature`.
fn exchange(api: &str, matches: Vec<Value>, failure: Option<String>) -> Exchange {
    let first = matches.first().cloned().unwrap_or_else(|| json!({}));
    let mut observed = observe(&first);
    if matches.is_empty() {
        observed.extra.shift_remove("signature");
    }
    observed
        .extra
        .insert("count".to_owned(), Value::from(matches.len()));
    let mut body = first.as_object().cloned().unwrap_or_default();
    body.insert("calls".to_owned(), Value::Array(matches));
    observed.body = Value::Object(body);
    let path = first["path"].as_str().unwrap_or_default().to_owned();
    let text = observed.body.to_string();
    Exchange {
        request_summary: RequestSummary {
            method: "RECEIVED".to_owned(),
            url: format!("{api} {path}").trim_end().to_owned(),
        },
        response_summary: ResponseSummary {
            status: 200,
            body: quote(&text, &observed.body),
        },
        unquoted: None,
        request: json!({
            "method": "POST",
            "url": path,
            "headers": first["headers"],
            "body": first["request"],
        }),
        response: json!({ "status": 200, "headers": {}, "body": first["response"] }),
        observed,
        guards: Vec::new(),
        failure,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apo::target::Target;
    use crate::expect::eval_entry;

    /// A journal entry as `GET /_sandbox/calls` lists it.
    fn call(seq: u64, request_id: &str, signature: &str) -> Value {
        let body = json!({ "paymentRequestId": request_id, "paymentAmount": { "currency": "SGD", "value": "4200" } });
        json!({
            "seq": seq, "at": "2026-11-27T10:00:00Z", "clientId": "SANDBOX_M",
            "api": "pay", "path": "/ams/api/v1/payments/pay",
            "headers": { "client-id": "SANDBOX_M", "request-time": "1764237600000" },
            "requestTime": "1764237600000", "body": body.to_string(), "json": body,
            "signature": signature,
            "response": { "result": { "resultStatus": "U" }, "paymentId": format!("P{seq}") },
            "resultStatus": "U", "resultCode": "PAYMENT_IN_PROCESS",
            "paymentId": format!("P{seq}"), "paymentRequestId": request_id,
        })
    }

    #[test]
    fn an_entry_is_matched_in_its_flow_shape() {
        let entry = shape(&call(4, "R1", "valid"));
        assert_eq!(entry["request"]["paymentRequestId"], "R1");
        assert_eq!(entry["response"]["paymentId"], "P4");
        let o = observe(&entry);
        for (query, expected) in [
            ("$.request.paymentAmount.value", json!("4200")),
            ("signature", json!("valid")),
            ("headers.Client-Id", json!("SANDBOX_M")),
            ("$.path", json!({ "ends_with": "/pay" })),
        ] {
            assert!(eval_entry(query, &expected, &o, 1, 1).passed, "{query}");
        }
        assert_eq!(
            label(&entry),
            "#4 POST /ams/api/v1/payments/pay from SANDBOX_M at 2026-11-27T10:00:00Z (signature valid)"
        );
    }

    #[test]
    fn the_observation_is_the_first_match_with_every_call() {
        let e = exchange(
            "pay",
            vec![
                shape(&call(1, "R1", "invalid")),
                shape(&call(2, "R1", "valid")),
            ],
            None,
        );
        let o = &e.observed;
        assert_eq!(o.extra["count"], 2);
        assert_eq!(o.extra["signature"], "invalid");
        assert_eq!(o.body["response"]["paymentId"], "P1");
        assert_eq!(o.body["calls"][1]["response"]["paymentId"], "P2");
        assert_eq!(e.request["body"]["paymentRequestId"], "R1");
        assert_eq!(e.request_summary.url, "pay /ams/api/v1/payments/pay");
        let none = exchange("capture", Vec::new(), Some("nothing".into()));
        assert_eq!(none.observed.extra["count"], 0);
        assert!(!none.observed.extra.contains_key("signature"));
        assert_eq!(none.observed.body, json!({ "calls": [] }));
        assert_eq!(none.failure.as_deref(), Some("nothing"));
    }

    use super::super::watch::fake;
    use std::sync::{Arc, Mutex};

    fn action(yaml: &str) -> ReceivedAction {
        serde_saphyr::from_str(yaml).unwrap()
    }

    /// A fake journal that filters as the sandbox's does; what it is asked.
    async fn journal_asked(calls: Vec<Value>) -> (fake::Parts, fake::Entries, fake::Asked) {
        let entries: fake::Entries = Arc::new(Mutex::new(calls));
        let (parts, asked) = fake::start(
            "/_sandbox/calls",
            "calls",
            &[
                ("api", "api"),
                ("paymentRequestId", "paymentRequestId"),
                ("paymentId", "paymentId"),
            ],
            entries.clone(),
        )
        .await;
        (parts, entries, asked)
    }

    async fn journal(calls: Vec<Value>) -> (fake::Parts, fake::Entries) {
        let (parts, entries, _) = journal_asked(calls).await;
        (parts, entries)
    }

    #[tokio::test]
    async fn a_call_that_comes_while_waiting_is_found() {
        let (parts, entries) = journal(vec![call(1, "OTHER", "valid")]).await;
        let later = entries.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(250)).await;
            later.lock().unwrap().push(call(2, "R1", "valid"));
        });
        let a = action("api: pay\nmatch: { $.request.paymentRequestId: R1 }\nwithin: 5s\n");
        let e = wait(&a, &fake::checks(&a.matches), &parts.ctx(), Phase::Whole)
            .await
            .unwrap();
        assert_eq!(e.failure, None);
        assert_eq!(e.observed.extra["count"], 1);
        assert_eq!(e.observed.body["response"]["paymentId"], "P2");
    }

    /// Every listing the fake was asked for was the client's whole journal.
    fn assert_whole_listing(asked: &fake::Asked) {
        let asked = asked.lock().unwrap();
        assert!(
            asked.iter().all(|q| !q.contains_key("paymentRequestId")),
            "{asked:?}"
        );
    }

    #[tokio::test]
    async fn a_match_on_the_requests_own_id_narrows_the_listing_to_that_payment() {
        let calls = vec![call(1, "R0", "valid"), call(2, "R1", "valid")];
        let (parts, _, asked) = journal_asked(calls.clone()).await;
        let a = action("api: pay\nmatch: { $.request.paymentRequestId: R1 }\nwithin: 1s\n");
        let e = wait(&a, &fake::checks(&a.matches), &parts.ctx(), Phase::Whole)
            .await
            .unwrap();
        assert_eq!(e.observed.extra["count"], 1);
        let asked = asked.lock().unwrap().clone();
        assert_eq!(asked.len(), 1, "{asked:?}");
        assert_eq!(asked[0]["paymentRequestId"], "R1");
        assert!(!asked[0].contains_key("paymentId"), "{asked:?}");

        // A masked id is left to the match: over the control API the listing is masked, the
        // sandbox's index of ids is not.
        let (parts, _, asked) = journal_asked(calls.clone()).await;
        let a = action("api: pay\nmatch: { $.request.paymentRequestId: \"****1\" }\nsettle: 1ms\n");
        wait(&a, &fake::checks(&a.matches), &parts.ctx(), Phase::Whole)
            .await
            .unwrap();
        assert_whole_listing(&asked);

        // A predicate is not equality: the whole journal is listed.
        let (parts, _, asked) = journal_asked(calls).await;
        let a = action(
            "api: pay\nmatch: { $.request.paymentRequestId: { starts_with: R } }\nsettle: 1ms\n",
        );
        let e = wait(&a, &fake::checks(&a.matches), &parts.ctx(), Phase::Whole)
            .await
            .unwrap();
        assert_eq!(e.observed.extra["count"], 2);
        assert_whole_listing(&asked);
    }

    #[tokio::test]
    async fn nothing_in_time_fails_with_the_nearest_calls_and_why() {
        let (parts, _) = journal(vec![
            call(1, "R0", "valid"),
            call(2, "R9", "invalid"),
            json!({ "seq": 3, "api": "capture" }),
        ])
        .await;
        let a = action(
            "api: pay\nmatch: { $.request.paymentRequestId: R1, signature: valid }\nwithin: 300ms\n",
        );
        let e = wait(&a, &fake::checks(&a.matches), &parts.ctx(), Phase::Whole)
            .await
            .unwrap();
        let failure = e.failure.unwrap();
        assert!(
            failure.starts_with("no `pay` call with $.request.paymentRequestId = R1, signature = valid reached the sandbox in 300 ms; its journal has 2 `pay` calls"),
            "{failure}"
        );
        // The call that misses one entry comes first.
        let nearest = failure.split("nearest:").nth(1).unwrap();
        assert!(nearest.trim_start().starts_with("#1 POST"), "{failure}");
        assert!(
            nearest.contains("$.request.paymentRequestId: expected string <R1>, got string <R0>"),
            "{failure}"
        );
        assert!(
            nearest.contains("signature: expected string <valid>, got string <invalid>"),
            "{failure}"
        );
        assert_eq!(e.observed.extra["count"], 0);
    }

    #[tokio::test]
    async fn settle_counts_every_match_and_none_is_count_zero() {
        let (parts, entries) = journal(vec![call(1, "R1", "valid")]).await;
        let later = entries.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(150)).await;
            later.lock().unwrap().push(call(2, "R1", "valid"));
        });
        let a = action("api: pay\nmatch: { $.request.paymentRequestId: R1 }\nsettle: 500ms\n");
        let e = wait(&a, &fake::checks(&a.matches), &parts.ctx(), Phase::Whole)
            .await
            .unwrap();
        assert_eq!(e.failure, None);
        assert_eq!(e.observed.extra["count"], 2);
        let a = action("api: refund\nwithin: 200ms\nsettle: 1s\n");
        let e = wait(&a, &fake::checks(&a.matches), &parts.ctx(), Phase::Whole)
            .await
            .unwrap();
        assert_eq!(
            (e.failure, e.observed.extra["count"].clone()),
            (None, json!(0))
        );
    }

    #[tokio::test]
    async fn settle_runs_from_when_the_first_match_reached_the_sandbox() {
        // The first match came 10 s ago: a 2 s settle is over, so a call that comes while the
        // step runs is not waited for.
        let mut old = call(1, "R1", "valid");
        old["ageMs"] = json!(10_000);
        let (parts, entries) = journal(vec![old]).await;
        let later = entries.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(1000)).await;
            later.lock().unwrap().push(call(2, "R1", "valid"));
        });
        let a = action("api: pay\nmatch: { $.request.paymentRequestId: R1 }\nsettle: 2s\n");
        let e = wait(&a, &fake::checks(&a.matches), &parts.ctx(), Phase::Whole)
            .await
            .unwrap();
        assert_eq!(e.observed.extra["count"], 1);
        // Recorded just now, it is waited for (as without `ageMs`, in the test above).
        let mut recent = call(3, "R3", "valid");
        recent["ageMs"] = json!(0);
        entries.lock().unwrap().push(recent);
        let later = entries.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(1000)).await;
            later.lock().unwrap().push(call(4, "R3", "valid"));
        });
        let a = action("api: pay\nmatch: { $.request.paymentRequestId: R3 }\nsettle: 2s\n");
        let e = wait(&a, &fake::checks(&a.matches), &parts.ctx(), Phase::Whole)
            .await
            .unwrap();
        assert_eq!(e.observed.extra["count"], 2);
    }

    /// Pushes `entry` into the journal after 300 ms.
    fn push_later(entries: &fake::Entries, entry: Value) {
        let later = entries.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            later.lock().unwrap().push(entry);
        });
    }

    #[tokio::test]
    async fn a_background_step_opens_at_its_first_match_or_at_once_and_closes_by_its_opening() {
        let (parts, entries) = journal(vec![call(1, "R1", "valid")]).await;
        // Opening to save from the first match: it does not wait out `settle`.
        push_later(&entries, call(2, "R1", "valid"));
        let a = action("api: pay\nmatch: { $.request.paymentRequestId: R1 }\nsettle: 2s\n");
        let opening = Phase::Opening { waits: true };
        let e = wait(&a, &fake::checks(&a.matches), &parts.ctx(), opening)
            .await
            .unwrap();
        assert_eq!(e.observed.extra["count"], 1);
        // Opening with nothing to save: one look, no waiting for a first match.
        push_later(&entries, call(3, "R3", "valid"));
        let a =
            action("api: pay\nmatch: { $.request.paymentRequestId: R3 }\nwithin: 5s\nsettle: 0s\n");
        let opening = Phase::Opening { waits: false };
        let e = wait(&a, &fake::checks(&a.matches), &parts.ctx(), opening)
            .await
            .unwrap();
        assert_eq!(e.observed.extra["count"], 0);
        // Closing: `within` counts from the opening, here long past, so one look again.
        push_later(&entries, call(4, "R4", "valid"));
        let opened = std::time::Instant::now()
            .checked_sub(Duration::from_secs(10))
            .unwrap();
        let a =
            action("api: pay\nmatch: { $.request.paymentRequestId: R4 }\nwithin: 5s\nsettle: 0s\n");
        let e = wait(
            &a,
            &fake::checks(&a.matches),
            &parts.ctx(),
            Phase::Closing { opened },
        )
        .await
        .unwrap();
        assert_eq!(e.observed.extra["count"], 0);
        // The same step run whole waits for it.
        let e = wait(&a, &fake::checks(&a.matches), &parts.ctx(), Phase::Whole)
            .await
            .unwrap();
        assert_eq!(e.observed.extra["count"], 1);
    }

    #[tokio::test]
    async fn a_target_other_than_the_embedded_sandbox_is_an_error() {
        let (parts, _) = journal(Vec::new()).await;
        let a = action("api: pay\nwithin: 1s\n");
        let mut ctx = parts.ctx();
        let other = Target {
            name: "live".to_owned(),
            ..ctx.apo.target.clone()
        };
        let apo = crate::engine::Apo {
            target: other,
            ..ctx.apo.clone()
        };
        ctx.apo = &apo;
        let e = wait(&a, &fake::checks(&a.matches), &ctx, Phase::Whole)
            .await
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.starts_with(
                "error: a `received` step reads the embedded sandbox, and this run's target is `live`"
            ),
            "{e}"
        );
    }

    #[test]
    fn malformed_entries_do_not_panic() {
        for junk in [json!(null), json!([1]), json!({"headers": 3, "json": "x"})] {
            let entry = shape(&junk);
            let _ = observe(&entry);
            assert!(label(&entry).contains("POST ?"));
        }
    }
}
