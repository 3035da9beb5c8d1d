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
//! load time:  Entry::compile(query, expected, …)    → the query, regexes and predicates,
//!                                                       compiled once (a templated expected
//!                                                       value is checked as far as it can be)
//! run time:   entry.eval(rendered, observed, detail)  → AssertionResult (never stops early)
//!             eval_save(&Query, observed)             → the captured value, or why not
//! ```

mod capture;
mod describe;
mod diff;
mod predicate;
mod query;

use indexmap::IndexMap;
use serde_json::Value;

pub use capture::eval_save;
pub use predicate::PREDICATES;
pub use query::{Queries, Query, bare_name, check_query, select_all};

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

/// One `query: expected` entry of `expect:`, `until:` or `match:`, compiled when the flow is
/// loaded: its query, and its predicate unless the expected value holds a template.
#[derive(Debug, Clone)]
pub struct Entry {
    query: Query,
    expected: Expected,
    line: u64,
    column: u64,
}

/// An entry's expected value.
#[derive(Debug, Clone)]
enum Expected {
    /// No template in it: the predicate, compiled once.
    Compiled(predicate::Predicate),
    /// It holds a template: parsed into a predicate after each rendering.
    Rendered(Value),
}

/// What the result of a passing entry describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detail {
    /// The expected and actual values of every entry: for reports that list every assertion.
    All,
    /// Those of failing entries only; a passing entry's result gives its query and place.
    Failures,
}

impl Entry {
    /// Compiles an entry at load time (`line`, `column`: where its query is written): the
    /// query parses, and the expected value is a literal or a well-formed predicate map (known
    /// names, argument types, regexes that compile unless templated). A JSONPath compiled
    /// before in `queries` is reused.
    pub fn compile(
        query: &str,
        expected: &Value,
        (line, column): (u64, u64),
        queries: &mut Queries,
    ) -> Result<Entry, ExpectError> {
        let query = Query::compile(query, queries)?;
        let expected = if crate::template::has_template(expected) {
            predicate::Predicate::parse(expected, false)?;
            Expected::Rendered(expected.clone())
        } else {
            Expected::Compiled(predicate::Predicate::parse(expected, true)?)
        };
        Ok(Entry {
            query,
            expected,
            line,
            column,
        })
    }

    /// The query.
    pub fn query(&self) -> &Query {
        &self.query
    }

    /// The expected value as written, when it holds a template: render it, then pass it to
    /// [`Entry::eval`].
    pub fn template(&self) -> Option<&Value> {
        match &self.expected {
            Expected::Compiled(_) => None,
            Expected::Rendered(v) => Some(v),
        }
    }

    /// Evaluates the entry against an observation; `rendered` is the rendered
    /// [`Entry::template`] (ignored for an entry without one). Never fails: a bad rendered
    /// predicate becomes a failed result that says why.
    pub fn eval(&self, rendered: Option<&Value>, o: &Observed, detail: Detail) -> AssertionResult {
        let mut result = AssertionResult {
            query: self.query.text().to_owned(),
            line: self.line,
            column: self.column,
            passed: false,
            expected: String::new(),
            actual: String::new(),
            message: String::new(),
        };
        let parsed;
        let predicate = match &self.expected {
            Expected::Compiled(p) => p,
            Expected::Rendered(raw) => {
                let value = rendered.unwrap_or(raw);
                match predicate::Predicate::parse(value, true) {
                    Ok(p) => {
                        parsed = p;
                        &parsed
                    }
                    Err(e) => {
                        result.expected = describe::typed(value);
                        result.message = crate::mask::mask_text(&e.message).into_owned();
                        return result;
                    }
                }
            }
        };
        let selected = match self.query.select(o) {
            Ok(s) => s,
            Err(e) => {
                result.expected = crate::mask::mask_text(&predicate.describe()).into_owned();
                result.actual = describe::NOTHING.to_owned();
                result.message = e.message;
                return result;
            }
        };
        match predicate.eval(selected.as_ref()) {
            Ok(()) => result.passed = true,
            Err(why) => result.message = crate::mask::mask_text(&why).into_owned(),
        }
        if !result.passed || detail == Detail::All {
            result.expected = crate::mask::mask_text(&predicate.describe()).into_owned();
            result.actual = match &selected {
                Some(v) => describe::typed(&crate::mask::masked_json(v)),
                None => describe::NOTHING.to_owned(),
            };
        }
        result
    }
}

