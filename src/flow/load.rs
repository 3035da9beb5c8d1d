//! Loading: discover flow files, parse them with locations, check them, resolve `use:`
//! includes (relative to the including file, with cycle detection), expand matrices and
//! filter by tags. Every error of every file is collected; nothing is returned half-checked.
//!
//! ```text
//! paths ─ discover ─> files ─ read + parse (serde-saphyr) ─ check ─┬─ resolve `use:` ─ matrix ─ tags ─> Plan
//!                                                                  └─ any error ─> Vec<Diagnostic>
//! ```

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use indexmap::IndexMap;
use serde_json::Value;
use serde_saphyr::Spanned;

use super::action::ActionKind;
use super::check::{Role, at, check_file, input_reason};
use super::discover::discover;
use super::error::{LoadError, LoadErrorKind};
use super::matrix;
use super::model::{Flow, Step};
use super::plan::{Case, Checks, Partial, Plan, PlannedStep};
use super::recover;
use super::tags::TagExpr;
use crate::diag::{Diagnostic, SourceFile};
use crate::project::{MAX_FLOW_FILE_BYTES, Project};
use crate::template::Templates;

/// The most steps one file may list (a partial's steps count in its own file).
pub const MAX_STEPS: usize = 1000;

/// What to load.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// A tag expression (`smoke`, `card and not slow`, parentheses): only the flows it selects
    /// are in the plan. `None` selects every flow.
    pub tags: Option<String>,
    /// The names of the variables `--var` defines: templates may read them even when the flow
    /// does not declare them.
    pub vars: Vec<String>,
    /// Where the files flows name (`use:`, `body_file:`, `sign_with:`) may be: for a run,
    /// [`Project::new`]; the default is anywhere.
    pub project: Project,
}

/// Loads and checks the flow files under `paths` (files or folders); the plan, or every error
/// found in every file.
pub fn load(paths: &[PathBuf], opts: &LoadOptions) -> Result<Plan, Vec<Diagnostic>> {
    load_watching(paths, opts, || {})
}

/// [`load`], calling `first_apo` once, as soon as a planned case talks to APO
/// ([`Case::talks_to_apo`]): a run can start what such a case needs while the rest loads.
pub fn load_watching(
    paths: &[PathBuf],
    opts: &LoadOptions,
    first_apo: impl FnOnce(),
) -> Result<Plan, Vec<Diagnostic>> {
    let mut first_apo = Some(first_apo);
    let mut loader = Loader {
        cli_vars: opts.vars.clone(),
        project: opts.project.clone(),
        ..Loader::default()
    };
    let tags = match opts.tags.as_deref().map(TagExpr::parse).transpose() {
        Ok(t) => t,
        Err(e) => {
            loader.diags.push(
                Diagnostic::plain(format!("invalid `--tags` expression: {e}")).with_hint(
                    "combine tag names with `and`, `or`, `not` and parentheses, e.g. `card and not slow`",
                ),
            );
            None
        }
    };
    let discovered = discover(paths);
    loader.diags.extend(discovered.errors);
    let mut cases = Vec::new();
    for f in &discovered.found {
        let role = if f.partial {
            Role::Partial
        } else {
            Role::Runnable
        };
        let Some(file) = loader.file(&f.path, role) else {
            continue;
        };
        let mut stack = vec![(file.key.clone(), file.source.path.clone())];
        let steps = loader.resolve_steps(&file, &mut stack);
        if role == Role::Runnable
            && let Some(steps) = steps
        {
            let before = cases.len();
            cases.extend(
                make_cases(&file, steps)
                    .into_iter()
                    .filter(|c| tags.as_ref().is_none_or(|t| t.matches(&c.tags))),
            );
            if cases[before..].iter().any(|c| c.talks_to_apo)
                && let Some(tell) = first_apo.take()
            {
                tell();
            }
        }
    }
    let mut diags = loader.diags;
    let mut seen = std::collections::HashSet::new();
    diags.retain(|d| seen.insert((d.file.clone(), d.line, d.column, d.title.clone())));
    // By file, then position: the order a reader fixes them in.
    diags.sort_by(|a, b| (&a.file, a.line, a.column).cmp(&(&b.file, b.line, b.column)));
    for (index, case) in cases.iter_mut().enumerate() {
        case.index = index;
    }
    if diags.is_empty() {
        Ok(Plan {
            cases,
            skipped: discovered.skipped,
            project: opts.project.clone(),
        })
    } else {
        Err(diags)
    }
}

