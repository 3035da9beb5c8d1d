//! The flow file format: serde types deserialized by serde-saphyr with locations.
//!
//! ```yaml
//! name: Health check
//! tags: [smoke]
//! vars: { base: "http://127.0.0.1:8080" }
//! steps:
//!   - id: ping
//!     http: { method: GET, url: "{{ base }}/health" }
//!     expect:
//!       status: 200
//!       $.ok: true
//!     save:
//!       version: $.version
//! ```
//!
//! Every struct denies unknown keys. Values that are templates stay as written here; the engine
//! renders them just before a step runs.

use std::sync::Arc;
use std::time::Duration;

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;
use serde_saphyr::Spanned;

use super::schema::Expected;
use crate::apo::Endpoint;
use crate::snapshot::SnapshotSpec;

/// A whole flow file (or a partial, when its file name starts with `_`).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Flow {
    /// The flow's name; required for runnable flows, optional for partials.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub name: Option<Spanned<String>>,
    /// Free text.
    #[serde(default)]
    pub description: Option<String>,
    /// Tags for `--tags` filtering.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    #[schemars(extend("items" = {"type": "string", "pattern": "^[^\\s()]+$"}))]
    pub tags: Vec<Spanned<String>>,
    /// Checklist item ids this flow covers.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub covers: Vec<Spanned<String>>,
    /// Variables; values may be any YAML and may be templates.
    #[serde(default)]
    #[schemars(with = "IndexMap<String, Value>")]
    #[schemars(extend("propertyNames" = {"pattern": "^[A-Za-z_][A-Za-z0-9_]*$"}))]
    pub vars: IndexMap<String, Spanned<Value>>,
    /// `name: [values...]`: one case per combination, each named by its values.
    #[serde(default)]
    #[schemars(with = "IndexMap<String, Vec<Value>>")]
    #[schemars(extend("propertyNames" = {"pattern": "^[A-Za-z_][A-Za-z0-9_]*$"}, "additionalProperties" = {"type": "array", "minItems": 1}))]
    pub matrix: IndexMap<String, Spanned<Vec<Value>>>,
    /// Re-run a failed case from its start at most this many times (0 to 10); replaces
    /// `--retries` for this flow. A case that passes on a retry is reported flaky.
    #[serde(default)]
    #[schemars(with = "Option<u8>", range(max = 10))]
    pub retries: Option<Retries>,
    /// Allow retries against a live target although the flow changes state there (pays,
    /// captures, refunds, cancels, buys on the hosted page, or sends an HTTP call other than
    /// GET/HEAD/OPTIONS): by default such a flow is not retried on a live target.
    #[serde(default)]
    pub retry_live: bool,
    // Each step is shared with the plan (and a partial's with every flow that uses it)
    // rather than copied.
    /// The steps, run in order.
    #[serde(default, deserialize_with = "shared_steps")]
    #[schemars(with = "Vec<Step>")]
    pub steps: Vec<Spanned<Arc<Step>>>,
}

/// Reads `steps:` as written, then puts each step behind an [`Arc`] (a move, not a copy).
fn shared_steps<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Vec<Spanned<Arc<Step>>>, D::Error> {
    let steps = Vec::<Spanned<Step>>::deserialize(d)?;
    Ok(steps
        .into_iter()
        .map(|s| Spanned::new(Arc::new(s.value), s.referenced, s.defined))
        .collect())
}

/// How many times a failed case is re-run: 0 to [`Retries::MAX`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retries(pub u32);

impl Retries {
    /// The most retries a flow or `--retries` may ask for: a case runs at most 11 times.
    pub const MAX: u32 = 10;
}

impl<'de> Deserialize<'de> for Retries {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let n = u64::deserialize(d)?;
        u32::try_from(n)
            .ok()
            .filter(|n| *n <= Retries::MAX)
            .map(Retries)
            .ok_or_else(|| {
                serde::de::Error::custom(format!(
                    "`retries: {n}` is too many: a failed case is re-run at most {} times",
                    Retries::MAX
                ))
            })
    }
}

