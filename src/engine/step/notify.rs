//! The `notify` step: wait at the runner's receiver for the notification of a `type` whose body
//! satisfies `match`, acknowledge it as the step says, and observe it.
//!
//! ```text
//! claim the first unclaimed match (answer: ack) ──within──> none: error (what did arrive)
//!   └─ count: N → claim further matches until N matching deliveries arrived (earlier, claimed
//!      ones count: a resend after a failed ack is the second), then any still unanswered
//! or_inquiry: inquiryPayment every 2 s races the wait; a final paymentStatus wins
//! ```
//! Observed: the notification's body and headers; `signature` (valid | missing | invalid),
//! `ack` (the answer actually given), `count` (matching deliveries so far), `source`
//! (`notification` or `inquiry`), `tries` (inquiries made). A signature that is not valid, or an
//! answer other than the one asked (the receiver's claim grace had passed), fails the step
//! unless `expect:` checks `signature` / `ack` itself.

use crate::engine::error::StepError;
use std::time::Duration;

use indexmap::IndexMap;
use serde_json::{Map, Value, json};
use tokio::time::Instant;

use super::StepCtx;
use super::http::{Exchange, as_text, quote, render_choice, render_spanned, render_spanned_str};
use crate::apo::client::CallOptions;
use crate::apo::endpoint::Endpoint;
use crate::engine::result::{RequestSummary, ResponseSummary};
use crate::expect::{Detail, Entry, Observed};
use crate::flow::model::NotifyAction;
use crate::flow::plan::Check;
use crate::mask::mask_text;
use crate::receiver::{Ack, Notification, SignatureVerdict};

/// How long a `notify` step waits by default.
const DEFAULT_WITHIN: Duration = Duration::from_secs(30);
/// The pause between inquiries with `or_inquiry: true` (the guide's recommendation).
const INQUIRY_EVERY: Duration = Duration::from_secs(2);
/// Payment statuses after which nothing changes.
const FINAL_STATUSES: &[&str] = &["SUCCESS", "FAIL", "CANCELLED"];

/// What the matcher compares: the rendered `type` and `match` entries.
struct Wanted {
    notify_type: String,
    entries: Vec<(Entry, Value)>,
}

impl Wanted {
    fn accepts(&self, n: &Notification) -> bool {
        if n.notify_type() != Some(self.notify_type.as_str()) {
            return false;
        }
        // Cheap first: a plain literal (an id) must appear in the raw body. The inbox keeps
        // every notification of the run and is scanned on each arrival, so this saves copying
        // and querying every earlier notification (ids are never escaped in JSON).
        let absent = self.entries.iter().any(|(_, expected)| {
            expected.as_str().is_some_and(|text| {
                !text.is_empty()
                    && text
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
                    && !contains(&n.body, text)
            })
        });
        if absent {
            return false;
        }
        let observed = observe(n);
        self.entries.iter().all(|(entry, expected)| {
            entry
                .eval(Some(expected), &observed, Detail::Failures)
                .passed
        })
    }

    fn describe(&self) -> String {
        let mut text = format!("a {} notification", self.notify_type);
        if !self.entries.is_empty() {
            let conditions: Vec<String> = self
                .entries
                .iter()
                .map(|(entry, v)| format!("{} = {}", entry.query().text(), as_text(v)))
                .collect();
            text.push_str(&format!(" with {}", conditions.join(", ")));
        }
        text
    }
}

/// Whether `needle` occurs in `body` (std's string search; a body that is not UTF-8 is not
/// ruled out).
fn contains(body: &[u8], needle: &str) -> bool {
    std::str::from_utf8(body).map_or(true, |text| text.contains(needle))
}