/// A parsed file.
struct Parsed {
    /// The canonical path: the identity of the file for caching and cycles.
    key: PathBuf,
    source: Arc<SourceFile>,
    flow: Flow,
    /// Whether a template of the file reads the runner's `target`.
    reads_target: bool,
    /// Each step's compiled checks, in step order.
    checks: Vec<Arc<Checks>>,
}

#[derive(Default)]
struct Loader {
    templates: Option<Templates>,
    /// Partials parsed and checked, by canonical path: every `use:` of a partial asks for it
    /// again. `None` when the file had errors that stop its use (unreadable, bad YAML).
    /// Runnable files are planned once and not kept, so the loader never holds every flow.
    files: HashMap<PathBuf, Option<Arc<Parsed>>>,
    /// Resolved partials by canonical path; `None` when resolving them failed.
    partials: HashMap<PathBuf, Option<Partial>>,
    diags: Vec<Diagnostic>,
    /// The `--var` names (see [`LoadOptions::vars`]).
    cli_vars: Vec<String>,
    project: Project,
    /// The JSONPaths compiled so far: each distinct one is compiled once per load.
    queries: crate::expect::Queries,
}

impl Loader {
    fn templates(&mut self) -> &Templates {
        // `check` reads no environment; an empty snapshot is enough at load time.
        self.templates
            .get_or_insert_with(|| Templates::new(BTreeMap::new()))
    }

    /// Reads, parses and checks a file as `role` (a partial once).
    fn file(&mut self, path: &Path, role: Role) -> Option<Arc<Parsed>> {
        let key = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        if role == Role::Partial
            && let Some(cached) = self.files.get(&key)
        {
            return cached.clone();
        }
        let parsed = self.parse(path, key.clone(), role);
        if role == Role::Partial {
            self.files.insert(key, parsed.clone());
        }
        parsed
    }

    fn parse(&mut self, path: &Path, key: PathBuf, role: Role) -> Option<Arc<Parsed>> {
        // A runnable file used as a partial too was read and parsed already: reuse it, check
        // again.
        let known = self.files.get(&key).cloned().flatten();
        let (source, flow) = match known {
            Some(p) => (Arc::clone(&p.source), p.flow.clone()),
            None => {
                // Bounded before it is parsed; a byte-order mark is dropped (columns count
                // without it).
                let text = match crate::project::read_text(path, MAX_FLOW_FILE_BYTES) {
                    Ok(t) => t,
                    Err(e) => {
                        self.diags.push(
                            Diagnostic::for_file(path, "cannot read this flow file")
                                .with_label(input_reason(&e)),
                        );
                        return None;
                    }
                };
                let source = Arc::new(SourceFile::new(path.to_path_buf(), text));
                match super::model::parse(&source.text) {
                    Ok(flow) if flow.steps.len() > MAX_STEPS => {
                        self.diags.push(
                            Diagnostic::for_file(path, "too many steps in this flow file")
                                .with_label(format!(
                                    "{} steps, over the limit of {MAX_STEPS}",
                                    flow.steps.len()
                                ))
                                .with_hint("split the flow, or move repeated steps into a partial used with `use:`"),
                        );
                        return None;
                    }
                    Ok(flow) => (source, flow),
                    Err(e) => {
                        let first = recover::located(&e);
                        let templates = self.templates().clone();
                        let more = recover::further_errors(
                            &source,
                            &first,
                            role,
                            &templates,
                            &self.cli_vars,
                            &self.project,
                        );
                        for error in std::iter::once(first).chain(more) {
                            self.diags.push(error.into_diagnostic(&source));
                        }
                        return None;
                    }
                }
            }
        };
        let templates = self.templates().clone();
        let checked = check_file(
            &source,
            &flow,
            role,
            &templates,
            &self.cli_vars,
            &self.project,
            &mut self.queries,
        );
        for e in checked.errors {
            self.diags.push(e.into_diagnostic(&source));
        }
        Some(Arc::new(Parsed {
            key,
            source,
            flow,
            reads_target: checked.reads_target,
            checks: checked.checks,
        }))
    }