/// One step: an optional id, exactly one action, then checks and polling.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// An id, unique in the flow, to refer to `steps.<id>.request|response`.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    #[schemars(extend("pattern" = "^[A-Za-z_][A-Za-z0-9_]*$"))]
    pub id: Option<Spanned<String>>,
    /// A human name for reports; defaults to the id or the action.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub name: Option<Spanned<String>>,

    // --- actions: exactly one must be present (checked after loading) ---
    // Each action is boxed: a step holds one, and the plan keeps every step of every flow
    // (inline, the fourteen kinds made a step about 8 KiB).
    /// Any HTTP call.
    #[serde(default)]
    #[schemars(with = "Option<HttpAction>")]
    pub http: Option<Box<Spanned<HttpAction>>>,
    /// Wait for a duration, e.g. `500ms`, `2s`.
    #[serde(default)]
    #[schemars(with = "Option<DurationSpec>")]
    pub sleep: Option<Spanned<DurationSpec>>,
    /// Include a partial flow (path relative to this file), with `with:` parameters.
    #[serde(default, rename = "use")]
    #[schemars(with = "Option<String>")]
    pub use_flow: Option<Spanned<String>>,
    /// Parameters for `use:`, visible as variables inside the partial.
    #[serde(default)]
    #[schemars(with = "Option<IndexMap<String, Value>>")]
    #[schemars(extend("propertyNames" = {"pattern": "^[A-Za-z_][A-Za-z0-9_]*$"}))]
    pub with: Option<Spanned<IndexMap<String, Value>>>,
    /// APO `pay`: a signed call; the response signature is verified.
    #[serde(default)]
    #[schemars(with = "Option<ApoCall>")]
    pub pay: Option<Box<Spanned<ApoCall>>>,
    /// APO `inquiryPayment`.
    #[serde(default)]
    #[schemars(with = "Option<ApoCall>")]
    pub inquiry: Option<Box<Spanned<ApoCall>>>,
    /// APO `capture`.
    #[serde(default)]
    #[schemars(with = "Option<ApoCall>")]
    pub capture: Option<Box<Spanned<ApoCall>>>,
    /// APO `cancel`.
    #[serde(default)]
    #[schemars(with = "Option<ApoCall>")]
    pub cancel: Option<Box<Spanned<ApoCall>>>,
    /// APO `refund`.
    #[serde(default)]
    #[schemars(with = "Option<ApoCall>")]
    pub refund: Option<Box<Spanned<ApoCall>>>,
    /// APO `inquiryRefund`.
    #[serde(default)]
    #[schemars(with = "Option<ApoCall>")]
    pub inquiry_refund: Option<Box<Spanned<ApoCall>>>,
    /// The buyer on the hosted card page.
    #[serde(default)]
    #[schemars(with = "Option<RedirectAction>")]
    pub redirect: Option<Box<Spanned<RedirectAction>>>,
    /// Wait for an inbound notification at the runner's receiver.
    #[serde(default)]
    #[schemars(with = "Option<NotifyAction>")]
    pub notify: Option<Box<Spanned<NotifyAction>>>,
    /// Control the embedded sandbox (an error on a live target).
    #[serde(default)]
    #[schemars(with = "Option<SandboxAction>")]
    pub sandbox: Option<Box<Spanned<SandboxAction>>>,
    /// Wait for APO calls the merchant's server made, in the embedded sandbox's journal.
    #[serde(default)]
    #[schemars(with = "Option<ReceivedAction>")]
    pub received: Option<Box<Spanned<ReceivedAction>>>,
    /// Wait for the embedded sandbox's delivery of a notification to the merchant, and observe
    /// the merchant's answer.
    #[serde(default)]
    #[schemars(with = "Option<DeliveryAction>")]
    pub delivery: Option<Box<Spanned<DeliveryAction>>>,
    /// Play APO towards the merchant: the embedded sandbox sends the merchant's webhook a
    /// notification now (a replay of a real delivery, maybe changed, or a given body), maybe
    /// forged, and the step observes the merchant's answer.
    #[serde(default)]
    #[schemars(with = "Option<NotifyMerchantAction>")]
    pub notify_merchant: Option<Box<Spanned<NotifyMerchantAction>>>,

    // --- checks ---
    /// `query: expected` pairs; the query is a JSONPath (`$...`), `status`, or
    /// `headers.<name>`; the expected value is a literal or a predicate map.
    #[serde(default)]
    #[schemars(with = "IndexMap<String, Expected>")]
    pub expect: Entries<Value>,
    /// `variable: JSONPath` captures, saved after the checks.
    #[serde(default)]
    #[schemars(with = "IndexMap<String, String>")]
    #[schemars(extend("propertyNames" = {"pattern": "^[A-Za-z_][A-Za-z0-9_]*$"}))]
    pub save: Entries<String>,
    /// Pin the step's response (or request, or notification) in a `.snap` file in
    /// `__snapshots__/` beside the flow, compared after `expect:` (see [`crate::snapshot`]).
    #[serde(default)]
    #[schemars(with = "Option<SnapshotSpec>")]
    pub snapshot: Option<Box<Spanned<SnapshotSpec>>>,

    // --- polling ---
    /// Re-run the step until these checks hold (same form as `expect`).
    #[serde(default)]
    #[schemars(with = "Option<IndexMap<String, Expected>>")]
    pub until: Option<Entries<Value>>,
    /// The pause between tries; default 2s.
    #[serde(default)]
    #[schemars(with = "Option<DurationSpec>")]
    pub every: Option<Spanned<DurationSpec>>,
    /// How long to keep trying; default 30s.
    #[serde(default)]
    #[schemars(with = "Option<DurationSpec>")]
    pub within: Option<Spanned<DurationSpec>>,
}

