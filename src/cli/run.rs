//! `apoflow run [PATHS]...`: load and check every flow, then run them and report.
//!
//! ```text
//! args ──> RunOptions (paths, vars, jobs, reports, target + keys, merchant)
//!                                     bad flag / bad flow / bad target ──> exit 2, nothing sent
//!      ──> flow::load ──> start: embedded sandbox (no --target, and a case talks to APO or a
//!                          flag asks for it; --sandbox-listen or 127.0.0.1:0) + notification
//!                          receiver; the merchant under test
//!                          (--merchant: started, registered, ready, or exit 2);
//!                          runner variables (notify_url, redirect_url, merchant, …)
//!      ──> engine::run ──events──> one consumer ──> report::Reporters
//!      ──> stop the merchant (always; Ctrl-C and SIGTERM too)
//!      ──> exit 0 (all passed) / 1 (a case failed or errored)
//! ```

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use clap::Args;
use indexmap::IndexMap;
use serde_json::{Map, Value};

use super::report::{After, Github, ReportArgs, conclude};
use super::run_checklist::ChecklistRun;
use super::snapshots::update_mode;
use super::validate::print_diagnostics;
use super::{Context, exit};
use url::Url;

use crate::apo::client::{Client, ClientBuildError, ClientConfig};
use crate::apo::keys::{KeyError, PrivateKey};
use crate::apo::target::Target;
use crate::config::{Config, DEFAULT_FILE, MerchantSpec};
use crate::diag::Diagnostic;
use crate::engine::{self, event::Event};
use crate::flow::partition::Partition;
use crate::flow::{LoadOptions, load_watching};
use crate::merchant::{KeyFiles, Merchant, Wiring};
use crate::output::{FileKind, Sink, write_file};
use crate::receiver::{self, ReceiverConfig, ReceiverHandle};
use crate::report::evidence::{RunInfo, Subject};
use crate::report::{Files, Finished, Reporters, Terminal};
use crate::sandbox::{self, SandboxHandle};
use crate::snapshot::UpdateMode;
use crate::template::Templates;

/// Flows with this tag test a merchant's own server: they run only with `--merchant`.
pub const MERCHANT_TAG: &str = "merchant";

