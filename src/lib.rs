//! apoflow: test card-payment integrations against APO (Antom Payment Orchestration).
//!
//! One binary with three faces: a flow runner, an embedded APO sandbox, and a certification
//! helper. The module map (see `shared/design.md` and `docs/src/maintainers.md`):
//!
//! | module | owns |
//! | --- | --- |
//! | [`cli`] | argument parsing and the subcommands; the only reader of the environment |
//! | [`diag`] | source locations and the `file:line:col` + snippet + caret rendering of errors |
//! | [`flow`] | the DSL as data: model, loading with locations, `use:`, matrix, checks |
//! | [`template`] | the minijinja environment (strict undefined) and its functions |
//! | [`expect`] | JSONPath queries, predicates and captures |
//! | [`engine`] | running flows: scheduling, per-flow scope, one file per step kind |
//! | [`config`] | `apoflow.toml`: targets and merchants, with located errors |
//! | [`merchant`] | the merchant under test: starting it, readiness, its output, stopping it |
//! | [`apo`] | the protocol: signing, keys, endpoints, result codes, the client |
//! | [`sandbox`] | the embedded APO simulator |
//! | [`serve`] | the bounded HTTP accept loop of the sandbox and the receiver |
//! | [`receiver`] | the runner's inbox for inbound notifications |
//! | [`checklist`] | certification checklists: loading with locations, unknown `covers:` ids |
//! | [`report`] | terminal output, JUnit XML, JSON, checklist coverage, evidence bundles |
//! | [`snapshot`] | the flow snapshot store, redaction, review |
//! | [`mask`] | the one place that decides what is secret |
//! | [`output`] | the one masked sink every output goes through (streams and report files) |
//! | [`project`] | the files a user names: regular, bounded, inside the project |

pub mod apo;
pub mod checklist;
pub mod cli;
pub mod config;
pub mod diag;
pub mod engine;
pub mod expect;
pub mod flow;
pub mod mask;
pub mod merchant;
pub mod output;
pub mod project;
pub mod receiver;
pub mod report;
pub mod sandbox;
pub mod serve;
pub mod snapshot;
pub mod template;
