//! The `http` step: any HTTP call, rendered just before it is sent.
//!
//! ```yaml
//! http:
//!   method: POST                      # default GET, or POST when a body is given
//!   url: "{{ base }}/orders"
//!   headers: { x-trace: "{{ uuid() }}" }
//!   query: { page: 2 }
//!   json: { amount: "{{ amount }}" }  # or form: {…}, or body: "raw", or body_file + body
//!   timeout: 5s                       # default 30s
//! ```

use std::time::Duration;

use reqwest::Method;
use serde_json::Value;
use serde_saphyr::Spanned;

use super::StepCtx;
use crate::engine::error::StepError;
use crate::engine::result::{RequestSummary, ResponseSummary};
use crate::expect::Observed;
use crate::flow::model::HttpAction;
use crate::mask::{mask_text, masked_json};

/// Default time-out of one request.
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// How much of a response body reports quote.
const BODY_QUOTE_CHARS: usize = 2000;

/// What one HTTP exchange gave: the observation for checks, and the records for
/// `steps.<id>.request|response` and for reports.
pub(crate) struct Exchange {
    pub(crate) observed: Observed,
    pub(crate) request: Value,
    pub(crate) response: Value,
    pub(crate) request_summary: RequestSummary,
    /// The response for reports; its `body` is empty while [`Exchange::unquoted`] holds the
    /// text to quote.
    pub(crate) response_summary: ResponseSummary,
    /// The response's text, when its quote is made from it and the observed body only if a
    /// report shows it (a passed step's body is not masked for a terminal-only run).
    pub(crate) unquoted: Option<String>,
    /// `(key, message)`: problems that fail the step unless `expect:` checks `key` itself
    /// (a response or notification signature that is not valid).
    pub(crate) guards: Vec<(&'static str, String)>,
    /// What the step waited for did not happen (a `received` call or a `delivery` that never
    /// came): a failure whatever `expect:` checks, reported before the assertions.
    pub(crate) failure: Option<String>,
}

/// The body to send.
enum Body {
    None,
    Json(Value),
    Form(Vec<(String, String)>),
    Raw(String),
}

/// The method used when none is written: POST with a body, else GET.
pub(crate) fn default_method(action: &HttpAction) -> Method {
    if action.json.is_some()
        || action.form.is_some()
        || action.body.is_some()
        || action.body_file.is_some()
    {
        Method::POST
    } else {
        Method::GET
    }
}

/// Renders the action against the scope and sends it; an `Err` is an error (a template that
/// failed, a bad URL, a time-out, a refused connection), with its location when it has one.
pub(crate) async fn send(action: &HttpAction, ctx: &StepCtx<'_>) -> Result<Exchange, StepError> {
    let url_value = render_spanned_str(ctx, &action.url, "url")?;
    let bad_url = |why: String| {
        StepError::located(
            ctx.file,
            &action.url.referenced,
            format!("invalid URL `{url_value}`: {why}"),
            Some("write an absolute http(s) URL such as `http://127.0.0.1:8080/path`"),
        )
    };
    let mut url = reqwest::Url::parse(&url_value).map_err(|e| bad_url(e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(bad_url(format!(
            "the scheme `{}` is not http or https",
            url.scheme()
        )));
    }
    let mut query = Vec::new();
    for (name, value) in &action.query {
        query.push((name.clone(), as_text(&render_spanned(ctx, value, "query")?)));
    }
    if !query.is_empty() {
        url.query_pairs_mut().extend_pairs(&query);
    }
    let body = body(action, ctx).await?;
    let method = match &action.method {
        Some(m) => {
            let text = render_spanned_str(ctx, m, "method")?.to_ascii_uppercase();
            Method::from_bytes(text.as_bytes()).map_err(|_| {
                StepError::located(
                    ctx.file,
                    &m.referenced,
                    format!("`{text}` is not an HTTP method"),
                    Some("use GET, POST, PUT, PATCH, DELETE, HEAD or OPTIONS"),
                )
            })?
        }
        None => default_method(action),
    };
    let mut headers = Vec::new();
    for (name, value) in &action.headers {
        headers.push((
            name.clone(),
            as_text(&render_spanned(ctx, value, "header")?),
        ));
    }
    let timeout = ctx.duration(action.timeout.as_ref(), "timeout", DEFAULT_TIMEOUT)?;

    let mut request = ctx
        .client
        .request(method.clone(), url.clone())
        .timeout(timeout);
    for (name, value) in &headers {
        request = request.header(name.as_str(), value.as_str());
    }
    let body_record = match &body {
        Body::None => Value::Null,
        Body::Json(v) => {
            request = request.json(v);
            v.clone()
        }
        Body::Form(pairs) => {
            request = request.form(pairs);
            Value::Object(
                pairs
                    .iter()
                    .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                    .collect(),
            )
        }
        Body::Raw(text) => {
            request = request.body(text.clone());
            Value::String(text.clone())
        }
    };
    // Built from owned values: `json!` would copy each one through `Serialize`.
    let request_record = record([
        ("method", Value::from(method.as_str())),
        ("url", Value::from(url.as_str())),
        (
            "headers",
            headers
                .iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), Value::String(v.clone())))
                .collect(),
        ),
        ("body", body_record),
    ]);
    let request_summary = RequestSummary {
        method: method.as_str().to_owned(),
        url: mask_text(url.as_str()).into_owned(),
    };

    let response = request
        .send()
        .await
        .map_err(|e| describe_send_error(&e, &method, &url, timeout))?;
    let status = response.status().as_u16();
    let headers: Vec<(String, String)> = response
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let bytes = response
        .bytes()
        .await
        .map_err(|e| describe_send_error(&e, &method, &url, timeout))?;
    let text = String::from_utf8_lossy(&bytes);
    let body = parse_body(&text);
    let response_record = record([
        ("status", Value::from(status)),
        (
            "headers",
            headers
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect(),
        ),
        ("body", body.clone()),
    ]);
    Ok(Exchange {
        response_summary: ResponseSummary {
            status,
            body: String::new(),
        },
        unquoted: Some(text.into_owned()),
        observed: Observed {
            status: Some(status),
            headers,
            body,
            extra: Default::default(),
        },
        request: request_record,
        response: response_record,
        request_summary,
        guards: Vec::new(),
        failure: None,
    })
}