/// The flags of `apoflow run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Flow files or folders (searched recursively for *.yaml / *.yml; `_partials` skipped).
    #[arg(default_value = "flows")]
    pub paths: Vec<PathBuf>,
    /// Set a variable, replacing a flow `vars` entry of the same name (repeatable); the value
    /// is a string.
    #[arg(long = "var", value_name = "NAME=VALUE")]
    pub vars: Vec<String>,
    /// Only flows whose tags match, e.g. `smoke` or `card and not slow`.
    #[arg(long, value_name = "EXPR")]
    pub tags: Option<String>,
    /// Let flows name files outside the project (`use:`, `body_file:`, `sign_with:` beyond
    /// the working directory and the flows' folders).
    #[arg(long)]
    pub allow_outside_project: bool,
    /// How many flows run at once [default: the merchant's `jobs` with --merchant, else the
    /// number of CPU cores].
    #[arg(long, short = 'j', value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub jobs: Option<u16>,
    /// Start no new flow after the first failure (running ones finish; the rest are skipped).
    #[arg(long)]
    pub fail_fast: bool,
    /// Run only shard K of N (e.g. `2/3`): each case goes to one shard by a stable hash of its
    /// flow file and case name. Merge the shards' `--json` reports with `apoflow report merge`.
    #[arg(long, value_name = "K/N")]
    pub partition: Option<Partition>,
    /// Run a failed case again from its first step, at most N times (0 to 10; a flow's
    /// `retries:` replaces it); a case that passes on a retry is reported flaky. On a live
    /// target, cases that change state there are not retried unless their flow says
    /// `retry_live: true`.
    #[arg(long, value_name = "N", default_value_t = 0,
          value_parser = clap::value_parser!(u32).range(0..=i64::from(crate::flow::model::Retries::MAX)))]
    pub retries: u32,
    /// The reports to write.
    #[command(flatten)]
    pub out: ReportArgs,
    /// Run against this target of the config file (default: the embedded sandbox, started on
    /// a loopback port for the run).
    #[arg(long, value_name = "NAME")]
    pub target: Option<String>,
    /// Start this merchant of the config file (`[merchants.NAME]`) against the embedded
    /// sandbox for the run: the system under test. Flows see `merchant.url` and
    /// `merchant.client_id`.
    #[arg(long, value_name = "NAME", conflicts_with = "target")]
    pub merchant: Option<String>,
    /// Where the embedded sandbox listens [default: the merchant's `sandbox_listen`, else a
    /// free port on 127.0.0.1].
    #[arg(long, value_name = "ADDR", conflicts_with = "target")]
    pub sandbox_listen: Option<SocketAddr>,
    /// Serve the embedded sandbox over HTTPS, with a local CA created once in DIR (`ca.pem`)
    /// and trusted by this run [default: the merchant's `tls_dir`].
    #[arg(long, value_name = "DIR", conflicts_with = "target")]
    pub tls_dir: Option<PathBuf>,
    /// The config file naming the targets and merchants [default: apoflow.toml].
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The public URL that reaches this run's notification receiver (e.g. a tunnel), for live
    /// targets that cannot call 127.0.0.1; `notify_url` and `redirect_url` are built on it.
    #[arg(long, value_name = "URL")]
    pub notify_public_url: Option<Url>,
    /// Write new and changed `snapshot:` files directly (as `APOFLOW_UPDATE=always`), instead of
    /// `.snap.new` files for review.
    #[arg(long)]
    pub update_snapshots: bool,
    /// With --evidence: a free label for the run in the bundle, e.g. the merchant's commit.
    #[arg(long, value_name = "TEXT", requires = "evidence")]
    pub evidence_label: Option<String>,
}

/// Everything `run` needs, checked: built from [`RunArgs`] before anything is loaded or sent.
#[derive(Debug)]
pub struct RunOptions {
    /// Where the flows are.
    pub paths: Vec<PathBuf>,
    /// The tag filter.
    pub tags: Option<String>,
    /// Where the files flows name may be.
    pub project: crate::project::Project,
    /// `--var` values.
    pub vars: IndexMap<String, Value>,
    /// Concurrency.
    pub jobs: usize,
    /// `--fail-fast`.
    pub fail_fast: bool,
    /// `--retries`.
    pub retries: u32,
    /// `--partition`.
    pub partition: Option<Partition>,
    /// `--junit` file.
    pub junit: Option<PathBuf>,
    /// `--json` file.
    pub json: Option<PathBuf>,
    /// GitHub annotations on, and where the job summary goes (`$GITHUB_STEP_SUMMARY`).
    pub github: Github,
    /// `--html` folder.
    pub html: Option<PathBuf>,
    /// Colours on the terminal report.
    pub color: bool,
    /// The `--target`, keys loaded; `None` for the embedded sandbox.
    pub target: Option<Target>,
    /// The `--merchant`, as configured.
    pub merchant: Option<MerchantSpec>,
    /// Where the embedded sandbox listens.
    pub sandbox_listen: Option<SocketAddr>,
    /// Where the embedded sandbox's CA is kept, when it serves HTTPS.
    pub tls_dir: Option<PathBuf>,
    /// `--notify-public-url`.
    pub notify_public_url: Option<Url>,
    /// How the run's HTTP client is built (proxy from the environment).
    pub client: ClientConfig,
    /// When `snapshot:` checks write files.
    pub snapshots: UpdateMode,
    /// `--checklist` file.
    pub checklist: Option<PathBuf>,
    /// `--evidence` folder.
    pub evidence: Option<PathBuf>,
    /// `--evidence-label`.
    pub evidence_label: Option<String>,
    /// `--list-snapshots` file.
    pub list_snapshots: Option<PathBuf>,
}

