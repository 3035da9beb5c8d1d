//! The variables templates see: a JSON object shared with minijinja without copying it. Each
//! lookup walks from the root, so preparing a scope costs nothing however many earlier
//! responses it holds, and rendering costs only what the template reads.

use std::sync::Arc;

use minijinja::value::{Enumerator, Object, ObjectRepr};
use serde_json::Value;

/// Variables for rendering (flow `vars`, captures, `steps.<id>.request|response`, …), prepared
/// once and rendered against many times.
#[derive(Debug, Clone)]
pub struct Scope {
    root: Arc<Value>,
}

impl Scope {
    /// A scope over `vars` (a JSON object; its keys are the variable names).
    pub fn new(vars: Value) -> Self {
        Scope {
            root: Arc::new(vars),
        }
    }

    /// A scope over variables already shared.
    pub fn from_arc(vars: Arc<Value>) -> Self {
        Scope { root: vars }
    }

    /// The variables.
    pub fn vars(&self) -> &Value {
        &self.root
    }

    /// The scope as a minijinja context.
    pub(super) fn context(&self) -> minijinja::Value {
        node(&self.root, Vec::new(), &self.root)
    }
}

/// One step of a path from the root.
#[derive(Debug, Clone)]
enum Seg {
    Key(String),
    Index(usize),
}

/// An object or array inside the root, found again by its path on each lookup.
#[derive(Debug)]
struct JsonNode {
    root: Arc<Value>,
    path: Vec<Seg>,
}

impl JsonNode {
    fn value(&self) -> &Value {
        let mut v: &Value = &self.root;
        for seg in &self.path {
            v = match (seg, v) {
                (Seg::Key(k), Value::Object(map)) => map.get(k).unwrap_or(&Value::Null),
                (Seg::Index(i), Value::Array(items)) => items.get(*i).unwrap_or(&Value::Null),
                _ => &Value::Null,
            };
        }
        v
    }

    fn child(&self, seg: Seg, v: &Value) -> minijinja::Value {
        let mut path = self.path.clone();
        path.push(seg);
        node(&self.root, path, v)
    }
}

/// The minijinja value of `v` (found at `path`): scalars directly, containers lazily.
fn node(root: &Arc<Value>, path: Vec<Seg>, v: &Value) -> minijinja::Value {
    match v {
        Value::Null => minijinja::Value::from(()),
        Value::Bool(b) => minijinja::Value::from(*b),
        Value::Number(n) => n
            .as_i64()
            .map(minijinja::Value::from)
            .or_else(|| n.as_u64().map(minijinja::Value::from))
            .or_else(|| n.as_f64().map(minijinja::Value::from))
            .unwrap_or_default(),
        Value::String(s) => minijinja::Value::from(s.as_str()),
        Value::Array(_) | Value::Object(_) => minijinja::Value::from_object(JsonNode {
            root: Arc::clone(root),
            path,
        }),
    }
}

impl Object for JsonNode {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        match self.value() {
            Value::Array(_) => ObjectRepr::Seq,
            _ => ObjectRepr::Map,
        }
    }

    fn get_value(self: &Arc<Self>, key: &minijinja::Value) -> Option<minijinja::Value> {
        match self.value() {
            Value::Object(map) => {
                let k = key.as_str()?;
                map.get(k).map(|v| self.child(Seg::Key(k.to_owned()), v))
            }
            Value::Array(items) => {
                let i = key.as_usize()?;
                items.get(i).map(|v| self.child(Seg::Index(i), v))
            }
            _ => None,
        }
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        match self.value() {
            Value::Object(map) => Enumerator::Values(
                map.keys()
                    .map(|k| minijinja::Value::from(k.as_str()))
                    .collect(),
            ),
            Value::Array(items) => Enumerator::Seq(items.len()),
            _ => Enumerator::Empty,
        }
    }

    fn enumerator_len(self: &Arc<Self>) -> Option<usize> {
        match self.value() {
            Value::Object(map) => Some(map.len()),
            Value::Array(items) => Some(items.len()),
            _ => Some(0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::Templates;
    use super::*;
    use serde_json::json;
    use std::collections::BTreeMap;

    fn render(text: &str) -> Value {
        let scope = Scope::new(json!({
            "o": {"a": [1, {"b": "x"}], "n": null, "f": 1.5, "big": u64::MAX},
            "list": ["p", "q"],
            "empty": [],
        }));
        Templates::new(BTreeMap::new())
            .render_str_in(text, &scope)
            .unwrap()
    }

    #[test]
    fn nested_lookups_loops_and_filters() {
        assert_eq!(render("{{ o.a[1].b }}"), json!("x"));
        assert_eq!(render("{{ o['a'][0] }}"), json!(1));
        assert_eq!(render("{{ o.n }}"), json!(null));
        assert_eq!(render("{{ o.f }}"), json!(1.5));
        assert_eq!(render("{{ o.big }}"), json!(u64::MAX));
        assert_eq!(
            render("{% for x in list %}{{ x }}{% endfor %}"),
            json!("pq")
        );
        assert_eq!(
            render("{% for k in o %}{{ k }},{% endfor %}"),
            json!("a,n,f,big,")
        );
        assert_eq!(render("{{ list | length }}"), json!(2));
        assert_eq!(render("{{ o.a | tojson }}"), json!("[1, {\"b\": \"x\"}]"));
        assert_eq!(render("{% if empty %}y{% else %}n{% endif %}"), json!("n"));
        assert_eq!(render("{{ o.a }}"), json!([1, {"b": "x"}]));
        assert_eq!(render("{{ list[5] is defined }}"), json!(false));
    }

    #[test]
    fn a_prepared_scope_is_not_copied() {
        let vars = Arc::new(json!({"a": {"b": 1}}));
        let scope = Scope::from_arc(Arc::clone(&vars));
        assert!(std::ptr::eq(scope.vars(), vars.as_ref()));
    }
}
