//! What the `received` and `delivery` steps share: they poll a list of the embedded sandbox's
//! control API (the request journal, the deliveries), match each entry with the step's
//! rendered `match:` entries, and keep the few entries that came nearest to matching, to say
//! why nothing matched.
//!
//! ```text
//! every 100 ms until done or the deadline: GET /_sandbox/<list>?…&after=<last seq seen>
//!   each new entry → Matcher::misses → none: a match | some: Nearest::offer (keeps 3)
//! ```
//! Only entries after the last sequence number seen are fetched, so memory stays bounded by
//! the matches and the three nearest misses.

use crate::engine::error::StepError;
use std::collections::HashSet;
use std::time::Duration;

use serde_json::Value;
use tokio::time::Instant;

use super::StepCtx;
use super::http::{as_text, render_spanned};
use crate::expect::{AssertionResult, Detail, Entry, Observed};
use crate::flow::plan::Check;

/// The pause between two polls of a control API list.
pub(super) const POLL_EVERY: Duration = Duration::from_millis(100);

/// How many near misses a failure quotes.
const NEAREST: usize = 3;

/// A step's `match:` entries, their expected values rendered.
pub(super) struct Matcher {
    entries: Vec<(Entry, Value)>,
}

impl Matcher {
    /// Renders the expected values of the compiled `match:` entries (a run-time template
    /// error is an `Err`).
    pub(super) fn render(ctx: &StepCtx<'_>, matches: &[Check]) -> Result<Matcher, StepError> {
        let mut rendered = Vec::with_capacity(matches.len());
        for check in matches {
            let what = format!("match.{}", check.entry.query().text());
            rendered.push((
                check.entry.clone(),
                render_spanned(ctx, &check.expected, &what)?,
            ));
        }
        Ok(Matcher { entries: rendered })
    }

    /// The entries that do not hold for `o`; none when `o` matches.
    pub(super) fn misses(&self, o: &Observed) -> Vec<AssertionResult> {
        self.entries
            .iter()
            .map(|(entry, expected)| entry.eval(Some(expected), o, Detail::Failures))
            .filter(|r| !r.passed)
            .collect()
    }

    /// The id a sandbox listing can be narrowed by: the string an entry on exactly `query` must
    /// equal (a plain string expected value is equality, nothing else is), unless it shows
    /// masking (`*`): such an id was copied from masked output and can match only a masked
    /// listing (the control API's), never the sandbox's index of ids, so it is left to the
    /// match.
    pub(super) fn narrowing(&self, query: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(entry, _)| entry.query().text() == query)
            .and_then(|(_, expected)| expected.as_str())
            .filter(|id| !id.contains('*'))
    }

    /// ` with $.a = x, $.b = y`, or nothing without entries.
    pub(super) fn describe(&self) -> String {
        if self.entries.is_empty() {
            return String::new();
        }
        let conditions: Vec<String> = self
            .entries
            .iter()
            .map(|(entry, v)| format!("{} = {}", entry.query().text(), as_text(v)))
            .collect();
        format!(" with {}", conditions.join(", "))
    }
}

/// The entries that came nearest to matching: the fewest failing `match:` entries, the latest
/// first among equals.
#[derive(Default)]
pub(super) struct Nearest {
    /// `(failing entries, label)`, at most [`NEAREST`].
    kept: Vec<(Vec<AssertionResult>, String)>,
}

impl Nearest {
    /// Considers an entry that did not match: `label` names it, `misses` says why.
    pub(super) fn offer(&mut self, label: String, misses: Vec<AssertionResult>) {
        // Later entries go before earlier ones with as many misses.
        let at = self
            .kept
            .iter()
            .position(|(m, _)| misses.len() <= m.len())
            .unwrap_or(self.kept.len());
        if at < NEAREST {
            self.kept.insert(at, (misses, label));
            self.kept.truncate(NEAREST);
        }
    }

    /// The near misses, one per line with why each did not match, indented for a step error;
    /// empty when there were none.
    pub(super) fn describe(&self) -> String {
        let mut text = String::new();
        for (misses, label) in &self.kept {
            text.push_str(&format!("\n    {label}"));
            for m in misses {
                text.push_str(&format!("\n      {}: {}", m.query, m.message));
            }
        }
        if !text.is_empty() {
            text.insert_str(0, "\n  nearest:");
        }
        text
    }
}

