//! The hosted card page: order summary, card form (Luhn, expiry and CVV checks), save-card
//! consent, the 3-D Secure challenge, the saved-card continuation page, then a 303 redirect to
//! the merchant's `paymentRedirectUrl`. HTML lives in `assets/` (include_str!); every value put
//! into it is escaped.
//!
//! Stable form contract (the runner's `redirect` step posts it over plain HTTP):
//!
//! | page | method + path | fields |
//! | --- | --- | --- |
//! | card | `POST /page/pay/{paymentId}` | `card_number`, `expiry_month` (MM), `expiry_year` (YY or YYYY), `cvv`, `holder_name`, `save_card` (`on`, only offered for ASKFORCONSENT) |
//! | saved card | `POST /page/pay/{paymentId}` | none (`action=pay`) |
//! | 3-D Secure | `POST /page/3ds/{paymentId}` | `outcome` = `pass` / `fail` / `cancel` |
//!
//! A rejected card form answers 422 with the form again and one message per field.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use jiff::Timestamp;

use super::App;
use super::cards::CardProfile;
use super::payment::{ChallengeAnswer, Next, Notice, Payment, Status};
use super::state::{PageError, PageResult};
use super::validate::TokenizeMode;

const PAGE: &str = include_str!("assets/page.html");
const CARD: &str = include_str!("assets/card.html");
const SAVED: &str = include_str!("assets/saved.html");
const CHALLENGE: &str = include_str!("assets/challenge.html");
const MESSAGE: &str = include_str!("assets/message.html");

/// HTML-escapes text.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            c => out.push(c),
        }
    }
    out
}

/// Fills `{{name}}` with escaped text and `{{{name}}}` with trusted HTML built here.
fn fill(template: &str, text: &[(&str, &str)], html: &[(&str, &str)]) -> String {
    let mut out = template.to_owned();
    for (k, v) in html {
        out = out.replace(&format!("{{{{{{{k}}}}}}}"), v);
    }
    for (k, v) in text {
        out = out.replace(&format!("{{{{{k}}}}}"), &escape(v));
    }
    out
}

fn page(status: StatusCode, title: &str, content: &str) -> Response {
    let html = fill(PAGE, &[("title", title)], &[("content", content)]);
    (status, Html(html)).into_response()
}

fn see_other(location: &str) -> Response {
    (
        StatusCode::SEE_OTHER,
        [(header::LOCATION, location.to_owned())],
    )
        .into_response()
}

fn message(status: StatusCode, heading: &str, text: &str, back: Option<&str>) -> Response {
    let link = back
        .map(|u| {
            format!(
                "<p><a id=\"back\" href=\"{}\">Return to the merchant</a></p>",
                escape(u)
            )
        })
        .unwrap_or_default();
    let content = fill(
        MESSAGE,
        &[("heading", heading), ("message", text)],
        &[("link", &link)],
    );
    page(status, heading, &content)
}

/// `4200` SGD → `SGD 42.00`.
fn format_amount(p: &Payment) -> String {
    let m = &p.req.amount;
    let decimals = match m.currency.as_str() {
        "JPY" | "KRW" | "VND" | "CLP" | "ISK" | "XAF" | "XOF" | "XPF" | "PYG" | "UGX" | "RWF"
        | "KMF" | "GNF" | "DJF" | "BIF" | "VUV" => 0,
        "BHD" | "KWD" | "JOD" | "OMR" | "TND" | "IQD" | "LYD" => 3,
        _ => 2,
    };
    if decimals == 0 {
        return format!("{} {}", m.currency, m.value);
    }
    let unit = 10u64.pow(decimals);
    format!(
        "{} {}.{:0width$}",
        m.currency,
        m.value / unit,
        m.value % unit,
        width = decimals as usize
    )
}

fn status_text(p: &Payment) -> (&'static str, String) {
    match p.status {
        Status::Success => ("Payment successful", "This payment is complete.".to_owned()),
        Status::Fail => (
            "Payment failed",
            format!(
                "This payment did not go through ({}). {}",
                p.result_code,
                p.result_message()
            ),
        ),
        Status::Cancelled => (
            "Payment cancelled",
            "The merchant cancelled this payment.".to_owned(),
        ),
        Status::Processing if p.three_ds_failed => (
            "Verification failed",
            "3-D Secure authentication failed. You can return to the merchant.".to_owned(),
        ),
        Status::Processing => (
            "Payment processing",
            "Your payment is being processed. You can return to the merchant.".to_owned(),
        ),
    }
}

