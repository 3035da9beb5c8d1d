//! The request journal: every call the sandbox's API receives, kept so flows (and people) can
//! observe what the merchant's own server sent its APO (`GET /_sandbox/calls`).
//!
//! ```text
//! api.rs: raw request ─► verify ─► handle ─► signed answer
//!                                              └─► Journal::record(Call)   (failures too)
//! control.rs: GET /_sandbox/calls?api=pay&after=12 ─► Journal::list(&CallFilter) ─► masked JSON
//! ```
//! At most [`MAX_CALLS`] entries holding at most [`MAX_CALL_BYTES`] together are kept; the
//! oldest go first and are counted in `dropped`.
//! Entries and deliveries share one [`Sequence`], so a cursor (`after`) orders both. The
//! sequence survives `POST /_sandbox/reset` (a cursor taken before a reset stays valid); the
//! entries and the `dropped` count do not.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use axum::http::{HeaderMap, HeaderValue};
use jiff::Timestamp;
use serde_json::{Map, Value, json};

use super::clock::iso;
use super::persist::{Meta, StateFile, Table, known};

/// How many calls the journal keeps; older ones are evicted first (and counted in `dropped`).
/// Each keeps its body (at most [`super::api::MAX_BODY`] bytes) and its answer, as bytes;
/// [`MAX_CALL_BYTES`] bounds them together.
pub const MAX_CALLS: usize = 10_000;

/// How many bytes the journal's entries may hold together (bodies, answers, headers; see
/// [`Entry::size`]); beyond it the oldest are evicted as beyond [`MAX_CALLS`]. Ordinary APO
/// calls take 2–5 KiB each, so the count bounds them first; large bodies meet this bound.
pub const MAX_CALL_BYTES: usize = 48 * 1024 * 1024;

/// What an entry costs beyond its bytes (the struct, allocation headers), for [`Entry::size`].
const ENTRY_OVERHEAD: usize = 256;

/// The monotonic sequence numbers shared by journal entries and deliveries (first is 1).
#[derive(Debug, Default)]
pub struct Sequence(AtomicU64);

impl Sequence {
    /// The last number handed out (0 before the first).
    pub fn last(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }

    /// Makes sure the next number is above `last`.
    pub fn raise_to(&self, last: u64) {
        self.0.fetch_max(last, Ordering::Relaxed);
    }

    /// The next number.
    pub fn next(&self) -> u64 {
        self.0.fetch_add(1, Ordering::Relaxed) + 1
    }
}

/// What the signature of a call proved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Verified with the merchant's registered public key.
    Valid,
    /// No `signature` header.
    Missing,
    /// A `signature` header that does not verify (or no `request-time` to verify it with, or a
    /// body too large to read).
    Invalid,
    /// No `client-id` header, or one no merchant is registered under.
    UnknownClient,
}

impl Verdict {
    /// The name shown in the journal.
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Valid => "valid",
            Verdict::Missing => "missing",
            Verdict::Invalid => "invalid",
            Verdict::UnknownClient => "unknown_client",
        }
    }

    /// The verdict of a [`Verdict::name`].
    fn from_name(name: &str) -> Option<Self> {
        [
            Verdict::Valid,
            Verdict::Missing,
            Verdict::Invalid,
            Verdict::UnknownClient,
        ]
        .into_iter()
        .find(|v| v.name() == name)
    }
}

/// A call's row in the state file, masked: the body and header values as the masker leaves
/// them, so no secret reaches the disk.
#[derive(serde::Serialize, serde::Deserialize)]
struct CallRow {
    seq: u64,
    at: Timestamp,
    client_id: String,
    api: String,
    path: String,
    headers: Vec<(String, String)>,
    body: String,
    signature: String,
    response: Value,
    scenario: Option<Value>,
}

