//! The `redirect` step: the buyer on the hosted payment page, driven over plain HTTP.
//!
//! ```text
//! GET url ─┬─ 3xx, same origin ──> follow
//!          ├─ 3xx, elsewhere ────> landed (the merchant's paymentRedirectUrl): done
//!          ├─ abandon: true ─────> landed on the page itself: done
//!          ├─ validation messages after a submit ──> done (they are observed)
//!          └─ a form ─┬─ card fields (autocomplete cc-number …) ─> fill card, save box ─> submit
//!                     ├─ buttons choosing an outcome ─> press `three_ds` (default pass) ─> submit
//!                     └─ anything else (a confirmation) ─> press its button ─> submit
//!          no form: a message page ─> landed there: done
//! ```
//! The page is read as HTML forms only (standard `autocomplete` tokens find the card fields),
//! so a hosted page that needs a script cannot be driven: use `manual: true` there. Card data
//! goes only into the form posted to the page; it is never recorded or printed.
//!
//! With `from:` the buyer starts at the merchant's front door instead of `url:`:
//!
//! ```text
//! GET from ─┬─ 3xx ──────────────────────────────> follow (at most 10 hops)
//!           ├─ JSON with `redirectUrl` ────────────> follow it
//!           └─ first URL off the merchant's origin ─> the hosted page: browse as above
//! sent back (landed off the hosted page) + return_page ─> GET it, following 3xx (10 hops):
//!   `return_page` = { status, url, body (JSON parsed, else text) }
//! ```

use crate::engine::error::StepError;
use indexmap::IndexMap;
use regex::Regex;
use reqwest::Url;
use serde_json::{Value, json};
use std::sync::LazyLock;

use super::StepCtx;
use super::http::{
    DEFAULT_TIMEOUT, Exchange, as_text, chain, parse_body, quote, render_spanned,
    render_spanned_str,
};
use crate::engine::result::{RequestSummary, ResponseSummary};
use crate::expect::Observed;
use crate::flow::model::RedirectAction;
use crate::mask::mask_text;

/// Pages visited at most before giving up (a loop on the hosted page).
const MAX_PAGES: usize = 12;

/// Redirects followed at most from the merchant's front door, and to its return page.
const MAX_HOPS: usize = 10;

/// Card data to type in.
struct Card {
    number: String,
    month: String,
    year: String,
    cvv: String,
    holder: String,
}

/// What the buyer does.
struct Buyer {
    card: Option<Card>,
    save_card: bool,
    three_ds: String,
    abandon: bool,
}

/// Plays the buyer; an `Err` is an error (a template, an unknown card, an unreachable page, a
/// page that cannot be driven).
pub(super) async fn run(action: &RedirectAction, ctx: &StepCtx<'_>) -> Result<Exchange, StepError> {
    let (start, key, hint) = match (&action.url, &action.from) {
        (Some(url), _) => (
            url,
            "url",
            "the hosted page's URL is the pay response's `normalUrl`: save it with `save: { normalUrl: $.normalUrl }`",
        ),
        (None, Some(from)) => (
            from,
            "from",
            "`from:` is the merchant's URL that sends the buyer to the hosted page, e.g. `{{ merchant.url }}/checkout`",
        ),
        (None, None) => return Err("a `redirect` needs `url:` or `from:`".into()),
    };
    let url_text = render_spanned_str(ctx, start, key)?;
    let url = Url::parse(&url_text).map_err(|e| {
        StepError::located(
            ctx.file,
            &start.referenced,
            format!("`{url_text}` is not a URL: {e}"),
            Some(hint),
        )
    })?;
    let url = if action.from.is_some() {
        front_door(url, ctx).await?
    } else {
        url
    };
    if action.manual.as_ref().is_some_and(|m| m.value) {
        return Ok(manual(&url));
    }
    let buyer = Buyer {
        card: match &action.card {
            Some(c) => Some(card(&render_spanned(ctx, c, "card")?)?),
            None => None,
        },
        save_card: match &action.save_card {
            Some(s) => flag(&render_spanned(ctx, s, "save_card")?).ok_or_else(|| {
                "`save_card:` rendered to something else than true or false".to_owned()
            })?,
            None => false,
        },
        three_ds: match &action.three_ds {
            Some(t) => render_spanned_str(ctx, t, "three_ds")?,
            None => "pass".to_owned(),
        },
        abandon: action.abandon.as_ref().is_some_and(|a| a.value),
    };
    let mut exchange = browse(url.clone(), &buyer, ctx).await?;
    let sent_back = exchange
        .observed
        .extra
        .get("landed_on")
        .and_then(Value::as_str)
        .and_then(|l| Url::parse(l).ok())
        .filter(|l| l.origin() != url.origin());
    if action.fetches_return_page() {
        let page = match sent_back {
            Some(back) => return_page(back, ctx).await?,
            None => Value::Null,
        };
        for body in [&mut exchange.observed.body, &mut exchange.response["body"]] {
            if let Value::Object(map) = body {
                map.insert("return_page".to_owned(), page.clone());
            }
        }
        exchange
            .observed
            .extra
            .insert("return_page".to_owned(), page);
    }
    Ok(exchange)
}

