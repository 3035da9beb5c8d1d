//! Predicates: one variant and one `eval_*` function each.
//!
//! ```yaml
//! expect:
//!   $.result.resultStatus: S                        # a literal: equals, compared as JSON
//!   $.paymentAmount.value: { gte: 1, lte: "100000" } # several predicates: all must hold
//!   $.normalUrl: { matches: "^https://" }
//!   $.cardToken: { exists: false }
//!   $.paymentStatus: { not: { one_of: [FAIL, CANCELLED] } }
//! ```

use std::cmp::Ordering;
use std::sync::Arc;

use regex::Regex;
use serde_json::{Map, Value};

use super::ExpectError;
use super::describe::{type_name, typed};
use crate::template::is_template;

/// Every predicate name, in the order the documentation lists them.
pub const PREDICATES: &[&str] = &[
    "equals",
    "not",
    "matches",
    "contains",
    "starts_with",
    "ends_with",
    "exists",
    "one_of",
    "gt",
    "gte",
    "lt",
    "lte",
    "type",
    "length",
    "is_uuid",
    "is_datetime",
    "all_of",
    "any_of",
];

/// The type names `type:` accepts.
const TYPES: &[&str] = &[
    "string", "number", "integer", "boolean", "object", "array", "null",
];

/// A numeric comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Cmp {
    Gt,
    Gte,
    Lt,
    Lte,
}

/// One parsed predicate.
#[derive(Debug, Clone)]
pub(super) enum Predicate {
    Equals(Value),
    Not(Box<Predicate>),
    /// The pattern, compiled unless it is a template not yet rendered.
    Matches(String, Option<Arc<Regex>>),
    Contains(Value),
    StartsWith(Value),
    EndsWith(Value),
    /// `None` when the argument is a template not yet rendered.
    Exists(Option<bool>),
    OneOf(Value),
    Compare(Cmp, Value),
    Type(String),
    Length(Box<Predicate>),
    IsUuid(Option<bool>),
    IsDatetime(Option<bool>),
    AllOf(Vec<Predicate>),
    AnyOf(Vec<Predicate>),
}

/// The outcome of evaluating a predicate: `Err` says why it does not hold.
type Outcome = Result<(), String>;

impl Predicate {
    /// Parses an expected value: a literal, or a map of predicates (all must hold).
    /// `rendered` says whether templates have been filled in; before that (at load time),
    /// arguments that are templates are accepted unchecked.
    pub(super) fn parse(v: &Value, rendered: bool) -> Result<Predicate, ExpectError> {
        match v {
            Value::Object(map) => parse_map(map, rendered),
            other => Ok(Predicate::Equals(other.clone())),
        }
    }

    /// Evaluates against what the query selected (`None`: nothing).
    pub(super) fn eval(&self, actual: Option<&Value>) -> Outcome {
        let Some(a) = actual else {
            return if self.accepts_nothing() {
                self.eval_nothing()
            } else {
                Err("the query selected nothing".to_owned())
            };
        };
        match self {
            Predicate::Equals(e) => eval_equals(a, e),
            Predicate::Not(p) => eval_not(p, Some(a)),
            Predicate::Matches(pattern, re) => eval_matches(a, pattern, re.as_ref()),
            Predicate::Contains(e) => eval_contains(a, e),
            Predicate::StartsWith(e) => eval_affix(a, e, true),
            Predicate::EndsWith(e) => eval_affix(a, e, false),
            Predicate::Exists(want) => eval_exists(true, *want),
            Predicate::OneOf(list) => eval_one_of(a, list),
            Predicate::Compare(op, e) => eval_compare(a, *op, e),
            Predicate::Type(t) => eval_type(a, t),
            Predicate::Length(p) => eval_length(a, p),
            Predicate::IsUuid(want) => eval_is_uuid(a, *want),
            Predicate::IsDatetime(want) => eval_is_datetime(a, *want),
            Predicate::AllOf(ps) => eval_all_of(ps, Some(a)),
            Predicate::AnyOf(ps) => eval_any_of(ps, Some(a)),
        }
    }