impl RunOptions {
    /// Checks the flags; every problem is a diagnostic.
    pub fn from_args(args: RunArgs, ctx: &Context) -> Result<Self, Vec<Diagnostic>> {
        let mut errors = Vec::new();
        let mut vars = IndexMap::new();
        for raw in &args.vars {
            match parse_var(raw) {
                Ok((name, value)) => {
                    vars.insert(name, Value::String(value));
                }
                Err(d) => errors.push(*d),
            }
        }
        for (flag, path) in [
            ("--junit", &args.out.junit),
            ("--json", &args.out.json),
            ("--list-snapshots", &args.out.list_snapshots),
        ] {
            if let Some(path) = path
                && let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
                && !dir.is_dir()
            {
                errors.push(
                    Diagnostic::plain(format!(
                        "{flag} {}: the folder {} does not exist",
                        path.display(),
                        dir.display()
                    ))
                    .with_hint("create the folder first, or write the report elsewhere"),
                );
            }
        }
        if let Some(partition) = &args.partition
            && let Some(checklist) = &args.out.checklist
        {
            errors.push(
                Diagnostic::plain(format!(
                    "--checklist with --partition {partition}: a shard holds only part of the suite, so its coverage says little"
                ))
                .with_hint(format!(
                    "run each shard with --json, then judge coverage once: `apoflow report merge --checklist {} shard-*.json`",
                    checklist.display()
                )),
            );
        }
        let mut client = ClientConfig::with_proxy_from(&|var| ctx.var(var).map(str::to_owned));
        let config = (args.target.is_some() || args.merchant.is_some()).then(|| {
            Config::load(
                &ctx.cwd
                    .join(args.config.as_deref().unwrap_or(Path::new(DEFAULT_FILE))),
            )
        });
        let mut config_error = |e: crate::config::ConfigError| errors.push(e.to_diagnostic());
        let config = match config {
            Some(Err(e)) => {
                config_error(e);
                None
            }
            Some(Ok(c)) => Some(c),
            None => None,
        };
        let target = match (&args.target, &config) {
            (Some(name), Some(config)) => {
                match config.target(name, &|var| ctx.var(var).map(str::to_owned)) {
                    Ok(t) => {
                        client
                            .ca_files
                            .extend(config.spec(name).ok().and_then(|s| s.ca_file.clone()));
                        Some(t)
                    }
                    Err(e) => {
                        config_error(e);
                        None
                    }
                }
            }
            _ => None,
        };
        let merchant = match (&args.merchant, &config) {
            (Some(name), Some(config)) => match config.merchant(name) {
                Ok(m) => Some(m.clone()),
                Err(e) => {
                    config_error(e);
                    None
                }
            },
            _ => None,
        };
        let snapshots = match update_mode(args.update_snapshots, ctx) {
            Ok(mode) => mode,
            Err(e) => {
                errors.push(Diagnostic::plain(e.to_string()).with_hint(
                    "unset APOFLOW_UPDATE, or pass --update-snapshots to write snapshots",
                ));
                UpdateMode::default()
            }
        };
        if !errors.is_empty() {
            return Err(errors);
        }
        let jobs = args
            .jobs
            .map(usize::from)
            .or(merchant.as_ref().and_then(|m| m.jobs))
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from));
        Ok(RunOptions {
            project: crate::project::Project::new(
                &ctx.cwd,
                &args.paths,
                args.allow_outside_project,
            ),
            paths: args.paths,
            tags: args.tags,
            vars,
            jobs,
            fail_fast: args.fail_fast,
            retries: args.retries,
            partition: args.partition,
            junit: args.out.junit,
            json: args.out.json,
            github: Github::from_flag(args.out.annotations, ctx),
            html: args.out.html,
            color: ctx.stdout_is_tty && ctx.var("NO_COLOR").is_none(),
            sandbox_listen: args
                .sandbox_listen
                .or(merchant.as_ref().and_then(|m| m.sandbox_listen)),
            tls_dir: args
                .tls_dir
                .map(|d| ctx.cwd.join(d))
                .or(merchant.as_ref().and_then(|m| m.tls_dir.clone())),
            target,
            merchant,
            notify_public_url: args.notify_public_url,
            client,
            snapshots,
            checklist: args.out.checklist,
            evidence: args.out.evidence,
            evidence_label: args.evidence_label,
            list_snapshots: args.out.list_snapshots,
        })
    }
}

