#!/usr/bin/env bash
# Measures the wall time of the whole bundled library (`apoflow run flows/`, embedded sandbox
# and receiver included) and of the same run with the checklist and the evidence bundle.
# Prints min / median / max over RUNS runs. Asserts nothing.
#
#   scripts/bench-library.sh                 # the release binary (built if missing)
#   APOFLOW=target/debug/apoflow RUNS=20 scripts/bench-library.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${APOFLOW:-${CARGO_TARGET_DIR:-target}/release/apoflow}"
runs="${RUNS:-10}"
if [[ ! -x "$bin" ]]; then
  cargo build --release --locked
fi
evidence="$(mktemp -d)"
trap 'rm -rf "$evidence"' EXIT

# shellcheck source=lib/measure.sh
source scripts/lib/measure.sh

cases="$(CI=true "$bin" run flows/ | grep -Eo '^[0-9]+ cases' || true)"
echo "binary: $bin; cores: $(nproc); library: $cases"
measure "run flows/" run flows/
measure "run -j 1 flows/" run -j 1 flows/
measure "run --checklist --evidence flows/" run --checklist checklists/apo-card-hosted.yaml \
  --evidence "$evidence" flows/
