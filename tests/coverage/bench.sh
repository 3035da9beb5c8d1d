#!/bin/sh
# Times coverage, the table and the evidence bundle for 100 and 1000 cases.
# Usage: tests/coverage/bench.sh [--release]
set -eu
cd "$(dirname "$0")/../.."
exec cargo test "$@" --test coverage -- --ignored --nocapture bench_coverage_and_evidence
