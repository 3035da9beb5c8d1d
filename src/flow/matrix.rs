//! `matrix:` expansion: one case per combination of the values, named by them.
//!
//! ```yaml
//! matrix:
//!   card: [visa, mastercard]
//!   captureMode: [AUTOMATIC, MANUAL]
//! ```
//! gives four cases, `card=visa, captureMode=AUTOMATIC` … `card=mastercard, captureMode=MANUAL`,
//! in that order (the last name varies fastest); `card` and `captureMode` are variables.

use indexmap::IndexMap;
use serde_json::Value;

/// The most cases one flow may expand to; more is surely a mistake.
pub(crate) const MAX_CASES: usize = 1000;

/// One matrix case: its name and its variables.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct MatrixCase {
    /// `card=visa, captureMode=MANUAL`.
    pub name: String,
    /// `card: visa`, `captureMode: MANUAL`.
    pub vars: IndexMap<String, Value>,
}

/// Expands a matrix into its cases; an empty matrix gives no cases. A matrix of more than
/// [`MAX_CASES`] is refused before anything is built (`Err` with its size), so that ten keys of
/// ten values cost nothing.
pub(crate) fn expand(matrix: &IndexMap<String, Vec<Value>>) -> Result<Vec<MatrixCase>, usize> {
    if matrix.is_empty() {
        return Ok(Vec::new());
    }
    let n = count(matrix);
    if n > MAX_CASES {
        return Err(n);
    }
    let mut cases: Vec<IndexMap<String, Value>> = vec![IndexMap::new()];
    for (name, values) in matrix {
        cases = cases
            .into_iter()
            .flat_map(|case| {
                values.iter().map(move |v| {
                    let mut c = case.clone();
                    c.insert(name.clone(), v.clone());
                    c
                })
            })
            .collect();
    }
    Ok(cases
        .into_iter()
        .map(|vars| MatrixCase {
            name: vars
                .iter()
                .map(|(k, v)| format!("{k}={}", show(v)))
                .collect::<Vec<_>>()
                .join(", "),
            vars,
        })
        .collect())
}

/// How many cases a matrix expands to (saturating).
pub(crate) fn count(matrix: &IndexMap<String, Vec<Value>>) -> usize {
    matrix
        .values()
        .fold(1usize, |n, v| n.saturating_mul(v.len()))
}

/// A value as it appears in a case name: strings bare, anything else as JSON.
fn show(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn one_case_per_combination_named_by_values() {
        let m: IndexMap<String, Vec<Value>> = [
            ("card".to_owned(), vec![json!("visa"), json!("mc")]),
            ("amount".to_owned(), vec![json!(1), json!("2")]),
        ]
        .into_iter()
        .collect();
        let cases = expand(&m).unwrap();
        let names: Vec<_> = cases.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "card=visa, amount=1",
                "card=visa, amount=2",
                "card=mc, amount=1",
                "card=mc, amount=2"
            ]
        );
        assert_eq!(cases[3].vars["amount"], json!("2"));
        assert_eq!(count(&m), 4);
    }

    #[test]
    fn no_matrix_no_cases() {
        assert!(expand(&IndexMap::new()).unwrap().is_empty());
    }

    #[test]
    fn a_matrix_over_the_limit_is_refused_before_expansion() {
        let values: Vec<Value> = (0..10).map(|i| json!(i)).collect();
        let m: IndexMap<String, Vec<Value>> =
            (0..10).map(|k| (format!("k{k}"), values.clone())).collect();
        assert_eq!(expand(&m), Err(10_000_000_000));
        let m: IndexMap<String, Vec<Value>> =
            (0..3).map(|k| (format!("k{k}"), values.clone())).collect();
        assert_eq!(expand(&m).map(|c| c.len()), Ok(MAX_CASES));
    }
}