impl Step {
    /// The step's call of `endpoint`, if it has one.
    pub fn apo_call(&self, endpoint: Endpoint) -> Option<&Spanned<ApoCall>> {
        match endpoint {
            Endpoint::Pay => self.pay.as_deref(),
            Endpoint::InquiryPayment => self.inquiry.as_deref(),
            Endpoint::Capture => self.capture.as_deref(),
            Endpoint::Cancel => self.cancel.as_deref(),
            Endpoint::Refund => self.refund.as_deref(),
            Endpoint::InquiryRefund => self.inquiry_refund.as_deref(),
        }
    }
}

/// The `http` action.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HttpAction {
    /// The method; defaults to GET, or POST when a body is given.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    #[schemars(extend("pattern" = "^(GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS|TRACE|CONNECT)$|[{][{%]"))]
    pub method: Option<Spanned<String>>,
    /// The URL (a template).
    #[schemars(with = "String")]
    pub url: Spanned<String>,
    /// Request headers.
    #[serde(default)]
    #[schemars(with = "IndexMap<String, Value>")]
    pub headers: IndexMap<String, Spanned<Value>>,
    /// Query parameters appended to the URL.
    #[serde(default)]
    #[schemars(with = "IndexMap<String, Value>")]
    pub query: IndexMap<String, Spanned<Value>>,
    /// A JSON body.
    #[serde(default)]
    #[schemars(with = "Option<Value>")]
    pub json: Option<Spanned<Value>>,
    /// A form body (`application/x-www-form-urlencoded`).
    #[serde(default)]
    #[schemars(with = "Option<IndexMap<String, Value>>")]
    pub form: Option<Spanned<IndexMap<String, Value>>>,
    /// A raw body (a string), or, with `body_file`, entries merged on top of the file's JSON.
    #[serde(default)]
    #[schemars(with = "Option<Value>")]
    pub body: Option<Spanned<Value>>,
    /// A body template file, relative to the project root (where `fixtures/` is).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub body_file: Option<Spanned<String>>,
    /// A per-request time-out; default 30s.
    #[serde(default)]
    #[schemars(with = "Option<DurationSpec>")]
    pub timeout: Option<Spanned<DurationSpec>>,
}

