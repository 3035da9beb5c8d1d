//! The control API under `/_sandbox/`: reset, the virtual clock, delivery faults, the list
//! of deliveries, resends and one-off (maybe forged) notifications, and the request journal. Every answer that shows what was sent or received
//! goes through the masker ([`crate::mask::masked_json`]), so no card data or secret leaves. Open to loopback callers only, unless a token is configured, in which case
//! any caller presenting it (`x-sandbox-token: T` or `authorization: Bearer T`) is let in and
//! nobody else is.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, Query, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use jiff::SignedDuration;
use serde::Deserialize;
use serde_json::{Value, json};

use super::App;
use super::clock::iso;
use super::faults::ScopedFaults;
use super::notifier::OneOff;
use super::payment::{NOTIFY_TYPES, Notice};
use super::validate::targets_control_api;
use crate::apo::notify::Forge;

/// Lets loopback callers (or, with a token configured, callers presenting it) through.
pub(super) async fn guard(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
    next: Next,
) -> Response {
    let headers = req.headers();
    let presented = headers
        .get("x-sandbox-token")
        .and_then(|v| v.to_str().ok())
        .or_else(|| {
            headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
        });
    let ok = match &app.config.control_token {
        Some(token) => presented.is_some_and(|p| same_token(p, token)),
        None => peer.ip().is_loopback(),
    };
    if ok {
        next.run(req).await
    } else {
        bad(
            StatusCode::FORBIDDEN,
            "the control API is open to loopback callers only, or to callers presenting the \
             configured token (x-sandbox-token header)",
        )
    }
}

/// Whether the presented token is the configured one, in time that does not depend on where
/// they differ (only on their lengths).
fn same_token(presented: &str, token: &str) -> bool {
    use subtle::ConstantTimeEq as _;
    bool::from(presented.as_bytes().ct_eq(token.as_bytes()))
}

/// A JSON error answer: `{"error": message}`.
pub(super) fn bad(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}

/// `POST /_sandbox/reset`: forget every payment, token, delivery, fault, error scenario and
/// journaled call; real time again.
pub(super) async fn reset(State(app): State<Arc<App>>) -> Response {
    app.state.reset();
    app.notifier.reset();
    app.journal.reset();
    app.scenarios.clear();
    Json(json!({ "reset": true })).into_response()
}

/// `GET /_sandbox/clock`: the virtual time.
pub(super) async fn clock(State(app): State<Arc<App>>) -> Response {
    Json(json!({ "now": iso(app.state.clock.now()) })).into_response()
}

/// `POST /_sandbox/clock/advance` with `{"seconds": N}`: move the virtual clock forward; due
/// expiries and notification retries run at once. With `"paymentId"`, only that payment (and
/// its pending notifications) is made N seconds older; the clock stays.
pub(super) async fn advance(State(app): State<Arc<App>>, body: Bytes) -> Response {
    let body = serde_json::from_slice::<Value>(&body).ok();
    let seconds = body
        .as_ref()
        .and_then(|v| v.get("seconds").and_then(Value::as_u64));
    let payment_id = body.as_ref().map(|v| v.get("paymentId"));
    let (Some(seconds), Some(None | Some(Value::String(_)))) = (seconds, payment_id) else {
        return bad(
            StatusCode::BAD_REQUEST,
            "expected a JSON body {\"seconds\": N} with N a non-negative integer, and \
             optionally \"paymentId\": the payment whose time alone moves",
        );
    };
    let by = SignedDuration::from_secs(i64::try_from(seconds).unwrap_or(i64::MAX));
    match payment_id.flatten().and_then(Value::as_str) {
        None => app.state.advance_clock(by),
        Some(id) => {
            let Some(notices) = app.state.age_payment(id, by) else {
                return bad(
                    StatusCode::NOT_FOUND,
                    &format!("no payment {id} in this sandbox"),
                );
            };
            app.notifier.enqueue(notices, app.state.clock.now());
            app.notifier.age_payment(id, by);
        }
    }
    app.notifier.poke();
    Json(json!({ "now": iso(app.state.clock.now()) })).into_response()
}

