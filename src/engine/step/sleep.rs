//! The `sleep` step: wait for a duration (`sleep: 500ms`).

use std::time::{Duration, Instant};

use super::blank;
use crate::engine::result::{Status, StepResult};
use crate::flow::plan::PlannedStep;

/// Sleeps, then reports the step as passed.
pub(crate) async fn run(planned: &PlannedStep, duration: Duration, name: String) -> StepResult {
    let start = Instant::now();
    tokio::time::sleep(duration).await;
    let mut result = blank(planned, name, Status::Passed);
    result.tries = 1;
    result.duration = start.elapsed();
    result
}