/// Follows the merchant's front door to the hosted page: HTTP redirects, or a JSON answer
/// with `redirectUrl`, until a URL off the merchant's origin.
async fn front_door(from: Url, ctx: &StepCtx<'_>) -> Result<Url, String> {
    let origin = from.origin();
    let mut current = from;
    for _ in 0..MAX_HOPS {
        if current.origin() != origin {
            return Ok(current);
        }
        let (status, next, text) = hop(&current, ctx).await?;
        current = match next {
            Some(next) => next,
            None => parse_body(&text)["redirectUrl"]
                .as_str()
                .and_then(|u| current.join(u).ok())
                .ok_or_else(|| {
                    mask_text(&format!(
                        "the merchant's page {current} (HTTP {status}) does not lead to the hosted \
                         page: expected a redirect (3xx with Location) or JSON with `redirectUrl`; \
                         it answered {}\n  = hint: to start on the hosted page itself, use `url:`",
                        quote(&text, &parse_body(&text))
                    ))
                    .into_owned()
                })?,
        };
    }
    Err(format!(
        "the merchant's front door redirected more than {MAX_HOPS} times without leaving its origin (last: {current})"
    ))
}

/// The page the buyer was sent back to, fetched with its redirects followed: `{ status, url,
/// body }`.
async fn return_page(mut current: Url, ctx: &StepCtx<'_>) -> Result<Value, String> {
    for _ in 0..MAX_HOPS {
        let (status, next, text) = hop(&current, ctx).await?;
        match next {
            Some(next) => current = next,
            None => {
                return Ok(
                    json!({ "status": status, "url": current.as_str(), "body": parse_body(&text) }),
                );
            }
        }
    }
    Err(format!(
        "the return page redirected more than {MAX_HOPS} times (last: {current})"
    ))
}

/// One GET: the status, where a redirect points (`None` when it is not one), and the body
/// text.
async fn hop(url: &Url, ctx: &StepCtx<'_>) -> Result<(u16, Option<Url>, String), String> {
    let failed =
        |e: &reqwest::Error| mask_text(&format!("GET {url} failed: {}", chain(e))).into_owned();
    let response = ctx
        .client
        .get(url.clone())
        .timeout(DEFAULT_TIMEOUT)
        .send()
        .await
        .map_err(|e| failed(&e))?;
    let status = response.status();
    let next = if status.is_redirection() {
        let location = response
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .and_then(|l| url.join(l).ok())
            .ok_or_else(|| format!("{url} redirected (HTTP {status}) without a usable Location"))?;
        Some(location)
    } else {
        None
    };
    let text = response.text().await.map_err(|e| failed(&e))?;
    Ok((status.as_u16(), next, text))
}

/// `manual: true`: nothing is driven; the URL is reported for a person to open.
fn manual(url: &Url) -> Exchange {
    let body = json!({ "url": url.as_str(), "manual": true, "landed_on": null, "messages": "" });
    exchange(url, 0, body, Vec::new(), String::new(), true)
}

