//! Per-case variables: what templates in a step can see.
//!
//! ```text
//! {
//!   <flow vars, rendered in order; --var overrides; matrix values>,
//!   <saved captures>,
//!   "steps":  { "<id>": { "request": {method, url, headers, body},
//!                         "response": {status, headers, body} } },
//!   <values the runner provides: notify_url, redirect_url, target: {name, client_id,
//!    endpoint}, sandbox, merchant: {url, client_id} (with a merchant under test); set first,
//!    so vars may override>
//! }
//! ```
//!
//! Rendering hands the template engine only the part of the scope that the text names: a
//! top-level variable when its name appears in the text as a word, and `steps.<id>` when the
//! id does (all of `steps` when the text indexes it with brackets, `steps[...]`). The whole scope would
//! be converted for every string otherwise, and it grows with every step (`steps.<id>` holds
//! whole requests and responses), which made long flows quadratic.

use indexmap::IndexMap;
use serde_json::{Map, Value};

use crate::template::{TemplateError, Templates, is_template};

/// The variables of one running case (or of a partial, in a child scope).
#[derive(Debug, Clone)]
pub(crate) struct Scope {
    root: Value,
}

impl Scope {
    /// A scope holding only the runner-provided values (as top-level variables, the way a flow
    /// reads `{{ notify_url }}`) and an empty `steps`.
    pub(crate) fn new(runner: &Map<String, Value>) -> Self {
        let mut root = runner.clone();
        root.insert("steps".to_owned(), Value::Object(Map::new()));
        Scope {
            root: Value::Object(root),
        }
    }

    /// Renders every string of `v` against the variables its templates name.
    pub(crate) fn render(&self, templates: &Templates, v: &Value) -> Result<Value, TemplateError> {
        let mut texts = Vec::new();
        template_texts(v, &mut texts);
        if texts.is_empty() {
            return Ok(v.clone());
        }
        templates.render_value(v, &self.view(&texts))
    }

    /// The variables that `texts` name (see the module doc).
    fn view(&self, texts: &[&str]) -> Value {
        let Value::Object(root) = &self.root else {
            return Value::Null;
        };
        // Looking the words of the text up keeps this independent of the scope's size.
        let words: Vec<&str> = texts.iter().flat_map(|t| identifiers(t)).collect();
        let mut view = Map::new();
        for word in &words {
            if *word != "steps"
                && !view.contains_key(*word)
                && let Some(value) = root.get(*word)
            {
                view.insert((*word).to_owned(), value.clone());
            }
        }
        let steps = match root.get("steps") {
            Some(all) if texts.iter().any(|t| t.contains("steps[")) => all.clone(),
            Some(Value::Object(steps)) => Value::Object(
                words
                    .iter()
                    .filter_map(|w| steps.get(*w).map(|s| ((*w).to_owned(), s.clone())))
                    .collect(),
            ),
            _ => Value::Object(Map::new()),
        };
        view.insert("steps".to_owned(), steps);
        Value::Object(view)
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
            let rendered = self
                .render(templates, value)
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

/// The template strings in `v` (object keys are not rendered).
fn template_texts<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
    match v {
        Value::String(s) if is_template(s) => out.push(s),
        Value::Array(items) => items.iter().for_each(|i| template_texts(i, out)),
        Value::Object(map) => map.values().for_each(|i| template_texts(i, out)),
        _ => {}
    }
}

/// The identifier-like words of a text (`steps.pay.body` gives `steps`, `pay`, `body`).
fn identifiers(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
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
        let t = Templates::new(Default::default());
        let mut scope = Scope::new(&Map::new());
        scope.record_step("pay", json!({"method": "POST"}), json!({"status": 200}));
        scope.record_step("other", json!({}), json!({"status": 500}));
        let v = json!([
            "{{ steps.pay.response.status }}",
            "{{ steps['pay'].request.method }}"
        ]);
        assert_eq!(scope.render(&t, &v).unwrap(), json!([200, "POST"]));
    }

    #[test]
    fn the_view_holds_what_the_text_names() {
        let mut scope = Scope::new(&Map::new());
        scope.set("amount", json!(1));
        scope.set("amount_2", json!(2));
        scope.set("a", json!(3));
        scope.record_step("pay", json!({}), json!({}));
        scope.record_step("payment", json!({}), json!({}));
        let view = scope.view(&["{{ amount }} {{ steps.pay.response }}"]);
        assert_eq!(
            view,
            json!({"amount": 1, "steps": {"pay": {"request": {}, "response": {}}}})
        );
        let words: Vec<_> = identifiers("{{ x.a + amount_2 }}").collect();
        assert_eq!(words, ["x", "a", "amount_2"]);
    }
}