/// An APO call (`pay`, `inquiry`, `capture`, `cancel`, `refund`, `inquiry_refund`): the body
/// is a template, signed with the target's key; the response signature is verified.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ApoCall {
    /// A JSON body template file, relative to the project root; `body` entries merge on top.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub body_file: Option<Spanned<String>>,
    /// The body (an object), or entries merged on top of `body_file`; or one template string
    /// that renders to such an object (`"{{ without[field] }}"`).
    #[serde(default)]
    #[schemars(with = "Option<serde_json::Map<String, Value>>")]
    #[schemars(extend("type" = ["object", "string", "null"]))]
    pub body: Option<Spanned<Value>>,
    /// A body sent verbatim after rendering (negative tests); excludes `body` and `body_file`.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub raw_body: Option<Spanned<String>>,
    /// `false` sends the request unsigned; default true.
    #[serde(default)]
    #[schemars(with = "Option<bool>")]
    pub sign: Option<Spanned<bool>>,
    /// Sign with this private key file (PEM or base64) instead of the target's.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub sign_with: Option<Spanned<String>>,
    /// Extra or replaced request headers; `null` removes one.
    #[serde(default)]
    #[schemars(with = "IndexMap<String, Option<String>>")]
    pub headers: IndexMap<String, Spanned<Value>>,
    /// `false` skips the response signature verification (`signature` is still observed).
    #[serde(default)]
    #[schemars(with = "Option<bool>")]
    pub verify_response: Option<Spanned<bool>>,
}

/// The `redirect` action: the buyer on the hosted page, starting at `url:` (the hosted page)
/// or `from:` (the merchant's front door); exactly one of the two.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RedirectAction {
    /// The hosted page URL (`normalUrl` or `redirectActionForm.redirectUrl`), a template.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub url: Option<Spanned<String>>,
    /// A merchant URL (a template) that leads to the hosted page: HTTP redirects, or a JSON
    /// answer with `redirectUrl`, are followed until the hosted page.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub from: Option<Spanned<String>>,
    /// Fetch the page the buyer is sent back to (`return_page.status|body|url`); default
    /// true with `from:`, false with `url:`.
    #[serde(default)]
    #[schemars(with = "Option<bool>")]
    pub return_page: Option<Spanned<bool>>,
    /// A built-in test card's name (docs/src/sandbox.md, "Test cards"), or inline `{number, expiry, cvv, holder}`.
    #[serde(default)]
    #[schemars(with = "Option<CardSpec>")]
    pub card: Option<Spanned<Value>>,
    /// Tick the save-card box (ASKFORCONSENT): true, false, or a template.
    #[serde(default)]
    #[schemars(with = "Option<Flag>")]
    pub save_card: Option<Spanned<Value>>,
    /// The answer on the 3-D Secure challenge page when it appears: `pass`, `fail`, `cancel`.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    #[schemars(extend("pattern" = "^(pass|fail|cancel)$|[{][{%]"))]
    pub three_ds: Option<Spanned<String>>,
    /// Open the page and do nothing.
    #[serde(default)]
    #[schemars(with = "Option<bool>")]
    pub abandon: Option<Spanned<bool>>,
    /// Live targets: print the URL and wait for the buyer (the next `notify` step waits).
    #[serde(default)]
    #[schemars(with = "Option<bool>")]
    pub manual: Option<Spanned<bool>>,
}

/// The `notify` action: wait for an inbound notification.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NotifyAction {
    /// `notifyType`: PAYMENT_RESULT, CAPTURE_RESULT, REFUND_RESULT, … (a template).
    #[serde(rename = "type")]
    #[schemars(with = "String")]
    pub notify_type: Spanned<String>,
    /// `query: expected` entries (as in `expect:`) the notification's body must satisfy.
    #[serde(default, rename = "match")]
    #[schemars(with = "IndexMap<String, Expected>")]
    pub matches: Entries<Value>,
    /// How long to wait; default 30s.
    #[serde(default)]
    #[schemars(with = "Option<DurationSpec>")]
    pub within: Option<Spanned<DurationSpec>>,
    /// How the receiver acknowledges: `success` (default), `fail`, `wrong_format`, `none`.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    #[schemars(extend("pattern" = "^(success|fail|wrong_format|none)$|[{][{%]"))]
    pub ack: Option<Spanned<String>>,
    /// Wait until this many matching deliveries arrived (resends); default 1.
    #[serde(default)]
    #[schemars(with = "Option<u32>")]
    #[schemars(extend("minimum" = 1))]
    pub count: Option<Spanned<u32>>,
    /// Race the notification against `inquiryPayment` every 2 s (paymentId from `match`).
    #[serde(default)]
    #[schemars(with = "Option<bool>")]
    pub or_inquiry: Option<Spanned<bool>>,
}