/// `NAME=VALUE`, with NAME a variable name (`--var` of `run` and `sign`).
pub(super) fn parse_var(raw: &str) -> Result<(String, String), Box<Diagnostic>> {
    let bad = |what: &str| {
        Box::new(
            Diagnostic::plain(format!("--var `{raw}`: {what}"))
                .with_hint("write `--var name=value`, e.g. `--var amount=4200`"),
        )
    };
    let (name, value) = raw.split_once('=').ok_or_else(|| bad("missing `=`"))?;
    let valid = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid {
        return Err(bad(
            "the name must be letters, digits and `_`, not starting with a digit",
        ));
    }
    Ok((name.to_owned(), value.to_owned()))
}

/// Runs `apoflow run`; returns 0, 1 or 2.
pub fn run(args: RunArgs, ctx: &Context) -> u8 {
    let options = match RunOptions::from_args(args, ctx) {
        Ok(o) => o,
        Err(diags) => {
            print_diagnostics(&diags, ctx);
            return exit::INVALID;
        }
    };
    // What does not depend on the flows is made on another thread while they load: the
    // embedded target's keys, and the run's HTTP client (it reads the system's root
    // certificates), unless the embedded sandbox's own CA is to join it.
    let early_client = {
        let config = options.client.clone();
        let embedded = options.target.is_none();
        let fixed = options.tls_dir.is_none();
        std::thread::spawn(move || {
            if embedded {
                Target::prepare_embedded();
            }
            fixed.then(|| Client::from_config(&config))
        })
    };
    // The embedded sandbox signs with a key pair of this run's own; making one takes 60–150
    // ms, about as long as loading a large suite, so it is made meanwhile, on another thread:
    // from the start when a flag asks for the sandbox, else from the first case that needs it.
    let embedded = options.target.is_none();
    let sandbox_flag =
        options.merchant.is_some() || options.sandbox_listen.is_some() || options.tls_dir.is_some();
    let mut sandbox_key =
        (embedded && sandbox_flag).then(|| std::thread::spawn(PrivateKey::generate));
    let plan = match load_watching(
        &options.paths,
        &LoadOptions {
            tags: options.tags.clone(),
            vars: options.vars.keys().cloned().collect(),
            project: options.project.clone(),
        },
        || {
            if embedded && sandbox_key.is_none() {
                sandbox_key = Some(std::thread::spawn(PrivateKey::generate));
            }
        },
    ) {
        Ok(plan) => plan,
        Err(diags) => {
            print_diagnostics(&diags, ctx);
            return exit::INVALID;
        }
    };
    let mut plan = plan;
    if let Some(note) = plan.skipped_note() {
        errln(&note);
    }
    let needs_merchant = if options.merchant.is_none() {
        let before = plan.cases.len();
        plan.cases
            .retain(|c| !c.tags.iter().any(|t| t == MERCHANT_TAG));
        before - plan.cases.len()
    } else {
        0
    };
    if needs_merchant > 0 {
        errln(&format!(
            "note: {needs_merchant} case{} tagged `{MERCHANT_TAG}` not run: {} a merchant under test (--merchant NAME)",
            if needs_merchant == 1 { "" } else { "s" },
            if needs_merchant == 1 {
                "it needs"
            } else {
                "they need"
            },
        ));
    }
    let before_partition = plan.cases.len();
    if let Some(partition) = &options.partition {
        plan.cases.retain(|c| partition.keeps(c, &ctx.cwd));
        // A shard may hold nothing when there are more shards than cases: not an error, and
        // its (empty) reports still merge.
        errln(&format!(
            "note: shard {partition} runs {} of the {before_partition} case{}",
            plan.cases.len(),
            if before_partition == 1 { "" } else { "s" }
        ));
    }
    let mut refused: Vec<String> = plan
        .cases
        .iter()
        .filter(|c| engine::retry::policy(c, options.retries, options.target.is_some()).refused)
        .map(|c| c.file.path.display().to_string())
        .collect();
    refused.dedup();
    if !refused.is_empty() {
        errln(&format!(
            "note: {} case{} not retried: {} state on the live target ({}); add `retry_live: true` to a flow to allow it",
            refused.len(),
            if refused.len() == 1 { "" } else { "s" },
            if refused.len() == 1 {
                "it changes"
            } else {
                "they change"
            },
            refused.join(", ")
        ));
    }
    if before_partition == 0 {
        // A green run that ran nothing (a mistyped tag, an empty folder) would hide a mistake.
        let mut d = Diagnostic::plain("no flow to run").with_hint(
            "check the paths (default `flows/`); flow files end in .yaml or .yml, and files starting with `_` are partials",
        );
        if let Some(tags) = &options.tags {
            d = Diagnostic::plain(format!("no flow to run: none matches --tags `{tags}`"))
                .with_hint("`apoflow list` shows each flow with its tags");
        }
        if needs_merchant > 0 {
            d = Diagnostic::plain(format!(
                "no flow to run: the flows selected are tagged `{MERCHANT_TAG}`"
            ))
            .with_hint("they test a merchant's server: pass --merchant NAME ([merchants.NAME] in apoflow.toml)");
        }
        print_diagnostics(&[d], ctx);
        return exit::INVALID;
    }
    let checklist =
        match ChecklistRun::prepare(options.checklist.as_ref(), options.evidence.clone(), &plan) {
            Ok(c) => c,
            Err(diags) => {
                print_diagnostics(&diags, ctx);
                return exit::INVALID;
            }
        };
    // The embedded sandbox runs when a case to run needs APO, or when a flag says it serves
    // something else too (a merchant started here or elsewhere, at a chosen address or over
    // HTTPS). A key begun for cases left out since (merchant flows, another shard) is dropped.
    let needs_sandbox = embedded && (sandbox_flag || plan.cases.iter().any(|c| c.talks_to_apo));
    let sandbox_key = needs_sandbox
        .then(|| sandbox_key.unwrap_or_else(|| std::thread::spawn(PrivateKey::generate)));
    // Without the embedded sandbox a run's own work per request is small (send, parse, check),
    // and one thread serves it best: a multi-thread runtime hands every request and its answer
    // between threads. The sandbox signs with RSA, work that a second core takes on.
    let mut builder = if needs_sandbox {
        tokio::runtime::Builder::new_multi_thread()
    } else {
        tokio::runtime::Builder::new_current_thread()
    };
    let runtime = match builder.enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            errln(&format!("error: failed to start the async runtime: {e}"));
            return exit::INVALID;
        }
    };
    let started = jiff::Timestamp::now();
    let subject = options.merchant.as_ref().map(|m| Subject {
        name: m.name.clone(),
        url: m.url.as_str().trim_end_matches('/').to_owned(),
        command: m.command.clone(),
    });
    runtime.block_on(async move {
        // The servers and the merchant live until the run ends (dropping a handle stops it).
        let setup = Setup {
            early_client,
            sandbox_key,
            live: options.target,
            merchant: options.merchant,
            sandbox_listen: options.sandbox_listen,
            tls_dir: options.tls_dir,
            notify_public_url: options.notify_public_url,
            client: options.client,
        };
        let Started {
            sandbox,
            receiver: _receiver,
            apo,
            runner,
            merchant,
        } = match start(setup).await {
            Ok(started) => started,
            Err(e) => {
                errln(&format!("error: {e}"));
                return exit::INVALID;
            }
        };
        let target = match &sandbox {
            None if apo.target.is_embedded() => {
                format!("{} (not started: no case calls APO)", apo.target.name)
            }
            _ => format!("{} ({})", apo.target.name, apo.target.base_url),
        };
        let run = RunInfo {
            started,
            duration: Default::default(),
            target,
            subject,
            label: options.evidence_label,
        };
        let keep_cases = options.junit.is_some()
            || options.json.is_some()
            || options.github.summary.is_some()
            || options.html.is_some()
            || options.list_snapshots.is_some()
            || options.checklist.is_some();
        let engine_options = engine::Options {
            jobs: options.jobs,
            fail_fast: options.fail_fast,
            retries: options.retries,
            vars: options.vars,
            runner,
            root: ctx.cwd.clone(),
            templates: Templates::new(ctx.env.clone()),
            apo,
            snapshots: options.snapshots,
            detail: if keep_cases {
                engine::Detail::All
            } else {
                engine::Detail::Failures
            },
        };
        let files = Files {
            junit: options.junit,
            json: options.json,
            partition: options.partition.map(|p| p.to_string()),
            github_summary: options.github.summary,
        };
        let mut reporters = Reporters::new(
            Terminal::new(Sink::stdout(), options.color).with_github_annotations(options.github.on),
            files,
            run.clone(),
        )
        .with_progress(ctx.stderr_is_tty && !ctx.is_ci())
        .keeping_cases(keep_cases);
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Event>();
        // The one consumer: only this task writes reports, so lines never interleave.
        let consumer = tokio::spawn(async move {
            while let Some(event) = rx.recv().await {
                reporters.on_event(&event);
            }
            reporters.finish()
        });
        let summary = engine::run(plan, engine_options, tx).await;
        let finished = consumer.await.unwrap_or_else(|_| Finished {
            cases: Vec::new(),
            summary,
            run,
            errors: vec!["the reports were lost: the task writing them stopped".to_owned()],
        });
        let merchant_log = match merchant {
            Some(m) => Some(m.finish(summary.is_failure()).await),
            None => None,
        };
        let mut out = Sink::stdout();
        let mut concluded = conclude(
            finished,
            &After {
                html: options.html.as_deref(),
                cwd: &ctx.cwd,
                list_snapshots: options.list_snapshots.as_deref(),
                checklist: checklist.as_ref(),
                color: options.color,
            },
            &mut out,
        );
        if let (Some(dir), Some(log)) = (&options.evidence, &merchant_log) {
            let file = dir.join("merchant.log");
            if let Err(e) = write_file(&file, FileKind::Text, log) {
                concluded
                    .errors
                    .push(format!("failed to write {}: {e}", file.display()));
            }
        }
        concluded.exit_code(&mut Sink::stderr())
    })
}

