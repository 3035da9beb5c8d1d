//! The `notify_merchant` step: the embedded sandbox, acting as APO, sends the merchant's
//! webhook a notification now (`POST /_sandbox/notifications`), and the step observes the
//! merchant's answer.
//!
//! ```text
//! replay: TYPE, of: P ─ poll GET /_sandbox/deliveries?type=TYPE&paymentId=P (APO's own
//!                       deliveries, the first) until `within` (10s) ─ none: the step fails
//!   no change:  POST /_sandbox/notifications {replay: id, forge, url?, clientId?}   byte for byte
//!   change:     the delivery's body with each JSONPath replaced → {body, url, clientId, forge}
//! body: {...} ─ rendered → POST /_sandbox/notifications {body, forge, url?, clientId?}
//! × times (1..=100): one send each, in order; each is a new delivery in the sandbox's journal
//! ```
//! Observed as a `delivery` record: `$.attempts` (one per send: `status`, `answer`,
//! `latencyMs`, `acknowledged`, `deliveryId`, …), `$.answer` (the last answer, parsed when it
//! is JSON), `$.body` (the notification), `$.url`, `$.forge`; bare names `ack`, `status`,
//! `latency_ms`, `acknowledged` (the last send's) and `attempts` (sends made).

use crate::engine::error::StepError;
use std::time::Duration;

use jsonpath_rust::parser::parse_json_path;
use jsonpath_rust::query::js_path_process;
use jsonpath_rust::query::queryable::Queryable as _;
use serde_json::{Value, json};
use tokio::time::Instant;

use super::StepCtx;
use super::delivery::exchange;
use super::http::{Exchange, render_choice, render_spanned, render_spanned_str};
use super::sandbox::{Listing, control_post, list};
use super::watch::pause;
use crate::apo::notify::Forge;
use crate::flow::model::{MAX_TIMES, NotifyMerchantAction};

/// How the step is named in errors and its exchange in reports.
const KIND: &str = "notify_merchant";

/// How long one send may take: the sandbox answers once the merchant did, or after its own
/// send time-out (10 s).
const SEND_WAIT: Duration = Duration::from_secs(15);

/// How long the step waits for the delivery to replay by default.
const DEFAULT_WITHIN: Duration = Duration::from_secs(10);

/// Sends the notification `times` times; an `Err` is an error (a template, a target that is
/// not the embedded sandbox, a sandbox that refuses the order).
pub(super) async fn send(
    action: &NotifyMerchantAction,
    ctx: &StepCtx<'_>,
) -> Result<Exchange, StepError> {
    let forge = match &action.forge {
        None => Forge::None,
        Some(f) => render_choice(
            ctx,
            f,
            "forge",
            Forge::from_name,
            "a forge",
            &format!("write one of {}", Forge::NAMES.join(", ")),
        )?,
    };
    let mut order = json!({ "forge": forge.name() });
    let notification = match (&action.replay, &action.body) {
        (Some(kind), _) => {
            let Some(of) = &action.of else {
                return Err("`replay:` needs `of:`, the payment whose delivery it replays".into());
            };
            let payment_id = render_spanned_str(ctx, of, "of")?;
            let within = ctx.duration(action.within.as_ref(), "within", DEFAULT_WITHIN)?;
            let Some(original) = first_delivery(ctx, &kind.value, &payment_id, within).await?
            else {
                let failure = format!(
                    "no {} delivery for payment {payment_id} to replay in {} ms\n  = hint: the \
                     sandbox sends it once the payment (capture, refund) reaches a final result; \
                     give it more time with `within:`",
                    kind.value,
                    within.as_millis()
                );
                return Ok(exchange(json!({}), Some(failure), "NOTIFY_MERCHANT"));
            };
            if action.change.is_empty() {
                order["replay"] = original["id"].clone();
                original["body"].clone()
            } else {
                let mut body = original["body"].clone();
                for (path, value) in &action.change {
                    let value = render_spanned(ctx, value, &format!("change.{}", path.value))?;
                    change(&mut body, &path.value, value)?;
                }
                order["body"] = body.clone();
                order["url"] = original["url"].clone();
                order["clientId"] = original["clientId"].clone();
                body
            }
        }
        (None, Some(body)) => {
            let body = render_spanned(ctx, body, "body")?;
            order["body"] = body.clone();
            body
        }
        (None, None) => return Err("`notify_merchant` needs `replay:` or `body:`".into()),
    };
    if let Some(url) = &action.url {
        order["url"] = Value::from(render_spanned_str(ctx, url, "url")?);
    }
    if let Some(client_id) = &action.client_id {
        order["clientId"] = Value::from(render_spanned_str(ctx, client_id, "client_id")?);
    }
    let times = action
        .times
        .as_ref()
        .map_or(1, |t| t.value.clamp(1, MAX_TIMES));
    let mut attempts = Vec::new();
    for _ in 0..times {
        let (attempt, _) =
            control_post(ctx, KIND, "/_sandbox/notifications", &order, SEND_WAIT).await?;
        attempts.push(attempt);
    }
    let url = attempts
        .first()
        .and_then(|a| a.get("url").cloned())
        .unwrap_or_else(|| order["url"].clone());
    let record = json!({
        "url": url,
        "forge": forge.name(),
        "replayOf": order.get("replay"),
        "attempts": attempts,
        "body": notification,
    });
    Ok(exchange(record, None, "NOTIFY_MERCHANT"))
}