struct CardForm<'a> {
    values: &'a HashMap<String, String>,
    errors: Vec<(&'static str, &'static str)>,
}

fn card_page(p: &Payment, form: &CardForm<'_>, status: StatusCode) -> Response {
    let value = |k: &str| form.values.get(k).map_or("", String::as_str);
    let error_for = |field: &str| {
        form.errors
            .iter()
            .find(|(f, _)| *f == field)
            .map(|(_, m)| {
                format!(
                    "<div class=\"error\" id=\"{field}_error\">{}</div>",
                    escape(m)
                )
            })
            .unwrap_or_default()
    };
    let errors = if form.errors.is_empty() {
        String::new()
    } else {
        "<div class=\"errors\" id=\"errors\">Please correct the highlighted fields.</div>"
            .to_owned()
    };
    let save = if p.req.tokenize == TokenizeMode::AskForConsent {
        "<label><input type=\"checkbox\" id=\"save_card\" name=\"save_card\" value=\"on\"> Save this card for future payments</label>".to_owned()
    } else {
        String::new()
    };
    // The card number and CVV are never echoed back: the buyer types them again.
    let content = fill(
        CARD,
        &[
            ("amount", &format_amount(p)),
            ("description", &p.req.order_description),
            ("order", &p.req.reference_order_id),
            ("payment_id", &p.id),
            ("expiry_month", value("expiry_month")),
            ("expiry_year", value("expiry_year")),
            ("holder_name", value("holder_name")),
        ],
        &[
            ("errors", &errors),
            ("card_number_error", &error_for("card_number")),
            ("expiry_error", &error_for("expiry")),
            ("cvv_error", &error_for("cvv")),
            ("holder_name_error", &error_for("holder_name")),
            ("save_card", &save),
        ],
    );
    page(status, "Pay by card", &content)
}

/// Checks the card form; returns the digits and holder name, or one message per bad field.
fn check_card(
    values: &HashMap<String, String>,
    now: Timestamp,
) -> Result<(String, String), Vec<(&'static str, &'static str)>> {
    let get = |k: &str| values.get(k).map_or("", |s| s.trim());
    let mut errors = Vec::new();
    let digits: String = get("card_number")
        .chars()
        .filter(|c| !matches!(c, ' ' | '-'))
        .collect();
    if digits.is_empty() {
        errors.push(("card_number", "Enter the card number."));
    } else if !(12..=19).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) {
        errors.push(("card_number", "The card number must be 12 to 19 digits."));
    } else if !crate::mask::luhn_valid(&digits) {
        errors.push((
            "card_number",
            "This card number is not valid: check the digits.",
        ));
    }
    let month: Option<i16> = get("expiry_month")
        .parse()
        .ok()
        .filter(|m| (1..=12).contains(m));
    let year_text = get("expiry_year");
    let year: Option<i16> = match year_text.len() {
        2 => year_text.parse::<i16>().ok().map(|y| 2000 + y),
        4 => year_text.parse().ok(),
        _ => None,
    };
    match (month, year) {
        (None, _) => errors.push(("expiry", "The expiry month must be 01 to 12.")),
        (_, None) => errors.push(("expiry", "The expiry year must be YY or YYYY.")),
        (Some(m), Some(y)) => {
            let today = now.to_zoned_datetime(jiff::tz::TimeZone::UTC);
            if (y, m) < (today.year(), i16::from(today.month())) {
                errors.push(("expiry", "This card has expired: check the expiry date."));
            }
        }
    }
    let cvv = get("cvv");
    let amex = digits.starts_with("34") || digits.starts_with("37");
    let cvv_len = if amex { 4 } else { 3 };
    if cvv.len() != cvv_len || !cvv.bytes().all(|b| b.is_ascii_digit()) {
        errors.push((
            "cvv",
            if amex {
                "The CVV must be the 4 digits on the front of the card."
            } else {
                "The CVV must be the 3 digits on the back of the card."
            },
        ));
    }
    let holder = get("holder_name");
    if holder.is_empty() {
        errors.push(("holder_name", "Enter the name on the card."));
    } else if holder.chars().count() > 64 {
        errors.push(("holder_name", "The name must be at most 64 characters."));
    }
    if errors.is_empty() {
        Ok((digits, holder.to_owned()))
    } else {
        Err(errors)
    }
}