    /// Whether this predicate has something to say when nothing is selected (`exists`, or
    /// a combination with it); every other predicate fails on nothing.
    fn accepts_nothing(&self) -> bool {
        match self {
            Predicate::Exists(_) => true,
            Predicate::Not(p) => p.accepts_nothing(),
            Predicate::AllOf(ps) | Predicate::AnyOf(ps) => {
                ps.iter().any(Predicate::accepts_nothing)
            }
            _ => false,
        }
    }

    fn eval_nothing(&self) -> Outcome {
        match self {
            Predicate::Exists(want) => eval_exists(false, *want),
            Predicate::Not(p) => eval_not(p, None),
            Predicate::AllOf(ps) => eval_all_of(ps, None),
            Predicate::AnyOf(ps) => eval_any_of(ps, None),
            _ => Err("the query selected nothing".to_owned()),
        }
    }

    /// What the predicate expects, for reports: `string <S>`, `matches /^S/`, …
    pub(super) fn describe(&self) -> String {
        match self {
            Predicate::Equals(v) => typed(v),
            Predicate::Not(p) => format!("not {}", p.describe()),
            Predicate::Matches(p, _) => format!("matches /{p}/"),
            Predicate::Contains(v) => format!("contains {}", typed(v)),
            Predicate::StartsWith(v) => format!("starts with {}", typed(v)),
            Predicate::EndsWith(v) => format!("ends with {}", typed(v)),
            Predicate::Exists(Some(false)) => "nothing (exists: false)".to_owned(),
            Predicate::Exists(_) => "something (exists: true)".to_owned(),
            Predicate::OneOf(list) => match list {
                Value::Array(items) => format!(
                    "one of [{}]",
                    items.iter().map(typed).collect::<Vec<_>>().join(", ")
                ),
                other => format!("one of {}", typed(other)),
            },
            Predicate::Compare(op, v) => format!("{} {}", op.words(), typed(v)),
            Predicate::Type(t) => format!("of type {t}"),
            Predicate::Length(p) => format!("length {}", p.describe()),
            Predicate::IsUuid(Some(false)) => "not a UUID".to_owned(),
            Predicate::IsUuid(_) => "a UUID".to_owned(),
            Predicate::IsDatetime(Some(false)) => "not a date-time".to_owned(),
            Predicate::IsDatetime(_) => "an RFC 3339 date-time".to_owned(),
            Predicate::AllOf(ps) => format!("all of ({})", join_described(ps)),
            Predicate::AnyOf(ps) => format!("any of ({})", join_described(ps)),
        }
    }
}

fn join_described(ps: &[Predicate]) -> String {
    ps.iter()
        .map(Predicate::describe)
        .collect::<Vec<_>>()
        .join("; ")
}

impl Cmp {
    fn words(self) -> &'static str {
        match self {
            Cmp::Gt => "greater than",
            Cmp::Gte => "at least",
            Cmp::Lt => "less than",
            Cmp::Lte => "at most",
        }
    }
}

// ---------------------------------------------------------------------------------------------
// parsing

fn parse_map(map: &Map<String, Value>, rendered: bool) -> Result<Predicate, ExpectError> {
    if map.is_empty() {
        return Err(ExpectError::new("an empty map is not a predicate")
            .hint("to compare with an empty object use `equals: {}`"));
    }
    let mut all = Vec::with_capacity(map.len());
    for (key, arg) in map {
        all.push(parse_one(key, arg, rendered)?);
    }
    Ok(if all.len() == 1 {
        all.remove(0)
    } else {
        Predicate::AllOf(all)
    })
}

/// Whether `v` is a string template not yet rendered (its checks wait for run time).
fn deferred(v: &Value, rendered: bool) -> bool {
    !rendered && v.as_str().is_some_and(is_template)
}

