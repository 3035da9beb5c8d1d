//! Running steps: dispatch on the step's action, then checks and captures.
//!
//! ```text
//! render (just before sending) → send ─┬─ until: → poll (engine::poll) ─┐
//!                                      └───────────────────────────────┴→ expect: (last try)
//!                                                                        → save: → steps.<id>
//! ```
//! A step that fails (an assertion or a capture) or errors (time-out, refused connection,
//! run-time template error) ends its case; the steps after it are reported as skipped.
//!
//! A `received` step with `background: true` opens a window: it waits for the first match if
//! it saves from it (else it looks once), the steps after it run, and when the case's last
//! step is done (or it stopped) the step runs again in full ([`Recorder::close_windows`]) and
//! its result takes the opening's place.

mod apo_call;
mod delivery;
mod http;
mod notify;
mod notify_merchant;
mod partial;
mod received;
mod redirect;
mod sandbox;
mod sleep;
mod snapshot;
mod watch;

use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::Apo;
use super::error::StepError;
use super::event::{Event, EventSender};
use super::poll::{DEFAULT_EVERY, DEFAULT_WITHIN, poll};
use super::result::{Message, MessageKind, Status, StepKind, StepResult};
use super::scope::Scope;
use crate::apo::endpoint::Endpoint;
use crate::diag::SourceFile;
use crate::expect::{AssertionResult, Detail, Observed, eval_save};
use crate::flow::action::ActionKind;
use crate::flow::model::{
    ApoCall, DeliveryAction, DurationSpec, HttpAction, NotifyAction, NotifyMerchantAction,
    ReceivedAction, RedirectAction, SandboxAction, Step,
};
use crate::flow::plan::{Check, PlannedStep};
use crate::snapshot::UpdateMode;
use crate::template::{TemplateError, Templates};
use serde_saphyr::Spanned;
use snapshot::CaseRef;

/// What every step of a run shares: templates, the HTTP client, the project root, the APO
/// target, client and inbox, and when snapshot files are written.
pub(crate) struct Shared {
    pub(crate) templates: Templates,
    pub(crate) client: reqwest::Client,
    pub(crate) root: std::path::PathBuf,
    pub(crate) project: crate::project::Project,
    pub(crate) apo: Apo,
    pub(crate) snapshots: UpdateMode,
    /// What results record of what passed (see [`super::Options::detail`]).
    pub(crate) detail: Detail,
}

/// What a step renders and sends with.
#[derive(Clone, Copy)]
pub(crate) struct StepCtx<'a> {
    pub(crate) templates: &'a Templates,
    pub(crate) client: &'a reqwest::Client,
    pub(crate) root: &'a Path,
    /// Where the files a step names may be.
    pub(crate) project: &'a crate::project::Project,
    pub(crate) file: &'a Arc<SourceFile>,
    pub(crate) scope: &'a Scope,
    pub(crate) apo: &'a Apo,
    /// What results record of what passed.
    pub(crate) detail: Detail,
}

impl Shared {
    /// The context a step of `file` renders and sends with.
    pub(crate) fn ctx<'a>(&'a self, file: &'a Arc<SourceFile>, scope: &'a Scope) -> StepCtx<'a> {
        StepCtx {
            templates: &self.templates,
            client: &self.client,
            root: &self.root,
            project: &self.project,
            file,
            scope,
            apo: &self.apo,
            detail: self.detail,
        }
    }
}

impl StepCtx<'_> {
    /// Renders every string of `v` against the scope.
    pub(crate) fn render(&self, v: &Value) -> Result<Value, TemplateError> {
        self.scope.render(self.templates, v)
    }

    /// A duration of the step (`what` is its key): as written, or its template rendered and
    /// read; `default` when the step has none.
    pub(crate) fn duration(
        &self,
        d: Option<&Spanned<DurationSpec>>,
        what: &str,
        default: Duration,
    ) -> Result<Duration, StepError> {
        let Some(d) = d else { return Ok(default) };
        let text = match &d.value {
            DurationSpec::Fixed(fixed) => return Ok(*fixed),
            DurationSpec::Template(text) => text,
        };
        let rendered = self
            .render(&Value::String(text.clone()))
            .map(|v| http::as_text(&v))
            .map_err(|e| {
                StepError::in_template(
                    self.file,
                    &d.referenced,
                    text,
                    format!("in `{what}`: {}", e.message),
                    &e,
                )
            })?;
        crate::flow::model::parse_duration(&rendered).map_err(|message| {
            StepError::located(
                self.file,
                &d.referenced,
                format!("in `{what}`: {message}"),
                Some("the template must render to a duration such as `500ms`, e.g. \"{{ merchant.settle_ms }}ms\""),
            )
        })
    }
}

