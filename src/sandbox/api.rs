//! Thin handlers for the six APIs: raw bytes → verify → `State::handle_*` → signed response.
//!
//! Every answer is HTTP 200 with a `result` (what the SDKs require), signed with the sandbox's
//! APO key over the request path, with lowercase `client-id`, `response-time` and `signature`
//! headers; that includes gateway errors such as UNKNOWN_CLIENT, so every SDK can parse them.
//! The one exception: the answer to a request whose signature is missing or does not verify
//! (INVALID_SIGNATURE, or an error found before the signature was checked) has no `signature`
//! header, as APO's. Absolute-form request targets (`POST https://host/ams/…`, sent by the Python SDK) are
//! routed and verified by their path.
//!
//! Every call, failures included (bad signature, unknown client, malformed JSON, unknown API),
//! is recorded in the request journal (`journal.rs`) with the answer it got. A verified call
//! may meet an error scenario (`scenarios/`), which forces its answer, delays it or drops it.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::App;
use super::clock::iso;
use super::error::ApoError;
use super::journal::{Call, Verdict};
use super::scenarios::Forced;
use super::state::Handled;
use crate::apo::client::CONTENT_TYPE;
use crate::apo::endpoint::Endpoint;
use crate::apo::keys::PublicKey;
use crate::apo::result::ResultCode;
use crate::apo::sign::{SignedParts, sign, verify};

/// Bodies above this size get PARAM_ILLEGAL.
pub const MAX_BODY: usize = 256 * 1024;

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// Sends a body, signed unless `signed` is false (the answer to a request whose own signature
/// is missing or does not verify carries none: APO does not sign those).
fn respond(app: &App, path: &str, client_id: &str, body: &Value, signed: bool) -> Response {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    let time = iso(app.state.clock.now());
    let signature = if signed {
        sign(
            &app.config.apo_key,
            &SignedParts::post(path, client_id, &time, &bytes),
        )
    } else {
        String::new()
    };
    let mut resp = Response::new(Body::from(bytes));
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static(CONTENT_TYPE),
    );
    for (name, value) in [
        ("client-id", client_id),
        ("response-time", time.as_str()),
        ("signature", signature.as_str()),
    ] {
        if value.is_empty() {
            continue;
        }
        if let Ok(v) = header::HeaderValue::from_str(value) {
            h.insert(name, v);
        }
    }
    resp
}

/// One of the six APIs.
pub(super) async fn call(State(app): State<Arc<App>>, req: Request) -> Response {
    let endpoint = Endpoint::from_path(req.uri().path());
    let not_post = req.method() != Method::POST;
    let received = receive(req).await;
    if let Some(timeout) = received.timed_out {
        return (StatusCode::REQUEST_TIMEOUT, format!("{timeout}\n")).into_response();
    }
    let auth = authenticate(&app, &received);
    let verdict = match &auth {
        Ok(_) => Verdict::Valid,
        Err((v, _)) => *v,
    };
    // Error scenarios apply to verified calls of a known API only.
    let forced = match (endpoint, &auth, &received.body) {
        (Some(e), Ok(_), Some(body)) if !not_post => {
            app.scenarios.take(e, &received.client_id, body, &app.state)
        }
        _ => None,
    };
    let real = || {
        handle(
            &app,
            not_post,
            endpoint,
            &received,
            auth.map_err(|(_, e)| e),
        )
    };
    let outcome = match &forced {
        Some(f) => f.run(&app.state, &received.client_id, real),
        None => real(),
    };
    let body = match outcome {
        Ok((body, notices)) => {
            app.notifier.enqueue(notices, app.state.clock.now());
            body
        }
        Err(e) => {
            tracing::debug!(code = e.code.code(), received.path, "sandbox call failed");
            e.body()
        }
    };
    let response = answer(&app, received, endpoint, verdict, body, forced.as_ref());
    match forced {
        Some(f) => f.deliver(response).await,
        None => response,
    }
}

/// A request as it arrived: what the journal keeps and what verification reads.
struct Received {
    path: String,
    uri_path: String,
    client_id: String,
    headers: HeaderMap,
    /// `None` when the body exceeded [`MAX_BODY`] or did not arrive in time.
    body: Option<Bytes>,
    /// The body did not arrive in time (see `server.rs`).
    timed_out: Option<String>,
}

async fn receive(req: Request) -> Received {
    let path = req
        .uri()
        .path_and_query()
        .map_or_else(|| req.uri().path().to_owned(), |p| p.as_str().to_owned());
    let uri_path = req.uri().path().to_owned();
    let (parts, body) = req.into_parts();
    let client_id = header_str(&parts.headers, "client-id")
        .unwrap_or_default()
        .to_owned();
    let read = axum::body::to_bytes(body, MAX_BODY).await;
    Received {
        path,
        uri_path,
        client_id,
        timed_out: read
            .as_ref()
            .err()
            .and_then(crate::serve::body_timeout)
            .map(ToString::to_string),
        body: read.ok(),
        headers: parts.headers,
    }
}