/// What `start` is given: where APO is, the merchant to start, the client's settings.
struct Setup {
    /// The run's HTTP client, being made while the flows load (`None` inside: it is made once
    /// the sandbox's CA is known).
    early_client: std::thread::JoinHandle<Option<Result<Client, ClientBuildError>>>,
    /// The embedded sandbox's key pair, being made: `None` with a live target, or when the
    /// embedded sandbox is not needed (then it is not started).
    sandbox_key: Option<std::thread::JoinHandle<Result<PrivateKey, KeyError>>>,
    live: Option<Target>,
    merchant: Option<MerchantSpec>,
    sandbox_listen: Option<SocketAddr>,
    tls_dir: Option<PathBuf>,
    notify_public_url: Option<Url>,
    client: ClientConfig,
}

/// What `start` brings up: the embedded sandbox (when there is no `--target` and it is
/// needed), the notification receiver, what the engine calls APO with, the runner variables,
/// and the merchant under test.
struct Started {
    sandbox: Option<SandboxHandle>,
    receiver: ReceiverHandle,
    apo: engine::Apo,
    runner: Map<String, Value>,
    merchant: Option<RunningMerchant>,
}

/// The merchant under test while the flows run, with the key files it was given.
struct RunningMerchant {
    name: String,
    process: Merchant,
    _keys: KeyFiles,
}