impl CallRow {
    /// The masked row of a kept call.
    fn masked(c: &Entry) -> Self {
        let json: Option<Value> = serde_json::from_slice(&c.body).ok();
        let body = crate::mask::mask_text(&shown_body(&c.body, json.as_ref())).into_owned();
        let response = serde_json::from_slice::<Value>(&c.response).unwrap_or(Value::Null);
        CallRow {
            seq: c.seq,
            at: c.at,
            client_id: c.client_id.clone(),
            api: c.api.to_owned(),
            path: crate::mask::mask_text(&c.path).into_owned(),
            headers: (c.headers.iter())
                .map(|(k, v)| {
                    let v = String::from_utf8_lossy(v.as_bytes());
                    (
                        k.as_str().to_owned(),
                        crate::mask::mask_text(&v).into_owned(),
                    )
                })
                .collect(),
            body,
            signature: c.signature.name().to_owned(),
            response: crate::mask::masked_json(&response),
            scenario: c.scenario.clone(),
        }
    }

    /// The call back; `None` when a header or a name is not one this sandbox writes.
    fn into_call(self) -> Option<(u64, Call)> {
        let api = known(&self.api, &["unknown"]).or_else(|| {
            crate::apo::Endpoint::ALL
                .into_iter()
                .map(crate::apo::Endpoint::step_name)
                .find(|n| *n == self.api)
        })?;
        let mut headers = HeaderMap::new();
        for (k, v) in self.headers {
            let name = axum::http::HeaderName::try_from(k).ok()?;
            headers.append(name, v.parse().ok()?);
        }
        Some((
            self.seq,
            Call {
                at: self.at,
                client_id: self.client_id,
                api,
                path: self.path,
                headers,
                body: self.body.into_bytes(),
                signature: Verdict::from_name(&self.signature)?,
                response: self.response,
                scenario: self.scenario,
            },
        ))
    }
}

/// One received call, as `api.rs` saw and answered it.
#[derive(Debug)]
pub struct Call {
    /// When it arrived, on the virtual clock.
    pub at: Timestamp,
    /// The `client-id` header (empty when absent).
    pub client_id: String,
    /// The endpoint's step name (`pay`, `inquiry`, …), or `unknown`.
    pub api: &'static str,
    /// The request path with its query.
    pub path: String,
    /// The request headers.
    pub headers: HeaderMap,
    /// The raw body (empty when it was too large to read).
    pub body: Vec<u8>,
    /// What the signature proved.
    pub signature: Verdict,
    /// The JSON body the sandbox answered (or, for a dropped connection, meant to).
    pub response: Value,
    /// The error scenario that forced the answer (`/_sandbox/scenarios`), as
    /// `{"id", "result", "delayMs", "drop"}`.
    pub scenario: Option<Value>,
}

/// The headers with values of their own. A value parsed by the HTTP server shares the
/// connection's whole read buffer (8 KiB or more), which a kept entry would otherwise hold
/// alive: 10 000 entries held about 75 MB that way.
fn owned(headers: &HeaderMap) -> HeaderMap {
    let mut copy = HeaderMap::with_capacity(headers.len());
    for (name, value) in headers {
        if let Ok(v) = HeaderValue::from_bytes(value.as_bytes()) {
            copy.append(name.clone(), v);
        }
    }
    copy
}

/// A journal entry: the call kept compact (the request body and the answer as bytes, parsed
/// again only when listed) plus what filters need, derived once at record time.
#[derive(Debug, Clone)]
struct Entry {
    seq: u64,
    at: Timestamp,
    client_id: String,
    api: &'static str,
    path: String,
    headers: HeaderMap,
    body: Box<[u8]>,
    signature: Verdict,
    /// The answer, serialized.
    response: Box<[u8]>,
    scenario: Option<Value>,
    payment_id: Option<String>,
    payment_request_id: Option<String>,
    /// When it was recorded, in real time (`ageMs`: a `received` step's `settle` counts from
    /// the first matching call, whatever the virtual clock did since). A call restored from
    /// the state file counts from its restoring.
    recorded: Instant,
}

