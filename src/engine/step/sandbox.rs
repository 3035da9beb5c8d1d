//! The `sandbox` step: calls the embedded sandbox's control API over HTTP, in this order:
//! `POST /_sandbox/reset`, `POST /_sandbox/faults`, `POST /_sandbox/clock/advance`. Against
//! any other target it is an error: a live APO has no clock to move.
//!
//! Also the one door of the `received`, `delivery` and `notify_merchant` steps to the
//! sandbox ([`list`], in this process when the run started it; [`control_post`]), with the same
//! rule.

use crate::engine::error::StepError;
use std::time::Duration;

use serde_json::{Map, Value, json};

use super::StepCtx;
use super::http::{Exchange, chain, parse_body, quote, render_spanned_str};
use crate::apo::target::Target;
use crate::engine::result::{RequestSummary, ResponseSummary};
use crate::expect::Observed;
use crate::flow::model::{Faults, SandboxAction};
use crate::mask::mask_text;

/// How long one control API call may take (a poll of `received` / `delivery` included).
const CONTROL_TIMEOUT: Duration = Duration::from_secs(5);

/// The run's target when it is the embedded sandbox; else the error for a `kind` step.
pub(super) fn embedded<'a>(ctx: &StepCtx<'a>, kind: &str) -> Result<&'a Target, String> {
    let target = &ctx.apo.target;
    if target.is_embedded() {
        return Ok(target);
    }
    let verb = if matches!(kind, "sandbox" | "notify_merchant") {
        "controls"
    } else {
        "reads"
    };
    Err(format!(
        "a `{kind}` step {verb} the embedded sandbox, and this run's target is `{}` ({})\n  \
         = hint: run without `--target` to use the embedded sandbox, or leave such flows out, \
         e.g. `--tags 'not sandbox-only'`",
        target.name, target.base_url
    ))
}

/// One call on the embedded sandbox's control API: the HTTP status, the answer parsed, and its
/// text.
async fn control_call(
    ctx: &StepCtx<'_>,
    kind: &str,
    method: reqwest::Method,
    path: &str,
    query: &[(&str, String)],
    body: Option<&Value>,
    timeout: Duration,
) -> Result<(u16, Value, String), String> {
    let mut url = embedded(ctx, kind)?.url_for_path(path);
    if !query.is_empty() {
        url.query_pairs_mut().extend_pairs(query);
    }
    let failed = |e: &reqwest::Error| {
        mask_text(&format!("{method} {url} failed: {}", chain(e))).into_owned()
    };
    let mut request = ctx
        .client
        .request(method.clone(), url.clone())
        .timeout(timeout);
    if let Some(body) = body {
        request = request.json(body);
    }
    let response = request.send().await.map_err(|e| failed(&e))?;
    let status = response.status().as_u16();
    let text = response.text().await.map_err(|e| failed(&e))?;
    let answer = parse_body(&text);
    Ok((status, answer, text))
}

/// What the `received`, `delivery` and `notify_merchant` steps list from the embedded sandbox.
#[derive(Debug, Clone, Copy)]
pub(super) enum Listing {
    /// `GET /_sandbox/calls`: the API calls it journaled.
    Calls,
    /// `GET /_sandbox/deliveries`: its notifications to the merchant, with their attempts.
    Deliveries,
}

/// Lists the embedded sandbox's calls or deliveries with these filters. The sandbox this run
/// started is read in this process, unmasked: a step compares the ids the merchant sent, and
/// one that looks like a card number is masked in every output, not in what a step compares;
/// what a step shows goes out through the masked sink like the rest. Another sandbox (a
/// test's fake) is asked over its control API.
pub(super) async fn list(
    ctx: &StepCtx<'_>,
    kind: &str,
    listing: Listing,
    query: &[(&str, String)],
) -> Result<Value, String> {
    let in_process = ctx
        .apo
        .listings
        .as_ref()
        .filter(|_| ctx.apo.target.is_embedded());
    let Some(listings) = in_process else {
        let path = match listing {
            Listing::Calls => "/_sandbox/calls",
            Listing::Deliveries => "/_sandbox/deliveries",
        };
        return control_get(ctx, kind, path, query).await;
    };
    let query = query
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect();
    match listing {
        Listing::Calls => listings.calls(&query),
        Listing::Deliveries => listings.deliveries(&query),
    }
}

/// `GET path?query` on the embedded sandbox's control API: the JSON answer, or an error that
/// says what the sandbox answered.
async fn control_get(
    ctx: &StepCtx<'_>,
    kind: &str,
    path: &str,
    query: &[(&str, String)],
) -> Result<Value, String> {
    let (status, answer, text) = control_call(
        ctx,
        kind,
        reqwest::Method::GET,
        path,
        query,
        None,
        CONTROL_TIMEOUT,
    )
    .await?;
    if status != 200 || !answer.is_object() {
        return Err(mask_text(&format!(
            "the sandbox answered GET {path} with HTTP {status}: {}",
            quote(&text, &answer)
        ))
        .into_owned());
    }
    Ok(answer)
}

