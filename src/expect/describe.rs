//! Values printed with their type, so that `string <4200>` and `integer <4200>` are told apart
//! (APO's amounts are strings).

use serde_json::Value;

/// What an assertion shows when its query selected nothing.
pub(super) const NOTHING: &str = "nothing";

/// The longest value shown in full; longer ones are cut with `…`.
const MAX_SHOWN: usize = 400;

/// `string <S>`, `integer <4200>`, `number <1.5>`, `boolean <true>`, `null`,
/// `array <[1,2]>`, `object <{"a":1}>`.
pub(super) fn typed(v: &Value) -> String {
    match v {
        Value::Null => "null".to_owned(),
        Value::String(s) => format!("string <{}>", cut(s)),
        other => format!("{} <{}>", type_name(other), cut(&other.to_string())),
    }
}

/// The JSON type of a value as the `type:` predicate names it.
pub(super) fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn cut(s: &str) -> String {
    if s.chars().count() <= MAX_SHOWN {
        s.to_owned()
    } else {
        let head: String = s.chars().take(MAX_SHOWN).collect();
        format!("{head}…")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn values_show_their_type() {
        assert_eq!(typed(&json!("4200")), "string <4200>");
        assert_eq!(typed(&json!(4200)), "integer <4200>");
        assert_eq!(typed(&json!(1.5)), "number <1.5>");
        assert_eq!(typed(&json!(true)), "boolean <true>");
        assert_eq!(typed(&json!(null)), "null");
        assert_eq!(typed(&json!([1, "a"])), "array <[1,\"a\"]>");
        assert_eq!(typed(&json!({"a": 1})), "object <{\"a\":1}>");
        assert!(typed(&json!("x".repeat(1000))).ends_with("…>"));
    }
}
