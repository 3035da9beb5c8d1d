//! Whole-file checks after parsing, so that nothing runs before everything is known good:
//! exactly one action per step, ids, variable names, tags, matrix, `with:` / polling fields,
//! HTTP methods and bodies, every `expect:` / `until:` entry and `save:` query, and the syntax
//! of every template. `use:` targets are resolved by the loader.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use indexmap::{IndexMap, IndexSet};
use serde_json::Value;
use serde_saphyr::Spanned;

use super::action::ActionKind;
use super::error::{LoadError, LoadErrorKind};
use super::matrix;
use super::model::{
    ApoCall, DeliveryAction, DurationSpec, Entries, Flow, HttpAction, MAX_TIMES, NotifyAction,
    NotifyMerchantAction, ReceivedAction, RedirectAction, SandboxAction, Step,
};
use super::plan::{Capture, Check, Checks};
use super::tags::is_valid_tag;
use crate::apo::Endpoint;
use crate::diag::SourceFile;
use crate::expect::{Entry, Queries, Query};
use crate::project::{InputError, MAX_BODY_FILE_BYTES, MAX_KEY_FILE_BYTES, Project};
use crate::template::{Templates, is_template};

/// The variable name the runner reserves for earlier steps' requests and responses.
const RESERVED: &str = "steps";

/// The variables the runner gives every flow (see `engine::scope`).
const RUNNER_VARIABLES: &[&str] = &[
    "notify_url",
    "redirect_url",
    "target",
    "sandbox",
    "merchant",
    "steps",
];

/// The runner variable that describes the target (see `engine::scope`).
const TARGET_VARIABLE: &str = "target";

/// The methods an `http` step may use.
const METHODS: &[&str] = &[
    "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE", "CONNECT",
];

/// The answers on the 3-D Secure page.
const THREE_DS: &[&str] = &["pass", "fail", "cancel"];

/// How the receiver may acknowledge a notification.
const ACKS: &[&str] = &["success", "fail", "wrong_format", "none"];

/// The notifications the sandbox delivers (`delivery: { type }`).
const NOTIFY_TYPES: &[&str] = &[
    "PAYMENT_RESULT",
    "PAYMENT_PENDING",
    "CAPTURE_RESULT",
    "REFUND_RESULT",
];

/// Provided names whose value may be an object, so queries may go deeper
/// (`return_page.body.order.status`).
const OPEN_NAMES: &[&str] = &["return_page.body"];

/// Whether the bare name `name` is among `provided`, or inside one of the [`OPEN_NAMES`].
fn is_provided(name: &str, provided: &[&str]) -> bool {
    provided.contains(&name)
        || OPEN_NAMES.iter().any(|open| {
            provided.contains(open)
                && name
                    .strip_prefix(open)
                    .is_some_and(|rest| rest.starts_with('.'))
        })
}

/// Inline card fields; the first three are required.
const CARD_FIELDS: &[&str] = &["number", "expiry", "cvv", "holder"];

/// Checks one parsed file; `role` says what it is loaded as.
pub(crate) fn check_file(
    source: &Arc<SourceFile>,
    flow: &Flow,
    role: Role,
    templates: &Templates,
    cli_vars: &[String],
    project: &Project,
    queries: &mut Queries,
) -> Checked {
    let uses_partials = flow.steps.iter().any(|s| s.value.use_flow.is_some());
    let step_ids = (role == Role::Runnable && !uses_partials).then(|| {
        flow.steps
            .iter()
            .filter_map(|s| s.value.id.as_ref().map(|id| id.value.clone()))
            .collect()
    });
    // A partial reads its callers' variables, known only where it is used.
    let known = (role == Role::Runnable).then(|| {
        let mut known: HashSet<String> = RUNNER_VARIABLES.iter().map(|&n| n.to_owned()).collect();
        known.extend(templates.globals().map(str::to_owned));
        known.extend(flow.vars.keys().cloned());
        known.extend(flow.matrix.keys().cloned());
        known.extend(cli_vars.iter().cloned());
        known
    });
    // What `card: "{{ name }}"` may read: matrix values, else a variable's value.
    let mut card_sources: HashMap<String, (Vec<Value>, (u64, u64))> = flow
        .vars
        .iter()
        .map(|(name, v)| (name.clone(), (vec![v.value.clone()], at(v))))
        .collect();
    card_sources.extend(
        flow.matrix
            .iter()
            .map(|(name, v)| (name.clone(), (v.value.clone(), at(v)))),
    );
    let mut c = Checker {
        source,
        templates,
        queries,
        project,
        step_ids,
        known,
        card_sources,
        reads_target: false,
        compiled: Vec::with_capacity(flow.steps.len()),
        errors: Vec::new(),
    };
    c.flow(flow, role);
    Checked {
        errors: c.errors,
        reads_target: c.reads_target,
        checks: c.compiled,
    }
}

/// What checking a file found.
pub(crate) struct Checked {
    /// Every error, in the order found.
    pub(crate) errors: Vec<LoadError>,
    /// Whether a template of the file reads the runner's `target` variable: the embedded
    /// sandbox must then run although no step may call it (`{{ target.endpoint }}`).
    pub(crate) reads_target: bool,
    /// Each step's compiled checks, in step order (complete when there are no errors).
    pub(crate) checks: Vec<Arc<Checks>>,
}

/// What a file is loaded as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Role {
    /// A flow that runs: it needs a name and steps.
    Runnable,
    /// A partial, included by `use:` (or named explicitly with a `_` file name).
    Partial,
}

/// Whether `name` is a plain identifier (what templates can write as `{{ name }}`).
pub(crate) fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The 1-based `(line, column)` of a spanned value.
pub(crate) fn at<T>(s: &Spanned<T>) -> (u64, u64) {
    (s.referenced.line(), s.referenced.column())
}

struct Checker<'a> {
    source: &'a Arc<SourceFile>,
    templates: &'a Templates,
    /// The JSONPaths compiled so far in this load.
    queries: &'a mut Queries,
    /// Where the files a flow names may be.
    project: &'a Project,
    /// The step ids that `steps.<id>` may name, when they are all known: in a runnable flow
    /// without `use:` (a partial's ids and a partial's callers are known only at run time).
    /// A set: every template string of the flow looks its `steps.<id>` names up in it.
    step_ids: Option<IndexSet<String>>,
    /// The variables templates may read at this point of the flow: the runner's, the
    /// template globals, `vars`, `matrix`, `--var` names and what earlier steps `save:`.
    /// `None` where they cannot be known statically: in a partial, and from the first `use:`
    /// on (a partial's saves come back to the caller).
    known: Option<HashSet<String>>,
    /// Literal values a `card: "{{ name }}"` may take, by name, with where they are written.
    card_sources: HashMap<String, (Vec<Value>, (u64, u64))>,
    /// Whether a template reads the runner's `target` (its endpoint is the started sandbox's).
    reads_target: bool,
    /// Each step's compiled checks, in step order.
    compiled: Vec<Arc<Checks>>,
    errors: Vec<LoadError>,
}

