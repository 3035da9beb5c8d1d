//! The `sleep` step: wait for a duration (`sleep: 500ms`).

use std::time::{Duration, Instant};

use super::blank;
use crate::engine::error::StepError;
use crate::engine::result::{Status, StepResult};
use crate::flow::plan::PlannedStep;

/// Sleeps, then reports the step as passed; a duration whose template failed is an error.
pub(crate) async fn run(
    planned: &PlannedStep,
    duration: Result<Duration, StepError>,
    name: String,
) -> StepResult {
    let start = Instant::now();
    let mut result = blank(planned, name, Status::Passed);
    match duration {
        Ok(duration) => {
            tokio::time::sleep(duration).await;
            result.tries = 1;
        }
        Err(error) => {
            result.status = Status::Errored;
            result.error = Some(error);
        }
    }
    result.duration = start.elapsed();
    result
}
