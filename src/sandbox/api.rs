//! Thin handlers for the six APIs: raw bytes → verify → `State::handle_*` → signed response.
//!
//! Every answer is HTTP 200 with a `result` (what the SDKs require), signed with the sandbox's
//! APO key over the request path, with lowercase `client-id`, `response-time` and `signature`
//! headers; that includes INVALID_SIGNATURE and other gateway errors, so every SDK can parse
//! them. Absolute-form request targets (`POST https://host/ams/…`, sent by the Python SDK) are
//! routed and verified by their path.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::App;
use super::clock::iso;
use super::error::{ApoError, Code};
use super::state::Handled;
use crate::apo::sign::{SignedParts, sign, verify};

/// Bodies above this size get PARAM_ILLEGAL.
pub const MAX_BODY: usize = 256 * 1024;

#[derive(Debug, Clone, Copy)]
enum Api {
    Pay,
    InquiryPayment,
    Capture,
    Cancel,
    Refund,
    InquiryRefund,
}

impl Api {
    fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "pay" => Api::Pay,
            "inquiryPayment" => Api::InquiryPayment,
            "capture" => Api::Capture,
            "cancel" => Api::Cancel,
            "refund" => Api::Refund,
            "inquiryRefund" => Api::InquiryRefund,
            _ => return None,
        })
    }
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// Signs and sends a body.
fn respond(app: &App, path: &str, client_id: &str, body: &Value) -> Response {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    let time = iso(app.state.clock.now());
    let signature = sign(
        &app.config.apo_key,
        &SignedParts::post(path, client_id, &time, &bytes),
    );
    let mut resp = Response::new(Body::from(bytes));
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json; charset=UTF-8"),
    );
    for (name, value) in [
        ("client-id", client_id),
        ("response-time", time.as_str()),
        ("signature", signature.as_str()),
    ] {
        if let Ok(v) = header::HeaderValue::from_str(value) {
            h.insert(name, v);
        }
    }
    resp
}

/// One of the six APIs.
pub(super) async fn call(State(app): State<Arc<App>>, req: Request) -> Response {
    let path = req
        .uri()
        .path_and_query()
        .map_or_else(|| req.uri().path().to_owned(), |p| p.as_str().to_owned());
    let client_id = header_str(req.headers(), "client-id")
        .unwrap_or_default()
        .to_owned();
    let outcome = handle(&app, &path, &client_id, req).await;
    let body = match outcome {
        Ok((body, notices)) => {
            app.notifier.enqueue(notices, app.state.clock.now());
            body
        }
        Err(e) => {
            tracing::debug!(code = e.code.name(), path, "sandbox call failed");
            e.body()
        }
    };
    respond(&app, &path, &client_id, &body)
}

async fn handle(app: &App, path: &str, client_id: &str, req: Request) -> Handled {
    if req.method() != Method::POST {
        return Err(ApoError::new(Code::MethodNotSupported));
    }
    let name = req.uri().path().rsplit('/').next().unwrap_or_default();
    let api = Api::from_name(name).ok_or_else(|| {
        ApoError::with(
            Code::NoInterfaceDef,
            format!("API is not defined: {}", req.uri().path()),
        )
    })?;
    if client_id.is_empty() {
        return Err(ApoError::with(
            Code::InvalidClient,
            "The client-id header is missing.",
        ));
    }
    let key = app.config.merchants.get(client_id).ok_or_else(|| {
        ApoError::with(
            Code::UnknownClient,
            format!("No merchant is registered under client-id {client_id}."),
        )
    })?;
    let headers = req.headers().clone();
    let body: Bytes = axum::body::to_bytes(req.into_body(), MAX_BODY)
        .await
        .map_err(|_| ApoError::param("body", &format!("must be at most {MAX_BODY} bytes")))?;
    let time = header_str(&headers, "request-time").ok_or_else(|| {
        ApoError::with(
            Code::InvalidSignature,
            "The request-time header is missing.",
        )
    })?;
    let signature = header_str(&headers, "signature").ok_or_else(|| {
        ApoError::with(Code::InvalidSignature, "The signature header is missing.")
    })?;
    verify(
        key,
        &SignedParts::post(path, client_id, time, &body),
        signature,
    )
    .map_err(|e| {
        ApoError::with(
            Code::InvalidSignature,
            format!("The signature is not validated: {e}."),
        )
    })?;
    let json: Value = serde_json::from_slice(&body).map_err(|e| {
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
    match api {
        Api::Pay => state.handle_pay(client_id, &json),
        Api::InquiryPayment => state.handle_inquiry_payment(client_id, &json),
        Api::Capture => state.handle_capture(client_id, &json),
        Api::Cancel => state.handle_cancel(client_id, &json),
        Api::Refund => state.handle_refund(client_id, &json),
        Api::InquiryRefund => state.handle_inquiry_refund(client_id, &json),
    }
}

/// Any other path: NO_INTERFACE_DEF (HTTP 200, signed like every APO answer).
pub(super) async fn unknown_path(State(app): State<Arc<App>>, req: Request) -> Response {
    let path = req.uri().path().to_owned();
    if !path.starts_with("/ams/") && req.method() == Method::GET {
        return (StatusCode::NOT_FOUND, "not found\n").into_response();
    }
    let client_id = header_str(req.headers(), "client-id")
        .unwrap_or_default()
        .to_owned();
    let err = ApoError::with(Code::NoInterfaceDef, format!("API is not defined: {path}"));
    respond(&app, &path, &client_id, &err.body())
}