impl RedirectAction {
    /// Whether the step fetches the page the buyer returns to: `return_page:` as written,
    /// else true with `from:`.
    pub fn fetches_return_page(&self) -> bool {
        self.return_page
            .as_ref()
            .map_or(self.from.is_some(), |flag| flag.value)
    }
}

/// The `received` action: wait for APO calls the merchant's server made (the embedded
/// sandbox's request journal).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReceivedAction {
    /// The API called: `pay`, `inquiry`, `capture`, `cancel`, `refund`, `inquiry_refund`.
    #[schemars(with = "String")]
    #[schemars(extend("enum" = ["pay", "inquiry", "capture", "cancel", "refund", "inquiry_refund"]))]
    pub api: Spanned<String>,
    /// `query: expected` entries (as in `expect:`) each journal entry is matched with; `$` is
    /// the entry (`$.request.…`, `$.response.…`, `$.headers.…`), `signature` its verdict.
    #[serde(default, rename = "match")]
    #[schemars(with = "IndexMap<String, Expected>")]
    pub matches: Entries<Value>,
    /// How long to wait for the first matching call; default 10s.
    #[serde(default)]
    #[schemars(with = "Option<DurationSpec>")]
    pub within: Option<Spanned<DurationSpec>>,
    /// After the first match (or `within` without one) keep watching this long, then count;
    /// with `settle`, no match is `count: 0`, not a failure.
    #[serde(default)]
    #[schemars(with = "Option<DurationSpec>")]
    pub settle: Option<Spanned<DurationSpec>>,
    /// With `settle`: the steps after this one run while its window is open. The step waits
    /// for the first match only (its `save:` comes from it); its checks run when the window
    /// has closed, at the latest when the case's last step is done, and see every match.
    #[serde(default)]
    #[schemars(with = "Option<bool>")]
    pub background: Option<Spanned<bool>>,
    /// Only calls made with this client id (a template).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub client_id: Option<Spanned<String>>,
}

/// The `delivery` action: wait for the embedded sandbox's delivery of a notification to the
/// merchant and observe the merchant's answer.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeliveryAction {
    /// `notifyType`: `PAYMENT_RESULT`, `PAYMENT_PENDING`, `CAPTURE_RESULT`, `REFUND_RESULT`.
    #[serde(rename = "type")]
    #[schemars(with = "String")]
    #[schemars(extend("enum" = ["PAYMENT_RESULT", "PAYMENT_PENDING", "CAPTURE_RESULT", "REFUND_RESULT"]))]
    pub notify_type: Spanned<String>,
    /// `query: expected` entries (as in `expect:`) the notification's body must satisfy.
    #[serde(default, rename = "match")]
    #[schemars(with = "IndexMap<String, Expected>")]
    pub matches: Entries<Value>,
    /// How long to wait; default 10s.
    #[serde(default)]
    #[schemars(with = "Option<DurationSpec>")]
    pub within: Option<Spanned<DurationSpec>>,
    /// Wait until at least this many attempts were made (resends); default 1.
    #[serde(default)]
    #[schemars(with = "Option<u32>")]
    #[schemars(extend("minimum" = 1))]
    pub attempts: Option<Spanned<u32>>,
}

/// The most sends one `notify_merchant` step makes (`times:`).
pub const MAX_TIMES: u32 = 100;