impl RunningMerchant {
    /// Stops it (the whole process group) and returns its masked output; after a failed run
    /// its last lines go to stderr, where they explain most failures.
    async fn finish(self, failed: bool) -> String {
        let log = self.process.log().clone();
        let how = self.process.stop().await;
        if failed {
            let tail = log.tail(crate::merchant::ERROR_TAIL);
            errln(&format!(
                "merchant `{}` {how}; its last {} output lines:",
                self.name,
                tail.len()
            ));
            for line in tail {
                errln(&format!("  | {line}"));
            }
        }
        log.text()
    }
}

/// Prints a line on standard error through the masked sink.
fn errln(text: &str) {
    Sink::stderr().print(&format!("{text}\n"));
}

/// Binds the embedded sandbox's listener, with a hint for the usual failures.
async fn bind_sandbox(addr: SocketAddr) -> Result<tokio::net::TcpListener, String> {
    tokio::net::TcpListener::bind(addr).await.map_err(|e| {
        let hint = match e.kind() {
            std::io::ErrorKind::PermissionDenied => {
                "ports below 1024 need root or the CAP_NET_BIND_SERVICE capability \
                 (`sudo setcap cap_net_bind_service=+ep $(which apoflow)`)"
            }
            std::io::ErrorKind::AddrInUse => {
                "another process listens there (a standalone `apoflow sandbox`?); stop it or pick \
                 another --sandbox-listen address"
            }
            _ => "pick another --sandbox-listen address",
        };
        format!("the embedded sandbox failed to listen on {addr}: {e}\n  = hint: {hint}")
    })
}

