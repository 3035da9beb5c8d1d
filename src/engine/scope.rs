//! Per-case variables: what templates in a step can see.
//!
//! ```text
//! {
//!   <flow vars, rendered in order; --var overrides; matrix values>,
//!   <saved captures>,
//!   "steps":  { "<id>": { "request": {method, url, headers, body},
//!                         "response": {status, headers, body} } },
//!   "runner": { <values the runner provides: later notify_url, target.*> }
//! }
//! ```

use indexmap::IndexMap;
use serde_json::{Map, Value};

use crate::template::{TemplateError, Templates};

/// The variables of one running case (or of a partial, in a child scope).
#[derive(Debug, Clone)]
pub(crate) struct Scope {
    root: Value,
}

impl Scope {
    /// A scope holding only the runner-provided values (under `runner`) and an empty `steps`.
    pub(crate) fn new(runner: &Map<String, Value>) -> Self {
        let mut root = Map::new();
        root.insert("steps".to_owned(), Value::Object(Map::new()));
        root.insert("runner".to_owned(), Value::Object(runner.clone()));
        Scope {
            root: Value::Object(root),
        }
    }

    /// The whole scope as one JSON object, for rendering.
    pub(crate) fn value(&self) -> &Value {
        &self.root
    }

    /// Sets (or replaces) a variable.
    pub(crate) fn set(&mut self, name: &str, value: Value) {
        if let Value::Object(map) = &mut self.root {
            map.insert(name.to_owned(), value);
        }
    }

    /// A variable's value, if set.
    pub(crate) fn get(&self, name: &str) -> Option<&Value> {
        self.root.get(name)
    }

    /// Renders `vars` in order (each may use the ones before it), except the names in
    /// `overrides`, which are set as given (they are `--var` values or `with:` parameters).
    /// On error, returns the variable's name with the error.
    pub(crate) fn define(
        &mut self,
        templates: &Templates,
        vars: &IndexMap<String, Value>,
        overrides: &IndexMap<String, Value>,
    ) -> Result<(), (String, TemplateError)> {
        for (name, value) in overrides {
            self.set(name, value.clone());
        }
        for (name, value) in vars {
            if overrides.contains_key(name) {
                continue;
            }
            let rendered = templates
                .render_value(value, &self.root)
                .map_err(|e| (name.clone(), e))?;
            self.set(name, rendered);
        }
        Ok(())
    }

    /// Records what step `id` sent and received, as `steps.<id>.request|response`.
    pub(crate) fn record_step(&mut self, id: &str, request: Value, response: Value) {
        if let Some(Value::Object(steps)) = self.root.get_mut("steps") {
            let mut entry = Map::new();
            entry.insert("request".to_owned(), request);
            entry.insert("response".to_owned(), response);
            steps.insert(id.to_owned(), Value::Object(entry));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn vars_render_in_order_and_overrides_win() {
        let t = Templates::new(Default::default());
        let mut scope = Scope::new(&Map::new());
        let vars: IndexMap<String, Value> = [
            ("a".to_owned(), json!("1")),
            ("b".to_owned(), json!("{{ a }}-{{ c }}")),
            ("c".to_owned(), json!("never rendered")),
        ]
        .into_iter()
        .collect();
        let overrides: IndexMap<String, Value> =
            [("c".to_owned(), json!("x"))].into_iter().collect();
        scope.define(&t, &vars, &overrides).unwrap();
        assert_eq!(scope.get("b"), Some(&json!("1-x")));
        assert_eq!(scope.get("c"), Some(&json!("x")));
    }

    #[test]
    fn an_undefined_variable_names_the_var() {
        let t = Templates::new(Default::default());
        let mut scope = Scope::new(&Map::new());
        let vars: IndexMap<String, Value> = [("b".to_owned(), json!("{{ nope }}"))]
            .into_iter()
            .collect();
        let (name, e) = scope.define(&t, &vars, &IndexMap::new()).unwrap_err();
        assert_eq!(name, "b");
        assert!(e.message.contains("nope"), "{}", e.message);
    }

    #[test]
    fn steps_are_recorded_for_later_templates() {
        let mut scope = Scope::new(&Map::new());
        scope.record_step("pay", json!({"method": "POST"}), json!({"status": 200}));
        assert_eq!(
            scope.value()["steps"]["pay"]["response"]["status"],
            json!(200)
        );
    }
}