/// Waits for the notification; an `Err` is an error (nothing matching in time, a template).
pub(super) async fn wait(
    action: &NotifyAction,
    matches: &[Check],
    ctx: &StepCtx<'_>,
) -> Result<Exchange, StepError> {
    let notify_type = render_spanned_str(ctx, &action.notify_type, "type")?;
    let mut entries = Vec::with_capacity(matches.len());
    for check in matches {
        let what = format!("match.{}", check.entry.query().text());
        entries.push((
            check.entry.clone(),
            render_spanned(ctx, &check.expected, &what)?,
        ));
    }
    let wanted = Wanted {
        notify_type,
        entries,
    };
    let ack = match &action.ack {
        None => Ack::Success,
        Some(a) => render_choice(
            ctx,
            a,
            "ack",
            Ack::from_name,
            "an acknowledgement",
            "write success, fail, wrong_format or none",
        )?,
    };
    let count = action.count.as_ref().map_or(1, |c| c.value.max(1)) as usize;
    let within = ctx.duration(action.within.as_ref(), "within", DEFAULT_WITHIN)?;
    let deadline = Instant::now() + within;
    let or_inquiry = action.or_inquiry.as_ref().is_some_and(|o| o.value);
    let payment_id = if or_inquiry {
        Some(payment_id(&wanted).ok_or_else(|| {
            "`or_inquiry: true` needs the payment: add `match: { $.paymentId: \"{{ paymentId }}\" }`"
                .to_owned()
        })?)
    } else {
        None
    };

    let claimed = match &payment_id {
        None => claim_all(&wanted, ack, count, deadline, ctx).await?,
        Some(id) => {
            tokio::select! {
                claimed = claim_all(&wanted, ack, count, deadline, ctx) => claimed?,
                inquiry = inquire_until_final(id, deadline, ctx) => match inquiry {
                    Some((body, tries)) => return Ok(from_inquiry(body, tries)),
                    // Inquiry never saw a final status: the notification may still come.
                    None => claim_all(&wanted, ack, count, deadline, ctx).await?,
                },
            }
        }
    };
    let total = ctx
        .apo
        .inbox
        .count_of(self::payment_id(&wanted).as_deref(), |n| wanted.accepts(n));
    Ok(from_notification(&claimed, ack, total))
}

/// Claims matching notifications until `count` matching deliveries have arrived; returns the
/// last one claimed.
async fn claim_all(
    wanted: &Wanted,
    ack: Ack,
    count: usize,
    deadline: Instant,
    ctx: &StepCtx<'_>,
) -> Result<Notification, String> {
    let inbox = &ctx.apo.inbox;
    let matcher = |n: &Notification| wanted.accepts(n);
    // A step that names its payment looks only at that payment's notifications.
    let payment = payment_id(wanted);
    let payment = payment.as_deref();
    let remaining = || deadline.saturating_duration_since(Instant::now());
    let Some(mut last) = inbox.claim_of(payment, matcher, ack, remaining()).await else {
        return Err(timed_out(wanted, 0, count, ctx));
    };
    while inbox.count_of(payment, matcher) < count {
        match inbox.claim_of(payment, matcher, ack, remaining()).await {
            Some(n) => last = n,
            None => {
                return Err(timed_out(
                    wanted,
                    inbox.count_of(payment, matcher),
                    count,
                    ctx,
                ));
            }
        }
    }
    // Resends that arrived meanwhile get the same answer.
    while let Some(n) = inbox.claim_of(payment, matcher, ack, Duration::ZERO).await {
        last = n;
    }
    Ok(last)
}

/// The time-out message: what was wanted, and what did arrive.
fn timed_out(wanted: &Wanted, got: usize, count: usize, ctx: &StepCtx<'_>) -> String {
    let all = ctx.apo.inbox.all();
    // The receiver is shared by every flow of the run: count this payment's notifications
    // when the step names the payment, and say it is the whole run's count otherwise.
    let received = match payment_id(wanted) {
        Some(pid) => {
            let mine: Vec<&str> = all
                .iter()
                .filter(|n| {
                    n.json
                        .as_ref()
                        .and_then(|j| j.get("paymentId"))
                        .and_then(Value::as_str)
                        == Some(pid.as_str())
                })
                .map(|n| n.notify_type().unwrap_or("(no notifyType)"))
                .collect();
            if mine.is_empty() {
                format!("the receiver has no notification for payment {pid}")
            } else {
                format!(
                    "the receiver has {} notification(s) for payment {pid}: {}",
                    mine.len(),
                    mine.join(", ")
                )
            }
        }
        None => {
            let same_type = all
                .iter()
                .filter(|n| n.notify_type() == Some(wanted.notify_type.as_str()))
                .count();
            format!(
                "the receiver has {} notification(s) from all flows of the run, {same_type} of \
                 type {}",
                all.len(),
                wanted.notify_type
            )
        }
    };
    let what = if count > 1 {
        format!(
            "only {got} of the {count} deliveries of {} arrived in time",
            wanted.describe()
        )
    } else {
        format!(
            "no {} arrived in time",
            wanted.describe().trim_start_matches("a ")
        )
    };
    // REFUND_RESULT goes to the refund's own URL; the others to the pay's.
    let field = if wanted.notify_type == "REFUND_RESULT" {
        "refundNotifyUrl` in the refund"
    } else {
        "paymentNotifyUrl` in the pay"
    };
    mask_text(&format!(
        "{what}; {received}\n  = hint: is `{field} set to {{{{ notify_url }}}}? Give more time \
         with `within:`, or use `or_inquiry: true` to fall back on inquiryPayment"
    ))
    .into_owned()
}

