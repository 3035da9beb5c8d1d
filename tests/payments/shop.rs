//! Support for tests/payments.rs: a tiny fake merchant shop on 127.0.0.1:0, the system under
//! test of the `redirect: { from: }`, `delivery:` and `received:` steps.
//!
//! | route | answer |
//! | --- | --- |
//! | `GET /checkout?to=URL` | 302 to URL (the hosted page) |
//! | `GET /checkout.json?to=URL` | 200 `{"redirectUrl": URL}` |
//! | `GET /return` | 302 to `/thanks` (the buyer's return, `paymentRedirectUrl`) |
//! | `GET /thanks` | 200 HTML `<h1>Paid</h1>` |
//! | `POST /notify/success` | the fixed SUCCESS acknowledgement |
//! | `POST /notify/fail` | 200 JSON with `resultStatus: F` |
//! | `POST /notify/wrong` | 200 `OK` |

use std::collections::HashMap;
use std::sync::OnceLock;

use axum::Router;
use axum::extract::{Path, Query};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde_json::json;

use crate::support::serve;

/// The base URL of the one shop (started on first use).
pub fn url() -> &'static str {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| {
        serve(
            Router::new()
                .route("/checkout", get(checkout))
                .route("/checkout.json", get(checkout_json))
                .route("/return", get(|| async { Redirect::to("/thanks") }))
                .route("/thanks", get(|| async { Html("<h1>Paid</h1>") }))
                .route("/notify/{mode}", post(notify)),
        )
    })
}

type Params = Query<HashMap<String, String>>;

async fn checkout(Query(q): Params) -> Response {
    match q.get("to") {
        Some(to) => Redirect::to(to).into_response(),
        None => StatusCode::BAD_REQUEST.into_response(),
    }
}

async fn checkout_json(Query(q): Params) -> Response {
    axum::Json(json!({ "redirectUrl": q.get("to") })).into_response()
}

async fn notify(Path(mode): Path<String>) -> Response {
    let json_answer = |status: &str, code: &str| {
        (
            [(header::CONTENT_TYPE, "application/json")],
            json!({ "result": { "resultCode": code, "resultStatus": status, "resultMessage": "." } })
                .to_string(),
        )
            .into_response()
    };
    match mode.as_str() {
        "success" => json_answer("S", "SUCCESS"),
        "fail" => json_answer("F", "SYSTEM_ERROR"),
        _ => "OK".into_response(),
    }
}