async fn browse(start: Url, buyer: &Buyer, ctx: &StepCtx<'_>) -> Result<Exchange, StepError> {
    let origin = start.origin();
    let mut pages: Vec<String> = Vec::new();
    let mut request = ctx.client.get(start.clone());
    let mut current = start.clone();
    let mut submitted = false;
    // A buyer who cancelled a challenge leaves on the page it is sent back to.
    let mut cancelled = false;
    for _ in 0..MAX_PAGES {
        let response = request.send().await.map_err(|e| {
            mask_text(&format!(
                "the hosted page {current} did not answer: {}",
                chain(&e)
            ))
            .into_owned()
        })?;
        let status = response.status().as_u16();
        pages.push(current.to_string());
        if response.status().is_redirection() {
            let location = response
                .headers()
                .get("location")
                .and_then(|v| v.to_str().ok())
                .and_then(|l| current.join(l).ok())
                .ok_or_else(|| {
                    format!("{current} redirected (HTTP {status}) without a usable Location")
                })?;
            if location.origin() != origin {
                return Ok(landed(&start, status, &location, Vec::new(), pages));
            }
            current = location;
            request = ctx.client.get(current.clone());
            continue;
        }
        let html = response
            .text()
            .await
            .map_err(|e| format!("failed to read the page {current}: {}", chain(&e)))?;
        let messages = messages(&html);
        if buyer.abandon || cancelled || (submitted && !messages.is_empty()) {
            return Ok(landed(&start, status, &current, messages, pages));
        }
        let Some(form) = Form::first(&html) else {
            let mut exchange = landed(&start, status, &current, messages, pages);
            if !submitted {
                // Nothing was done: a page that needs a browser, or a payment already decided.
                exchange.guards.push((
                    "landed_on",
                    format!(
                        "the buyer found no form to fill on {current} (HTTP {status}): the page \
                         may need a browser (use `manual: true`), or the payment is no longer \
                         waiting for the buyer; expect `landed_on` to accept this"
                    ),
                ));
            }
            return Ok(exchange);
        };
        let action = current
            .join(&form.action)
            .map_err(|e| format!("the form on {current} posts to a bad URL: {e}"))?;
        check_target(&current, &action, &form)?;
        let fields = form.fill(buyer).map_err(|e| format!("on {current}: {e}"))?;
        cancelled = form.is_choice() && buyer.three_ds.eq_ignore_ascii_case("cancel");
        request = if form.method.eq_ignore_ascii_case("get") {
            let mut url = action.clone();
            url.query_pairs_mut().extend_pairs(&fields);
            ctx.client.get(url)
        } else {
            ctx.client.post(action.clone()).form(&fields)
        };
        current = action;
        submitted = true;
    }
    Err(StepError::new(format!(
        "the hosted page did not let the buyer finish within {MAX_PAGES} pages (visited: {})",
        pages.join(" → ")
    )))
}

/// Where the buyer ended.
fn landed(
    start: &Url,
    status: u16,
    at: &Url,
    messages: Vec<String>,
    pages: Vec<String>,
) -> Exchange {
    let text = messages.join("\n");
    let body = json!({
        "landed_on": at.as_str(),
        "messages": text,
        "pages": pages,
    });
    exchange(start, status, body, messages, at.to_string(), false)
}

fn exchange(
    start: &Url,
    status: u16,
    body: Value,
    messages: Vec<String>,
    landed_on: String,
    manual: bool,
) -> Exchange {
    let mut extra = IndexMap::new();
    extra.insert(
        "landed_on".to_owned(),
        if manual {
            Value::Null
        } else {
            Value::from(landed_on)
        },
    );
    extra.insert("messages".to_owned(), Value::from(messages.join("\n")));
    extra.insert(
        "pages".to_owned(),
        body.get("pages").cloned().unwrap_or_else(|| json!([])),
    );
    let summary = mask_text(&body.to_string()).into_owned();
    Exchange {
        request_summary: RequestSummary {
            method: if manual { "OPEN (manual)" } else { "GET" }.to_owned(),
            url: mask_text(start.as_str()).into_owned(),
        },
        response_summary: ResponseSummary {
            status,
            body: summary,
        },
        unquoted: None,
        request: json!({ "method": "GET", "url": start.as_str() }),
        response: json!({ "status": status, "body": body }),
        observed: Observed {
            status: Some(status),
            headers: Vec::new(),
            body,
            extra,
        },
        guards: Vec::new(),
        failure: None,
    }
}

/// `true`, `false`, or their text.
fn flag(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::String(s) if s == "true" => Some(true),
        Value::String(s) if s == "false" => Some(false),
        _ => None,
    }
}

