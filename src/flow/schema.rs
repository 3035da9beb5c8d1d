//! The JSON Schema of the flow format (draft-07, what yaml-language-server reads), generated
//! from the model types in [`super::model`]; the committed copy is `schema/flow.schema.json`.
//!
//! Editors pick it up from a first-line comment in a flow file:
//! `# yaml-language-server: $schema=../schema/flow.schema.json`

use std::borrow::Cow;

use schemars::{JsonSchema, Schema, SchemaGenerator, generate::SchemaSettings, json_schema};

use super::model::Flow;
use crate::expect::PREDICATES;

/// The schema of a flow file, as pretty JSON with a final line break.
pub fn flow_schema() -> String {
    let schema = SchemaSettings::draft07()
        .into_generator()
        .into_root_schema_for::<Flow>();
    let mut text = serde_json::to_string_pretty(&schema).unwrap_or_else(|_| "{}".to_owned());
    text.push('\n');
    text
}

/// Schema only: what an `expect:` / `until:` entry maps a query to, a literal or a map of
/// predicates.
pub(crate) struct Expected;

impl JsonSchema for Expected {
    fn schema_name() -> Cow<'static, str> {
        "Expected".into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let predicates = generator.subschema_for::<Predicates>();
        json_schema!({
            "description": "A literal, compared as JSON (\"4200\" is not 4200), or a map of predicates that must all hold.",
            "anyOf": [
                { "type": ["string", "number", "boolean", "null", "array"] },
                predicates
            ]
        })
    }
}

/// Schema only: a map of predicates.
pub(crate) struct Predicates;

impl JsonSchema for Predicates {
    fn schema_name() -> Cow<'static, str> {
        "Predicates".into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let expected = generator.subschema_for::<Expected>();
        let number = json_schema!({
            "anyOf": [{ "type": "number" }, { "type": "string", "pattern": "^-?[0-9]+(\\.[0-9]+)?([eE][-+]?[0-9]+)?$" }, { "type": "string", "pattern": "\\{\\{" }]
        });
        let flag = json_schema!({ "type": ["boolean", "string"] });
        let list = json_schema!({ "type": "array", "minItems": 1, "items": expected });
        let mut properties = serde_json::Map::new();
        for name in PREDICATES {
            let (schema, description) = match *name {
                "equals" => (
                    json_schema!({}),
                    "equal to this value, compared as JSON (use it for objects)",
                ),
                "not" => (
                    expected.clone(),
                    "the inner value or predicates do not hold",
                ),
                "matches" => (
                    json_schema!({ "type": "string" }),
                    "a string matching this regular expression",
                ),
                "contains" => (
                    json_schema!({}),
                    "a string containing this text, a list containing this value, or an object with this key",
                ),
                "starts_with" => (
                    json_schema!({ "type": "string" }),
                    "a string starting with this text",
                ),
                "ends_with" => (
                    json_schema!({ "type": "string" }),
                    "a string ending with this text",
                ),
                "exists" => (
                    flag.clone(),
                    "true: the query selects something; false: nothing",
                ),
                "one_of" => (
                    json_schema!({ "type": ["array", "string"] }),
                    "equal to one of these values",
                ),
                "gt" => (number.clone(), "greater than (numbers and numeric strings)"),
                "gte" => (number.clone(), "at least (numbers and numeric strings)"),
                "lt" => (number.clone(), "less than (numbers and numeric strings)"),
                "lte" => (number.clone(), "at most (numbers and numeric strings)"),
                "type" => (
                    json_schema!({ "enum": ["string", "number", "integer", "boolean", "object", "array", "null"] }),
                    "the JSON type",
                ),
                "length" => (
                    json_schema!({ "anyOf": [{ "type": "integer", "minimum": 0 }, expected.clone()] }),
                    "the length of a string, list or object: a number or predicates",
                ),
                "is_uuid" => (flag.clone(), "a UUID (or not, with false)"),
                "is_datetime" => (
                    flag.clone(),
                    "an RFC 3339 date-time with an offset (or not, with false)",
                ),
                "all_of" => (list.clone(), "every one of these holds"),
                _ => (list.clone(), "at least one of these holds"),
            };
            let mut schema = schema;
            schema.insert("description".to_owned(), description.into());
            properties.insert((*name).to_owned(), schema.into());
        }
        json_schema!({
            "type": "object",
            "description": "Predicates that must all hold; to compare with an object use `equals:`.",
            "minProperties": 1,
            "additionalProperties": false,
            "properties": properties
        })
    }
}

/// Schema only: a duration such as `500ms`, `2s`, `1m30s`.
impl JsonSchema for super::model::DurationSpec {
    fn schema_name() -> Cow<'static, str> {
        "Duration".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "description": "A duration: a number with a unit (ms, s, m, h), e.g. `500ms`, `2s`, `1m30s`; or a template that renders to one when the step runs, e.g. `{{ merchant.settle_ms }}ms`.",
            "pattern": "^(\\s*([0-9]+\\s*(ms|s|m|h)\\s*)+|.*\\{[{%#].*)$"
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schema_is_draft_07_and_closed() {
        let schema: serde_json::Value = serde_json::from_str(&flow_schema()).unwrap();
        assert_eq!(schema["$schema"], "http://json-schema.org/draft-07/schema#");
        assert_eq!(schema["additionalProperties"], false);
        let step = &schema["definitions"]["Step"];
        assert_eq!(step["additionalProperties"], false);
        assert!(step["properties"]["use"].is_object());
        let predicates = &schema["definitions"]["Predicates"]["properties"];
        assert_eq!(predicates.as_object().unwrap().len(), PREDICATES.len());
    }
}