/// The `$.paymentId` of the `match` entries, when it is a string.
fn payment_id(wanted: &Wanted) -> Option<String> {
    wanted
        .entries
        .iter()
        .find(|(entry, _)| entry.query().text() == "$.paymentId")
        .and_then(|(_, v)| v.as_str().map(str::to_owned))
}

/// Inquires every 2 s until the payment is final (its body and the number of tries), or
/// `None` at the deadline.
async fn inquire_until_final(
    payment_id: &str,
    deadline: Instant,
    ctx: &StepCtx<'_>,
) -> Option<(Value, u32)> {
    let body = serde_json::to_vec(&json!({ "paymentId": payment_id })).ok()?;
    let mut tries = 0;
    loop {
        tries += 1;
        let answer = ctx
            .apo
            .client
            .call(
                &ctx.apo.target,
                Endpoint::InquiryPayment,
                body.clone(),
                &CallOptions::default(),
            )
            .await;
        if let Ok(r) = answer
            && r.json["paymentStatus"]
                .as_str()
                .is_some_and(|s| FINAL_STATUSES.contains(&s))
        {
            return Some((r.json, tries));
        }
        if Instant::now() + INQUIRY_EVERY >= deadline {
            tokio::time::sleep_until(deadline).await;
            return None;
        }
        tokio::time::sleep(INQUIRY_EVERY).await;
    }
}

/// A notification as an observation (for `match` and `expect`).
fn observe(n: &Notification) -> Observed {
    Observed {
        status: None,
        headers: n.headers.clone(),
        body: n
            .json
            .clone()
            .unwrap_or_else(|| Value::String(String::from_utf8_lossy(&n.body).into_owned())),
        extra: IndexMap::new(),
    }
}

fn signature_name(v: &SignatureVerdict) -> &'static str {
    match v {
        SignatureVerdict::Valid => "valid",
        SignatureVerdict::MissingHeader(_) => "missing",
        SignatureVerdict::Invalid(_) => "invalid",
    }
}

fn from_notification(n: &Notification, asked: Ack, total: usize) -> Exchange {
    let mut observed = observe(n);
    // The receiver never acknowledges a forged notification: that is not a late answer.
    let asked = asked.for_signature(&n.signature);
    let given = n.ack.unwrap_or(asked);
    observed.extra.insert(
        "signature".to_owned(),
        Value::from(signature_name(&n.signature)),
    );
    observed
        .extra
        .insert("ack".to_owned(), Value::from(given.name()));
    observed
        .extra
        .insert("count".to_owned(), Value::from(total));
    observed
        .extra
        .insert("source".to_owned(), Value::from("notification"));
    observed.extra.insert("tries".to_owned(), Value::from(0));
    observed
        .extra
        .insert("replayed".to_owned(), Value::from(n.replay_of.is_some()));
    let mut guards = Vec::new();
    if !n.signature.is_valid() {
        guards.push((
            "signature",
            format!(
                "the notification's signature is {} (expect `signature: {}` to test a forged one)",
                n.signature.describe(),
                signature_name(&n.signature)
            ),
        ));
    }
    if given != asked {
        guards.push((
            "ack",
            format!(
                "the notification was answered `{}` before this step could answer `{}`: it \
                 arrived more than the receiver's claim grace before the step waited for it",
                given.name(),
                asked.name()
            ),
        ));
    }
    let text = String::from_utf8_lossy(&n.body).into_owned();
    let headers: Map<String, Value> = n
        .headers
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    Exchange {
        request_summary: RequestSummary {
            method: "NOTIFY".to_owned(),
            url: mask_text(&n.path).into_owned(),
        },
        response_summary: ResponseSummary {
            status: 200,
            body: quote(&text, &observed.body),
        },
        unquoted: None,
        request: json!({ "method": "POST", "url": n.path, "headers": headers, "body": observed.body }),
        response: json!({ "ack": given.name(), "body": observed.body, "headers": headers }),
        observed,
        guards,
        failure: None,
    }
}

