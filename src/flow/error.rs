//! What can be wrong with flow files, one variant per kind, each with its title, its caret
//! label and its hint. A [`LoadError`] carries a position; [`LoadError::into_diagnostic`] hands
//! it to the one renderer, [`crate::diag`].

use std::path::PathBuf;
use std::sync::Arc;

use crate::diag::{Diagnostic, SourceFile};
use crate::expect::ExpectError;
use crate::snapshot::Of;
use crate::template::TemplateError;

/// One error in a flow file, at a position.
#[derive(Debug, Clone)]
pub(crate) struct LoadError {
    /// 1-based line.
    pub line: u64,
    /// 1-based column.
    pub column: u64,
    /// How many characters to underline.
    pub width: u64,
    /// What is wrong.
    pub kind: LoadErrorKind,
}

/// What is wrong.
#[derive(Debug, Clone)]
pub(crate) enum LoadErrorKind {
    /// The YAML does not parse into a flow: syntax, unknown key, wrong type, bad duration.
    Yaml(String),
    /// The file has nothing in it (or only comments).
    EmptyFile,
    /// A runnable flow has no `name`.
    NameRequired,
    /// A runnable flow has no steps.
    NoSteps,
    /// A step has no action.
    NoAction,
    /// A step has several actions (their names).
    SeveralActions(Vec<&'static str>),
    /// `with:` on a step that is not `use:`.
    WithWithoutUse,
    /// `every:` or `within:` on a step without `until:`.
    PollWithoutUntil(&'static str),
    /// A template reads `steps.<id>` of a step that does not exist.
    UnknownStepId { id: String, known: Vec<String> },
    /// A template reads a variable that nothing defines before it (a close known name).
    UndefinedVariable { name: String, close: Option<String> },
    /// A template calls a function that does not exist (a close function name).
    UnknownFunction { name: String, close: Option<String> },
    /// A template applies a filter that does not exist (a close filter name).
    UnknownFilter {
        name: String,
        close: Option<&'static str>,
    },
    /// A step id used twice in the same file (the first one's line).
    DuplicateStepId { id: String, first_line: u64 },
    /// A step id that templates cannot name.
    BadStepId(String),
    /// A variable name (`vars`, `matrix`, `save`, `with`) that templates cannot name.
    BadVarName { what: &'static str, name: String },
    /// A variable name reserved by the runner.
    ReservedVarName(String),
    /// A tag that `--tags` could not select.
    BadTag(String),
    /// A matrix entry with no values.
    MatrixEmpty(String),
    /// A matrix with too many combinations.
    MatrixTooBig(usize),
    /// A name in both `vars` and `matrix`.
    MatrixClash(String),
    /// A `matrix:` in a partial.
    MatrixInPartial,
    /// `retries:` or `retry_live:` (the key) in a partial: a case is retried as a whole.
    RetriesInPartial(&'static str),
    /// A bad `expect:` / `until:` entry or `save:` query.
    Expect(ExpectError),
    /// A template that does not compile.
    Template(TemplateError),
    /// `use:` with a template: the include must be known before anything runs.
    UseTemplated,
    /// The `use:` target cannot be read.
    UseNotFound { target: PathBuf, reason: String },
    /// `use:` includes form a cycle (the chain of files).
    UseCycle(Vec<PathBuf>),
    /// `expect:`, `save:` or `until:` on a step whose action has no response.
    NothingToCheck {
        action: &'static str,
        key: &'static str,
    },
    /// `snapshot: { of: notification | return_page }` on a step that has no such value (the
    /// action, what was asked for).
    SnapshotOfMissing(&'static str, crate::snapshot::Of),
    /// `every: 0s`.
    ZeroEvery,
    /// A URL that does not parse, or is not http(s).
    BadUrl { url: String, reason: String },
    /// A request header name that is not a token.
    BadHeaderName(String),
    /// An HTTP method that is not a token.
    BadMethod(String),
    /// Two body kinds on one `http` step.
    SeveralBodies(&'static str, &'static str),
    /// A `body_file` that does not exist.
    BodyFileNotFound { path: String, reason: String },
    /// Two keys of one action that exclude each other (the action, the keys).
    Conflicting(&'static str, &'static str, &'static str),
    /// A value outside a fixed set (the key, the value, the allowed values).
    BadChoice {
        key: &'static str,
        value: String,
        allowed: &'static [&'static str],
    },
    /// A `card:` that is neither a name nor inline card data (why).
    BadCard(String),
    /// A key that takes `true`, `false` or a template.
    NotAFlag(&'static str),
    /// An APO call's `body:` that is not a map (nor a template).
    BodyNotAMap,
    /// A `sign_with:` key file that does not exist.
    KeyFileNotFound { path: String, reason: String },
    /// A `sandbox` step with nothing to do.
    EmptySandboxStep,
    /// A `sandbox` step's `of:` without the `advance_clock:` it scopes.
    OfWithoutAdvanceClock,
    /// A `received` step's `background: true` without the `settle:` window it keeps open.
    BackgroundWithoutSettle,
    /// `count: 0` on a `notify` step, `attempts: 0` on a `delivery` step (the key).
    ZeroCount(&'static str),
    /// A bare-name query (`ack`, `landed_on`) that the step's action does not provide (the
    /// name, the action, the names it provides).
    NotProvided {
        name: String,
        action: &'static str,
        provided: &'static [&'static str],
    },
    /// A redirect with both or neither of `url:` and `from:`.
    RedirectStart { both: bool },
    /// `or_inquiry: true` without `$.paymentId` in `match:`.
    InquiryWithoutPaymentId,
    /// A `notify_merchant` step with both or neither of `replay:` and `body:`.
    NotifyMerchantSource { both: bool },
    /// `replay:` without `of:`.
    ReplayWithoutOf,
    /// `times:` outside 1 to [`crate::flow::model::MAX_TIMES`] (the value).
    TimesOutOfRange(u32),
    /// A `change:` key that is not a JSONPath (the key).
    ChangeNotAPath(String),
    /// A card name that the built-in test cards do not list (with a close one, if any).
    UnknownCard { name: String, close: Option<String> },
}

impl LoadErrorKind {
    pub(crate) fn title(&self) -> String {
        match self {
            LoadErrorKind::Yaml(message) => yaml_title(message),
            LoadErrorKind::EmptyFile => "the flow file is empty".to_owned(),
            LoadErrorKind::NameRequired => "a flow needs a `name`".to_owned(),
            LoadErrorKind::NoSteps => "a flow needs at least one step".to_owned(),
            LoadErrorKind::NoAction => "a step needs an action".to_owned(),
            LoadErrorKind::SeveralActions(names) => format!(
                "a step has exactly one action; this one has {}",
                names
                    .iter()
                    .map(|n| format!("`{n}`"))
                    .collect::<Vec<_>>()
                    .join(" and ")
            ),
            LoadErrorKind::WithWithoutUse => "`with:` belongs to a `use:` step".to_owned(),
            LoadErrorKind::PollWithoutUntil(key) => {
                format!("`{key}:` belongs to a polling step with `until:`")
            }
            LoadErrorKind::DuplicateStepId { id, .. } => format!("duplicate step id `{id}`"),
            LoadErrorKind::BadStepId(id) => format!("`{id}` cannot be a step id"),
            LoadErrorKind::UnknownStepId { id, .. } => format!("no step has the id `{id}`"),
            LoadErrorKind::UndefinedVariable { name, .. } => {
                format!("undefined variable `{name}`")
            }
            LoadErrorKind::UnknownFunction { name, .. } => format!("unknown function `{name}`"),
            LoadErrorKind::UnknownFilter { name, .. } => format!("unknown filter `{name}`"),
            LoadErrorKind::BadVarName { what, name } => {
                format!("`{name}` cannot be a {what} name")
            }
            LoadErrorKind::ReservedVarName(name) => {
                format!("`{name}` is a reserved variable name")
            }
            LoadErrorKind::BadTag(tag) => format!("`{tag}` cannot be a tag"),
            LoadErrorKind::MatrixEmpty(name) => format!("matrix `{name}` has no values"),
            LoadErrorKind::MatrixTooBig(n) => format!(
                "the matrix expands to {n} cases, more than the {} allowed",
                super::matrix::MAX_CASES
            ),
            LoadErrorKind::MatrixClash(name) => {
                format!("`{name}` is in both `vars:` and `matrix:`")
            }
            LoadErrorKind::MatrixInPartial => "a partial cannot have a `matrix:`".to_owned(),
            LoadErrorKind::RetriesInPartial(key) => format!("a partial cannot have `{key}:`"),
            LoadErrorKind::Expect(e) => e.message.clone(),
            LoadErrorKind::Template(e) => e.message.clone(),
            LoadErrorKind::UseTemplated => "`use:` cannot be a template".to_owned(),
            LoadErrorKind::UseNotFound { target, .. } => {
                format!("cannot read the partial `{}`", target.display())
            }
            LoadErrorKind::UseCycle(_) => "`use:` includes form a cycle".to_owned(),
            LoadErrorKind::NothingToCheck { action, key } => {
                format!("a `{action}` step has no response for `{key}:`")
            }
            LoadErrorKind::SnapshotOfMissing(action, Of::ReturnPage) => {
                format!("this `{action}` step fetches no return page to snapshot")
            }
            LoadErrorKind::SnapshotOfMissing(action, of) => {
                format!("this `{action}` step receives no {of} to snapshot")
            }
            LoadErrorKind::ZeroEvery => "`every:` must be longer than zero".to_owned(),
            LoadErrorKind::BadUrl { url, .. } => format!("`{url}` is not a URL"),
            LoadErrorKind::BadHeaderName(name) => format!("`{name}` is not a header name"),
            LoadErrorKind::BadMethod(m) => format!("`{m}` is not an HTTP method"),
            LoadErrorKind::SeveralBodies(a, b) => {
                format!("an `http` step has one body; this one has `{a}` and `{b}`")
            }
            LoadErrorKind::BodyFileNotFound { path, .. } => {
                format!("cannot read the body file `{path}`")
            }
            LoadErrorKind::Conflicting(action, a, b) => {
                format!("`{b}` cannot go with `{a}` in this `{action}` step")
            }
            LoadErrorKind::BadChoice { key, value, .. } => {
                format!("`{value}` is not a value of `{key}`")
            }
            LoadErrorKind::BadCard(_) => "`card:` is a card name or inline card data".to_owned(),
            LoadErrorKind::NotAFlag(key) => format!("`{key}:` is true or false"),
            LoadErrorKind::BodyNotAMap => "the body of an APO call is a map".to_owned(),
            LoadErrorKind::KeyFileNotFound { path, .. } => {
                format!("cannot read the key file `{path}`")
            }
            LoadErrorKind::EmptySandboxStep => "a `sandbox` step has nothing to do".to_owned(),
            LoadErrorKind::OfWithoutAdvanceClock => {
                "`of:` names the payment whose clock `advance_clock:` moves, and this step has no `advance_clock:`".to_owned()
            }
            LoadErrorKind::BackgroundWithoutSettle => {
                "`background:` keeps a `settle:` window open while the next steps run, and this step has no `settle:`".to_owned()
            }
            LoadErrorKind::ZeroCount(key) => format!("`{key}:` must be at least 1"),
            LoadErrorKind::NotProvided { name, action, .. } => {
                format!("a `{action}` step provides no `{name}`")
            }
            LoadErrorKind::RedirectStart { both: true } => {
                "a `redirect` starts at `url:` or at `from:`, not both".to_owned()
            }
            LoadErrorKind::RedirectStart { both: false } => {
                "a `redirect` needs `url:` or `from:`".to_owned()
            }
            LoadErrorKind::InquiryWithoutPaymentId => {
                "`or_inquiry:` needs the payment to inquire about".to_owned()
            }
            LoadErrorKind::NotifyMerchantSource { both: true } => {
                "a `notify_merchant` step sends `replay:` or `body:`, not both".to_owned()
            }
            LoadErrorKind::NotifyMerchantSource { both: false } => {
                "a `notify_merchant` step needs `replay:` or `body:`".to_owned()
            }
            LoadErrorKind::ReplayWithoutOf => {
                "`replay:` needs `of:`, the payment whose delivery it replays".to_owned()
            }
            LoadErrorKind::TimesOutOfRange(n) => format!(
                "`times: {n}` is out of range: 1 to {}",
                crate::flow::model::MAX_TIMES
            ),
            LoadErrorKind::ChangeNotAPath(path) => {
                format!("`{path}` is not a JSONPath into the notification")
            }
            LoadErrorKind::UnknownCard { name, .. } => format!("unknown card `{name}`"),
        }
    }

    fn label(&self) -> String {
        match self {
            LoadErrorKind::Yaml(message) => yaml_label(message),
            LoadErrorKind::NameRequired | LoadErrorKind::NoSteps | LoadErrorKind::EmptyFile => {
                "in this flow".to_owned()
            }
            LoadErrorKind::NoAction => "this step".to_owned(),
            LoadErrorKind::SeveralActions(names) => {
                format!(
                    "`{}` is a second action",
                    names.last().copied().unwrap_or_default()
                )
            }
            LoadErrorKind::DuplicateStepId { first_line, .. } => {
                format!("already used on line {first_line}")
            }
            LoadErrorKind::Expect(e) => match &e.at_key {
                Some(_) => "this predicate".to_owned(),
                None => "this query".to_owned(),
            },
            LoadErrorKind::Template(_) => "in this template".to_owned(),
            LoadErrorKind::UnknownStepId { .. } | LoadErrorKind::UndefinedVariable { .. } => {
                "read here".to_owned()
            }
            LoadErrorKind::UnknownFunction { .. } => "called here".to_owned(),
            LoadErrorKind::UnknownFilter { .. } => "applied here".to_owned(),
            LoadErrorKind::UseNotFound { reason, .. }
            | LoadErrorKind::BodyFileNotFound { reason, .. }
            | LoadErrorKind::KeyFileNotFound { reason, .. }
            | LoadErrorKind::BadCard(reason)
            | LoadErrorKind::BadUrl { reason, .. } => reason.clone(),
            LoadErrorKind::Conflicting(_, a, _) => format!("remove this or `{a}`"),
            LoadErrorKind::UseCycle(chain) => {
                // Shown relative to the working directory, as the user wrote them.
                let cwd = std::env::current_dir().unwrap_or_default();
                chain
                    .iter()
                    .map(|p| p.strip_prefix(&cwd).unwrap_or(p).display().to_string())
                    .collect::<Vec<_>>()
                    .join(" → ")
            }
            LoadErrorKind::WithWithoutUse
            | LoadErrorKind::PollWithoutUntil(_)
            | LoadErrorKind::BadStepId(_)
            | LoadErrorKind::BadVarName { .. }
            | LoadErrorKind::ReservedVarName(_)
            | LoadErrorKind::BadTag(_)
            | LoadErrorKind::MatrixEmpty(_)
            | LoadErrorKind::MatrixTooBig(_)
            | LoadErrorKind::MatrixClash(_)
            | LoadErrorKind::MatrixInPartial
            | LoadErrorKind::RetriesInPartial(_)
            | LoadErrorKind::UseTemplated
            | LoadErrorKind::BadMethod(_)
            | LoadErrorKind::NothingToCheck { .. }
            | LoadErrorKind::SnapshotOfMissing(..)
            | LoadErrorKind::NotProvided { .. }
            | LoadErrorKind::RedirectStart { .. }
            | LoadErrorKind::ZeroEvery
            | LoadErrorKind::BadHeaderName(_)
            | LoadErrorKind::SeveralBodies(..)
            | LoadErrorKind::BadChoice { .. }
            | LoadErrorKind::NotAFlag(_)
            | LoadErrorKind::BodyNotAMap
            | LoadErrorKind::EmptySandboxStep
            | LoadErrorKind::OfWithoutAdvanceClock
            | LoadErrorKind::BackgroundWithoutSettle
            | LoadErrorKind::ZeroCount(_)
            | LoadErrorKind::InquiryWithoutPaymentId
            | LoadErrorKind::NotifyMerchantSource { .. }
            | LoadErrorKind::ReplayWithoutOf
            | LoadErrorKind::TimesOutOfRange(_)
            | LoadErrorKind::ChangeNotAPath(_) => "here".to_owned(),
            LoadErrorKind::UnknownCard { .. } => "not a built-in test card".to_owned(),
        }
    }

    fn hint(&self) -> Option<String> {
        Some(match self {
            LoadErrorKind::Yaml(message) => return yaml_hint(message),
            LoadErrorKind::EmptyFile => "write a flow with `name:` and `steps:`, or delete the file".to_owned(),
            LoadErrorKind::NameRequired => "add `name: <what the flow checks>` at the top; a file meant only for `use:` is a partial: start its name with `_`".to_owned(),
            LoadErrorKind::NoSteps => "add `steps:` with at least one step".to_owned(),
            LoadErrorKind::NoAction => "give the step one of `http:`, `sleep:` or `use:`".to_owned(),
            LoadErrorKind::SeveralActions(_) => "split it into one step per action".to_owned(),
            LoadErrorKind::WithWithoutUse => "pass parameters to a partial with `use: _partial.yaml` and `with:`; for a variable of this flow use `vars:`".to_owned(),
            LoadErrorKind::PollWithoutUntil(_) => "add `until:` with the condition to wait for, or remove it".to_owned(),
            LoadErrorKind::DuplicateStepId { .. } => "step ids name `steps.<id>.request|response`; give each step its own".to_owned(),
            LoadErrorKind::UnknownStepId { id, known } => {
                match crate::diag::did_you_mean(id, known.iter().map(String::as_str)) {
                    Some(close) => format!("did you mean `{close}`? `steps.<id>` reads the request and response of the step with that `id:`"),
                    None if known.is_empty() => "no step of this flow has an `id:`; give the step whose request or response you read one".to_owned(),
                    None => format!("the step ids of this flow are {}", known.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ")),
                }
            }
            LoadErrorKind::UndefinedVariable { close: Some(close), .. } => format!("did you mean `{close}`?"),
            LoadErrorKind::UndefinedVariable { close: None, .. } => "define it under `vars:` (a `--var` can still override it), save it in an earlier step with `save:`, or pass it with `--var NAME=VALUE`".to_owned(),
            LoadErrorKind::UnknownFunction { close: Some(close), .. } => format!("did you mean `{close}()`?"),
            LoadErrorKind::UnknownFilter { close: Some(close), .. } => format!("did you mean `{close}`?"),
            LoadErrorKind::UnknownFilter { close: None, .. } => "minijinja's filters (`upper`, `default`, `tojson`, `urlencode`, …) and `fromjson`, `b64encode`, `b64decode` are available".to_owned(),
            LoadErrorKind::UnknownFunction { close: None, .. } => "the functions are `uuid()`, `now(format)`, `env(name, default=…)`, `random_digits(n)` and minijinja's (`range`, `dict`, `namespace`)".to_owned(),
            LoadErrorKind::BadStepId(_) => "use letters, digits and `_`, starting with a letter or `_` (templates write `steps.<id>`)".to_owned(),
            LoadErrorKind::BadVarName { .. } => "use letters, digits and `_`, starting with a letter or `_`, so that templates can write `{{ name }}`".to_owned(),
            LoadErrorKind::ReservedVarName(_) => "`steps` holds earlier steps' requests and responses; choose another name".to_owned(),
            LoadErrorKind::BadTag(_) => "tags are words of letters, digits, `-`, `_`, `.`, `:`, `/`, and not `and`, `or`, `not`".to_owned(),
            LoadErrorKind::MatrixEmpty(_) => "give it a list of at least one value, or remove it".to_owned(),
            LoadErrorKind::MatrixTooBig(_) => "split the flow, or use fewer values".to_owned(),
            LoadErrorKind::MatrixClash(_) => "a matrix value is a variable already; remove it from one of them".to_owned(),
            LoadErrorKind::MatrixInPartial => "put the matrix in the flow that uses the partial".to_owned(),
            LoadErrorKind::RetriesInPartial(key) => format!("a case is retried from its first step as a whole: put `{key}:` in the flow that uses the partial"),
            LoadErrorKind::Expect(e) => return e.hint.clone(),
            LoadErrorKind::Template(e) => return e.hint.clone(),
            LoadErrorKind::UseTemplated => "write the partial's path; pass what varies with `with:`".to_owned(),
            LoadErrorKind::UseNotFound { .. } => "the path is relative to the file that has the `use:`".to_owned(),
            LoadErrorKind::UseCycle(_) => "a partial cannot include itself, directly or through others".to_owned(),
            LoadErrorKind::NothingToCheck { action: "use", .. } => "put the checks on the partial's own steps".to_owned(),
            LoadErrorKind::NothingToCheck { .. } => "remove it, or move it to the step whose response it checks".to_owned(),
            LoadErrorKind::SnapshotOfMissing(_, Of::ReturnPage) => "`of: return_page` is for `redirect` steps that fetch the return page (`from:`, or `return_page: true`)".to_owned(),
            LoadErrorKind::SnapshotOfMissing(..) => "use `of: response` (the default) or `of: request`; `of: notification` is for `notify`, `delivery` and `notify_merchant` steps".to_owned(),
            LoadErrorKind::NotProvided { name, provided, .. } => {
                let roots = provided.iter().map(|p| p.split('.').next().unwrap_or(p));
                match crate::diag::did_you_mean(name, provided.iter().copied().chain(roots)) {
                    Some(close) => format!("did you mean `{close}`?"),
                    None if provided.is_empty() => format!("this step kind provides no bare names; query the body with a JSONPath such as `$.{name}`, or `status`, `headers.<name>`"),
                    None => format!("it provides {}; query the body with a JSONPath such as `$.{name}`", provided.iter().map(|p| format!("`{p}`")).collect::<Vec<_>>().join(", ")),
                }
            }
            LoadErrorKind::RedirectStart { both: true } => "`url:` is the hosted page itself; `from:` is a merchant URL that leads to it: keep one".to_owned(),
            LoadErrorKind::RedirectStart { both: false } => "give `url: \"{{ normalUrl }}\"` (the hosted page) or `from: \"{{ merchant.url }}/checkout\"` (a merchant URL that leads to it)".to_owned(),
            LoadErrorKind::ZeroEvery => "give the pause between tries, e.g. `every: 500ms`".to_owned(),
            LoadErrorKind::BadUrl { .. } => "write an absolute http:// or https:// URL, e.g. `{{ base }}/payments/pay`".to_owned(),
            LoadErrorKind::BadHeaderName(_) => "header names are letters, digits and `-` (no spaces or `:`)".to_owned(),
            LoadErrorKind::BadMethod(_) => "write GET, POST, PUT, PATCH, DELETE, HEAD or OPTIONS".to_owned(),
            LoadErrorKind::SeveralBodies(..) => "choose one of `json:`, `form:` and `body:` (`body:` may go with `body_file:` to override its fields)".to_owned(),
            LoadErrorKind::BodyFileNotFound { .. } => "the path is relative to the directory apoflow runs in (where `fixtures/` is)".to_owned(),
            LoadErrorKind::Conflicting(_, "raw_body", _) => "`raw_body:` is sent verbatim; build the whole body in it, or use `body:` / `body_file:`".to_owned(),
            LoadErrorKind::Conflicting(_, "sign", _) => "`sign: false` sends no signature; `sign_with:` signs with another key: keep one".to_owned(),
            LoadErrorKind::Conflicting(_, "manual", _) => "with `manual: true` a person uses the page; remove the other keys".to_owned(),
            LoadErrorKind::Conflicting(_, "abandon", _) => "an abandoning buyer enters nothing; remove the other keys".to_owned(),
            LoadErrorKind::Conflicting(..) => "keep one of the two".to_owned(),
            LoadErrorKind::BadChoice { allowed, value, .. } => {
                let all = allowed.iter().map(|a| format!("`{a}`")).collect::<Vec<_>>().join(", ");
                match crate::diag::did_you_mean(value, allowed.iter().copied()) {
                    Some(close) => format!("did you mean `{close}`? write one of {all}"),
                    None => format!("write one of {all}"),
                }
            }
            LoadErrorKind::BadCard(_) => "write a built-in test card's name, e.g. `card: visa_success`, or a map of quoted strings: `number`, `expiry` (MM/YY), `cvv` and, optionally, `holder`".to_owned(),
            LoadErrorKind::NotAFlag(_) => "write `true` or `false`, or a template that renders to one".to_owned(),
            LoadErrorKind::BodyNotAMap => "write the body's fields as a map, e.g. `body: { paymentId: \"{{ paymentId }}\" }`; for a body that is not JSON use `raw_body:`".to_owned(),
            LoadErrorKind::KeyFileNotFound { .. } => "a PEM or base64 private key file, relative to the directory apoflow runs in, e.g. `fixtures/keys/merchant-private.pem`".to_owned(),
            LoadErrorKind::EmptySandboxStep => "give `reset: true`, `faults:` or `advance_clock:`".to_owned(),
            LoadErrorKind::OfWithoutAdvanceClock => "add `advance_clock: 15m` to move that payment's time, or remove `of:`".to_owned(),
            LoadErrorKind::BackgroundWithoutSettle => "add `settle: 1s` (how long no other call may come), or remove `background:`".to_owned(),
            LoadErrorKind::ZeroCount(key) => format!("`{key}: 2` waits for a resend; leave it out to wait for one"),
            LoadErrorKind::InquiryWithoutPaymentId => "add `match: { $.paymentId: \"{{ paymentId }}\" }`: its value is the paymentId inquired".to_owned(),
            LoadErrorKind::NotifyMerchantSource { both: true } => "`replay:` resends APO's own delivery (with `change:` to alter it); `body:` is a whole notification: keep one".to_owned(),
            LoadErrorKind::NotifyMerchantSource { both: false } => "give `replay: PAYMENT_RESULT` with `of: \"{{ paymentId }}\"`, or a whole notification in `body:`".to_owned(),
            LoadErrorKind::ReplayWithoutOf => "add `of: \"{{ paymentId }}\"`: the first delivery of that type for that payment is replayed".to_owned(),
            LoadErrorKind::TimesOutOfRange(_) => "each send is a real request to the merchant; a few copies show whether it is idempotent".to_owned(),
            LoadErrorKind::ChangeNotAPath(_) => "write `$.` and the field, e.g. `$.paymentAmount.value: \"1\"`".to_owned(),
            LoadErrorKind::UnknownCard { close: Some(close), .. } => format!("did you mean `{close}`?"),
            LoadErrorKind::UnknownCard { close: None, .. } => "the built-in test cards are listed in docs/src/sandbox.md (Test cards); or give the card inline".to_owned(),
        })
    }
}

impl LoadError {
    /// An error at a position.
    pub(crate) fn new(line: u64, column: u64, width: u64, kind: LoadErrorKind) -> Self {
        LoadError {
            line,
            column,
            width,
            kind,
        }
    }

    /// The renderable diagnostic, in `source`.
    pub(crate) fn into_diagnostic(self, source: &Arc<SourceFile>) -> Diagnostic {
        let mut d = Diagnostic::new(source, self.line, self.column, self.kind.title())
            .with_width(self.width)
            .with_label(self.kind.label());
        if let Some(hint) = self.kind.hint() {
            d = d.with_hint(hint);
        }
        d
    }
}

/// serde-saphyr's message without its trailing ` at line L, column C`.
pub(crate) fn yaml_message(raw: &str) -> String {
    let first = raw.lines().next().unwrap_or_default();
    match first.rfind(" at line ") {
        Some(i) if first[i..].contains(", column ") => first[..i].to_owned(),
        _ => first.to_owned(),
    }
}

/// Turns serde-saphyr's wording into ours: `unknown key`, `duplicate key`, `expected a list`.
fn yaml_title(message: &str) -> String {
    if let Some(rest) = message.strip_prefix("unknown field ") {
        let name = rest.split(", ").next().unwrap_or(rest);
        return format!("unknown key {name}");
    }
    if let Some(rest) = message.strip_prefix("duplicate mapping key: ") {
        let name = rest
            .split(", set DuplicateKeyPolicy")
            .next()
            .unwrap_or(rest);
        return format!("duplicate key `{name}`");
    }
    if let Some(rest) = message.strip_prefix("missing field ") {
        return format!("missing key {rest}");
    }
    if message.starts_with("multiple YAML documents") {
        return "a flow file holds one YAML document; this one has several".to_owned();
    }
    if let Some(rest) = message.strip_prefix("budget breached: ") {
        // `Nodes { nodes: 250001 } at line …`: the parser's limit, by name and count.
        let what = rest
            .split_once('{')
            .and_then(|(_, r)| r.split_once('}'))
            .map_or(rest, |(inner, _)| inner.trim());
        return format!("the YAML is over the parser's size limits ({what})");
    }
    match message {
        "expected sequence start" => "expected a list".to_owned(),
        "expected mapping start" => "expected a map".to_owned(),
        "expected string scalar" => "expected a string".to_owned(),
        other => other.to_owned(),
    }
}

fn yaml_label(message: &str) -> String {
    if message.starts_with("unknown field ") {
        "not allowed here".to_owned()
    } else if message.starts_with("duplicate mapping key") {
        "a second time".to_owned()
    } else {
        "here".to_owned()
    }
}

fn yaml_hint(message: &str) -> Option<String> {
    if message.starts_with("budget breached: ") {
        return Some(
            "anchors and aliases that expand too far (an alias bomb), or a file far larger than \
             a flow needs: split it, or write values out instead of aliasing them"
                .to_owned(),
        );
    }
    if let Some(rest) = message.strip_prefix("unknown field ") {
        let allowed = rest.split_once(", expected one of ").map(|(_, a)| a);
        let allowed = allowed.or_else(|| rest.split_once(", expected ").map(|(_, a)| a));
        let name = rest.split(", ").next().unwrap_or(rest).trim_matches('`');
        return Some(match allowed {
            Some(list) => match crate::diag::did_you_mean(name, list.split(", ")) {
                Some(close) => format!("did you mean `{close}`? allowed here: {list}"),
                None => format!("allowed here: {list}"),
            },
            None => "remove it".to_owned(),
        });
    }
    if message.starts_with("duplicate mapping key") {
        return Some("a key may appear once in a map; remove or rename one".to_owned());
    }
    if message.starts_with("missing field ") {
        return Some("add it".to_owned());
    }
    match message {
        "expected sequence start" => {
            Some("write a list: `[a, b]`, or one `- item` per line".to_owned())
        }
        "expected mapping start" => Some("write a map of `key: value` lines".to_owned()),
        "expected string scalar" => {
            Some("write a string; quote it if it starts with `[`, `{`, `*`, `&` or `!`".to_owned())
        }
        m if m.contains("tabs disallowed") => Some("indent with spaces, not tabs".to_owned()),
        m if m.starts_with("multiple YAML documents") => {
            Some("write one flow per file: split it at the `---` line".to_owned())
        }
        m if m.contains("unclosed quote") => Some(
            "close the quote on the same value, or use a block scalar (`|`) for multi-line text"
                .to_owned(),
        ),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_messages_get_our_wording() {
        let m =
            yaml_message("unknown field `stepz`, expected one of name, steps at line 2, column 1");
        assert_eq!(m, "unknown field `stepz`, expected one of name, steps");
        assert_eq!(yaml_title(&m), "unknown key `stepz`");
        assert_eq!(
            yaml_hint(&m).unwrap(),
            "did you mean `steps`? allowed here: name, steps"
        );
        let m = yaml_message(
            "duplicate mapping key: status, set DuplicateKeyPolicy in Options if acceptable at line 7, column 7",
        );
        assert_eq!(yaml_title(&m), "duplicate key `status`");
        assert_eq!(yaml_title("expected sequence start"), "expected a list");
    }
}