fn parse_one(key: &str, arg: &Value, rendered: bool) -> Result<Predicate, ExpectError> {
    let bad = |what: &str| {
        ExpectError::new(format!("`{key}` takes {what}, not {}", typed(arg))).at_key(key)
    };
    Ok(match key {
        "equals" => Predicate::Equals(arg.clone()),
        "not" => Predicate::Not(Box::new(Predicate::parse(arg, rendered)?)),
        "matches" => {
            let Some(pattern) = arg.as_str() else {
                return Err(bad("a regular expression (a string)"));
            };
            if deferred(arg, rendered) {
                Predicate::Matches(pattern.to_owned(), None)
            } else {
                let re = Regex::new(pattern).map(Arc::new).map_err(|e| {
                    ExpectError::new(format!("invalid regular expression `{pattern}`: {}", regex_reason(&e)))
                        .hint("the syntax is Rust's `regex` (like RE2); escape `\\` in double-quoted YAML or use single quotes")
                        .at_key(key)
                })?;
                Predicate::Matches(pattern.to_owned(), Some(re))
            }
        }
        "contains" => Predicate::Contains(arg.clone()),
        "starts_with" | "ends_with" => {
            if !arg.is_string() {
                return Err(bad("a string"));
            }
            if key == "starts_with" {
                Predicate::StartsWith(arg.clone())
            } else {
                Predicate::EndsWith(arg.clone())
            }
        }
        "exists" | "is_uuid" | "is_datetime" => {
            let flag = match arg {
                Value::Bool(b) => Some(*b),
                v if deferred(v, rendered) => None,
                _ => return Err(bad("`true` or `false`")),
            };
            match key {
                "exists" => Predicate::Exists(flag),
                "is_uuid" => Predicate::IsUuid(flag),
                _ => Predicate::IsDatetime(flag),
            }
        }
        "one_of" => {
            if !(arg.is_array() || deferred(arg, rendered)) {
                return Err(bad("a list of values"));
            }
            Predicate::OneOf(arg.clone())
        }
        "gt" | "gte" | "lt" | "lte" => {
            if !(numeric(arg).is_some() || deferred(arg, rendered)) {
                return Err(bad("a number or a numeric string"));
            }
            let op = match key {
                "gt" => Cmp::Gt,
                "gte" => Cmp::Gte,
                "lt" => Cmp::Lt,
                _ => Cmp::Lte,
            };
            Predicate::Compare(op, arg.clone())
        }
        "type" => match arg.as_str() {
            Some(t) if TYPES.contains(&t) || deferred(arg, rendered) => {
                Predicate::Type(t.to_owned())
            }
            _ => {
                return Err(ExpectError::new(format!(
                    "`type` takes one of {}, not {}",
                    TYPES.join(", "),
                    typed(arg)
                ))
                .at_key(key));
            }
        },
        "length" => {
            let inner = match arg {
                Value::Object(_) => Predicate::parse(arg, rendered)?,
                Value::Number(n) if n.is_u64() => Predicate::Equals(arg.clone()),
                v if deferred(v, rendered) => Predicate::Equals(arg.clone()),
                _ => return Err(bad("a whole number or a predicate such as `{ gte: 1 }`")),
            };
            Predicate::Length(Box::new(inner))
        }
        "all_of" | "any_of" => {
            let Some(items) = arg.as_array().filter(|a| !a.is_empty()) else {
                return Err(bad("a non-empty list of values or predicates"));
            };
            let ps = items
                .iter()
                .map(|i| Predicate::parse(i, rendered))
                .collect::<Result<Vec<_>, _>>()?;
            if key == "all_of" {
                Predicate::AllOf(ps)
            } else {
                Predicate::AnyOf(ps)
            }
        }
        unknown => return Err(unknown_predicate(unknown)),
    })
}

fn unknown_predicate(key: &str) -> ExpectError {
    let hint = match crate::diag::did_you_mean(key, PREDICATES.iter().copied()) {
        Some(name) => format!("did you mean `{name}`? to compare with an object use `equals:`"),
        None => format!(
            "predicates are {}; to compare with an object use `equals:`",
            PREDICATES.join(", ")
        ),
    };
    ExpectError::new(format!("unknown predicate `{key}`"))
        .hint(hint)
        .at_key(key)
}

/// The reason in a regex error, without its multi-line picture of the pattern.
fn regex_reason(e: &regex::Error) -> String {
    let text = e.to_string();
    text.lines()
        .rev()
        .find_map(|l| l.trim().strip_prefix("error: "))
        .map_or_else(
            || text.lines().last().unwrap_or_default().trim().to_owned(),
            str::to_owned,
        )
}

// ---------------------------------------------------------------------------------------------
// evaluation: one function per predicate

/// JSON equality, with numbers compared by value (`1` equals `1.0`) and objects regardless of
/// key order.
fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            numeric(a)
                .zip(numeric(b))
                .is_some_and(|(x, y)| x.cmp(&y) == Some(Ordering::Equal))
                || x == y
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| json_eq(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => a == b,
    }
}