/// Journals the call (with the error scenario that forced its answer, if any), then signs the
/// answer.
fn answer(
    app: &App,
    r: Received,
    endpoint: Option<Endpoint>,
    signature: Verdict,
    body: Value,
    forced: Option<&Forced>,
) -> Response {
    // No signature for a request that failed verification, nor for one without a client-id
    // (the answer would be signed over an empty client id no SDK can check).
    let signed =
        !matches!(signature, Verdict::Invalid | Verdict::Missing) && !r.client_id.is_empty();
    let response = respond(app, &r.path, &r.client_id, &body, signed);
    app.journal.record(Call {
        at: app.state.clock.now(),
        client_id: r.client_id,
        api: endpoint.map_or("unknown", Endpoint::step_name),
        path: r.path,
        headers: r.headers,
        body: r.body.map(|b| b.to_vec()).unwrap_or_default(),
        signature,
        response: body,
        scenario: forced.map(Forced::to_json),
    });
    response
}

/// Who sent the call, and whether they signed it: the merchant's key when the signature
/// verifies, else the journal's verdict and the error to answer.
fn authenticate<'a>(app: &'a App, r: &Received) -> Result<&'a PublicKey, (Verdict, ApoError)> {
    if r.client_id.is_empty() {
        return Err((
            Verdict::UnknownClient,
            ApoError::with(
                ResultCode::InvalidClient,
                "The client-id header is missing.",
            ),
        ));
    }
    let key = app.config.merchants.get(&r.client_id).ok_or_else(|| {
        (
            Verdict::UnknownClient,
            ApoError::with(
                ResultCode::UnknownClient,
                format!("No merchant is registered under client-id {}.", r.client_id),
            ),
        )
    })?;
    let signature = header_str(&r.headers, "signature");
    let unverified = if signature.is_some() {
        Verdict::Invalid
    } else {
        Verdict::Missing
    };
    let body = r.body.as_ref().ok_or_else(|| {
        (
            unverified,
            ApoError::param("body", &format!("must be at most {MAX_BODY} bytes")),
        )
    })?;
    let time = header_str(&r.headers, "request-time").ok_or_else(|| {
        (
            unverified,
            ApoError::with(
                ResultCode::InvalidSignature,
                "The request-time header is missing.",
            ),
        )
    })?;
    let signature = signature.ok_or_else(|| {
        (
            Verdict::Missing,
            ApoError::with(
                ResultCode::InvalidSignature,
                "The signature header is missing.",
            ),
        )
    })?;
    verify(
        key,
        &SignedParts::post(&r.path, &r.client_id, time, body),
        signature,
    )
    .map_err(|e| {
        (
            Verdict::Invalid,
            ApoError::with(
                ResultCode::InvalidSignature,
                format!("The signature is not validated: {e}."),
            ),
        )
    })?;
    Ok(key)
}

fn handle(
    app: &App,
    not_post: bool,
    endpoint: Option<Endpoint>,
    r: &Received,
    auth: Result<&PublicKey, ApoError>,
) -> Handled {
    if not_post {
        return Err(ApoError::new(ResultCode::MethodNotSupported));
    }
    let endpoint = endpoint.ok_or_else(|| {
        ApoError::with(
            ResultCode::NoInterfaceDef,
            format!("API is not defined: {}", r.uri_path),
        )
    })?;
    auth?;
    let body = r.body.as_deref().unwrap_or_default();
    let json: Value = serde_json::from_slice(body).map_err(|e| {
        ApoError::param(
            "body",
            &format!(
                "is not valid JSON (line {}, column {})",
                e.line(),
                e.column()
            ),
        )
    })?;
    let state = &app.state;
    let client_id = r.client_id.as_str();
    match endpoint {
        Endpoint::Pay => state.handle_pay(client_id, &json, app.config.notify_url(client_id)),
        Endpoint::InquiryPayment => state.handle_inquiry_payment(client_id, &json),
        Endpoint::Capture => state.handle_capture(client_id, &json),
        Endpoint::Cancel => state.handle_cancel(client_id, &json),
        Endpoint::Refund => state.handle_refund(client_id, &json, app.config.notify_url(client_id)),
        Endpoint::InquiryRefund => state.handle_inquiry_refund(client_id, &json),
    }
}

/// Any other path: NO_INTERFACE_DEF (HTTP 200, signed like every APO answer); journaled as
/// `unknown`. A GET outside `/ams/` is a plain 404, not journaled.
pub(super) async fn unknown_path(State(app): State<Arc<App>>, req: Request) -> Response {
    let path = req.uri().path().to_owned();
    if !path.starts_with("/ams/") && req.method() == Method::GET {
        return (StatusCode::NOT_FOUND, "not found\n").into_response();
    }
    let received = receive(req).await;
    if let Some(timeout) = received.timed_out {
        return (StatusCode::REQUEST_TIMEOUT, format!("{timeout}\n")).into_response();
    }
    let verdict = match authenticate(&app, &received) {
        Ok(_) => Verdict::Valid,
        Err((v, _)) => v,
    };
    let err = ApoError::with(
        ResultCode::NoInterfaceDef,
        format!("API is not defined: {path}"),
    );
    answer(&app, received, None, verdict, err.body(), None)
}
