//! What a step's `snapshot:` asks for: a name, what to snapshot, and extra redactions.
//!
//! In a flow file, either the short form or the long form:
//!
//! ```yaml
//! snapshot: payment-result
//! snapshot:
//!   name: payment-result
//!   of: notification          # response (default) | request | notification | return_page
//!   redact:
//!     - $.paymentResultInfo.issuerName            # becomes [redacted]
//!     - { $.order.referenceBuyerId: "[buyerId]" } # a named placeholder
//! ```

use std::borrow::Cow;
use std::fmt;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};

use super::redact::Redaction;

/// Which value of a step is snapshotted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Of {
    /// The response body (the default).
    #[default]
    Response,
    /// The request body the step sent.
    Request,
    /// The notification body the step received.
    Notification,
    /// The page a `redirect` step's buyer was sent back to: `{ status, body }`.
    ReturnPage,
}

impl fmt::Display for Of {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Of::Response => "response",
            Of::Request => "request",
            Of::Notification => "notification",
            Of::ReturnPage => "return_page",
        })
    }
}

/// A step's snapshot check.
#[derive(Debug, Clone, PartialEq)]
pub struct SnapshotSpec {
    /// The snapshot's name, part of its file name.
    pub name: String,
    /// Per-step redactions, applied before the default ones.
    pub redact: Vec<Redaction>,
    /// Which value is snapshotted.
    pub of: Of,
}

impl SnapshotSpec {
    /// A snapshot of the response with no extra redactions (the short form `snapshot: NAME`).
    pub fn named(name: &str) -> SnapshotSpec {
        SnapshotSpec {
            name: name.to_owned(),
            redact: Vec::new(),
            of: Of::Response,
        }
    }
}

impl<'de> Deserialize<'de> for SnapshotSpec {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(SpecVisitor)
    }
}

impl JsonSchema for SnapshotSpec {
    fn schema_name() -> Cow<'static, str> {
        "Snapshot".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        let name = json_schema!({ "type": "string", "minLength": 1, "pattern": "^[^/\\\\]+$" });
        json_schema!({
            "description": "Pin the step's value in `__snapshots__/` beside the flow: a name, or `{ name, of, redact }`.",
            "anyOf": [
                name.clone(),
                {
                    "type": "object",
                    "additionalProperties": false,
                    "required": ["name"],
                    "properties": {
                        "name": name,
                        "of": {
                            "description": "Which value: the response (default), the request sent, the notification received, or the page a `redirect` returned to.",
                            "enum": ["response", "request", "notification", "return_page"]
                        },
                        "redact": {
                            "description": "Extra JSONPaths replaced before comparing: `$.path` (becomes [redacted]) or `{ $.path: \"[placeholder]\" }`.",
                            "type": "array",
                            "items": {
                                "anyOf": [
                                    { "type": "string" },
                                    { "type": "object", "minProperties": 1, "maxProperties": 1, "additionalProperties": { "type": "string" } }
                                ]
                            }
                        }
                    }
                }
            ]
        })
    }
}

struct SpecVisitor;

impl<'de> Visitor<'de> for SpecVisitor {
    type Value = SnapshotSpec;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a snapshot name, or a mapping with `name`, `of` and `redact`")
    }

    fn visit_str<E: de::Error>(self, name: &str) -> Result<SnapshotSpec, E> {
        check_name(name).map_err(E::custom)?;
        Ok(SnapshotSpec::named(name))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<SnapshotSpec, A::Error> {
        let mut name: Option<String> = None;
        let mut of = None;
        let mut redact = None;
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "name" if name.is_none() => name = Some(map.next_value()?),
                "of" if of.is_none() => of = Some(map.next_value::<Of>()?),
                "redact" if redact.is_none() => {
                    redact = Some(map.next_value::<RedactList>()?.0);
                }
                "name" | "of" | "redact" => {
                    return Err(de::Error::custom(format!("`{key}` is given twice")));
                }
                other => {
                    return Err(de::Error::unknown_field(other, &["name", "of", "redact"]));
                }
            }
        }
        let name = name.ok_or_else(|| de::Error::missing_field("name"))?;
        check_name(&name).map_err(de::Error::custom)?;
        Ok(SnapshotSpec {
            name,
            redact: redact.unwrap_or_default(),
            of: of.unwrap_or_default(),
        })
    }
}

