//! Queries: what an entry selects from an observation. A JSONPath (RFC 9535) on the body,
//! `status`, `headers` / `headers.<name>` (case-insensitive), or a bare name looked up in
//! [`Observed::extra`] (`landed_on`), possibly dotted into an object there
//! (`return_page.status`).

use std::collections::HashMap;
use std::sync::Arc;

use jsonpath_rust::parser::model::JpQuery;
use jsonpath_rust::parser::parse_json_path;
use jsonpath_rust::query::js_path_process;
use serde_json::Value;

use super::{ExpectError, Observed};

/// A query, compiled: made once when a flow is loaded, used on every try of its step.
#[derive(Debug, Clone)]
pub struct Query {
    /// The query as written.
    text: String,
    kind: Kind,
}

/// What a query reads.
#[derive(Debug, Clone)]
enum Kind {
    /// `$...`: a JSONPath on the body (shared: matrix cases copy their steps).
    Body(Arc<JpQuery>),
    /// `$.a.b.c`, a JSONPath of member names only: the body walked by those keys, without
    /// the JSONPath engine (most queries are this; it selects what [`Kind::Body`] would).
    Members(Arc<[String]>),
    /// `status`.
    Status,
    /// `headers`: every header as an object (repeated names give arrays).
    Headers,
    /// `headers.<name>`.
    Header(String),
    /// Any other bare name, possibly dotted (`return_page.status`).
    Extra(String),
}

/// The JSONPaths compiled while loading, by their text: a suite repeats the same few queries
/// on many steps and files, and compiling one costs far more than looking it up. It lives as
/// long as one load, and holds at most one entry per distinct query text of the files loaded.
#[derive(Debug, Default)]
pub struct Queries {
    paths: HashMap<String, Kind>,
}

impl Query {
    /// Compiles a query, reusing a JSONPath compiled before in `queries`; the error says what
    /// is wrong with it (a load error).
    pub fn compile(text: &str, queries: &mut Queries) -> Result<Query, ExpectError> {
        let kind = match queries.paths.get(text) {
            Some(path) => path.clone(),
            None => {
                let kind = parse(text)?;
                if let Kind::Body(_) | Kind::Members(_) = &kind {
                    queries.paths.insert(text.to_owned(), kind.clone());
                }
                kind
            }
        };
        Ok(Query {
            kind,
            text: text.to_owned(),
        })
    }

    /// The query as written.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The bare name it reads from [`Observed::extra`] (`ack`, `return_page.status`), or
    /// `None` for a JSONPath, `status` or `headers…`.
    pub fn bare_name(&self) -> Option<&str> {
        match &self.kind {
            Kind::Extra(name) => Some(name),
            Kind::Body(_) | Kind::Members(_) | Kind::Status | Kind::Headers | Kind::Header(_) => {
                None
            }
        }
    }

    /// Selects what the query names in `o`: `Ok(None)` when nothing is selected, one value
    /// when one node is, an array of the values when several are.
    pub(super) fn select(&self, o: &Observed) -> Result<Option<Value>, ExpectError> {
        Ok(match &self.kind {
            Kind::Body(path) => {
                let found = js_path_process(path, &o.body).map_err(|e| {
                    ExpectError::new(format!(
                        "failed to evaluate the JSONPath `{}`: {e}",
                        self.text
                    ))
                })?;
                let mut values: Vec<Value> = found.into_iter().map(|r| r.val.clone()).collect();
                match values.len() {
                    0 => None,
                    1 => values.pop(),
                    _ => Some(Value::Array(values)),
                }
            }
            Kind::Members(keys) => member(&o.body, keys).cloned(),
            Kind::Status => o.status.map(Value::from),
            Kind::Headers => {
                let mut map = serde_json::Map::new();
                for (name, value) in &o.headers {
                    let key = name.to_ascii_lowercase();
                    match map.get_mut(&key) {
                        Some(Value::Array(list)) => list.push(Value::from(value.as_str())),
                        Some(existing) => {
                            let first = existing.take();
                            *existing = Value::Array(vec![first, Value::from(value.as_str())]);
                        }
                        None => {
                            map.insert(key, Value::from(value.as_str()));
                        }
                    }
                }
                Some(Value::Object(map))
            }
            Kind::Header(name) => {
                let mut values: Vec<Value> = o
                    .headers
                    .iter()
                    .filter(|(n, _)| n.eq_ignore_ascii_case(name))
                    .map(|(_, v)| Value::from(v.as_str()))
                    .collect();
                match values.len() {
                    0 => None,
                    1 => values.pop(),
                    _ => Some(Value::Array(values)),
                }
            }
            Kind::Extra(name) => {
                let mut parts = name.split('.');
                let root = parts.next().and_then(|first| o.extra.get(first));
                parts
                    .try_fold(root, |value, key| Some(value.and_then(|v| v.get(key))))
                    .flatten()
                    .cloned()
            }
        })
    }
}

/// Checks a query at load time: a JSONPath compiles, a bare name is a plain identifier.
pub fn check_query(query: &str) -> Result<(), ExpectError> {
    parse(query).map(drop)
}

