//! Every route of the sandbox on one screen.

use std::sync::Arc;

use axum::Router;
use axum::routing::{any, get, post};

use super::{App, api, control, hosted_page};

/// The sandbox's router.
pub(super) fn app(app: Arc<App>) -> Router {
    Router::new()
        .route("/ams/api/v1/payments/{api}", any(api::call))
        .route("/ams/sandbox/api/v1/payments/{api}", any(api::call))
        .route(
            "/page/pay/{payment_id}",
            get(hosted_page::show).post(hosted_page::submit),
        )
        .route(
            "/page/3ds/{payment_id}",
            get(hosted_page::show_challenge).post(hosted_page::answer_challenge),
        )
        .route("/_sandbox/reset", post(control::reset))
        .route("/_sandbox/clock", get(control::clock))
        .route("/_sandbox/clock/advance", post(control::advance))
        .route(
            "/_sandbox/faults",
            get(control::faults).post(control::set_faults),
        )
        .route("/_sandbox/deliveries", get(control::deliveries))
        .fallback(api::unknown_path)
        .with_state(app)
}