/// Waits until the next poll, but not past `until`.
pub(super) async fn pause(until: Instant) {
    let next = Instant::now() + POLL_EVERY;
    tokio::time::sleep_until(next.min(until)).await;
}

/// The `seq` of a control API list entry.
pub(super) fn seq(entry: &Value) -> Option<u64> {
    entry.get("seq").and_then(Value::as_u64)
}

/// Which entries of a control API list were seen already: by `seq` (the list is then asked
/// only for newer ones with `after=`), or by `id` from a sandbox that numbers none (which
/// sends the whole list every time).
#[derive(Default)]
pub(super) struct Cursor {
    last: Option<u64>,
    ids: HashSet<String>,
}

impl Cursor {
    /// The last `seq` seen, for `after=`.
    pub(super) fn last(&self) -> Option<u64> {
        self.last
    }

    /// Whether `entry` was not seen before; remembers it.
    pub(super) fn is_new(&mut self, entry: &Value) -> bool {
        match seq(entry) {
            Some(s) if self.last.is_some_and(|last| s <= last) => false,
            Some(s) => {
                self.last = Some(s);
                true
            }
            None => self.ids.insert(entry["id"].to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn matcher(entries: &[(&str, Value)]) -> Matcher {
        Matcher {
            entries: entries
                .iter()
                .map(|(q, v)| {
                    (
                        Entry::compile(q, v, (1, 1), &mut Default::default()).unwrap(),
                        v.clone(),
                    )
                })
                .collect(),
        }
    }

    fn observed(body: Value) -> Observed {
        Observed {
            body,
            ..Observed::default()
        }
    }

    #[test]
    fn misses_say_which_entries_do_not_hold() {
        let m = matcher(&[
            ("$.request.paymentRequestId", json!("R1")),
            ("$.request.paymentAmount.value", json!("4200")),
        ]);
        let hit = observed(
            json!({"request": {"paymentRequestId": "R1", "paymentAmount": {"value": "4200"}}}),
        );
        assert!(m.misses(&hit).is_empty());
        let miss = observed(
            json!({"request": {"paymentRequestId": "R2", "paymentAmount": {"value": "4200"}}}),
        );
        let why = m.misses(&miss);
        assert_eq!(why.len(), 1);
        assert_eq!(why[0].query, "$.request.paymentRequestId");
        assert_eq!(why[0].message, "expected string <R1>, got string <R2>");
        assert_eq!(
            m.describe(),
            " with $.request.paymentRequestId = R1, $.request.paymentAmount.value = 4200"
        );
        assert_eq!(matcher(&[]).describe(), "");
    }

    #[test]
    fn the_cursor_sees_each_entry_once() {
        let mut c = Cursor::default();
        assert!(c.is_new(&json!({"seq": 1})));
        assert!(c.is_new(&json!({"seq": 3})));
        assert!(!c.is_new(&json!({"seq": 2})));
        assert!(!c.is_new(&json!({"seq": 3})));
        assert_eq!(c.last(), Some(3));
        // Without seq: by id.
        assert!(c.is_new(&json!({"id": 7})));
        assert!(!c.is_new(&json!({"id": 7})));
        assert!(c.is_new(&json!({"id": "7"})));
    }

    #[test]
    fn nearest_keeps_the_fewest_misses_latest_first() {
        let m = matcher(&[("$.a", json!(1)), ("$.b", json!(2))]);
        let mut nearest = Nearest::default();
        for (label, body) in [
            ("#1", json!({"a": 0, "b": 0})),
            ("#2", json!({"a": 1, "b": 0})),
            ("#3", json!({"a": 0, "b": 0})),
            ("#4", json!({"a": 1, "b": 9})),
            ("#5", json!({"a": 0, "b": 0})),
        ] {
            nearest.offer(label.to_owned(), m.misses(&observed(body)));
        }
        let labels: Vec<&str> = nearest.kept.iter().map(|(_, l)| l.as_str()).collect();
        assert_eq!(labels, ["#4", "#2", "#5"]);
        let text = nearest.describe();
        assert!(
            text.starts_with(
                "\n  nearest:\n    #4\n      $.b: expected integer <2>, got integer <9>"
            ),
            "{text}"
        );
        assert_eq!(Nearest::default().describe(), "");
    }
}

/// A fake control API list and what a step needs to run against it as the embedded sandbox,
/// for the `received` and `delivery` steps' tests.
#[cfg(test)]
pub(super) mod fake {
    use std::collections::HashMap;
    use std::path::PathBuf;
    use std::sync::{Arc, Mutex};

    use axum::extract::Query;
    use serde_json::{Map, Value, json};

    use super::super::StepCtx;
    use crate::apo::client::Client;
    use crate::apo::target::Target;
    use crate::diag::SourceFile;
    use crate::engine::Apo;
    use crate::engine::scope::Scope;
    use crate::expect::Entry;
    use crate::flow::plan::Check;
    use crate::template::Templates;

    /// The entries the fake lists; a test may add to them while a step waits.
    pub(crate) type Entries = Arc<Mutex<Vec<Value>>>;

    /// What a step runs with.
    pub(crate) struct Parts {
        templates: Templates,
        project: crate::project::Project,
        file: Arc<SourceFile>,
        scope: Scope,
        apo: Apo,
    }

    /// The compiled form of a test action's `match:` entries.
    pub(crate) fn checks(matches: &crate::flow::model::Entries<Value>) -> Vec<Check> {
        matches
            .iter()
            .map(|(query, expected)| Check {
                entry: Entry::compile(
                    &query.value,
                    &expected.value,
                    (1, 1),
                    &mut Default::default(),
                )
                .unwrap(),
                expected: expected.clone(),
            })
            .collect()
    }

    impl Parts {
        pub(crate) fn ctx(&self) -> StepCtx<'_> {
            StepCtx {
                templates: &self.templates,
                client: self.apo.client.http(),
                root: std::path::Path::new("."),
                project: &self.project,
                file: &self.file,
                scope: &self.scope,
                apo: &self.apo,
                detail: crate::expect::Detail::All,
            }
        }
    }

    /// The queries a fake was asked, in order.
    pub(crate) type Asked = Arc<Mutex<Vec<HashMap<String, String>>>>;

    /// Serves `GET path` as `{ key: [entries with seq > ?after=, and for each `(param, field)`
    /// of `filters`, ?param= equal to the entry's `field`] }` on 127.0.0.1:0; the parts to run
    /// a step against it, and the queries it is asked.
    pub(crate) async fn start(
        path: &'static str,
        key: &'static str,
        filters: &'static [(&'static str, &'static str)],
        entries: Entries,
    ) -> (Parts, Asked) {
        let shared = entries.clone();
        let asked: Asked = Arc::default();
        let log = asked.clone();
        let list = move |Query(q): Query<HashMap<String, String>>| {
            let entries = shared.clone();
            log.lock().unwrap().push(q.clone());
            async move {
                let after = q.get("after").and_then(|a| a.parse::<u64>().ok());
                let listed: Vec<Value> = entries
                    .lock()
                    .unwrap()
                    .iter()
                    .filter(|e| after.is_none_or(|a| e["seq"].as_u64().is_some_and(|s| s > a)))
                    .filter(|e| {
                        filters.iter().all(|(param, field)| {
                            q.get(*param).is_none_or(|w| e[*field] == w.as_str())
                        })
                    })
                    .cloned()
                    .collect();
                axum::Json(json!({ key: listed, "dropped": 0 }))
            }
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        let app = axum::Router::new().route(path, axum::routing::get(list));
        tokio::spawn(async move { axum::serve(listener, app).await });
        (parts(&url, Map::new()), asked)
    }

    /// The parts to run a step against the embedded sandbox at `url`, with these variables.
    pub(crate) fn parts(url: &str, vars: Map<String, Value>) -> Parts {
        Parts {
            templates: Templates::new(Default::default()),
            project: crate::project::Project::anywhere(),
            file: Arc::new(SourceFile::new(PathBuf::from("t.yaml"), String::new())),
            scope: Scope::new(&vars),
            apo: Apo {
                client: Client::new().unwrap(),
                target: Target::embedded(url.parse().unwrap()),
                inbox: Default::default(),
                listings: None,
            },
        }
    }
}
