//! Speed of the certification helper on a large run, measured, never asserted: run with
//! `tests/coverage/bench.sh` (or `cargo test --test coverage -- --ignored --nocapture bench`).

use std::time::Instant;

use apoflow::report::coverage::Coverage;
use apoflow::report::evidence::{CaseEvidence, write_evidence};

use crate::local::{bundled, cases, run_info};

/// `n` cases shaped like the support run's, each covering two items, with distinct names.
fn many_cases(n: usize) -> Vec<CaseEvidence> {
    let template = cases();
    let ids: Vec<String> = bundled().items.iter().map(|i| i.id.clone()).collect();
    (0..n)
        .map(|i| {
            let mut case = template[i % template.len()].clone();
            case.outcome.flow = format!("Flow {i}");
            case.outcome.covers =
                vec![ids[i % ids.len()].clone(), ids[(i + 7) % ids.len()].clone()];
            case
        })
        .collect()
}

#[test]
#[ignore = "a benchmark: prints timings, asserts nothing about them"]
fn bench_coverage_and_evidence() {
    let checklist = bundled();
    for n in [100, 1_000] {
        let cases = many_cases(n);
        let exchanges: usize = cases.iter().map(|c| c.exchanges.len()).sum();
        let outcomes: Vec<_> = cases.iter().map(|c| c.outcome.clone()).collect();

        let start = Instant::now();
        let coverage = Coverage::compute(&checklist, &outcomes);
        let table = coverage.render_table(true);
        let table_time = start.elapsed();

        let dir = tempfile::tempdir().unwrap();
        let start = Instant::now();
        write_evidence(dir.path(), &run_info(), &checklist, &coverage, &cases).unwrap();
        let first = start.elapsed();
        let start = Instant::now();
        write_evidence(dir.path(), &run_info(), &checklist, &coverage, &cases).unwrap();
        let rewrite = start.elapsed();

        println!(
            "{n} cases, {exchanges} exchanges, {} files: coverage + table {:.1} ms ({} bytes), \
             evidence {:.1} ms, rewrite over it {:.1} ms",
            2 * n + 2,
            table_time.as_secs_f64() * 1e3,
            table.len(),
            first.as_secs_f64() * 1e3,
            rewrite.as_secs_f64() * 1e3,
        );
    }
}