fn eval_equals(a: &Value, e: &Value) -> Outcome {
    if json_eq(a, e) {
        Ok(())
    } else if a.is_object() && e.is_object() || a.is_array() && e.is_array() {
        Err(format!(
            "the values differ:\n{}",
            super::diff::json_diff(e, a)
        ))
    } else {
        Err(format!("expected {}, got {}", typed(e), typed(a)))
    }
}

fn eval_not(p: &Predicate, a: Option<&Value>) -> Outcome {
    match p.eval(a) {
        Ok(()) => Err(format!("expected not {}, but it is", p.describe())),
        Err(_) => Ok(()),
    }
}

fn eval_matches(a: &Value, pattern: &str, re: Option<&Arc<Regex>>) -> Outcome {
    let Value::String(s) = a else {
        return Err(format!("`matches` needs a string, got {}", typed(a)));
    };
    // Only a pattern that was a template at load time arrives uncompiled.
    let re = match re {
        Some(re) => Arc::clone(re),
        None => Regex::new(pattern).map(Arc::new).map_err(|e| {
            format!(
                "invalid regular expression `{pattern}`: {}",
                regex_reason(&e)
            )
        })?,
    };
    if re.is_match(s) {
        Ok(())
    } else {
        Err(format!("{} does not match /{pattern}/", typed(a)))
    }
}

fn eval_contains(a: &Value, e: &Value) -> Outcome {
    let holds = match (a, e) {
        (Value::String(s), Value::String(sub)) => s.contains(sub.as_str()),
        (Value::Array(items), e) => items.iter().any(|i| json_eq(i, e)),
        (Value::Object(map), Value::String(key)) => map.contains_key(key),
        _ => {
            return Err(format!(
                "`contains` needs a string, a list, or an object and a key; got {} and {}",
                typed(a),
                typed(e)
            ));
        }
    };
    if holds {
        Ok(())
    } else {
        Err(format!("{} does not contain {}", typed(a), typed(e)))
    }
}

fn eval_affix(a: &Value, e: &Value, start: bool) -> Outcome {
    let (Value::String(s), Value::String(x)) = (a, e) else {
        return Err(format!(
            "`{}` needs strings, got {} and {}",
            if start { "starts_with" } else { "ends_with" },
            typed(a),
            typed(e)
        ));
    };
    let holds = if start {
        s.starts_with(x.as_str())
    } else {
        s.ends_with(x.as_str())
    };
    if holds {
        Ok(())
    } else {
        Err(format!(
            "{} does not {} {}",
            typed(a),
            if start { "start with" } else { "end with" },
            typed(e)
        ))
    }
}

fn eval_exists(found: bool, want: Option<bool>) -> Outcome {
    let Some(want) = want else {
        return Err("`exists` takes `true` or `false`".to_owned());
    };
    match (found, want) {
        (true, true) | (false, false) => Ok(()),
        (true, false) => Err("expected nothing to be selected, but something was".to_owned()),
        (false, true) => Err("the query selected nothing".to_owned()),
    }
}

fn eval_one_of(a: &Value, list: &Value) -> Outcome {
    let Value::Array(items) = list else {
        return Err(format!("`one_of` takes a list, got {}", typed(list)));
    };
    if items.iter().any(|i| json_eq(a, i)) {
        Ok(())
    } else {
        Err(format!(
            "{} is not one of the {} values",
            typed(a),
            items.len()
        ))
    }
}

/// A number from a JSON number or a numeric string: exact for integers, else a float.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
enum Num {
    Int(i128),
    Float(f64),
}

impl Num {
    fn cmp(&self, other: &Num) -> Option<Ordering> {
        match (*self, *other) {
            (Num::Int(a), Num::Int(b)) => Some(a.cmp(&b)),
            #[expect(
                clippy::cast_precision_loss,
                reason = "mixed int/float compares as float"
            )]
            (Num::Int(a), Num::Float(b)) => (a as f64).partial_cmp(&b),
            #[expect(
                clippy::cast_precision_loss,
                reason = "mixed int/float compares as float"
            )]
            (Num::Float(a), Num::Int(b)) => a.partial_cmp(&(b as f64)),
            (Num::Float(a), Num::Float(b)) => a.partial_cmp(&b),
        }
    }
}

