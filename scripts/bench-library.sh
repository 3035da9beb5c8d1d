#!/usr/bin/env bash
# Measures the wall time of the whole bundled library (`apoflow run flows/`, embedded sandbox
# and receiver included) and of the same run with the checklist and the evidence bundle.
# Prints min / median / max over RUNS runs. Asserts nothing.
#
#   scripts/bench-library.sh                 # the release binary (built if missing)
#   APOFLOW=target/debug/apoflow RUNS=20 scripts/bench-library.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${APOFLOW:-target/release/apoflow}"
runs="${RUNS:-10}"
if [[ ! -x "$bin" ]]; then
  cargo build --release --locked
fi
evidence="$(mktemp -d)"
trap 'rm -rf "$evidence"' EXIT

measure() {
  local label="$1"
  shift
  local times=()
  for _ in $(seq "$runs"); do
    local start end
    start=$(date +%s%N)
    CI=true "$bin" "$@" >/dev/null
    end=$(date +%s%N)
    times+=($(((end - start) / 1000000)))
  done
  IFS=$'\n' read -r -d '' -a sorted < <(printf '%s\n' "${times[@]}" | sort -n && printf '\0')
  printf '%-40s min %5d ms   median %5d ms   max %5d ms   (%d runs)\n' "$label" \
    "${sorted[0]}" "${sorted[$((runs / 2))]}" "${sorted[$((runs - 1))]}" "$runs"
}

cases="$(CI=true "$bin" run flows/ | grep -Eo '^[0-9]+ cases' || true)"
echo "binary: $bin; cores: $(nproc); library: $cases"
measure "run flows/" run flows/
measure "run -j 1 flows/" run -j 1 flows/
measure "run --checklist --evidence flows/" run --checklist checklists/apo-card-hosted.yaml \
  --evidence "$evidence" flows/
