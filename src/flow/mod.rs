//! The flow DSL as data: the model, loading YAML with locations, `use:` includes, matrix
//! expansion and the checks that run before anything is sent. No tokio, no reqwest here.

pub mod model;
pub mod plan;