/// Collects a case's step results and announces each one as it finishes.
pub(crate) struct Recorder {
    pub(crate) index: usize,
    pub(crate) tx: EventSender,
    pub(crate) steps: Vec<StepResult>,
    /// The case's flow file (snapshots live beside it, even for steps inside partials).
    pub(crate) flow_file: std::path::PathBuf,
    /// The case's title: the flow name, plus the matrix case.
    pub(crate) title: String,
    /// `background` steps whose window is open, in the order they opened.
    pub(crate) windows: Vec<Window>,
}

/// A `background` step between its opening and the end of its case: what it runs again with.
pub(crate) struct Window {
    /// Where its result is in [`Recorder::steps`].
    at: usize,
    planned: PlannedStep,
    /// Its scope when it opened (the steps after it change the case's own).
    scope: Scope,
    /// When the opening began (`within` counts from it).
    opened: Instant,
    /// How long the opening took.
    opening: Duration,
}

impl Recorder {
    /// The case, as snapshot checks name it.
    fn case(&self) -> CaseRef<'_> {
        CaseRef {
            flow_file: &self.flow_file,
            title: &self.title,
        }
    }

    /// Keeps the opening of a `background` step in its place; it is announced when its window
    /// closes.
    fn open(&mut self, opening: StepResult, planned: &PlannedStep, scope: &Scope) {
        self.windows.push(Window {
            at: self.steps.len(),
            planned: planned.clone(),
            scope: scope.clone(),
            opened: Instant::now()
                .checked_sub(opening.duration)
                .unwrap_or_else(Instant::now),
            opening: opening.duration,
        });
        self.steps.push(opening);
    }

    /// Runs each open `background` step again in full, its window waited out (it counts from
    /// the first match, so it is mostly or wholly past), and announces its result in the
    /// opening's place.
    pub(crate) async fn close_windows(&mut self, shared: &Shared) {
        let mut closed = Vec::new();
        for mut window in std::mem::take(&mut self.windows) {
            let planned = &window.planned;
            let name = self.steps[window.at].name.clone();
            let closing = Action::of(planned).map(|a| a.closing(window.opened));
            let mut result = match closing {
                Some(action) => {
                    run_action(
                        shared,
                        planned,
                        action,
                        &mut window.scope,
                        name,
                        self.case(),
                    )
                    .await
                    .0
                }
                None => continue,
            };
            result.duration += window.opening;
            if result.status == Status::Failed {
                let note = "watched in the background (`background: true`): the calls made while \
                            the steps after it ran count too";
                result.error = Some(match result.error.take() {
                    Some(error) => error.and(note),
                    None => StepError::new(note),
                });
            }
            closed.push((window.at, result));
        }
        for (at, result) in closed {
            let _ = self.tx.send(Event::StepFinished {
                index: self.index,
                step: result.clone(),
            });
            self.steps[at] = result;
        }
    }

    /// Announces a finished step and keeps it.
    pub(crate) fn push(&mut self, step: StepResult) {
        // A closed channel means nobody listens any more; the run still completes.
        let _ = self.tx.send(Event::StepFinished {
            index: self.index,
            step: step.clone(),
        });
        self.steps.push(step);
    }
}

/// Runs `steps` in order in `scope`; `Err(i)` when step `i` failed or errored (the steps after
/// it did not run). `prefix` names the enclosing `use:` steps (`use _login.yaml › `).
pub(crate) fn run_steps<'a>(
    shared: &'a Shared,
    steps: &'a [PlannedStep],
    scope: &'a mut Scope,
    rec: &'a mut Recorder,
    prefix: &'a str,
) -> Pin<Box<dyn Future<Output = Result<(), usize>> + Send + 'a>> {
    Box::pin(async move {
        for (i, planned) in steps.iter().enumerate() {
            let step = &planned.step;
            let name = format!("{prefix}{}", shown_name(shared, scope, planned));
            let passed = if let Some(action) = Action::of(planned) {
                let action = action.opening(planned);
                let (result, open) =
                    run_action(shared, planned, action, scope, name, rec.case()).await;
                let passed = result.status == Status::Passed;
                if open {
                    rec.open(result, planned, scope);
                } else {
                    rec.push(result);
                }
                passed
            } else if let Some(d) = &step.sleep {
                let duration =
                    shared
                        .ctx(&planned.file, scope)
                        .duration(Some(d), "sleep", Duration::ZERO);
                let result = sleep::run(planned, duration, name).await;
                let passed = result.status == Status::Passed;
                rec.push(result);
                passed
            } else if let Some(partial) = &planned.partial {
                partial::run(shared, planned, partial, scope, rec, name).await
            } else {
                // The loader guarantees exactly one action; a step without one does nothing.
                true
            };
            if !passed {
                return Err(i);
            }
        }
        Ok(())
    })
}