/// The `notify_merchant` action: the embedded sandbox, acting as APO, sends the merchant's
/// webhook one notification (or `times` copies): a replay of APO's own delivery of type
/// `replay` for the payment `of` (byte for byte, or with `change:` applied), or `body:`;
/// signed as APO signs, or forged as `forge:` says.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NotifyMerchantAction {
    /// Replay the sandbox's first delivery of this `notifyType` for the payment `of`.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    #[schemars(extend("enum" = ["PAYMENT_RESULT", "PAYMENT_PENDING", "CAPTURE_RESULT", "REFUND_RESULT"]))]
    pub replay: Option<Spanned<String>>,
    /// The `paymentId` whose delivery is replayed (a template); required with `replay`.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub of: Option<Spanned<String>>,
    /// `JSONPath: new value` (templates): changes to the replayed notification, made before
    /// it is signed (e.g. `$.paymentAmount.value: "1"`). Each path must select something.
    #[serde(default)]
    #[schemars(with = "IndexMap<String, Value>")]
    pub change: Entries<Value>,
    /// A whole notification (templates), instead of `replay`.
    #[serde(default)]
    #[schemars(with = "Option<IndexMap<String, Value>>")]
    pub body: Option<Spanned<Value>>,
    /// `none` (default: as APO signs) | `unsigned` | `wrong_key` | `tampered` | `other_path` |
    /// `stale_time`, or a template.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub forge: Option<Spanned<String>>,
    /// Send it this many times, 1 to 100; default 1.
    #[serde(default)]
    #[schemars(with = "Option<u32>")]
    #[schemars(extend("minimum" = 1, "maximum" = 100))]
    pub times: Option<Spanned<u32>>,
    /// Where to send it (a template); default: the replayed delivery's URL (for `body`: the
    /// URL of the first delivery about its `paymentId`, else the client's default notify URL).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub url: Option<Spanned<String>>,
    /// The `client-id` header (a template); default: the replayed (or first) delivery's.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub client_id: Option<Spanned<String>>,
    /// How long to wait for the delivery to replay; default 10s.
    #[serde(default)]
    #[schemars(with = "Option<DurationSpec>")]
    pub within: Option<Spanned<DurationSpec>>,
}

/// The `sandbox` action: control calls to the embedded sandbox.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SandboxAction {
    /// Forget every payment, token, delivery and fault first.
    #[serde(default)]
    #[schemars(with = "Option<bool>")]
    pub reset: Option<Spanned<bool>>,
    /// Replace the notification delivery faults.
    #[serde(default)]
    #[schemars(with = "Option<Faults>")]
    pub faults: Option<Spanned<Faults>>,
    /// Move the virtual clock forward (expiries and retries due run at once).
    #[serde(default)]
    #[schemars(with = "Option<DurationSpec>")]
    pub advance_clock: Option<Spanned<DurationSpec>>,
    /// With `advance_clock`: move only this payment's time (a template naming its
    /// `paymentId`): its expiry, settling captures and refunds, and its notifications' resends
    /// come due as if that time had passed, and no other flow sees a change.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub of: Option<Spanned<String>>,
}

/// Notification delivery faults in the embedded sandbox.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Faults {
    /// Drop the next N send attempts (they are retried on APO's schedule).
    #[serde(default)]
    pub drop: u32,
    /// Wait this long (real time) before every send.
    #[serde(default)]
    #[schemars(with = "Option<DurationSpec>")]
    pub delay: Option<Spanned<DurationSpec>>,
    /// Send the next N deliveries twice.
    #[serde(default)]
    pub duplicate: u32,
    /// Hold the next delivery and send it after the one that follows it.
    #[serde(default)]
    pub reorder: bool,
    /// Only deliveries of this payment (a template).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub payment_id: Option<Spanned<String>>,
    /// Only deliveries to this merchant client id (a template).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub client_id: Option<Spanned<String>>,
}

/// Schema only: a card name or inline card data.
#[derive(JsonSchema)]
#[schemars(untagged)]
#[expect(dead_code, reason = "schema only")]
enum CardSpec {
    /// A built-in test card's name (or a template).
    Named(String),
    /// Inline card data.
    Inline(InlineCard),
}