/// Compiles and evaluates an entry, describing it fully; a load error becomes a failed
/// result (tests).
#[cfg(test)]
pub(crate) fn eval_entry(
    query: &str,
    expected: &Value,
    o: &Observed,
    line: u64,
    column: u64,
) -> AssertionResult {
    match Entry::compile(query, expected, (line, column), &mut Queries::default()) {
        Ok(entry) => entry.eval(Some(expected), o, Detail::All),
        Err(e) => AssertionResult {
            query: query.to_owned(),
            line,
            column,
            passed: false,
            expected: describe::typed(expected),
            actual: describe::NOTHING.to_owned(),
            message: e.message,
        },
    }
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
    fn a_passing_entry_is_described_only_when_asked() {
        let o = observed();
        let entry = Entry::compile(
            "$.result.resultStatus",
            &json!("S"),
            (3, 5),
            &mut Queries::default(),
        )
        .unwrap();
        let brief = entry.eval(None, &o, Detail::Failures);
        assert!(brief.passed);
        assert_eq!(
            (brief.query.as_str(), brief.line, brief.column),
            ("$.result.resultStatus", 3, 5)
        );
        assert_eq!((brief.expected.as_str(), brief.actual.as_str()), ("", ""));
        let full = entry.eval(None, &o, Detail::All);
        assert_eq!(
            (full.expected.as_str(), full.actual.as_str()),
            ("string <S>", "string <S>")
        );
        // A failure is always described.
        let wrong = Entry::compile(
            "$.result.resultStatus",
            &json!("F"),
            (1, 1),
            &mut Queries::default(),
        )
        .unwrap();
        let failed = wrong.eval(None, &o, Detail::Failures);
        assert!(!failed.passed);
        assert_eq!(
            (failed.expected.as_str(), failed.actual.as_str()),
            ("string <F>", "string <S>")
        );
    }

    #[test]
    fn a_templated_expected_value_is_parsed_once_rendered() {
        let o = observed();
        let entry = Entry::compile(
            "$.result.resultCode",
            &json!({"starts_with": "{{ p }}"}),
            (1, 1),
            &mut Queries::default(),
        )
        .unwrap();
        assert_eq!(entry.template(), Some(&json!({"starts_with": "{{ p }}"})));
        assert!(
            entry
                .eval(Some(&json!({"starts_with": "SUCC"})), &o, Detail::All)
                .passed
        );
        let bad = entry.eval(Some(&json!({"starts_with": 1})), &o, Detail::All);
        assert!(!bad.passed);
        assert!(!bad.message.is_empty());
        // Without a template there is nothing to render.
        assert_eq!(
            Entry::compile("status", &json!(200), (1, 1), &mut Queries::default())
                .unwrap()
                .template(),
            None
        );
    }

    #[test]
    fn load_time_checks() {
        assert!(
            Entry::compile(
                "$.a",
                &json!({"gte": 1, "lte": "{{ max }}"}),
                (1, 1),
                &mut Queries::default()
            )
            .is_ok()
        );
        assert!(
            Entry::compile(
                "$.a",
                &json!({"matches": "{{ pattern }}"}),
                (1, 1),
                &mut Queries::default()
            )
            .is_ok()
        );
        assert_eq!(
            Entry::compile(
                "$.a",
                &json!({"matchs": "x"}),
                (1, 1),
                &mut Queries::default()
            )
            .unwrap_err()
            .at_key
            .as_deref(),
            Some("matchs")
        );
        assert!(
            Entry::compile("nope nope", &json!(1), (1, 1), &mut Queries::default())
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
        let entries: Vec<Entry> = entries
            .iter()
            .map(|(q, e)| Entry::compile(q, e, (1, 1), &mut Queries::default()).unwrap())
            .collect();
        let rounds = 20_000u32;
        let start = std::time::Instant::now();
        for _ in 0..rounds {
            for entry in &entries {
                assert!(entry.eval(None, &o, Detail::All).passed);
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