/// `POST path` with a JSON `body` on the embedded sandbox's control API, waiting at most
/// `timeout`: the answer (parsed, and as text), or an error that says what the sandbox
/// answered.
pub(super) async fn control_post(
    ctx: &StepCtx<'_>,
    kind: &str,
    path: &str,
    body: &Value,
    timeout: Duration,
) -> Result<(Value, String), String> {
    let (status, answer, text) = control_call(
        ctx,
        kind,
        reqwest::Method::POST,
        path,
        &[],
        Some(body),
        timeout,
    )
    .await?;
    if status != 200 {
        return Err(mask_text(&format!(
            "the sandbox refused POST {path} with HTTP {status}: {}",
            quote(&text, &answer)
        ))
        .into_owned());
    }
    Ok((answer, text))
}

/// The body of `POST /_sandbox/faults`; `paymentId` / `clientId` (rendered) scope the faults
/// to one payment's or one merchant's deliveries.
fn faults_body(f: &Faults, ctx: &StepCtx<'_>) -> Result<Value, StepError> {
    let delay = ctx.duration(f.delay.as_ref(), "faults.delay", Duration::ZERO)?;
    let mut body = json!({
        "drop_next": f.drop,
        "delay_ms": u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
        "duplicate_next": f.duplicate,
        "reorder_next": f.reorder,
    });
    for (key, scope, name) in [
        ("paymentId", &f.payment_id, "faults.payment_id"),
        ("clientId", &f.client_id, "faults.client_id"),
    ] {
        if let Some(scope) = scope {
            body[key] = Value::from(render_spanned_str(ctx, scope, name)?);
        }
    }
    Ok(body)
}

/// Runs the control calls; the observed body merges their answers (`reset`, the faults,
/// `now`).
pub(super) async fn control(
    action: &SandboxAction,
    ctx: &StepCtx<'_>,
) -> Result<Exchange, StepError> {
    let target = embedded(ctx, "sandbox")?;
    let mut calls: Vec<(&str, Value)> = Vec::new();
    if action.reset.as_ref().is_some_and(|r| r.value) {
        calls.push(("/_sandbox/reset", json!({})));
    }
    if let Some(f) = &action.faults {
        calls.push(("/_sandbox/faults", faults_body(&f.value, ctx)?));
    }
    if let Some(by) = &action.advance_clock {
        let by = ctx.duration(Some(by), "advance_clock", Duration::ZERO)?;
        let mut body = json!({ "seconds": by.as_secs() });
        if let Some(of) = &action.of {
            body["paymentId"] = Value::String(render_spanned_str(ctx, of, "of")?);
        }
        calls.push(("/_sandbox/clock/advance", body));
    }
    let mut merged = Map::new();
    let mut last = (0, String::new());
    let mut sent = Map::new();
    for (path, body) in calls {
        let (answer, text) = control_post(ctx, "sandbox", path, &body, CONTROL_TIMEOUT).await?;
        if let Value::Object(map) = answer {
            merged.extend(map);
        }
        sent.insert(path.to_owned(), body);
        // Every call answered 200, else it is an error above.
        last = (200, text);
    }
    let body = Value::Object(merged);
    Ok(Exchange {
        request_summary: RequestSummary {
            method: "POST".to_owned(),
            url: target.url_for_path("/_sandbox/").to_string(),
        },
        response_summary: ResponseSummary {
            status: last.0,
            body: quote(&last.1, &body),
        },
        unquoted: None,
        observed: Observed {
            status: Some(last.0),
            headers: Vec::new(),
            body: body.clone(),
            extra: Default::default(),
        },
        request: json!({ "calls": sent }),
        response: json!({ "status": last.0, "body": body }),
        guards: Vec::new(),
        failure: None,
    })
}

#[cfg(test)]
mod tests {
    use super::super::watch::fake;
    use super::*;

    #[test]
    fn faults_are_scoped_by_payment_and_client_when_asked() {
        let vars = json!({ "paymentId": "P1", "merchant": { "client_id": "SANDBOX_SHOP" } });
        let parts = fake::parts("http://127.0.0.1:9/", vars.as_object().unwrap().clone());
        let f: Faults = serde_saphyr::from_str(
            "drop: 1\ndelay: 2s\npayment_id: \"{{ paymentId }}\"\nclient_id: \"{{ merchant.client_id }}\"\n",
        )
        .unwrap();
        assert_eq!(
            faults_body(&f, &parts.ctx()).unwrap(),
            json!({ "drop_next": 1, "delay_ms": 2000, "duplicate_next": 0, "reorder_next": false,
                    "paymentId": "P1", "clientId": "SANDBOX_SHOP" })
        );
        let unscoped = faults_body(&Faults::default(), &parts.ctx()).unwrap();
        assert!(unscoped.get("paymentId").is_none() && unscoped.get("clientId").is_none());
        let f: Faults = serde_saphyr::from_str("payment_id: \"{{ nope }}\"\n").unwrap();
        assert!(
            faults_body(&f, &parts.ctx())
                .unwrap_err()
                .to_string()
                .contains("nope")
        );
    }
}
