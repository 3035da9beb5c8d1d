//! The APO calls (`pay`, `inquiry`, `capture`, `cancel`, `refund`, `inquiry_refund`): render the
//! body, sign it with the target's key (or not, or with another key), send it through the run's
//! [`crate::apo::client::Client`], and observe the answer with its signature verdict.
//!
//! ```text
//! body_file (template) ⊕ body ──or── raw_body ─> bytes ─ sign ─ headers (+/-) ─> target
//!   <─ 200 JSON ─ signature verified (valid | missing | invalid) ─> Observed { body, signature }
//! ```
//! A response signature that is not valid fails the step, unless `verify_response: false` or
//! the step's `expect:` checks `signature` itself.

use crate::engine::error::StepError;
use std::sync::Arc;

use serde_json::{Map, Value, json};

use super::StepCtx;
use super::http::{Exchange, as_text, file_body, parse_body, render_spanned, render_spanned_str};
use crate::apo::client::{
    ApoResponse, CallError, CallOptions, ResponseSignatureProblem, Signing, verify_response,
};
use crate::apo::endpoint::Endpoint;
use crate::apo::keys::PrivateKey;
use crate::engine::result::{RequestSummary, ResponseSummary};
use crate::expect::Observed;
use crate::flow::model::ApoCall;
use crate::mask::mask_text;

/// Sends one APO call; an `Err` is an error (a template, a key file, a time-out, a refused
/// connection, an answer that is not APO's).
pub(super) async fn send(
    endpoint: Endpoint,
    call: &ApoCall,
    ctx: &StepCtx<'_>,
) -> Result<Exchange, StepError> {
    let body = body(call, ctx).await?;
    let mut options = CallOptions {
        signing: signing(call, ctx).await?,
        // Verified below, so that the verdict is observed rather than thrown.
        skip_response_verification: true,
        ..CallOptions::default()
    };
    for (name, value) in &call.headers {
        let value = render_spanned(ctx, value, "headers")?;
        options.headers.push((
            name.to_ascii_lowercase(),
            (!value.is_null()).then(|| as_text(&value)),
        ));
    }
    let target = &ctx.apo.target;
    let response = match ctx.apo.client.call(target, endpoint, body, &options).await {
        Ok(r) => r,
        Err(e) => return Err(call_error(&e).into()),
    };
    let verdict = verify_response(target, &response);
    let mut guards = Vec::new();
    let verify = call.verify_response.as_ref().is_none_or(|v| v.value);
    if verify && let Err(problem) = &verdict {
        guards.push((
            "signature",
            format!(
                "{endpoint}: {problem} (to test an answer APO does not sign, expect \
                 `signature: {}` or set `verify_response: false`)",
                signature_name(&verdict)
            ),
        ));
    }
    Ok(exchange(response, &verdict, guards))
}

/// The body bytes: `raw_body` as rendered, or the JSON of `body_file` ⊕ `body` (or `body`).
async fn body(call: &ApoCall, ctx: &StepCtx<'_>) -> Result<Vec<u8>, StepError> {
    if let Some(raw) = &call.raw_body {
        return Ok(render_spanned_str(ctx, raw, "raw_body")?.into_bytes());
    }
    let overrides = match &call.body {
        Some(b) => Some(render_spanned(ctx, b, "body")?),
        None => None,
    };
    let json = match (&call.body_file, overrides) {
        (Some(file), overrides) => file_body(ctx, file, overrides).await?,
        (None, Some(v @ Value::Object(_))) => v,
        (None, Some(other)) => {
            let at = call.body.as_ref().map(|b| &b.referenced);
            return Err(match at {
                Some(at) => StepError::located(
                    ctx.file,
                    at,
                    format!("the body rendered to {}, not a map", kind_of(&other)),
                    Some("an APO body is a JSON object; for anything else use `raw_body:`"),
                ),
                None => "the body is not a map".into(),
            });
        }
        (None, None) => Value::Object(Map::new()),
    };
    serde_json::to_vec(&json).map_err(|e| format!("failed to write the body as JSON: {e}").into())
}

/// How to sign: the target's key, none, or the key in `sign_with` (read and parsed per call).
async fn signing(call: &ApoCall, ctx: &StepCtx<'_>) -> Result<Signing, StepError> {
    if call.sign.as_ref().is_some_and(|s| !s.value) {
        return Ok(Signing::Unsigned);
    }
    let Some(file) = &call.sign_with else {
        return Ok(Signing::TargetKey);
    };
    let path = render_spanned_str(ctx, file, "sign_with")?;
    let at = |message: String| {
        StepError::located(
            ctx.file,
            &file.referenced,
            message,
            Some("a PEM or base64 private key file, relative to the directory apoflow runs in"),
        )
    };
    let text = ctx
        .project
        .read_text(&ctx.root.join(&path), crate::project::MAX_KEY_FILE_BYTES)
        .map_err(|e| at(format!("failed to read the key file `{path}`: {e}")))?;
    let key = PrivateKey::from_text(&text)
        .map_err(|e| at(format!("`{path}` is not a usable private key: {e}")))?;
    Ok(Signing::WithKey(Arc::new(key)))
}

/// `valid`, `missing` or `invalid`: what `expect: { signature: … }` compares.
fn signature_name(verdict: &Result<(), ResponseSignatureProblem>) -> &'static str {
    match verdict {
        Ok(()) => "valid",
        Err(ResponseSignatureProblem::MissingHeader(_)) => "missing",
        Err(ResponseSignatureProblem::Invalid(_)) => "invalid",
    }
}

/// The observation and records of an answered call.
fn exchange(
    response: ApoResponse,
    verdict: &Result<(), ResponseSignatureProblem>,
    guards: Vec<(&'static str, String)>,
) -> Exchange {
    let request = &response.request;
    let request_body = parse_body(&String::from_utf8_lossy(&request.body));
    let request_record = json!({
        "method": request.method,
        "url": request.url.as_str(),
        "headers": headers_object(&request.headers),
        "body": request_body,
    });
    let response_record = json!({
        "status": response.status,
        "headers": headers_object(&response.headers),
        "body": response.json,
    });
    let text = String::from_utf8_lossy(&response.body);
    let mut extra = indexmap::IndexMap::new();
    extra.insert("signature".to_owned(), Value::from(signature_name(verdict)));
    Exchange {
        request_summary: RequestSummary {
            method: request.method.to_owned(),
            url: mask_text(request.url.as_str()).into_owned(),
        },
        response_summary: ResponseSummary {
            status: response.status,
            body: String::new(),
        },
        unquoted: Some(text.into_owned()),
        observed: Observed {
            status: Some(response.status),
            headers: response.headers.clone(),
            body: response.json.clone(),
            extra,
        },
        request: request_record,
        response: response_record,
        guards,
        failure: None,
    }
}

/// What a value is, for messages.
fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a map",
    }
}

fn headers_object(headers: &[(String, String)]) -> Map<String, Value> {
    headers
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), Value::String(v.clone())))
        .collect()
}

/// A failed call as a message (masked: bodies may echo card data).
fn call_error(e: &CallError) -> String {
    let hint = match e {
        CallError::Connect { .. } | CallError::Timeout { .. } => {
            "\n  = hint: is the target running and reachable? (`--target` names it; without it the embedded sandbox is used)"
        }
        CallError::Status { .. } | CallError::NotJson { .. } => {
            "\n  = hint: the target does not answer like APO: check the endpoint in apoflow.toml"
        }
        CallError::Transport { .. } | CallError::ResponseSignature { .. } => "",
    };
    mask_text(&format!("{e}{hint}")).into_owned()
}
