//! Every route of the sandbox on one screen.

use std::sync::Arc;

use axum::routing::{any, delete, get, post};
use axum::{Router, middleware};

use super::{App, api, control, hosted_page, scenarios};

/// The sandbox's router.
pub(super) fn app(app: Arc<App>) -> Router {
    let control_routes = Router::new()
        .route("/reset", post(control::reset))
        .route("/clock", get(control::clock))
        .route("/clock/advance", post(control::advance))
        .route("/faults", get(control::faults).post(control::set_faults))
        .route("/deliveries", get(control::deliveries))
        .route("/deliveries/{id}/resend", post(control::resend))
        .route("/notifications", post(control::notifications))
        .route("/calls", get(control::calls))
        .route(
            "/scenarios",
            get(scenarios::list)
                .post(scenarios::add)
                .delete(scenarios::clear),
        )
        .route("/scenarios/{id}", delete(scenarios::remove))
        .route_layer(middleware::from_fn_with_state(app.clone(), control::guard))
        // After the guard's layer, so open to every caller (readiness checks from elsewhere).
        .route("/health", get(control::health));
    let page_routes = Router::new()
        .route(
            "/pay/{payment_id}",
            get(hosted_page::show).post(hosted_page::submit),
        )
        .route(
            "/3ds/{payment_id}",
            get(hosted_page::show_challenge).post(hosted_page::answer_challenge),
        )
        .route_layer(middleware::from_fn_with_state(
            app.clone(),
            hosted_page::security_headers,
        ));
    Router::new()
        .route("/ams/api/v1/payments/{api}", any(api::call))
        .route("/ams/sandbox/api/v1/payments/{api}", any(api::call))
        .nest("/page", page_routes)
        .nest("/_sandbox", control_routes)
        .fallback(api::unknown_path)
        .with_state(app)
}