fn parse_form(body: &[u8]) -> HashMap<String, String> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

fn send(app: &App, notices: Vec<Notice>) {
    app.notifier.enqueue(notices, app.state.clock.now());
}

fn not_found() -> Response {
    message(
        StatusCode::NOT_FOUND,
        "Payment not found",
        "This payment link is not valid.",
        None,
    )
}

/// Adds the hosted page's security headers to every answer under `/page/`: a
/// Content-Security-Policy allowing no script, no frame and no base change, forms only to the
/// page itself and (for the redirect after a submit) the origin of the payment's
/// `paymentRedirectUrl`; `X-Frame-Options: DENY`; `Cache-Control: no-store` (the pages show the
/// masked card, the holder's name and the order); no referrer (the URL names the payment).
pub(super) async fn security_headers(
    State(app): State<Arc<App>>,
    Path(params): Path<HashMap<String, String>>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let back = params
        .get("payment_id")
        .and_then(|id| app.state.redirect_url(id))
        .and_then(|u| url::Url::parse(&u).ok())
        .map(|u| u.origin().ascii_serialization())
        .filter(|o| o != "null");
    let mut resp = next.run(req).await;
    let form_action = match back {
        Some(origin) => format!("'self' {origin}"),
        None => "'self'".to_owned(),
    };
    let csp = format!(
        "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; \
         frame-ancestors 'none'; form-action {form_action}"
    );
    let h = resp.headers_mut();
    for (name, value) in [
        (header::CONTENT_SECURITY_POLICY, csp.as_str()),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::CACHE_CONTROL, "no-store"),
        (header::PRAGMA, "no-cache"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    ] {
        if let Ok(v) = header::HeaderValue::from_str(value) {
            h.insert(name, v);
        }
    }
    resp
}

/// How long the buyer's return waits for the first delivery of the notifications the page
/// action caused (see [`after`]).
pub const RETURN_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// Where a page action leads. For a client registered with
/// [`super::Config::notify_before_return`], the first delivery attempt of the notifications the
/// action caused is awaited (at most [`RETURN_WAIT`]) before the buyer is sent back.
async fn after(app: &App, result: PageResult) -> Response {
    let (result, notices) = result;
    let ids = app.notifier.enqueue(notices, app.state.clock.now());
    if let Ok((Next::Merchant, p)) = &result
        && app.config.notify_first.contains(&p.client_id)
    {
        app.notifier.first_attempts(&ids, RETURN_WAIT).await;
    }
    match result {
        Err(PageError::NotFound) => not_found(),
        Err(PageError::NotWaiting(p)) => {
            let (heading, text) = status_text(&p);
            message(
                StatusCode::CONFLICT,
                heading,
                &text,
                Some(&p.req.redirect_url),
            )
        }
        Ok((Next::Challenge, p)) => see_other(&format!("/page/3ds/{}", p.id)),
        Ok((Next::CardPage, p)) => see_other(&format!("/page/pay/{}", p.id)),
        Ok((Next::Merchant, p)) => see_other(&p.req.redirect_url),
    }
}

/// `GET /page/pay/{id}`: the card form, the saved-card page, or where the payment stands.
pub(super) async fn show(State(app): State<Arc<App>>, Path(id): Path<String>) -> Response {
    let (payment, notices) = app.state.page_payment(&id);
    send(&app, notices);
    let Some(p) = payment else {
        return not_found();
    };
    let waiting = p.status == Status::Processing || p.payable_after_cancel(app.state.clock.now());
    if !waiting || p.pending_until.is_some() || p.three_ds_failed {
        let (heading, text) = status_text(&p);
        return message(StatusCode::OK, heading, &text, Some(&p.req.redirect_url));
    }
    if p.awaiting_challenge {
        return see_other(&format!("/page/3ds/{id}"));
    }
    if p.is_saved_card() {
        let (brand, masked) = p
            .card
            .as_ref()
            .map(|c| (c.brand.clone(), c.masked()))
            .unwrap_or_default();
        let content = fill(
            SAVED,
            &[
                ("amount", &format_amount(&p)),
                ("description", &p.req.order_description),
                ("order", &p.req.reference_order_id),
                ("brand", &brand),
                ("masked", &masked),
                ("payment_id", &p.id),
            ],
            &[],
        );
        return page(StatusCode::OK, "Confirm your payment", &content);
    }
    let empty = HashMap::new();
    card_page(
        &p,
        &CardForm {
            values: &empty,
            errors: Vec::new(),
        },
        StatusCode::OK,
    )
}