/// A JSON object of these fields, in this order.
fn record<const N: usize>(fields: [(&str, Value); N]) -> Value {
    Value::Object(
        fields
            .into_iter()
            .map(|(name, value)| (name.to_owned(), value))
            .collect(),
    )
}

/// A JSON body parsed; any other body as a JSON string (so `$` still selects it); `null` when
/// empty.
pub(super) fn parse_body(text: &str) -> Value {
    if text.trim().is_empty() {
        return Value::Null;
    }
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_owned()))
}

/// The body of the action: `json`, `form`, `body_file` (+ `body` merged on top) or raw `body`.
async fn body(action: &HttpAction, ctx: &StepCtx<'_>) -> Result<Body, StepError> {
    if let Some(json) = &action.json {
        return Ok(Body::Json(render_spanned(ctx, json, "json")?));
    }
    if let Some(form) = &action.form {
        let mut pairs = Vec::new();
        for (name, value) in &form.value {
            let v = ctx.render(value).map_err(|e| {
                StepError::located(
                    ctx.file,
                    &form.referenced,
                    format!("in `form.{name}`: {}", e.message),
                    e.hint.as_deref(),
                )
            })?;
            pairs.push((name.clone(), as_text(&v)));
        }
        return Ok(Body::Form(pairs));
    }
    let overrides = match &action.body {
        Some(b) => Some(render_spanned(ctx, b, "body")?),
        None => None,
    };
    let Some(file) = &action.body_file else {
        return Ok(match overrides {
            None => Body::None,
            Some(Value::String(text)) => Body::Raw(text),
            Some(other) => Body::Json(other),
        });
    };
    Ok(Body::Json(file_body(ctx, file, overrides).await?))
}

/// A `body_file` rendered, with `overrides` (the rendered `body`) merged on top.
pub(super) async fn file_body(
    ctx: &StepCtx<'_>,
    file: &Spanned<String>,
    overrides: Option<Value>,
) -> Result<Value, StepError> {
    let path_text = render_spanned_str(ctx, file, "body_file")?;
    let path = ctx.root.join(&path_text);
    let at =
        |msg: String, hint: &str| StepError::located(ctx.file, &file.referenced, msg, Some(hint));
    let text = ctx
        .project
        .read_text(&path, crate::project::MAX_BODY_FILE_BYTES)
        .map_err(|e| {
            at(
                format!("failed to read body_file `{path_text}`: {e}"),
                "the path is relative to the directory apoflow runs in (the project root)",
            )
        })?;
    let template: Value = serde_json::from_str(&text).map_err(|e| {
        at(
            format!("body_file `{path_text}` is not JSON: {e}"),
            "a body_file holds a JSON document (its strings may be templates)",
        )
    })?;
    let mut merged = ctx.render(&template).map_err(|e| {
        at(
            format!("in body_file `{path_text}`: {}", e.message),
            e.hint.as_deref().unwrap_or(""),
        )
    })?;
    match overrides {
        None => {}
        Some(over @ Value::Object(_)) => deep_merge(&mut merged, over),
        Some(_) => {
            return Err(at(
                "with `body_file`, `body` must be a map of entries to merge on top".to_owned(),
                "write `body: { field: value }`",
            ));
        }
    }
    Ok(merged)
}