/// `GET /_sandbox/faults`: the unscoped faults at the top level, the scoped sets under
/// `scoped`.
pub(super) async fn faults(State(app): State<Arc<App>>) -> Response {
    Json(app.notifier.faults()).into_response()
}

/// `POST /_sandbox/faults` with `{"paymentId": ID, "clientId": ID, "drop_next": N,
/// "delay_ms": N, "duplicate_next": N, "reorder_next": bool}` (all optional; absent =
/// none/0/false): replaces the faults of that scope (no `paymentId` nor `clientId`: the
/// unscoped faults). Answers with the set as given.
pub(super) async fn set_faults(State(app): State<Arc<App>>, body: Bytes) -> Response {
    match serde_json::from_slice::<ScopedFaults>(&body) {
        Ok(given) => {
            let (scope, faults) = given.clone().split();
            app.notifier.set_faults(scope, faults);
            Json(given).into_response()
        }
        Err(e) => bad(
            StatusCode::BAD_REQUEST,
            &format!("invalid faults: {e}; fields: {}", ScopedFaults::FIELDS),
        ),
    }
}

/// `GET /_sandbox/deliveries?type=&paymentId=&clientId=&after=`: the notifications matching
/// every given filter, with their attempts, oldest first, masked.
pub(super) async fn deliveries(
    State(app): State<Arc<App>>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    match app.deliveries(&query) {
        Ok(listed) => masked(&listed),
        Err(e) => bad(StatusCode::BAD_REQUEST, &e),
    }
}

/// `POST /_sandbox/deliveries/{id}/resend`: sends the delivery's exact bytes again now, signed
/// afresh; answers with that attempt (status, answer, latencyMs, acknowledged, …), masked.
pub(super) async fn resend(State(app): State<Arc<App>>, Path(id): Path<String>) -> Response {
    let Ok(id) = id.parse::<u64>() else {
        return bad(
            StatusCode::BAD_REQUEST,
            &format!(
                "delivery id {id:?}: expected the number shown as `id` in /_sandbox/deliveries"
            ),
        );
    };
    match app.notifier.resend(&app.state, id).await {
        Some(attempt) => masked(&attempt),
        None => bad(
            StatusCode::NOT_FOUND,
            &format!("no delivery {id} (see /_sandbox/deliveries; a reset forgets them)"),
        ),
    }
}

/// The body of `POST /_sandbox/notifications`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct NotificationOrder {
    url: Option<String>,
    replay: Option<u64>,
    body: Option<Value>,
    client_id: Option<String>,
    forge: Option<String>,
}

impl NotificationOrder {
    const FIELDS: &str = "url, replay, body, clientId, forge";
}

/// `POST /_sandbox/notifications` with `{"replay": ID | "body": {…}, "url"?, "clientId"?,
/// "forge"?}`: sends one notification now, as APO would or forged as asked, and answers with
/// the merchant's answer (the attempt, with `deliveryId` and `url`), masked. The send is a new delivery
/// in the journal, never retried.
pub(super) async fn notifications(State(app): State<Arc<App>>, body: Bytes) -> Response {
    match one_off(&app, &body) {
        Ok(one) => masked(&app.notifier.send_one_off(&app.state, one).await),
        Err((status, message)) => bad(status, &message),
    }
}