/// `POST /page/pay/{id}`: the card form (or the saved-card confirmation).
pub(super) async fn submit(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let (payment, notices) = app.state.page_payment(&id);
    send(&app, notices);
    let Some(p) = payment else {
        return not_found();
    };
    if p.is_saved_card() {
        return after(&app, app.state.handle_confirm_saved(&id)).await;
    }
    let values = parse_form(&body);
    match check_card(&values, app.state.clock.now()) {
        Err(errors) => card_page(
            &p,
            &CardForm {
                values: &values,
                errors,
            },
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        Ok((digits, holder)) => {
            let consent = values
                .get("save_card")
                .is_some_and(|v| matches!(v.as_str(), "on" | "true" | "1" | "yes"));
            let card = CardProfile::from_number(&digits, &holder);
            drop(digits);
            after(&app, app.state.handle_card(&id, card, consent)).await
        }
    }
}

/// `GET /page/3ds/{id}`: the challenge.
pub(super) async fn show_challenge(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
) -> Response {
    let (payment, notices) = app.state.page_payment(&id);
    send(&app, notices);
    let Some(p) = payment else {
        return not_found();
    };
    if !p.awaiting_challenge || p.status != Status::Processing {
        return see_other(&format!("/page/pay/{id}"));
    }
    let (brand, last_four) = p
        .card
        .as_ref()
        .map(|c| (c.brand.clone(), c.last_four.clone()))
        .unwrap_or_default();
    let content = fill(
        CHALLENGE,
        &[
            ("amount", &format_amount(&p)),
            ("brand", &brand),
            ("last_four", &last_four),
            ("payment_id", &p.id),
        ],
        &[],
    );
    page(StatusCode::OK, "3-D Secure", &content)
}

/// `POST /page/3ds/{id}` with `outcome` = pass / fail / cancel.
pub(super) async fn answer_challenge(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let values = parse_form(&body);
    let answer = match values.get("outcome").map(String::as_str) {
        Some("pass") => ChallengeAnswer::Pass,
        Some("fail") => ChallengeAnswer::Fail,
        Some("cancel") => ChallengeAnswer::Cancel,
        _ => {
            return message(
                StatusCode::UNPROCESSABLE_ENTITY,
                "Unknown answer",
                "The form field outcome must be pass, fail or cancel.",
                None,
            );
        }
    };
    after(&app, app.state.handle_challenge(&id, answer)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fill_escapes_text() {
        let out = fill(
            "<p>{{a}}</p>{{{b}}}",
            &[("a", "<script>&\"'")],
            &[("b", "<i>x</i>")],
        );
        assert_eq!(out, "<p>&lt;script&gt;&amp;&quot;&#x27;</p><i>x</i>");
    }

    #[test]
    fn card_checks_name_each_problem() {
        let now = Timestamp::now();
        let form = |n: &str, m: &str, y: &str, c: &str| {
            let v: HashMap<String, String> = [
                ("card_number", n),
                ("expiry_month", m),
                ("expiry_year", y),
                ("cvv", c),
                ("holder_name", "A B"),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
            check_card(&v, now)
        };
        assert!(form("4054 6957 2310 0768", "12", "99", "123").is_ok());
        let fields = |r: Result<_, Vec<(&'static str, &'static str)>>| {
            r.unwrap_err()
                .into_iter()
                .map(|(f, _)| f)
                .collect::<Vec<_>>()
        };
        assert_eq!(
            fields(form("4054695723100769", "12", "99", "123")),
            ["card_number"]
        );
        assert_eq!(
            fields(form("4054695723100768", "13", "99", "123")),
            ["expiry"]
        );
        assert_eq!(
            fields(form("4054695723100768", "01", "20", "123")),
            ["expiry"]
        );
        assert_eq!(fields(form("4054695723100768", "12", "99", "99")), ["cvv"]);
    }
}