/// An inquiry that won the race, shaped like the PAYMENT_RESULT it stands for: `result` is the
/// payment's result (`S` for SUCCESS, `F` otherwise), the rest is the inquiry's body.
fn from_inquiry(mut body: Value, tries: u32) -> Exchange {
    let status = body["paymentStatus"].as_str().unwrap_or_default();
    let result = json!({
        "resultCode": body["paymentResultCode"].clone(),
        "resultStatus": if status == "SUCCESS" { "S" } else { "F" },
        "resultMessage": body["paymentResultMessage"].clone(),
    });
    body["result"] = result;
    body["notifyType"] = Value::from("PAYMENT_RESULT");
    let mut extra = IndexMap::new();
    extra.insert("signature".to_owned(), Value::from("valid"));
    extra.insert("count".to_owned(), Value::from(0));
    extra.insert("source".to_owned(), Value::from("inquiry"));
    extra.insert("tries".to_owned(), Value::from(tries));
    let text = body.to_string();
    Exchange {
        request_summary: RequestSummary {
            method: "POST".to_owned(),
            url: "inquiryPayment".to_owned(),
        },
        response_summary: ResponseSummary {
            status: 200,
            body: quote(&text, &body),
        },
        unquoted: None,
        request: Value::Null,
        response: json!({ "status": 200, "body": body }),
        observed: Observed {
            status: Some(200),
            headers: Vec::new(),
            body,
            extra,
        },
        guards: Vec::new(),
        failure: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn note(body: Value) -> Notification {
        Notification {
            seq: 1,
            path: "/notify".to_owned(),
            headers: Vec::new(),
            body: serde_json::to_vec(&body).unwrap(),
            json: Some(body),
            received_at: jiff::Timestamp::UNIX_EPOCH,
            signature: SignatureVerdict::Valid,
            ack: None,
            replay_of: None,
        }
    }

    fn wanted(entries: Vec<(&str, Value)>) -> Wanted {
        Wanted {
            notify_type: "PAYMENT_RESULT".to_owned(),
            entries: entries
                .into_iter()
                .map(|(q, v)| {
                    (
                        Entry::compile(q, &v, (1, 1), &mut Default::default()).unwrap(),
                        v,
                    )
                })
                .collect(),
        }
    }

    #[test]
    fn the_type_and_every_match_entry_must_hold() {
        let n = note(
            json!({"notifyType": "PAYMENT_RESULT", "paymentId": "P1", "result": {"resultStatus": "S"}}),
        );
        assert!(wanted(vec![("$.paymentId", json!("P1"))]).accepts(&n));
        assert!(!wanted(vec![("$.paymentId", json!("P2"))]).accepts(&n));
        // The literal appears in the body, but not at that path.
        assert!(!wanted(vec![("$.result.resultStatus", json!("P1"))]).accepts(&n));
        assert!(
            wanted(vec![(
                "$.result.resultStatus",
                json!({"one_of": ["S", "F"]})
            )])
            .accepts(&n)
        );
        let capture = note(json!({"notifyType": "CAPTURE_RESULT", "paymentId": "P1"}));
        assert!(!wanted(vec![("$.paymentId", json!("P1"))]).accepts(&capture));
    }

    #[test]
    fn an_inquiry_that_wins_looks_like_the_payment_result() {
        let e = from_inquiry(
            json!({"result": {"resultStatus": "S", "resultCode": "SUCCESS"}, "paymentStatus": "FAIL", "paymentResultCode": "CARD_EXPIRED", "paymentResultMessage": "expired"}),
            3,
        );
        assert_eq!(e.observed.body["result"]["resultStatus"], "F");
        assert_eq!(e.observed.body["result"]["resultCode"], "CARD_EXPIRED");
        assert_eq!(e.observed.body["notifyType"], "PAYMENT_RESULT");
        assert_eq!(e.observed.extra["source"], "inquiry");
        assert_eq!(e.observed.extra["tries"], 3);
    }

    #[test]
    fn a_forged_or_late_notification_is_guarded() {
        let mut n = note(json!({"notifyType": "PAYMENT_RESULT"}));
        n.signature = SignatureVerdict::MissingHeader("signature");
        n.ack = Some(Ack::Success);
        let e = from_notification(&n, Ack::Fail, 1);
        let keys: Vec<&str> = e.guards.iter().map(|(k, _)| *k).collect();
        assert_eq!(keys, ["signature", "ack"]);
        assert_eq!(e.observed.extra["signature"], "missing");
        assert_eq!(e.observed.extra["ack"], "success");
    }
}