impl Checker<'_> {
    fn push(&mut self, (line, column): (u64, u64), width: usize, kind: LoadErrorKind) {
        self.errors
            .push(LoadError::new(line, column, width as u64, kind));
    }

    /// Where a map key is written, searching from `from` (a value's position); `from` itself
    /// when the key cannot be found.
    fn key_at(&self, from: (u64, u64), key: &str) -> (u64, u64) {
        let (mut line, mut column) = from;
        while let Some((l, c)) = self.source.find_from(line, column, key) {
            let chars: Vec<char> = self
                .source
                .line_text(l)
                .unwrap_or_default()
                .chars()
                .collect();
            let start = usize::try_from(c.saturating_sub(1)).unwrap_or(usize::MAX);
            if is_key_at(&chars, start, key.chars().count()) {
                return (l, c);
            }
            line = l;
            column = c + 1;
        }
        from
    }

    fn flow(&mut self, flow: &Flow, role: Role) {
        let blank = self
            .source
            .text
            .lines()
            .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#'));
        if blank {
            self.push((1, 1), 1, LoadErrorKind::EmptyFile);
            return;
        }
        if role == Role::Runnable {
            match &flow.name {
                None => self.push((1, 1), 1, LoadErrorKind::NameRequired),
                Some(n) if n.value.trim().is_empty() => {
                    self.push(at(n), 1, LoadErrorKind::NameRequired);
                }
                Some(_) => {}
            }
            if flow.steps.is_empty() {
                let pos = self.key_at((1, 1), "steps");
                self.push(pos, 1, LoadErrorKind::NoSteps);
            }
        }
        for tag in &flow.tags {
            if !is_valid_tag(&tag.value) {
                self.push(
                    at(tag),
                    tag.value.chars().count(),
                    LoadErrorKind::BadTag(tag.value.clone()),
                );
            }
        }
        for (name, value) in &flow.vars {
            let pos = self.key_before(at(value), name);
            self.var_name(pos, name, "variable");
            self.templates_in(&value.value, at(value));
        }
        self.matrix(flow, role);
        if role == Role::Partial {
            for (key, set) in [
                ("retries", flow.retries.is_some()),
                ("retry_live", flow.retry_live),
            ] {
                if set {
                    let pos = self.key_at((1, 1), key);
                    self.push(pos, key.len(), LoadErrorKind::RetriesInPartial(key));
                }
            }
        }
        let mut ids: HashMap<&str, u64> = HashMap::new();
        for step in &flow.steps {
            if let Some(id) = &step.value.id {
                if !is_identifier(&id.value) {
                    self.push(
                        at(id),
                        id.value.chars().count(),
                        LoadErrorKind::BadStepId(id.value.clone()),
                    );
                } else if let Some(first_line) = ids.get(id.value.as_str()) {
                    self.push(
                        at(id),
                        id.value.chars().count(),
                        LoadErrorKind::DuplicateStepId {
                            id: id.value.clone(),
                            first_line: *first_line,
                        },
                    );
                } else {
                    ids.insert(&id.value, id.referenced.line());
                }
            }
            self.step(step);
            if step.value.use_flow.is_some() {
                self.known = None;
            }
            if let Some(known) = self.known.as_mut() {
                known.extend(step.value.save.keys().map(|k| k.value.clone()));
            }
        }
    }

    /// Checks a variable name written at `pos`.
    fn var_name(&mut self, pos: (u64, u64), name: &str, what: &'static str) {
        if !is_identifier(name) {
            self.push(
                pos,
                name.chars().count(),
                LoadErrorKind::BadVarName {
                    what,
                    name: name.to_owned(),
                },
            );
        } else if name == RESERVED {
            self.push(
                pos,
                name.len(),
                LoadErrorKind::ReservedVarName(name.to_owned()),
            );
        }
    }

    /// Where the key of a value is written: the last `key:` at or before the value (a key
    /// always precedes its value, on the same line or above); the value itself when not found.
    fn key_before(&self, value_at: (u64, u64), key: &str) -> (u64, u64) {
        let (value_line, value_column) = value_at;
        let key_chars: Vec<char> = key.chars().collect();
        let lowest = value_line.saturating_sub(200).max(1);
        for line in (lowest..=value_line).rev() {
            let Some(text) = self.source.line_text(line) else {
                continue;
            };
            let chars: Vec<char> = text.chars().collect();
            let end = if line == value_line {
                usize::try_from(value_column.saturating_sub(1))
                    .unwrap_or(usize::MAX)
                    .min(chars.len())
            } else {
                chars.len()
            };
            let found = (0..end).rev().find(|&start| {
                chars[start..].starts_with(&key_chars) && is_key_at(&chars, start, key_chars.len())
            });
            if let Some(start) = found {
                return (line, start as u64 + 1);
            }
        }
        value_at
    }

    fn matrix(&mut self, flow: &Flow, role: Role) {
        if flow.matrix.is_empty() {
            return;
        }
        if role == Role::Partial {
            let pos = self.key_at((1, 1), "matrix");
            self.push(pos, 6, LoadErrorKind::MatrixInPartial);
            return;
        }
        for (name, values) in &flow.matrix {
            let pos = self.key_before(at(values), name);
            self.var_name(pos, name, "matrix variable");
            if values.value.is_empty() {
                let pos = self.key_before(at(values), name);
                self.push(
                    pos,
                    name.chars().count(),
                    LoadErrorKind::MatrixEmpty(name.clone()),
                );
            }
            if flow.vars.contains_key(name) {
                let pos = self.key_before(at(values), name);
                self.push(
                    pos,
                    name.chars().count(),
                    LoadErrorKind::MatrixClash(name.clone()),
                );
            }
            for v in &values.value {
                self.templates_in(v, at(values));
            }
        }
        let plain: IndexMap<String, Vec<Value>> = flow
            .matrix
            .iter()
            .map(|(k, v)| (k.clone(), v.value.clone()))
            .collect();
        let n = matrix::count(&plain);
        if n > matrix::MAX_CASES {
            let pos = self.key_at((1, 1), "matrix");
            self.push(pos, 6, LoadErrorKind::MatrixTooBig(n));
        }
    }

    fn step(&mut self, spanned: &Spanned<Arc<Step>>) {
        let step = &spanned.value;
        let here = at(spanned);
        let actions: Vec<(ActionKind, (u64, u64))> = ActionKind::all_of(step).collect();
        match actions.as_slice() {
            [] => self.push(here, 1, LoadErrorKind::NoAction),
            [_] => {}
            [.., (second, pos)] => {
                let second = second.name();
                let key = self.key_before(*pos, second);
                let names = actions.iter().map(|(k, _)| k.name()).collect();
                self.push(key, second.len(), LoadErrorKind::SeveralActions(names));
            }
        }
        if let [(kind @ (ActionKind::Sleep | ActionKind::Use), _)] = actions.as_slice() {
            let action = kind.name();
            let firsts = [
                ("expect", step.expect.keys().next()),
                ("save", step.save.keys().next()),
                ("until", step.until.as_ref().and_then(|u| u.keys().next())),
            ];
            for (key, first) in firsts {
                if let Some(first) = first {
                    let pos = self.key_before(at(first), key);
                    self.push(
                        pos,
                        key.len(),
                        LoadErrorKind::NothingToCheck { action, key },
                    );
                }
            }
            if let Some(snapshot) = &step.snapshot {
                let key = "snapshot";
                let pos = self.key_before(at(snapshot), key);
                self.push(
                    pos,
                    key.len(),
                    LoadErrorKind::NothingToCheck { action, key },
                );
            }
        }
        if let (Some(snapshot), [(kind, _)]) = (&step.snapshot, actions.as_slice()) {
            use crate::snapshot::Of;
            let of = snapshot.value.of;
            let missing = match of {
                Of::Notification => !matches!(
                    kind,
                    ActionKind::Notify
                        | ActionKind::Delivery
                        | ActionKind::NotifyMerchant
                        | ActionKind::Sleep
                        | ActionKind::Use
                ),
                Of::ReturnPage => step
                    .redirect
                    .as_ref()
                    .is_none_or(|r| !r.value.fetches_return_page()),
                Of::Response | Of::Request => false,
            };
            if missing && !matches!(kind, ActionKind::Sleep | ActionKind::Use) {
                let pos = self.key_before(at(snapshot), "snapshot");
                self.push(pos, 8, LoadErrorKind::SnapshotOfMissing(kind.name(), of));
            }
        }
        if let [(kind, _)] = actions.as_slice()
            && !matches!(kind, ActionKind::Sleep | ActionKind::Use)
        {
            let (action, names) = (kind.name(), kind.provides());
            let queries = step
                .expect
                .keys()
                .chain(step.until.iter().flat_map(Entries::keys))
                .chain(step.save.values());
            for query in queries {
                self.bare_names(query, action, names);
            }
        }
        if let Some(every) = &step.every
            && every.value.fixed().is_some_and(|d| d.is_zero())
        {
            let width = usize::try_from(every.referenced.span().len()).unwrap_or(1);
            self.push(at(every), width, LoadErrorKind::ZeroEvery);
        }
        if let Some(with) = &step.with {
            if step.use_flow.is_none() {
                let pos = self.key_before(at(with), "with");
                self.push(pos, 4, LoadErrorKind::WithWithoutUse);
            }
            for (name, value) in &with.value {
                // The parameters are inside the `with:` map, after its start.
                let pos = self.key_at(at(with), name);
                self.var_name(pos, name, "parameter");
                self.templates_in(value, at(with));
            }
        }
        if step.until.is_none() {
            if let Some(every) = &step.every {
                let pos = self.key_before(at(every), "every");
                self.push(pos, 5, LoadErrorKind::PollWithoutUntil("every"));
            }
            if let Some(within) = &step.within {
                let pos = self.key_before(at(within), "within");
                self.push(pos, 6, LoadErrorKind::PollWithoutUntil("within"));
            }
        }
        if let Some(u) = &step.use_flow
            && is_template(&u.value)
        {
            self.push(at(u), u.value.chars().count(), LoadErrorKind::UseTemplated);
        }
        self.durations([&step.sleep, &step.every, &step.within]);
        if let Some(http) = &step.http {
            self.http(&http.value);
        }
        for endpoint in Endpoint::ALL {
            if let Some(call) = step.apo_call(endpoint) {
                self.apo_call(endpoint.step_name(), call);
            }
        }
        if let Some(r) = &step.redirect {
            self.redirect(r);
        }
        if let Some(n) = &step.notify {
            self.notify(&n.value);
        }
        if let Some(s) = &step.sandbox {
            self.sandbox(s);
        }
        if let Some(r) = &step.received {
            self.received(&r.value);
        }
        if let Some(d) = &step.delivery {
            self.delivery(&d.value);
        }
        if let Some(n) = &step.notify_merchant {
            self.notify_merchant(n);
        }
        let mut checks = Checks {
            expect: self.entries(&step.expect),
            ..Checks::default()
        };
        if let Some(until) = &step.until {
            checks.until = self.entries(until);
        }
        let matches = [
            step.notify.as_ref().map(|n| &n.value.matches),
            step.received.as_ref().map(|r| &r.value.matches),
            step.delivery.as_ref().map(|d| &d.value.matches),
        ];
        for m in matches.into_iter().flatten() {
            checks.matches.extend(self.entries(m));
        }
        for (name, query) in &step.save {
            self.var_name(at(name), &name.value, "variable");
            match Query::compile(&query.value, self.queries) {
                Ok(compiled) => checks.save.push(Capture {
                    var: name.value.clone(),
                    query: compiled,
                    at: at(query),
                }),
                Err(e) => self.push(
                    at(query),
                    query.value.chars().count(),
                    LoadErrorKind::Expect(e),
                ),
            }
        }
        self.compiled.push(Arc::new(checks));
    }

    fn http(&mut self, http: &HttpAction) {
        self.durations([&http.timeout]);
        if let Some(m) = &http.method
            && !is_template(&m.value)
            && !METHODS.contains(&m.value.as_str())
        {
            self.push(
                at(m),
                m.value.chars().count(),
                LoadErrorKind::BadMethod(m.value.clone()),
            );
        }
        if !is_template(&http.url.value) {
            let reason = match url::Url::parse(&http.url.value) {
                Ok(u) if matches!(u.scheme(), "http" | "https") => None,
                Ok(u) => Some(format!("the scheme is `{}`, not http or https", u.scheme())),
                Err(e) => Some(e.to_string()),
            };
            if let Some(reason) = reason {
                self.push(
                    at(&http.url),
                    http.url.value.chars().count(),
                    LoadErrorKind::BadUrl {
                        url: http.url.value.clone(),
                        reason,
                    },
                );
            }
        }
        self.headers(&http.headers);
        let bodies: Vec<(&'static str, (u64, u64))> = [
            http.json.as_ref().map(|j| ("json", at(j))),
            http.form.as_ref().map(|f| ("form", at(f))),
            http.body
                .as_ref()
                .filter(|_| http.body_file.is_none())
                .map(|b| ("body", at(b))),
            http.body_file.as_ref().map(|b| ("body_file", at(b))),
        ]
        .into_iter()
        .flatten()
        .collect();
        if let [(first, _), (second, pos), ..] = bodies.as_slice() {
            let key = self.key_before(*pos, second);
            self.push(
                key,
                second.len(),
                LoadErrorKind::SeveralBodies(first, second),
            );
        }
        if let Some(file) = &http.body_file {
            self.existing_file(file, MAX_BODY_FILE_BYTES, |path, reason| {
                LoadErrorKind::BodyFileNotFound { path, reason }
            });
        }
        for s in [Some(&http.url), http.method.as_ref()]
            .into_iter()
            .flatten()
        {
            self.template_at(&s.value, at(s));
        }
        for v in http.query.values() {
            self.templates_in(&v.value, at(v));
        }
        for v in [http.json.as_ref(), http.body.as_ref()]
            .into_iter()
            .flatten()
        {
            self.templates_in(&v.value, at(v));
        }
        if let Some(form) = &http.form {
            for v in form.value.values() {
                self.templates_in(v, at(form));
            }
        }
    }

    /// The key `second` of an action conflicts with `first`, both present.
    fn conflict(
        &mut self,
        action: &'static str,
        first: &'static str,
        second: (&'static str, (u64, u64)),
    ) {
        let (name, pos) = second;
        let key = self.key_before(pos, name);
        self.push(
            key,
            name.len(),
            LoadErrorKind::Conflicting(action, first, name),
        );
    }

    /// A file that must exist (checked when its path is not a template).
    fn existing_file(
        &mut self,
        file: &Spanned<String>,
        limit: u64,
        kind: fn(String, String) -> LoadErrorKind,
    ) {
        if is_template(&file.value) {
            return self.template_at(&file.value, at(file));
        }
        let path = std::path::Path::new(&file.value);
        let found =
            crate::project::check_regular(path, limit).and_then(|()| self.project.contains(path));
        if let Err(e) = found {
            self.push(
                at(file),
                file.value.chars().count(),
                kind(file.value.clone(), input_reason(&e)),
            );
        }
    }

    /// A choice among fixed values (or a template).
    fn choice(
        &mut self,
        key: &'static str,
        value: &Spanned<String>,
        allowed: &'static [&'static str],
    ) {
        if is_template(&value.value) {
            self.template_at(&value.value, at(value));
        } else if !allowed.contains(&value.value.as_str()) {
            self.push(
                at(value),
                value.value.chars().count(),
                LoadErrorKind::BadChoice {
                    key,
                    value: value.value.clone(),
                    allowed,
                },
            );
        }
    }

    fn apo_call(&mut self, action: &'static str, call: &Spanned<ApoCall>) {
        let c = &call.value;
        if let Some(raw) = &c.raw_body {
            for (name, pos) in [
                c.body.as_ref().map(|b| ("body", at(b))),
                c.body_file.as_ref().map(|b| ("body_file", at(b))),
            ]
            .into_iter()
            .flatten()
            {
                self.conflict(action, "raw_body", (name, pos));
            }
            self.template_at(&raw.value, at(raw));
        }
        if let (Some(sign), Some(with)) = (&c.sign, &c.sign_with)
            && !sign.value
        {
            self.conflict(action, "sign", ("sign_with", at(with)));
        }
        if let Some(body) = &c.body {
            match &body.value {
                Value::Object(_) => {}
                Value::String(s) if is_template(s) => {}
                _ => self.push(at(body), 1, LoadErrorKind::BodyNotAMap),
            }
            self.templates_in(&body.value, at(body));
        }
        if let Some(file) = &c.body_file {
            self.existing_file(file, MAX_BODY_FILE_BYTES, |path, reason| {
                LoadErrorKind::BodyFileNotFound { path, reason }
            });
        }
        if let Some(key) = &c.sign_with {
            self.existing_file(key, MAX_KEY_FILE_BYTES, |path, reason| {
                LoadErrorKind::KeyFileNotFound { path, reason }
            });
        }
        self.headers(&c.headers);
    }

    /// Header names are tokens; values are templates (or `null` to remove one).
    fn headers(&mut self, headers: &IndexMap<String, Spanned<Value>>) {
        for (name, value) in headers {
            if name.is_empty() || !name.bytes().all(is_token_byte) {
                let pos = self.key_before(at(value), name);
                self.push(
                    pos,
                    name.chars().count(),
                    LoadErrorKind::BadHeaderName(name.clone()),
                );
            }
            self.templates_in(&value.value, at(value));
        }
    }

    fn redirect(&mut self, r: &Spanned<RedirectAction>) {
        let (spanned, r) = (r, &r.value);
        match (&r.url, &r.from) {
            (Some(url), Some(from)) => {
                let pos = self.key_before(at(from), "from");
                let pos = pos.max(self.key_before(at(url), "url"));
                self.push(pos, 4, LoadErrorKind::RedirectStart { both: true });
            }
            (None, None) => {
                let pos = self.key_before(at(spanned), "redirect");
                self.push(pos, 8, LoadErrorKind::RedirectStart { both: false });
            }
            _ => {}
        }
        for start in [&r.url, &r.from].into_iter().flatten() {
            self.template_at(&start.value, at(start));
        }
        let others = [
            r.card.as_ref().map(|v| ("card", at(v))),
            r.save_card.as_ref().map(|v| ("save_card", at(v))),
            r.three_ds.as_ref().map(|v| ("three_ds", at(v))),
        ];
        if r.manual.as_ref().is_some_and(|m| m.value) {
            let abandon = r.abandon.as_ref().map(|v| ("abandon", at(v)));
            for other in others.into_iter().chain([abandon]).flatten() {
                self.conflict("redirect", "manual", other);
            }
        } else if r.abandon.as_ref().is_some_and(|a| a.value) {
            for other in others.into_iter().flatten() {
                self.conflict("redirect", "abandon", other);
            }
        }
        if let Some(card) = &r.card {
            self.card(card);
        }
        if let Some(save) = &r.save_card {
            match &save.value {
                Value::Bool(_) => {}
                Value::String(s) if is_template(s) => self.template_at(s, at(save)),
                _ => self.push(at(save), 1, LoadErrorKind::NotAFlag("save_card")),
            }
        }
        if let Some(t) = &r.three_ds {
            self.choice("three_ds", t, THREE_DS);
        }
    }

    fn card(&mut self, card: &Spanned<Value>) {
        let problem = match &card.value {
            Value::String(s) if s.trim().is_empty() => Some("the name is empty".to_owned()),
            Value::String(s) if !is_template(s) => {
                if let Some(kind) = unknown_card(s) {
                    self.push(at(card), s.chars().count(), kind);
                }
                None
            }
            Value::String(s) => {
                self.card_values(s);
                None
            }
            Value::Object(map) => {
                let missing: Vec<&str> = CARD_FIELDS[..3]
                    .iter()
                    .copied()
                    .filter(|f| !map.contains_key(*f))
                    .collect();
                let unknown: Vec<&str> = map
                    .keys()
                    .map(String::as_str)
                    .filter(|k| !CARD_FIELDS.contains(k))
                    .collect();
                let not_text: Vec<&str> = map
                    .iter()
                    .filter(|(_, v)| !v.is_string())
                    .map(|(k, _)| k.as_str())
                    .collect();
                if let Some(u) = unknown.first() {
                    Some(format!(
                        "unknown card field `{u}` (fields: number, expiry, cvv, holder)"
                    ))
                } else if !missing.is_empty() {
                    Some(format!("missing {}", missing.join(", ")))
                } else {
                    not_text
                        .first()
                        .map(|k| format!("`{k}` must be a quoted string"))
                }
            }
            _ => Some("expected a name or a map".to_owned()),
        };
        if let Some(reason) = problem {
            self.push(at(card), 1, LoadErrorKind::BadCard(reason));
        }
        self.templates_in(&card.value, at(card));
    }

    /// A `card:` that is exactly `{{ name }}` of a matrix entry or a variable: each of its
    /// literal values must be a built-in card, found at load rather than on the hosted page.
    fn card_values(&mut self, template: &str) {
        let Some(name) = template
            .trim()
            .strip_prefix("{{")
            .and_then(|s| s.strip_suffix("}}"))
            .map(str::trim)
            .filter(|n| is_identifier(n))
        else {
            return;
        };
        let Some((values, pos)) = self.card_sources.get(name).cloned() else {
            return;
        };
        for value in values {
            if let Value::String(card) = &value
                && !is_template(card)
                && let Some(kind) = unknown_card(card)
            {
                let place = self.source.find_from(pos.0, pos.1, card).unwrap_or(pos);
                self.push(place, card.chars().count(), kind);
            }
        }
    }

    fn notify(&mut self, n: &NotifyAction) {
        self.durations([&n.within]);
        self.choice("type", &n.notify_type, NOTIFY_TYPES);
        if let Some(ack) = &n.ack {
            self.choice("ack", ack, ACKS);
        }
        if let Some(count) = &n.count
            && count.value == 0
        {
            self.push(at(count), 1, LoadErrorKind::ZeroCount("count"));
        }
        for query in n.matches.keys() {
            self.bare_names(query, "notify", &[]);
        }
        if let Some(o) = &n.or_inquiry
            && o.value
            && !n.matches.keys().any(|k| k.value == "$.paymentId")
        {
            let pos = self.key_before(at(o), "or_inquiry");
            self.push(pos, 10, LoadErrorKind::InquiryWithoutPaymentId);
        }
    }

    fn sandbox(&mut self, s: &Spanned<SandboxAction>) {
        let a = &s.value;
        let reset = a.reset.as_ref().is_some_and(|r| r.value);
        if !reset && a.faults.is_none() && a.advance_clock.is_none() {
            self.push(at(s), 1, LoadErrorKind::EmptySandboxStep);
        }
        self.durations([&a.advance_clock]);
        if let Some(of) = &a.of {
            if a.advance_clock.is_none() {
                let pos = self.key_before(at(of), "of");
                self.push(pos, 2, LoadErrorKind::OfWithoutAdvanceClock);
            }
            self.template_at(&of.value, at(of));
        }
        if let Some(faults) = &a.faults {
            let f = &faults.value;
            self.durations([&f.delay]);
            for scope in [&f.payment_id, &f.client_id].into_iter().flatten() {
                self.template_at(&scope.value, at(scope));
            }
        }
    }

    fn received(&mut self, r: &ReceivedAction) {
        self.durations([&r.within, &r.settle]);
        if let Some(background) = r.background.as_ref().filter(|b| b.value)
            && r.settle.is_none()
        {
            let pos = self.key_before(at(background), "background");
            self.push(pos, 10, LoadErrorKind::BackgroundWithoutSettle);
        }
        // The APIs a merchant's call in the sandbox's journal can be: the APO call steps.
        self.name_in(&r.api, "api", &crate::apo::Endpoint::STEP_NAMES);
        for query in r.matches.keys() {
            self.bare_names(query, "received", &["signature"]);
        }
        if let Some(client) = &r.client_id {
            self.template_at(&client.value, at(client));
        }
    }

    fn delivery(&mut self, d: &DeliveryAction) {
        self.durations([&d.within]);
        self.name_in(&d.notify_type, "type", NOTIFY_TYPES);
        for query in d.matches.keys() {
            self.bare_names(query, "delivery", &[]);
        }
        if let Some(attempts) = &d.attempts
            && attempts.value == 0
        {
            self.push(at(attempts), 1, LoadErrorKind::ZeroCount("attempts"));
        }
    }

    fn notify_merchant(&mut self, n: &Spanned<NotifyMerchantAction>) {
        let a = &n.value;
        self.durations([&a.within]);
        match (&a.replay, &a.body) {
            (Some(_), Some(body)) => {
                let pos = self.key_before(at(body), "body");
                self.push(pos, 4, LoadErrorKind::NotifyMerchantSource { both: true });
            }
            (None, None) => {
                self.push(
                    at(n),
                    1,
                    LoadErrorKind::NotifyMerchantSource { both: false },
                );
            }
            (Some(replay), None) => {
                self.name_in(replay, "replay", NOTIFY_TYPES);
                if a.of.is_none() {
                    let pos = self.key_before(at(replay), "replay");
                    self.push(pos, 6, LoadErrorKind::ReplayWithoutOf);
                }
            }
            (None, Some(body)) => {
                self.templates_in(&body.value, at(body));
                let extra = [
                    ("of", a.of.as_ref().map(at)),
                    ("change", a.change.keys().next().map(at)),
                ];
                for (key, first) in extra {
                    if let Some(first) = first {
                        let pos = self.key_before(first, key);
                        self.push(
                            pos,
                            key.len(),
                            LoadErrorKind::Conflicting("notify_merchant", "body", key),
                        );
                    }
                }
            }
        }
        if let Some(forge) = &a.forge {
            self.choice("forge", forge, crate::apo::notify::Forge::NAMES);
        }
        if let Some(times) = &a.times
            && !(1..=MAX_TIMES).contains(&times.value)
        {
            let width = usize::try_from(times.referenced.span().len()).unwrap_or(1);
            self.push(
                at(times),
                width,
                LoadErrorKind::TimesOutOfRange(times.value),
            );
        }
        for text in [&a.of, &a.url, &a.client_id].into_iter().flatten() {
            self.template_at(&text.value, at(text));
        }
        for (path, value) in &a.change {
            let is_path = path.value.starts_with('$')
                && jsonpath_rust::parser::parse_json_path(&path.value).is_ok();
            if !is_path {
                self.push(
                    at(path),
                    path.value.chars().count().max(1),
                    LoadErrorKind::ChangeNotAPath(path.value.clone()),
                );
            }
            self.templates_in(&value.value, at(value));
        }
    }

    /// A fixed name (not a template): one of `allowed`, with a did-you-mean.
    fn name_in(
        &mut self,
        value: &Spanned<String>,
        key: &'static str,
        allowed: &'static [&'static str],
    ) {
        if !allowed.contains(&value.value.as_str()) {
            self.push(
                at(value),
                value.value.chars().count().max(1),
                LoadErrorKind::BadChoice {
                    key,
                    value: value.value.clone(),
                    allowed,
                },
            );
        }
    }

    /// A bare-name query (`ack`) must be one that `action` provides.
    fn bare_names(
        &mut self,
        query: &Spanned<String>,
        action: &'static str,
        provided: &'static [&'static str],
    ) {
        if let Some(name) = crate::expect::bare_name(&query.value)
            && !is_provided(name, provided)
        {
            self.push(
                at(query),
                query.value.chars().count(),
                LoadErrorKind::NotProvided {
                    name: name.to_owned(),
                    action,
                    provided,
                },
            );
        }
    }

    /// Checks `query: expected` entries and compiles the good ones.
    fn entries(&mut self, entries: &Entries<Value>) -> Vec<Check> {
        let mut compiled = Vec::with_capacity(entries.len());
        for (query, expected) in entries {
            match Entry::compile(&query.value, &expected.value, at(query), self.queries) {
                Ok(entry) => compiled.push(Check {
                    entry,
                    expected: expected.clone(),
                }),
                Err(e) => {
                    let (pos, width) = match &e.at_key {
                        Some(key) => (self.key_at(at(expected), key), key.chars().count()),
                        None => (at(query), query.value.chars().count()),
                    };
                    self.push(pos, width, LoadErrorKind::Expect(e));
                }
            }
            self.templates_in(&expected.value, at(expected));
        }
        compiled
    }

    /// Checks the syntax of every string in a value written at `pos`.
    /// Checks the template syntax of durations written as templates.
    fn durations<'d>(&mut self, ds: impl IntoIterator<Item = &'d Option<Spanned<DurationSpec>>>) {
        for d in ds.into_iter().flatten() {
            if let DurationSpec::Template(text) = &d.value {
                self.template_at(text, at(d));
            }
        }
    }

    fn templates_in(&mut self, v: &Value, pos: (u64, u64)) {
        match v {
            Value::String(s) => self.template_at(s, pos),
            Value::Array(items) => items.iter().for_each(|i| self.templates_in(i, pos)),
            Value::Object(map) => map.values().for_each(|i| self.templates_in(i, pos)),
            Value::Null | Value::Bool(_) | Value::Number(_) => {}
        }
    }

    /// Checks one string's template syntax; the caret goes where the error is when the text can
    /// be found in the file.
    fn template_at(&mut self, text: &str, pos: (u64, u64)) {
        // Plain text (most strings) has nothing to check.
        if !is_template(text) {
            return;
        }
        let e = match self.templates.check(text) {
            Ok(()) => {
                self.step_references(text, pos);
                return self.undefined_names(text, pos);
            }
            Err(e) => e,
        };
        let first_line = text.lines().next().unwrap_or_default();
        let (mut place, mut width) = (pos, 1);
        if let Some(found) = self.source.find_from(pos.0, pos.1, first_line)
            && !first_line.is_empty()
        {
            place = found;
            // The range is in bytes and may fall inside a character (a stray BOM, say).
            let inside = e
                .range
                .clone()
                .and_then(|r| Some((first_line.get(..r.start)?, first_line.get(r)?)));
            if let Some((before, at)) = inside {
                place.1 += before.chars().count() as u64;
                width = at.chars().count().max(1);
            } else {
                width = first_line.chars().count();
            }
        }
        self.push(place, width, LoadErrorKind::Template(e));
    }
}