impl Entry {
    fn new(seq: u64, call: Call) -> Self {
        let json: Option<Value> = serde_json::from_slice(&call.body).ok();
        let field = |v: Option<&Value>, name: &str| {
            v.and_then(|v| v.get(name))
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        let payment_id =
            field(json.as_ref(), "paymentId").or_else(|| field(Some(&call.response), "paymentId"));
        let payment_request_id = field(json.as_ref(), "paymentRequestId");
        Entry {
            seq,
            at: call.at,
            client_id: call.client_id,
            api: call.api,
            path: call.path,
            headers: owned(&call.headers),
            body: call.body.into_boxed_slice(),
            signature: call.signature,
            response: serde_json::to_vec(&call.response)
                .unwrap_or_default()
                .into_boxed_slice(),
            scenario: call.scenario,
            payment_id,
            payment_request_id,
            recorded: Instant::now(),
        }
    }

    /// About how many bytes it holds (what [`MAX_CALL_BYTES`] counts).
    fn size(&self) -> usize {
        let headers: usize = (self.headers.iter())
            .map(|(k, v)| k.as_str().len() + v.len() + 16)
            .sum();
        ENTRY_OVERHEAD
            + self.body.len()
            + self.response.len()
            + self.path.len()
            + self.client_id.len()
            + headers
    }

    fn matches(&self, f: &CallFilter) -> bool {
        f.after.is_none_or(|a| self.seq > a)
            && f.api.as_deref().is_none_or(|a| a == self.api)
            && f.client_id.as_deref().is_none_or(|id| id == self.client_id)
            && f.payment_id
                .as_deref()
                .is_none_or(|id| self.payment_id.as_deref() == Some(id))
            && f.payment_request_id
                .as_deref()
                .is_none_or(|id| self.payment_request_id.as_deref() == Some(id))
    }

    /// The entry as `/_sandbox/calls` shows it (before masking, which the caller applies).
    fn to_json(&self) -> Value {
        let mut headers = Map::new();
        for (name, value) in &self.headers {
            let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
            match headers.get_mut(name.as_str()) {
                Some(Value::String(seen)) => {
                    seen.push_str(", ");
                    seen.push_str(&value);
                }
                _ => {
                    headers.insert(name.as_str().to_owned(), Value::String(value));
                }
            }
        }
        let request_time = headers.get("request-time").cloned().unwrap_or(Value::Null);
        let json: Option<Value> = serde_json::from_slice(&self.body).ok();
        let body = shown_body(&self.body, json.as_ref());
        let response: Value = serde_json::from_slice(&self.response).unwrap_or(Value::Null);
        let result = &response["result"];
        json!({
            "seq": self.seq,
            "at": iso(self.at),
            "clientId": self.client_id,
            "api": self.api,
            "path": self.path,
            "headers": headers,
            "requestTime": request_time,
            "body": body,
            "json": json,
            "signature": self.signature.name(),
            "response": response,
            "resultStatus": result.get("resultStatus"),
            "resultCode": result.get("resultCode"),
            "forced": self.scenario.is_some(),
            "scenario": self.scenario,
            "paymentId": self.payment_id,
            "paymentRequestId": self.payment_request_id,
            "ageMs": u64::try_from(self.recorded.elapsed().as_millis()).unwrap_or(u64::MAX),
        })
    }
}

/// A request body as the journal shows it: a body holding a secret field (a CVV, a key) is
/// re-serialised from its masked JSON (`json`, the body parsed), since the masker cannot see
/// fields inside a string; other bodies stay raw.
fn shown_body(raw: &[u8], json: Option<&Value>) -> String {
    if let Some(json) = json {
        let masked = crate::mask::masked_json(json);
        if &masked != json {
            return masked.to_string();
        }
    }
    String::from_utf8_lossy(raw).into_owned()
}

/// Which calls `GET /_sandbox/calls` lists; every given field must match (AND).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct CallFilter {
    /// The step name of the endpoint (`pay`, `inquiry`, `capture`, …, `unknown`).
    pub api: Option<String>,
    /// The `client-id` header.
    pub client_id: Option<String>,
    /// The `paymentId` of the request or, failing that, of the response.
    pub payment_id: Option<String>,
    /// The `paymentRequestId` of the request.
    pub payment_request_id: Option<String>,
    /// Only entries with a larger sequence number.
    pub after: Option<u64>,
}