/// Schema only: inline card data.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
#[expect(dead_code, reason = "schema only")]
struct InlineCard {
    /// The card number.
    number: String,
    /// `MM/YY`.
    expiry: String,
    /// The security code.
    cvv: String,
    /// The cardholder's name.
    holder: Option<String>,
}

/// Schema only: a boolean or a template.
#[derive(JsonSchema)]
#[schemars(untagged)]
#[expect(dead_code, reason = "schema only")]
enum Flag {
    /// A boolean.
    Bool(bool),
    /// A template that renders to `true` or `false`.
    Template(String),
}

/// Parses a flow file's text. YAML 1.2 scalars: only `true`/`false` are booleans (so the
/// country code `NO` stays a string), and numbers with leading zeros or underscores (`0123`,
/// `1_000`) stay strings, as card data and references need.
pub fn parse(text: &str) -> Result<Flow, serde_saphyr::Error> {
    let options = serde_saphyr::options! {
        strict_booleans: true,
        leading_zero_numbers_as_strings: true,
        underscored_numbers_as_strings: true,
        // `!bogus` is a mistake, not something to ignore.
        reject_unsupported_tags: true,
    };
    serde_saphyr::from_str_with_options(text, options)
}

/// `key: value` entries in the order written, each with its location: `expect:`, `until:`,
/// `save:`, `match:` and `change:`.
///
/// A list, not a hash map: the YAML reader already refuses a key written twice, and the
/// entries are only ever walked in order. (A map keyed by located keys never merged two of
/// them anyway, and hashing each key with its locations was about 6 % of reading a flow.)
#[derive(Debug, Clone)]
pub struct Entries<V>(Vec<(Spanned<String>, Spanned<V>)>);

impl<V> Default for Entries<V> {
    fn default() -> Self {
        Self(Vec::new())
    }
}

impl<V> Entries<V> {
    /// Whether there is no entry.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// How many entries there are.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// The entries in the order written.
    pub fn iter(&self) -> impl Iterator<Item = (&Spanned<String>, &Spanned<V>)> {
        self.0.iter().map(|(k, v)| (k, v))
    }

    /// The keys in the order written.
    pub fn keys(&self) -> impl Iterator<Item = &Spanned<String>> {
        self.0.iter().map(|(k, _)| k)
    }

    /// The values in the order written.
    pub fn values(&self) -> impl Iterator<Item = &Spanned<V>> {
        self.0.iter().map(|(_, v)| v)
    }
}

impl<'a, V> IntoIterator for &'a Entries<V> {
    type Item = (&'a Spanned<String>, &'a Spanned<V>);
    type IntoIter = std::iter::Map<
        std::slice::Iter<'a, (Spanned<String>, Spanned<V>)>,
        fn(&'a (Spanned<String>, Spanned<V>)) -> (&'a Spanned<String>, &'a Spanned<V>),
    >;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter().map(|(k, v)| (k, v))
    }
}

/// As a map, as written (the schema's `default: {}` comes from here).
impl<V: serde::Serialize> serde::Serialize for Entries<V> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.iter().map(|(k, v)| (&k.value, &v.value)))
    }
}

impl<'de, V: Deserialize<'de>> Deserialize<'de> for Entries<V> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit<V>(std::marker::PhantomData<V>);
        impl<'de, V: Deserialize<'de>> serde::de::Visitor<'de> for Visit<V> {
            type Value = Entries<V>;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a map")
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Self::Value, A::Error> {
                let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(0).min(64));
                while let Some(entry) = map.next_entry()? {
                    entries.push(entry);
                }
                Ok(Entries(entries))
            }
        }
        d.deserialize_map(Visit(std::marker::PhantomData))
    }
}

/// A duration as written in a flow: `250ms`, `2s`, `1m30s`, `1h`, or a template that renders
/// to one when the step runs (`"{{ merchant.settle_ms }}ms"`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DurationSpec {
    /// Written out: read at load.
    Fixed(Duration),
    /// A template: rendered and read when the step runs.
    Template(String),
}