impl Checker<'_> {
    /// Checks that every variable a template reads is defined at this point of the flow, and
    /// every function it calls exists (when the flow's variables are known statically).
    fn undefined_names(&mut self, text: &str, pos: (u64, u64)) {
        let empty = HashSet::new();
        // Where variables cannot be known statically, only functions and filters are checked.
        let (known, check_variables) = match &self.known {
            Some(known) => (known, true),
            None => (&empty, false),
        };
        let variables = self.templates.variables(text);
        let roots = variables.iter().filter_map(|v| v.split('.').next());
        if roots.clone().any(|root| root == TARGET_VARIABLE) {
            self.reads_target = true;
        }
        let mut unknown: Vec<String> = roots
            .filter(|name| !known.contains(*name))
            .filter(|name| check_variables || text.contains(&format!("{name}(")))
            .filter(|name| !self.templates.globals().any(|g| g == *name))
            .map(str::to_owned)
            .collect();
        unknown.dedup();
        let mut found = Vec::new();
        for name in unknown {
            let called = format!("{name}(");
            let function = text.contains(&called);
            let kind = if function {
                let close =
                    crate::diag::did_you_mean(&name, self.templates.globals()).map(str::to_owned);
                LoadErrorKind::UnknownFunction {
                    name: name.clone(),
                    close,
                }
            } else {
                // Functions are not variables: a close function name is no suggestion here.
                let variables = known
                    .iter()
                    .map(String::as_str)
                    .filter(|k| !self.templates.globals().any(|g| g == *k));
                let close = crate::diag::did_you_mean(&name, variables).map(str::to_owned);
                LoadErrorKind::UndefinedVariable {
                    name: name.clone(),
                    close,
                }
            };
            let place = self
                .source
                .find_from(pos.0, pos.1, if function { &called } else { &name })
                .unwrap_or(pos);
            found.push((place, name.chars().count(), kind));
        }
        for filter in self.templates.unknown_filters(text) {
            let close = self.templates.close_filter(&filter);
            let place = self.source.find_from(pos.0, pos.1, &filter).unwrap_or(pos);
            found.push((
                place,
                filter.chars().count(),
                LoadErrorKind::UnknownFilter {
                    name: filter,
                    close,
                },
            ));
        }
        for (place, width, kind) in found {
            self.push(place, width, kind);
        }
    }

    /// Checks that every `steps.<id>` a template reads names a step of the flow.
    fn step_references(&mut self, text: &str, pos: (u64, u64)) {
        let Some(known) = &self.step_ids else {
            return;
        };
        let mut unknown: Vec<String> = self
            .templates
            .variables(text)
            .iter()
            .filter_map(|v| {
                v.strip_prefix("steps.")?
                    .split('.')
                    .next()
                    .map(str::to_owned)
            })
            .filter(|id| !known.contains(id))
            .collect();
        unknown.dedup();
        if unknown.is_empty() {
            return;
        }
        let known: Vec<String> = known.iter().cloned().collect();
        for id in unknown {
            let needle = format!("steps.{id}");
            let place = self.source.find_from(pos.0, pos.1, &needle).unwrap_or(pos);
            self.push(
                place,
                needle.chars().count(),
                LoadErrorKind::UnknownStepId {
                    id,
                    known: known.clone(),
                },
            );
        }
    }
}

