//! Assertions and captures: evaluates `expect:` / `until:` entries and `save:` captures
//! against what a step observed. Knows no HTTP client and no flow types.
//!
//! An entry is `query: expected`:
//! - the query is a JSONPath (RFC 9535) on the body (`$.result.resultCode`), `status`,
//!   `headers.<name>` (case-insensitive), or another bare name that a step kind provides
//!   (`landed_on`, `signature`, …) in [`Observed::extra`];
//! - the expected value is a literal, compared as JSON (`"4200"` is not `4200`), or a map of
//!   predicates (`{ matches: "^S" }`, `{ gte: 1, lte: 10 }`), all of which must hold.
//!
//! A query that selects one node compares that value; one that selects several compares the
//! list of their values; one that selects nothing fails, except under `exists: false`.
//!
//! ```text
//! load time:  check_entry(query, expected)          → compiles the query, regexes, predicates
//! run time:   eval_entry(query, rendered, observed)  → AssertionResult (never stops early)
//!             eval_save(query, observed)             → the captured value, or why not
//! ```

mod capture;
mod describe;
mod diff;
mod memo;
mod predicate;
mod query;

use indexmap::IndexMap;
use serde_json::Value;

pub use capture::eval_save;
pub use predicate::PREDICATES;
pub use query::check_query;

/// What a step observed, for assertions and captures to query.
#[derive(Debug, Clone, Default)]
pub struct Observed {
    /// The HTTP status, when the step made an HTTP exchange.
    pub status: Option<u16>,
    /// The response headers, in order, as received.
    pub headers: Vec<(String, String)>,
    /// The response body as JSON (a JSON body parsed; any other body as a string; `null` when
    /// empty).
    pub body: Value,
    /// Other observations a step kind provides, queried by bare name (`landed_on`, `signature`).
    pub extra: IndexMap<String, Value>,
}

/// The outcome of one assertion: plain data that reports read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssertionResult {
    /// The query as written (`$.result.resultCode`, `status`, `headers.content-type`).
    pub query: String,
    /// 1-based line of the entry in its flow file.
    pub line: u64,
    /// 1-based column of the entry in its flow file.
    pub column: u64,
    /// Whether the assertion holds.
    pub passed: bool,
    /// What was expected, with types: `string <S>`, `matches /^S/`, `greater than integer <0>`.
    pub expected: String,
    /// What was selected, with types: `string <F>`, `nothing`; masked.
    pub actual: String,
    /// Why it failed (empty when it passed); masked.
    pub message: String,
}

/// An entry that is invalid before anything runs: a bad query, an unknown predicate, a bad
/// argument or regex.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ExpectError {
    /// What is wrong.
    pub message: String,
    /// What to do about it.
    pub hint: Option<String>,
    /// Where in the expected value: the predicate key at fault (`matchs`), when the error is
    /// about one, so the loader can point at it; `None` for the query itself.
    pub at_key: Option<String>,
}

impl ExpectError {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        ExpectError {
            message: message.into(),
            hint: None,
            at_key: None,
        }
    }

    pub(crate) fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub(crate) fn at_key(mut self, key: impl Into<String>) -> Self {
        self.at_key = Some(key.into());
        self
    }
}

/// Checks an entry at load time: the query parses, and the expected value is a literal or a
/// well-formed predicate map (known names, argument types, regexes that compile unless
/// templated).
pub fn check_entry(query: &str, expected: &Value) -> Result<(), ExpectError> {
    query::check_query(query)?;
    predicate::Predicate::parse(expected, false).map(drop)
}

/// Evaluates one entry against an observation. `expected` is already rendered (templates
/// filled in). Never fails: a bad query or predicate becomes a failed result that says why.
pub fn eval_entry(
    query: &str,
    expected: &Value,
    o: &Observed,
    line: u64,
    column: u64,
) -> AssertionResult {
    let mut result = AssertionResult {
        query: query.to_owned(),
        line,
        column,
        passed: false,
        expected: String::new(),
        actual: String::new(),
        message: String::new(),
    };
    let predicate = match predicate::Predicate::parse(expected, true) {
        Ok(p) => p,
        Err(e) => {
            result.expected = describe::typed(expected);
            result.message = crate::mask::mask_text(&e.message).into_owned();
            return result;
        }
    };
    result.expected = crate::mask::mask_text(&predicate.describe()).into_owned();
    let selected = match query::select(query, o) {
        Ok(s) => s,
        Err(e) => {
            result.actual = describe::NOTHING.to_owned();
            result.message = e.message;
            return result;
        }
    };
    result.actual = match &selected {
        Some(v) => describe::typed(&crate::mask::masked_json(v)),
        None => describe::NOTHING.to_owned(),
    };
    match predicate.eval(selected.as_ref()) {
        Ok(()) => result.passed = true,
        Err(why) => result.message = crate::mask::mask_text(&why).into_owned(),
    }
    result
}