/// Merges `over` into `base`: objects merge key by key, recursively; anything else replaces.
fn deep_merge(base: &mut Value, over: Value) {
    match (base, over) {
        (Value::Object(b), Value::Object(o)) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(slot) => deep_merge(slot, v),
                    None => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (slot, v) => *slot = v,
    }
}

pub(super) fn render_spanned(
    ctx: &StepCtx<'_>,
    v: &Spanned<Value>,
    what: &str,
) -> Result<Value, StepError> {
    ctx.render(&v.value).map_err(|e| {
        StepError::located(
            ctx.file,
            &v.referenced,
            format!("in `{what}`: {}", e.message),
            e.hint.as_deref(),
        )
    })
}

pub(super) fn render_spanned_str(
    ctx: &StepCtx<'_>,
    s: &Spanned<String>,
    what: &str,
) -> Result<String, StepError> {
    ctx.render(&Value::String(s.value.clone()))
        .map(|v| as_text(&v))
        .map_err(|e| {
            StepError::in_template(
                ctx.file,
                &s.referenced,
                &s.value,
                format!("in `{what}`: {}", e.message),
                &e,
            )
        })
}

/// Renders `s` (written as `key`) and reads it with `parse`, which knows a fixed set of names;
/// a name it does not know is an error at `s`: "`name` is not {what}", with `hint`.
pub(super) fn render_choice<T>(
    ctx: &StepCtx<'_>,
    s: &Spanned<String>,
    key: &str,
    parse: impl Fn(&str) -> Option<T>,
    what: &str,
    hint: &str,
) -> Result<T, StepError> {
    let name = render_spanned_str(ctx, s, key)?;
    parse(&name).ok_or_else(|| {
        StepError::located(
            ctx.file,
            &s.referenced,
            format!("`{name}` is not {what}"),
            Some(hint),
        )
    })
}

/// A value as text for a URL, header or form field: strings as they are, others as JSON.
pub(super) fn as_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// A body for reports: masked (a JSON body field by field, so `cvv` values go too) and cut to
/// a readable length.
pub(super) fn quote(text: &str, parsed: &Value) -> String {
    let masked = match parsed {
        Value::String(_) | Value::Null => mask_text(text).into_owned(),
        json => masked_json(json).to_string(),
    };
    match masked.char_indices().nth(BODY_QUOTE_CHARS) {
        Some((cut, _)) => format!("{}… ({} bytes in all)", &masked[..cut], text.len()),
        None => masked,
    }
}

fn describe_send_error(
    e: &reqwest::Error,
    method: &Method,
    url: &reqwest::Url,
    timeout: Duration,
) -> String {
    let what = if e.is_timeout() {
        format!("timed out after {} ms", timeout.as_millis())
    } else if e.is_connect() {
        // The innermost cause says it best ("Connection refused (os error 111)").
        let mut cause: &dyn std::error::Error = e;
        while let Some(next) = cause.source() {
            cause = next;
        }
        format!("failed to connect: {cause}")
    } else {
        format!("failed: {}", chain(e))
    };
    mask_text(&format!("{method} {url} {what}")).into_owned()
}

pub(super) use crate::apo::client::error_chain as chain;

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn body_overrides_merge_deeply() {
        let mut base = json!({"a": {"x": 1, "y": 2}, "b": [1], "c": "keep"});
        deep_merge(&mut base, json!({"a": {"y": 3, "z": 4}, "b": [2]}));
        assert_eq!(
            base,
            json!({"a": {"x": 1, "y": 3, "z": 4}, "b": [2], "c": "keep"})
        );
    }

    #[test]
    fn non_json_bodies_become_strings() {
        assert_eq!(parse_body("{\"a\":1}"), json!({"a": 1}));
        assert_eq!(parse_body("<html>"), json!("<html>"));
        assert_eq!(parse_body("  "), Value::Null);
    }
}