fn numeric(v: &Value) -> Option<Num> {
    match v {
        Value::Number(n) => n
            .as_i64()
            .map(|i| Num::Int(i128::from(i)))
            .or_else(|| n.as_u64().map(|u| Num::Int(i128::from(u))))
            .or_else(|| n.as_f64().map(Num::Float)),
        Value::String(s) => {
            let t = s.trim();
            if t.is_empty() || t != s {
                return None;
            }
            if let Ok(i) = t.parse::<i128>() {
                return Some(Num::Int(i));
            }
            // Only plain decimal text: no `inf`, `NaN` or hex.
            let plain = t
                .bytes()
                .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'+' | b'e' | b'E'));
            t.parse::<f64>()
                .ok()
                .filter(|f| plain && f.is_finite())
                .map(Num::Float)
        }
        _ => None,
    }
}

fn eval_compare(a: &Value, op: Cmp, e: &Value) -> Outcome {
    let Some(x) = numeric(a) else {
        return Err(format!("{} is not a number", typed(a)));
    };
    let Some(y) = numeric(e) else {
        return Err(format!("`{}` needs a number, got {}", op.words(), typed(e)));
    };
    let holds = match x.cmp(&y) {
        Some(Ordering::Greater) => matches!(op, Cmp::Gt | Cmp::Gte),
        Some(Ordering::Equal) => matches!(op, Cmp::Gte | Cmp::Lte),
        Some(Ordering::Less) => matches!(op, Cmp::Lt | Cmp::Lte),
        None => false,
    };
    if holds {
        Ok(())
    } else {
        Err(format!("{} is not {} {}", typed(a), op.words(), typed(e)))
    }
}

fn eval_type(a: &Value, t: &str) -> Outcome {
    let actual = type_name(a);
    let holds = actual == t || (t == "number" && actual == "integer");
    if holds {
        Ok(())
    } else if TYPES.contains(&t) {
        Err(format!("expected type {t}, got {}", typed(a)))
    } else {
        Err(format!(
            "`type` takes one of {}, not `{t}`",
            TYPES.join(", ")
        ))
    }
}

fn eval_length(a: &Value, p: &Predicate) -> Outcome {
    let len = match a {
        Value::String(s) => s.chars().count(),
        Value::Array(items) => items.len(),
        Value::Object(map) => map.len(),
        _ => return Err(format!("{} has no length", typed(a))),
    };
    p.eval(Some(&Value::from(len)))
        .map_err(|why| format!("length {len} of {}: {why}", typed(a)))
}

fn eval_is_uuid(a: &Value, want: Option<bool>) -> Outcome {
    let is = a
        .as_str()
        .is_some_and(|s| s.len() == 36 && uuid::Uuid::try_parse(s).is_ok());
    flag_outcome(a, is, want, "a UUID")
}

fn eval_is_datetime(a: &Value, want: Option<bool>) -> Outcome {
    let is = a
        .as_str()
        .is_some_and(|s| s.parse::<jiff::Timestamp>().is_ok());
    flag_outcome(a, is, want, "an RFC 3339 date-time with an offset")
}

fn flag_outcome(a: &Value, is: bool, want: Option<bool>, what: &str) -> Outcome {
    match want {
        Some(want) if want == is => Ok(()),
        Some(true) => Err(format!("{} is not {what}", typed(a))),
        Some(false) => Err(format!("{} is {what}", typed(a))),
        None => Err("the argument must be `true` or `false`".to_owned()),
    }
}

fn eval_all_of(ps: &[Predicate], a: Option<&Value>) -> Outcome {
    let failures: Vec<String> = ps.iter().filter_map(|p| p.eval(a).err()).collect();
    if failures.is_empty() {
        Ok(())
    } else {
        Err(failures.join("; "))
    }
}