/// The error for a card name that the built-in test cards (fixtures/cards.yaml, compiled in)
/// do not list; `None` when they do.
fn unknown_card(name: &str) -> Option<LoadErrorKind> {
    let cards = crate::sandbox::cards::all();
    if cards.iter().any(|c| c.name == name) {
        return None;
    }
    let close = crate::diag::did_you_mean(name, cards.iter().map(|c| c.name.as_str()));
    Some(LoadErrorKind::UnknownCard {
        name: name.to_owned(),
        close: close.map(str::to_owned),
    })
}

/// Whether `chars[start..start + len]` is written as a map key: preceded by nothing, space,
/// `{`, `,`, `-` or a quote, and followed (after an optional closing quote) by `:`.
fn is_key_at(chars: &[char], start: usize, len: usize) -> bool {
    let before_ok = start == 0
        || chars
            .get(start - 1)
            .is_some_and(|c| c.is_whitespace() || matches!(c, '{' | ',' | '\'' | '"' | '-'));
    let mut i = start + len;
    if matches!(chars.get(i), Some('\'' | '"')) {
        i += 1;
    }
    while chars.get(i).is_some_and(|c| *c == ' ') {
        i += 1;
    }
    before_ok && chars.get(i) == Some(&':')
}

/// A token character of RFC 9110 (header names).
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// A short reason for an I/O error.
pub(crate) fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".to_owned(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_owned(),
        _ => e.to_string(),
    }
}

