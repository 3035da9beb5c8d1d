//! The flow DSL as data: the model, loading YAML with locations, `use:` includes, matrix
//! expansion, tag expressions and the checks that run before anything is sent. No tokio, no
//! reqwest here.
//!
//! ```yaml
//! # flows/health.yaml
//! name: Health check
//! tags: [smoke]
//! vars: { base: "http://127.0.0.1:8080" }
//! steps:
//!   - id: ping
//!     http: { url: "{{ base }}/health" }
//!     expect:
//!       status: 200
//!       $.ok: true
//! ```
//!
//! [`load()`] turns files like this into a checked [`plan::Plan`], or every error found.

pub mod action;
mod check;
mod discover;
mod error;
mod load;
mod matrix;
pub mod model;
pub mod partition;
pub mod plan;
mod recover;
pub mod schema;
pub mod tags;

pub use load::{LoadOptions, load, load_watching};
pub use tags::TagExpr;
