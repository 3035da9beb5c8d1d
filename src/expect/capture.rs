//! `save:` captures: a query's value becomes a variable.

use serde_json::Value;

use super::{Observed, query};

/// Evaluates a capture: the selected value (one node: its value; several: their list), or why
/// there is none ("`$.paymentId` matched nothing" is a step failure).
pub fn eval_save(query: &str, o: &Observed) -> Result<Value, String> {
    match query::select(query, o) {
        Ok(Some(v)) => Ok(v),
        Ok(None) => Err(format!("`{query}` matched nothing")),
        Err(e) => Err(e.message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn captures_a_value_or_says_it_matched_nothing() {
        let o = Observed {
            body: json!({"paymentId": "p1", "ids": [1, 2]}),
            ..Observed::default()
        };
        assert_eq!(eval_save("$.paymentId", &o), Ok(json!("p1")));
        assert_eq!(eval_save("$.ids[*]", &o), Ok(json!([1, 2])));
        assert_eq!(
            eval_save("$.nope", &o),
            Err("`$.nope` matched nothing".to_owned())
        );
        assert!(
            eval_save("$[", &o)
                .unwrap_err()
                .contains("invalid JSONPath")
        );
    }
}