/// The bare name a query reads from [`Observed::extra`] (`ack`, `return_page.status`), or
/// `None` for a JSONPath, `status`, `headers…`, or a query that does not parse.
pub fn bare_name(query: &str) -> Option<&str> {
    if query.starts_with('$') {
        return None;
    }
    match parse(query) {
        Ok(Kind::Extra(_)) => Some(query),
        _ => None,
    }
}

/// Every value a JSONPath selects in `json`, in document order (what `apoflow query` prints).
pub fn select_all(jsonpath: &str, json: &Value) -> Result<Vec<Value>, ExpectError> {
    let path = match parse(jsonpath)? {
        Kind::Body(path) => path,
        Kind::Members(keys) => return Ok(member(json, &keys).cloned().into_iter().collect()),
        Kind::Status | Kind::Headers | Kind::Header(_) | Kind::Extra(_) => {
            return Err(ExpectError::new(format!("`{jsonpath}` is not a JSONPath"))
                .hint("a JSONPath starts with `$`, e.g. `$.result.resultCode` or `$.items[?@.price > 100]`"));
        }
    };
    let found = js_path_process(&path, json).map_err(|e| {
        ExpectError::new(format!("failed to evaluate the JSONPath `{jsonpath}`: {e}"))
    })?;
    Ok(found.into_iter().map(|r| r.val.clone()).collect())
}

fn parse(query: &str) -> Result<Kind, ExpectError> {
    if crate::template::is_template(query) {
        return Err(ExpectError::new(format!("the query `{query}` is a template")).hint(
            "queries are written as they are, not rendered; filter on the expected side instead, e.g. `$.transactions[*].transactionId: { contains: \"{{ refundId }}\" }`",
        ));
    }
    if let Some(keys) = members(query) {
        return Ok(Kind::Members(keys));
    }
    if query.starts_with('$') {
        return parse_json_path(query)
            .map(|path| Kind::Body(Arc::new(path)))
            .map_err(|e| jsonpath_error(query, &e.to_string()));
    }
    if query == "status" {
        return Ok(Kind::Status);
    }
    if query == "headers" {
        return Ok(Kind::Headers);
    }
    if let Some(name) = query.strip_prefix("headers.") {
        if name.is_empty() || !name.bytes().all(is_header_byte) {
            return Err(ExpectError::new(format!("`{query}` is not a header name"))
                .hint("write `headers.<name>`, e.g. `headers.content-type`"));
        }
        return Ok(Kind::Header(name.to_owned()));
    }
    let identifier = |part: &str| {
        let mut chars = part.chars();
        chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    if query.split('.').all(identifier) {
        Ok(Kind::Extra(query.to_owned()))
    } else {
        Err(ExpectError::new(format!("`{query}` is not a query")).hint(
            "a query is a JSONPath starting with `$` (e.g. `$.result.resultCode`), `status`, `headers.<name>`, or a name such as `landed_on`",
        ))
    }
}

/// The keys of a JSONPath made of member names only (`$.result.resultCode`: RFC 9535's
/// member-name shorthand, ASCII letters, digits and `_`, not starting with a digit).
fn members(query: &str) -> Option<Arc<[String]>> {
    let rest = query.strip_prefix("$.")?;
    let name = |part: &str| {
        part.bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
            && part.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    };
    rest.split('.')
        .map(|part| name(part).then(|| part.to_owned()))
        .collect()
}

/// The value `keys` lead to from `json`, each a member of an object.
fn member<'a>(json: &'a Value, keys: &[String]) -> Option<&'a Value> {
    keys.iter().try_fold(json, |v, key| v.as_object()?.get(key))
}

