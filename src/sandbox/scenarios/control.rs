//! The control routes of the error scenarios (listed in `routes.rs`, behind the control API's
//! guard): `POST`, `GET` and `DELETE /_sandbox/scenarios`, `DELETE /_sandbox/scenarios/{id}`.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::sandbox::App;
use crate::sandbox::control::bad;

/// `POST /_sandbox/scenarios`: adds a scenario; answers it as stored, with its `id`; 400
/// saying what is wrong (an unknown api or field, a result code not documented for the api,
/// listing the valid ones, a full book).
pub(in crate::sandbox) async fn add(State(app): State<Arc<App>>, body: Bytes) -> Response {
    match app.scenarios.add(&body) {
        Ok(scenario) => Json(scenario).into_response(),
        Err(e) => bad(StatusCode::BAD_REQUEST, &e),
    }
}

/// `GET /_sandbox/scenarios`: `{"scenarios": [...]}`, oldest first, with what each has left.
pub(in crate::sandbox) async fn list(State(app): State<Arc<App>>) -> Response {
    Json(app.scenarios.list()).into_response()
}

/// `DELETE /_sandbox/scenarios`: removes every scenario; `{"cleared": N}`.
pub(in crate::sandbox) async fn clear(State(app): State<Arc<App>>) -> Response {
    Json(json!({ "cleared": app.scenarios.clear() })).into_response()
}

/// `DELETE /_sandbox/scenarios/{id}`: removes one scenario (so parallel flows need not clear
/// each other's); `{"deleted": ID}`, 404 when there is none.
pub(in crate::sandbox) async fn remove(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
) -> Response {
    match id.parse::<u64>() {
        Ok(n) if app.scenarios.remove(n) => Json(json!({ "deleted": n })).into_response(),
        Ok(n) => bad(
            StatusCode::NOT_FOUND,
            &format!("no scenario {n} (see GET /_sandbox/scenarios; used-up ones are removed)"),
        ),
        Err(_) => bad(
            StatusCode::BAD_REQUEST,
            &format!("scenario id {id:?}: expected the number shown as `id`"),
        ),
    }
}