/// Resolves an order into what to send: the replayed delivery's bytes or the given body, the
/// URL (given, else the replayed or first delivery's, else the client's default) and client.
fn one_off(app: &App, raw: &[u8]) -> Result<OneOff, (StatusCode, String)> {
    let invalid = |message: String| (StatusCode::BAD_REQUEST, message);
    let order: NotificationOrder = serde_json::from_slice(raw).map_err(|e| {
        invalid(format!(
            "invalid notification order: {e}; fields: {}",
            NotificationOrder::FIELDS
        ))
    })?;
    let forge = match order.forge.as_deref() {
        None => Forge::None,
        Some(name) => Forge::from_name(name).ok_or_else(|| {
            invalid(format!(
                "forge {name:?} is not one of {}",
                Forge::NAMES.join(", ")
            ))
        })?,
    };
    let mut one = match (order.replay, order.body) {
        (Some(id), None) => app.notifier.replay_of(id).ok_or_else(|| {
            (
                StatusCode::NOT_FOUND,
                format!(
                    "no delivery {id} to replay (see /_sandbox/deliveries; a reset forgets them)"
                ),
            )
        })?,
        (None, Some(body @ Value::Object(_))) => {
            let bytes = serde_json::to_vec(&body).unwrap_or_default();
            let kind = body["notifyType"].as_str().unwrap_or_default();
            let notify_type = NOTIFY_TYPES
                .into_iter()
                .find(|t| *t == kind)
                .unwrap_or("OTHER");
            let original = body["paymentId"]
                .as_str()
                .and_then(|p| app.notifier.first_for_payment(p));
            let client_id = order
                .client_id
                .clone()
                .or_else(|| original.as_ref().map(|(_, c)| c.clone()))
                .ok_or_else(|| {
                    invalid(format!(
                        "give `clientId`: no delivery about this body's paymentId to take it                          from (registered clients: {})",
                        app.config.client_ids().join(", ")
                    ))
                })?;
            let url = original
                .map(|(u, _)| u)
                .or_else(|| app.config.notify_url(&client_id).map(str::to_owned))
                .unwrap_or_default();
            OneOff {
                notice: Notice {
                    notify_type,
                    url,
                    client_id,
                    body,
                },
                bytes: Arc::new(bytes),
                forge,
                replay_of: None,
            }
        }
        (None, Some(_)) => return Err(invalid("`body` must be a JSON object".to_owned())),
        (Some(_), Some(_)) | (None, None) => {
            return Err(invalid(
                "give exactly one of `replay` (a delivery id) and `body` (a notification)"
                    .to_owned(),
            ));
        }
    };
    one.forge = forge;
    if let Some(client_id) = order.client_id {
        one.notice.client_id = client_id;
    }
    if let Some(url) = order.url {
        one.notice.url = url;
    }
    let usable = !one.notice.url.chars().any(char::is_control)
        && url::Url::parse(&one.notice.url)
            .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && !targets_control_api(&u));
    if !usable {
        return Err(invalid(if one.notice.url.is_empty() {
            "give `url`: no delivery about this payment and no default notify URL for the              client to send to"
                .to_owned()
        } else {
            format!(
                "url {:?} is not an absolute http(s) URL without control characters outside \
                 a sandbox control API (/_sandbox/…)",
                one.notice.url
            )
        }));
    }
    Ok(one)
}

/// `GET /_sandbox/calls?api=&clientId=&paymentId=&paymentRequestId=&after=`: the journaled
/// API calls matching every given filter, oldest first, masked.
pub(super) async fn calls(
    State(app): State<Arc<App>>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    match app.calls(&query) {
        Ok(listed) => masked(&listed),
        Err(e) => bad(StatusCode::BAD_REQUEST, &e),
    }
}

/// A JSON answer passed through the masker.
fn masked(value: &Value) -> Response {
    Json(crate::mask::masked_json(value)).into_response()
}

/// `GET /_sandbox/health`: `{"ok": true, "payments": N, "paymentsEvicted": M, "tokens": N,
/// "deliveries": N, "pendingDeliveries": N, "calls": N, "state": {"persisted": bool, "file":
/// PATH|null}}` once the sandbox serves; open to every caller (it shows only counts and where
/// the state is kept), for readiness checks.
pub(super) async fn health(State(app): State<Arc<App>>) -> Response {
    let counts = app.state.counts();
    let (deliveries, pending, _) = app.notifier.counts();
    let (calls, _) = app.journal.counts();
    let file = app.state.file().map(|f| f.path().display().to_string());
    Json(json!({
        "ok": true,
        "payments": counts.payments,
        "paymentsEvicted": counts.evicted,
        "tokens": counts.tokens,
        "deliveries": deliveries,
        "pendingDeliveries": pending,
        "calls": calls,
        "state": { "persisted": file.is_some(), "file": file },
    }))
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::same_token;

    #[test]
    fn tokens_match_only_exactly() {
        assert!(same_token("s3cret-token", "s3cret-token"));
        assert!(!same_token("s3cret-tokeN", "s3cret-token"));
        assert!(!same_token("s3cret", "s3cret-token"));
        assert!(!same_token("", "s3cret-token"));
    }
}