/// Why a named file could not be used, in the words of [`io_reason`] for I/O errors.
pub(crate) fn input_reason(e: &InputError) -> String {
    match e {
        InputError::Io(e) => io_reason(e),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use std::path::PathBuf;

    fn errors(yaml: &str, role: Role) -> Vec<(u64, u64, String)> {
        let source = Arc::new(SourceFile::new(PathBuf::from("t.yaml"), yaml.to_owned()));
        let flow = super::super::model::parse(yaml).unwrap();
        check_file(
            &source,
            &flow,
            role,
            &Templates::new(BTreeMap::new()),
            &[],
            &Project::anywhere(),
            &mut Queries::default(),
        )
        .errors
        .into_iter()
        .map(|e| {
            let d = e.into_diagnostic(&source);
            (d.line, d.column, d.title)
        })
        .collect()
    }

    #[test]
    fn a_good_flow_has_no_errors() {
        let yaml = "name: ok\ntags: [smoke]\nvars: { a: 1 }\nmatrix: { card: [visa, mc] }\nsteps:\n  - id: one\n    http: { url: \"http://x/{{ a }}\", method: POST, json: { k: \"{{ card }}\" } }\n    expect:\n      status: 200\n      $.a: { gte: 1 }\n    save: { b: $.b }\n  - sleep: 1ms\n";
        assert_eq!(errors(yaml, Role::Runnable), vec![]);
    }

    #[test]
    fn step_errors_point_at_their_keys() {
        let yaml = "name: x\nsteps:\n  - id: a\n    http: { url: \"http://x\" }\n    sleep: 1s\n  - id: a\n    with: { p: 1 }\n    every: 1s\n    sleep: 1s\n  - expect:\n      $.x: { matchs: y }\n";
        let e = errors(yaml, Role::Runnable);
        assert_eq!(
            e,
            vec![
                (
                    5,
                    5,
                    "a step has exactly one action; this one has `http` and `sleep`".to_owned()
                ),
                (6, 9, "duplicate step id `a`".to_owned()),
                (7, 5, "`with:` belongs to a `use:` step".to_owned()),
                (
                    8,
                    5,
                    "`every:` belongs to a polling step with `until:`".to_owned()
                ),
                (10, 5, "a step needs an action".to_owned()),
                (11, 14, "unknown predicate `matchs`".to_owned()),
            ]
        );
    }

    #[test]
    fn flow_errors() {
        let e = errors(
            "tags: [a b]\nvars: { steps: 1, bad-name: 2 }\n",
            Role::Runnable,
        );
        let titles: Vec<_> = e.iter().map(|(_, _, t)| t.as_str()).collect();
        assert_eq!(
            titles,
            [
                "a flow needs a `name`",
                "a flow needs at least one step",
                "`a b` cannot be a tag",
                "`steps` is a reserved variable name",
                "`bad-name` cannot be a variable name",
            ]
        );
        assert!(errors("steps:\n  - sleep: 1s\n", Role::Partial).is_empty());
    }

    #[test]
    fn bad_parameter_names_point_at_the_key() {
        let e = errors(
            "name: x\nsteps:\n  - use: _p.yaml\n    with:\n      ok: 1\n      not-ok: 2\n",
            Role::Runnable,
        );
        assert_eq!(
            e,
            vec![(6, 7, "`not-ok` cannot be a parameter name".to_owned())]
        );
    }

    #[test]
    fn steps_references_name_existing_ids() {
        let yaml = "name: x\nsteps:\n  - id: pay\n    http: { url: \"http://h/{{ steps.pay.response.body.id }}\" }\n  - http: { url: \"http://h/{{ steps.pya.response.body.id }}\" }\n";
        let e = errors(yaml, Role::Runnable);
        assert_eq!(e, vec![(5, 31, "no step has the id `pya`".to_owned())]);
        // With `use:`, ids may come from partials: not checked here.
        let yaml = "name: x\nsteps:\n  - use: _p.yaml\n  - http: { url: \"http://h/{{ steps.login.response.body.id }}\" }\n";
        assert!(errors(yaml, Role::Runnable).is_empty());
    }

    #[test]
    fn a_template_error_inside_a_multibyte_character_does_not_panic() {
        // Found by the loader's property test: a byte range that ends inside a stray BOM.
        let yaml = "name: x\nsteps:\n  - http: { url: \"buyer-{{\u{feff}ndom_digits(6) }}\" }\n";
        assert_eq!(errors(yaml, Role::Runnable).len(), 1);
    }

    #[test]
    fn undefined_variables_and_functions_are_named_where_they_are_read() {
        let yaml = "name: x\nvars: { amount: \"1\" }\nmatrix: { card: [a] }\nsteps:\n  - id: pay\n    http: { url: \"http://h/{{ amount }}/{{ card }}/{{ notify_url }}/{{ uuid() }}\" }\n    save: { paymentId: $.id }\n  - http: { url: \"http://h/{{ paymnetId }}/{{ paymentId }}/{{ uuidd() }}/{{ steps.pay.response.status }}\" }\n";
        assert_eq!(
            errors(yaml, Role::Runnable),
            vec![
                (8, 31, "undefined variable `paymnetId`".to_owned()),
                (8, 63, "unknown function `uuidd`".to_owned()),
            ]
        );
        // A save is known only after its step; `{% set %}` and loop variables are declared.
        let yaml = "name: x\nsteps:\n  - http: { url: \"http://h/{{ later }}\" }\n  - http: { url: \"http://h/{% for i in range(2) %}{{ i }}{% endfor %}\" }\n    save: { later: $.x }\n";
        assert_eq!(
            errors(yaml, Role::Runnable),
            vec![(3, 31, "undefined variable `later`".to_owned())]
        );
        // From the first `use:` on, a partial's saves may define anything; a partial reads its
        // callers' variables: neither is checked here.
        let yaml = "name: x\nsteps:\n  - use: _p.yaml\n    with: { a: \"{{ nope }}\" }\n  - http: { url: \"http://h/{{ from_partial }}\" }\n";
        assert_eq!(
            errors(yaml, Role::Runnable),
            vec![(4, 20, "undefined variable `nope`".to_owned())]
        );
        let yaml = "steps:\n  - http: { url: \"http://h/{{ from_caller }}\" }\n";
        assert!(errors(yaml, Role::Partial).is_empty());
    }

    #[test]
    fn merchant_steps_check_their_keys_and_bare_names() {
        let yaml = r#"name: m
vars: { ref: r1 }
steps:
  - id: paid
    received:
      api: pay
      match: { $.request.paymentRequestId: "{{ ref }}", signature: valid }
      within: 5s
      settle: 1s
      client_id: "{{ merchant.client_id }}"
    expect: { count: 1, signature: valid, headers.client-id: x }
    save: { paymentId: $.response.paymentId }
  - redirect: { from: "{{ merchant.url }}/checkout", card: visa_success }
    expect: { landed_on: { exists: true }, return_page.status: 200, return_page.body.order.state: paid }
    snapshot: { name: shop, of: return_page }
  - delivery: { type: CAPTURE_RESULT, match: { $.paymentId: "{{ paymentId }}" }, attempts: 2 }
    expect: { ack: fail, status: 500, latency_ms: { lt: 10000 }, attempts: 2, acknowledged: false, $.body.paymentId: x }
    snapshot: { name: capture, of: notification }
  - sandbox: { faults: { drop: 1, payment_id: "{{ paymentId }}", client_id: "{{ merchant.client_id }}" } }
"#;
        assert_eq!(errors(yaml, Role::Runnable), vec![]);
        let yaml = r#"name: m
steps:
  - received: { api: capture, match: { count: 1 } }
    expect: { ack: success }
  - redirect: { url: "http://h/p", return_page: true }
    expect: { return_page.stauts: 200, signature: valid }
  - http: { url: "http://h" }
    until: { landed_on: x }
"#;
        let titles: Vec<String> = errors(yaml, Role::Runnable)
            .into_iter()
            .map(|(line, _, t)| format!("{line}: {t}"))
            .collect();
        assert_eq!(
            titles,
            [
                "4: a `received` step provides no `ack`",
                "3: a `received` step provides no `count`",
                "6: a `redirect` step provides no `return_page.stauts`",
                "6: a `redirect` step provides no `signature`",
                "8: a `http` step provides no `landed_on`",
            ]
        );
    }

    #[test]
    fn template_errors_point_inside_the_string() {
        let e = errors(
            "name: x\nsteps:\n  - http: { url: \"http://h/{{ a \" }\n",
            Role::Runnable,
        );
        assert_eq!(e.len(), 1);
        assert_eq!((e[0].0, e[0].1), (3, 31));
        assert!(e[0].2.starts_with("template syntax error"));
    }
}