impl DurationSpec {
    /// The duration when it is written out; `None` for a template.
    pub fn fixed(&self) -> Option<Duration> {
        match self {
            Self::Fixed(d) => Some(*d),
            Self::Template(_) => None,
        }
    }
}

impl std::fmt::Display for DurationSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Fixed(d) => write!(f, "{} ms", d.as_millis()),
            Self::Template(t) => f.write_str(t),
        }
    }
}

impl<'de> Deserialize<'de> for DurationSpec {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        if crate::template::is_template(&text) {
            return Ok(Self::Template(text));
        }
        parse_duration(&text)
            .map(Self::Fixed)
            .map_err(serde::de::Error::custom)
    }
}

/// Parses `250ms`, `2s`, `1m30s`, `1h 5m` into a duration.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let hint = || {
        format!(
            "invalid duration `{text}`: write a number with a unit, e.g. `500ms`, `2s`, `1m30s`"
        )
    };
    let s: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    if s.is_empty() {
        return Err(hint());
    }
    let mut total = Duration::ZERO;
    let mut rest = s.as_str();
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).ok_or_else(hint)?;
        if digits == 0 {
            return Err(hint());
        }
        let n: u64 = rest[..digits].parse().map_err(|_| hint())?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let d = match unit {
            "ms" => Duration::from_millis(n),
            "s" => Duration::from_secs(n),
            "m" => Duration::from_secs(n.saturating_mul(60)),
            "h" => Duration::from_secs(n.saturating_mul(3600)),
            _ => return Err(hint()),
        };
        total = total.saturating_add(d);
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("1h 5m"), Ok(Duration::from_secs(3900)));
        assert!(parse_duration("2").is_err());
        assert!(parse_duration("s").is_err());
        assert!(parse_duration("2 days").is_err());
        assert!(parse_duration("").is_err());
    }

    #[test]
    fn a_duration_with_a_template_is_kept_for_the_run() {
        let flow =
            parse("steps:\n  - sleep: 2s\n  - sleep: \"{{ n }}ms\"\n  - sleep: \"2 days\"\n");
        assert!(flow.is_err(), "`2 days` is refused at load");
        let flow = parse("steps:\n  - sleep: 2s\n  - sleep: \"{{ n }}ms\"\n").unwrap();
        let sleeps: Vec<_> = flow
            .steps
            .iter()
            .map(|s| s.value.sleep.as_ref().unwrap().value.clone())
            .collect();
        assert_eq!(
            sleeps,
            [
                DurationSpec::Fixed(Duration::from_secs(2)),
                DurationSpec::Template("{{ n }}ms".to_owned())
            ]
        );
        assert_eq!(sleeps[0].fixed(), Some(Duration::from_secs(2)));
        assert_eq!(sleeps[1].fixed(), None);
        assert_eq!(sleeps[1].to_string(), "{{ n }}ms");
    }

    #[test]
    fn scalars_are_yaml_1_2() {
        let flow = parse(
            "vars: { a: NO, b: yes, c: on, d: 0123, e: 1_000, f: true, g: 42, h: 0.5, i: ~ }\n",
        )
        .unwrap();
        let vars: Vec<_> = flow.vars.values().map(|v| v.value.clone()).collect();
        assert_eq!(
            vars,
            [
                serde_json::json!("NO"),
                serde_json::json!("yes"),
                serde_json::json!("on"),
                serde_json::json!("0123"),
                serde_json::json!("1_000"),
                serde_json::json!(true),
                serde_json::json!(42),
                serde_json::json!(0.5),
                serde_json::json!(null),
            ]
        );
    }

    #[test]
    fn a_flow_parses_with_locations() {
        let yaml = "name: t\nsteps:\n  - id: a\n    http: { url: \"http://x\" }\n    expect:\n      status: 200\n";
        let flow: Flow = serde_saphyr::from_str(yaml).unwrap();
        let step = &flow.steps[0];
        assert_eq!(step.referenced.line(), 3);
        let (k, v) = step.value.expect.iter().next().unwrap();
        assert_eq!(k.value, "status");
        assert_eq!(v.value, serde_json::json!(200));
    }
}