/// Where the embedded target points when the sandbox is not started: the discard port on
/// loopback, so that a call there would be refused at once, never answered.
const NOT_STARTED_URL: &str = "http://127.0.0.1:9/";

/// Starts the embedded sandbox (when it is needed), the receiver on 127.0.0.1:0,
/// and the merchant under test, and builds the runner variables.
async fn start(setup: Setup) -> Result<Started, String> {
    let mut client_config = setup.client;
    let (sandbox, target) = match (setup.live, setup.sandbox_key) {
        (Some(target), _) => (None, target),
        // No case calls APO: the embedded target is never reached, and `target` is not given
        // to the templates (none reads it).
        (None, None) => {
            let url = Url::parse(NOT_STARTED_URL).map_err(|e| e.to_string())?;
            (None, Target::embedded(url))
        }
        (None, Some(making)) => {
            let mut config = sandbox::Config::embedded()
                .map_err(|e| format!("failed to load the embedded sandbox keys: {e}"))?;
            // A key pair of this run's own: the fixture key is public.
            let apo_key = tokio::task::spawn_blocking(move || making.join())
                .await
                .map_err(|e| format!("failed to make the sandbox's key pair: {e}"))?
                .map_err(|_| "the thread making the sandbox's key pair panicked".to_owned())?
                .map_err(|e| format!("failed to make the sandbox's key pair: {e}"))?;
            let apo_public_key = apo_key.public_key();
            config.sign_with(apo_key);
            if let Some(m) = &setup.merchant {
                Wiring::new(m)?.register(&mut config);
            }
            if let Some(dir) = &setup.tls_dir {
                config.tls_dir(dir).map_err(|e| e.to_string())?;
            }
            let listen = setup
                .sandbox_listen
                .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0)));
            let handle = sandbox::start(bind_sandbox(listen).await?, config)
                .map_err(|e| format!("failed to start the embedded sandbox: {e}"))?;
            let url = Url::parse(handle.url())
                .map_err(|e| format!("the embedded sandbox URL is not a URL: {e}"))?;
            client_config
                .ca_files
                .extend(handle.ca_file().map(Path::to_owned));
            let mut target = Target::embedded(url);
            target.apo_public_key = apo_public_key;
            (Some(handle), target)
        }
    };
    let early = setup.early_client;
    let client = match tokio::task::spawn_blocking(move || early.join())
        .await
        .map_err(|e| format!("failed to build the HTTP client: {e}"))?
        .map_err(|_| "the thread building the HTTP client panicked".to_owned())?
    {
        Some(built) => built,
        None => Client::from_config(&client_config),
    }
    .map_err(|e| e.to_string())?;
    let mut config = ReceiverConfig::new(target.apo_public_key.clone());
    config.public_url = setup.notify_public_url;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| format!("failed to listen on 127.0.0.1: {e}"))?;
    let (receiver, inbox) = receiver::start(listener, config)
        .map_err(|e| format!("failed to start the notification receiver: {e}"))?;
    let at = |path: &str| {
        receiver
            .url()
            .join(path)
            .map_or_else(|_| receiver.url().to_string(), |u| u.to_string())
    };
    let mut runner = Map::new();
    runner.insert("notify_url".to_owned(), Value::from(at("notify")));
    runner.insert("redirect_url".to_owned(), Value::from(at("return")));
    if sandbox.is_some() || !target.is_embedded() {
        runner.insert(
            "target".to_owned(),
            serde_json::json!({
                "name": target.name,
                "client_id": target.client_id,
                "endpoint": target.base_url.as_str(),
            }),
        );
    }
    runner.insert("sandbox".to_owned(), Value::from(target.is_embedded()));
    let merchant = match &setup.merchant {
        Some(spec) => {
            let ca = sandbox.as_ref().and_then(SandboxHandle::ca_file);
            let running = start_merchant(spec, &target, ca, &client).await?;
            runner.insert(
                "merchant".to_owned(),
                serde_json::json!({
                    "name": spec.name,
                    "url": spec.url.as_str().trim_end_matches('/'),
                    "client_id": spec.client_id(),
                    "api_timeout_ms": u64::try_from(spec.api_timeout.as_millis()).unwrap_or(u64::MAX),
                    "settle_ms": u64::try_from(spec.settle.as_millis()).unwrap_or(u64::MAX),
                }),
            );
            Some(running)
        }
        None => None,
    };
    let apo = engine::Apo {
        client,
        target,
        inbox,
        listings: sandbox.as_ref().map(SandboxHandle::listings),
    };
    Ok(Started {
        sandbox,
        receiver,
        apo,
        runner,
        merchant,
    })
}