    /// Resolves the steps of a file, following `use:`; `None` when an include failed.
    fn resolve_steps(
        &mut self,
        file: &Parsed,
        stack: &mut Vec<(PathBuf, PathBuf)>,
    ) -> Option<Vec<PlannedStep>> {
        let mut ok = true;
        let mut planned = Vec::with_capacity(file.flow.steps.len());
        for (i, step) in file.flow.steps.iter().enumerate() {
            let partial = match &step.value.use_flow {
                Some(target) => match self.include(file, target, stack) {
                    Some(p) => Some(p),
                    None => {
                        ok = false;
                        continue;
                    }
                },
                None => None,
            };
            match planned_step(&file.source, step, file.checks.get(i), partial) {
                Some(p) => planned.push(p),
                // A step without an action, or whose checks did not compile: reported by the
                // checks.
                None => ok = false,
            }
        }
        ok.then_some(planned)
    }

    /// Resolves one `use:` target.
    fn include(
        &mut self,
        file: &Parsed,
        target: &Spanned<String>,
        stack: &mut Vec<(PathBuf, PathBuf)>,
    ) -> Option<Partial> {
        if crate::template::is_template(&target.value) {
            return None; // reported by the checks
        }
        let (line, column) = at(target);
        let width = target.value.chars().count() as u64;
        let dir = file.source.path.parent().unwrap_or(Path::new(""));
        let path = normalize(&dir.join(&target.value));
        let found = crate::project::check_regular(&path, MAX_FLOW_FILE_BYTES)
            .and_then(|()| self.project.contains(&path))
            .map_err(|e| input_reason(&e));
        if let Err(e) = found {
            self.diags.push(
                LoadError::new(
                    line,
                    column,
                    width,
                    LoadErrorKind::UseNotFound {
                        target: path,
                        reason: e,
                    },
                )
                .into_diagnostic(&file.source),
            );
            return None;
        }
        let key = std::fs::canonicalize(&path).unwrap_or_else(|_| path.clone());
        if stack.iter().any(|(k, _)| *k == key) {
            // From the flow that was loaded, through every include, back to the repeated one.
            let mut chain: Vec<PathBuf> = stack.iter().map(|(_, p)| p.clone()).collect();
            chain.push(path);
            self.diags.push(
                LoadError::new(line, column, width, LoadErrorKind::UseCycle(chain))
                    .into_diagnostic(&file.source),
            );
            return None;
        }
        if let Some(done) = self.partials.get(&key) {
            return done.clone();
        }
        let parsed = self.file(&path, Role::Partial)?;
        stack.push((key.clone(), path));
        let steps = self.resolve_steps(&parsed, stack);
        stack.pop();
        let partial = steps.map(|steps| Partial {
            file: Arc::clone(&parsed.source),
            vars: plain_vars(&parsed.flow.vars),
            talks_to_apo: parsed.reads_target || talks_to_apo(&steps),
            steps,
        });
        self.partials.insert(key, partial.clone());
        partial
    }
}

/// Removes `.` and `dir/..` from a path without touching the file system, so that
/// `flows/card/../_login.yaml` reads `flows/_login.yaml`.
fn normalize(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut out: Vec<Component<'_>> = Vec::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => match out.last() {
                Some(Component::Normal(_)) => {
                    out.pop();
                }
                Some(Component::RootDir | Component::Prefix(_)) => {}
                _ => out.push(c),
            },
            other => out.push(other),
        }
    }
    if out.is_empty() {
        PathBuf::from(".")
    } else {
        out.iter().collect()
    }
}

fn planned_step(
    source: &Arc<SourceFile>,
    step: &Spanned<Arc<Step>>,
    checks: Option<&Arc<Checks>>,
    partial: Option<Partial>,
) -> Option<PlannedStep> {
    let (line, column) = at(step);
    Some(PlannedStep {
        file: Arc::clone(source),
        line,
        column,
        kind: ActionKind::of(&step.value)?,
        checks: Arc::clone(checks?),
        step: Arc::clone(&step.value),
        partial,
    })
}

