//! Merging the JSON reports of the shards of a run (`apoflow run --partition K/N --json …`)
//! into the report of one run, which then feeds every other report (JUnit, JSON, coverage,
//! evidence, HTML) exactly as a single run's cases do.
//!
//! ```text
//! shard-1.json ┐
//! shard-2.json ├─ read ─ check: each case once; shards 1..N of one N, each once ─ merge
//! shard-3.json ┘           cases in plan order; totals recounted; duration: the longest shard
//! ```

use std::collections::HashMap;
use std::path::PathBuf;

use super::evidence::RunInfo;
use super::json::JsonReport;
use crate::engine::result::RunSummary;

/// Merges shard reports (each with the file it came from); every problem is one message.
pub fn merge(reports: Vec<(PathBuf, JsonReport)>) -> Result<JsonReport, Vec<String>> {
    let mut errors = Vec::new();
    if reports.is_empty() {
        return Err(vec!["no report to merge".to_owned()]);
    }
    check_partitions(&reports, &mut errors);
    let mut seen: HashMap<usize, &PathBuf> = HashMap::new();
    for (path, report) in &reports {
        for case in &report.cases {
            if let Some(first) = seen.insert(case.index, path) {
                errors.push(format!(
                    "the case `{}` ({}) is in both {} and {}: merge the shards of one run, each once",
                    case.title(),
                    case.file.display(),
                    first.display(),
                    path.display()
                ));
            }
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let run = merged_run(reports.iter().map(|(_, r)| &r.run));
    let duration = reports
        .iter()
        .map(|(_, r)| r.summary.duration)
        .max()
        .unwrap_or_default();
    let mut cases: Vec<_> = reports.into_iter().flat_map(|(_, r)| r.cases).collect();
    cases.sort_by_key(|c| c.index);
    let mut summary = RunSummary {
        duration,
        ..RunSummary::default()
    };
    for case in &cases {
        summary.add(case.status, case.flaky);
    }
    let mut run = run;
    run.duration = duration;
    Ok(JsonReport {
        run,
        partition: None,
        summary,
        cases,
    })
}

/// Shards of one `--partition K/N` run: the same N in each, every K from 1 to N once. Reports
/// of unpartitioned runs may be merged with each other (disjoint suites), not with shards.
fn check_partitions(reports: &[(PathBuf, JsonReport)], errors: &mut Vec<String>) {
    let parts: Vec<(&PathBuf, Option<(u32, u32)>)> = reports
        .iter()
        .map(|(p, r)| (p, r.partition.as_deref().and_then(parse_partition)))
        .collect();
    let sharded = parts.iter().filter(|(_, p)| p.is_some()).count();
    if sharded == 0 {
        return;
    }
    if sharded < parts.len() {
        for (path, _) in parts.iter().filter(|(_, p)| p.is_none()) {
            errors.push(format!(
                "{} is not the report of a shard (no --partition) but the others are",
                path.display()
            ));
        }
        return;
    }
    let n = parts[0].1.map_or(0, |(_, n)| n);
    let mut found: HashMap<u32, &PathBuf> = HashMap::new();
    for (path, part) in &parts {
        let Some((k, of)) = part else { continue };
        if *of != n {
            errors.push(format!(
                "{} is shard {k}/{of} but {} is of {n} shards: merge the shards of one run",
                path.display(),
                parts[0].0.display()
            ));
        } else if let Some(first) = found.insert(*k, path) {
            errors.push(format!(
                "shard {k}/{n} twice: {} and {}",
                first.display(),
                path.display()
            ));
        }
    }
    let missing: Vec<String> = (1..=n)
        .filter(|k| !found.contains_key(k))
        .map(|k| format!("{k}/{n}"))
        .collect();
    if !missing.is_empty() && errors.is_empty() {
        errors.push(format!(
            "shard {} missing: without it the merged verdict would be incomplete",
            missing.join(", ")
        ));
    }
}

fn parse_partition(text: &str) -> Option<(u32, u32)> {
    let (k, n) = text.split_once('/')?;
    Some((k.parse().ok()?, n.parse().ok()?))
}

/// The run of the merged report: the earliest start; the targets, subjects and labels of the
/// shards (each distinct one once).
fn merged_run<'a>(runs: impl Iterator<Item = &'a RunInfo>) -> RunInfo {
    let runs: Vec<&RunInfo> = runs.collect();
    let mut targets: Vec<&str> = Vec::new();
    for run in &runs {
        if !targets.contains(&run.target.as_str()) {
            targets.push(&run.target);
        }
    }
    let mut labels: Vec<&str> = Vec::new();
    for label in runs.iter().filter_map(|r| r.label.as_deref()) {
        if !labels.contains(&label) {
            labels.push(label);
        }
    }
    RunInfo {
        started: runs.iter().map(|r| r.started).min().unwrap_or_default(),
        duration: Default::default(),
        target: targets.join(", "),
        subject: runs.iter().find_map(|r| r.subject.clone()),
        label: (!labels.is_empty()).then(|| labels.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::engine::result::{CaseResult, Status};

    fn report(partition: Option<&str>, indexes: &[usize], ms: u64) -> JsonReport {
        JsonReport {
            run: RunInfo {
                started: jiff::Timestamp::from_second(1_000 + ms as i64).unwrap(),
                duration: Duration::ZERO,
                target: "embedded sandbox".to_owned(),
                subject: None,
                label: None,
            },
            partition: partition.map(str::to_owned),
            summary: RunSummary {
                duration: Duration::from_millis(ms),
                ..RunSummary::default()
            },
            cases: indexes
                .iter()
                .map(|i| {
                    let status = if *i == 1 {
                        Status::Failed
                    } else {
                        Status::Passed
                    };
                    CaseResult {
                        flaky: *i == 2,
                        ..CaseResult::new(
                            *i,
                            format!("flows/{i}.yaml").into(),
                            format!("flow {i}"),
                            status,
                        )
                    }
                })
                .collect(),
        }
    }

    #[test]
    fn shards_merge_in_plan_order_with_totals_recounted() {
        let merged = merge(vec![
            ("b.json".into(), report(Some("2/2"), &[1, 3], 40)),
            ("a.json".into(), report(Some("1/2"), &[0, 2], 70)),
        ])
        .unwrap();
        let order: Vec<usize> = merged.cases.iter().map(|c| c.index).collect();
        assert_eq!(order, [0, 1, 2, 3]);
        assert_eq!(
            (
                merged.summary.passed,
                merged.summary.failed,
                merged.summary.flaky
            ),
            (3, 1, 1)
        );
        assert_eq!(merged.summary.duration, Duration::from_millis(70));
        assert_eq!(merged.run.started.as_second(), 1_040);
    }

    #[test]
    fn a_missing_repeated_or_foreign_shard_is_refused() {
        let e = merge(vec![("a.json".into(), report(Some("1/2"), &[0], 1))]).unwrap_err();
        assert_eq!(
            e,
            ["shard 2/2 missing: without it the merged verdict would be incomplete"]
        );
        let e = merge(vec![
            ("a.json".into(), report(Some("1/2"), &[0], 1)),
            ("b.json".into(), report(Some("1/2"), &[1], 1)),
        ])
        .unwrap_err();
        assert!(e[0].starts_with("shard 1/2 twice"), "{e:?}");
        let e = merge(vec![
            ("a.json".into(), report(Some("1/2"), &[0], 1)),
            ("b.json".into(), report(Some("2/3"), &[1], 1)),
        ])
        .unwrap_err();
        assert!(e[0].contains("is of 2 shards"), "{e:?}");
        let e = merge(vec![
            ("a.json".into(), report(None, &[0], 1)),
            ("b.json".into(), report(None, &[0], 1)),
        ])
        .unwrap_err();
        assert!(e[0].contains("is in both a.json and b.json"), "{e:?}");
    }
}