fn eval_any_of(ps: &[Predicate], a: Option<&Value>) -> Outcome {
    if ps.iter().any(|p| p.eval(a).is_ok()) {
        Ok(())
    } else {
        Err(format!("none of ({}) holds", join_described(ps)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(expected: Value, actual: Option<Value>) -> Outcome {
        Predicate::parse(&expected, true)
            .map_err(|e| format!("parse: {}", e.message))?
            .eval(actual.as_ref())
    }

    fn holds(expected: Value, actual: Value) -> bool {
        check(expected, Some(actual)).is_ok()
    }

    #[test]
    fn literal_compares_as_json() {
        assert!(holds(json!("4200"), json!("4200")));
        assert!(!holds(json!("4200"), json!(4200)));
        assert!(holds(json!(1), json!(1.0)));
        assert!(holds(
            json!({"equals": {"a": 1, "b": [2]}}),
            json!({"b": [2], "a": 1})
        ));
        assert_eq!(
            check(json!("4200"), Some(json!(4200))),
            Err("expected string <4200>, got integer <4200>".to_owned())
        );
        assert_eq!(
            check(json!("S"), None),
            Err("the query selected nothing".to_owned())
        );
    }

    #[test]
    fn equals_compares_objects() {
        assert!(holds(json!({"equals": {"a": 1}}), json!({"a": 1})));
        let e = check(json!({"equals": {"a": 1}}), Some(json!({"a": 2}))).unwrap_err();
        assert!(
            e.contains("-  \"a\": 1") && e.contains("+  \"a\": 2"),
            "{e}"
        );
    }

    #[test]
    fn not_negates_and_fails_on_nothing() {
        assert!(holds(json!({"not": "F"}), json!("S")));
        assert!(!holds(json!({"not": "S"}), json!("S")));
        assert!(check(json!({"not": "S"}), None).is_err());
        assert!(check(json!({"not": {"exists": true}}), None).is_ok());
    }

    #[test]
    fn matches_needs_a_string() {
        assert!(holds(
            json!({"matches": "^\\*+\\d{4}$"}),
            json!("************1358")
        ));
        assert!(!holds(json!({"matches": "^S$"}), json!("SS")));
        assert!(
            check(json!({"matches": "^4"}), Some(json!(42)))
                .unwrap_err()
                .contains("needs a string")
        );
        assert!(Predicate::parse(&json!({"matches": "("}), true).is_err());
        assert!(Predicate::parse(&json!({"matches": "{{ re }}"}), false).is_ok());
    }

    #[test]
    fn contains_strings_lists_and_keys() {
        assert!(holds(
            json!({"contains": "PROC"}),
            json!("PAYMENT_IN_PROCESS")
        ));
        assert!(holds(json!({"contains": 2}), json!([1, 2])));
        assert!(holds(json!({"contains": "a"}), json!({"a": 1})));
        assert!(!holds(json!({"contains": "x"}), json!(["a"])));
        assert!(!holds(json!({"contains": 1}), json!("1")));
    }

    #[test]
    fn starts_and_ends_with() {
        assert!(holds(
            json!({"starts_with": "https://"}),
            json!("https://x")
        ));
        assert!(!holds(
            json!({"starts_with": "https://"}),
            json!("http://x")
        ));
        assert!(holds(
            json!({"ends_with": "/back"}),
            json!("https://x/back")
        ));
        assert!(Predicate::parse(&json!({"ends_with": 1}), true).is_err());
    }

    #[test]
    fn exists_true_and_false() {
        assert!(check(json!({"exists": true}), Some(json!(null))).is_ok());
        assert!(check(json!({"exists": true}), None).is_err());
        assert!(check(json!({"exists": false}), None).is_ok());
        assert!(check(json!({"exists": false}), Some(json!(1))).is_err());
        assert!(Predicate::parse(&json!({"exists": "yes"}), true).is_err());
    }

    #[test]
    fn one_of_a_list() {
        assert!(holds(json!({"one_of": ["SUCCESS", "FAIL"]}), json!("FAIL")));
        assert!(!holds(
            json!({"one_of": ["SUCCESS", "FAIL"]}),
            json!("PROCESSING")
        ));
        assert!(Predicate::parse(&json!({"one_of": "SUCCESS"}), true).is_err());
    }

    #[test]
    fn comparisons_take_numbers_and_numeric_strings() {
        assert!(holds(json!({"gt": 0}), json!("4200")));
        assert!(holds(json!({"gte": "4200"}), json!(4200)));
        assert!(!holds(json!({"lt": 4200}), json!("4200")));
        assert!(holds(json!({"lte": 4200}), json!("4200")));
        assert!(holds(json!({"gt": 1.5}), json!(2)));
        assert!(holds(json!({"gte": 1, "lte": 10}), json!(10)));
        assert!(!holds(json!({"gte": 1, "lte": 10}), json!(11)));
        assert!(
            check(json!({"gt": 0}), Some(json!("abc")))
                .unwrap_err()
                .contains("not a number")
        );
        assert!(!holds(json!({"gt": 0}), json!(" 5")));
        assert!(!holds(json!({"gt": 0}), json!("inf")));
        assert!(Predicate::parse(&json!({"gt": "x"}), true).is_err());
        assert!(Predicate::parse(&json!({"gt": "{{ min }}"}), false).is_ok());
    }

    #[test]
    fn type_names() {
        assert!(holds(json!({"type": "string"}), json!("x")));
        assert!(holds(json!({"type": "integer"}), json!(3)));
        assert!(holds(json!({"type": "number"}), json!(3)));
        assert!(!holds(json!({"type": "integer"}), json!(3.5)));
        assert!(holds(json!({"type": "null"}), json!(null)));
        assert!(holds(json!({"type": "array"}), json!([])));
        assert!(holds(json!({"type": "object"}), json!({})));
        assert!(holds(json!({"type": "boolean"}), json!(false)));
        assert!(Predicate::parse(&json!({"type": "str"}), true).is_err());
    }

    #[test]
    fn length_of_strings_lists_objects() {
        assert!(holds(json!({"length": 4}), json!("1358")));
        assert!(holds(json!({"length": 2}), json!([1, 2])));
        assert!(holds(json!({"length": {"gte": 1}}), json!({"a": 1})));
        assert!(!holds(json!({"length": 3}), json!("ab")));
        assert!(
            check(json!({"length": 1}), Some(json!(5)))
                .unwrap_err()
                .contains("no length")
        );
    }

    #[test]
    fn uuids_and_datetimes() {
        assert!(holds(
            json!({"is_uuid": true}),
            json!("6f1c1b2e-8f1a-4c7e-9d2b-1a2b3c4d5e6f")
        ));
        assert!(!holds(
            json!({"is_uuid": true}),
            json!("6f1c1b2e8f1a4c7e9d2b1a2b3c4d5e6f")
        ));
        assert!(holds(json!({"is_uuid": false}), json!("nope")));
        assert!(holds(
            json!({"is_datetime": true}),
            json!("2026-11-25T12:36:35+08:00")
        ));
        assert!(holds(
            json!({"is_datetime": true}),
            json!("2026-11-25T04:36:35Z")
        ));
        assert!(!holds(json!({"is_datetime": true}), json!("2026-11-25")));
        assert!(!holds(json!({"is_datetime": true}), json!(17)));
    }

    #[test]
    fn all_of_and_any_of() {
        assert!(holds(
            json!({"all_of": [{"starts_with": "A"}, {"length": 3}]}),
            json!("ABC")
        ));
        assert!(!holds(
            json!({"all_of": [{"starts_with": "A"}, {"length": 2}]}),
            json!("ABC")
        ));
        assert!(holds(
            json!({"any_of": ["S", {"starts_with": "P"}]}),
            json!("PROCESSING")
        ));
        assert!(!holds(json!({"any_of": ["S", "F"]}), json!("U")));
        assert!(Predicate::parse(&json!({"any_of": []}), true).is_err());
    }

    #[test]
    fn a_map_of_unknown_keys_is_an_error_at_the_key() {
        let e = Predicate::parse(&json!({"matchs": "x"}), true).unwrap_err();
        assert_eq!(e.message, "unknown predicate `matchs`");
        assert_eq!(e.at_key.as_deref(), Some("matchs"));
        assert!(e.hint.unwrap().starts_with("did you mean `matches`?"));
        let e = Predicate::parse(&json!({"currency": "SGD"}), true).unwrap_err();
        assert!(
            e.hint
                .unwrap()
                .contains("to compare with an object use `equals:`")
        );
        let e = Predicate::parse(&json!({"not": {"gtx": 1}}), true).unwrap_err();
        assert_eq!(e.at_key.as_deref(), Some("gtx"));
        assert!(Predicate::parse(&json!({}), true).is_err());
    }
}
