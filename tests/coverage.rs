//! Integration tests of the certification helper as a library: loading checklists (the bundled
//! ones and broken ones), proof rules (a flow that asserts nothing proves nothing), coverage of
//! a run's outcomes and its table, and the evidence bundle written to a temporary directory,
//! masked. The `--checklist` / `--evidence` flags of `run` map the engine's results onto these
//! types.

#[path = "coverage/local.rs"]
mod local;
#[path = "support/mod.rs"]
mod support;

#[path = "coverage/bench.rs"]
mod bench;
#[path = "coverage/checklist.rs"]
mod checklist;
#[path = "coverage/evidence.rs"]
mod evidence;
#[path = "coverage/proof.rs"]
mod proof;
#[path = "coverage/table.rs"]
mod table;