impl CallFilter {
    /// The query parameters this filter reads.
    pub const PARAMS: &str = "api, clientId, paymentId, paymentRequestId, after";

    /// Reads the filter from query parameters; an unknown parameter or a non-numeric `after`
    /// is an error naming it.
    pub fn from_query(query: &HashMap<String, String>) -> Result<Self, String> {
        let mut f = CallFilter::default();
        read_query(query, Self::PARAMS, |k, v| {
            match k {
                "api" => f.api = Some(v.to_owned()),
                "clientId" => f.client_id = Some(v.to_owned()),
                "paymentId" => f.payment_id = Some(v.to_owned()),
                "paymentRequestId" => f.payment_request_id = Some(v.to_owned()),
                "after" => f.after = Some(parse_after(v)?),
                _ => return Ok(false),
            }
            Ok(true)
        })?;
        Ok(f)
    }
}

/// Reads query parameters through `set`, which takes the ones it knows (`Ok(true)`); any other
/// is an error listing `params`.
pub fn read_query(
    query: &HashMap<String, String>,
    params: &str,
    mut set: impl FnMut(&str, &str) -> Result<bool, String>,
) -> Result<(), String> {
    for (k, v) in query {
        if !set(k, v)? {
            return Err(format!("unknown filter {k:?}; filters: {params}"));
        }
    }
    Ok(())
}

/// Parses an `after` cursor.
pub fn parse_after(v: &str) -> Result<u64, String> {
    v.parse()
        .map_err(|_| format!("after={v:?}: expected a sequence number (a non-negative integer)"))
}

#[derive(Debug, Default)]
struct Book {
    entries: VecDeque<Entry>,
    /// What the entries hold together ([`Entry::size`]).
    bytes: usize,
    dropped: u64,
}

/// The request journal of one sandbox.
#[derive(Debug)]
pub struct Journal {
    book: Mutex<Book>,
    seq: Arc<Sequence>,
    /// Where every entry is also written (`--state FILE`).
    file: Option<Arc<StateFile>>,
}

impl Journal {
    /// An empty journal numbering its entries from `seq`.
    pub fn new(seq: Arc<Sequence>) -> Self {
        Journal {
            book: Mutex::default(),
            seq,
            file: None,
        }
    }

    /// The journal saved in a state file (`rows`, oldest first, and the dropped count),
    /// writing every later entry to it. An unreadable row is an error naming it.
    pub fn restore(
        seq: Arc<Sequence>,
        file: Arc<StateFile>,
        rows: Vec<Vec<u8>>,
        dropped: i64,
    ) -> Result<Self, String> {
        let mut book = Book {
            dropped: u64::try_from(dropped).unwrap_or(0),
            ..Book::default()
        };
        for (n, row) in rows.into_iter().enumerate() {
            let (seq, call) = serde_json::from_slice::<CallRow>(&row)
                .ok()
                .and_then(CallRow::into_call)
                .ok_or_else(|| format!("journal row {}: unreadable", n + 1))?;
            let entry = Entry::new(seq, call);
            book.bytes += entry.size();
            book.entries.push_back(entry);
        }
        Ok(Journal {
            book: Mutex::new(book),
            seq,
            file: Some(file),
        })
    }

    /// How many calls are kept, and the sequence number of the last one (0 when none).
    pub fn counts(&self) -> (usize, u64) {
        let book = self.lock();
        (book.entries.len(), book.entries.back().map_or(0, |e| e.seq))
    }