/// The card: inline data, or a name looked up in `fixtures/cards.yaml` (any CVV and any future
/// expiry are accepted there).
fn card(v: &Value) -> Result<Card, String> {
    if let Value::Object(map) = v {
        let get = |k: &str| map.get(k).map(as_text).unwrap_or_default();
        let expiry = get("expiry");
        let (month, year) = expiry
            .split_once('/')
            .map(|(m, y)| (m.trim().to_owned(), y.trim().to_owned()))
            .unwrap_or((expiry.clone(), String::new()));
        return Ok(Card {
            number: get("number"),
            month,
            year,
            cvv: get("cvv"),
            holder: map
                .get("holder")
                .map_or_else(|| "APOFLOW TEST".to_owned(), as_text),
        });
    }
    let name = as_text(v);
    // The built-in test cards (fixtures/cards.yaml, compiled in: the sandbox's own list, and
    // APO's documented sandbox cards), so named cards work wherever apoflow runs.
    let cards = crate::sandbox::cards::all();
    let number = cards
        .iter()
        .find(|c| c.name == name)
        .map(|c| c.number.clone())
        .ok_or_else(|| {
            let names: Vec<&str> = cards.iter().map(|c| c.name.as_str()).collect();
            format!(
                "no test card named `{name}`\n  = hint: known cards: {}",
                names.join(", ")
            )
        })?;
    let year = (jiff::Timestamp::now()
        .to_zoned_datetime(jiff::tz::TimeZone::UTC)
        .year()
        + 5)
        % 100;
    let amex = number.starts_with("34") || number.starts_with("37");
    Ok(Card {
        number,
        month: "12".to_owned(),
        year: format!("{year:02}"),
        cvv: if amex { "1234" } else { "123" }.to_owned(),
        holder: "APOFLOW TEST".to_owned(),
    })
}

static TAG: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?is)<(form|/form|input|button|select|textarea)\b([^>]*)>").expect("a valid regex")
});
static ATTR: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?is)([a-z_:-]+)\s*(?:=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+)))?"#)
        .expect("a valid regex")
});
static ERROR: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?is)<(div|p|span|li)\b[^>]*class\s*=\s*"[^"]*\berrors?\b[^"]*"[^>]*>(.*?)</(?:div|p|span|li)>"#)
        .expect("a valid regex")
});
static MARKUP: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?s)<[^>]*>").expect("a valid regex"));

/// The validation messages on a page: the text of elements whose class is `error`.
fn messages(html: &str) -> Vec<String> {
    ERROR
        .captures_iter(html)
        .map(|c| unescape(MARKUP.replace_all(&c[2], " ").trim()))
        .map(|t| t.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|t| !t.is_empty())
        .collect()
}

fn attrs(text: &str) -> IndexMap<String, String> {
    ATTR.captures_iter(text)
        .map(|c| {
            let value = c
                .get(2)
                .or_else(|| c.get(3))
                .or_else(|| c.get(4))
                .map_or("", |m| m.as_str());
            (c[1].to_ascii_lowercase(), unescape(value))
        })
        .collect()
}

fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The first form of a page.
struct Form {
    method: String,
    action: String,
    /// `(name, type, value, autocomplete)` of every input.
    inputs: Vec<IndexMap<String, String>>,
    /// `(name, value)` of every submit button.
    buttons: Vec<(String, String)>,
}

impl Form {
    fn first(html: &str) -> Option<Form> {
        let mut form: Option<Form> = None;
        for c in TAG.captures_iter(html) {
            let tag = c[1].to_ascii_lowercase();
            let a = attrs(&c[2]);
            match (tag.as_str(), form.as_mut()) {
                ("form", None) => {
                    form = Some(Form {
                        method: a.get("method").cloned().unwrap_or_else(|| "get".to_owned()),
                        action: a.get("action").cloned().unwrap_or_default(),
                        inputs: Vec::new(),
                        buttons: Vec::new(),
                    });
                }
                ("/form", Some(_)) => break,
                ("button", Some(f)) => {
                    let kind = a.get("type").map_or("submit", String::as_str);
                    if kind.eq_ignore_ascii_case("submit") {
                        f.buttons.push((
                            a.get("name").cloned().unwrap_or_default(),
                            a.get("value").cloned().unwrap_or_default(),
                        ));
                    }
                }
                ("input", Some(f)) => {
                    let kind = a.get("type").map_or("text", String::as_str);
                    if kind.eq_ignore_ascii_case("submit") {
                        f.buttons.push((
                            a.get("name").cloned().unwrap_or_default(),
                            a.get("value").cloned().unwrap_or_default(),
                        ));
                    } else {
                        f.inputs.push(a);
                    }
                }
                _ => {}
            }
        }
        form
    }