/// APO's own first delivery of `kind` for `payment_id` (not a one-off send), waiting up to
/// `within` for it to appear.
async fn first_delivery(
    ctx: &StepCtx<'_>,
    kind: &str,
    payment_id: &str,
    within: Duration,
) -> Result<Option<Value>, String> {
    let deadline = Instant::now() + within;
    let query = [
        ("type", kind.to_owned()),
        ("paymentId", payment_id.to_owned()),
    ];
    loop {
        let page = list(ctx, KIND, Listing::Deliveries, &query).await?;
        let found = page["deliveries"]
            .as_array()
            .and_then(|all| all.iter().find(|d| d["forge"].is_null()));
        if let Some(found) = found {
            return Ok(Some(found.clone()));
        }
        if Instant::now() >= deadline {
            return Ok(None);
        }
        pause(deadline).await;
    }
}

/// Replaces every value `path` (a JSONPath) selects in `body` with `value`; a path that
/// selects nothing, or does not parse, is an error naming it.
fn change(body: &mut Value, path: &str, value: Value) -> Result<(), String> {
    let query = parse_json_path(path).map_err(|e| format!("`change: {path}`: {e}"))?;
    let found: Vec<String> = js_path_process(&query, &*body)
        .map(|found| found.into_iter().map(|r| r.path).collect())
        .unwrap_or_default();
    if found.is_empty() {
        return Err(format!(
            "`change: {path}` selects nothing in the replayed notification; it changes fields \
             that are there (see `$.body` of a `delivery` step)"
        ));
    }
    for at in found {
        if let Some(target) = body.reference_mut(at) {
            *target = value.clone();
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_replaces_what_its_path_selects_or_says_it_selects_nothing() {
        let mut body = json!({ "paymentAmount": { "currency": "SGD", "value": "4200" },
                               "items": [{ "v": 1 }, { "v": 2 }] });
        change(&mut body, "$.paymentAmount.value", json!("1")).unwrap();
        change(&mut body, "$.items[*].v", json!(0)).unwrap();
        assert_eq!(
            body,
            json!({ "paymentAmount": { "currency": "SGD", "value": "1" },
                    "items": [{ "v": 0 }, { "v": 0 }] })
        );
        let e = change(&mut body, "$.nothing", json!(1)).unwrap_err();
        assert!(e.contains("selects nothing"), "{e}");
        assert!(change(&mut body, "$[", json!(1)).is_err());
    }
}