    fn lock(&self) -> MutexGuard<'_, Book> {
        self.book.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records a call, evicting the oldest beyond [`MAX_CALLS`] or [`MAX_CALL_BYTES`].
    pub fn record(&self, call: Call) {
        let mut book = self.lock();
        // Numbered under the lock, so the entries stay in sequence order.
        let seq = self.seq.next();
        let entry = Entry::new(seq, call);
        if let Some(file) = &self.file {
            // The compact entry, masked and written on the writer's thread.
            let saved = entry.clone();
            file.append_call(seq, move || {
                serde_json::to_vec(&CallRow::masked(&saved)).unwrap_or_default()
            });
        }
        book.bytes += entry.size();
        book.entries.push_back(entry);
        let before = book.dropped;
        while book.entries.len() > MAX_CALLS || book.bytes > MAX_CALL_BYTES {
            let Some(gone) = book.entries.pop_front() else {
                break;
            };
            book.bytes -= gone.size();
            book.dropped += 1;
        }
        if let (Some(file), Some(first)) = (&self.file, book.entries.front())
            && book.dropped != before
        {
            file.trim_calls(first.seq);
            file.set_meta(
                Meta::CallsDropped,
                i64::try_from(book.dropped).unwrap_or(i64::MAX),
            );
        }
    }

    /// `{"calls": [...oldest first], "dropped": N}` (unmasked; the control API masks it).
    pub fn list(&self, filter: &CallFilter) -> Value {
        let book = self.lock();
        let calls: Vec<Value> = book
            .entries
            .iter()
            .filter(|e| e.matches(filter))
            .map(Entry::to_json)
            .collect();
        json!({ "calls": calls, "dropped": book.dropped })
    }

