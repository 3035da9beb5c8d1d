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
pub use query::{bare_name, check_query, select_all};

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

/// The outcome of one assertion: plain data that reports read (and read back, to merge the
/// reports of several shards).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn observed() -> Observed {
        Observed {
            status: Some(200),
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: json!({"result": {"resultCode": "SUCCESS", "resultStatus": "S"},
                         "paymentAmount": {"value": "4200", "currency": "SGD"},
                         "cardNo": "4111111111111111"}),
            extra: IndexMap::new(),
        }
    }

    #[test]
    fn results_go_across_threads() {
        fn shared<T: Send + Sync>() {}
        shared::<Observed>();
        shared::<AssertionResult>();
        shared::<crate::flow::plan::Plan>();
        shared::<crate::diag::Diagnostic>();
    }

    #[test]
    fn a_passing_entry() {
        let r = eval_entry("$.result.resultStatus", &json!("S"), &observed(), 7, 9);
        assert!(r.passed, "{r:?}");
        assert_eq!((r.line, r.column), (7, 9));
        assert_eq!(r.expected, "string <S>");
        assert_eq!(r.actual, "string <S>");
        assert_eq!(r.message, "");
    }

    #[test]
    fn a_failing_entry_shows_types() {
        let r = eval_entry("$.paymentAmount.value", &json!(4200), &observed(), 1, 1);
        assert!(!r.passed);
        assert_eq!(r.expected, "integer <4200>");
        assert_eq!(r.actual, "string <4200>");
        assert_eq!(r.message, "expected integer <4200>, got string <4200>");
    }

    #[test]
    fn nothing_selected_and_status_and_headers() {
        let o = observed();
        let r = eval_entry("$.nope", &json!("x"), &o, 1, 1);
        assert_eq!((r.passed, r.actual.as_str()), (false, "nothing"));
        assert!(eval_entry("$.nope", &json!({"exists": false}), &o, 1, 1).passed);
        assert!(eval_entry("status", &json!(200), &o, 1, 1).passed);
        assert!(!eval_entry("status", &json!("200"), &o, 1, 1).passed);
        assert!(
            eval_entry(
                "headers.content-type",
                &json!({"starts_with": "application/"}),
                &o,
                1,
                1
            )
            .passed
        );
    }

    #[test]
    fn card_numbers_never_reach_the_result() {
        let r = eval_entry("$.cardNo", &json!("4111111111111112"), &observed(), 1, 1);
        assert!(!r.passed);
        let all = format!("{} {} {}", r.expected, r.actual, r.message);
        assert!(!all.contains("4111111111111111"), "{all}");
        assert!(r.actual.contains("************1111"), "{all}");
    }

    #[test]
    fn a_bad_rendered_predicate_is_a_failure_not_a_panic() {
        let r = eval_entry("$.cardNo", &json!({"matches": "("}), &observed(), 1, 1);
        assert!(!r.passed);
        assert!(
            r.message.starts_with("invalid regular expression"),
            "{}",
            r.message
        );
        let r = eval_entry("$[", &json!(1), &observed(), 1, 1);
        assert!(!r.passed);
        assert!(r.message.starts_with("invalid JSONPath"), "{}", r.message);
    }

    #[test]
    fn load_time_checks() {
        assert!(check_entry("$.a", &json!({"gte": 1, "lte": "{{ max }}"})).is_ok());
        assert!(check_entry("$.a", &json!({"matches": "{{ pattern }}"})).is_ok());
        assert_eq!(
            check_entry("$.a", &json!({"matchs": "x"}))
                .unwrap_err()
                .at_key
                .as_deref(),
            Some("matchs")
        );
        assert!(
            check_entry("nope nope", &json!(1))
                .unwrap_err()
                .at_key
                .is_none()
        );
    }

    /// Not a test: prints what one assertion costs (see `scripts/bench-dsl.sh`).
    #[test]
    #[ignore = "a measurement, run by scripts/bench-dsl.sh"]
    fn measure_eval_entry() {
        let o = observed();
        let entries = [
            ("status", json!(200)),
            (
                "$.result.resultCode",
                json!({"one_of": ["SUCCESS", "PROCESSING"]}),
            ),
            (
                "$.paymentAmount.value",
                json!({"gte": 1, "matches": "^[0-9]+$"}),
            ),
        ];
        let rounds = 20_000u32;
        let start = std::time::Instant::now();
        for _ in 0..rounds {
            for (q, e) in &entries {
                assert!(eval_entry(q, e, &o, 1, 1).passed);
            }
        }
        let per = start.elapsed() / (rounds * 3);
        println!(
            "{} ns per assertion (mean of {} mixed entries)",
            per.as_nanos(),
            rounds * 3
        );
    }
}
