//! `until` / `every` / `within`: re-run a step until its `until:` checks hold, shared by every
//! step kind.
//!
//! ```text
//! try 1 ── until holds? ── yes ──> done (expect: runs on this try)
//!             │ no
//!             └─ next try would start after `within`? ── yes ──> timed out (N tries, last try kept)
//!                   │ no
//!                   └─ sleep `every`, try again
//! ```

use crate::engine::error::StepError;
use std::future::Future;
use std::time::{Duration, Instant};

use crate::expect::AssertionResult;

/// Default pause between tries.
pub(crate) const DEFAULT_EVERY: Duration = Duration::from_secs(2);
/// Default time to keep trying.
pub(crate) const DEFAULT_WITHIN: Duration = Duration::from_secs(30);

/// How a polled step ended.
pub(crate) struct Polled<T> {
    /// The last try's outcome (an error ends polling at once).
    pub(crate) last: Result<T, StepError>,
    /// How many tries ran.
    pub(crate) tries: u32,
    /// The `until:` checks of the last try that did not hold, when polling timed out.
    pub(crate) unmet: Vec<AssertionResult>,
}

/// Runs `attempt` once, or, with `until` checks, again every `every` until `check` finds them
/// all holding or `within` has passed. `check` returns the checks of one try (an `Err` ends
/// polling as an error, e.g. a template that failed).
pub(crate) async fn poll<T, F, Fut, C>(
    polling: Option<(Duration, Duration)>,
    mut attempt: F,
    mut check: C,
) -> Polled<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, StepError>>,
    C: FnMut(&T) -> Result<Vec<AssertionResult>, StepError>,
{
    let start = Instant::now();
    let mut tries = 0;
    loop {
        tries += 1;
        let outcome = attempt().await;
        let Some((every, within)) = polling else {
            return Polled {
                last: outcome,
                tries,
                unmet: Vec::new(),
            };
        };
        let value = match outcome {
            Ok(v) => v,
            Err(e) => {
                return Polled {
                    last: Err(e),
                    tries,
                    unmet: Vec::new(),
                };
            }
        };
        let unmet: Vec<_> = match check(&value) {
            Ok(results) => results.into_iter().filter(|r| !r.passed).collect(),
            Err(e) => {
                return Polled {
                    last: Err(e),
                    tries,
                    unmet: Vec::new(),
                };
            }
        };
        if unmet.is_empty() || start.elapsed() + every > within {
            return Polled {
                last: Ok(value),
                tries,
                unmet,
            };
        }
        tokio::time::sleep(every).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(n: &u32) -> Result<Vec<AssertionResult>, StepError> {
        Ok(vec![AssertionResult {
            query: "n".to_owned(),
            line: 1,
            column: 1,
            passed: *n >= 3,
            expected: String::new(),
            actual: n.to_string(),
            message: String::new(),
        }])
    }

    #[tokio::test]
    async fn polls_until_the_check_holds() {
        let mut n = 0;
        let every = Duration::from_millis(1);
        let polled = poll(
            Some((every, Duration::from_secs(5))),
            || {
                n += 1;
                let v = n;
                async move { Ok(v) }
            },
            check,
        )
        .await;
        assert_eq!(polled.tries, 3);
        assert!(polled.unmet.is_empty());
    }

    #[tokio::test]
    async fn gives_up_after_within_with_the_last_try() {
        let every = Duration::from_millis(5);
        let polled = poll(
            Some((every, Duration::from_millis(12))),
            || async { Ok(0) },
            check,
        )
        .await;
        assert!(polled.tries >= 2, "{}", polled.tries);
        assert_eq!(polled.unmet.len(), 1);
        assert!(matches!(polled.last, Ok(0)));
    }

    #[tokio::test]
    async fn without_until_runs_once() {
        let polled = poll(
            None,
            || async { Err::<u32, _>(StepError::new("refused")) },
            check,
        )
        .await;
        assert_eq!(polled.tries, 1);
        assert_eq!(
            polled.last.err().map(|e| e.to_string()).as_deref(),
            Some("error: refused")
        );
    }
}