    /// Forgets every entry and the dropped count (the sequence goes on), in the state file
    /// too.
    pub fn reset(&self) {
        let mut book = self.lock();
        *book = Book::default();
        if let Some(file) = &self.file {
            file.clear(Table::Calls);
            file.set_meta(Meta::CallsDropped, 0);
            file.set_meta(
                Meta::Sequence,
                i64::try_from(self.seq.last()).unwrap_or(i64::MAX),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(api: &'static str, body: &str, response: Value) -> Call {
        let mut headers = HeaderMap::new();
        headers.insert("client-id", "C".parse().unwrap());
        headers.insert("request-time", "2026-11-25T10:00:00+00:00".parse().unwrap());
        headers.append("x-multi", "a".parse().unwrap());
        headers.append("x-multi", "b".parse().unwrap());
        Call {
            at: "2026-11-25T10:00:01Z".parse().unwrap(),
            client_id: "C".to_owned(),
            api,
            path: format!("/ams/api/v1/payments/{api}"),
            headers,
            body: body.as_bytes().to_vec(),
            signature: Verdict::Valid,
            response,
            scenario: None,
        }
    }

    fn journal() -> Journal {
        Journal::new(Arc::new(Sequence::default()))
    }

    #[test]
    fn an_entry_has_every_field() {
        let j = journal();
        j.record(call(
            "pay",
            r#"{"paymentRequestId":"r1"}"#,
            json!({"result": {"resultCode": "PAYMENT_IN_PROCESS", "resultStatus": "U"},
                   "paymentId": "P1"}),
        ));
        let list = j.list(&CallFilter::default());
        let e = &list["calls"][0];
        assert_eq!(e["seq"], 1);
        assert_eq!(e["at"], "2026-11-25T10:00:01+00:00");
        // Real milliseconds since it was recorded, whatever the virtual clock says.
        assert!(e["ageMs"].as_u64().is_some(), "{e}");
        assert_eq!(e["clientId"], "C");
        assert_eq!(e["api"], "pay");
        assert_eq!(e["headers"]["x-multi"], "a, b");
        assert_eq!(e["requestTime"], "2026-11-25T10:00:00+00:00");
        assert_eq!(e["body"], r#"{"paymentRequestId":"r1"}"#);
        assert_eq!(e["json"]["paymentRequestId"], "r1");
        assert_eq!(e["signature"], "valid");
        assert_eq!(e["resultCode"], "PAYMENT_IN_PROCESS");
        assert_eq!(e["resultStatus"], "U");
        assert_eq!(e["paymentId"], "P1");
        assert_eq!(e["paymentRequestId"], "r1");
        assert_eq!(
            (&e["forced"], &e["scenario"]),
            (&json!(false), &Value::Null)
        );
        assert_eq!(list["dropped"], 0);
    }

    #[test]
    fn a_malformed_body_is_kept_raw_with_null_json() {
        let j = journal();
        let mut c = call("capture", "{not json", json!({}));
        c.body.push(0xff);
        c.signature = Verdict::Invalid;
        j.record(c);
        let e = &j.list(&CallFilter::default())["calls"][0];
        assert_eq!(e["body"], "{not json\u{fffd}");
        assert_eq!(e["json"], Value::Null);
        assert_eq!(e["signature"], "invalid");
        assert_eq!(e["resultCode"], Value::Null);
        assert_eq!(e["paymentId"], Value::Null);
    }

    #[test]
    fn a_body_with_a_secret_field_is_shown_masked() {
        let j = journal();
        j.record(call("pay", r#"{"card":{"cvv":"123"}}"#, json!({})));
        let e = &j.list(&CallFilter::default())["calls"][0];
        assert!(!e["body"].as_str().unwrap().contains("123"), "{e}");
    }

    #[test]
    fn filters_combine() {
        let j = journal();
        j.record(call(
            "pay",
            r#"{"paymentRequestId":"r1"}"#,
            json!({"paymentId": "P1"}),
        ));
        j.record(call("capture", r#"{"paymentId":"P1"}"#, json!({})));
        j.record(call("capture", r#"{"paymentId":"P2"}"#, json!({})));
        let seqs = |f: CallFilter| -> Vec<u64> {
            j.list(&f)["calls"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["seq"].as_u64().unwrap())
                .collect()
        };
        let q = |pairs: &[(&str, &str)]| {
            let map = pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect();
            CallFilter::from_query(&map).unwrap()
        };
        assert_eq!(seqs(q(&[])), [1, 2, 3]);
        assert_eq!(seqs(q(&[("paymentId", "P1")])), [1, 2]);
        assert_eq!(seqs(q(&[("paymentId", "P1"), ("api", "capture")])), [2]);
        assert_eq!(seqs(q(&[("after", "2")])), [3]);
        assert_eq!(seqs(q(&[("paymentRequestId", "r1")])), [1]);
        assert_eq!(seqs(q(&[("clientId", "other")])), Vec::<u64>::new());
        let bad: HashMap<String, String> = [("apii".to_owned(), "pay".to_owned())].into();
        assert!(CallFilter::from_query(&bad).unwrap_err().contains("apii"));
        let bad: HashMap<String, String> = [("after".to_owned(), "-1".to_owned())].into();
        assert!(CallFilter::from_query(&bad).is_err());
    }

    #[test]
    fn large_bodies_are_evicted_by_their_bytes() {
        let j = journal();
        let big = format!("{{\"pad\":\"{}\"}}", "x".repeat(200 * 1024));
        let fit = MAX_CALL_BYTES / (200 * 1024);
        for _ in 0..fit + 10 {
            j.record(call("pay", &big, json!({})));
        }
        let book = j.lock();
        assert!(book.bytes <= MAX_CALL_BYTES, "{}", book.bytes);
        assert!(book.entries.len() <= fit, "{}", book.entries.len());
        assert_eq!(book.dropped as usize + book.entries.len(), fit + 10);
    }

    #[test]
    fn the_oldest_are_evicted_and_counted() {
        let j = journal();
        for _ in 0..MAX_CALLS + 3 {
            j.record(call("inquiry", "{}", json!({})));
        }
        {
            let book = j.lock();
            assert_eq!(
                book.bytes,
                book.entries.iter().map(Entry::size).sum::<usize>()
            );
        }
        let list = j.list(&CallFilter::default());
        assert_eq!(list["dropped"], 3);
        assert_eq!(list["calls"].as_array().unwrap().len(), MAX_CALLS);
        assert_eq!(list["calls"][0]["seq"], 4);
        j.reset();
        let list = j.list(&CallFilter::default());
        assert_eq!(
            (
                list["dropped"].as_u64(),
                list["calls"].as_array().map(Vec::len)
            ),
            (Some(0), Some(0))
        );
        // The sequence goes on after a reset.
        j.record(call("inquiry", "{}", json!({})));
        assert_eq!(
            j.list(&CallFilter::default())["calls"][0]["seq"],
            MAX_CALLS as u64 + 4
        );
    }
}