/// The method an `http` step without `method:` sends: GET, or POST when it has a body.
pub(crate) fn default_method_name(action: &HttpAction) -> String {
    http::default_method(action).to_string()
}

/// The step's name for reports: `name`, else `id`, else its action.
/// The step's name as reports show it: [`step_name`], with the templates of a `name:` rendered
/// in the step's scope (`Pay {{ amount }}` → `Pay 4200`; as written when they cannot render
/// yet). A name made from the action (`GET {{ base }}/pay`) stays as written: rendering it again
/// would show other values than the request's own (`uuid()`).
fn shown_name(shared: &Shared, scope: &Scope, planned: &PlannedStep) -> String {
    let name = step_name(planned);
    if planned.step.name.is_none() || !crate::template::is_template(&name) {
        return name;
    }
    match scope.render(&shared.templates, &Value::String(name.clone())) {
        Ok(Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(_) => name,
    }
}

pub(crate) fn step_name(planned: &PlannedStep) -> String {
    let step = &planned.step;
    if let Some(name) = &step.name {
        return name.value.clone();
    }
    if let Some(id) = &step.id {
        return id.value.clone();
    }
    if let Some(http) = &step.http {
        let method = http.value.method.as_ref().map_or_else(
            || http::default_method(&http.value).to_string(),
            |m| m.value.clone(),
        );
        return format!("{method} {}", http.value.url.value);
    }
    if let Some(d) = &step.sleep {
        return format!("sleep {}", d.value);
    }
    if let Some(u) = &step.use_flow {
        return format!("use {}", u.value);
    }
    if let Some(r) = &step.received {
        return format!("received {}", r.value.api.value);
    }
    if let Some(d) = &step.delivery {
        return format!("delivery {}", d.value.notify_type.value);
    }
    if let Some(n) = &step.notify_merchant {
        let what = n.value.replay.as_ref().map_or("body", |r| r.value.as_str());
        return match &n.value.forge {
            Some(forge) => format!("notify_merchant {what} (forge {})", forge.value),
            None => format!("notify_merchant {what}"),
        };
    }
    planned.kind.name().to_owned()
}

/// What the step does, for checklist proof rules: its action's name, and the API a
/// `received` step observes.
fn step_kind(planned: &PlannedStep) -> StepKind {
    let api = planned.step.received.as_ref().and_then(|r| {
        Endpoint::ALL
            .into_iter()
            .find(|e| e.step_name() == r.value.api.value)
    });
    StepKind {
        action: planned.kind.name(),
        api,
    }
}

/// A step's action that sends something and observes an answer.
#[derive(Clone, Copy)]
enum Action<'a> {
    Http(&'a HttpAction),
    Apo(Endpoint, &'a ApoCall),
    Redirect(&'a RedirectAction),
    Notify(&'a NotifyAction, &'a [Check]),
    Sandbox(&'a SandboxAction),
    Received(&'a ReceivedAction, &'a [Check], received::Phase),
    Delivery(&'a DeliveryAction, &'a [Check]),
    NotifyMerchant(&'a NotifyMerchantAction),
}

impl<'a> Action<'a> {
    /// The step's action, unless it is `sleep` or `use`.
    fn of(planned: &'a PlannedStep) -> Option<Self> {
        let step = &planned.step;
        let matches = planned.checks.matches.as_slice();
        Some(match planned.kind {
            ActionKind::Http => Action::Http(&step.http.as_deref()?.value),
            ActionKind::Apo(e) => Action::Apo(e, &step.apo_call(e)?.value),
            ActionKind::Redirect => Action::Redirect(&step.redirect.as_deref()?.value),
            ActionKind::Notify => Action::Notify(&step.notify.as_deref()?.value, matches),
            ActionKind::Sandbox => Action::Sandbox(&step.sandbox.as_deref()?.value),
            ActionKind::Received => {
                let phase = received::Phase::Whole;
                Action::Received(&step.received.as_deref()?.value, matches, phase)
            }
            ActionKind::Delivery => Action::Delivery(&step.delivery.as_deref()?.value, matches),
            ActionKind::NotifyMerchant => {
                Action::NotifyMerchant(&step.notify_merchant.as_deref()?.value)
            }
            ActionKind::Sleep | ActionKind::Use => return None,
        })
    }

    /// The action as the first run of `planned` performs it: a `received` step with
    /// `background: true` (and a `settle:` window) opens, waiting for the first match only if
    /// the step saves from it; any other action is itself.
    fn opening(self, planned: &PlannedStep) -> Self {
        match self {
            Action::Received(a, matches, _)
                if a.settle.is_some() && a.background.as_ref().is_some_and(|b| b.value) =>
            {
                let waits = !planned.checks.save.is_empty() || planned.step.id.is_some();
                Action::Received(a, matches, received::Phase::Opening { waits })
            }
            other => other,
        }
    }

    /// A `background` step's run at the end of its case, for an opening at `opened`.
    fn closing(self, opened: Instant) -> Self {
        match self {
            Action::Received(a, matches, _) => {
                Action::Received(a, matches, received::Phase::Closing { opened })
            }
            other => other,
        }
    }

    /// Renders and performs the action once.
    async fn attempt(self, ctx: &StepCtx<'_>) -> Result<http::Exchange, StepError> {
        match self {
            Action::Http(a) => http::send(a, ctx).await,
            Action::Apo(endpoint, call) => apo_call::send(endpoint, call, ctx).await,
            Action::Redirect(a) => redirect::run(a, ctx).await,
            Action::Notify(a, matches) => notify::wait(a, matches, ctx).await,
            Action::Sandbox(a) => sandbox::control(a, ctx).await,
            Action::Received(a, matches, phase) => received::wait(a, matches, ctx, phase).await,
            Action::Delivery(a, matches) => delivery::wait(a, matches, ctx).await,
            Action::NotifyMerchant(a) => notify_merchant::send(a, ctx).await,
        }
    }
}

/// A result for `planned` with nothing recorded yet.
pub(crate) fn blank(planned: &PlannedStep, name: String, status: Status) -> StepResult {
    StepResult {
        id: planned.step.id.as_ref().map(|i| i.value.clone()),
        ..StepResult::blank(
            name,
            step_kind(planned),
            planned.file.path.clone(),
            (planned.line, planned.column),
            status,
        )
    }
}

/// How a step with `until:` polls: (`every`, `within`); `None` without `until:`.
fn polling(ctx: &StepCtx<'_>, step: &Step) -> Result<Option<(Duration, Duration)>, StepError> {
    if step.until.is_none() {
        return Ok(None);
    }
    let every = ctx.duration(step.every.as_ref(), "every", DEFAULT_EVERY)?;
    // Written as 0 it is refused at load; a template can still render to it.
    if let Some(e) = step.every.as_ref().filter(|_| every.is_zero()) {
        return Err(StepError::located(
            ctx.file,
            &e.referenced,
            "`every` rendered to 0: polling needs a pause".to_owned(),
            Some("give `every:` a duration above zero, e.g. `200ms`"),
        ));
    }
    let within = ctx.duration(step.within.as_ref(), "within", DEFAULT_WITHIN)?;
    Ok(Some((every, within)))
}

/// Runs a step with an action: send (polling with `until:`), then `expect:`, then `save:`.
/// `true` with the result: the action was a `background` step's opening, which found its first
/// match (or saves nothing) and saved; its checks are still to run ([`Recorder::open`]).
async fn run_action(
    shared: &Shared,
    planned: &PlannedStep,
    action: Action<'_>,
    scope: &mut Scope,
    name: String,
    case: CaseRef<'_>,
) -> (StepResult, bool) {
    let start = Instant::now();
    let step = &planned.step;
    let mut result = blank(planned, name, Status::Passed);
    let polling = match polling(&shared.ctx(&planned.file, scope), step) {
        Ok(polling) => polling,
        Err(error) => return errored(result, error, start),
    };
    let polled = {
        let ctx = shared.ctx(&planned.file, scope);
        poll(
            polling,
            || async {
                let sent = jiff::Timestamp::now();
                let exchange = action.attempt(&ctx).await?;
                Ok((exchange, sent, jiff::Timestamp::now()))
            },
            |(exchange, ..)| {
                if step.until.is_some() {
                    check_entries(&ctx, &planned.checks.until, &exchange.observed)
                } else {
                    Ok(Vec::new())
                }
            },
        )
        .await
    };
    result.tries = polled.tries;
    let (exchange, sent, answered) = match polled.last {
        Ok(timed) => timed,
        Err(error) => return errored(result, error, start),
    };
    if let Action::Received(.., received::Phase::Opening { waits }) = action
        && (!waits || exchange.observed.extra.get("count").and_then(Value::as_u64) > Some(0))
    {
        if let Some(id) = &step.id {
            scope.record_step(&id.value, exchange.request, exchange.response);
        }
        result.assertions = save(planned, &exchange.observed, scope);
        result.duration = start.elapsed();
        if result.assertions.is_empty() {
            return (result, true);
        }
        result.status = Status::Failed;
        result.error = Some(StepError::new(
            "watched in the background (`background: true`), the step saves from the first \
             match when it opens; later matches (`$.calls[1]`) are not there yet",
        ));
        result.response = Some(exchange.response_summary);
        return (result, false);
    }
    if let Action::Redirect(r) = action
        && r.manual.as_ref().is_some_and(|m| m.value)
    {
        result.notice = Some(format!(
            "step `{}`: open {} in a browser and pay as the buyer; the next steps wait for the result",
            result.name, exchange.request_summary.url
        ));
    }
    if shared.detail == Detail::All {
        result.messages = messages(action, &exchange, sent, answered);
    }
    let snapshot_check = step.snapshot.as_ref().map(|spec| {
        let observed = &exchange.observed;
        let values = match action {
            Action::Notify(..) => snapshot::Values {
                response: Some(&observed.body),
                notification: Some(&observed.body),
                ..snapshot::Values::default()
            },
            Action::Delivery(..) | Action::NotifyMerchant(_) => snapshot::Values {
                response: Some(&observed.body),
                notification: exchange.request.get("body"),
                ..snapshot::Values::default()
            },
            Action::Http(_)
            | Action::Apo(..)
            | Action::Redirect(_)
            | Action::Sandbox(_)
            | Action::Received(..) => snapshot::Values {
                request: exchange.request.get("body"),
                response: Some(&observed.body),
                notification: None,
                return_page: observed.extra.get("return_page").filter(|p| !p.is_null()),
            },
        };
        let settings = snapshot::Settings {
            mode: shared.snapshots,
            root: &shared.root,
        };
        snapshot::check(spec, values, case, &result.name, settings)
    });
    result.request = Some(exchange.request_summary);
    result.response = Some(exchange.response_summary);
    // The quote of a body observed as received, made when a report shows it.
    let mut unquoted = exchange.unquoted;
    let mut quote = |result: &mut StepResult| {
        if let (Some(text), Some(response)) = (unquoted.take(), result.response.as_mut()) {
            response.body = http::quote(&text, &exchange.observed.body);
        }
    };
    if let Some(id) = &step.id {
        scope.record_step(&id.value, exchange.request, exchange.response);
    }
    if let Some((_, within)) = polling.filter(|_| !polled.unmet.is_empty()) {
        quote(&mut result);
        let response = result.response.as_ref();
        result.error = Some(StepError::new(format!(
            "`until:` still did not hold after {} {} in {} ms; last response: {} {}",
            polled.tries,
            if polled.tries == 1 { "try" } else { "tries" },
            within.as_millis(),
            response.map_or(0, |r| r.status),
            response.map_or("", |r| r.body.as_str()),
        )));
        result.assertions.extend(polled.unmet);
    }
    let ctx = shared.ctx(&planned.file, scope);
    match check_entries(&ctx, &planned.checks.expect, &exchange.observed) {
        Ok(checks) => result.assertions.extend(checks),
        Err(error) => {
            quote(&mut result);
            return errored(result, error, start);
        }
    }
    // A guard fails the step unless `expect:` checks its key itself (e.g. `signature: invalid`
    // in a negative test); a failure fails it in any case.
    let guards = exchange
        .guards
        .iter()
        .filter(|(key, _)| !step.expect.keys().any(|q| q.value == *key))
        .map(|(_, message)| message);
    for message in exchange.failure.iter().chain(guards) {
        result.error = Some(match result.error.take() {
            Some(error) => error.and(message.as_str()),
            None => StepError::new(message.as_str()),
        });
    }
    result
        .assertions
        .extend(save(planned, &exchange.observed, scope));
    match snapshot_check {
        None => {}
        Some(Ok((assertion, path))) => {
            result.assertions.push(assertion);
            result.snapshot = Some(path);
        }
        Some(Err(error)) => {
            quote(&mut result);
            return errored(result, error.into(), start);
        }
    }
    if result.error.is_some() || result.assertions.iter().any(|a| !a.passed) {
        result.status = Status::Failed;
    }
    if result.status != Status::Passed || shared.detail == Detail::All {
        quote(&mut result);
    }
    result.duration = start.elapsed();
    (result, false)
}

/// `result` ended by `error` (a run-time error, not a failed check), timed from `start`.
fn errored(mut result: StepResult, error: StepError, start: Instant) -> (StepResult, bool) {
    result.status = Status::Errored;
    result.error = Some(error);
    result.duration = start.elapsed();
    (result, false)
}

/// Runs the step's `save:` on `observed` into `scope`; a failed assertion for each value that
/// is not there.
fn save(planned: &PlannedStep, observed: &Observed, scope: &mut Scope) -> Vec<AssertionResult> {
    let mut unsaved = Vec::new();
    for capture in &planned.checks.save {
        match eval_save(&capture.query, observed) {
            Ok(value) => scope.set(&capture.var, value),
            Err(message) => unsaved.push(AssertionResult {
                query: capture.query.text().to_owned(),
                line: capture.at.0,
                column: capture.at.1,
                passed: false,
                expected: format!("a value to save as `{}`", capture.var),
                actual: "nothing".to_owned(),
                message: crate::mask::mask_text(&message).into_owned(),
            }),
        }
    }
    unsaved
}

/// The step's messages in full, for the evidence bundle: a notification and the runner's
/// acknowledgement for `notify`, else the request and the response.
/// The step's two messages, with when they happened: a request when the try began, its answer
/// when the try ended; a notification (or a delivery) and its acknowledgement when the try
/// observed them, at its end.
fn messages(
    action: Action<'_>,
    exchange: &http::Exchange,
    sent: jiff::Timestamp,
    answered: jiff::Timestamp,
) -> Vec<Message> {
    let (first, second) = match action {
        Action::Notify(..) | Action::Delivery(..) | Action::NotifyMerchant(_) => {
            (MessageKind::Notification, MessageKind::Acknowledgement)
        }
        Action::Http(_)
        | Action::Apo(..)
        | Action::Redirect(_)
        | Action::Sandbox(_)
        | Action::Received(..) => (MessageKind::Request, MessageKind::Response),
    };
    let request = &exchange.request_summary;
    vec![
        Message {
            kind: first,
            summary: format!("{} {}", request.method, request.url),
            at: Some(match first {
                MessageKind::Request => sent,
                MessageKind::Response
                | MessageKind::Notification
                | MessageKind::Acknowledgement => answered,
            }),
            data: exchange.request.clone(),
        },
        Message {
            kind: second,
            summary: match second {
                MessageKind::Acknowledgement => format!(
                    "ack {}",
                    exchange.response["ack"].as_str().unwrap_or("none")
                ),
                _ => format!("HTTP {}", exchange.response_summary.status),
            },
            at: Some(answered),
            data: exchange.response.clone(),
        },
    ]
}

/// Evaluates compiled `query: expected` entries against `observed` (a templated expected
/// value rendered first); every entry is evaluated. An `Err` is a run-time template error.
fn check_entries(
    ctx: &StepCtx<'_>,
    checks: &[Check],
    observed: &Observed,
) -> Result<Vec<AssertionResult>, StepError> {
    checks
        .iter()
        .map(|check| {
            let rendered = match check.entry.template() {
                Some(template) => Some(ctx.render(template).map_err(|e| {
                    StepError::located(
                        ctx.file,
                        &check.expected.referenced,
                        format!(
                            "in the expected value of `{}`: {}",
                            check.entry.query().text(),
                            e.message
                        ),
                        e.hint.as_deref(),
                    )
                })?),
                None => None,
            };
            Ok(check.entry.eval(rendered.as_ref(), observed, ctx.detail))
        })
        .collect()
}