fn plain_vars(vars: &IndexMap<String, Spanned<Value>>) -> IndexMap<String, Value> {
    vars.iter()
        .map(|(k, v)| (k.clone(), v.value.clone()))
        .collect()
}

/// Whether any of `steps` talks to APO (see [`Case::talks_to_apo`]).
fn talks_to_apo(steps: &[PlannedStep]) -> bool {
    steps
        .iter()
        .any(|s| s.kind.talks_to_apo() || s.partial.as_ref().is_some_and(|p| p.talks_to_apo))
}

/// The cases of a runnable flow: one, or one per matrix combination.
fn make_cases(file: &Parsed, steps: Vec<PlannedStep>) -> Vec<Case> {
    let flow = &file.flow;
    let base = Case {
        index: 0,
        file: Arc::clone(&file.source),
        flow_name: flow
            .name
            .as_ref()
            .map(|n| n.value.clone())
            .unwrap_or_default(),
        case_name: None,
        tags: flow.tags.iter().map(|t| t.value.clone()).collect(),
        covers: flow.covers.iter().map(|c| c.value.clone()).collect(),
        vars: plain_vars(&flow.vars),
        talks_to_apo: file.reads_target || talks_to_apo(&steps),
        steps,
        retries: flow.retries.map(|r| r.0),
        retry_live: flow.retry_live,
    };
    let m: IndexMap<String, Vec<Value>> = flow
        .matrix
        .iter()
        .map(|(k, v)| (k.clone(), v.value.clone()))
        .collect();
    let expanded = match matrix::expand(&m) {
        Ok(cases) if cases.is_empty() => return vec![base],
        Ok(cases) => cases,
        // Reported by the checks (`MatrixTooBig`); nothing is expanded.
        Err(_) => return Vec::new(),
    };
    expanded
        .into_iter()
        .map(|mc| {
            let mut case = base.clone();
            case.vars.extend(mc.vars);
            case.case_name = Some(mc.name);
            case
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(root: &Path, files: &[(&str, &str)]) {
        for (name, text) in files {
            let p = root.join(name);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
    }

    fn titles(diags: &[Diagnostic]) -> Vec<String> {
        diags.iter().map(|d| d.title.clone()).collect()
    }

    #[test]
    fn use_resolves_relative_to_the_including_file_and_nests() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(
            root,
            &[
                (
                    "card/pay.yaml",
                    "name: pay\nsteps:\n  - use: ../common/_login.yaml\n    with: { user: bob }\n  - sleep: 1ms\n",
                ),
                (
                    "common/_login.yaml",
                    "vars: { user: anon }\nsteps:\n  - use: _inner.yaml\n",
                ),
                ("common/_inner.yaml", "steps:\n  - sleep: 2ms\n"),
            ],
        );
        let plan = load(&[root.to_path_buf()], &LoadOptions::default()).unwrap();
        assert_eq!(plan.cases.len(), 1);
        let case = &plan.cases[0];
        assert_eq!(case.steps.len(), 2);
        let login = case.steps[0].partial.as_ref().unwrap();
        assert!(login.file.path.ends_with("common/_login.yaml"));
        assert_eq!(login.vars["user"], serde_json::json!("anon"));
        let inner = login.steps[0].partial.as_ref().unwrap();
        assert!(inner.file.path.ends_with("common/_inner.yaml"));
        assert_eq!((inner.steps[0].line, inner.steps[0].column), (2, 5));
        assert!(Arc::ptr_eq(&inner.steps[0].file, &inner.file));
    }

    #[test]
    fn matrix_cases_carry_their_values_and_tags_filter_them() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(
            root,
            &[
                (
                    "a.yaml",
                    "name: a\ntags: [card]\nvars: { x: 1 }\nmatrix: { card: [visa, mc] }\nsteps:\n  - sleep: 1ms\n",
                ),
                (
                    "b.yaml",
                    "name: b\ntags: [card, slow]\nsteps:\n  - sleep: 1ms\n",
                ),
            ],
        );
        let plan = load(&[root.to_path_buf()], &LoadOptions::default()).unwrap();
        let names: Vec<_> = plan
            .cases
            .iter()
            .map(|c| (c.flow_name.as_str(), c.case_name.as_deref()))
            .collect();
        assert_eq!(
            names,
            [
                ("a", Some("card=visa")),
                ("a", Some("card=mc")),
                ("b", None)
            ]
        );
        assert_eq!(plan.cases[1].vars["card"], serde_json::json!("mc"));
        assert_eq!(plan.cases[1].vars["x"], serde_json::json!(1));

        let opts = LoadOptions {
            tags: Some("card and not slow".to_owned()),
            ..LoadOptions::default()
        };
        let plan = load(&[root.to_path_buf()], &opts).unwrap();
        assert_eq!(plan.cases.len(), 2);
    }

    #[test]
    fn steps_carry_their_kind_and_compiled_checks() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(
            root,
            &[(
                "a.yaml",
                "name: a\nvars: { s: S }\nsteps:\n  - http: { url: \"http://x\" }\n    expect: { status: 200, $.a: \"{{ s }}\" }\n    until: { $.b: { exists: true } }\n    save: { id: $.id }\n  - notify: { type: PAYMENT_RESULT, match: { $.paymentId: P1 } }\n",
            )],
        );
        let plan = load(&[root.to_path_buf()], &LoadOptions::default()).unwrap();
        let [http, notify] = plan.cases[0].steps.as_slice() else {
            panic!("two steps")
        };
        assert_eq!(
            (http.kind, notify.kind),
            (ActionKind::Http, ActionKind::Notify)
        );
        let queries = |checks: &[super::super::plan::Check]| -> Vec<String> {
            checks
                .iter()
                .map(|c| c.entry.query().text().to_owned())
                .collect()
        };
        assert_eq!(queries(&http.checks.expect), ["status", "$.a"]);
        assert!(http.checks.expect[0].entry.template().is_none());
        assert!(http.checks.expect[1].entry.template().is_some());
        assert_eq!(queries(&http.checks.until), ["$.b"]);
        assert_eq!(http.checks.save[0].var, "id");
        assert_eq!(http.checks.save[0].query.text(), "$.id");
        assert!(http.checks.matches.is_empty());
        assert_eq!(queries(&notify.checks.matches), ["$.paymentId"]);
        assert!(plan.cases[0].talks_to_apo);
    }

    #[test]
    fn the_first_case_that_talks_to_apo_is_told_once() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let http = "name: h\nsteps:\n  - http: { url: \"http://x\" }\n";
        write(root, &[("a.yaml", http), ("b.yaml", http)]);
        let mut told = 0;
        load_watching(&[root.to_path_buf()], &LoadOptions::default(), || told += 1).unwrap();
        assert_eq!(told, 0);
        let pay = "name: p\nsteps:\n  - pay: {}\n";
        write(root, &[("c.yaml", pay), ("d.yaml", pay)]);
        load_watching(&[root.to_path_buf()], &LoadOptions::default(), || told += 1).unwrap();
        assert_eq!(told, 1);
    }

    #[test]
    fn errors_of_all_files_are_collected_sorted_and_once() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(
            root,
            &[
                ("a.yaml", "name: a\nsteps:\n  - use: _bad.yaml\n"),
                (
                    "b.yaml",
                    "name: b\nsteps:\n  - use: _bad.yaml\n  - sleep: 2\n",
                ),
                ("_bad.yaml", "steps:\n  - {}\n"),
            ],
        );
        let diags = load(&[root.to_path_buf()], &LoadOptions::default()).unwrap_err();
        assert_eq!(
            titles(&diags),
            [
                "a step needs an action",
                "invalid duration `2`: write a number with a unit, e.g. `500ms`, `2s`, `1m30s`"
            ]
        );
        assert!(diags[0].file.ends_with("_bad.yaml"));
        assert!(diags[1].file.ends_with("b.yaml"));
    }

    #[test]
    fn an_explicit_partial_is_checked_as_a_partial() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(root, &[("_p.yaml", "steps:\n  - sleep: 1ms\n")]);
        let plan = load(&[root.join("_p.yaml")], &LoadOptions::default()).unwrap();
        assert!(plan.cases.is_empty());
    }

    #[test]
    fn the_same_file_twice_is_loaded_once() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(root, &[("a.yaml", "name: a\nsteps:\n  - sleep: 1ms\n")]);
        let paths = [
            root.to_path_buf(),
            root.join("./a.yaml"),
            root.join("a.yaml"),
        ];
        let plan = load(&paths, &LoadOptions::default()).unwrap();
        assert_eq!(plan.cases.len(), 1);
    }

    #[test]
    fn a_bad_tag_expression_is_a_diagnostic() {
        let diags = load(
            &[],
            &LoadOptions {
                tags: Some("(a".to_owned()),
                ..LoadOptions::default()
            },
        )
        .unwrap_err();
        assert_eq!(
            titles(&diags),
            ["invalid `--tags` expression: a `(` is not closed in the tag expression"]
        );
    }

    #[test]
    fn no_prefix_of_a_flow_panics() {
        let text = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/good/payment.yaml"),
        )
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cut.yaml");
        let mut cut = 0;
        while cut < text.len() {
            if text.is_char_boundary(cut) {
                std::fs::write(&path, &text[..cut]).unwrap();
                let _ = load(std::slice::from_ref(&path), &LoadOptions::default());
            }
            cut += 7;
        }
    }

    #[test]
    fn use_stays_inside_the_project_unless_allowed() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(
            root,
            &[
                (
                    "flows/a.yaml",
                    "name: a\nsteps:\n  - use: ../outside/_p.yaml\n",
                ),
                ("outside/_p.yaml", "steps:\n  - sleep: 1ms\n"),
                (
                    "flows/env.yaml",
                    "name: e\nsteps:\n  - use: /proc/self/environ\n",
                ),
            ],
        );
        let flows = root.join("flows");
        let opts = |allow| LoadOptions {
            project: Project::new(&flows, std::slice::from_ref(&flows), allow),
            ..LoadOptions::default()
        };
        let diags = load(std::slice::from_ref(&flows), &opts(false)).unwrap_err();
        let text: String = diags.iter().map(|d| d.render(false)).collect();
        assert!(text.contains("outside the project"), "{text}");
        assert!(text.contains("--allow-outside-project"), "{text}");
        // The environment is never read, let alone printed.
        assert!(!text.contains("PATH="), "{text}");
        let diags = load(&[flows.join("a.yaml")], &opts(true));
        assert!(diags.is_ok(), "{diags:?}");
        let diags = load(&[flows.join("env.yaml")], &opts(true)).unwrap_err();
        let text: String = diags.iter().map(|d| d.render(false)).collect();
        assert!(text.contains("it is not text"), "{text}");
        assert!(!text.contains("PATH="), "{text}");
    }

    #[test]
    fn big_files_many_steps_and_unknown_tags_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let big = format!(
            "name: big\nsteps:\n  - sleep: 1ms\n#{}\n",
            "x".repeat(2 << 20)
        );
        let many = format!(
            "name: many\nsteps:\n{}",
            "  - sleep: 1ms\n".repeat(MAX_STEPS + 1)
        );
        write(
            root,
            &[
                ("big.yaml", &big),
                ("many.yaml", &many),
                ("tag.yaml", "name: t\nsteps:\n  - sleep: !bogus 1ms\n"),
            ],
        );
        let diags = load(&[root.to_path_buf()], &LoadOptions::default()).unwrap_err();
        let text: String = diags.iter().map(|d| d.render(false)).collect();
        assert!(
            text.contains("larger than the limit of 1048576 bytes"),
            "{text}"
        );
        assert!(
            text.contains("1001 steps, over the limit of 1000"),
            "{text}"
        );
        assert!(text.contains("tag.yaml:3"), "{text}");
        assert!(text.contains("bogus"), "{text}");
        assert!(text.len() < 4000, "{text}");
    }

    #[test]
    fn normalize_removes_dots() {
        assert_eq!(
            normalize(Path::new("flows/card/../_a.yaml")),
            PathBuf::from("flows/_a.yaml")
        );
        assert_eq!(normalize(Path::new("./a/./b")), PathBuf::from("a/b"));
        assert_eq!(normalize(Path::new("../x")), PathBuf::from("../x"));
        assert_eq!(normalize(Path::new("/../x")), PathBuf::from("/x"));
    }
}