/// Starts the merchant with the variables that say where APO is and how to sign, and waits
/// until it is ready. Ctrl-C and SIGTERM from here on stop it before apoflow exits.
async fn start_merchant(
    spec: &MerchantSpec,
    target: &Target,
    ca_file: Option<&Path>,
    client: &Client,
) -> Result<RunningMerchant, String> {
    let apo_public_pem = target
        .apo_public_key
        .to_pem()
        .map_err(|e| format!("failed to write APO's public key for the merchant: {e}"))?;
    let (keys, env) = Wiring::new(spec)?.env(target.base_url.as_str(), &apo_public_pem, ca_file)?;
    let mut process = Merchant::start(spec, &env).map_err(|e| e.to_string())?;
    let killer = process.killer();
    tokio::spawn(async move {
        interrupted().await;
        killer.kill();
        errln("interrupted: the merchant was stopped");
        std::process::exit(130);
    });
    process
        .wait_ready(client.http())
        .await
        .map_err(|e| e.to_string())?;
    Ok(RunningMerchant {
        name: spec.name.clone(),
        process,
        _keys: keys,
    })
}

/// Resolves on Ctrl-C or SIGTERM (a CI job cancelled).
async fn interrupted() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = term => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vars_are_name_equals_value() {
        assert_eq!(
            parse_var("a=1=2").unwrap(),
            ("a".to_owned(), "1=2".to_owned())
        );
        assert_eq!(parse_var("_x=").unwrap(), ("_x".to_owned(), String::new()));
        assert!(parse_var("novalue").is_err());
        assert!(parse_var("1a=x").is_err());
        assert!(parse_var("=x").is_err());
        assert!(parse_var("a-b=x").is_err());
    }
}
