//! `save:` captures: a query's value becomes a variable.

use serde_json::Value;

use super::{Observed, Query};

/// Evaluates a capture: the selected value (one node: its value; several: their list), or why
/// there is none ("`$.paymentId` matched nothing" is a step failure).
pub fn eval_save(query: &Query, o: &Observed) -> Result<Value, String> {
    match query.select(o) {
        Ok(Some(v)) => Ok(v),
        Ok(None) => Err(format!("`{}` matched nothing", query.text())),
        Err(e) => Err(e.message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expect::Queries;
    use serde_json::json;

    #[test]
    fn captures_a_value_or_says_it_matched_nothing() {
        let o = Observed {
            body: json!({"paymentId": "p1", "ids": [1, 2]}),
            ..Observed::default()
        };
        let save =
            |query: &str| eval_save(&Query::compile(query, &mut Queries::default()).unwrap(), &o);
        assert_eq!(save("$.paymentId"), Ok(json!("p1")));
        assert_eq!(save("$.ids[*]"), Ok(json!([1, 2])));
        assert_eq!(save("$.nope"), Err("`$.nope` matched nothing".to_owned()));
        assert!(
            Query::compile("$[", &mut Queries::default())
                .unwrap_err()
                .message
                .contains("invalid JSONPath")
        );
    }
}