    /// Whether the form asks for card data (a field with a `cc-…` autocomplete token).
    fn carries_card(&self) -> bool {
        self.inputs.iter().any(|i| role(i).is_some())
    }

    /// Whether the form asks for a card number.
    fn is_card_form(&self) -> bool {
        self.inputs.iter().any(|i| role(i) == Some("cc-number"))
    }

    /// Whether the form offers a choice of buttons (a 3-D Secure challenge), answered with
    /// the step's `three_ds`.
    fn is_choice(&self) -> bool {
        !self.is_card_form() && self.buttons.len() >= 2
    }

    /// The fields to send, as the buyer fills them.
    fn fill(&self, buyer: &Buyer) -> Result<Vec<(String, String)>, String> {
        let mut fields = Vec::new();
        let is_card_form = self.is_card_form();
        for input in &self.inputs {
            let Some(name) = input.get("name").filter(|n| !n.is_empty()) else {
                continue;
            };
            let kind = input
                .get("type")
                .map_or("text", String::as_str)
                .to_ascii_lowercase();
            let value = input.get("value").cloned().unwrap_or_default();
            let typed = match (kind.as_str(), role(input), &buyer.card) {
                ("checkbox", ..) => {
                    if buyer.save_card {
                        Some(if value.is_empty() {
                            "on".to_owned()
                        } else {
                            value
                        })
                    } else {
                        None
                    }
                }
                (_, Some(role), Some(card)) => Some(match role {
                    "cc-number" => card.number.clone(),
                    "cc-exp-month" => card.month.clone(),
                    "cc-exp-year" => card.year.clone(),
                    "cc-exp" => format!("{}/{}", card.month, card.year),
                    "cc-csc" => card.cvv.clone(),
                    "cc-name" => card.holder.clone(),
                    _ => value,
                }),
                (_, Some(_), None) if is_card_form => {
                    return Err(
                        "the page asks for a card and the step gives none: add `card: visa_success` (a built-in test card) or inline card data".to_owned(),
                    );
                }
                _ => Some(value),
            };
            if let Some(v) = typed {
                fields.push((name.clone(), v));
            }
        }
        let button = if !self.is_choice() {
            self.buttons.first()
        } else {
            let chosen = self
                .buttons
                .iter()
                .find(|(_, v)| v.eq_ignore_ascii_case(&buyer.three_ds));
            let Some(chosen) = chosen else {
                let offered: Vec<&str> = self.buttons.iter().map(|(_, v)| v.as_str()).collect();
                return Err(format!(
                    "the page offers {} and the step chose `{}`",
                    offered.join(", "),
                    buyer.three_ds
                ));
            };
            Some(chosen)
        };
        if let Some((name, value)) = button.filter(|(n, _)| !n.is_empty()) {
            fields.push((name.clone(), value.clone()));
        }
        Ok(fields)
    }
}

/// Refuses a form the buyer must not send: one posting to another origin than the page it is
/// on (the hosted page's own: the buyer never follows a redirect off it), or a card form sent
/// with GET (the card would travel in the URL).
fn check_target(page: &Url, action: &Url, form: &Form) -> Result<(), String> {
    if action.origin() != page.origin() {
        return Err(mask_text(&format!(
            "the form on {page} posts to {}, another origin than the hosted page's: the buyer \
             sends nothing there (card data goes to the hosted page's own origin only)",
            action.origin().ascii_serialization()
        ))
        .into_owned());
    }
    if form.carries_card() && !form.method.eq_ignore_ascii_case("post") {
        return Err(format!(
            "the card form on {page} is sent with {}: the buyer posts card data only with POST, \
             never in a URL",
            form.method.to_ascii_uppercase()
        ));
    }
    Ok(())
}