/// A snapshot name must give a file name: not empty, no path separators.
fn check_name(name: &str) -> Result<(), String> {
    if name.trim().is_empty() {
        Err("the snapshot name is empty; give one, e.g. `snapshot: payment-result`".to_owned())
    } else if name.contains(['/', '\\']) {
        Err(format!(
            "the snapshot name `{name}` contains a path separator; snapshots always live in \
             `__snapshots__` beside the flow file"
        ))
    } else {
        Ok(())
    }
}

/// `redact:` — a list of JSONPaths, each alone or mapped to a placeholder.
struct RedactList(Vec<Redaction>);

impl<'de> Deserialize<'de> for RedactList {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_seq(RedactListVisitor)
    }
}

struct RedactListVisitor;

impl<'de> Visitor<'de> for RedactListVisitor {
    type Value = RedactList;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of JSONPaths, e.g. `[$.paymentResultInfo.issuerName]`")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RedactList, A::Error> {
        let mut out = Vec::new();
        while let Some(item) = seq.next_element::<RedactItem>()? {
            out.push(item.0);
        }
        Ok(RedactList(out))
    }
}

/// One `redact:` entry: `$.path` or `{ $.path: "[placeholder]" }`.
struct RedactItem(Redaction);

impl<'de> Deserialize<'de> for RedactItem {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(RedactItemVisitor)
    }
}

struct RedactItemVisitor;

impl<'de> Visitor<'de> for RedactItemVisitor {
    type Value = RedactItem;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSONPath, or a one-entry mapping `$.path: \"[placeholder]\"`")
    }

    fn visit_str<E: de::Error>(self, path: &str) -> Result<RedactItem, E> {
        Redaction::new(path, None)
            .map(RedactItem)
            .map_err(E::custom)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RedactItem, A::Error> {
        let Some((path, placeholder)) = map.next_entry::<String, String>()? else {
            return Err(de::Error::custom(
                "an empty mapping in `redact`; write `$.path: \"[placeholder]\"`",
            ));
        };
        if map.next_key::<String>()?.is_some() {
            return Err(de::Error::custom(
                "a `redact` entry maps one JSONPath to one placeholder; write one entry per path",
            ));
        }
        Redaction::new(&path, Some(&placeholder))
            .map(RedactItem)
            .map_err(de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(yaml: &str) -> Result<SnapshotSpec, String> {
        serde_saphyr::from_str::<SnapshotSpec>(yaml).map_err(|e| e.to_string())
    }

    #[test]
    fn short_form() {
        assert_eq!(
            parse("payment-result"),
            Ok(SnapshotSpec::named("payment-result"))
        );
    }

    #[test]
    fn long_form() {
        let spec = parse(
            "name: after-capture\nof: notification\nredact:\n  - $.a\n  - { $.b: \"[bee]\" }\n",
        )
        .unwrap();
        assert_eq!(spec.name, "after-capture");
        assert_eq!(spec.of, Of::Notification);
        assert_eq!(spec.redact[0].path(), "$.a");
        assert_eq!(spec.redact[0].placeholder(), "[redacted]");
        assert_eq!(spec.redact[1].placeholder(), "[bee]");
    }

    #[test]
    fn mistakes_are_explained() {
        assert!(
            parse("name: x\nof: body\n")
                .unwrap_err()
                .contains("response")
        );
        assert!(
            parse("name: x\ncolour: red\n")
                .unwrap_err()
                .contains("colour")
        );
        assert!(parse("of: request\n").unwrap_err().contains("name"));
        assert!(parse("a/b").unwrap_err().contains("path separator"));
        assert!(
            parse("name: x\nredact: [\"$.a[\"]\n")
                .unwrap_err()
                .contains("invalid JSONPath `$.a[`")
        );
        assert!(
            parse("name: x\nredact:\n  - { $.a: \"[a]\", $.b: \"[b]\" }\n")
                .unwrap_err()
                .contains("one entry per path")
        );
    }
}