/// A token character of RFC 9110 (header names).
fn is_header_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// A readable message from the parser's (multi-line, pest-style) error text.
fn jsonpath_error(query: &str, text: &str) -> ExpectError {
    // pest renders ` --> 1:7` and `= expected ...`; keep the column and the last line.
    let column = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("--> 1:"))
        .and_then(|c| c.trim().parse::<usize>().ok());
    let reason = text
        .lines()
        .rev()
        .find_map(|l| l.trim().strip_prefix("= "))
        .map_or_else(
            || text.lines().next().unwrap_or_default().to_owned(),
            str::to_owned,
        );
    let at = column.map_or_else(String::new, |c| format!(" at character {c}"));
    ExpectError::new(format!("invalid JSONPath `{query}`{at}: {reason}")).hint(
        "JSONPath is RFC 9535: `$.a.b`, `$.items[0]`, `$.items[*].id`, `$.items[?@.type == 'CAPTURE'].status`; try it with `apoflow query`",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn observed() -> Observed {
        Observed {
            status: Some(200),
            headers: vec![
                ("Content-Type".into(), "application/json".into()),
                ("Set-Cookie".into(), "a=1".into()),
                ("set-cookie".into(), "b=2".into()),
            ],
            body: json!({"result": {"resultCode": "SUCCESS"}, "items": [{"id": 1}, {"id": 2}]}),
            extra: [
                ("landed_on".to_owned(), json!("https://m.example/back")),
                (
                    "return_page".to_owned(),
                    json!({"status": 200, "body": {"order": "paid"}}),
                ),
            ]
            .into_iter()
            .collect(),
        }
    }

    fn select(query: &str, o: &Observed) -> Result<Option<Value>, ExpectError> {
        Query::compile(query, &mut Queries::default())?.select(o)
    }

    #[test]
    fn a_jsonpath_is_compiled_once_per_load() {
        let mut queries = Queries::default();
        let a = Query::compile("$.a[0].b", &mut queries).unwrap();
        let b = Query::compile("$.a[0].b", &mut queries).unwrap();
        let c = Query::compile("$.a.b", &mut queries).unwrap();
        let d = Query::compile("$.a.b", &mut queries).unwrap();
        Query::compile("status", &mut queries).unwrap();
        let (Kind::Body(a), Kind::Body(b)) = (&a.kind, &b.kind) else {
            panic!("JSONPaths")
        };
        assert!(Arc::ptr_eq(a, b));
        let (Kind::Members(c), Kind::Members(d)) = (&c.kind, &d.kind) else {
            panic!("member paths")
        };
        assert!(Arc::ptr_eq(c, d));
        assert_eq!(queries.paths.len(), 2);
    }

    #[test]
    fn selects_one_several_or_nothing() {
        let o = observed();
        assert_eq!(
            select("$.result.resultCode", &o),
            Ok(Some(json!("SUCCESS")))
        );
        assert_eq!(select("$.items[*].id", &o), Ok(Some(json!([1, 2]))));
        assert_eq!(select("$.nope", &o), Ok(None));
        assert_eq!(select("status", &o), Ok(Some(json!(200))));
        assert_eq!(
            select("headers.content-type", &o),
            Ok(Some(json!("application/json")))
        );
        assert_eq!(
            select("headers.SET-COOKIE", &o),
            Ok(Some(json!(["a=1", "b=2"])))
        );
        assert_eq!(select("headers.x-none", &o), Ok(None));
        assert_eq!(
            select("landed_on", &o),
            Ok(Some(json!("https://m.example/back")))
        );
        assert_eq!(select("signature", &o), Ok(None));
        assert_eq!(select("return_page.status", &o), Ok(Some(json!(200))));
        assert_eq!(
            select("return_page.body.order", &o),
            Ok(Some(json!("paid")))
        );
        assert_eq!(select("return_page.nope", &o), Ok(None));
        assert_eq!(select("landed_on.x", &o), Ok(None));
        assert_eq!(bare_name("return_page.status"), Some("return_page.status"));
        assert_eq!(bare_name("$.a"), None);
        assert_eq!(bare_name("headers.x"), None);
        assert_eq!(
            select("headers", &o).unwrap().unwrap()["set-cookie"],
            json!(["a=1", "b=2"])
        );
    }

    #[test]
    fn member_paths_select_what_the_jsonpath_engine_selects() {
        let bodies = [
            json!({"a": {"b": {"c": 1}}, "_x1": [1], "n": null, "s": "t"}),
            json!([{"a": 1}]),
            json!({"a": [{"b": 2}]}),
            json!(null),
            json!("a"),
        ];
        for query in [
            "$.a",
            "$.a.b",
            "$.a.b.c",
            "$._x1",
            "$.n",
            "$.s.length",
            "$.nope.a",
        ] {
            let Ok(Kind::Members(keys)) = parse(query) else {
                panic!("{query} is a member path")
            };
            let engine = parse_json_path(query).unwrap();
            for body in &bodies {
                let by_engine: Vec<Value> = js_path_process(&engine, body)
                    .unwrap()
                    .into_iter()
                    .map(|r| r.val.clone())
                    .collect();
                let walked: Vec<Value> = member(body, &keys).cloned().into_iter().collect();
                assert_eq!(walked, by_engine, "{query} on {body}");
            }
        }
        for query in [
            "$", "$.a[0]", "$.a.*", "$..a", "$.a.1b", "$.a-b", "$.a..b", "$.", "$.ä",
        ] {
            assert!(!matches!(parse(query), Ok(Kind::Members(_))), "{query}");
        }
    }

    #[test]
    fn select_all_lists_every_match() {
        let o = observed();
        assert_eq!(
            select_all("$.items[*].id", &o.body),
            Ok(vec![json!(1), json!(2)])
        );
        assert_eq!(select_all("$.nope", &o.body), Ok(vec![]));
        assert!(select_all("status", &o.body).is_err());
    }

    #[test]
    fn bad_queries_are_load_errors() {
        let e = check_query("$.a[").unwrap_err();
        assert!(
            e.message.starts_with("invalid JSONPath `$.a[`"),
            "{}",
            e.message
        );
        assert!(check_query("$..").is_err());
        assert!(check_query("headers.").is_err());
        assert!(check_query("headers.a b").is_err());
        assert!(check_query("result-code").is_err());
        assert!(check_query("a..b").is_err());
        assert!(check_query("").is_err());
        assert!(check_query("$[?@.a == 'x'].b").is_ok());
        assert!(check_query("$[?@.a == '{{ id }}'].b").is_err());
    }
}