/// The `autocomplete` token of a card field (`cc-number`, `cc-exp-month`, …), if any.
fn role(input: &IndexMap<String, String>) -> Option<&str> {
    input
        .get("autocomplete")
        .map(String::as_str)
        .filter(|a| a.starts_with("cc-"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const CARD_PAGE: &str = r#"<form method="post" action="/page/pay/p1" novalidate>
      <input type="text" autocomplete="cc-number" name="card_number" value="">
      <input autocomplete="cc-exp-month" name="expiry_month" value="">
      <input autocomplete="cc-exp-year" name="expiry_year" value="">
      <input autocomplete="cc-csc" name="cvv" value="">
      <input autocomplete="cc-name" name="holder_name" value="">
      <label><input type="checkbox" name="save_card" value="on"> Save</label>
      <button type="submit" name="action" value="pay">Pay</button></form>"#;

    fn buyer(save_card: bool) -> Buyer {
        Buyer {
            card: Some(Card {
                number: "4054695723100768".into(),
                month: "12".into(),
                year: "30".into(),
                cvv: "123".into(),
                holder: "A B".into(),
            }),
            save_card,
            three_ds: "pass".into(),
            abandon: false,
        }
    }

    #[test]
    fn a_card_form_is_filled_by_autocomplete_tokens() {
        let form = Form::first(CARD_PAGE).unwrap();
        assert_eq!(
            (form.method.as_str(), form.action.as_str()),
            ("post", "/page/pay/p1")
        );
        let fields = form.fill(&buyer(true)).unwrap();
        let names: Vec<&str> = fields.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "card_number",
                "expiry_month",
                "expiry_year",
                "cvv",
                "holder_name",
                "save_card",
                "action"
            ]
        );
        let fields = form.fill(&buyer(false)).unwrap();
        assert!(!fields.iter().any(|(n, _)| n == "save_card"));
        let mut nobody = buyer(false);
        nobody.card = None;
        assert!(form.fill(&nobody).unwrap_err().contains("asks for a card"));
    }

    #[test]
    fn card_data_goes_only_to_the_pages_own_origin_by_post() {
        let page = Url::parse("http://127.0.0.1:8088/page/pay/p1").unwrap();
        let form = Form::first(CARD_PAGE).unwrap();
        let own = page.join(&form.action).unwrap();
        assert!(check_target(&page, &own, &form).is_ok());
        for elsewhere in [
            "https://evil.example/collect",
            "http://127.0.0.1:9999/page/pay/p1",
            "https://127.0.0.1:8088/page/pay/p1",
        ] {
            let err = check_target(&page, &Url::parse(elsewhere).unwrap(), &form).unwrap_err();
            assert!(err.contains("another origin"), "{elsewhere}: {err}");
        }
        let get = Form::first(&CARD_PAGE.replace("method=\"post\"", "method=\"get\"")).unwrap();
        let err = check_target(&page, &own, &get).unwrap_err();
        assert!(err.contains("only with POST"), "{err}");
        // A form without card fields may use GET.
        let plain =
            Form::first(r#"<form method="get" action="/next"><button>Go</button></form>"#).unwrap();
        assert!(check_target(&page, &page.join("/next").unwrap(), &plain).is_ok());
    }

    #[test]
    fn a_challenge_presses_the_chosen_button() {
        let page = r#"<form method="post" action="/page/3ds/p1">
          <button type="submit" name="outcome" value="pass">OK</button>
          <button type="submit" name="outcome" value="fail">No</button></form>"#;
        let form = Form::first(page).unwrap();
        let mut b = buyer(false);
        b.three_ds = "fail".into();
        assert_eq!(
            form.fill(&b).unwrap(),
            [("outcome".to_owned(), "fail".to_owned())]
        );
        b.three_ds = "maybe".into();
        assert!(form.fill(&b).unwrap_err().contains("pass, fail"));
    }

    #[test]
    fn messages_are_the_error_elements_text() {
        let page = r#"<div class="errors" id="errors">Please correct the highlighted fields.</div>
          <div class="error" id="cvv_error">The CVV must be the 3 digits &amp; more.</div>"#;
        assert_eq!(
            messages(page),
            [
                "Please correct the highlighted fields.",
                "The CVV must be the 3 digits & more."
            ]
        );
    }

    #[test]
    fn named_cards_are_built_in() {
        // No file is read: a named card works wherever apoflow runs.
        let number = card(&Value::from("visa_success")).map(|c| c.number);
        assert_eq!(number.as_deref(), Ok("4054695723100768"));
        let Err(err) = card(&Value::from("visa_sucess")) else {
            panic!("an unknown card must be an error");
        };
        assert!(err.contains("no test card named `visa_sucess`"), "{err}");
        assert!(err.contains("visa_success"), "{err}");
    }
}
